/* Runs: the run record, and the RUN map replies carry. */
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
    int rc = mdb_put(txn, s->runs, &kv, &v, flags | MDB_RESERVE);
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

cairn_status store_run_get(store *s, MDB_txn *txn, const ulid *id, store_run *out,
                           cairn_error *err)
{
    store_key k;
    key_run(&k, id);
    MDB_val kv = key_val(&k), v;
    int rc = mdb_get(txn, s->runs, &kv, &v);
    if (rc == MDB_NOTFOUND) {
        char text[ULID_TEXT_LEN + 1];
        ulid_format(id, text);
        return error_set(err, CAIRN_RESOURCE_DOES_NOT_EXIST, "no run with id %s", text);
    }
    if (rc)
        return store_fail(rc, "read run", err);
    if (v.mv_size < RUN_HEADER)
        return error_set(err, CAIRN_STORAGE_ERROR, "corrupt run record");
    const uint8_t *p = v.mv_data;
    out->id = *id;
    out->experiment_id = be64_get(p);
    out->start_time = (int64_t)be64_get(p + 8);
    out->end_time = (int64_t)be64_get(p + 16);
    out->status = p[24];
    out->name.p = (const char *)p + RUN_HEADER;
    out->name.n = (uint32_t)(v.mv_size - RUN_HEADER);
    return CAIRN_OK;
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
    int rc = mdb_put(txn, s->experiment_runs, &kv, &v, 0);
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

typedef struct pack_ctx {
    msgpack_packer *pk;
    uint32_t count;
} pack_ctx;

static void count_visit(void *ctx, const MDB_val *key, const MDB_val *value)
{
    (void)key;
    (void)value;
    ((pack_ctx *)ctx)->count++;
}

static void latest_visit(void *ctx, const MDB_val *key, const MDB_val *value)
{
    msgpack_packer *pk = ((pack_ctx *)ctx)->pk;
    store_latest l;
    memset(&l, 0, sizeof l);
    memcpy(&l, value->mv_data, value->mv_size < sizeof l ? value->mv_size : sizeof l);
    mp_strn(pk, key->mv_data, key->mv_size);
    msgpack_pack_array(pk, 3);
    msgpack_pack_double(pk, l.value);
    msgpack_pack_int64(pk, l.step);
    msgpack_pack_int64(pk, l.timestamp);
}

static void artifact_visit(void *ctx, const MDB_val *key, const MDB_val *value)
{
    msgpack_packer *pk = ((pack_ctx *)ctx)->pk;
    store_artifact a;
    memset(&a, 0, sizeof a);
    if (value->mv_size == 40) {
        a.size = be64_get(value->mv_data);
        memcpy(a.sha256, (const uint8_t *)value->mv_data + 8, 32);
    }
    char hex[65];
    sha256_hex(a.sha256, hex);
    msgpack_pack_array(pk, 3);
    mp_strn(pk, key->mv_data, key->mv_size);
    msgpack_pack_uint64(pk, a.size);
    mp_strn(pk, hex, 64);
}

/* Packs the records under the run's prefix: a map (metrics) or an array (artifacts). */
static cairn_status pack_collection(MDB_txn *txn, MDB_dbi dbi, const ulid *run, bool as_map,
                                    store_visit visit, msgpack_packer *pk, cairn_error *err)
{
    pack_ctx ctx = {pk, 0};
    cairn_status st = store_walk_prefix(txn, dbi, run->b, ULID_BYTES, count_visit, &ctx, err);
    if (st)
        return st;
    if (as_map)
        msgpack_pack_map(pk, ctx.count);
    else
        msgpack_pack_array(pk, ctx.count);
    return store_walk_prefix(txn, dbi, run->b, ULID_BYTES, visit, &ctx, err);
}

cairn_status store_pack_run(store *s, MDB_txn *txn, const store_run *run, msgpack_packer *pk,
                            cairn_error *err)
{
    store_experiment e;
    cairn_status st = store_experiment_get(s, txn, run->experiment_id, &e, err);
    if (st)
        return st;
    msgpack_pack_map(pk, 11);
    mp_str(pk, "id");
    mp_ulid(pk, &run->id);
    mp_str(pk, "experiment");
    mp_msgstr(pk, e.name);
    mp_str(pk, "experiment_id");
    msgpack_pack_uint64(pk, run->experiment_id);
    mp_str(pk, "name");
    mp_msgstr(pk, run->name);
    mp_str(pk, "status");
    mp_str(pk, run_status_name((run_status)run->status));
    mp_str(pk, "start_time");
    msgpack_pack_int64(pk, run->start_time);
    mp_str(pk, "end_time");
    if (run->status == RUN_RUNNING)
        msgpack_pack_nil(pk);
    else
        msgpack_pack_int64(pk, run->end_time);
    mp_str(pk, "params");
    st = store_kv_pack_all(s, txn, s->params, run->id.b, ULID_BYTES, pk, err);
    if (st)
        return st;
    mp_str(pk, "metrics");
    st = pack_collection(txn, s->metrics, &run->id, true, latest_visit, pk, err);
    if (st)
        return st;
    mp_str(pk, "tags");
    st = store_kv_pack_all(s, txn, s->tags, run->id.b, ULID_BYTES, pk, err);
    if (st)
        return st;
    mp_str(pk, "artifacts");
    return pack_collection(txn, s->artifacts, &run->id, false, artifact_visit, pk, err);
}
