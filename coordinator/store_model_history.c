/*
 * The append-only history of a model's stage and alias changes.
 *
 *   model_history         u64 id + u64 seq -> i64 time | request id | u8 kind |
 *                               u8 flags | u64 undoes | u32 version | u8 from stage |
 *                               u8 to stage | u32 from version | u32 to version |
 *                               actor | alias | reason
 *   model_version_events  u64 id + u32 version + u64 seq -> (empty)
 *
 * Events are never deleted, so a model's next number is one past the last key
 * under its id. The second tree lists the events about each version (the
 * lineage of a version, and what a rollback looks for) without a walk of the
 * whole history.
 */
#include <errno.h>
#include <string.h>

#include "error.h"
#include "store_models.h"
#include "store_record.h"

#define EVENT_KEY 16
#define VERSION_EVENT_KEY 20
#define FLAG_ROLLBACK 1

static void event_key(uint8_t k[EVENT_KEY], uint64_t model_id, uint64_t seq)
{
    be64_put(k, model_id);
    be64_put(k + 8, seq);
}

static cairn_status decode_event(uint64_t seq, const MDB_val *v, store_model_event *e,
                                 cairn_error *err)
{
    rec_in in = {v->mv_data, v->mv_size, false};
    e->seq = seq;
    e->time = (int64_t)rec_get_u64(&in);
    rec_get_bytes(&in, e->request.b, ULID_BYTES);
    e->kind = rec_get_u8(&in);
    e->rollback = rec_get_u8(&in) & FLAG_ROLLBACK;
    e->undoes = rec_get_u64(&in);
    e->version = rec_get_u32(&in);
    e->from_stage = rec_get_u8(&in);
    e->to_stage = rec_get_u8(&in);
    e->from_version = rec_get_u32(&in);
    e->to_version = rec_get_u32(&in);
    e->actor = rec_get_str(&in);
    e->alias = rec_get_str(&in);
    e->reason = rec_get_str(&in);
    if (in.bad || (e->kind != EVENT_STAGE && e->kind != EVENT_ALIAS))
        return error_set(err, CAIRN_STORAGE_ERROR, "corrupt model history record");
    return CAIRN_OK;
}

static void encode_event(rec_out *o, const store_model_event *e)
{
    rec_u64(o, (uint64_t)e->time);
    rec_bytes(o, e->request.b, ULID_BYTES);
    rec_u8(o, e->kind);
    rec_u8(o, e->rollback ? FLAG_ROLLBACK : 0);
    rec_u64(o, e->undoes);
    rec_u32(o, e->version);
    rec_u8(o, e->from_stage);
    rec_u8(o, e->to_stage);
    rec_u32(o, e->from_version);
    rec_u32(o, e->to_version);
    rec_str(o, e->actor);
    rec_str(o, e->alias);
    rec_str(o, e->reason);
}

static cairn_status last_seq(store *s, MDB_txn *txn, uint64_t model_id, uint64_t *seq,
                             cairn_error *err)
{
    uint8_t from[EVENT_KEY];
    MDB_val last = {0, NULL};
    event_key(from, model_id, UINT64_MAX);
    cairn_status st = store_range_walk(txn, s->model_history, from, sizeof from, 8, true,
                                       store_take_key, &last, err);
    *seq = last.mv_size == EVENT_KEY ? be64_get((const uint8_t *)last.mv_data + 8) : 0;
    return st;
}

static cairn_status index_version(store *s, MDB_txn *txn, uint64_t model_id, uint32_t version,
                                  uint64_t seq, cairn_error *err)
{
    uint8_t kb[VERSION_EVENT_KEY];
    be64_put(kb, model_id);
    be32_put(kb + 8, version);
    be64_put(kb + 12, seq);
    MDB_val k = {sizeof kb, kb}, e = {0, NULL};
    int rc = store_put(s, txn, s->model_version_events, &k, &e, 0);
    return rc ? store_fail(rc, "index model event", err) : CAIRN_OK;
}

cairn_status store_model_event_append(store *s, MDB_txn *txn, uint64_t model_id,
                                      store_model_event *e, cairn_error *err)
{
    cairn_status st = last_seq(s, txn, model_id, &e->seq, err);
    if (st)
        return st;
    e->seq++;
    rec_out o = {0};
    encode_event(&o, e);
    uint8_t kb[EVENT_KEY];
    event_key(kb, model_id, e->seq);
    MDB_val k = {sizeof kb, kb}, v = {o.n, o.p};
    int rc = o.failed ? ENOMEM : store_put(s, txn, s->model_history, &k, &v, MDB_NOOVERWRITE);
    rec_free(&o);
    if (rc)
        return store_fail(rc, "append model history", err);
    if (e->kind == EVENT_STAGE)
        return index_version(s, txn, model_id, e->version, e->seq, err);
    st = e->from_version ? index_version(s, txn, model_id, e->from_version, e->seq, err) : CAIRN_OK;
    if (!st && e->to_version && e->to_version != e->from_version)
        st = index_version(s, txn, model_id, e->to_version, e->seq, err);
    return st;
}

cairn_status store_model_event_get(store *s, MDB_txn *txn, uint64_t model_id, uint64_t seq,
                                   store_model_event *out, cairn_error *err)
{
    uint8_t kb[EVENT_KEY];
    event_key(kb, model_id, seq);
    MDB_val k = {sizeof kb, kb}, v;
    int rc = mdb_get(txn, s->model_history, &k, &v);
    if (rc == MDB_NOTFOUND)
        return error_set(err, CAIRN_STORAGE_ERROR, "model history event %llu is missing",
                         (unsigned long long)seq);
    return rc ? store_fail(rc, "read model history", err) : decode_event(seq, &v, out, err);
}

static bool visit_event(void *ctx, const MDB_val *key, const MDB_val *value)
{
    store_walk_ctx *w = ctx;
    store_model_event e;
    w->st = key->mv_size == EVENT_KEY
                ? decode_event(be64_get((const uint8_t *)key->mv_data + 8), value, &e, w->err)
                : error_set(w->err, CAIRN_STORAGE_ERROR, "corrupt model history key");
    return !w->st && ((store_event_visit)w->visit)(w->ctx, &e);
}

cairn_status store_model_events_walk(store *s, MDB_txn *txn, uint64_t model_id, uint64_t since,
                                     store_event_visit visit, void *ctx, cairn_error *err)
{
    uint8_t from[EVENT_KEY];
    event_key(from, model_id, since);
    store_walk_ctx w = {s, txn, (void (*)(void))visit, ctx, CAIRN_OK, err};
    cairn_status st =
        store_range_walk(txn, s->model_history, from, sizeof from, 8, false, visit_event, &w, err);
    return st ? st : w.st;
}

static bool visit_version_event(void *ctx, const MDB_val *key, const MDB_val *value)
{
    store_walk_ctx *w = ctx;
    store_model_event e;
    (void)value;
    w->st = key->mv_size == VERSION_EVENT_KEY
                ? store_model_event_get(w->s, w->txn, be64_get(key->mv_data),
                                        be64_get((const uint8_t *)key->mv_data + 12), &e, w->err)
                : error_set(w->err, CAIRN_STORAGE_ERROR, "corrupt model event index");
    return !w->st && ((store_event_visit)w->visit)(w->ctx, &e);
}

cairn_status store_model_version_events(store *s, MDB_txn *txn, uint64_t model_id, uint32_t version,
                                        bool newest_first, store_event_visit visit, void *ctx,
                                        cairn_error *err)
{
    uint8_t from[VERSION_EVENT_KEY];
    be64_put(from, model_id);
    be32_put(from + 8, version);
    be64_put(from + 12, newest_first ? UINT64_MAX : 0);
    store_walk_ctx w = {s, txn, (void (*)(void))visit, ctx, CAIRN_OK, err};
    cairn_status st = store_range_walk(txn, s->model_version_events, from, sizeof from, 12,
                                       newest_first, visit_version_event, &w, err);
    return st ? st : w.st;
}
