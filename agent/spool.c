#include "spool.h"

#include <errno.h>
#include <limits.h>
#include <msgpack.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "body.h"
#include "clock.h"
#include "error.h"
#include "kvlog.h"
#include "msg.h"

#define HEADER 9 /* kind (1 byte) + extra bytes (u64) */

static void put_be64(uint8_t *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--, v >>= 8)
        p[i] = (uint8_t)v;
}

static uint64_t get_be64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = (v << 8) | p[i];
    return v;
}

static cairn_status lmdb_fail(int rc, const char *what, cairn_error *err)
{
    if (rc == MDB_MAP_FULL)
        return error_set(err, CAIRN_BACKPRESSURE, "spool full: %s: the LMDB map (spool.map_size_mb) "
                                                  "is exhausted", what);
    return error_set(err, CAIRN_STORAGE_ERROR, "spool %s: %s", what, mdb_strerror(rc));
}

/* ---- opening ---- */

static uint64_t meta_u64(MDB_txn *txn, MDB_dbi meta, const char *key, uint64_t fallback)
{
    MDB_val k = {strlen(key), (void *)key}, v;
    if (mdb_get(txn, meta, &k, &v) != 0 || v.mv_size != 8)
        return fallback;
    return get_be64(v.mv_data);
}

static int put_meta_u64(MDB_txn *txn, MDB_dbi meta, const char *key, uint64_t value)
{
    uint8_t b[8];
    put_be64(b, value);
    MDB_val k = {strlen(key), (void *)key}, v = {8, b};
    return mdb_put(txn, meta, &k, &v, 0);
}

/* The committed counters, from meta and the trees. next_seq never goes back,
 * even when the spool is empty, so a rejected entry keeps a unique key. */
static void load_counters(spool *s, MDB_txn *txn)
{
    MDB_stat st;
    MDB_cursor *c;
    MDB_val k, v;
    s->next_seq = meta_u64(txn, s->meta, "next_seq", 1);
    s->bytes = meta_u64(txn, s->meta, "bytes", 0);
    s->depth = mdb_stat(txn, s->entries, &st) == 0 ? st.ms_entries : 0;
    s->rejected_count = mdb_stat(txn, s->rejected, &st) == 0 ? st.ms_entries : 0;
    s->rejected_bytes = 0; /* a walk of at most spool.max_rejected records, once */
    if (mdb_cursor_open(txn, s->rejected, &c) == 0) {
        for (int rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0;
             rc = mdb_cursor_get(c, &k, &v, MDB_NEXT))
            s->rejected_bytes += v.mv_size;
        mdb_cursor_close(c);
    }
    if (mdb_cursor_open(txn, s->entries, &c) == 0) {
        if (mdb_cursor_get(c, &k, &v, MDB_LAST) == 0 && k.mv_size == 8 &&
            get_be64(k.mv_data) >= s->next_seq)
            s->next_seq = get_be64(k.mv_data) + 1;
        mdb_cursor_close(c);
    }
}

static cairn_status open_dbis(spool *s, bool read_only, cairn_error *err)
{
    MDB_txn *txn;
    unsigned flags = read_only ? 0 : MDB_CREATE;
    int rc = mdb_txn_begin(s->env, NULL, read_only ? MDB_RDONLY : 0, &txn);
    if (!rc)
        rc = mdb_dbi_open(txn, "entries", flags, &s->entries);
    if (!rc)
        rc = mdb_dbi_open(txn, "rejected", flags, &s->rejected);
    if (!rc)
        rc = mdb_dbi_open(txn, "meta", flags, &s->meta);
    if (rc) {
        if (txn)
            mdb_txn_abort(txn);
        return lmdb_fail(rc, "open databases", err);
    }
    load_counters(s, txn);
    rc = mdb_txn_commit(txn);
    return rc ? lmdb_fail(rc, "open databases", err) : CAIRN_OK;
}

cairn_status spool_open(spool *s, const char *data_dir, size_t map_size, bool read_only,
                        cairn_error *err)
{
    char dir[PATH_MAX];
    memset(s, 0, sizeof *s);
    s->map_size = map_size;
    snprintf(dir, sizeof dir, "%s/spool", data_dir);
    if (!read_only && mkdir(dir, 0750) != 0 && errno != EEXIST)
        return error_set(err, CAIRN_IO_ERROR, "create %s: %s", dir, strerror(errno));
    int rc = mdb_env_create(&s->env);
    if (!rc)
        rc = mdb_env_set_maxdbs(s->env, 4);
    if (!rc)
        rc = mdb_env_set_mapsize(s->env, map_size);
    /* NOTLS: the reused read transaction is not tied to a thread slot rule
     * that would forbid a write transaction beside it. */
    if (!rc)
        rc = mdb_env_open(s->env, dir, MDB_NOTLS | (read_only ? MDB_RDONLY : 0), 0640);
    if (rc) {
        cairn_status st = error_set(err, CAIRN_STORAGE_ERROR, "open spool %s: %s", dir,
                                    mdb_strerror(rc));
        spool_close(s);
        return st;
    }
    return open_dbis(s, read_only, err);
}

void spool_close(spool *s)
{
    if (s->reader)
        mdb_txn_abort(s->reader);
    s->reader = NULL;
    if (s->env)
        mdb_env_close(s->env);
    s->env = NULL;
}

/* ---- writing ---- */

cairn_status spool_begin(spool *s, spool_txn *t, cairn_error *err)
{
    t->next_seq = s->next_seq;
    t->bytes = s->bytes;
    t->depth = s->depth;
    t->rejected_count = s->rejected_count;
    t->rejected_bytes = s->rejected_bytes;
    int rc = mdb_txn_begin(s->env, NULL, 0, &t->txn);
    if (rc) {
        t->txn = NULL;
        return lmdb_fail(rc, "begin", err);
    }
    return CAIRN_OK;
}

cairn_status spool_append(spool *s, spool_txn *t, spool_kind kind, const void *data, size_t len,
                          uint64_t extra, uint64_t *seq, cairn_error *err)
{
    uint8_t key[8];
    put_be64(key, t->next_seq);
    MDB_val k = {8, key}, v = {HEADER + len, NULL};
    int rc = mdb_put(t->txn, s->entries, &k, &v, MDB_APPEND | MDB_RESERVE);
    if (rc)
        return lmdb_fail(rc, "append", err);
    uint8_t *p = v.mv_data;
    p[0] = (uint8_t)kind;
    put_be64(p + 1, extra);
    memcpy(p + HEADER, data, len);
    *seq = t->next_seq++;
    t->bytes += HEADER + len + extra;
    t->depth++;
    return CAIRN_OK;
}

/* Reads entry seq inside t; *accounted gets the bytes it counts for. */
static int get_in(spool *s, MDB_txn *txn, uint64_t seq, MDB_val *v, uint64_t *accounted)
{
    uint8_t key[8];
    put_be64(key, seq);
    MDB_val k = {8, key};
    int rc = mdb_get(txn, s->entries, &k, v);
    if (rc == 0 && v->mv_size < HEADER)
        rc = MDB_CORRUPTED;
    if (rc == 0 && accounted)
        *accounted = v->mv_size + get_be64((const uint8_t *)v->mv_data + 1);
    return rc;
}

static int delete_entry(spool *s, spool_txn *t, uint64_t seq, uint64_t accounted)
{
    uint8_t key[8];
    put_be64(key, seq);
    MDB_val k = {8, key};
    int rc = mdb_del(t->txn, s->entries, &k, NULL);
    if (rc == 0) {
        t->bytes = t->bytes > accounted ? t->bytes - accounted : 0;
        t->depth = t->depth ? t->depth - 1 : 0;
    }
    return rc;
}

cairn_status spool_remove(spool *s, spool_txn *t, uint64_t seq, cairn_error *err)
{
    MDB_val v;
    uint64_t accounted;
    int rc = get_in(s, t->txn, seq, &v, &accounted);
    if (rc == MDB_NOTFOUND)
        return CAIRN_OK;
    if (!rc)
        rc = delete_entry(s, t, seq, accounted);
    return rc ? lmdb_fail(rc, "remove", err) : CAIRN_OK;
}

static void pack_rejected(msgpack_packer *pk, const MDB_val *entry, cairn_status code,
                          const char *message)
{
    const uint8_t *p = entry->mv_data;
    msgpack_pack_map(pk, 5);
    mp_str(pk, "ts");
    msgpack_pack_int64(pk, clock_wall_ms());
    mp_str(pk, "code");
    mp_str(pk, cairn_status_name(code));
    mp_str(pk, "message");
    mp_str(pk, message);
    mp_str(pk, "kind");
    mp_str(pk, p[0] == SPOOL_ARTIFACT ? "artifact" : "message");
    mp_str(pk, "entry");
    mp_bin(pk, p + HEADER, entry->mv_size - HEADER);
}

cairn_status spool_reject(spool *s, spool_txn *t, uint64_t seq, cairn_status code,
                          const char *message, cairn_error *err)
{
    MDB_val v;
    uint64_t accounted;
    int rc = get_in(s, t->txn, seq, &v, &accounted);
    if (rc == MDB_NOTFOUND)
        return CAIRN_OK;
    if (rc)
        return lmdb_fail(rc, "read for rejection", err);
    msg_writer w;
    msg_writer_init(&w);
    pack_rejected(&w.pk, &v, code, message);
    uint8_t key[8];
    put_be64(key, seq);
    MDB_val k = {8, key}, rv = {w.sb.size, w.sb.data};
    rc = mdb_put(t->txn, s->rejected, &k, &rv, 0);
    msg_writer_destroy(&w);
    if (!rc)
        rc = delete_entry(s, t, seq, accounted);
    if (rc)
        return lmdb_fail(rc, "reject", err);
    t->rejected_count++;
    t->rejected_bytes += rv.mv_size;
    return CAIRN_OK;
}

/* The newest entry stays, whatever its size: the list keeps the newest. */
static bool over_rejected_bounds(const spool_txn *t, spool_keep keep)
{
    return t->rejected_count > keep.entries ||
           (t->rejected_bytes > keep.bytes && t->rejected_count > 1);
}

long spool_prune_rejected(spool *s, spool_txn *t, spool_keep keep, cairn_error *err)
{
    if (!over_rejected_bounds(t, keep))
        return 0;
    MDB_cursor *c;
    MDB_val k, v;
    long pruned = 0;
    int rc = mdb_cursor_open(t->txn, s->rejected, &c);
    if (rc)
        return lmdb_fail(rc, "prune the rejected list", err), -1;
    while (over_rejected_bounds(t, keep) &&
           (rc = mdb_cursor_get(c, &k, &v, MDB_FIRST)) == 0 && (rc = mdb_cursor_del(c, 0)) == 0) {
        t->rejected_count--;
        t->rejected_bytes = t->rejected_bytes > v.mv_size ? t->rejected_bytes - v.mv_size : 0;
        pruned++;
    }
    mdb_cursor_close(c);
    if (rc && rc != MDB_NOTFOUND) {
        lmdb_fail(rc, "prune the rejected list", err);
        return -1;
    }
    return pruned;
}

cairn_status spool_commit(spool *s, spool_txn *t, cairn_error *err)
{
    int rc = put_meta_u64(t->txn, s->meta, "next_seq", t->next_seq);
    if (!rc)
        rc = put_meta_u64(t->txn, s->meta, "bytes", t->bytes);
    if (rc) {
        spool_abort(t);
        return lmdb_fail(rc, "commit", err);
    }
    rc = mdb_txn_commit(t->txn);
    t->txn = NULL;
    if (rc)
        return lmdb_fail(rc, "commit", err);
    s->next_seq = t->next_seq;
    s->bytes = t->bytes;
    s->depth = t->depth;
    s->rejected_count = t->rejected_count;
    s->rejected_bytes = t->rejected_bytes;
    return CAIRN_OK;
}

void spool_abort(spool_txn *t)
{
    if (t->txn)
        mdb_txn_abort(t->txn);
    t->txn = NULL;
}

/* ---- reading ---- */

static int renew_reader(spool *s)
{
    return s->reader ? mdb_txn_renew(s->reader) : mdb_txn_begin(s->env, NULL, MDB_RDONLY, &s->reader);
}

cairn_status spool_read_begin(spool *s, cairn_error *err)
{
    int rc = renew_reader(s);
    if (rc == MDB_MAP_RESIZED) {
        /* The agent lent itself room beyond the map (spool_apply.c) while
         * this process (a lister) had it open: adopt the new size. */
        if (s->reader)
            mdb_txn_abort(s->reader);
        s->reader = NULL;
        rc = mdb_env_set_mapsize(s->env, 0);
        if (!rc)
            rc = renew_reader(s);
    }
    if (rc) {
        if (s->reader)
            mdb_txn_abort(s->reader);
        s->reader = NULL;
        return lmdb_fail(rc, "read", err);
    }
    return CAIRN_OK;
}

void spool_read_end(spool *s)
{
    if (s->reader)
        mdb_txn_reset(s->reader);
}

static bool fill_entry(const MDB_val *k, const MDB_val *v, spool_entry *out)
{
    if (k->mv_size != 8 || v->mv_size < HEADER)
        return false;
    const uint8_t *p = v->mv_data;
    out->seq = get_be64(k->mv_data);
    out->kind = (spool_kind)p[0];
    out->data = p + HEADER;
    out->len = v->mv_size - HEADER;
    return true;
}

bool spool_next(spool *s, uint64_t from, spool_entry *out)
{
    MDB_cursor *c;
    uint8_t key[8];
    put_be64(key, from);
    MDB_val k = {8, key}, v;
    if (mdb_cursor_open(s->reader, s->entries, &c) != 0)
        return false;
    bool found = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE) == 0 && fill_entry(&k, &v, out);
    mdb_cursor_close(c);
    return found;
}

bool spool_get(spool *s, uint64_t seq, spool_entry *out)
{
    MDB_val v;
    uint8_t key[8];
    put_be64(key, seq);
    MDB_val k = {8, key};
    return get_in(s, s->reader, seq, &v, NULL) == 0 && fill_entry(&k, &v, out);
}

void spool_each_artifact(spool *s, void (*fn)(const void *data, size_t len, void *ctx), void *ctx)
{
    MDB_cursor *c;
    MDB_val k, v;
    spool_entry e;
    if (spool_read_begin(s, NULL))
        return;
    if (mdb_cursor_open(s->reader, s->entries, &c) == 0) {
        for (int op = MDB_FIRST; mdb_cursor_get(c, &k, &v, op) == 0; op = MDB_NEXT)
            if (fill_entry(&k, &v, &e) && e.kind == SPOOL_ARTIFACT)
                fn(e.data, e.len, ctx);
        mdb_cursor_close(c);
    }
    spool_read_end(s);
}

/* ---- listing the rejected ---- */

/* type and id of a rejected entry: from the envelope, or the artifact reference. */
static void describe_entry(const msgpack_object *entry, bool artifact, char *type, size_t cap,
                           char id[ULID_TEXT_LEN + 1])
{
    msg_decoder d;
    msg m;
    snprintf(type, cap, "%s", artifact ? "artifact.put" : "?");
    snprintf(id, ULID_TEXT_LEN + 1, "-");
    if (entry->type != MSGPACK_OBJECT_BIN)
        return;
    msg_decoder_init(&d, 0);
    if (!artifact && msg_decode(&d, entry->via.bin.ptr, entry->via.bin.size, &m, NULL) == CAIRN_OK) {
        msg_str_copy(m.type, type, cap);
        ulid_format(&m.id, id);
    }
    size_t off = 0;
    msgpack_object ref;
    ulid u;
    if (artifact && msgpack_unpack(entry->via.bin.ptr, entry->via.bin.size, &off, &d.zone, &ref) ==
                        MSGPACK_UNPACK_SUCCESS &&
        body_ulid(&ref, "id", true, &u, NULL) == CAIRN_OK)
        ulid_format(&u, id);
    msg_decoder_destroy(&d);
}

static void print_one(FILE *out, uint64_t seq, const MDB_val *v)
{
    msgpack_zone zone;
    msgpack_object o;
    size_t off = 0;
    msgpack_zone_init(&zone, 1024);
    if (msgpack_unpack(v->mv_data, v->mv_size, &off, &zone, &o) == MSGPACK_UNPACK_SUCCESS) {
        msg_str code = {"?", 1}, message = {"", 0}, kind = {"message", 7};
        int64_t ts = 0;
        char type[65], id[ULID_TEXT_LEN + 1], cmsg[600], qmsg[700];
        body_str(&o, "code", false, &code, NULL);
        body_str(&o, "message", false, &message, NULL);
        body_str(&o, "kind", false, &kind, NULL);
        body_int(&o, "ts", false, &ts, NULL);
        const msgpack_object *entry = body_find(&o, "entry");
        describe_entry(entry ? entry : &(msgpack_object){0}, msg_str_eq(kind, "artifact"), type,
                       sizeof type, id);
        msg_str_copy(message, cmsg, sizeof cmsg);
        fprintf(out, "seq=%llu ts=%lld type=%s id=%s code=%.*s message=%s\n",
                (unsigned long long)seq, (long long)ts, type, id, (int)code.n, code.p,
                kvlog_quote(qmsg, sizeof qmsg, cmsg));
    }
    msgpack_zone_destroy(&zone);
}

long spool_print_rejected(spool *s, FILE *out)
{
    MDB_cursor *c;
    MDB_val k, v;
    long n = 0;
    if (spool_read_begin(s, NULL))
        return -1;
    if (mdb_cursor_open(s->reader, s->rejected, &c) == 0) {
        for (int op = MDB_FIRST; mdb_cursor_get(c, &k, &v, op) == 0; op = MDB_NEXT, n++)
            print_one(out, k.mv_size == 8 ? get_be64(k.mv_data) : 0, &v);
        mdb_cursor_close(c);
    }
    spool_read_end(s);
    return n;
}
