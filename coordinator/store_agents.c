/* The agents table and the record of fan-outs: keyed storage of records
 * their owners encode (agents.c, fanout.c). */
#include "error.h"
#include "store.h"

static cairn_status put(store *s, MDB_txn *txn, MDB_dbi dbi, const ulid *id, const void *rec,
                        size_t len, const char *what, cairn_error *err)
{
    MDB_val k = {ULID_BYTES, (void *)id->b}, v = {len, (void *)rec};
    int rc = store_put(s, txn, dbi, &k, &v, 0);
    return rc ? store_fail(rc, what, err) : CAIRN_OK;
}

cairn_status store_agent_put(store *s, MDB_txn *txn, const ulid *id, const void *rec, size_t len,
                             cairn_error *err)
{
    return put(s, txn, s->agents, id, rec, len, "write agent", err);
}

cairn_status store_agents_walk(store *s, MDB_txn *txn, store_record_visit visit, void *ctx,
                               cairn_error *err)
{
    MDB_cursor *c;
    int rc = mdb_cursor_open(txn, s->agents, &c);
    if (rc)
        return store_fail(rc, "cursor", err);
    MDB_val k, v;
    for (rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0; rc = mdb_cursor_get(c, &k, &v, MDB_NEXT))
        if (k.mv_size == ULID_BYTES)
            visit(ctx, (const ulid *)k.mv_data, v.mv_data, v.mv_size);
    mdb_cursor_close(c);
    return rc == MDB_NOTFOUND ? CAIRN_OK : store_fail(rc, "read agents", err);
}

cairn_status store_command_put(store *s, MDB_txn *txn, const ulid *id, const void *rec,
                               size_t len, cairn_error *err)
{
    return put(s, txn, s->commands, id, rec, len, "record fan-out", err);
}

cairn_status store_command_get(store *s, MDB_txn *txn, const ulid *id, MDB_val *rec,
                               cairn_error *err)
{
    MDB_val k = {ULID_BYTES, (void *)id->b};
    int rc = mdb_get(txn, s->commands, &k, rec);
    return rc ? store_fail(rc, "fan-out record", err) : CAIRN_OK;
}
