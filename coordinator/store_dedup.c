/* The record of applied message ids: a tree, and the recent ids in memory. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "body.h"
#include "error.h"
#include "store.h"

#define RECENT_MAX 8192          /* beyond this, ids go to the tree at once */
#define RECENT_SLOTS (2 * RECENT_MAX)
#define FLUSH_AT 4096
#define FLUSH_EVERY_MS 1000
#define PRUNE_SCAN_MAX 100000    /* ids looked at in one pruning pass */

typedef struct dedup_recent {
    ulid ids[RECENT_MAX];
    uint64_t seqs[RECENT_MAX];
    uint32_t slots[RECENT_SLOTS]; /* open addressing: index + 1, 0 = empty */
    size_t n;
    size_t flushing;              /* [0, flushing) written by the open transaction */
    int64_t last_flush_ms;
    /* No id in the tree is newer than this (ULIDs start with their time): a
     * new id, the common case, is known absent without a tree lookup. */
    uint64_t tree_newest_ms;
    uint32_t order[RECENT_MAX];   /* ids in key order, while flushing */
    uint32_t order_tmp[RECENT_MAX];
} dedup_recent;

static const MDB_val indexed_key = {13, "dedup_indexed"};

/* The random part of a ULID spreads well; the same bits across ids only
 * lengthen probing, which RECENT_MAX bounds. */
static size_t slot_of(const ulid *id)
{
    uint32_t h;
    memcpy(&h, id->b + 8, sizeof h);
    return h & (RECENT_SLOTS - 1);
}

static void rehash(dedup_recent *r)
{
    memset(r->slots, 0, sizeof r->slots);
    for (size_t i = 0; i < r->n; i++) {
        size_t j = slot_of(&r->ids[i]);
        while (r->slots[j])
            j = (j + 1) & (RECENT_SLOTS - 1);
        r->slots[j] = (uint32_t)i + 1;
    }
}

static bool recent_find(const dedup_recent *r, const ulid *id, uint64_t *seq)
{
    for (size_t j = slot_of(id); r->slots[j]; j = (j + 1) & (RECENT_SLOTS - 1)) {
        size_t i = r->slots[j] - 1;
        if (memcmp(r->ids[i].b, id->b, ULID_BYTES) == 0) {
            *seq = r->seqs[i];
            return true;
        }
    }
    return false;
}

static void recent_add(dedup_recent *r, const ulid *id, uint64_t seq)
{
    size_t j = slot_of(id);
    while (r->slots[j])
        j = (j + 1) & (RECENT_SLOTS - 1);
    r->ids[r->n] = *id;
    r->seqs[r->n] = seq;
    r->slots[j] = (uint32_t)++r->n;
}

static void note_tree_id(dedup_recent *r, const ulid *id)
{
    uint64_t ms = ulid_time_ms(id);
    if (ms > r->tree_newest_ms)
        r->tree_newest_ms = ms;
}

/* Through a cursor that appends when it can: ids come in key order when the
 * tree takes them in bulk, and most are newer than any it holds. */
static cairn_status tree_put(store *s, MDB_cursor *c, const ulid *id, uint64_t seq,
                             cairn_error *err)
{
    uint8_t vb[8];
    be64_put(vb, seq);
    MDB_val k = {ULID_BYTES, (void *)id->b}, v = {8, vb};
    int rc = store_cursor_put(s, c, &k, &v, MDB_APPEND);
    if (rc == MDB_KEYEXIST) /* not after the last key: a plain insert */
        rc = store_cursor_put(s, c, &k, &v, 0);
    if (rc)
        return store_fail(rc, "record message id", err);
    note_tree_id(s->recent, id);
    return CAIRN_OK;
}

static cairn_status tree_put_one(store *s, MDB_txn *txn, const ulid *id, uint64_t seq,
                                 cairn_error *err)
{
    MDB_cursor *c;
    int rc = mdb_cursor_open(txn, s->dedup, &c);
    if (rc)
        return store_fail(rc, "cursor", err);
    cairn_status st = tree_put(s, c, id, seq, err);
    mdb_cursor_close(c);
    return st;
}

bool store_dedup_find(store *s, MDB_txn *txn, const ulid *id, uint64_t *seq)
{
    if (recent_find(s->recent, id, seq))
        return true;
    if (ulid_time_ms(id) > s->recent->tree_newest_ms)
        return false;
    MDB_val k = {ULID_BYTES, (void *)id->b}, v;
    if (mdb_get(txn, s->dedup, &k, &v) != 0 || v.mv_size != 8)
        return false;
    *seq = be64_get(v.mv_data);
    return true;
}

cairn_status store_dedup_record(store *s, MDB_txn *txn, const ulid *id, uint64_t seq,
                                cairn_error *err)
{
    if (s->recent->n == RECENT_MAX)
        return tree_put_one(s, txn, id, seq, err);
    recent_add(s->recent, id, seq);
    return CAIRN_OK;
}

bool store_dedup_flush_due(const store *s, int64_t now_ms)
{
    const dedup_recent *r = s->recent;
    return r->n >= FLUSH_AT || (r->n > 0 && now_ms - r->last_flush_ms >= FLUSH_EVERY_MS);
}

static cairn_status write_indexed_mark(store *s, MDB_txn *txn, uint64_t seq, cairn_error *err)
{
    uint8_t vb[8];
    be64_put(vb, seq);
    MDB_val v = {8, vb};
    int rc = store_put(s, txn, s->meta, (MDB_val *)&indexed_key, &v, 0);
    return rc ? store_fail(rc, "record dedup mark", err) : CAIRN_OK;
}

cairn_status store_dedup_flush(store *s, MDB_txn *txn, int64_t now_ms, cairn_error *err)
{
    dedup_recent *r = s->recent;
    /* In key order, inserts walk the tree's pages once instead of at random. */
    ulid_sort_order(r->ids, r->n, r->order, r->order_tmp);
    MDB_cursor *c;
    int rc = mdb_cursor_open(txn, s->dedup, &c);
    if (rc)
        return store_fail(rc, "cursor", err);
    cairn_status st = CAIRN_OK;
    for (size_t i = 0; i < r->n && !st; i++)
        st = tree_put(s, c, &r->ids[r->order[i]], r->seqs[r->order[i]], err);
    mdb_cursor_close(c);
    if (st)
        return st;
    /* Every id applied so far is in the tree once this commits. */
    st = write_indexed_mark(s, txn, s->next_audit_seq - 1, err);
    if (st)
        return st;
    r->flushing = r->n;
    r->last_flush_ms = now_ms;
    return CAIRN_OK;
}

void store_dedup_committed(store *s)
{
    dedup_recent *r = s->recent;
    if (r->flushing == 0)
        return;
    size_t keep = r->n - r->flushing;
    memmove(r->ids, r->ids + r->flushing, keep * sizeof r->ids[0]);
    memmove(r->seqs, r->seqs + r->flushing, keep * sizeof r->seqs[0]);
    r->n = keep;
    r->flushing = 0;
    rehash(r);
}

size_t store_dedup_mark(const store *s)
{
    return s->recent->n;
}

void store_dedup_aborted(store *s, size_t mark)
{
    dedup_recent *r = s->recent;
    r->flushing = 0;
    if (mark < r->n) {
        r->n = mark;
        rehash(r);
    }
}

/* ---- start ---- */

static uint64_t indexed_mark(store *s, MDB_txn *txn)
{
    MDB_val v;
    if (mdb_get(txn, s->meta, (MDB_val *)&indexed_key, &v) != 0 || v.mv_size != 8)
        return 0;
    return be64_get(v.mv_data);
}

/* The time and id of an audit entry: msgpack [ts, id, type, from, summary].
 * Either out may be NULL. */
static bool read_audit_entry(const MDB_val *v, int64_t *applied_ms, ulid *id)
{
    msgpack_zone zone;
    msgpack_object o;
    size_t off = 0;
    msgpack_zone_init(&zone, 256);
    bool ok = msgpack_unpack(v->mv_data, v->mv_size, &off, &zone, &o) == MSGPACK_UNPACK_SUCCESS &&
              o.type == MSGPACK_OBJECT_ARRAY && o.via.array.size == 5 &&
              (o.via.array.ptr[0].type == MSGPACK_OBJECT_POSITIVE_INTEGER ||
               o.via.array.ptr[0].type == MSGPACK_OBJECT_NEGATIVE_INTEGER) &&
              o.via.array.ptr[1].type == MSGPACK_OBJECT_BIN &&
              o.via.array.ptr[1].via.bin.size == ULID_BYTES;
    if (ok && applied_ms)
        *applied_ms = o.via.array.ptr[0].via.i64;
    if (ok && id)
        memcpy(id->b, o.via.array.ptr[1].via.bin.ptr, ULID_BYTES);
    msgpack_zone_destroy(&zone);
    return ok;
}

cairn_status store_dedup_open(store *s, MDB_txn *txn, cairn_error *err)
{
    s->prune_scan_max = PRUNE_SCAN_MAX;
    s->prune_from_set = false;
    s->recent = calloc(1, sizeof *s->recent);
    if (!s->recent)
        return error_set(err, CAIRN_OUT_OF_MEMORY, "dedup index");
    MDB_cursor *c;
    int rc = mdb_cursor_open(txn, s->dedup, &c);
    if (rc)
        return store_fail(rc, "cursor", err);
    MDB_val k, v;
    if (mdb_cursor_get(c, &k, &v, MDB_LAST) == 0 && k.mv_size == ULID_BYTES)
        note_tree_id(s->recent, (const ulid *)k.mv_data); /* the last key is the newest */
    mdb_cursor_close(c);
    rc = mdb_cursor_open(txn, s->audit, &c);
    if (rc)
        return store_fail(rc, "cursor", err);
    uint8_t kb[8];
    be64_put(kb, indexed_mark(s, txn) + 1);
    k = (MDB_val){8, kb};
    cairn_status st = CAIRN_OK;
    /* Entries after the mark were applied but their ids never reached the tree. */
    for (rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE); rc == 0 && !st;
         rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
        ulid id;
        if (read_audit_entry(&v, NULL, &id))
            st = store_dedup_record(s, txn, &id, be64_get(k.mv_data), err);
    }
    mdb_cursor_close(c);
    if (!st && rc != MDB_NOTFOUND)
        st = store_fail(rc, "read audit log", err);
    return st;
}

void store_dedup_close(store *s)
{
    free(s->recent);
    s->recent = NULL;
}

/* Was the request recorded under this dedup value (its audit sequence)
 * applied at cutoff_ms or later? Its audit entry says when. */
static bool applied_since(store *s, MDB_txn *txn, const MDB_val *seq, uint64_t cutoff_ms)
{
    MDB_val entry;
    int64_t applied_ms;
    return seq->mv_size == 8 && mdb_get(txn, s->audit, (MDB_val *)seq, &entry) == 0 &&
           read_audit_entry(&entry, &applied_ms, NULL) && applied_ms >= (int64_t)cutoff_ms;
}

size_t store_dedup_prune(store *s, MDB_txn *txn, uint64_t cutoff_ms, size_t limit, bool *more)
{
    MDB_cursor *c;
    *more = false;
    if (mdb_cursor_open(txn, s->dedup, &c) != 0)
        return 0;
    size_t pruned = 0, seen = 0;
    MDB_val k = {ULID_BYTES, s->prune_from.b}, v;
    /* ULIDs begin with their sender's time, so the candidates come first. But
     * an id is kept dedup_days after it was applied, and a sender's clock may
     * be days behind (or its request spooled for days): such an id is passed
     * over until its audit entry is old enough too. A pass that stops early
     * leaves the next one its place, or a long run of such ids at the front
     * would hide every prunable id behind them. */
    int rc = mdb_cursor_get(c, &k, &v, s->prune_from_set ? MDB_SET_RANGE : MDB_FIRST);
    while (rc == 0 && k.mv_size == ULID_BYTES &&
           ulid_time_ms((const ulid *)k.mv_data) < cutoff_ms) {
        if (pruned == limit || seen++ == s->prune_scan_max) {
            *more = true;
            break;
        }
        if (applied_since(s, txn, &v, cutoff_ms)) {
            rc = mdb_cursor_get(c, &k, &v, MDB_NEXT);
            continue;
        }
        if (store_cursor_del(s, c) != 0)
            break;
        pruned++;
        rc = mdb_cursor_get(c, &k, &v, MDB_GET_CURRENT);
        if (rc == MDB_NOTFOUND || rc == EINVAL)
            rc = mdb_cursor_get(c, &k, &v, MDB_NEXT);
    }
    s->prune_from_set = *more;
    if (*more)
        memcpy(s->prune_from.b, k.mv_data, ULID_BYTES);
    mdb_cursor_close(c);
    return pruned;
}
