/* Fetching blobs for plugins (see plugin_fetch.h). */
#include "plugin_fetch.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <zmq.h>

#include "body.h"
#include "clock.h"
#include "daemon_writeback.h"
#include "error.h"
#include "keepalive.h"
#include "kvlog.h"
#include "plugin_host.h"

cairn_status fetcher_open(fetcher *f, void *zctx, const char *coordinator, int silence_ms,
                          const char *from, cairn_error *err)
{
    memset(f, 0, sizeof *f);
    f->from = from;
    msg_decoder_init(&f->dec, 0);
    msg_writer_init(&f->w);
    f->dealer = zmq_socket(zctx, ZMQ_DEALER);
    if (!f->dealer)
        return error_set(err, CAIRN_TRANSPORT_ERROR, "zmq socket: %s", zmq_strerror(errno));
    int zero = 0;
    zmq_setsockopt(f->dealer, ZMQ_LINGER, &zero, sizeof zero);
    keepalive_set(f->dealer, silence_ms);
    if (zmq_connect(f->dealer, coordinator) != 0)
        return error_set(err, CAIRN_INVALID_PARAMETER_VALUE, "coordinator endpoint '%s': %s",
                         coordinator, zmq_strerror(errno));
    return CAIRN_OK;
}

/* The file operations on a plugin's path, done with its permissions. */
static int open_part(const blob_fetch *b)
{
    return open(b->part, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
}

static int rename_part(const blob_fetch *b)
{
    return rename(b->part, b->dest);
}

static int unlink_part(const blob_fetch *b)
{
    return unlink(b->part);
}

/* op's result, or -1 when the identity could not be taken; errno kept. */
static int as_owner(const blob_fetch *b, int (*op)(const blob_fetch *))
{
    fs_saved saved;
    if (!fs_identity_enter(&b->as, &saved))
        return -1;
    int rc = op(b), e = errno;
    fs_identity_leave(&b->as, &saved);
    errno = e;
    return rc;
}

static void release(blob_fetch *b)
{
    if (b->fd >= 0) {
        close(b->fd);
        as_owner(b, unlink_part);
    }
    sha256_abort(&b->hash);
    b->used = false;
    b->fd = -1;
}

void fetcher_close(fetcher *f)
{
    for (int i = 0; i < FETCH_MAX; i++)
        if (f->fetches[i].used)
            release(&f->fetches[i]);
    if (f->dealer)
        zmq_close(f->dealer);
    f->dealer = NULL;
    msg_decoder_destroy(&f->dec);
    msg_writer_destroy(&f->w);
}

static void finish(fetcher *f, blob_fetch *b, const char *error)
{
    blob_fetch done = *b;
    b->fd = -1; /* handed over to `done` */
    b->used = false;
    if (!error && (fdatasync(done.fd) != 0 || as_owner(&done, rename_part) != 0))
        error = strerror(errno);
    if (error) {
        f->failed++;
        release(&done);
        char q[600];
        kvlog(KVLOG_WARN, "fetch_failed", "plugin=%s sha256=%s reason=%s", done.owner->name,
              done.sha256, kvlog_quote(q, sizeof q, error));
    } else {
        f->done++;
        close(done.fd);
        kvlog(KVLOG_INFO, "fetched", "plugin=%s sha256=%s bytes=%llu", done.owner->name, done.sha256,
              (unsigned long long)done.offset);
    }
    if (done.owner->status == PLUGIN_RUNNING)
        done.fn(done.arg, error ? -1 : 0, error);
    plugin_host_drain(done.owner->host);
}

static bool request_chunk(fetcher *f, blob_fetch *b)
{
    b->request = ulid_new();
    msg_writer_reset(&f->w);
    msg_start_request(&f->w, &b->request, "blob.get", f->from, 3);
    mp_str(&f->w.pk, "sha256");
    mp_str(&f->w.pk, b->sha256);
    mp_str(&f->w.pk, "offset");
    msgpack_pack_uint64(&f->w.pk, b->offset);
    mp_str(&f->w.pk, "max");
    msgpack_pack_uint32(&f->w.pk, FETCH_CHUNK);
    b->deadline = clock_mono_ms() + FETCH_CHUNK_TIMEOUT_MS;
    return zmq_send(f->dealer, f->w.sb.data, f->w.sb.size, ZMQ_DONTWAIT) >= 0;
}

static bool hash_ok(const char *s)
{
    if (strlen(s) != SHA256_HEX_LEN)
        return false;
    for (const char *p = s; *p; p++)
        if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
            return false;
    return true;
}

int fetcher_start(fetcher *f, struct cairn_host *owner, const fs_identity *as, const char *sha256,
                  const char *dest, cairn_fetch_fn fn, void *arg)
{
    blob_fetch *b = NULL;
    for (int i = 0; i < FETCH_MAX && !b; i++)
        if (!f->fetches[i].used)
            b = &f->fetches[i];
    if (!b || !hash_ok(sha256) || strlen(dest) >= sizeof b->dest)
        return -1;
    *b = (blob_fetch){.used = true, .owner = owner, .as = *as, .fn = fn, .arg = arg, .fd = -1};
    memcpy(b->sha256, sha256, SHA256_HEX_LEN + 1);
    snprintf(b->dest, sizeof b->dest, "%s", dest);
    ulid tag = ulid_new();
    char tag_text[ULID_TEXT_LEN + 1];
    ulid_format(&tag, tag_text);
    snprintf(b->part, sizeof b->part, "%s.part-%s", dest, tag_text);
    b->fd = as_owner(b, open_part);
    if (b->fd < 0 || !sha256_begin(&b->hash) || !request_chunk(f, b)) {
        char q[2][2 * PATH_MAX];
        const char *why = strerror(errno);
        kvlog(KVLOG_WARN, "fetch_not_started", "plugin=%s dest=%s error=%s", owner->name,
              kvlog_value(q[0], sizeof q[0], dest), kvlog_quote(q[1], sizeof q[1], why));
        release(b);
        return -1;
    }
    return 0;
}

static blob_fetch *find(fetcher *f, const ulid *re)
{
    for (int i = 0; i < FETCH_MAX; i++)
        if (f->fetches[i].used && memcmp(f->fetches[i].request.b, re->b, ULID_BYTES) == 0)
            return &f->fetches[i];
    return NULL;
}

static void on_reply(fetcher *f, blob_fetch *b, const msg *m)
{
    char why[600];
    if (m->kind == MSG_REPLY_ERROR) {
        snprintf(why, sizeof why, "%s: %.*s", cairn_status_name(m->err_status),
                 (int)m->err_message.n, m->err_message.p);
        finish(f, b, why);
        return;
    }
    msg_str data;
    bool eof = false;
    if (body_bin(m->body, "data", true, &data, NULL) || body_bool(m->body, "eof", true, &eof, NULL)) {
        finish(f, b, "malformed blob.get reply");
        return;
    }
    if (write(b->fd, data.p, data.n) != (ssize_t)data.n ||
        !sha256_update(&b->hash, data.p, data.n)) {
        finish(f, b, strerror(errno ? errno : EIO));
        return;
    }
    /* A short fdatasync in finish(), which would not see this error again. */
    if (writeback_pace(b->fd, b->offset, data.n) != 0) {
        finish(f, b, strerror(errno));
        return;
    }
    b->offset += data.n;
    if (!eof) {
        if (!request_chunk(f, b))
            finish(f, b, "cannot send to the coordinator");
        return;
    }
    char got[SHA256_HEX_LEN + 1];
    if (!sha256_finish(&b->hash, got) || strcmp(got, b->sha256) != 0) {
        snprintf(why, sizeof why, "sha256 mismatch: the blob read has %s", got);
        finish(f, b, why);
        return;
    }
    finish(f, b, NULL);
}

void fetcher_receive(fetcher *f)
{
    for (;;) {
        zmq_msg_t frame;
        zmq_msg_init(&frame);
        if (zmq_msg_recv(&frame, f->dealer, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&frame);
            return;
        }
        msg m;
        blob_fetch *b = NULL;
        if (msg_decode(&f->dec, zmq_msg_data(&frame), zmq_msg_size(&frame), &m, NULL) == CAIRN_OK &&
            m.kind != MSG_REQUEST)
            b = find(f, &m.re);
        if (b)
            on_reply(f, b, &m);
        zmq_msg_close(&frame);
    }
}

void fetcher_expire(fetcher *f, int64_t now)
{
    for (int i = 0; i < FETCH_MAX; i++)
        if (f->fetches[i].used && f->fetches[i].deadline <= now)
            finish(f, &f->fetches[i], "TIMEOUT: no reply from the coordinator");
}

int64_t fetcher_next_deadline(const fetcher *f)
{
    int64_t next = INT64_MAX;
    for (int i = 0; i < FETCH_MAX; i++)
        if (f->fetches[i].used)
            next = clock_earliest(next, f->fetches[i].deadline);
    return next;
}

void fetcher_forget(fetcher *f, const struct cairn_host *owner)
{
    for (int i = 0; i < FETCH_MAX; i++)
        if (f->fetches[i].used && f->fetches[i].owner == owner)
            release(&f->fetches[i]);
}
