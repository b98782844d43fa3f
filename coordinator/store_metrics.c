/*
 * Metric history, stored densely.
 *
 * A key's points live in chunks of POINTS_PER_CHUNK points (each chunk value
 * is exactly one LMDB overflow page, so page splits never leave pages half
 * empty) and a tail of the points logged since the chunks were last written.
 * The key's record holds its latest point and history length, followed by
 * the tail: points [count - tail, count) are in the tail, all before them in
 * chunks (chunk c holds points from c * POINTS_PER_CHUNK on). Appending
 * rewrites that one record, and writes the current chunk when it fills or
 * when the tail outgrows INLINE_TAIL points: a record that small stays inside
 * its leaf page, so a single-point write dirties one page of the metric
 * tree, not a leaf and an overflow page, and a commit syncs fewer pages.
 */
#include <string.h>

#include "error.h"
#include "store.h"

/* At most 32 + 64 * 24 = 1,568 bytes of record, which with the longest key
 * (16 + 250 bytes) fits LMDB's largest inline node on a 4 KiB page (2,038). */
#define INLINE_TAIL 64

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
    /* The tail never reaches back into an earlier chunk. */
    if ((v.mv_size - sizeof *out) % sizeof(store_point) ||
        (v.mv_size - sizeof *out) / sizeof(store_point) > out->count % POINTS_PER_CHUNK)
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

/* Copies points [from, from + n) of chunk `chunk` into out. */
static cairn_status read_chunk(store *s, MDB_txn *txn, const ulid *run, msg_str key,
                               uint32_t chunk, size_t from, size_t n, store_point *out,
                               cairn_error *err)
{
    store_key k;
    chunk_key(&k, run, key, chunk);
    MDB_val kv = key_val(&k), v;
    int rc = mdb_get(txn, s->metric_chunks, &kv, &v);
    /* The series' record counts this chunk: its absence is the store's
     * fault, not a missing thing the request named. */
    if (rc == MDB_NOTFOUND)
        return error_set(err, CAIRN_STORAGE_ERROR, "corrupt metric series: a chunk is missing");
    if (rc)
        return store_fail(rc, "read metric chunk", err);
    if (v.mv_size != POINTS_PER_CHUNK * sizeof(store_point))
        return error_set(err, CAIRN_STORAGE_ERROR, "corrupt metric chunk");
    memcpy(out, (const store_point *)v.mv_data + from, n * sizeof(store_point));
    return CAIRN_OK;
}

typedef struct appender {
    store *s;
    MDB_txn *txn;
    const ulid *run;
    msg_str key;
    store_latest latest;
    size_t chunk_fill; /* points of the current chunk already in its chunk value */
    store_point tail[POINTS_PER_CHUNK];
    size_t tail_n;
    store_point chunk[POINTS_PER_CHUNK]; /* the current chunk, being rebuilt */
} appender;

/* Writes the current chunk: the points it already held, then the tail's. */
static cairn_status write_chunk(appender *a, cairn_error *err)
{
    uint64_t start = a->latest.count - a->tail_n - a->chunk_fill; /* a multiple of the chunk size */
    uint32_t chunk = (uint32_t)(start / POINTS_PER_CHUNK);
    store_point *points = a->tail; /* a chunk begun by this append is the tail alone */
    if (a->chunk_fill > 0) {
        points = a->chunk;
        cairn_status st = read_chunk(a->s, a->txn, a->run, a->key, chunk, 0, a->chunk_fill,
                                     points, err);
        if (st)
            return st;
        memcpy(points + a->chunk_fill, a->tail, a->tail_n * sizeof(store_point));
    }
    size_t filled = a->chunk_fill + a->tail_n;
    /* The unused end is written too: keep it zero, not stale. */
    memset(points + filled, 0, (POINTS_PER_CHUNK - filled) * sizeof(store_point));
    store_key k;
    chunk_key(&k, a->run, a->key, chunk);
    MDB_val kv = key_val(&k), v = {POINTS_PER_CHUNK * sizeof(store_point), points};
    int rc = store_put(a->s, a->txn, a->s->metric_chunks, &kv, &v, 0);
    if (rc)
        return store_fail(rc, "write metric chunk", err);
    a->chunk_fill = filled % POINTS_PER_CHUNK;
    a->tail_n = 0;
    return CAIRN_OK;
}

static cairn_status save_record(appender *a, cairn_error *err)
{
    store_key k;
    key_run_str(&k, a->run, a->key.p, a->key.n);
    MDB_val kv = key_val(&k), v = {sizeof a->latest + a->tail_n * sizeof(store_point), NULL};
    int rc = store_put(a->s, a->txn, a->s->metrics, &kv, &v, MDB_RESERVE);
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
    a.chunk_fill = (size_t)((a.latest.count - a.tail_n) % POINTS_PER_CHUNK);
    for (size_t i = 0; i < n; i++) {
        if (newer_than_latest(&points[i], &a.latest)) {
            a.latest.value = points[i].value;
            a.latest.step = points[i].step;
            a.latest.timestamp = points[i].timestamp;
        }
        a.tail[a.tail_n++] = points[i];
        a.latest.count++;
        if (a.chunk_fill + a.tail_n == POINTS_PER_CHUNK && (st = write_chunk(&a, err)))
            return st;
    }
    if (a.tail_n > INLINE_TAIL && (st = write_chunk(&a, err)))
        return st;
    return save_record(&a, err);
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
    uint64_t in_chunks = l.count - tail_n; /* points before the tail */
    uint64_t pos = offset;
    while (pos < l.count && *got < max) {
        size_t n;
        if (pos < in_chunks) {
            size_t within = (size_t)(pos % POINTS_PER_CHUNK);
            n = POINTS_PER_CHUNK - within;
            if (pos + n > in_chunks)
                n = (size_t)(in_chunks - pos);
            if (n > max - *got)
                n = max - *got;
            st = read_chunk(s, txn, run, key, (uint32_t)(pos / POINTS_PER_CHUNK), within, n,
                            out + *got, err);
            if (st)
                return st;
        } else {
            n = (size_t)(l.count - pos);
            if (n > max - *got)
                n = max - *got;
            memcpy(out + *got, tail + (pos - in_chunks), n * sizeof(store_point));
        }
        *got += n;
        pos += n;
    }
    return CAIRN_OK;
}
