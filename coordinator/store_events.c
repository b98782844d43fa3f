/*
 * Events that agents' plugins and clients report: u64 sequence -> record.
 *
 * A record is a fixed header, the three short strings, then the fields map
 * as the msgpack bytes it arrived as:
 *   i64 time | u8 agent length | u8 type length | u16 source length |
 *   agent | type | source | fields
 * so a listing filters on agent, type and source without decoding anything,
 * and copies the fields of the events it returns as they are.
 */
#include <string.h>

#include "error.h"
#include "store.h"

#define EVENT_HEADER 12
#define CORRUPT (-1) /* no LMDB code: theirs are errno values and MDB_* (< -30000) */

/* meta key holding the last sequence handed out. Kept apart from the tree's
 * last key so that sequences are never handed out twice, whatever pruning of
 * old events may one day remove. */
static const MDB_val SEQ_KEY = {9, "event_seq"};

static cairn_status read_counter(store *s, MDB_txn *txn, uint64_t *last, cairn_error *err)
{
    MDB_val k = SEQ_KEY, v;
    int rc = mdb_get(txn, s->meta, &k, &v);
    *last = 0;
    if (rc == MDB_NOTFOUND)
        return CAIRN_OK;
    if (rc)
        return store_fail(rc, "read event sequence", err);
    if (v.mv_size != 8)
        return error_set(err, CAIRN_STORAGE_ERROR, "corrupt event sequence");
    *last = be64_get(v.mv_data);
    return CAIRN_OK;
}

static cairn_status put_event(store *s, MDB_txn *txn, uint64_t seq, const store_event *e,
                              cairn_error *err)
{
    uint8_t kb[8];
    be64_put(kb, seq);
    MDB_val k = {8, kb};
    MDB_val v = {EVENT_HEADER + e->agent.n + e->type.n + e->source.n + e->fields.n, NULL};
    /* Sequences only grow: every record appends at the end of the tree. */
    int rc = store_put(s, txn, s->events, &k, &v, MDB_APPEND | MDB_RESERVE);
    if (rc)
        return store_fail(rc, "append event", err);
    uint8_t *p = v.mv_data;
    be64_put(p, (uint64_t)e->time);
    p[8] = (uint8_t)e->agent.n;
    p[9] = (uint8_t)e->type.n;
    p[10] = (uint8_t)(e->source.n >> 8);
    p[11] = (uint8_t)e->source.n;
    p += EVENT_HEADER;
    memcpy(p, e->agent.p, e->agent.n);
    memcpy(p += e->agent.n, e->type.p, e->type.n);
    memcpy(p += e->type.n, e->source.p, e->source.n);
    memcpy(p + e->source.n, e->fields.p, e->fields.n);
    return CAIRN_OK;
}

cairn_status store_events_append(store *s, MDB_txn *txn, const store_event *events, size_t n,
                                 uint64_t *first, cairn_error *err)
{
    uint64_t last;
    cairn_status st = read_counter(s, txn, &last, err);
    for (size_t i = 0; !st && i < n; i++) {
        if (events[i].agent.n > STORE_EVENT_MAX_AGENT || events[i].type.n > STORE_EVENT_MAX_TYPE ||
            events[i].source.n > STORE_EVENT_MAX_SOURCE)
            return error_set(err, CAIRN_LIMIT_EXCEEDED, "event %zu is over a length limit", i);
        st = put_event(s, txn, last + 1 + i, &events[i], err);
    }
    if (st)
        return st;
    uint8_t vb[8];
    be64_put(vb, last + n);
    MDB_val k = SEQ_KEY, v = {8, vb};
    int rc = store_put(s, txn, s->meta, &k, &v, 0);
    if (rc)
        return store_fail(rc, "write event sequence", err);
    *first = last + 1;
    return CAIRN_OK;
}

/* ---- listing ---- */

/* The record's parts; false when it is too short for what its header says. */
static bool decode_event(const MDB_val *v, store_event *e)
{
    const uint8_t *p = v->mv_data;
    if (v->mv_size < EVENT_HEADER)
        return false;
    size_t agent = p[8], type = p[9], source = (size_t)p[10] << 8 | p[11];
    if (v->mv_size < EVENT_HEADER + agent + type + source + 1) /* fields: at least a fixmap */
        return false;
    e->time = (int64_t)be64_get(p);
    const char *c = (const char *)p + EVENT_HEADER;
    e->agent = (msg_str){c, (uint32_t)agent};
    e->type = (msg_str){c + agent, (uint32_t)type};
    e->source = (msg_str){c + agent + type, (uint32_t)source};
    size_t head = EVENT_HEADER + agent + type + source;
    e->fields = (msg_str){(const char *)p + head, (uint32_t)(v->mv_size - head)};
    return true;
}

static bool matches(const store_event_filter *f, const store_event *e)
{
    if (f->type.n) {
        bool prefix = f->type.p[f->type.n - 1] == '.';
        if (prefix ? e->type.n < f->type.n || memcmp(e->type.p, f->type.p, f->type.n) != 0
                   : !msg_str_same(e->type, f->type))
            return false;
    }
    return (!f->source.n || msg_str_same(e->source, f->source)) &&
           (!f->agent.n || msg_str_same(e->agent, f->agent));
}

static void pack_event(msgpack_packer *pk, uint64_t seq, const store_event *e)
{
    msgpack_pack_map(pk, 6);
    mp_str(pk, "seq");
    msgpack_pack_uint64(pk, seq);
    mp_str(pk, "agent");
    store_pack_str(pk, e->agent.p, e->agent.n);
    mp_str(pk, "source");
    mp_msgstr(pk, e->source);
    mp_str(pk, "type");
    store_pack_str(pk, e->type.p, e->type.n);
    mp_str(pk, "time");
    msgpack_pack_int64(pk, e->time);
    mp_str(pk, "fields");
    pk->callback(pk->data, e->fields.p, e->fields.n); /* packed when stored */
}

cairn_status store_events_pack(store *s, MDB_txn *txn, const store_event_filter *f,
                               msgpack_packer *pk, uint64_t *next, cairn_error *err)
{
    MDB_cursor *c;
    int rc = mdb_cursor_open(txn, s->events, &c);
    if (rc)
        return store_fail(rc, "cursor", err);
    msgpack_sbuffer *sb = pk->data;
    size_t at = store_counted_begin(pk), start = sb->size, scanned = 0;
    uint32_t n = 0;
    uint8_t kb[8];
    be64_put(kb, f->since ? f->since : 1);
    MDB_val k = {8, kb}, v;
    rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
    /* Each bound ends the page; `next` then says where the caller goes on. A
     * page holds at least one event, however large. */
    while (rc == 0 && n < f->max && scanned < f->max_scan && sb->size - start < f->max_bytes) {
        store_event e;
        scanned++;
        if (k.mv_size != 8 || !decode_event(&v, &e)) {
            rc = CORRUPT;
            break;
        }
        if (matches(f, &e)) {
            pack_event(pk, be64_get(k.mv_data), &e);
            n++;
        }
        rc = mdb_cursor_get(c, &k, &v, MDB_NEXT);
    }
    store_counted_end(pk, at, false, n);
    *next = rc == 0 ? be64_get(k.mv_data) : 0;
    mdb_cursor_close(c);
    if (rc == CORRUPT)
        return error_set(err, CAIRN_STORAGE_ERROR, "corrupt event record");
    return (rc == 0 || rc == MDB_NOTFOUND) ? CAIRN_OK : store_fail(rc, "read events", err);
}
