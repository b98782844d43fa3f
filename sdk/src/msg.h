/*
 * The wire envelope shared by every cairn process.
 *
 * One msgpack map per ZeroMQ message (after the routing frames):
 *   request: {v, id, type, ts, from, body}
 *   reply:   {v, id, type, ts, from, re, ok: true, body}
 *            {v, id, type, ts, from, re, error: {code, message}}
 * id and re are 16-byte ULIDs (bin), ts unix nanoseconds, type a dotted name.
 * docs/protocol.md lists every type and its body.
 *
 * msg_decode is the one entry point from untrusted bytes to a checked message.
 */
#ifndef CAIRN_MSG_H
#define CAIRN_MSG_H

#include <msgpack.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "cairn/status.h"
#include "ulid.h"

#define MSG_VERSION 1
#define MSG_DEFAULT_LIMIT ((size_t)16 << 20)

/* A string inside a decoded message: not NUL-terminated. */
typedef struct msg_str {
    const char *p;
    uint32_t n;
} msg_str;

typedef enum msg_kind {
    MSG_REQUEST,
    MSG_REPLY_OK,
    MSG_REPLY_ERROR,
} msg_kind;

typedef struct msg {
    uint32_t v;
    ulid id;
    bool has_id;             /* false only when decoding failed before the id */
    msg_str type;
    int64_t ts;
    msg_str from;
    msg_kind kind;
    ulid re;                 /* replies only */
    cairn_status err_status; /* MSG_REPLY_ERROR only */
    msg_str err_message;
    const msgpack_object *body; /* always a map (an empty one when absent) */
} msg;

/* Decoding state reused across messages so its memory zone is reused too. */
typedef struct msg_decoder {
    msgpack_zone zone;
    size_t limit;
    size_t last_len; /* the last message's size: a large one grew the zone */
    bool zone_ok;    /* false when making the zone anew ran out of memory */
    msgpack_object root;
    msgpack_object empty_body;
} msg_decoder;

void msg_decoder_init(msg_decoder *d, size_t limit);
void msg_decoder_destroy(msg_decoder *d);
/* Gives back the memory a large message took (it is kept until the next
 * decode otherwise); what was decoded must not be used afterwards. */
void msg_decoder_trim(msg_decoder *d);

/*
 * Decodes and checks one message. Strings in out point into buf, which must
 * outlive every use of out; the next call reuses the decoder's memory.
 * Returns CAIRN_OK, or CAIRN_MESSAGE_TOO_LARGE, CAIRN_BAD_MESSAGE,
 * CAIRN_UNSUPPORTED_VERSION with a description in err.
 */
cairn_status msg_decode(msg_decoder *d, const void *buf, size_t len, msg *out, cairn_error *err);

/* Equality of a message string with a C string. */
bool msg_str_eq(msg_str s, const char *c);
/* Equality of two message strings. */
static inline bool msg_str_same(msg_str a, msg_str b)
{
    return a.n == b.n && (a.n == 0 || memcmp(a.p, b.p, a.n) == 0);
}

/* A C string as a message string (cut at 4 GiB, more than any message holds). */
static inline msg_str msg_str_of(const char *s)
{
    size_t n = strlen(s);
    return (msg_str){s, (uint32_t)(n > UINT32_MAX ? UINT32_MAX : n)};
}

/* Copies a message string into dst (always NUL-terminated, truncated to cap). */
void msg_str_copy(msg_str s, char *dst, size_t cap);

/* Unix nanoseconds, the envelope's clock. */
int64_t msg_now_ns(void);

/* ---- writing ---- */

typedef struct msg_writer {
    msgpack_sbuffer sb;
    msgpack_packer pk;
} msg_writer;

void msg_writer_init(msg_writer *w);
void msg_writer_reset(msg_writer *w);
void msg_writer_destroy(msg_writer *w);

/* Writes a request envelope whose body map has body_entries pairs; the caller
 * then packs exactly that many key/value pairs. */
void msg_start_request(msg_writer *w, const ulid *id, const char *type, const char *from,
                       uint32_t body_entries);

/* The same for an ok reply to the request re of the given type. */
void msg_start_reply(msg_writer *w, const ulid *re, msg_str type, const char *from,
                     uint32_t body_entries);

/* A complete error reply. re may be NULL when the request's id is unknown. */
void msg_error_reply(msg_writer *w, const ulid *re, msg_str type, const char *from,
                     cairn_status status, const char *message);

/* Packing helpers for bodies. */
static inline void mp_strn(msgpack_packer *pk, const char *s, size_t n)
{
    msgpack_pack_str(pk, n);
    msgpack_pack_str_body(pk, s, n);
}
/* Inline, so that the length of a literal (every key) is known when compiling. */
static inline void mp_str(msgpack_packer *pk, const char *s)
{
    mp_strn(pk, s ? s : "", s ? strlen(s) : 0);
}
void mp_msgstr(msgpack_packer *pk, msg_str s);
void mp_ulid(msgpack_packer *pk, const ulid *id);
void mp_bin(msgpack_packer *pk, const void *p, size_t n);
void mp_bool(msgpack_packer *pk, bool v);

#endif
