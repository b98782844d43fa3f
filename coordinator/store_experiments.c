/* Experiments: a u64 id, a unique name, a lifecycle and tags. */
#include <string.h>

#include "error.h"
#include "store.h"

#define EXP_HEADER 9 /* i64 created, u8 deleted, then the name */

static cairn_status decode_experiment(uint64_t id, const MDB_val *v, store_experiment *out,
                                      cairn_error *err)
{
    if (v->mv_size < EXP_HEADER)
        return error_set(err, CAIRN_STORAGE_ERROR, "experiment %llu: corrupt record",
                         (unsigned long long)id);
    const uint8_t *p = v->mv_data;
    out->id = id;
    out->created = (int64_t)be64_get(p);
    out->deleted = p[8] != 0;
    out->name.p = (const char *)p + EXP_HEADER;
    out->name.n = (uint32_t)(v->mv_size - EXP_HEADER);
    return CAIRN_OK;
}

static cairn_status write_experiment(store *s, MDB_txn *txn, uint64_t id, int64_t created,
                                     bool deleted, msg_str name, cairn_error *err)
{
    store_key k;
    key_u64(&k, id);
    MDB_val kv = key_val(&k), v = {EXP_HEADER + name.n, NULL};
    int rc = store_put(s, txn, s->experiments, &kv, &v, MDB_RESERVE);
    if (rc)
        return store_fail(rc, "write experiment", err);
    uint8_t *p = v.mv_data;
    be64_put(p, (uint64_t)created);
    p[8] = deleted;
    memcpy(p + EXP_HEADER, name.p, name.n);
    return CAIRN_OK;
}

cairn_status store_experiment_get(store *s, MDB_txn *txn, uint64_t id, store_experiment *out,
                                  cairn_error *err)
{
    store_key k;
    key_u64(&k, id);
    MDB_val kv = key_val(&k), v;
    int rc = mdb_get(txn, s->experiments, &kv, &v);
    if (rc == MDB_NOTFOUND)
        return error_set(err, CAIRN_RESOURCE_DOES_NOT_EXIST, "no experiment with id %llu",
                         (unsigned long long)id);
    if (rc)
        return store_fail(rc, "read experiment", err);
    return decode_experiment(id, &v, out, err);
}

static cairn_status create_experiment(store *s, MDB_txn *txn, msg_str name, int64_t now_ms,
                                      store_experiment *out, cairn_error *err)
{
    uint64_t id = s->next_experiment_id;
    uint8_t idb[8];
    be64_put(idb, id);
    MDB_val nk = {name.n, (void *)name.p}, nv = {8, idb};
    int rc = store_put(s, txn, s->experiment_names, &nk, &nv, MDB_NOOVERWRITE);
    if (rc)
        return store_fail(rc, "write experiment name", err);
    cairn_status st = write_experiment(s, txn, id, now_ms, false, name, err);
    if (st)
        return st;
    s->next_experiment_id++;
    /* Read back so out->name points into the store, not the caller's message. */
    return store_experiment_get(s, txn, id, out, err);
}

cairn_status store_experiment_by_name(store *s, MDB_txn *txn, msg_str name, bool create,
                                      int64_t now_ms, store_experiment *out, cairn_error *err)
{
    MDB_val nk = {name.n, (void *)name.p}, nv;
    /* No experiment has an empty name or one over the limit (run.start
     * checks): LMDB would refuse such a key as a storage error. */
    int rc = name.n == 0 || name.n > LIMIT_NAME ? MDB_NOTFOUND
                                                 : mdb_get(txn, s->experiment_names, &nk, &nv);
    if (rc == MDB_NOTFOUND && create)
        return create_experiment(s, txn, name, now_ms, out, err);
    if (rc == MDB_NOTFOUND)
        return error_set(err, CAIRN_RESOURCE_DOES_NOT_EXIST, "no experiment named '%.*s'",
                         (int)name.n, name.p);
    if (rc)
        return store_fail(rc, "read experiment name", err);
    if (nv.mv_size != 8)
        return error_set(err, CAIRN_STORAGE_ERROR, "experiment name index is corrupt");
    return store_experiment_get(s, txn, be64_get(nv.mv_data), out, err);
}

cairn_status store_experiment_set_deleted(store *s, MDB_txn *txn, uint64_t id, bool deleted,
                                          cairn_error *err)
{
    store_experiment e;
    cairn_status st = store_experiment_get(s, txn, id, &e, err);
    if (st)
        return st;
    /* The name lives in the page being rewritten: copy it first. */
    char name[LIMIT_NAME + 1];
    msg_str_copy(e.name, name, sizeof name);
    msg_str copy = {name, e.name.n < LIMIT_NAME ? e.name.n : LIMIT_NAME};
    return write_experiment(s, txn, id, e.created, deleted, copy, err);
}

cairn_status store_experiment_set_tag(store *s, MDB_txn *txn, uint64_t id, msg_str key,
                                      msg_str value, cairn_error *err)
{
    store_key k;
    key_u64_str(&k, id, key.p, key.n);
    MDB_val kv = key_val(&k), v = {value.n, (void *)value.p};
    int rc = store_put(s, txn, s->experiment_tags, &kv, &v, 0);
    return rc ? store_fail(rc, "write experiment tag", err) : CAIRN_OK;
}

cairn_status store_pack_experiment(store *s, MDB_txn *txn, const store_experiment *e,
                                   msgpack_packer *pk, cairn_error *err)
{
    msgpack_pack_map(pk, 5);
    mp_str(pk, "id");
    msgpack_pack_uint64(pk, e->id);
    mp_str(pk, "name");
    mp_msgstr(pk, e->name);
    mp_str(pk, "lifecycle");
    mp_str(pk, e->deleted ? "deleted" : "active");
    mp_str(pk, "created");
    msgpack_pack_int64(pk, e->created);
    mp_str(pk, "tags");
    uint8_t prefix[8];
    be64_put(prefix, e->id);
    return store_kv_pack_all(s, txn, s->experiment_tags, prefix, 8, pk, err);
}
