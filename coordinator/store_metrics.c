/*
 * Metric history, stored densely.
 *
 * A key's points live in full chunks of POINTS_PER_CHUNK points (each chunk
 * value is exactly one LMDB overflow page, so page splits never leave pages
 * half empty) and a tail of the points logged since the last full chunk. The
 * key's record holds its latest point and history length, which fix where
 * the next point goes (chunk count / POINTS_PER_CHUNK, position
 * count % POINTS_PER_CHUNK), followed by the tail. Appending rewrites that
 * one record, and writes a chunk whenever the tail fills: a single-point
 * write touches one tree, which keeps the pages a commit syncs few.
 */
#include <string.h>

#include "error.h"
#include "store.h"

static void chunk_key(store_key *k, const ulid *run, msg_str key, uint32_t chunk)
{
    key_run_str(k, run, key.p, key.n);
    k->b[k->n++] = 0; /* keys never hold NUL: it ends the name, so "a" sorts before "a b" */
    be32_put(k->b + k->n, chunk);
    k->n += 4;
}

/* The key's record: latest point and count, then *tail_n tail points (which
 * point into the LMDB page: valid until the next write). */
static cairn_status read_record(store *s, MDB_txn *txn, const ulid *run, msg_str key,
                                store_latest *out, const store_point **tail, size_t *tail_n,
                                cairn_error *err)
{
    store_key k;
    key_run_str(&k, run, key.p, key.n);
    MDB_val kv = key_val(&k), v;
    int rc = mdb_get(txn, s->metrics, &kv, &v);
    if (rc == MDB_NOTFOUND)
        return error_set(err, CAIRN_RESOURCE_DOES_NOT_EXIST, "no metric '%.*s' in this run",
                         (int)key.n, key.p);
    if (rc)
        return store_fail(rc, "read metric", err);
    if (v.mv_size < sizeof *out)
        return error_set(err, CAIRN_STORAGE_ERROR, "corrupt metric record");
    memcpy(out, v.mv_data, sizeof *out);
    if (tail)
        *tail = (const store_point *)((const uint8_t *)v.mv_data + sizeof *out);
    if (tail_n)
        *tail_n = (v.mv_size - sizeof *out) / sizeof(store_point);
    if ((v.mv_size - sizeof *out) % sizeof(store_point) ||
        (v.mv_size - sizeof *out) / sizeof(store_point) != out->count % POINTS_PER_CHUNK)
        return error_set(err, CAIRN_STORAGE_ERROR, "corrupt metric record");
    return CAIRN_OK;
}

cairn_status store_metric_latest(store *s, MDB_txn *txn, const ulid *run, msg_str key,
                                 store_latest *out, cairn_error *err)
{
    return read_record(s, txn, run, key, out, NULL, NULL, err);
}

/* MLflow's rule for the latest value: the greatest step, then the greatest
 * timestamp; on a full tie the point logged last wins. */
static bool newer_than_latest(const store_point *p, const store_latest *l)
{
    if (l->count == 0 || p->step != l->step)
        return l->count == 0 || p->step > l->step;
    return p->timestamp >= l->timestamp;
}

typedef struct appender {
    store *s;
    MDB_txn *txn;
    const ulid *run;
    msg_str key;
    store_latest latest;
    store_point tail[POINTS_PER_CHUNK];
    size_t tail_n;
} appender;

static cairn_status flush_chunk(appender *a, cairn_error *err)
{
    uint32_t chunk = (uint32_t)((a->latest.count - 1) / POINTS_PER_CHUNK);
    store_key k;
    chunk_key(&k, a->run, a->key, chunk);
    MDB_val kv = key_val(&k), v = {sizeof a->tail, a->tail};
    int rc = mdb_put(a->txn, a->s->metric_chunks, &kv, &v, 0);
    a->tail_n = 0;
    return rc ? store_fail(rc, "write metric chunk", err) : CAIRN_OK;
}

static cairn_status save_record(appender *a, cairn_error *err)
{
    store_key k;
    key_run_str(&k, a->run, a->key.p, a->key.n);
    MDB_val kv = key_val(&k), v = {sizeof a->latest + a->tail_n * sizeof(store_point), NULL};
    int rc = mdb_put(a->txn, a->s->metrics, &kv, &v, MDB_RESERVE);
    if (rc)
        return store_fail(rc, "write metric", err);
    memcpy(v.mv_data, &a->latest, sizeof a->latest);
    memcpy((uint8_t *)v.mv_data + sizeof a->latest, a->tail, a->tail_n * sizeof(store_point));
    return CAIRN_OK;
}

cairn_status store_metric_append(store *s, MDB_txn *txn, const ulid *run, msg_str key,
                                 const store_point *points, size_t n, cairn_error *err)
{
    appender a = {.s = s, .txn = txn, .run = run, .key = key};
    cairn_error lookup;
    const store_point *tail;
    cairn_status st = read_record(s, txn, run, key, &a.latest, &tail, &a.tail_n, &lookup);
    if (st == CAIRN_RESOURCE_DOES_NOT_EXIST)
        memset(&a.latest, 0, sizeof a.latest); /* the key's first point */
    else if (st)
        return error_set(err, st, "%s", lookup.message);
    else
        memcpy(a.tail, tail, a.tail_n * sizeof(store_point));
    for (size_t i = 0; i < n; i++) {
        if (newer_than_latest(&points[i], &a.latest)) {
            a.latest.value = points[i].value;
            a.latest.step = points[i].step;
            a.latest.timestamp = points[i].timestamp;
        }
        a.tail[a.tail_n++] = points[i];
        a.latest.count++;
        if (a.tail_n == POINTS_PER_CHUNK && (st = flush_chunk(&a, err)))
            return st;
    }
    return save_record(&a, err);
}

/* Copies points [from, from + n) of chunk `chunk` into out. */
static cairn_status read_chunk(store *s, MDB_txn *txn, const ulid *run, msg_str key,
                               uint32_t chunk, size_t from, size_t n, store_point *out,
                               cairn_error *err)
{
    store_key k;
    chunk_key(&k, run, key, chunk);
    MDB_val kv = key_val(&k), v;
    int rc = mdb_get(txn, s->metric_chunks, &kv, &v);
    if (rc)
        return store_fail(rc, "read metric chunk", err);
    if (v.mv_size != POINTS_PER_CHUNK * sizeof(store_point))
        return error_set(err, CAIRN_STORAGE_ERROR, "corrupt metric chunk");
    memcpy(out, (const store_point *)v.mv_data + from, n * sizeof(store_point));
    return CAIRN_OK;
}

cairn_status store_metric_history(store *s, MDB_txn *txn, const ulid *run, msg_str key,
                                  uint64_t offset, size_t max, store_point *out, size_t *got,
                                  uint64_t *total, cairn_error *err)
{
    store_latest l;
    const store_point *tail;
    size_t tail_n;
    *got = 0;
    cairn_status st = read_record(s, txn, run, key, &l, &tail, &tail_n, err);
    if (st)
        return st;
    *total = l.count;
    uint64_t full = l.count - l.count % POINTS_PER_CHUNK; /* points held in chunks */
    uint64_t pos = offset;
    while (pos < l.count && *got < max) {
        size_t within = (size_t)(pos % POINTS_PER_CHUNK);
        size_t n = POINTS_PER_CHUNK - within;
        if (pos + n > l.count)
            n = (size_t)(l.count - pos);
        if (n > max - *got)
            n = max - *got;
        if (pos < full)
            st = read_chunk(s, txn, run, key, (uint32_t)(pos / POINTS_PER_CHUNK), within, n,
                            out + *got, err);
        else
            memcpy(out + *got, tail + within, n * sizeof(store_point));
        if (st)
            return st;
        *got += n;
        pos += n;
    }
    return CAIRN_OK;
}
