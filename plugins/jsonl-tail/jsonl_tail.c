/*
 * jsonl-tail: a tracker that follows a JSON-lines file (a serving app's
 * prediction log) and emits one event per line, the line's top-level fields
 * becoming the event's fields.
 *
 * The position. `offset` is the file offset of the first byte not yet
 * consumed; bytes read past it wait in `buf` until their line is complete, so
 * a line is emitted once, whole, and a restart resumes at a line boundary. The
 * position (device, inode, offset) is saved in the state directory with a
 * write to a temporary file and a rename, so a crash leaves the old or the new
 * position, never a torn one: at most the lines read since the last save are
 * emitted again after a crash (at-least-once).
 *
 * Rotation. On every poll the file at `path` is compared with the one held
 * open: a different inode means it was renamed away and a new one created, so
 * the old one is read to its end first; a size smaller than the offset means
 * it was truncated in place (copytruncate), so reading restarts at 0.
 *
 * Work per poll is bounded (TAIL_READ_BUDGET bytes) so a large backlog does
 * not hold the agent's loop; the rest follows on an immediate extra timer.
 */
#include <cairn/plugin.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define TAIL_READ_BUDGET (1 << 20) /* bytes read per poll before yielding */
#define TAIL_SAVE_EVERY_MS 5000    /* position saved at most this often while running */
#define TAIL_EMIT_TRIES 3          /* polls a refused line is retried before it is dropped */
#define TAIL_LOUD_BAD_LINES 5      /* the first bad lines are logged as warnings */
#define TAIL_STATE_MAGIC "cairn-jsonl-tail 1"

static const cairn_config_key tail_config[] = {
    {.key = "path",
     .type = CAIRN_CONFIG_STRING,
     .required = 1,
     .doc = "absolute path of the JSON-lines file to follow"},
    {.key = "event_type",
     .type = CAIRN_CONFIG_STRING,
     .default_value = "prediction",
     .doc = "type of the events emitted, one per line"},
    {.key = "poll_ms",
     .type = CAIRN_CONFIG_INT,
     .default_value = "500",
     .doc = "milliseconds between two looks at the file (10 to 3600000)"},
    {.key = "max_line_bytes",
     .type = CAIRN_CONFIG_INT,
     .default_value = "65536",
     .doc = "longest line accepted, newline excluded; longer ones are counted and skipped"},
    {.key = NULL},
};

/* Where reading resumes after a restart, as saved in the state file. */
struct tail_pos {
    uint64_t dev, ino;
    int64_t offset;
    int skipping;
};

struct tail {
    const cairn_host_api *api;
    cairn_host *host;
    const char *path;       /* the host's string, valid until fini */
    const char *event_type; /* likewise */
    int64_t poll_ms;
    char *state_path; /* <state_dir>/tail-<hash of path>.pos */

    int fd; /* the file being read, or -1 */
    uint64_t dev, ino;
    int64_t offset;  /* file offset of buf[0] */
    char *buf;       /* bytes of an incomplete line */
    size_t len, cap; /* cap = max_line_bytes + 1, room for the newline */
    int skipping;    /* discarding the rest of an over-long line */

    int have_resume; /* resume applies to the first file opened only */
    struct tail_pos resume;
    struct tail_pos saved; /* what the state file holds */
    int64_t saved_mono;

    unsigned emit_failures; /* consecutive refusals of the line at offset */
    uint64_t bad_lines;     /* for logging the first few loudly */
    int open_error_logged;
    int catchup_pending;
};

static void tail_log(struct tail *t, cairn_log_level level, const char *event, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void tail_log(struct tail *t, cairn_log_level level, const char *event, const char *fmt, ...)
{
    char detail[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(detail, sizeof(detail), fmt, ap);
    va_end(ap);
    t->api->log(t->host, level, event, detail);
}

/* ---- the saved position ---- */

/* FNV-1a: names the state file after the followed path, so instances that
 * follow different files never share a position, whatever directory the
 * host gives each of them. */
static uint64_t tail_hash(const char *s)
{
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

static void tail_load_position(struct tail *t)
{
    FILE *f = fopen(t->state_path, "re");
    if (!f)
        return;
    char magic[32] = "", path[4096] = "";
    struct tail_pos p;
    int ok = fgets(magic, sizeof(magic), f) && strcmp(magic, TAIL_STATE_MAGIC "\n") == 0 &&
             fscanf(f, "%" SCNu64 " %" SCNu64 " %" SCNd64 " %d\n", &p.dev, &p.ino, &p.offset,
                    &p.skipping) == 4 &&
             fgets(path, sizeof(path), f) && p.offset >= 0;
    fclose(f);
    path[strcspn(path, "\n")] = '\0';
    /* The path check guards against a hash collision between two files. */
    if (!ok || strcmp(path, t->path) != 0) {
        tail_log(t, CAIRN_LOG_WARN, "bad_state", "ignoring unreadable position file %s",
                 t->state_path);
        return;
    }
    t->have_resume = 1;
    t->resume = p;
    t->saved = p;
}

/* Writes the position to a temporary file, syncs it and renames it over the
 * state file: a crash leaves either position, never half of one. */
static void tail_save_position(struct tail *t)
{
    if (t->fd < 0)
        return;
    struct tail_pos now = {t->dev, t->ino, t->offset, t->skipping};
    if (memcmp(&now, &t->saved, sizeof(now)) == 0)
        return;
    size_t n = strlen(t->state_path) + 5;
    char *tmp = malloc(n);
    if (!tmp)
        return;
    snprintf(tmp, n, "%s.tmp", t->state_path);
    FILE *f = fopen(tmp, "we");
    int ok = f != NULL;
    if (ok) {
        ok = fprintf(f, "%s\n%" PRIu64 " %" PRIu64 " %" PRId64 " %d\n%s\n", TAIL_STATE_MAGIC,
                     now.dev, now.ino, now.offset, now.skipping, t->path) > 0;
        ok = fflush(f) == 0 && ok;
        ok = fsync(fileno(f)) == 0 && ok;
        ok = fclose(f) == 0 && ok;
    }
    if (ok && rename(tmp, t->state_path) == 0) {
        t->saved = now;
    } else {
        tail_log(t, CAIRN_LOG_WARN, "save_failed", "cannot write %s: %s", t->state_path,
                 strerror(errno));
        unlink(tmp);
    }
    free(tmp);
    t->saved_mono = t->api->now_mono_ms(t->host);
}

/* ---- one line ---- */

/* Sets one top-level JSON value as a field. Nested objects and arrays are
 * kept as their compact JSON text; null has no field type to build, so it is
 * left out. */
static int tail_set_field(struct tail *t, cairn_event *ev, const char *name, json_t *v)
{
    const cairn_host_api *api = t->api;
    switch (json_typeof(v)) {
    case JSON_STRING:
        return api->event_set_string(ev, name, json_string_value(v));
    case JSON_INTEGER:
        return api->event_set_int(ev, name, json_integer_value(v));
    case JSON_REAL:
        return api->event_set_float(ev, name, json_real_value(v));
    case JSON_TRUE:
    case JSON_FALSE:
        return api->event_set_bool(ev, name, json_is_true(v));
    case JSON_OBJECT:
    case JSON_ARRAY: {
        char *text = json_dumps(v, JSON_COMPACT);
        int rc = text ? api->event_set_string(ev, name, text) : -1;
        free(text);
        return rc;
    }
    case JSON_NULL:
        return 0;
    }
    return 0;
}

static void tail_bad_line(struct tail *t, const char *why)
{
    t->api->counter_add(t->host, "bad_lines", 1);
    t->bad_lines++;
    tail_log(t, t->bad_lines <= TAIL_LOUD_BAD_LINES ? CAIRN_LOG_WARN : CAIRN_LOG_DEBUG, "bad_line",
             "skipped the line at offset %" PRId64 " of %s: %s", t->offset, t->path, why);
}

/* Emits one complete line (without its newline). Returns 0 when the line is
 * consumed (emitted, or skipped as bad), -1 when the host refused the event
 * and the line should be tried again at the next poll. */
static int tail_line(struct tail *t, const char *line, size_t len)
{
    const cairn_host_api *api = t->api;
    if (len > 0 && line[len - 1] == '\r')
        len--;
    if (len == 0)
        return 0; /* a blank line carries nothing: not an error */

    json_error_t err;
    json_t *obj = json_loadb(line, len, 0, &err);
    if (!obj || !json_is_object(obj)) {
        tail_bad_line(t, obj ? "not a JSON object" : err.text);
        json_decref(obj);
        return 0;
    }
    cairn_event *ev = api->event_new(t->host, t->event_type);
    if (ev) {
        const char *name;
        json_t *v;
        json_object_foreach(obj, name, v)
        {
            if (tail_set_field(t, ev, name, v) != 0)
                api->counter_add(t->host, "bad_fields", 1);
        }
    }
    json_decref(obj);
    if (ev && api->emit(t->host, ev) == 0) {
        t->emit_failures = 0;
        api->counter_add(t->host, "lines", 1);
        return 0;
    }
    /* Refused: the spool is full (wait for it) or the event is invalid (it
     * never will be accepted), which cannot be told apart; a few polls decide. */
    if (++t->emit_failures < TAIL_EMIT_TRIES)
        return -1;
    t->emit_failures = 0;
    api->counter_add(t->host, "dropped", 1);
    tail_log(t, CAIRN_LOG_WARN, "line_dropped",
             "the host refused the line at offset %" PRId64 " %d times", t->offset,
             TAIL_EMIT_TRIES);
    return 0;
}

/* Emits the complete lines in buf, then keeps only the incomplete rest (or,
 * inside an over-long line, drops what was read of it). Returns -1 when a
 * line was refused (retried at the next poll). */
static int tail_consume(struct tail *t)
{
    size_t start = 0;
    int rc = 0;
    for (;;) {
        char *nl = memchr(t->buf + start, '\n', t->len - start);
        if (!nl && !t->skipping)
            break; /* an incomplete line waits for its newline */
        size_t end = nl ? (size_t)(nl - t->buf) + 1 : t->len;
        if (t->skipping) {
            t->skipping = nl == NULL;
        } else if (tail_line(t, t->buf + start, end - 1 - start) != 0) {
            rc = -1;
            break;
        }
        t->offset += (int64_t)(end - start);
        start = end;
        if (!nl)
            break;
    }
    memmove(t->buf, t->buf + start, t->len - start);
    t->len -= start;
    return rc;
}

/* ---- the file ---- */

/* How far a read got. */
enum tail_read_result {
    TAIL_AT_END, /* everything read (or the file cannot be read) */
    TAIL_MORE,   /* the budget ran out before the end */
    TAIL_HELD    /* the host refused a line: it waits for the next poll */
};

/* Reads and emits up to TAIL_READ_BUDGET bytes. */
static enum tail_read_result tail_read(struct tail *t)
{
    if (tail_consume(t) != 0) /* lines refused at the last poll go first */
        return TAIL_HELD;
    size_t budget = TAIL_READ_BUDGET;
    while (budget > 0) {
        if (t->len == t->cap) { /* a full buffer without a newline */
            tail_bad_line(t, "longer than max_line_bytes");
            t->offset += (int64_t)t->len;
            t->len = 0;
            t->skipping = 1;
        }
        ssize_t n = pread(t->fd, t->buf + t->len, t->cap - t->len, t->offset + (int64_t)t->len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            tail_log(t, CAIRN_LOG_WARN, "read_failed", "%s: %s", t->path, strerror(errno));
            return TAIL_AT_END;
        }
        if (n == 0)
            return TAIL_AT_END;
        t->len += (size_t)n;
        budget -= (size_t)n < budget ? (size_t)n : budget;
        if (tail_consume(t) != 0)
            return TAIL_HELD;
    }
    return TAIL_MORE;
}

static void tail_close(struct tail *t)
{
    if (t->fd >= 0)
        close(t->fd);
    t->fd = -1;
    t->len = 0;
    t->skipping = 0;
    t->emit_failures = 0;
}

/* Opens `path`, at the saved position when it is the same file and still long
 * enough, else at 0. Returns 0, or -1 when there is no file to read yet. */
static int tail_open(struct tail *t)
{
    int fd = open(t->path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd >= 0 && (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode))) {
        close(fd);
        fd = -1;
        errno = EINVAL;
    }
    if (fd < 0) {
        if (!t->open_error_logged)
            tail_log(t, CAIRN_LOG_WARN, "waiting", "cannot read %s (%s); trying every poll",
                     t->path, errno == EINVAL ? "not a regular file" : strerror(errno));
        t->open_error_logged = 1;
        return -1;
    }
    t->open_error_logged = 0;
    t->fd = fd;
    t->dev = (uint64_t)st.st_dev;
    t->ino = (uint64_t)st.st_ino;
    t->offset = 0;
    if (t->have_resume) {
        t->have_resume = 0;
        if (t->resume.dev == t->dev && t->resume.ino == t->ino && t->resume.offset <= st.st_size) {
            t->offset = t->resume.offset;
            t->skipping = t->resume.skipping;
        } else {
            tail_log(t, CAIRN_LOG_INFO, "resume_reset",
                     "%s was rotated or truncated while stopped; reading it from 0", t->path);
        }
    }
    tail_log(t, CAIRN_LOG_INFO, "following", "%s from offset %" PRId64, t->path, t->offset);
    return 0;
}

/* Truncated in place (copytruncate): what was read is gone, restart at 0. */
static void tail_check_truncation(struct tail *t)
{
    struct stat st;
    if (fstat(t->fd, &st) != 0 || st.st_size >= t->offset + (int64_t)t->len)
        return;
    tail_log(t, CAIRN_LOG_INFO, "truncated", "%s shrank below offset %" PRId64 "; reading from 0",
             t->path, t->offset);
    t->api->counter_add(t->host, "truncations", 1);
    t->offset = 0;
    t->len = 0;
    t->skipping = 0;
    t->emit_failures = 0;
}

/* Renamed away and replaced: finish the old file, then follow the new one
 * from 0. Called after reading the old one to its end; the switch waits while
 * the old one has more to read or a refused line. */
static enum tail_read_result tail_check_rotation(struct tail *t)
{
    struct stat st;
    /* No file at path yet: the writer may still append to the old one. */
    if (stat(t->path, &st) != 0 || ((uint64_t)st.st_dev == t->dev && (uint64_t)st.st_ino == t->ino))
        return TAIL_AT_END;
    /* The writer may have appended between our last read and the switch. */
    enum tail_read_result r = tail_read(t);
    if (r != TAIL_AT_END)
        return r;
    /* The writer has moved to the new file: an unterminated last line of the
     * old one is as complete as it will ever be. */
    if (t->len > 0 && !t->skipping)
        tail_line(t, t->buf, t->len);
    tail_log(t, CAIRN_LOG_INFO, "rotated", "%s was replaced; finished the old file at %" PRId64,
             t->path, t->offset + (int64_t)t->len);
    t->api->counter_add(t->host, "rotations", 1);
    tail_close(t);
    if (tail_open(t) != 0)
        return TAIL_AT_END;
    return tail_read(t);
}

static void tail_catchup(void *arg);

static void tail_poll(void *arg)
{
    struct tail *t = arg;
    if (t->fd < 0 && tail_open(t) != 0)
        return;
    tail_check_truncation(t);
    enum tail_read_result r = tail_read(t);
    if (r == TAIL_AT_END)
        r = tail_check_rotation(t);
    if (t->api->now_mono_ms(t->host) - t->saved_mono >= TAIL_SAVE_EVERY_MS)
        tail_save_position(t);
    if (r == TAIL_MORE && !t->catchup_pending && t->api->timer_add(t->host, 0, 0, tail_catchup, t) != 0)
        t->catchup_pending = 1;
}

/* A backlog larger than one poll's budget continues at once, on a one-shot
 * timer, so the loop can serve others in between. */
static void tail_catchup(void *arg)
{
    struct tail *t = arg;
    t->catchup_pending = 0;
    tail_poll(t);
}

/* ---- the plugin ---- */

static int tail_check_config(const cairn_host_api *api, cairn_host *host, const char **path,
                             const char **event_type, int64_t *poll_ms, int64_t *max_line)
{
    const char *why = NULL;
    if (api->config_string(host, "path", path) != 0 || (*path)[0] != '/')
        why = "path must be an absolute file path";
    else if (api->config_string(host, "event_type", event_type) != 0 || !(*event_type)[0])
        why = "event_type must not be empty";
    else if (api->config_int(host, "poll_ms", poll_ms) != 0 || *poll_ms < 10 || *poll_ms > 3600000)
        why = "poll_ms must be 10 to 3600000";
    else if (api->config_int(host, "max_line_bytes", max_line) != 0 || *max_line < 16 ||
             *max_line > (64 << 20))
        why = "max_line_bytes must be 16 to 67108864";
    if (why)
        api->log(host, CAIRN_LOG_ERROR, "bad_config", why);
    return why ? -1 : 0;
}

static void tail_free(struct tail *t)
{
    if (t->fd >= 0)
        close(t->fd);
    free(t->buf);
    free(t->state_path);
    free(t);
}

static int tail_init(const cairn_host_api *api, cairn_host *host, void **state)
{
    const char *path, *event_type;
    int64_t poll_ms, max_line;
    if (tail_check_config(api, host, &path, &event_type, &poll_ms, &max_line) != 0)
        return -1;
    const char *dir = api->state_dir(host);
    struct tail *t = calloc(1, sizeof(*t));
    if (!t || !dir) {
        api->log(host, CAIRN_LOG_ERROR, "init_failed", t ? "no state directory" : "out of memory");
        free(t);
        return -1;
    }
    t->api = api;
    t->host = host;
    t->path = path;
    t->event_type = event_type;
    t->poll_ms = poll_ms;
    t->fd = -1;
    t->cap = (size_t)max_line + 1;
    t->buf = malloc(t->cap);
    if (asprintf(&t->state_path, "%s/tail-%016" PRIx64 ".pos", dir, tail_hash(path)) < 0)
        t->state_path = NULL;
    if (!t->buf || !t->state_path) {
        api->log(host, CAIRN_LOG_ERROR, "init_failed", "out of memory");
        tail_free(t);
        return -1;
    }
    tail_load_position(t);
    t->saved_mono = api->now_mono_ms(host);
    if (api->timer_add(host, 0, (uint64_t)poll_ms, tail_poll, t) == 0) {
        api->log(host, CAIRN_LOG_ERROR, "init_failed", "cannot add the poll timer");
        tail_free(t);
        return -1;
    }
    *state = t;
    return 0;
}

static void tail_flush(void *state)
{
    tail_save_position(state);
}

static void tail_fini(void *state)
{
    struct tail *t = state;
    tail_save_position(t);
    tail_free(t);
}

static const cairn_tracker_ops tail_ops = {
    .size = sizeof(cairn_tracker_ops),
    .flush = tail_flush,
};

static const cairn_plugin_descriptor tail_descriptor = {
    CAIRN_PLUGIN_ABI,
    .kind = CAIRN_PLUGIN_TRACKER,
    .name = "jsonl-tail",
    .version = "1.0.0",
    .description = "follows a JSON-lines file and emits one event per line",
    .config = tail_config,
    .init = tail_init,
    .fini = tail_fini,
    .ops = &tail_ops,
};

CAIRN_PLUGIN_EXPORT(tail_descriptor)
