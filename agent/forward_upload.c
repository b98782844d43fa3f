/*
 * Uploading a spooled artifact to the coordinator, the way
 * cairn_artifact_upload does: 1 MiB chunks of one upload id at increasing
 * offsets. Every attempt takes a new upload id (the coordinator forgets
 * unfinished uploads when it restarts); the last chunk carries the id of the
 * SDK's last chunk, so the coordinator records the artifact once however
 * many attempts it takes. The file is deleted once the coordinator has
 * acknowledged it, in the same round as the spool entry.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zmq.h>

#include "body.h"
#include "forwarder.h"

void upload_stop(forwarder *f)
{
    fwd_upload *u = &f->up;
    if (u->fd >= 0)
        close(u->fd);
    free(u->buf);
    memset(u, 0, sizeof *u);
    u->fd = -1;
}

static void refuse_upload(forwarder *f, cairn_status code, const char *message)
{
    fwd_upload *u = &f->up;
    /* The rejected list keeps the reference; the file itself is let go. */
    fwd_refuse(f, u->seq, "artifact.put", &u->ref.id, code, message);
    snprintf(f->remove_file, sizeof f->remove_file, "%s", u->ref.file);
    f->next_seq = u->seq + 1;
    upload_stop(f);
}

void upload_restart(forwarder *f)
{
    f->up.upload = ulid_new();
    f->up.offset = 0;
    f->up.in_flight = false;
}

void upload_start(forwarder *f, const spool_entry *e, int64_t now)
{
    fwd_upload *u = &f->up;
    cairn_error err = {0};
    char path[PATH_MAX];
    (void)now;
    upload_stop(f);
    u->active = true;
    u->seq = e->seq;
    if (artifact_ref_parse(e->data, e->len, &u->ref, &err) != CAIRN_OK) {
        refuse_upload(f, CAIRN_INTERNAL_ERROR, err.message);
        return;
    }
    uploads_file(f->uploads, u->ref.file, path, sizeof path);
    u->fd = open(path, O_RDONLY | O_CLOEXEC);
    u->buf = malloc(FWD_CHUNK);
    if (u->fd < 0 || !u->buf) {
        char why[PATH_MAX + 64];
        snprintf(why, sizeof why, "spooled artifact file %s: %s", path,
                 u->fd < 0 ? strerror(errno) : "out of memory");
        refuse_upload(f, CAIRN_IO_ERROR, why);
        return;
    }
    upload_restart(f);
}

static ssize_t read_at(int fd, unsigned char *buf, size_t n, uint64_t offset)
{
    size_t got = 0;
    while (got < n) {
        ssize_t r = pread(fd, buf + got, n - got, (off_t)(offset + got));
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return r < 0 ? -1 : (ssize_t)got;
        got += (size_t)r;
    }
    return (ssize_t)got;
}

static void pack_chunk(forwarder *f, size_t n, bool last)
{
    fwd_upload *u = &f->up;
    msg_writer_reset(&f->w);
    msg_start_request(&f->w, &u->chunk_id, "artifact.put", u->ref.from, last ? 7 : 6);
    msgpack_packer *pk = &f->w.pk;
    mp_str(pk, "upload");
    mp_ulid(pk, &u->upload);
    mp_str(pk, "run");
    mp_ulid(pk, &u->ref.run);
    mp_str(pk, "path");
    mp_str(pk, u->ref.path);
    mp_str(pk, "offset");
    msgpack_pack_uint64(pk, u->offset);
    mp_str(pk, "data");
    mp_bin(pk, u->buf, n);
    mp_str(pk, "last");
    mp_bool(pk, last);
    if (last) { /* what the SDK sent: bytes changed in the spooled file are refused */
        mp_str(pk, "sha256");
        mp_str(pk, u->ref.sha256);
    }
}

void upload_pump(forwarder *f, int64_t now)
{
    fwd_upload *u = &f->up;
    if (!u->active || u->in_flight)
        return;
    uint64_t left = u->ref.size - u->offset;
    size_t chunk = fwd_chunk_bytes(f);
    size_t want = left < chunk ? (size_t)left : chunk;
    ssize_t n = read_at(u->fd, u->buf, want, u->offset);
    if (n != (ssize_t)want) {
        refuse_upload(f, CAIRN_IO_ERROR, "spooled artifact file is shorter than recorded");
        return;
    }
    bool last = u->offset + want == u->ref.size;
    u->chunk_id = last ? u->ref.id : ulid_new();
    pack_chunk(f, want, last);
    if (zmq_send(f->dealer, f->w.sb.data, f->w.sb.size, ZMQ_DONTWAIT) < 0) {
        f->blocked = true;
        return;
    }
    u->sending = want;
    u->in_flight = true;
    fwd_sent(f, now);
}

/* The coordinator's size and digest of what it stored must be the file's. */
static void check_stored(forwarder *f, const msg *m)
{
    fwd_upload *u = &f->up;
    msg_str sha = {"", 0};
    int64_t size = -1;
    body_str(m->body, "sha256", false, &sha, NULL);
    body_int(m->body, "size", false, &size, NULL);
    if (!msg_str_eq(sha, u->ref.sha256) || (uint64_t)size != u->ref.size) {
        refuse_upload(f, CAIRN_IO_ERROR, "the coordinator stored other content than the spooled file");
        return;
    }
    fwd_acked(f, u->seq);
    snprintf(f->remove_file, sizeof f->remove_file, "%s", u->ref.file);
    f->next_seq = u->seq + 1;
    upload_stop(f);
}

static void on_error(forwarder *f, const msg *m, int64_t now)
{
    char why[512];
    msg_str_copy(m->err_message, why, sizeof why);
    /* INVALID_STATE: the coordinator lost this upload (it restarted, or the
     * upload expired): a new attempt starts from offset 0. */
    if (fwd_is_transient(m->err_status) || m->err_status == CAIRN_INVALID_STATE) {
        upload_restart(f);
        fwd_transient(f, m->err_status, why, now);
    }
    else
        refuse_upload(f, m->err_status, why);
}

void upload_on_reply(forwarder *f, const msg *m, int64_t now)
{
    fwd_upload *u = &f->up;
    if (!u->in_flight)
        return;
    u->in_flight = false;
    f->reply_deadline = 0;
    if (m->kind == MSG_REPLY_ERROR) {
        on_error(f, m, now);
        return;
    }
    if (u->offset + u->sending == u->ref.size) {
        check_stored(f, m);
        return;
    }
    int64_t received = -1;
    body_int(m->body, "received", false, &received, NULL);
    if ((uint64_t)received != u->offset + u->sending) {
        upload_restart(f);
        fwd_transient(f, CAIRN_INVALID_STATE, "chunk not taken at the expected offset", now);
        return;
    }
    u->offset += u->sending;
}
