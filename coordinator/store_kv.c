/* Params and tags: string values under a run-id (or experiment-id) prefix. */
#include <string.h>

#include "error.h"
#include "store.h"

cairn_status store_kv_get(store *s, MDB_txn *txn, MDB_dbi dbi, const ulid *run, msg_str key,
                          msg_str *value, cairn_error *err)
{
    (void)s;
    store_key k;
    key_run_str(&k, run, key.p, key.n);
    MDB_val kv = key_val(&k), v;
    int rc = mdb_get(txn, dbi, &kv, &v);
    if (rc == MDB_NOTFOUND)
        return error_set(err, CAIRN_RESOURCE_DOES_NOT_EXIST, "no key '%.*s'", (int)key.n, key.p);
    if (rc)
        return store_fail(rc, "read", err);
    value->p = v.mv_data;
    value->n = (uint32_t)v.mv_size;
    return CAIRN_OK;
}

cairn_status store_kv_put(store *s, MDB_txn *txn, MDB_dbi dbi, const ulid *run, msg_str key,
                          msg_str value, cairn_error *err)
{
    (void)s;
    store_key k;
    key_run_str(&k, run, key.p, key.n);
    MDB_val kv = key_val(&k), v = {value.n, (void *)value.p};
    int rc = mdb_put(txn, dbi, &kv, &v, 0);
    return rc ? store_fail(rc, "write", err) : CAIRN_OK;
}

cairn_status store_kv_delete(store *s, MDB_txn *txn, MDB_dbi dbi, const ulid *run, msg_str key,
                             cairn_error *err)
{
    (void)s;
    store_key k;
    key_run_str(&k, run, key.p, key.n);
    MDB_val kv = key_val(&k);
    int rc = mdb_del(txn, dbi, &kv, NULL);
    if (rc == MDB_NOTFOUND)
        return error_set(err, CAIRN_RESOURCE_DOES_NOT_EXIST, "no tag '%.*s' to delete",
                         (int)key.n, key.p);
    return rc ? store_fail(rc, "delete", err) : CAIRN_OK;
}

cairn_status store_walk_prefix(MDB_txn *txn, MDB_dbi dbi, const uint8_t *prefix,
                               size_t prefix_len, store_visit visit, void *ctx, cairn_error *err)
{
    MDB_cursor *c;
    int rc = mdb_cursor_open(txn, dbi, &c);
    if (rc)
        return store_fail(rc, "cursor", err);
    MDB_val k = {prefix_len, (void *)prefix}, v;
    rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
    while (rc == 0 && k.mv_size >= prefix_len && memcmp(k.mv_data, prefix, prefix_len) == 0) {
        MDB_val rest = {k.mv_size - prefix_len, (uint8_t *)k.mv_data + prefix_len};
        visit(ctx, &rest, &v);
        rc = mdb_cursor_get(c, &k, &v, MDB_NEXT);
    }
    mdb_cursor_close(c);
    return (rc == 0 || rc == MDB_NOTFOUND) ? CAIRN_OK : store_fail(rc, "walk", err);
}

static void count_visit(void *ctx, const MDB_val *key, const MDB_val *value)
{
    (void)key;
    (void)value;
    (*(uint32_t *)ctx)++;
}

static void pack_visit(void *ctx, const MDB_val *key, const MDB_val *value)
{
    msgpack_packer *pk = ctx;
    mp_strn(pk, key->mv_data, key->mv_size);
    mp_strn(pk, value->mv_data, value->mv_size);
}

cairn_status store_kv_pack_all(store *s, MDB_txn *txn, MDB_dbi dbi, const uint8_t *prefix,
                               size_t prefix_len, msgpack_packer *pk, cairn_error *err)
{
    (void)s;
    uint32_t n = 0;
    cairn_status st = store_walk_prefix(txn, dbi, prefix, prefix_len, count_visit, &n, err);
    if (st)
        return st;
    msgpack_pack_map(pk, n);
    return store_walk_prefix(txn, dbi, prefix, prefix_len, pack_visit, pk, err);
}
