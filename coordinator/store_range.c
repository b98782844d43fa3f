/* One cursor walk over a range of keys (store_record.h), for the trees whose
 * keys share a prefix per owner: a model's versions, aliases, history. */
#include <string.h>

#include "store_record.h"

static bool in_range(const MDB_val *k, const void *from, size_t prefix_len)
{
    return prefix_len == 0 ||
           (k->mv_size >= prefix_len && memcmp(k->mv_data, from, prefix_len) == 0);
}

/* Where a walk starts: the first key at or after `from`, or backward the
 * last one not after it. */
static int seek(MDB_cursor *c, const void *from, size_t from_len, bool backward, MDB_val *k,
                MDB_val *v)
{
    if (from_len == 0)
        return mdb_cursor_get(c, k, v, backward ? MDB_LAST : MDB_FIRST);
    *k = (MDB_val){from_len, (void *)from};
    int rc = mdb_cursor_get(c, k, v, MDB_SET_RANGE);
    if (!backward)
        return rc;
    if (rc == 0 && k->mv_size == from_len && memcmp(k->mv_data, from, from_len) == 0)
        return 0;
    return mdb_cursor_get(c, k, v, rc == MDB_NOTFOUND ? MDB_LAST : MDB_PREV);
}

cairn_status store_range_walk(MDB_txn *txn, MDB_dbi dbi, const void *from, size_t from_len,
                              size_t prefix_len, bool backward, store_range_visit visit, void *ctx,
                              cairn_error *err)
{
    MDB_cursor *c;
    MDB_val k, v;
    int rc = mdb_cursor_open(txn, dbi, &c);
    if (rc)
        return store_fail(rc, "cursor", err);
    for (rc = seek(c, from, from_len, backward, &k, &v); rc == 0 && in_range(&k, from, prefix_len);
         rc = mdb_cursor_get(c, &k, &v, backward ? MDB_PREV : MDB_NEXT))
        if (!visit(ctx, &k, &v))
            break;
    mdb_cursor_close(c);
    return rc == 0 || rc == MDB_NOTFOUND ? CAIRN_OK : store_fail(rc, "walk", err);
}
