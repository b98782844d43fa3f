#include "daemon_uploads.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "daemon_writeback.h"
#include "error.h"
#include "kvlog.h"

cairn_status upload_io_fail(cairn_error *err, const char *what, const char *path)
{
    cairn_status st = errno == ENOSPC ? CAIRN_STORAGE_ERROR : CAIRN_IO_ERROR;
    return error_set(err, st, "%s %s: %s", what, path, strerror(errno));
}

/* The file as errors call it (see upload_rules). */
static const char *file_word(const upload_table *t, const upload_slot *s)
{
    return t->rules->errors_name_file ? s->tmp_path : "upload";
}

/* A digest step failed: agent_words is how the agent says it. */
static cairn_status sha_fail(const upload_table *t, const upload_slot *s, const char *agent_words,
                             cairn_error *err)
{
    if (t->rules->errors_name_file)
        return error_set(err, CAIRN_INTERNAL_ERROR, "sha256 of %s", s->tmp_path);
    return error_set(err, CAIRN_INTERNAL_ERROR, "%s", agent_words);
}

void upload_end(upload_slot *s, bool remove_file)
{
    if (s->fd >= 0)
        close(s->fd);
    if (remove_file)
        unlink(s->tmp_path);
    sha256_abort(&s->sha);
    memset(s, 0, sizeof *s);
    s->fd = -1;
}

void upload_table_init(const upload_table *t)
{
    for (int i = 0; i < t->rules->max_uploads; i++) {
        memset(&t->slots[i], 0, sizeof t->slots[i]);
        t->slots[i].fd = -1;
    }
}

void upload_table_close(const upload_table *t)
{
    if (!t->rules)
        return; /* never opened: a daemon that failed to start still closes */
    for (int i = 0; i < t->rules->max_uploads; i++)
        if (t->slots[i].active)
            upload_end(&t->slots[i], true);
}

upload_slot *upload_table_find(const upload_table *t, const ulid *id)
{
    for (int i = 0; i < t->rules->max_uploads; i++)
        if (t->slots[i].active && memcmp(t->slots[i].id.b, id->b, ULID_BYTES) == 0)
            return &t->slots[i];
    return NULL;
}

/* A sender sends its chunks back to back and resends one within seconds:
 * an upload idle this long was abandoned (its sender killed). When the
 * table is full, the one idle longest past this gives up its slot, rather
 * than every new upload being refused until uploads expire (10 minutes by
 * default). */
#define UPLOAD_RECLAIM_IDLE_MS 60000

/* The slot idle longest, if it has been idle past UPLOAD_RECLAIM_IDLE_MS:
 * its upload is dropped with its file. */
static upload_slot *reclaim_slot(const upload_table *t, int64_t now_ms)
{
    upload_slot *oldest = &t->slots[0];
    for (int i = 1; i < t->rules->max_uploads; i++)
        if (t->slots[i].last_active_ms < oldest->last_active_ms)
            oldest = &t->slots[i];
    int64_t idle = now_ms - oldest->last_active_ms;
    if (idle <= UPLOAD_RECLAIM_IDLE_MS)
        return NULL;
    kvlog(KVLOG_INFO, "upload_reclaimed", "idle_ms=%lld path=%s", (long long)idle,
          kvlog_quote((char[2 * UPLOAD_MAX_PATH + 8]){0}, 2 * UPLOAD_MAX_PATH + 8, oldest->path));
    upload_end(oldest, true);
    return oldest;
}

static upload_slot *free_slot(const upload_table *t, int64_t now_ms)
{
    for (int i = 0; i < t->rules->max_uploads; i++)
        if (!t->slots[i].active)
            return &t->slots[i];
    return reclaim_slot(t, now_ms);
}

static cairn_status begin_upload(const upload_table *t, const upload_chunk *c, int64_t now_ms,
                                 upload_slot **out, cairn_error *err)
{
    upload_slot *s = free_slot(t, now_ms);
    if (!s)
        return error_set(err, CAIRN_BACKPRESSURE, "%d uploads already in progress; retry later",
                         t->rules->max_uploads);
    cairn_status st = artifact_path_check(c->path, err);
    if (st)
        return st;
    char idtext[ULID_TEXT_LEN + 1];
    ulid_format(c->upload, idtext);
    snprintf(s->tmp_path, sizeof s->tmp_path, "%s/%s%s", t->tmp_dir, idtext, t->rules->suffix);
    s->fd = open(s->tmp_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
    if (s->fd < 0)
        return upload_io_fail(err, "create", s->tmp_path);
    if (!sha256_begin(&s->sha)) {
        upload_end(s, true);
        return error_set(err, CAIRN_OUT_OF_MEMORY, "sha256 context");
    }
    s->active = true;
    s->id = *c->upload;
    s->run = *c->run;
    msg_str_copy(c->path, s->path, sizeof s->path);
    *out = s;
    return CAIRN_OK;
}

static cairn_status check_fits(const upload_slot *s, const upload_chunk *c, cairn_error *err)
{
    if (memcmp(s->run.b, c->run->b, ULID_BYTES) != 0 || !msg_str_eq(c->path, s->path))
        return error_set(err, CAIRN_INVALID_STATE,
                         "upload belongs to another run or path; start a new upload id");
    if (c->offset != s->received)
        return error_set(err, CAIRN_INVALID_STATE, "chunk at offset %llu, expected offset %llu",
                         (unsigned long long)c->offset, (unsigned long long)s->received);
    return CAIRN_OK;
}

static cairn_status write_all(int fd, const char *p, size_t n, const char *file, cairn_error *err)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return upload_io_fail(err, "write", file);
        p += w;
        n -= (size_t)w;
    }
    return CAIRN_OK;
}

/* The bytes go to the file and the digest together, so that the digest is
 * of exactly what is on disk. */
static cairn_status append(const upload_table *t, upload_slot *s, msg_str data, cairn_error *err)
{
    cairn_status st = write_all(s->fd, data.p, data.n, file_word(t, s), err);
    if (!st && writeback_pace(s->fd, s->received, data.n) != 0)
        st = upload_io_fail(err, "write back", file_word(t, s));
    if (!st && !sha256_update(&s->sha, data.p, data.n))
        st = sha_fail(t, s, "sha256 update failed", err);
    return st;
}

static cairn_status take_chunk(const upload_table *t, const upload_chunk *c, int64_t now_ms,
                               upload_slot **out, cairn_error *err)
{
    if (c->data.n > UPLOAD_MAX_CHUNK)
        return error_set(err, CAIRN_LIMIT_EXCEEDED, "chunk of %u bytes exceeds %zu bytes",
                         c->data.n, UPLOAD_MAX_CHUNK);
    upload_slot *s = upload_table_find(t, c->upload);
    if (s && !c->last && memcmp(s->last_chunk.b, c->message->b, ULID_BYTES) == 0) {
        *out = s; /* a resend of the chunk just written */
        return CAIRN_OK;
    }
    cairn_status st;
    if (!s && c->offset != 0)
        return error_set(err, CAIRN_INVALID_STATE,
                         "unknown upload (expired or %s restarted): expected offset 0",
                         t->rules->daemon);
    if (!s && (st = begin_upload(t, c, now_ms, &s, err)))
        return st;
    if ((st = check_fits(s, c, err)))
        return st;
    if ((st = append(t, s, c->data, err))) {
        upload_end(s, true);
        return st;
    }
    s->received += c->data.n;
    s->last_chunk = *c->message;
    s->last_active_ms = now_ms;
    *out = s;
    return CAIRN_OK;
}

/* Content first, then the name: the file is placed only once it is whole on
 * disk, and only if it is the content the sender read. */
static cairn_status finish(const upload_table *t, upload_slot *s, msg_str sent_sha,
                           void *done, cairn_error *err)
{
    char hex[SHA256_HEX_LEN + 1];
    if (!sha256_finish(&s->sha, hex))
        return sha_fail(t, s, "sha256 failed", err);
    if (sent_sha.n && !msg_str_eq(sent_sha, hex))
        return error_set(err, CAIRN_INVALID_PARAMETER_VALUE,
                         "the %llu bytes received have sha256 %s, not %.*s as sent: "
                         "upload discarded",
                         (unsigned long long)s->received, hex,
                         (int)(sent_sha.n > SHA256_HEX_LEN ? SHA256_HEX_LEN : sent_sha.n),
                         sent_sha.p);
    if (fdatasync(s->fd) != 0)
        return upload_io_fail(err, "fsync", file_word(t, s));
    return t->rules->place(t->owner, s, hex, done, err);
}

cairn_status upload_table_put(const upload_table *t, const upload_chunk *c, int64_t now_ms,
                              uint64_t *received, bool *finished, void *done, cairn_error *err)
{
    *finished = false;
    upload_slot *s = NULL;
    cairn_status st = take_chunk(t, c, now_ms, &s, err);
    if (st)
        return st;
    *received = s->received;
    if (!c->last)
        return CAIRN_OK;
    if ((st = finish(t, s, c->sha256, done, err))) {
        if (s->active)
            upload_end(s, true);
        return st;
    }
    *finished = true;
    return CAIRN_OK;
}

int upload_table_expire(const upload_table *t, int64_t now_ms, int64_t idle_ms)
{
    int n = 0;
    for (int i = 0; i < t->rules->max_uploads; i++) {
        upload_slot *s = &t->slots[i];
        if (s->active && now_ms - s->last_active_ms > idle_ms) {
            upload_end(s, true);
            n++;
        }
    }
    return n;
}
