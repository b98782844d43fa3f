/* The append-only audit log. */
#include <string.h>

#include "error.h"
#include "store.h"

/* A msgpack writer into a fixed buffer: audit entries are bounded (type <= 64,
 * from <= 256, summary < 256 bytes), so 1 KiB always holds one. */
static int fixed_buffer_write(void *data, const char *p, size_t n)
{
    msgpack_sbuffer *sb = data;
    if (sb->size + n > sb->alloc)
        return -1;
    memcpy(sb->data + sb->size, p, n);
    sb->size += n;
    return 0;
}

cairn_status store_audit_append(store *s, MDB_txn *txn, const audit_entry *e, uint64_t *seq,
                                cairn_error *err)
{
    /* Packed straight into the space LMDB reserves: no buffer per entry. */
    char buf[1024];
    msgpack_sbuffer sb = {0, buf, sizeof buf};
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, fixed_buffer_write);
    msgpack_pack_array(&pk, 5);
    msgpack_pack_int64(&pk, e->ts_ms);
    mp_ulid(&pk, e->id);
    mp_msgstr(&pk, e->type);
    mp_msgstr(&pk, e->from);
    mp_str(&pk, e->summary);

    uint8_t kb[8];
    be64_put(kb, s->next_audit_seq);
    MDB_val k = {8, kb}, v = {sb.size, sb.data};
    /* Sequences only grow, so every entry appends at the end of the tree. */
    int rc = store_put(s, txn, s->audit, &k, &v, MDB_APPEND);
    if (rc)
        return store_fail(rc, "append audit entry", err);
    *seq = s->next_audit_seq++;
    return CAIRN_OK;
}

static void pack_entry(msgpack_packer *pk, uint64_t seq, const MDB_val *v)
{
    msgpack_zone zone;
    msgpack_object o;
    size_t off = 0;
    msgpack_zone_init(&zone, 512);
    bool ok = msgpack_unpack(v->mv_data, v->mv_size, &off, &zone, &o) == MSGPACK_UNPACK_SUCCESS &&
              o.type == MSGPACK_OBJECT_ARRAY && o.via.array.size == 5;
    static const char *const names[] = {"ts", "id", "type", "from", "summary"};
    msgpack_pack_map(pk, ok ? 6 : 1);
    mp_str(pk, "seq");
    msgpack_pack_uint64(pk, seq);
    for (uint32_t i = 0; ok && i < 5; i++) {
        mp_str(pk, names[i]);
        msgpack_pack_object(pk, o.via.array.ptr[i]);
    }
    msgpack_zone_destroy(&zone);
}

cairn_status store_audit_pack(store *s, MDB_txn *txn, uint64_t since, size_t max,
                              msgpack_packer *pk, uint64_t *next, cairn_error *err)
{
    uint64_t last = s->next_audit_seq; /* one past the newest */
    if (since < 1)
        since = 1;
    uint64_t avail = since < last ? last - since : 0;
    size_t n = avail < max ? (size_t)avail : max;
    *next = since + n < last ? since + n : 0;
    msgpack_pack_array(pk, (uint32_t)n);
    MDB_cursor *c;
    int rc = mdb_cursor_open(txn, s->audit, &c);
    if (rc)
        return store_fail(rc, "cursor", err);
    uint8_t kb[8];
    be64_put(kb, since);
    MDB_val k = {8, kb}, v;
    rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
    for (size_t i = 0; i < n; i++) {
        if (rc) /* the log has no gaps: a missing entry means a damaged store */
            break;
        pack_entry(pk, be64_get(k.mv_data), &v);
        rc = mdb_cursor_get(c, &k, &v, MDB_NEXT);
    }
    mdb_cursor_close(c);
    return (rc == 0 || rc == MDB_NOTFOUND) ? CAIRN_OK : store_fail(rc, "read audit log", err);
}

cairn_status store_audit_summary(store *s, MDB_txn *txn, uint64_t seq, char *out, size_t cap,
                                 cairn_error *err)
{
    uint8_t kb[8];
    be64_put(kb, seq);
    MDB_val k = {8, kb}, v;
    int rc = mdb_get(txn, s->audit, &k, &v);
    if (rc)
        return store_fail(rc, "read audit entry", err);
    msgpack_zone zone;
    msgpack_object o;
    size_t off = 0;
    msgpack_zone_init(&zone, 512);
    bool ok = msgpack_unpack(v.mv_data, v.mv_size, &off, &zone, &o) == MSGPACK_UNPACK_SUCCESS &&
              o.type == MSGPACK_OBJECT_ARRAY && o.via.array.size == 5 &&
              o.via.array.ptr[4].type == MSGPACK_OBJECT_STR;
    if (ok)
        msg_str_copy((msg_str){o.via.array.ptr[4].via.str.ptr, o.via.array.ptr[4].via.str.size},
                     out, cap);
    msgpack_zone_destroy(&zone);
    return ok ? CAIRN_OK : error_set(err, CAIRN_STORAGE_ERROR, "corrupt audit entry %llu",
                                     (unsigned long long)seq);
}

const char *store_audit_field(const char *summary, const char *field, const char *before)
{
    const char *found = NULL;
    if (!before)
        before = summary + strlen(summary);
    for (const char *p = strstr(summary, field); p && p < before; p = strstr(p + 1, field))
        found = p;
    return found;
}

