/*
 * The writes an SDK sends its agent: checked, spooled inside the group's
 * transaction, and answered after the commit.
 */
#include <stdio.h>
#include <string.h>

#include "artifact_ref.h"
#include "body.h"
#include "body_shapes.h"
#include "error.h"
#include "kvlog.h"
#include "sdk_server.h"

#define ENTRY_HEADER 9 /* what spool.c adds to each entry */

bool sdk_is_write(msg_str type)
{
    static const char *const writes[] = {"run.start", "run.log", "run.end", "experiment.delete",
                                         "experiment.restore", "experiment.set_tag",
                                         "artifact.put", "dataset.log"};
    for (size_t i = 0; i < sizeof writes / sizeof writes[0]; i++)
        if (msg_str_eq(type, writes[i]))
            return true;
    return false;
}

void sdk_reply_error(sdk_server *s, sdk_request *r, cairn_status st, const char *message)
{
    char q[600];
    kvlog(KVLOG_DEBUG, "sdk_refused", "type=%s code=%s message=%s", r->type, cairn_status_name(st),
          kvlog_quote(q, sizeof q, message));
    msg_writer *w = &s->replies;
    r->reply_off = w->sb.size;
    msg_error_reply(w, r->has_id ? &r->id : NULL, msg_str_of(r->type),
                    s->from, st, message);
    r->reply_len = w->sb.size - r->reply_off;
    r->disp = SDK_REPLY_READY;
}

/* ---- recent ids ---- */

static const sdk_recent *recent_find(const sdk_server *s, const ulid *id)
{
    for (int i = 0; i < s->recent_count; i++)
        if (memcmp(s->recent[i].id.b, id->b, ULID_BYTES) == 0)
            return &s->recent[i];
    return NULL;
}

static void recent_add(sdk_server *s, const sdk_request *r)
{
    sdk_recent *e = &s->recent[s->recent_next];
    s->recent_next = (s->recent_next + 1) % SDK_RECENT_IDS;
    if (s->recent_count < SDK_RECENT_IDS)
        s->recent_count++;
    e->id = r->id;
    e->artifact = r->artifact;
    e->size = r->artifact ? r->done.size : 0;
    memcpy(e->sha256, r->artifact ? r->done.sha256 : "", r->artifact ? sizeof e->sha256 : 1);
}

/* ---- checks ---- */

/* The fields the agent itself needs, and the shapes that make an entry
 * hopeless (a write acknowledged to training code must be one the
 * coordinator can apply): the rules of values (key limits, immutable
 * params) are the coordinator's. */
static cairn_status check_body(const msg *m, cairn_error *err)
{
    const msgpack_object *b = m->body;
    ulid u;
    msg_str v;
    if (msg_str_eq(m->type, "run.start") || msg_str_eq(m->type, "run.log") ||
        msg_str_eq(m->type, "run.end")) {
        cairn_status st = body_ulid(b, "run", true, &u, err);
        if (!st && msg_str_eq(m->type, "run.log"))
            st = body_run_log_shape(b, err);
        if (!st && msg_str_eq(m->type, "run.start"))
            st = body_str(b, "experiment", true, &v, err);
        if (!st && msg_str_eq(m->type, "run.end"))
            st = body_str(b, "status", true, &v, err);
        return st;
    }
    if (msg_str_eq(m->type, "dataset.log")) {
        int64_t n;
        cairn_status st = body_str(b, "name", true, &v, err);
        if (!st)
            st = body_str(b, "hash", true, &v, err);
        if (!st)
            st = body_int(b, "size", true, &n, err);
        if (!st)
            st = body_int(b, "files", true, &n, err);
        if (!st && body_find(b, "run"))
            st = body_ulid(b, "run", true, &u, err);
        return st;
    }
    cairn_status st = body_str(b, "name", true, &v, err);
    if (!st && msg_str_eq(m->type, "experiment.set_tag"))
        st = body_str(b, "key", true, &v, err);
    if (!st && msg_str_eq(m->type, "experiment.set_tag"))
        st = body_str(b, "value", true, &v, err);
    return st;
}

static uint64_t used_bytes(const sdk_server *s, const sdk_group *g)
{
    return (g->open ? g->txn.bytes : s->spool->bytes) + uploads_pending_bytes(s->uploads);
}

static cairn_status check_room(const sdk_server *s, const sdk_group *g, uint64_t more,
                               cairn_error *err)
{
    uint64_t used = used_bytes(s, g);
    if (used + more <= s->cfg->spool_max_bytes)
        return CAIRN_OK;
    return error_set(err, CAIRN_BACKPRESSURE,
                     "agent spool full: %llu of %llu bytes used (spool.max_bytes) while the "
                     "coordinator at %s catches up; retry later",
                     (unsigned long long)used, (unsigned long long)s->cfg->spool_max_bytes,
                     s->cfg->coordinator);
}

/* A write the coordinator would refuse for its size is refused here, at
 * once, rather than spooled to be rejected later. */
static cairn_status check_size(const sdk_server *s, size_t len, cairn_error *err)
{
    /* No amount of draining makes room for it: BACKPRESSURE would have the
     * client retry it for ever. */
    if (ENTRY_HEADER + len > s->cfg->spool_max_bytes)
        return error_set(err, CAIRN_MESSAGE_TOO_LARGE,
                         "%zu bytes, larger than the agent's whole spool (spool.max_bytes = %llu): "
                         "send fewer points or params in one message, or raise spool.max_bytes",
                         len, (unsigned long long)s->cfg->spool_max_bytes);
    uint64_t limit = s->coordinator_limit ? *s->coordinator_limit : 0;
    if (!limit || len <= limit)
        return CAIRN_OK;
    return error_set(err, CAIRN_MESSAGE_TOO_LARGE,
                     "%zu bytes, over the coordinator's limits.max_message_bytes (%llu): send "
                     "fewer points or params in one message",
                     len, (unsigned long long)limit);
}

/* ---- spooling ---- */

static cairn_status append(sdk_server *s, sdk_group *g, spool_kind kind, const void *data,
                           size_t len, uint64_t extra, cairn_error *err)
{
    uint64_t seq;
    if (g->failed)
        return error_set(err, g->failed, "%s", g->why);
    if (!g->open) {
        cairn_status st = spool_begin(s->spool, &g->txn, err);
        if (st)
            return st;
        g->open = true;
    }
    cairn_status st = spool_append(s->spool, &g->txn, kind, data, len, extra, &seq, err);
    if (st) {
        /* A failed put leaves the transaction unusable: what the group spooled
         * so far is lost with it, and the rest of the group fails the same way. */
        spool_abort(&g->txn);
        g->open = false;
        g->failed = st;
        snprintf(g->why, sizeof g->why, "%s", err->message);
    }
    return st;
}

static void refuse(sdk_server *s, sdk_request *r, cairn_status st, const cairn_error *err)
{
    if (st == CAIRN_BACKPRESSURE)
        s->stats.backpressure++;
    else
        s->stats.refused++;
    sdk_reply_error(s, r, st, err->message);
}

static void spool_message(sdk_server *s, sdk_group *g, sdk_request *r, const msg *m,
                          const zmq_msg_t *payload)
{
    cairn_error err = {0};
    size_t len = zmq_msg_size((zmq_msg_t *)payload);
    cairn_status st = check_body(m, &err);
    if (!st)
        st = check_size(s, len, &err);
    if (!st)
        st = check_room(s, g, ENTRY_HEADER + len, &err);
    if (!st)
        st = append(s, g, SPOOL_MESSAGE, zmq_msg_data((zmq_msg_t *)payload), len, 0, &err);
    if (st == CAIRN_OK) {
        r->disp = SDK_SPOOLED;
        return;
    }
    if (g->failed && st == g->failed)
        sdk_fail_spooled(s, (int)(r - s->group), st, err.message);
    refuse(s, r, st, &err);
}

/* ---- artifact chunks ---- */

typedef struct chunk_fields {
    upload_chunk c;
    ulid upload, run;
} chunk_fields;

static cairn_status read_chunk(const msg *m, chunk_fields *f, cairn_error *err)
{
    const msgpack_object *b = m->body;
    int64_t offset = 0;
    f->c.last = false;
    f->c.sha256 = (msg_str){"", 0};
    cairn_status st = body_ulid(b, "upload", true, &f->upload, err);
    if (!st)
        st = body_ulid(b, "run", true, &f->run, err);
    if (!st)
        st = body_str(b, "path", true, &f->c.path, err);
    if (!st)
        st = body_int(b, "offset", true, &offset, err);
    if (!st)
        st = body_bin(b, "data", true, &f->c.data, err);
    if (!st)
        st = body_bool(b, "last", false, &f->c.last, err);
    if (!st)
        st = body_str(b, "sha256", false, &f->c.sha256, err);
    if (!st && offset < 0)
        st = error_set(err, CAIRN_INVALID_PARAMETER_VALUE, "'offset' must not be negative");
    f->c.offset = (uint64_t)offset;
    f->c.message = &m->id;
    f->c.upload = &f->upload;
    f->c.run = &f->run;
    return st;
}

static void reply_received(sdk_server *s, sdk_request *r, uint64_t received)
{
    msg_writer *w = &s->replies;
    r->reply_off = w->sb.size;
    msg_start_reply(w, &r->id, msg_str_of(r->type), s->from, 1);
    mp_str(&w->pk, "received");
    msgpack_pack_uint64(&w->pk, received);
    r->reply_len = w->sb.size - r->reply_off;
    r->disp = SDK_REPLY_READY;
}

static cairn_status spool_upload(sdk_server *s, sdk_group *g, sdk_request *r, const msg *m,
                                 const chunk_fields *f, cairn_error *err)
{
    artifact_ref ref = {.id = m->id, .run = f->run, .size = r->done.size};
    msg_str_copy(m->from, ref.from, sizeof ref.from);
    msg_str_copy(f->c.path, ref.path, sizeof ref.path);
    memcpy(ref.sha256, r->done.sha256, sizeof ref.sha256);
    memcpy(ref.file, r->done.name, sizeof ref.file);
    msg_writer_reset(&s->scratch);
    artifact_ref_pack(&s->scratch, &ref);
    /* The file is complete on disk already: its bytes count from now on. */
    cairn_status st = check_room(s, g, ENTRY_HEADER + s->scratch.sb.size, err);
    if (!st)
        st = append(s, g, SPOOL_ARTIFACT, s->scratch.sb.data, s->scratch.sb.size, ref.size, err);
    return st;
}

/* No room for a chunk: worth a retry while the spool drains, unless this
 * upload alone is already larger than the whole spool. Then no retry can
 * succeed; what it holds would only keep other writes out until it expired
 * (10 minutes), so it is dropped, and the refusal says what to do. */
static cairn_status refuse_if_never_fits(sdk_server *s, const chunk_fields *f, cairn_status st,
                                         cairn_error *err)
{
    uint64_t total = uploads_received(s->uploads, &f->upload) + f->c.data.n;
    if (total <= s->cfg->spool_max_bytes)
        return st;
    uploads_drop(s->uploads, &f->upload);
    return error_set(err, CAIRN_LIMIT_EXCEEDED,
                     "artifact larger than the agent's spool (spool.max_bytes = %llu bytes): "
                     "raise spool.max_bytes, or upload it straight to the coordinator",
                     (unsigned long long)s->cfg->spool_max_bytes);
}

static void put_chunk(sdk_server *s, sdk_group *g, sdk_request *r, const msg *m, int64_t now)
{
    chunk_fields f;
    cairn_error err = {0};
    uint64_t received = 0;
    bool finished = false;
    cairn_status st = read_chunk(m, &f, &err);
    if (!st)
        st = check_room(s, g, f.c.data.n, &err);
    if (st == CAIRN_BACKPRESSURE)
        st = refuse_if_never_fits(s, &f, st, &err);
    if (!st)
        st = uploads_put(s->uploads, &f.c, now, &received, &finished, &r->done, &err);
    if (st) {
        refuse(s, r, st, &err);
        return;
    }
    if (!finished) {
        reply_received(s, r, received);
        return;
    }
    r->artifact = true;
    st = spool_upload(s, g, r, m, &f, &err);
    if (st == CAIRN_OK) {
        r->disp = SDK_SPOOLED;
        return;
    }
    uploads_remove(s->uploads, r->done.name);
    r->artifact = false;
    if (g->failed && st == g->failed)
        sdk_fail_spooled(s, (int)(r - s->group), st, err.message);
    refuse(s, r, st, &err);
}

void sdk_handle_write(sdk_server *s, sdk_group *g, sdk_request *r, const msg *m,
                      const zmq_msg_t *payload, int64_t now)
{
    const sdk_recent *seen = recent_find(s, &m->id);
    if (seen) {
        r->disp = SDK_DUPLICATE;
        r->artifact = seen->artifact;
        r->done.size = seen->size;
        memcpy(r->done.sha256, seen->sha256, sizeof r->done.sha256);
        s->stats.duplicates++;
        return;
    }
    if (msg_str_eq(m->type, "artifact.put"))
        put_chunk(s, g, r, m, now);
    else
        spool_message(s, g, r, m, payload);
}

void sdk_fail_spooled(sdk_server *s, int n, cairn_status st, const char *why)
{
    for (int i = 0; i < n; i++) {
        sdk_request *r = &s->group[i];
        if (r->disp != SDK_SPOOLED)
            continue;
        if (r->artifact)
            uploads_remove(s->uploads, r->done.name);
        r->artifact = false;
        if (st == CAIRN_BACKPRESSURE)
            s->stats.backpressure++;
        sdk_reply_error(s, r, st, why);
    }
}

static void reply_spooled(sdk_server *s, sdk_request *r)
{
    msg_writer *w = &s->replies;
    r->reply_off = w->sb.size;
    msg_start_reply(w, &r->id, msg_str_of(r->type), s->from,
                    r->artifact ? 4 : 2);
    mp_str(&w->pk, "spooled");
    msgpack_pack_true(&w->pk);
    mp_str(&w->pk, "depth");
    msgpack_pack_uint64(&w->pk, s->spool->depth);
    if (r->artifact) {
        /* What the SDK checks against its own reading of the file. */
        mp_str(&w->pk, "size");
        msgpack_pack_uint64(&w->pk, r->done.size);
        mp_str(&w->pk, "sha256");
        mp_str(&w->pk, r->done.sha256);
    }
    r->reply_len = w->sb.size - r->reply_off;
}

void sdk_reply_spooled(sdk_server *s, int n)
{
    for (int i = 0; i < n; i++) {
        sdk_request *r = &s->group[i];
        if (r->disp == SDK_SPOOLED) {
            recent_add(s, r);
            s->stats.spooled++;
        }
        if (r->disp == SDK_SPOOLED || r->disp == SDK_DUPLICATE)
            reply_spooled(s, r);
    }
}
