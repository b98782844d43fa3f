/* Params and tags: string values under a run-id (or experiment-id) prefix. */
#include <endian.h>
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
    int rc = store_put(s, txn, dbi, &kv, &v, 0);
    return rc ? store_fail(rc, "write", err) : CAIRN_OK;
}

cairn_status store_kv_delete(store *s, MDB_txn *txn, MDB_dbi dbi, const ulid *run, msg_str key,
                             cairn_error *err)
{
    (void)s;
    store_key k;
    key_run_str(&k, run, key.p, key.n);
    MDB_val kv = key_val(&k);
    int rc = store_del(s, txn, dbi, &kv);
    if (rc == MDB_NOTFOUND)
        return error_set(err, CAIRN_RESOURCE_DOES_NOT_EXIST, "no tag '%.*s' to delete",
                         (int)key.n, key.p);
    return rc ? store_fail(rc, "delete", err) : CAIRN_OK;
}

/* Visits the records from where c stands (rc, k, v: its last move) while their
 * key starts with prefix; returns the rc of the move that ended the walk.
 * Inline so that a walker's constant 16-byte prefix compares without a call. */
static inline int walk_on(MDB_cursor *c, int rc, MDB_val *k, MDB_val *v, const uint8_t *prefix,
                          size_t prefix_len, store_visit visit, void *ctx)
{
    while (rc == 0 && k->mv_size >= prefix_len && memcmp(k->mv_data, prefix, prefix_len) == 0) {
        MDB_val rest = {k->mv_size - prefix_len, (uint8_t *)k->mv_data + prefix_len};
        visit(ctx, &rest, v);
        rc = mdb_cursor_get(c, k, v, MDB_NEXT);
    }
    return rc;
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
    rc = walk_on(c, rc, &k, &v, prefix, prefix_len, visit, ctx);
    mdb_cursor_close(c);
    return (rc == 0 || rc == MDB_NOTFOUND) ? CAIRN_OK : store_fail(rc, "walk", err);
}

/* ---- walking many runs with one cursor ---- */

#define WALKER_UNSET (-1)

cairn_status store_walker_open(store_walker *w, MDB_txn *txn, MDB_dbi dbi, cairn_error *err)
{
    w->rc = WALKER_UNSET;
    int rc = mdb_cursor_open(txn, dbi, &w->c);
    if (rc) {
        w->c = NULL;
        return store_fail(rc, "cursor", err);
    }
    return CAIRN_OK;
}

void store_walker_close(store_walker *w)
{
    if (w->c)
        mdb_cursor_close(w->c);
    w->c = NULL;
}

/* memcmp's order of two ids, inline: a call to memcmp was a tenth of a walk. */
static int id_cmp(const uint8_t *a, const uint8_t *b)
{
    for (int i = 0; i < ULID_BYTES; i += 8) {
        uint64_t x, y;
        memcpy(&x, a + i, 8);
        memcpy(&y, b + i, 8);
        if (x != y)
            return be64toh(x) < be64toh(y) ? -1 : 1;
    }
    return 0;
}

/* Does the cursor stand at the first record at or after run's? It does when run
 * comes after the run walked last (whose walk stopped on the first key past
 * it) and the cursor is not before run's first possible key. */
static bool walker_in_place(const store_walker *w, const ulid *run)
{
    if ((w->rc != 0 && w->rc != MDB_NOTFOUND) || id_cmp(run->b, w->last.b) <= 0)
        return false;
    if (w->rc == MDB_NOTFOUND)
        return true; /* the tree ends before run */
    if (w->k.mv_size < ULID_BYTES) /* shorter than any key of a run: compare as LMDB does */
        return memcmp(w->k.mv_data, run->b, w->k.mv_size) > 0;
    return id_cmp(w->k.mv_data, run->b) >= 0;
}

cairn_status store_walker_walk(store_walker *w, const ulid *run, store_visit visit, void *ctx,
                               cairn_error *err)
{
    if (!walker_in_place(w, run)) {
        w->k = (MDB_val){ULID_BYTES, (void *)run->b};
        w->rc = mdb_cursor_get(w->c, &w->k, &w->v, MDB_SET_RANGE);
    }
    w->last = *run;
    w->rc = walk_on(w->c, w->rc, &w->k, &w->v, run->b, ULID_BYTES, visit, ctx);
    return (w->rc == 0 || w->rc == MDB_NOTFOUND) ? CAIRN_OK : store_fail(w->rc, "walk", err);
}

/* ---- containers counted while packed ----
 *
 * Counting the records first and packing them in a second walk cost a second
 * cursor descent and walk per map, a third of a run.search reply's time. */

#define COUNTED_HEADER 5 /* map32/array32: type byte + u32 size */

size_t store_counted_begin(msgpack_packer *pk)
{
    /* The size is patched in place, so the bytes must be in an sbuffer (the
     * callback cannot tell: msgpack_sbuffer_write is static inline). */
    msgpack_sbuffer *sb = pk->data;
    size_t at = sb->size;
    static const char placeholder[COUNTED_HEADER] = {(char)0xdf, 0, 0, 0, 0};
    pk->callback(pk->data, placeholder, COUNTED_HEADER);
    return at;
}

/* Writes the header msgpack_pack_map/array would for n; returns its length. */
static size_t counted_header(uint8_t *h, bool as_map, uint32_t n)
{
    if (n < 16) {
        h[0] = (uint8_t)((as_map ? 0x80 : 0x90) | n);
        return 1;
    }
    if (n < 65536) {
        h[0] = as_map ? 0xde : 0xdc;
        h[1] = (uint8_t)(n >> 8);
        h[2] = (uint8_t)n;
        return 3;
    }
    h[0] = as_map ? 0xdf : 0xdd;
    be32_put(h + 1, n);
    return COUNTED_HEADER;
}

void store_counted_end(msgpack_packer *pk, size_t at, bool as_map, uint32_t n)
{
    msgpack_sbuffer *sb = pk->data;
    if (sb->size < at + COUNTED_HEADER)
        return; /* the placeholder was not written (out of memory) */
    uint8_t *h = (uint8_t *)sb->data + at;
    size_t len = counted_header(h, as_map, n);
    /* Close the gap the smaller header leaves: the body is a few small records
     * as a rule, and the reply stays byte for byte what it was. */
    if (len == COUNTED_HEADER)
        return;
    memmove(h + len, h + COUNTED_HEADER, sb->size - at - COUNTED_HEADER);
    sb->size -= COUNTED_HEADER - len;
}

void store_pack_str(msgpack_packer *pk, const void *p, size_t n)
{
    if (n >= 32) {
        mp_strn(pk, p, n);
        return;
    }
    /* A fixstr's header and body in one write: a RUN map is mostly short
     * strings, and each write is a call through the packer. */
    char b[32];
    b[0] = (char)(0xa0 | n);
    memcpy(b + 1, p, n);
    pk->callback(pk->data, b, n + 1);
}

typedef struct kv_pack_ctx {
    msgpack_packer *pk;
    uint32_t count;
} kv_pack_ctx;

static void pack_visit(void *ctx, const MDB_val *key, const MDB_val *value)
{
    kv_pack_ctx *c = ctx;
    store_pack_str(c->pk, key->mv_data, key->mv_size);
    store_pack_str(c->pk, value->mv_data, value->mv_size);
    c->count++;
}

cairn_status store_kv_pack_all(store *s, MDB_txn *txn, MDB_dbi dbi, const uint8_t *prefix,
                               size_t prefix_len, msgpack_packer *pk, cairn_error *err)
{
    (void)s;
    kv_pack_ctx c = {pk, 0};
    size_t at = store_counted_begin(pk);
    cairn_status st = store_walk_prefix(txn, dbi, prefix, prefix_len, pack_visit, &c, err);
    store_counted_end(pk, at, true, c.count);
    return st;
}

cairn_status store_kv_pack_run(store_walker *w, const ulid *run, msgpack_packer *pk,
                               cairn_error *err)
{
    kv_pack_ctx c = {pk, 0};
    size_t at = store_counted_begin(pk);
    cairn_status st = store_walker_walk(w, run, pack_visit, &c, err);
    store_counted_end(pk, at, true, c.count);
    return st;
}
