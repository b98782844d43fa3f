/*
 * Binary records of the model registry: fixed big-endian fields, then
 * strings each preceded by its u32 length. A record is built in a growing
 * buffer and read back with a cursor that refuses to run past its end, so a
 * damaged record is reported, never read beyond.
 */
#ifndef CAIRN_STORE_RECORD_H
#define CAIRN_STORE_RECORD_H

#include <stdlib.h>
#include <string.h>

#include "store.h"

typedef struct rec_out {
    uint8_t *p;
    size_t n, cap;
    bool failed; /* out of memory: the record is incomplete */
} rec_out;

static inline uint8_t *rec_room(rec_out *o, size_t n)
{
    if (o->failed)
        return NULL;
    if (o->n + n > o->cap) {
        size_t cap = o->cap ? o->cap * 2 : 256;
        while (cap < o->n + n)
            cap *= 2;
        uint8_t *p = realloc(o->p, cap);
        if (!p) {
            o->failed = true;
            return NULL;
        }
        o->p = p;
        o->cap = cap;
    }
    uint8_t *at = o->p + o->n;
    o->n += n;
    return at;
}

static inline void rec_bytes(rec_out *o, const void *p, size_t n)
{
    uint8_t *at = rec_room(o, n);
    if (at && n)
        memcpy(at, p, n);
}

static inline void rec_u8(rec_out *o, uint8_t v)
{
    rec_bytes(o, &v, 1);
}

static inline void rec_u32(rec_out *o, uint32_t v)
{
    uint8_t *at = rec_room(o, 4);
    if (at)
        be32_put(at, v);
}

static inline void rec_u64(rec_out *o, uint64_t v)
{
    uint8_t *at = rec_room(o, 8);
    if (at)
        be64_put(at, v);
}

static inline void rec_str(rec_out *o, msg_str s)
{
    rec_u32(o, s.n);
    rec_bytes(o, s.p, s.n);
}

static inline void rec_free(rec_out *o)
{
    free(o->p);
    o->p = NULL;
    o->n = o->cap = 0;
}

typedef struct rec_in {
    const uint8_t *p;
    size_t n;
    bool bad; /* a field ran past the end */
} rec_in;

static inline const uint8_t *rec_take(rec_in *in, size_t n)
{
    if (in->bad || in->n < n) {
        in->bad = true;
        return NULL;
    }
    const uint8_t *at = in->p;
    in->p += n;
    in->n -= n;
    return at;
}

static inline uint8_t rec_get_u8(rec_in *in)
{
    const uint8_t *at = rec_take(in, 1);
    return at ? at[0] : 0;
}

static inline uint32_t rec_get_u32(rec_in *in)
{
    const uint8_t *at = rec_take(in, 4);
    return at ? be32_get(at) : 0;
}

static inline uint64_t rec_get_u64(rec_in *in)
{
    const uint8_t *at = rec_take(in, 8);
    return at ? be64_get(at) : 0;
}

static inline msg_str rec_get_str(rec_in *in)
{
    uint32_t n = rec_get_u32(in);
    const uint8_t *at = rec_take(in, n);
    return at ? (msg_str){(const char *)at, n} : (msg_str){"", 0};
}

static inline void rec_get_bytes(rec_in *in, void *out, size_t n)
{
    const uint8_t *at = rec_take(in, n);
    if (at)
        memcpy(out, at, n);
    else
        memset(out, 0, n);
}

/* ---- ranges of keys (store_range.c) ---- */

/* Visits the records from key `from` on, in key order (backward: from the
 * last key not after `from`, in reverse order), while their first
 * prefix_len bytes are from's; visit returns false to stop. An empty `from`
 * starts at the first (backward: the last) record. */
typedef bool (*store_range_visit)(void *ctx, const MDB_val *key, const MDB_val *value);
/* A visitor that keeps the first key (an MDB_val *ctx) and stops: with
 * backward, the last key of a range. */
static inline bool store_take_key(void *ctx, const MDB_val *key, const MDB_val *value)
{
    (void)value;
    *(MDB_val *)ctx = *key;
    return false;
}

/* What a walk's visitor needs to call the caller's own visitor (of the
 * walk's type, cast back), and what stopped the walk. */
typedef struct store_walk_ctx {
    store *s;
    MDB_txn *txn;
    void (*visit)(void);
    void *ctx;
    cairn_status st;
    cairn_error *err;
} store_walk_ctx;

cairn_status store_range_walk(MDB_txn *txn, MDB_dbi dbi, const void *from, size_t from_len,
                              size_t prefix_len, bool backward, store_range_visit visit, void *ctx,
                              cairn_error *err);

#endif
