#include "msg.h"

#include <stdio.h>
#include <stddef.h>
#include <string.h>
#include <time.h>

#include "body.h"
#include "error.h"
#include "mp_scan.h"
#include "utf8.h"

int64_t msg_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

bool msg_str_eq(msg_str s, const char *c)
{
    size_t n = strlen(c);
    return s.n == n && (n == 0 || memcmp(s.p, c, n) == 0);
}

void msg_str_copy(msg_str s, char *dst, size_t cap)
{
    if (cap == 0)
        return;
    size_t n = s.n < cap - 1 ? s.n : cap - 1;
    /* A copy cut short ends before a character, not inside one: half a
     * character would show as U+FFFD wherever the copy is printed. */
    while (n < s.n && n > 0 && ((unsigned char)s.p[n] & 0xC0) == 0x80)
        n--;
    if (n)
        memcpy(dst, s.p, n);
    dst[n] = '\0';
}

void msg_decoder_init(msg_decoder *d, size_t limit)
{
    d->zone_ok = msgpack_zone_init(&d->zone, 4096);
    d->last_len = 0;
    d->limit = limit ? limit : MSG_DEFAULT_LIMIT;
    d->empty_body.type = MSGPACK_OBJECT_MAP;
    d->empty_body.via.map.size = 0;
    d->empty_body.via.map.ptr = NULL;
}

void msg_decoder_destroy(msg_decoder *d)
{
    if (d->zone_ok)
        msgpack_zone_destroy(&d->zone);
    d->zone_ok = false;
}

/* ---- envelope checks ---- */

static bool get_ulid(const msgpack_object *o, ulid *out)
{
    if (!o || o->type != MSGPACK_OBJECT_BIN || o->via.bin.size != ULID_BYTES)
        return false;
    memcpy(out->b, o->via.bin.ptr, ULID_BYTES);
    return true;
}

static bool get_str(const msgpack_object *o, msg_str *out)
{
    return o && obj_str(o, out);
}

static bool get_int(const msgpack_object *o, int64_t *out)
{
    return o && obj_int(o, out);
}

static bool type_name_ok(msg_str t)
{
    if (t.n == 0 || t.n > 64)
        return false;
    for (uint32_t i = 0; i < t.n; i++) {
        char c = t.p[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_'))
            return false;
    }
    return true;
}

/* The envelope's fields, found in one pass over its map (a message is
 * decoded for every request: seven lookups were a visible share of it). As
 * body_find, the first of repeated keys counts. */
typedef struct envelope {
    const msgpack_object *v, *id, *type, *ts, *from, *body, *re, *ok, *error;
} envelope;

static void note_field(const msgpack_object **slot, const msgpack_object *val)
{
    if (!*slot)
        *slot = val;
}

static void find_fields(const msgpack_object *root, envelope *e)
{
#define FIELD(name, member) {name, sizeof name - 1, offsetof(envelope, member)}
    static const struct {
        const char *name;
        uint32_t len;
        size_t off;
    } names[] = {
        FIELD("v", v),       FIELD("id", id),     FIELD("type", type),
        FIELD("ts", ts),     FIELD("from", from), FIELD("body", body),
        FIELD("re", re),     FIELD("ok", ok),     FIELD("error", error),
    };
#undef FIELD
    memset(e, 0, sizeof *e);
    for (uint32_t i = 0; i < root->via.map.size; i++) {
        const msgpack_object *k = &root->via.map.ptr[i].key;
        if (k->type != MSGPACK_OBJECT_STR || k->via.str.size > 5)
            continue;
        for (size_t n = 0; n < sizeof names / sizeof names[0]; n++) {
            if (names[n].len == k->via.str.size &&
                memcmp(names[n].name, k->via.str.ptr, k->via.str.size) == 0) {
                note_field((const msgpack_object **)((char *)e + names[n].off),
                           &root->via.map.ptr[i].val);
                break;
            }
        }
    }
}

static cairn_status decode_reply_part(const envelope *f, msg *out, cairn_error *err)
{
    if (!get_ulid(f->re, &out->re))
        return error_set(err, CAIRN_BAD_MESSAGE, "reply without a 16-byte 're'");
    if (f->ok && !f->error) {
        if (f->ok->type != MSGPACK_OBJECT_BOOLEAN || !f->ok->via.boolean)
            return error_set(err, CAIRN_BAD_MESSAGE, "reply field 'ok' must be true");
        out->kind = MSG_REPLY_OK;
        return CAIRN_OK;
    }
    const msgpack_object *e = f->error;
    if (!e || f->ok || e->type != MSGPACK_OBJECT_MAP)
        return error_set(err, CAIRN_BAD_MESSAGE, "reply needs exactly one of 'ok' or 'error'");
    msg_str code;
    if (!get_str(body_find(e, "code"), &code) || !get_str(body_find(e, "message"), &out->err_message))
        return error_set(err, CAIRN_BAD_MESSAGE, "error needs string 'code' and 'message'");
    out->kind = MSG_REPLY_ERROR;
    out->err_status = cairn_status_from_name(code.p, code.n);
    return CAIRN_OK;
}

static cairn_status check_envelope(msg_decoder *d, msg *out, cairn_error *err)
{
    const msgpack_object *root = &d->root;
    if (root->type != MSGPACK_OBJECT_MAP)
        return error_set(err, CAIRN_BAD_MESSAGE, "message is not a map");
    envelope f;
    find_fields(root, &f);
    out->has_id = get_ulid(f.id, &out->id) && !ulid_is_zero(&out->id);
    if (!out->has_id) /* all zero bytes: what a reply's re says when the id was unreadable */
        return error_set(err, CAIRN_BAD_MESSAGE, "missing or malformed 'id' (16-byte bin, not zero)");
    int64_t v;
    if (!get_int(f.v, &v))
        return error_set(err, CAIRN_BAD_MESSAGE, "missing or malformed 'v'");
    if (v != MSG_VERSION)
        return error_set(err, CAIRN_UNSUPPORTED_VERSION, "envelope version %lld, this peer speaks %d",
                         (long long)v, MSG_VERSION);
    out->v = (uint32_t)v;
    if (!get_str(f.type, &out->type) || !type_name_ok(out->type))
        return error_set(err, CAIRN_BAD_MESSAGE, "missing or malformed 'type'");
    if (!get_int(f.ts, &out->ts))
        return error_set(err, CAIRN_BAD_MESSAGE, "missing or malformed 'ts'");
    if (!get_str(f.from, &out->from) || out->from.n > 256)
        return error_set(err, CAIRN_BAD_MESSAGE, "missing or malformed 'from'");
    /* It names the actor in the audit log and on every operator's screen. */
    if (utf8_check(out->from.p, out->from.n, false) != UTF8_CLEAN)
        return error_set(err, CAIRN_BAD_MESSAGE,
                         "'from' must be UTF-8 text without control characters");
    const msgpack_object *body = f.body;
    if (body && body->type != MSGPACK_OBJECT_MAP && body->type != MSGPACK_OBJECT_NIL)
        return error_set(err, CAIRN_BAD_MESSAGE, "'body' must be a map");
    out->body = (body && body->type == MSGPACK_OBJECT_MAP) ? body : &d->empty_body;
    out->kind = MSG_REQUEST;
    if (f.re)
        return decode_reply_part(&f, out, err);
    return CAIRN_OK;
}

/* msgpack-c spends ~24 bytes per object, and a cleared zone keeps its
 * newest chunk: one large message (a 16 MiB frame of nils is 16 M objects,
 * ~400 MB) would stay allocated for the life of the process. After a large
 * message the zone is made anew, so that memory goes back. */
#define ZONE_KEEP_AFTER ((size_t)256 << 10)

static bool release_zone(msg_decoder *d)
{
    if (d->zone_ok && d->last_len <= ZONE_KEEP_AFTER) {
        msgpack_zone_clear(&d->zone);
        return true;
    }
    if (d->zone_ok)
        msgpack_zone_destroy(&d->zone);
    d->zone_ok = msgpack_zone_init(&d->zone, 4096);
    return d->zone_ok;
}

void msg_decoder_trim(msg_decoder *d)
{
    if (d->last_len > ZONE_KEEP_AFTER)
        release_zone(d);
    d->last_len = 0;
}

cairn_status msg_decode(msg_decoder *d, const void *buf, size_t len, msg *out, cairn_error *err)
{
    memset(out, 0, sizeof *out);
    if (!release_zone(d))
        return error_set(err, CAIRN_OUT_OF_MEMORY, "out of memory decoding a message");
    d->last_len = len;
    if (len > d->limit)
        return error_set(err, CAIRN_MESSAGE_TOO_LARGE, "message of %zu bytes exceeds the limit of %zu",
                         len, d->limit);
    const char *why = NULL;
    if (!mp_scan(buf, len, &why))
        return error_set(err, CAIRN_BAD_MESSAGE, "malformed msgpack: %s", why);
    size_t off = 0;
    msgpack_unpack_return r = msgpack_unpack(buf, len, &off, &d->zone, &d->root);
    if (r == MSGPACK_UNPACK_NOMEM_ERROR)
        return error_set(err, CAIRN_OUT_OF_MEMORY, "out of memory decoding a message");
    if (r != MSGPACK_UNPACK_SUCCESS)
        return error_set(err, CAIRN_BAD_MESSAGE, "malformed msgpack");
    return check_envelope(d, out, err);
}

/* ---- writing ---- */

void msg_writer_init(msg_writer *w)
{
    msgpack_sbuffer_init(&w->sb);
    msgpack_packer_init(&w->pk, &w->sb, msgpack_sbuffer_write);
}

void msg_writer_reset(msg_writer *w)
{
    msgpack_sbuffer_clear(&w->sb);
}

void msg_writer_destroy(msg_writer *w)
{
    msgpack_sbuffer_destroy(&w->sb);
}

void mp_msgstr(msgpack_packer *pk, msg_str s)
{
    mp_strn(pk, s.p, s.n);
}

void mp_bin(msgpack_packer *pk, const void *p, size_t n)
{
    msgpack_pack_bin(pk, n);
    msgpack_pack_bin_body(pk, p, n);
}

void mp_bool(msgpack_packer *pk, bool v)
{
    if (v)
        msgpack_pack_true(pk);
    else
        msgpack_pack_false(pk);
}

void mp_ulid(msgpack_packer *pk, const ulid *id)
{
    mp_bin(pk, id->b, ULID_BYTES);
}

static void start_envelope(msg_writer *w, uint32_t entries, const ulid *id, msg_str type,
                           const char *from)
{
    msgpack_packer *pk = &w->pk;
    msgpack_pack_map(pk, entries);
    mp_str(pk, "v");
    msgpack_pack_uint32(pk, MSG_VERSION);
    mp_str(pk, "id");
    mp_ulid(pk, id);
    mp_str(pk, "type");
    mp_msgstr(pk, type);
    mp_str(pk, "ts");
    msgpack_pack_int64(pk, msg_now_ns());
    mp_str(pk, "from");
    mp_str(pk, from);
}

void msg_start_request(msg_writer *w, const ulid *id, const char *type, const char *from,
                       uint32_t body_entries)
{
    msg_str t = {type, (uint32_t)strlen(type)};
    start_envelope(w, 6, id, t, from);
    mp_str(&w->pk, "body");
    msgpack_pack_map(&w->pk, body_entries);
}

void msg_start_reply(msg_writer *w, const ulid *re, msg_str type, const char *from,
                     uint32_t body_entries)
{
    msgpack_packer *pk = &w->pk;
    ulid id = ulid_new();
    start_envelope(w, 8, &id, type, from);
    mp_str(pk, "re");
    mp_ulid(pk, re);
    mp_str(pk, "ok");
    msgpack_pack_true(pk);
    mp_str(pk, "body");
    msgpack_pack_map(pk, body_entries);
}

void msg_error_reply(msg_writer *w, const ulid *re, msg_str type, const char *from,
                     cairn_status status, const char *message)
{
    static const ulid unknown; /* all zero: the request's id could not be read */
    msgpack_packer *pk = &w->pk;
    ulid id = ulid_new();
    start_envelope(w, 7, &id, type, from);
    mp_str(pk, "re");
    mp_ulid(pk, re ? re : &unknown);
    mp_str(pk, "error");
    msgpack_pack_map(pk, 2);
    mp_str(pk, "code");
    mp_str(pk, cairn_status_name(status));
    mp_str(pk, "message");
    mp_str(pk, message);
}
