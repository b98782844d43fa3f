/*
 * Dataset records. Keys start with the dataset's name and a NUL (a name holds
 * no control character), so that a dataset's versions, a version's hashes and
 * a version's runs are each a range of one tree, in order:
 *
 *   datasets          name                               -> i64 created | i64 updated | u64
 * versions dataset_versions  name NUL u64 version               -> sha256 | u64 size | u64 files |
 *                                                           i64 created | message id | source
 *   dataset_hashes    name NUL sha256                    -> u64 version
 *   run_datasets      run id | name NUL u64 version | context -> i64 linked
 *   dataset_runs      name NUL u64 version | run id | context -> i64 linked
 */
#include "store_datasets.h"

#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "store_models.h"

#define DATASET_RECORD 24
#define VERSION_HEADER 72 /* sha256 32, size 8, files 8, created 8, message 16 */

typedef struct dkey {
    uint8_t b[ULID_BYTES + LIMIT_NAME + 1 + 32 + 8 + DATASET_MAX_CONTEXT];
    size_t n;
} dkey;

/* Lengths are checked before keys are built (check_lengths); the clamp only
 * keeps a missed check from writing past the buffer. */
static void k_put(dkey *k, const void *p, size_t n)
{
    size_t room = sizeof k->b - k->n;
    memcpy(k->b + k->n, p, n < room ? n : room);
    k->n += n < room ? n : room;
}

static void k_name(dkey *k, msg_str name)
{
    k_put(k, name.p, name.n);
    k_put(k, "", 1);
}

static void k_u64(dkey *k, uint64_t v)
{
    uint8_t b[8];
    be64_put(b, v);
    k_put(k, b, 8);
}

static MDB_val k_val(dkey *k)
{
    return (MDB_val){k->n, k->b};
}

static cairn_status check_lengths(msg_str name, msg_str context, cairn_error *err)
{
    if (name.n == 0 || name.n > LIMIT_NAME || memchr(name.p, 0, name.n))
        return error_set(err, CAIRN_LIMIT_EXCEEDED, "dataset name of %u bytes: 1 to %d without NUL",
                         name.n, LIMIT_NAME);
    if (context.n > DATASET_MAX_CONTEXT)
        return error_set(err, CAIRN_LIMIT_EXCEEDED, "context of %u bytes exceeds %d", context.n,
                         DATASET_MAX_CONTEXT);
    return CAIRN_OK;
}

static const msg_str NO_CONTEXT = {"", 0};

/* k: name NUL, the start of every key but run_datasets'. */
static cairn_status name_key(dkey *k, msg_str name, cairn_error *err)
{
    k->n = 0;
    cairn_status st = check_lengths(name, NO_CONTEXT, err);
    if (!st)
        k_name(k, name);
    return st;
}

/* ---- datasets ---- */

static bool decode_dataset(const MDB_val *k, const MDB_val *v, store_dataset *out)
{
    if (v->mv_size != DATASET_RECORD)
        return false;
    out->name = (msg_str){k->mv_data, (uint32_t)k->mv_size};
    out->created = (int64_t)be64_get(v->mv_data);
    out->updated = (int64_t)be64_get((const uint8_t *)v->mv_data + 8);
    out->versions = be64_get((const uint8_t *)v->mv_data + 16);
    return true;
}

cairn_status store_dataset_get(store *s, MDB_txn *txn, msg_str name, store_dataset *out,
                               cairn_error *err)
{
    cairn_status st = check_lengths(name, NO_CONTEXT, err);
    if (st)
        return st;
    MDB_val k = {name.n, (void *)name.p}, v;
    int rc = mdb_get(txn, s->datasets, &k, &v);
    if (rc == MDB_NOTFOUND)
        return error_set(err, CAIRN_RESOURCE_DOES_NOT_EXIST, "no dataset named '%.*s'", (int)name.n,
                         name.p);
    if (rc)
        return store_fail(rc, "read dataset", err);
    return decode_dataset(&k, &v, out)
        ? CAIRN_OK
        : error_set(err, CAIRN_STORAGE_ERROR, "corrupt dataset record");
}

static cairn_status put_dataset(store *s, MDB_txn *txn, msg_str name, int64_t created,
                                int64_t updated, uint64_t versions, cairn_error *err)
{
    uint8_t rec[DATASET_RECORD];
    be64_put(rec, (uint64_t)created);
    be64_put(rec + 8, (uint64_t)updated);
    be64_put(rec + 16, versions);
    MDB_val k = {name.n, (void *)name.p}, v = {sizeof rec, rec};
    int rc = store_put(s, txn, s->datasets, &k, &v, 0);
    return rc ? store_fail(rc, "write dataset", err) : CAIRN_OK;
}

cairn_status store_datasets_walk(store *s, MDB_txn *txn, store_dataset_visit visit, void *ctx,
                                 cairn_error *err)
{
    MDB_cursor *c;
    MDB_val k, v;
    int rc = mdb_cursor_open(txn, s->datasets, &c);
    if (rc)
        return store_fail(rc, "cursor", err);
    for (rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
        store_dataset d;
        if (!decode_dataset(&k, &v, &d))
            break;
        visit(ctx, &d);
    }
    mdb_cursor_close(c);
    if (rc == 0)
        return error_set(err, CAIRN_STORAGE_ERROR, "corrupt dataset record");
    return rc == MDB_NOTFOUND ? CAIRN_OK : store_fail(rc, "read datasets", err);
}

/* ---- versions ---- */

static bool decode_version(uint64_t version, const MDB_val *v, store_dataset_version *out)
{
    const uint8_t *p = v->mv_data;
    if (v->mv_size < VERSION_HEADER)
        return false;
    out->version = version;
    memcpy(out->sha256, p, 32);
    out->size = be64_get(p + 32);
    out->files = be64_get(p + 40);
    out->created = (int64_t)be64_get(p + 48);
    memcpy(out->message.b, p + 56, ULID_BYTES);
    out->source =
        (msg_str){(const char *)p + VERSION_HEADER, (uint32_t)(v->mv_size - VERSION_HEADER)};
    return true;
}

cairn_status store_dataset_version_get(store *s, MDB_txn *txn, msg_str name, uint64_t version,
                                       store_dataset_version *out, cairn_error *err)
{
    dkey k;
    cairn_status st = name_key(&k, name, err);
    if (st)
        return st;
    k_u64(&k, version);
    MDB_val kv = k_val(&k), v;
    int rc = mdb_get(txn, s->dataset_versions, &kv, &v);
    if (rc == MDB_NOTFOUND)
        return error_set(err, CAIRN_RESOURCE_DOES_NOT_EXIST, "dataset '%.*s' has no version %llu",
                         (int)name.n, name.p, (unsigned long long)version);
    if (rc)
        return store_fail(rc, "read dataset version", err);
    return decode_version(version, &v, out)
        ? CAIRN_OK
        : error_set(err, CAIRN_STORAGE_ERROR, "corrupt dataset version record");
}

cairn_status store_dataset_find_hash(store *s, MDB_txn *txn, msg_str name, const uint8_t sha256[32],
                                     uint64_t *version, cairn_error *err)
{
    dkey k;
    cairn_status st = name_key(&k, name, err);
    if (st)
        return st;
    k_put(&k, sha256, 32);
    MDB_val kv = k_val(&k), v;
    int rc = mdb_get(txn, s->dataset_hashes, &kv, &v);
    if (rc == MDB_NOTFOUND)
        return error_set(err, CAIRN_RESOURCE_DOES_NOT_EXIST,
                         "no version of '%.*s' holds this content", (int)name.n, name.p);
    if (rc)
        return store_fail(rc, "read dataset hash", err);
    if (v.mv_size != 8)
        return error_set(err, CAIRN_STORAGE_ERROR, "corrupt dataset hash record");
    *version = be64_get(v.mv_data);
    return CAIRN_OK;
}

static cairn_status put_version(store *s, MDB_txn *txn, msg_str name,
                                const store_dataset_version *v, cairn_error *err)
{
    dkey k = {.n = 0};
    k_name(&k, name);
    k_u64(&k, v->version);
    MDB_val kv = k_val(&k), val = {VERSION_HEADER + v->source.n, NULL};
    int rc = store_put(s, txn, s->dataset_versions, &kv, &val, MDB_NOOVERWRITE | MDB_RESERVE);
    if (rc)
        return store_fail(rc, "write dataset version", err);
    uint8_t *p = val.mv_data;
    memcpy(p, v->sha256, 32);
    be64_put(p + 32, v->size);
    be64_put(p + 40, v->files);
    be64_put(p + 48, (uint64_t)v->created);
    memcpy(p + 56, v->message.b, ULID_BYTES);
    memcpy(p + VERSION_HEADER, v->source.p, v->source.n);

    uint8_t num[8];
    be64_put(num, v->version);
    k.n = 0;
    k_name(&k, name);
    k_put(&k, v->sha256, 32);
    kv = k_val(&k);
    val = (MDB_val){8, num};
    rc = store_put(s, txn, s->dataset_hashes, &kv, &val, MDB_NOOVERWRITE);
    return rc ? store_fail(rc, "write dataset hash", err) : CAIRN_OK;
}

cairn_status store_dataset_add_version(store *s, MDB_txn *txn, msg_str name,
                                       store_dataset_version *v, cairn_error *err)
{
    store_dataset d = {.created = v->created, .versions = 0};
    cairn_status st = check_lengths(name, NO_CONTEXT, err);
    if (st)
        return st;
    if (v->source.n > DATASET_MAX_SOURCE)
        return error_set(err, CAIRN_LIMIT_EXCEEDED, "source of %u bytes exceeds %d", v->source.n,
                         DATASET_MAX_SOURCE);
    st = store_dataset_get(s, txn, name, &d, err);
    if (st && st != CAIRN_RESOURCE_DOES_NOT_EXIST)
        return st;
    v->version = d.versions + 1;
    st = put_version(s, txn, name, v, err);
    return st ? st : put_dataset(s, txn, name, d.created, v->created, v->version, err);
}

/* ---- links between runs and versions ---- */

/* Both ways; the first link's time stays. */
cairn_status store_dataset_link(store *s, MDB_txn *txn, const ulid *run, msg_str name,
                                uint64_t version, msg_str context, int64_t now_ms, bool *added,
                                cairn_error *err)
{
    dkey by_run = {.n = 0}, by_version = {.n = 0};
    cairn_status st = check_lengths(name, context, err);
    if (st)
        return st;
    k_put(&by_run, run->b, ULID_BYTES);
    k_name(&by_run, name);
    k_u64(&by_run, version);
    k_put(&by_run, context.p, context.n);
    k_name(&by_version, name);
    k_u64(&by_version, version);
    k_put(&by_version, run->b, ULID_BYTES);
    k_put(&by_version, context.p, context.n);
    uint8_t when[8];
    be64_put(when, (uint64_t)now_ms);
    MDB_val k = k_val(&by_run), v = {8, when};
    int rc = store_put(s, txn, s->run_datasets, &k, &v, MDB_NOOVERWRITE);
    *added = rc == 0;
    if (rc == MDB_KEYEXIST)
        return CAIRN_OK;
    if (rc)
        return store_fail(rc, "write run dataset", err);
    k = k_val(&by_version);
    v = (MDB_val){8, when};
    rc = store_put(s, txn, s->dataset_runs, &k, &v, 0);
    return rc ? store_fail(rc, "write dataset run", err) : CAIRN_OK;
}

/* Calls each(ctx, rest of key past prefix, value) for the records of dbi
 * whose key starts with prefix, in key order, until one fails. */
typedef cairn_status (*link_each)(void *ctx, const uint8_t *rest, size_t n, const MDB_val *value,
                                  cairn_error *err);

static cairn_status walk_links(MDB_txn *txn, MDB_dbi dbi, const dkey *prefix, link_each each,
                               void *ctx, cairn_error *err)
{
    MDB_cursor *c;
    int rc = mdb_cursor_open(txn, dbi, &c);
    if (rc)
        return store_fail(rc, "cursor", err);
    MDB_val k = {prefix->n, (void *)prefix->b}, v;
    cairn_status st = CAIRN_OK;
    for (rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE); !st && rc == 0;
         rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
        if (k.mv_size < prefix->n || memcmp(k.mv_data, prefix->b, prefix->n) != 0)
            break;
        if (v.mv_size != 8)
            st = error_set(err, CAIRN_STORAGE_ERROR, "corrupt dataset link");
        else
            st = each(ctx, (const uint8_t *)k.mv_data + prefix->n, k.mv_size - prefix->n, &v, err);
    }
    mdb_cursor_close(c);
    if (st)
        return st;
    return (rc == 0 || rc == MDB_NOTFOUND) ? CAIRN_OK : store_fail(rc, "read dataset links", err);
}

typedef struct link_walk {
    store *s;
    MDB_txn *txn;
    store_dataset_use use;
    store_dataset_use_visit visit;
    void *ctx;
} link_walk;

/* A run_datasets key past the run id: name NUL u64 version context. */
static cairn_status each_of_run(void *ctx, const uint8_t *rest, size_t n, const MDB_val *value,
                                cairn_error *err)
{
    link_walk *w = ctx;
    const uint8_t *nul = memchr(rest, 0, n);
    size_t name_len = nul ? (size_t)(nul - rest) : n;
    if (!nul || n - name_len - 1 < 8)
        return error_set(err, CAIRN_STORAGE_ERROR, "corrupt run dataset link");
    const uint8_t *after = nul + 1;
    w->use.name = (msg_str){(const char *)rest, (uint32_t)name_len};
    w->use.context = (msg_str){(const char *)after + 8, (uint32_t)(n - name_len - 9)};
    w->use.linked = (int64_t)be64_get(value->mv_data);
    cairn_status st =
        store_dataset_version_get(w->s, w->txn, w->use.name, be64_get(after), &w->use.version, err);
    if (!st)
        w->visit(w->ctx, &w->use);
    return st;
}

cairn_status store_datasets_of_run(store *s, MDB_txn *txn, const ulid *run,
                                   store_dataset_use_visit visit, void *ctx, cairn_error *err)
{
    link_walk w = {.s = s, .txn = txn, .use = {.run = *run}, .visit = visit, .ctx = ctx};
    dkey prefix = {.n = 0};
    k_put(&prefix, run->b, ULID_BYTES);
    return walk_links(txn, s->run_datasets, &prefix, each_of_run, &w, err);
}

/* A dataset_runs key past name NUL version: run id, context. */
static cairn_status each_of_version(void *ctx, const uint8_t *rest, size_t n, const MDB_val *value,
                                    cairn_error *err)
{
    link_walk *w = ctx;
    if (n < ULID_BYTES)
        return error_set(err, CAIRN_STORAGE_ERROR, "corrupt dataset run link");
    memcpy(w->use.run.b, rest, ULID_BYTES);
    w->use.context = (msg_str){(const char *)rest + ULID_BYTES, (uint32_t)(n - ULID_BYTES)};
    w->use.linked = (int64_t)be64_get(value->mv_data);
    w->visit(w->ctx, &w->use);
    return CAIRN_OK;
}

cairn_status store_dataset_version_runs(store *s, MDB_txn *txn, msg_str name, uint64_t version,
                                        store_dataset_use_visit visit, void *ctx, cairn_error *err)
{
    link_walk w = {.s = s, .txn = txn, .use = {.name = name}, .visit = visit, .ctx = ctx};
    cairn_status st = store_dataset_version_get(s, txn, name, version, &w.use.version, err);
    if (st)
        return st;
    dkey prefix = {.n = 0};
    k_name(&prefix, name);
    k_u64(&prefix, version);
    return walk_links(txn, s->dataset_runs, &prefix, each_of_version, &w, err);
}

/* The runs that used a version, each once (a run may use it in two contexts:
 * its links come one after the other, keyed by run id, then context). */
typedef struct run_set {
    ulid *ids;
    size_t n, cap;
    bool failed;
} run_set;

static void collect_run(void *ctx, const store_dataset_use *u)
{
    run_set *rs = ctx;
    if (rs->n > 0 && memcmp(rs->ids[rs->n - 1].b, u->run.b, ULID_BYTES) == 0)
        return;
    if (rs->n == rs->cap) {
        size_t cap = rs->cap ? rs->cap * 2 : 16;
        ulid *p = realloc(rs->ids, cap * sizeof *p);
        if (!p) {
            rs->failed = true;
            return;
        }
        rs->ids = p;
        rs->cap = cap;
    }
    rs->ids[rs->n++] = u->run;
}

typedef struct model_pack {
    msgpack_packer *pk;
    const ulid *run;
    uint32_t n;
} model_pack;

static void pack_model_version(void *ctx, msg_str model, uint32_t version)
{
    model_pack *m = ctx;
    msgpack_pack_map(m->pk, 3);
    mp_str(m->pk, "model");
    mp_msgstr(m->pk, model);
    mp_str(m->pk, "version");
    msgpack_pack_uint32(m->pk, version);
    mp_str(m->pk, "run");
    mp_ulid(m->pk, m->run);
    m->n++;
}

cairn_status store_pack_dataset_model_versions(store *s, MDB_txn *txn, msg_str name,
                                               uint64_t version, msgpack_packer *pk,
                                               cairn_error *err)
{
    run_set rs = {0};
    cairn_status st = store_dataset_version_runs(s, txn, name, version, collect_run, &rs, err);
    if (!st && rs.failed)
        st = error_set(err, CAIRN_OUT_OF_MEMORY, "the runs of a dataset version");
    model_pack m = {pk, NULL, 0};
    size_t at = store_counted_begin(pk);
    for (size_t i = 0; !st && i < rs.n; i++) {
        m.run = &rs.ids[i];
        st = store_model_versions_of_run(s, txn, &rs.ids[i], pack_model_version, &m, err);
    }
    store_counted_end(pk, at, false, m.n);
    free(rs.ids);
    return st;
}
