/* Runs: the run record, and the RUN map replies carry. */
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "store.h"

#define RUN_HEADER 25 /* u64 experiment, i64 start, i64 end, u8 status, then the name */

static const char *const status_names[] = {"RUNNING", "FINISHED", "FAILED", "KILLED"};

const char *run_status_name(run_status status)
{
    return (unsigned)status < 4 ? status_names[status] : "UNKNOWN";
}

bool run_status_parse(msg_str name, run_status *out)
{
    for (int i = 0; i < 4; i++) {
        if (strlen(status_names[i]) == name.n && strncasecmp(status_names[i], name.p, name.n) == 0) {
            *out = (run_status)i;
            return true;
        }
    }
    return false;
}

static cairn_status write_run(store *s, MDB_txn *txn, const store_run *r, unsigned flags,
                              cairn_error *err)
{
    store_key k;
    key_run(&k, &r->id);
    MDB_val kv = key_val(&k), v = {RUN_HEADER + r->name.n, NULL};
    int rc = store_put(s, txn, s->runs, &kv, &v, flags | MDB_RESERVE);
    if (rc == MDB_KEYEXIST)
        return error_set(err, CAIRN_RESOURCE_ALREADY_EXISTS, "a run with this id already exists");
    if (rc)
        return store_fail(rc, "write run", err);
    uint8_t *p = v.mv_data;
    be64_put(p, r->experiment_id);
    be64_put(p + 8, (uint64_t)r->start_time);
    be64_put(p + 16, (uint64_t)r->end_time);
    p[24] = r->status;
    memcpy(p + RUN_HEADER, r->name.p, r->name.n);
    return CAIRN_OK;
}

static cairn_status run_not_found(const ulid *id, cairn_error *err)
{
    char text[ULID_TEXT_LEN + 1];
    ulid_format(id, text);
    return error_set(err, CAIRN_RESOURCE_DOES_NOT_EXIST, "no run with id %s", text);
}

static cairn_status decode_run(const ulid *id, const MDB_val *v, store_run *out, cairn_error *err)
{
    if (v->mv_size < RUN_HEADER)
        return error_set(err, CAIRN_STORAGE_ERROR, "corrupt run record");
    const uint8_t *p = v->mv_data;
    out->id = *id;
    out->experiment_id = be64_get(p);
    out->start_time = (int64_t)be64_get(p + 8);
    out->end_time = (int64_t)be64_get(p + 16);
    out->status = p[24];
    out->name.p = (const char *)p + RUN_HEADER;
    out->name.n = (uint32_t)(v->mv_size - RUN_HEADER);
    return CAIRN_OK;
}

cairn_status store_run_get(store *s, MDB_txn *txn, const ulid *id, store_run *out,
                           cairn_error *err)
{
    store_key k;
    key_run(&k, id);
    MDB_val kv = key_val(&k), v;
    int rc = mdb_get(txn, s->runs, &kv, &v);
    if (rc == MDB_NOTFOUND)
        return run_not_found(id, err);
    if (rc)
        return store_fail(rc, "read run", err);
    return decode_run(id, &v, out, err);
}

typedef struct run_found {
    MDB_val v;
    bool found;
} run_found;

static void run_visit(void *ctx, const MDB_val *key, const MDB_val *value)
{
    run_found *f = ctx;
    if (key->mv_size == 0) { /* the key is the id itself, nothing after */
        f->v = *value;
        f->found = true;
    }
}

cairn_status store_run_read(store_walker *w, const ulid *id, store_run *out, cairn_error *err)
{
    run_found f = {.found = false};
    cairn_status st = store_walker_walk(w, id, run_visit, &f, err);
    if (st)
        return st;
    return f.found ? decode_run(id, &f.v, out, err) : run_not_found(id, err);
}

cairn_status store_run_create(store *s, MDB_txn *txn, const store_run *run, cairn_error *err)
{
    cairn_status st = write_run(s, txn, run, MDB_NOOVERWRITE, err);
    if (st)
        return st;
    uint8_t key[8 + ULID_BYTES];
    be64_put(key, run->experiment_id);
    memcpy(key + 8, run->id.b, ULID_BYTES);
    MDB_val kv = {sizeof key, key}, v = {0, NULL};
    int rc = store_put(s, txn, s->experiment_runs, &kv, &v, 0);
    return rc ? store_fail(rc, "index run", err) : CAIRN_OK;
}

cairn_status store_run_set_end(store *s, MDB_txn *txn, const ulid *id, run_status status,
                               int64_t end_time, cairn_error *err)
{
    store_run r;
    cairn_status st = store_run_get(s, txn, id, &r, err);
    if (st)
        return st;
    /* The name points into the page being rewritten: copy it first. */
    char name[LIMIT_NAME];
    uint32_t n = r.name.n < LIMIT_NAME ? r.name.n : LIMIT_NAME;
    memcpy(name, r.name.p, n);
    r.name.p = name;
    r.name.n = n;
    r.status = (uint8_t)status;
    r.end_time = end_time;
    return write_run(s, txn, &r, 0, err);
}

/* ---- the RUN map ---- */

/* A constant key, header and body in one write. */
#define PACK_KEY(pk, lit) store_pack_str(pk, lit, sizeof lit - 1)

typedef struct pack_ctx {
    msgpack_packer *pk;
    uint32_t count;
} pack_ctx;

static void latest_visit(void *ctx, const MDB_val *key, const MDB_val *value)
{
    pack_ctx *c = ctx;
    msgpack_packer *pk = c->pk;
    c->count++;
    store_latest l;
    memset(&l, 0, sizeof l);
    memcpy(&l, value->mv_data, value->mv_size < sizeof l ? value->mv_size : sizeof l);
    store_pack_str(pk, key->mv_data, key->mv_size);
    msgpack_pack_array(pk, 3);
    msgpack_pack_double(pk, l.value);
    msgpack_pack_int64(pk, l.step);
    msgpack_pack_int64(pk, l.timestamp);
}

static void artifact_visit(void *ctx, const MDB_val *key, const MDB_val *value)
{
    pack_ctx *c = ctx;
    msgpack_packer *pk = c->pk;
    c->count++;
    store_artifact a;
    memset(&a, 0, sizeof a);
    if (value->mv_size == 40) {
        a.size = be64_get(value->mv_data);
        memcpy(a.sha256, (const uint8_t *)value->mv_data + 8, 32);
    }
    char hex[65];
    sha256_hex(a.sha256, hex);
    msgpack_pack_array(pk, 3);
    store_pack_str(pk, key->mv_data, key->mv_size);
    msgpack_pack_uint64(pk, a.size);
    mp_strn(pk, hex, 64);
}

/* The run's records in the four trees, each walked by its own cursor. */
typedef struct run_walkers {
    store_walker params, metrics, tags, artifacts;
} run_walkers;

static void walkers_close(run_walkers *w)
{
    store_walker_close(&w->params);
    store_walker_close(&w->metrics);
    store_walker_close(&w->tags);
    store_walker_close(&w->artifacts);
}

static cairn_status walkers_open(store *s, MDB_txn *txn, run_walkers *w, cairn_error *err)
{
    memset(w, 0, sizeof *w);
    cairn_status st = store_walker_open(&w->params, txn, s->params, err);
    if (!st)
        st = store_walker_open(&w->metrics, txn, s->metrics, err);
    if (!st)
        st = store_walker_open(&w->tags, txn, s->tags, err);
    if (!st)
        st = store_walker_open(&w->artifacts, txn, s->artifacts, err);
    if (st)
        walkers_close(w);
    return st;
}

/* Packs the run's records in one tree: a map (metrics) or an array (artifacts). */
static cairn_status pack_collection(store_walker *w, const ulid *run, bool as_map,
                                    store_visit visit, msgpack_packer *pk, cairn_error *err)
{
    pack_ctx ctx = {pk, 0};
    size_t at = store_counted_begin(pk);
    cairn_status st = store_walker_walk(w, run, visit, &ctx, err);
    store_counted_end(pk, at, as_map, ctx.count);
    return st;
}

static void pack_scalars(const store_run *run, msg_str experiment, msgpack_packer *pk)
{
    msgpack_pack_map(pk, 11);
    PACK_KEY(pk, "id");
    mp_ulid(pk, &run->id);
    PACK_KEY(pk, "experiment");
    store_pack_str(pk, experiment.p, experiment.n);
    PACK_KEY(pk, "experiment_id");
    msgpack_pack_uint64(pk, run->experiment_id);
    PACK_KEY(pk, "name");
    store_pack_str(pk, run->name.p, run->name.n);
    PACK_KEY(pk, "status");
    const char *status = run_status_name((run_status)run->status);
    store_pack_str(pk, status, strlen(status));
    PACK_KEY(pk, "start_time");
    msgpack_pack_int64(pk, run->start_time);
    PACK_KEY(pk, "end_time");
    if (run->status == RUN_RUNNING)
        msgpack_pack_nil(pk);
    else
        msgpack_pack_int64(pk, run->end_time);
}

static cairn_status pack_one(run_walkers *w, const store_run *run, msg_str experiment,
                             msgpack_packer *pk, cairn_error *err)
{
    pack_scalars(run, experiment, pk);
    PACK_KEY(pk, "params");
    cairn_status st = store_kv_pack_run(&w->params, &run->id, pk, err);
    if (st)
        return st;
    PACK_KEY(pk, "metrics");
    st = pack_collection(&w->metrics, &run->id, true, latest_visit, pk, err);
    if (st)
        return st;
    PACK_KEY(pk, "tags");
    st = store_kv_pack_run(&w->tags, &run->id, pk, err);
    if (st)
        return st;
    PACK_KEY(pk, "artifacts");
    return pack_collection(&w->artifacts, &run->id, false, artifact_visit, pk, err);
}

cairn_status store_pack_run(store *s, MDB_txn *txn, const store_run *run, msgpack_packer *pk,
                            cairn_error *err)
{
    store_experiment e;
    run_walkers w;
    cairn_status st = store_experiment_get(s, txn, run->experiment_id, &e, err);
    if (st || (st = walkers_open(s, txn, &w, err)))
        return st;
    st = pack_one(&w, run, e.name, pk, err);
    walkers_close(&w);
    return st;
}

/* ---- many runs ----
 *
 * Packed in the order asked, one run's records in four trees were four tree
 * descents. Packed in id order, the order of those trees' keys, each walk
 * starts where the previous one stopped; the packed maps are then put back in
 * the order asked, one copy of the bytes. */

typedef struct by_id {
    const store_run *run;
    size_t pos; /* in the order asked */
} by_id;

typedef struct span {
    size_t at, len; /* in the sbuffer */
} span;

static int compare_by_id(const void *x, const void *y)
{
    return memcmp(((const by_id *)x)->run->id.b, ((const by_id *)y)->run->id.b, ULID_BYTES);
}

static cairn_status pack_by_id(run_walkers *w, const by_id *order, size_t n, msg_str experiment,
                               msgpack_packer *pk, span *spans, cairn_error *err)
{
    msgpack_sbuffer *sb = pk->data;
    for (size_t i = 0; i < n; i++) {
        size_t at = sb->size;
        cairn_status st = pack_one(w, order[i].run, experiment, pk, err);
        if (st)
            return st;
        spans[order[i].pos] = (span){at, sb->size - at};
    }
    return CAIRN_OK;
}

/* Room for more bytes after sb's end, grown as msgpack_sbuffer_write grows it. */
static bool sbuffer_reserve(msgpack_sbuffer *sb, size_t more)
{
    if (sb->alloc - sb->size >= more)
        return true;
    size_t cap = sb->alloc ? sb->alloc : MSGPACK_SBUFFER_INIT_SIZE;
    while (cap < sb->size + more)
        cap *= 2;
    char *p = realloc(sb->data, cap);
    if (!p)
        return false;
    sb->data = p;
    sb->alloc = cap;
    return true;
}

/* Rewrites the bytes from base, packed in id order, in the order asked. They
 * are put together past the end of the buffer, which a reply buffer keeps
 * from one request to the next: a fresh copy buffer cost a page fault a page. */
static cairn_status reorder(msgpack_sbuffer *sb, size_t base, const span *spans, size_t n,
                            cairn_error *err)
{
    size_t len = sb->size - base;
    if (!sbuffer_reserve(sb, len))
        return error_set(err, CAIRN_OUT_OF_MEMORY, "packing runs");
    char *to = sb->data + sb->size;
    for (size_t i = 0; i < n; i++) {
        memcpy(to, sb->data + spans[i].at, spans[i].len);
        to += spans[i].len;
    }
    memcpy(sb->data + base, sb->data + sb->size, len);
    return CAIRN_OK;
}

cairn_status store_pack_runs(store *s, MDB_txn *txn, const store_run *const *runs, size_t n,
                             msg_str experiment, msgpack_packer *pk, cairn_error *err)
{
    by_id *order = malloc((n ? n : 1) * sizeof *order);
    span *spans = malloc((n ? n : 1) * sizeof *spans);
    run_walkers w;
    cairn_status st = order && spans ? walkers_open(s, txn, &w, err)
                                     : error_set(err, CAIRN_OUT_OF_MEMORY, "packing runs");
    if (!st) {
        for (size_t i = 0; i < n; i++)
            order[i] = (by_id){runs[i], i};
        qsort(order, n, sizeof *order, compare_by_id);
        size_t base = ((msgpack_sbuffer *)pk->data)->size;
        st = pack_by_id(&w, order, n, experiment, pk, spans, err);
        if (!st)
            st = reorder(pk->data, base, spans, n, err);
        walkers_close(&w);
    }
    free(order);
    free(spans);
    return st;
}
