/* The wire codec: envelopes (sdk/src/msg.c), the pre-unpack scan
 * (sdk/src/mp_scan.c), body accessors (sdk/src/body.c) and ULIDs (sdk/src/ulid.c).
 * docs/protocol.md, "What a receiver refuses", is the specification tested here. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "body.h"
#include "mp_scan.h"
#include "msg.h"
#include "ulid.h"

/* ---- fixture: one decoder reused by every decode in a test ------------- */

static msg_decoder g_dec;
static msg g_msg;
static cairn_error g_err;
static unsigned char *g_copy; /* the bytes g_msg points into */
static msgpack_sbuffer g_sb;  /* built envelopes; freed by teardown even after a failure */

static int setup(void **state)
{
    (void)state;
    msg_decoder_init(&g_dec, 0);
    msgpack_sbuffer_init(&g_sb);
    g_copy = NULL;
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    msg_decoder_destroy(&g_dec);
    msgpack_sbuffer_destroy(&g_sb);
    free(g_copy);
    g_copy = NULL;
    return 0;
}

/* Decodes a copy of buf held in a heap block of exactly n bytes, so that the
 * sanitizer build catches any read past the end. */
static cairn_status decode(const void *buf, size_t n)
{
    free(g_copy);
    g_copy = malloc(n ? n : 1);
    assert_non_null(g_copy);
    if (n)
        memcpy(g_copy, buf, n);
    g_err.status = (cairn_status)-1;
    strcpy(g_err.message, "untouched");
    return msg_decode(&g_dec, g_copy, n, &g_msg, &g_err);
}

static void expect_status(const void *buf, size_t n, cairn_status want, const char *why_part)
{
    cairn_status st = decode(buf, n);
    if (st != want)
        print_error("status %s, want %s (%s)\n", cairn_status_name(st), cairn_status_name(want),
                    g_err.message);
    assert_int_equal(st, want);
    if (want != CAIRN_OK) {
        assert_int_equal(g_err.status, want);
        assert_true(g_err.message[0] != '\0');
        if (why_part && !strstr(g_err.message, why_part)) {
            print_error("message '%s' lacks '%s'\n", g_err.message, why_part);
            fail();
        }
    }
}

#define expect_bad(buf, n) expect_status(buf, n, CAIRN_BAD_MESSAGE, NULL)

static bool ulid_eq(const ulid *a, const ulid *b)
{
    return memcmp(a->b, b->b, ULID_BYTES) == 0;
}

static ulid ulid_pattern(uint8_t seed)
{
    ulid id;
    for (int i = 0; i < ULID_BYTES; i++)
        id.b[i] = (uint8_t)(seed + 17 * i);
    return id;
}

/* ---- envelope builder: the standard request fields, with changes ------- */

enum field_kind {
    F_OMIT, /* leave the standard field out */
    F_UINT,
    F_INT,
    F_STR,  /* s (n bytes, or strlen(s) when n is 0) */
    F_BIN,  /* n bytes of a pattern */
    F_NIL,
    F_TRUE,
    F_FALSE,
    F_DOUBLE,
    F_RAW,  /* n bytes of already-encoded msgpack in s */
};

typedef struct field {
    const char *key;
    enum field_kind kind;
    int64_t i;
    const char *s;
    size_t n;
    double d;
} field;

static const ulid k_id = {{0x01, 0x8f, 0x3a, 0x22, 0x10, 0x00, 0xaa, 0xbb,
                           0xcc, 0xdd, 0xee, 0xff, 0x11, 0x22, 0x33, 0x44}};

static void pack_field_value(msgpack_packer *pk, const field *f, msgpack_sbuffer *sb)
{
    switch (f->kind) {
    case F_OMIT: break;
    case F_UINT: msgpack_pack_uint64(pk, (uint64_t)f->i); break;
    case F_INT: msgpack_pack_int64(pk, f->i); break;
    case F_STR: mp_strn(pk, f->s, f->n ? f->n : strlen(f->s)); break;
    case F_BIN: {
        unsigned char tmp[64] = {0};
        assert_true(f->n <= sizeof tmp);
        for (size_t i = 0; i < f->n; i++)
            tmp[i] = (unsigned char)(i * 7 + 1);
        mp_bin(pk, tmp, f->n);
        break;
    }
    case F_NIL: msgpack_pack_nil(pk); break;
    case F_TRUE: msgpack_pack_true(pk); break;
    case F_FALSE: msgpack_pack_false(pk); break;
    case F_DOUBLE: msgpack_pack_double(pk, f->d); break;
    case F_RAW: msgpack_sbuffer_write(sb, f->s, f->n); break;
    }
}

/* Writes {v:1, id, type:"run.log", ts, from, body:{}} into sb, with each
 * change replacing (or, F_OMIT, removing) the standard field of its key and
 * changes of other keys appended. Returns the encoded size. */
static size_t build(msgpack_sbuffer *sb, const field *changes, size_t nchanges)
{
    field std[] = {
        {"v", F_UINT, 1, NULL, 0, 0},
        {"id", F_RAW, 0, NULL, 0, 0}, /* filled below */
        {"type", F_STR, 0, "run.log", 0, 0},
        {"ts", F_INT, 1700000000123456789, NULL, 0, 0},
        {"from", F_STR, 0, "sdk:tester@host", 0, 0},
        {"body", F_RAW, 0, "\x80", 1, 0},
    };
    char idbytes[2 + ULID_BYTES] = {(char)0xc4, ULID_BYTES};
    memcpy(idbytes + 2, k_id.b, ULID_BYTES);
    std[1].s = idbytes;
    std[1].n = sizeof idbytes;

    const field *use[32];
    size_t count = 0;
    bool taken[16] = {false};
    assert_true(nchanges <= 16);
    for (size_t i = 0; i < sizeof std / sizeof std[0]; i++) {
        const field *f = &std[i];
        for (size_t c = 0; c < nchanges; c++) {
            if (strcmp(changes[c].key, std[i].key) == 0) {
                f = &changes[c];
                taken[c] = true;
            }
        }
        if (f->kind != F_OMIT)
            use[count++] = f;
    }
    for (size_t c = 0; c < nchanges; c++)
        if (!taken[c] && changes[c].kind != F_OMIT)
            use[count++] = &changes[c];

    msgpack_sbuffer_clear(sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, count);
    for (size_t i = 0; i < count; i++) {
        mp_str(&pk, use[i]->key);
        pack_field_value(&pk, use[i], sb);
    }
    return sb->size;
}

/* Builds with changes and expects the given status. */
static void expect_built(const field *changes, size_t nchanges, cairn_status want,
                         const char *why_part)
{
    size_t n = build(&g_sb, changes, nchanges);
    expect_status(g_sb.data, n, want, why_part);
}

/* A change whose value is a string literal of encoded msgpack. */
#define RAW(key, lit) {key, F_RAW, 0, lit, sizeof(lit) - 1, 0}

#define CHANGES(...) ((const field[]){__VA_ARGS__}), \
    (sizeof((const field[]){__VA_ARGS__}) / sizeof(field))

/* ---- round trips ------------------------------------------------------- */

static unsigned char g_bigbin[70000];
static char g_longstr[300];

enum { BODY_ENTRIES = 21 };

static void pack_every_type_body(msgpack_packer *pk, const ulid *run)
{
    for (size_t i = 0; i < sizeof g_bigbin; i++)
        g_bigbin[i] = (unsigned char)(i * 31);
    memset(g_longstr, 'q', sizeof g_longstr);

    mp_str(pk, "s"); mp_str(pk, "hello w\xc3\xb6rld");
    mp_str(pk, "empty"); mp_str(pk, "");
    mp_str(pk, "bin"); mp_bin(pk, "\0\1\2\xff", 4);
    mp_str(pk, "run"); mp_ulid(pk, run);
    mp_str(pk, "pos"); msgpack_pack_int64(pk, 1700000000123);
    mp_str(pk, "neg"); msgpack_pack_int64(pk, -42);
    mp_str(pk, "min"); msgpack_pack_int64(pk, INT64_MIN);
    mp_str(pk, "max"); msgpack_pack_uint64(pk, INT64_MAX);
    mp_str(pk, "huge"); msgpack_pack_uint64(pk, UINT64_MAX);
    mp_str(pk, "d"); msgpack_pack_double(pk, -0.125);
    mp_str(pk, "f32"); msgpack_pack_float(pk, 1.5f);
    mp_str(pk, "nan"); msgpack_pack_double(pk, NAN);
    mp_str(pk, "pinf"); msgpack_pack_double(pk, INFINITY);
    mp_str(pk, "ninf"); msgpack_pack_double(pk, -INFINITY);
    mp_str(pk, "yes"); mp_bool(pk, true);
    mp_str(pk, "no"); mp_bool(pk, false);
    mp_str(pk, "nil"); msgpack_pack_nil(pk);
    mp_str(pk, "tags");
    msgpack_pack_map(pk, 2);
    mp_str(pk, "k1"); mp_str(pk, "v1");
    mp_str(pk, "k2"); mp_str(pk, "v2");
    mp_str(pk, "metrics");
    msgpack_pack_array(pk, 2);
    for (int i = 0; i < 2; i++) {
        msgpack_pack_array(pk, 4);
        mp_str(pk, i ? "acc" : "loss");
        msgpack_pack_double(pk, i ? NAN : 0.5);
        msgpack_pack_int64(pk, i);
        msgpack_pack_int64(pk, 1700000000000 + i);
    }
    mp_str(pk, "bigbin"); mp_bin(pk, g_bigbin, sizeof g_bigbin);  /* bin32 */
    mp_str(pk, "long"); mp_strn(pk, g_longstr, sizeof g_longstr); /* str16 */
}

static void check_every_type_body(const msgpack_object *b, const ulid *run)
{
    cairn_error err;
    msg_str s;
    assert_int_equal(b->type, MSGPACK_OBJECT_MAP);
    assert_int_equal(b->via.map.size, BODY_ENTRIES);

    assert_int_equal(body_str(b, "s", true, &s, &err), CAIRN_OK);
    assert_true(msg_str_eq(s, "hello w\xc3\xb6rld"));
    assert_int_equal(body_str(b, "empty", true, &s, &err), CAIRN_OK);
    assert_int_equal(s.n, 0);
    assert_int_equal(body_bin(b, "bin", true, &s, &err), CAIRN_OK);
    assert_int_equal(s.n, 4);
    assert_memory_equal(s.p, "\0\1\2\xff", 4);
    ulid got;
    assert_int_equal(body_ulid(b, "run", true, &got, &err), CAIRN_OK);
    assert_true(ulid_eq(&got, run));

    int64_t i;
    assert_int_equal(body_int(b, "pos", true, &i, &err), CAIRN_OK);
    assert_true(i == 1700000000123);
    assert_int_equal(body_int(b, "neg", true, &i, &err), CAIRN_OK);
    assert_true(i == -42);
    assert_int_equal(body_int(b, "min", true, &i, &err), CAIRN_OK);
    assert_true(i == INT64_MIN);
    assert_int_equal(body_int(b, "max", true, &i, &err), CAIRN_OK);
    assert_true(i == INT64_MAX);
    /* a uint beyond int64 is not an int64 */
    assert_int_equal(body_int(b, "huge", true, &i, &err), CAIRN_BAD_MESSAGE);

    double d;
    assert_int_equal(body_double(b, "d", true, &d, &err), CAIRN_OK);
    assert_true(d == -0.125);
    assert_int_equal(body_double(b, "f32", true, &d, &err), CAIRN_OK);
    assert_true(d == 1.5);
    assert_int_equal(body_double(b, "nan", true, &d, &err), CAIRN_OK);
    assert_true(isnan(d));
    assert_int_equal(body_double(b, "pinf", true, &d, &err), CAIRN_OK);
    assert_true(isinf(d) && d > 0);
    assert_int_equal(body_double(b, "ninf", true, &d, &err), CAIRN_OK);
    assert_true(isinf(d) && d < 0);
    /* integers are numbers too */
    assert_int_equal(body_double(b, "neg", true, &d, &err), CAIRN_OK);
    assert_true(d == -42.0);
    assert_int_equal(body_double(b, "huge", true, &d, &err), CAIRN_OK);
    assert_true(d == (double)UINT64_MAX);

    bool flag = false;
    assert_int_equal(body_bool(b, "yes", true, &flag, &err), CAIRN_OK);
    assert_true(flag);
    assert_int_equal(body_bool(b, "no", true, &flag, &err), CAIRN_OK);
    assert_false(flag);

    const msgpack_object *nil = body_find(b, "nil");
    assert_non_null(nil);
    assert_int_equal(nil->type, MSGPACK_OBJECT_NIL);

    const msgpack_object *tags = NULL;
    assert_int_equal(body_map(b, "tags", true, &tags, &err), CAIRN_OK);
    assert_int_equal(tags->type, MSGPACK_OBJECT_MAP);
    assert_int_equal(body_str(tags, "k2", true, &s, &err), CAIRN_OK);
    assert_true(msg_str_eq(s, "v2"));

    const msgpack_object *metrics = NULL;
    assert_int_equal(body_array(b, "metrics", true, &metrics, &err), CAIRN_OK);
    assert_int_equal(metrics->via.array.size, 2);
    for (uint32_t k = 0; k < 2; k++) {
        const msgpack_object *pt = &metrics->via.array.ptr[k];
        assert_int_equal(pt->type, MSGPACK_OBJECT_ARRAY);
        assert_int_equal(pt->via.array.size, 4);
        assert_true(obj_str(&pt->via.array.ptr[0], &s));
        assert_true(msg_str_eq(s, k ? "acc" : "loss"));
        assert_true(obj_double(&pt->via.array.ptr[1], &d));
        assert_true(k ? isnan(d) : d == 0.5);
        assert_true(obj_int(&pt->via.array.ptr[2], &i));
        assert_true(i == (int64_t)k);
        assert_true(obj_int(&pt->via.array.ptr[3], &i));
        assert_true(i == 1700000000000 + (int64_t)k);
        /* obj_* refuse the wrong types */
        assert_false(obj_int(&pt->via.array.ptr[0], &i));
        assert_false(obj_double(&pt->via.array.ptr[0], &d));
        assert_false(obj_str(&pt->via.array.ptr[2], &s));
    }

    assert_int_equal(body_bin(b, "bigbin", true, &s, &err), CAIRN_OK);
    assert_int_equal(s.n, sizeof g_bigbin);
    assert_memory_equal(s.p, g_bigbin, sizeof g_bigbin);
    assert_int_equal(body_str(b, "long", true, &s, &err), CAIRN_OK);
    assert_int_equal(s.n, sizeof g_longstr);
    assert_memory_equal(s.p, g_longstr, sizeof g_longstr);
}

static void test_request_round_trip(void **state)
{
    (void)state;
    msg_writer w;
    msg_writer_init(&w);
    ulid id = ulid_new(), run = ulid_pattern(9);
    int64_t before = msg_now_ns();
    msg_start_request(&w, &id, "run.log", "sdk:alice@host", BODY_ENTRIES);
    pack_every_type_body(&w.pk, &run);
    int64_t after = msg_now_ns();

    assert_int_equal(decode(w.sb.data, w.sb.size), CAIRN_OK);
    assert_int_equal(g_msg.kind, MSG_REQUEST);
    assert_int_equal(g_msg.v, MSG_VERSION);
    assert_true(g_msg.has_id);
    assert_true(ulid_eq(&g_msg.id, &id));
    assert_true(msg_str_eq(g_msg.type, "run.log"));
    assert_true(msg_str_eq(g_msg.from, "sdk:alice@host"));
    assert_true(g_msg.ts >= before && g_msg.ts <= after);
    check_every_type_body(g_msg.body, &run);

    /* the decoder and the writer are reusable */
    msg_writer_reset(&w);
    msg_start_request(&w, &id, "ping", "cli:bob@host", 0);
    assert_int_equal(decode(w.sb.data, w.sb.size), CAIRN_OK);
    assert_true(msg_str_eq(g_msg.type, "ping"));
    assert_int_equal(g_msg.body->type, MSGPACK_OBJECT_MAP);
    assert_int_equal(g_msg.body->via.map.size, 0);
    msg_writer_destroy(&w);
}

static void test_body_absent_or_nil_is_empty_map(void **state)
{
    (void)state;
    expect_built(CHANGES({"body", F_OMIT, 0, NULL, 0, 0}), CAIRN_OK, NULL);
    assert_int_equal(g_msg.kind, MSG_REQUEST);
    assert_non_null(g_msg.body);
    assert_int_equal(g_msg.body->type, MSGPACK_OBJECT_MAP);
    assert_int_equal(g_msg.body->via.map.size, 0);
    assert_null(body_find(g_msg.body, "anything"));

    expect_built(CHANGES({"body", F_NIL, 0, NULL, 0, 0}), CAIRN_OK, NULL);
    assert_int_equal(g_msg.body->type, MSGPACK_OBJECT_MAP);
    assert_int_equal(g_msg.body->via.map.size, 0);
    cairn_error err;
    msg_str s;
    assert_int_equal(body_str(g_msg.body, "name", true, &s, &err), CAIRN_BAD_MESSAGE);
    assert_non_null(strstr(err.message, "name"));
}

static void test_ok_reply_round_trip(void **state)
{
    (void)state;
    msg_writer w;
    msg_writer_init(&w);
    ulid re = ulid_pattern(3);
    msg_str type = {"run.start", 9};
    msg_start_reply(&w, &re, type, "coordinator", 2);
    mp_str(&w.pk, "seq");
    msgpack_pack_uint64(&w.pk, 77);
    mp_str(&w.pk, "duplicate");
    mp_bool(&w.pk, false);

    assert_int_equal(decode(w.sb.data, w.sb.size), CAIRN_OK);
    assert_int_equal(g_msg.kind, MSG_REPLY_OK);
    assert_true(ulid_eq(&g_msg.re, &re));
    assert_false(ulid_eq(&g_msg.id, &re));
    assert_true(msg_str_eq(g_msg.type, "run.start"));
    assert_true(msg_str_eq(g_msg.from, "coordinator"));
    cairn_error err;
    int64_t seq = 0;
    bool dup = true;
    assert_int_equal(body_int(g_msg.body, "seq", true, &seq, &err), CAIRN_OK);
    assert_true(seq == 77);
    assert_int_equal(body_bool(g_msg.body, "duplicate", true, &dup, &err), CAIRN_OK);
    assert_false(dup);
    msg_writer_destroy(&w);
}

static void test_error_reply_round_trip(void **state)
{
    (void)state;
    msg_writer w;
    msg_writer_init(&w);
    ulid re = ulid_pattern(5);
    msg_str type = {"run.get", 7};
    for (int st = 1; st < CAIRN_STATUS_COUNT_; st++) {
        char text[64];
        snprintf(text, sizeof text, "failure number %d", st);
        msg_writer_reset(&w);
        msg_error_reply(&w, &re, type, "coordinator", (cairn_status)st, text);
        assert_int_equal(decode(w.sb.data, w.sb.size), CAIRN_OK);
        assert_int_equal(g_msg.kind, MSG_REPLY_ERROR);
        assert_int_equal(g_msg.err_status, st);
        assert_true(msg_str_eq(g_msg.err_message, text));
        assert_true(ulid_eq(&g_msg.re, &re));
        assert_true(msg_str_eq(g_msg.type, "run.get"));
        assert_int_equal(g_msg.body->type, MSGPACK_OBJECT_MAP);
        assert_int_equal(g_msg.body->via.map.size, 0);
    }

    /* NULL re: all zero bytes; NULL message: empty */
    msg_writer_reset(&w);
    msg_error_reply(&w, NULL, type, "coordinator", CAIRN_BAD_MESSAGE, NULL);
    assert_int_equal(decode(w.sb.data, w.sb.size), CAIRN_OK);
    assert_int_equal(g_msg.kind, MSG_REPLY_ERROR);
    assert_int_equal(g_msg.err_status, CAIRN_BAD_MESSAGE);
    assert_int_equal(g_msg.err_message.n, 0);
    const ulid zero = {{0}};
    assert_true(ulid_eq(&g_msg.re, &zero));
    assert_false(ulid_eq(&g_msg.id, &zero));
    msg_writer_destroy(&w);
}

static void test_error_reply_unknown_code(void **state)
{
    (void)state;
    char raw[] = "\x82\xa4" "code" "\xa9" "NOT_A_COD" "\xa7" "message" "\xa2" "hm";
    expect_built(CHANGES({"re", F_BIN, 0, NULL, 16, 0},
                         {"error", F_RAW, 0, raw, sizeof raw - 1, 0}),
                 CAIRN_OK, NULL);
    assert_int_equal(g_msg.kind, MSG_REPLY_ERROR);
    assert_int_equal(g_msg.err_status, CAIRN_INTERNAL_ERROR);
    assert_true(msg_str_eq(g_msg.err_message, "hm"));
}

static void test_special_doubles_survive(void **state)
{
    (void)state;
    const double values[] = {NAN, -NAN, INFINITY, -INFINITY, 0.0, -0.0, 5e-324, 1.7976931348623157e308};
    msg_writer w;
    msg_writer_init(&w);
    ulid id = ulid_pattern(1);
    for (size_t k = 0; k < sizeof values / sizeof values[0]; k++) {
        msg_writer_reset(&w);
        msg_start_request(&w, &id, "run.log", "sdk:x@y", 1);
        mp_str(&w.pk, "x");
        msgpack_pack_double(&w.pk, values[k]);
        assert_int_equal(decode(w.sb.data, w.sb.size), CAIRN_OK);
        double d = 1234.0;
        cairn_error err;
        assert_int_equal(body_double(g_msg.body, "x", true, &d, &err), CAIRN_OK);
        if (isnan(values[k]))
            assert_true(isnan(d));
        else
            assert_memory_equal(&d, &values[k], sizeof d); /* bit-exact, -0.0 included */
    }
    msg_writer_destroy(&w);
}

static void test_msg_str_helpers(void **state)
{
    (void)state;
    msg_str s = {"abcdef", 3};
    assert_true(msg_str_eq(s, "abc"));
    assert_false(msg_str_eq(s, "abcd"));
    assert_false(msg_str_eq(s, "ab"));
    msg_str empty = {"", 0};
    assert_true(msg_str_eq(empty, ""));
    assert_false(msg_str_eq(empty, "a"));

    char dst[8];
    msg_str_copy(s, dst, sizeof dst);
    assert_string_equal(dst, "abc");
    msg_str_copy(s, dst, 3);
    assert_string_equal(dst, "ab");
    msg_str_copy(s, dst, 1);
    assert_string_equal(dst, "");
    dst[0] = 'Z';
    msg_str_copy(s, dst, 0);
    assert_int_equal(dst[0], 'Z');
    msg_str_copy(empty, dst, sizeof dst);
    assert_string_equal(dst, "");
    msg_str null_empty = {NULL, 0}; /* what msg_decode leaves in fields it did not reach */
    msg_str_copy(null_empty, dst, sizeof dst);
    assert_string_equal(dst, "");
}

/* ---- ULIDs ------------------------------------------------------------- */

static void test_ulid_format_known_values(void **state)
{
    (void)state;
    char text[ULID_TEXT_LEN + 1];
    ulid id = {{0}};
    ulid_format(&id, text);
    assert_string_equal(text, "00000000000000000000000000");
    memset(id.b, 0xff, sizeof id.b);
    ulid_format(&id, text);
    assert_string_equal(text, "7ZZZZZZZZZZZZZZZZZZZZZZZZZ");

    /* the ULID spec's example time, 1469918176385 ms, is "01ARYZ6S41" */
    uint64_t ms = 1469918176385;
    memset(id.b, 0, sizeof id.b);
    for (int i = 5; i >= 0; i--, ms >>= 8)
        id.b[i] = (uint8_t)(ms & 0xff);
    ulid_format(&id, text);
    assert_string_equal(text, "01ARYZ6S410000000000000000");
    assert_true(ulid_time_ms(&id) == 1469918176385);

    ulid parsed;
    assert_true(ulid_parse("01ARYZ6S41TSV4RRFFQ69G5FAV", &parsed));
    assert_true(ulid_time_ms(&parsed) == 1469918176385);
    ulid_format(&parsed, text);
    assert_string_equal(text, "01ARYZ6S41TSV4RRFFQ69G5FAV");
}

static void test_ulid_round_trip(void **state)
{
    (void)state;
    char text[ULID_TEXT_LEN + 1];
    for (int k = 0; k < 2000; k++) {
        ulid id;
        if (k < 256) {
            id = ulid_pattern((uint8_t)k);
        } else if (k < 256 + 128) {
            memset(id.b, 0, sizeof id.b); /* one bit set: every bit position */
            int bit = k - 256;
            id.b[bit / 8] = (uint8_t)(0x80u >> (bit % 8));
        } else {
            id = ulid_new();
        }
        ulid_format(&id, text);
        assert_int_equal(strlen(text), ULID_TEXT_LEN);
        assert_true(text[0] >= '0' && text[0] <= '7');
        ulid back;
        memset(back.b, 0xa5, sizeof back.b);
        assert_true(ulid_parse(text, &back));
        assert_true(ulid_eq(&id, &back));
    }
}

static void test_ulid_parse_case_insensitive(void **state)
{
    (void)state;
    ulid upper, lower, mixed;
    assert_true(ulid_parse("01ARYZ6S41TSV4RRFFQ69G5FAV", &upper));
    assert_true(ulid_parse("01aryz6s41tsv4rrffq69g5fav", &lower));
    assert_true(ulid_parse("01aRyZ6s41TsV4rRfFq69G5fAv", &mixed));
    assert_true(ulid_eq(&upper, &lower));
    assert_true(ulid_eq(&upper, &mixed));
    ulid top;
    assert_true(ulid_parse("7zzzzzzzzzzzzzzzzzzzzzzzzz", &top));
    for (int i = 0; i < ULID_BYTES; i++)
        assert_int_equal(top.b[i], 0xff);
}

static void test_ulid_parse_rejects(void **state)
{
    (void)state;
    ulid out;
    const char *bad[] = {
        "",
        "01ARYZ6S41TSV4RRFFQ69G5FA",   /* 25 */
        "01ARYZ6S41TSV4RRFFQ69G5FAVX", /* 27 */
        "01ARYZ6S41TSV4RRFFQ69G5FA!",
        "01ARYZ6S41TSV4RRFFQ69G5FA ",
        " 1ARYZ6S41TSV4RRFFQ69G5FAV",
        "01ARYZ6S41TSV4RRFFQ69G5FAU",  /* U is not in the alphabet */
        "01ARYZ6S41TSV4RRFFQ69G5FAI",  /* nor I, L, O */
        "01ARYZ6S41TSV4RRFFQ69G5FAL",
        "01ARYZ6S41TSV4RRFFQ69G5FAO",
        "01ARYZ6S41TSV4RRFFQ69G5FA-",
        "01ARYZ6S41TSV4RRFFQ69G5FA\xc3",
        "80000000000000000000000000",  /* first char carries 3 bits: > 7 overflows */
        "Z0000000000000000000000000",
        "z0000000000000000000000000",
        "8ZZZZZZZZZZZZZZZZZZZZZZZZZ",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (ulid_parse(bad[i], &out)) {
            print_error("accepted '%s'\n", bad[i]);
            fail();
        }
    }
    assert_false(ulid_parse(NULL, &out));
    /* an embedded NUL shortens the string */
    char nul[] = "01ARYZ6S41TSV4RRFFQ69G5FAV";
    nul[10] = '\0';
    assert_false(ulid_parse(nul, &out));
    assert_true(ulid_parse("70000000000000000000000000", &out));
    assert_int_equal(out.b[0], 0xe0);
}

static uint64_t realtime_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void test_ulid_new_time_ordered(void **state)
{
    (void)state;
    uint64_t before = realtime_ms();
    ulid prev = ulid_new();
    uint64_t after = realtime_ms();
    assert_true(ulid_time_ms(&prev) >= before && ulid_time_ms(&prev) <= after);
    char prev_text[ULID_TEXT_LEN + 1], text[ULID_TEXT_LEN + 1];
    ulid_format(&prev, prev_text);
    for (int k = 0; k < 20; k++) {
        struct timespec pause = {0, 2 * 1000 * 1000};
        nanosleep(&pause, NULL);
        ulid next = ulid_new();
        assert_true(ulid_time_ms(&next) > ulid_time_ms(&prev));
        assert_true(memcmp(prev.b, next.b, ULID_BYTES) < 0);
        ulid_format(&next, text);
        assert_true(strcmp(prev_text, text) < 0); /* text sorts the same way */
        prev = next;
        memcpy(prev_text, text, sizeof text);
    }
    /* the random part is random: two ids of the same millisecond differ */
    ulid a = ulid_new(), b = ulid_new();
    assert_false(ulid_eq(&a, &b));
}

/* ---- rejections -------------------------------------------------------- */

/* The valid messages the truncation, trailing-byte and mutation tests start from. */
typedef struct sample {
    unsigned char *p;
    size_t n;
} sample;

enum { SAMPLE_COUNT = 5 };

static void make_samples(sample out[SAMPLE_COUNT])
{
    msg_writer w;
    ulid id = ulid_pattern(11), re = ulid_pattern(12), run = ulid_pattern(13);
    for (int k = 0; k < SAMPLE_COUNT; k++) {
        msg_writer_init(&w);
        switch (k) {
        case 0:
            msg_start_request(&w, &id, "run.log", "sdk:alice@host", 3);
            mp_str(&w.pk, "run"); mp_ulid(&w.pk, &run);
            mp_str(&w.pk, "params");
            msgpack_pack_map(&w.pk, 2);
            mp_str(&w.pk, "lr"); mp_str(&w.pk, "0.01");
            mp_str(&w.pk, "layers"); mp_str(&w.pk, "4");
            mp_str(&w.pk, "metrics");
            msgpack_pack_array(&w.pk, 2);
            for (int i = 0; i < 2; i++) {
                msgpack_pack_array(&w.pk, 4);
                mp_str(&w.pk, "loss");
                msgpack_pack_double(&w.pk, i ? NAN : 0.25);
                msgpack_pack_int64(&w.pk, i);
                msgpack_pack_int64(&w.pk, -5 - i);
            }
            break;
        case 1:
            msg_start_request(&w, &id, "ping", "cli:bob@host", 0);
            break;
        case 2: {
            msg_str t = {"run.start", 9};
            msg_start_reply(&w, &re, t, "coordinator", 3);
            mp_str(&w.pk, "seq"); msgpack_pack_uint64(&w.pk, 1u << 20);
            mp_str(&w.pk, "duplicate"); mp_bool(&w.pk, true);
            mp_str(&w.pk, "experiment_id"); msgpack_pack_uint32(&w.pk, 7);
            break;
        }
        case 3: {
            msg_str t = {"run.get", 7};
            msg_error_reply(&w, &re, t, "coordinator", CAIRN_RESOURCE_DOES_NOT_EXIST,
                            "no run 01ARYZ6S41TSV4RRFFQ69G5FAV");
            break;
        }
        default:
            msg_start_request(&w, &id, "artifact.put", "sdk:alice@host", 6);
            mp_str(&w.pk, "upload"); mp_ulid(&w.pk, &re);
            mp_str(&w.pk, "run"); mp_ulid(&w.pk, &run);
            mp_str(&w.pk, "path"); mp_str(&w.pk, "model/weights.bin");
            mp_str(&w.pk, "offset"); msgpack_pack_uint64(&w.pk, 0);
            mp_str(&w.pk, "data"); mp_bin(&w.pk, "\x00\xc1\xdd\xff\xff\xff\xff", 7);
            mp_str(&w.pk, "last"); mp_bool(&w.pk, false);
            break;
        }
        out[k].n = w.sb.size;
        out[k].p = malloc(w.sb.size);
        assert_non_null(out[k].p);
        memcpy(out[k].p, w.sb.data, w.sb.size);
        msg_writer_destroy(&w);
    }
}

static void free_samples(sample s[SAMPLE_COUNT])
{
    for (int k = 0; k < SAMPLE_COUNT; k++)
        free(s[k].p);
}

static void test_reject_too_large(void **state)
{
    (void)state;
    sample s[SAMPLE_COUNT];
    make_samples(s);
    msg_decoder small;
    msg_decoder_init(&small, s[0].n);
    msg m;
    cairn_error err;
    /* exactly at the limit: fine */
    assert_int_equal(msg_decode(&small, s[0].p, s[0].n, &m, &err), CAIRN_OK);
    /* one byte more: too large, decided before the bytes are looked at */
    unsigned char *big = calloc(1, s[0].n + 1);
    memcpy(big, s[0].p, s[0].n);
    assert_int_equal(msg_decode(&small, big, s[0].n + 1, &m, &err), CAIRN_MESSAGE_TOO_LARGE);
    assert_int_equal(err.status, CAIRN_MESSAGE_TOO_LARGE);
    assert_false(m.has_id);
    free(big);
    msg_decoder_destroy(&small);

    /* the default limit is 16 MiB; a larger frame is refused unread */
    assert_true(g_dec.limit == MSG_DEFAULT_LIMIT);
    size_t huge = MSG_DEFAULT_LIMIT + 1;
    unsigned char *h = malloc(huge);
    assert_non_null(h);
    memset(h, 0xc1, huge);
    assert_int_equal(msg_decode(&g_dec, h, huge, &m, &err), CAIRN_MESSAGE_TOO_LARGE);
    free(h);
    free_samples(s);
}

static void test_reject_empty(void **state)
{
    (void)state;
    expect_status("", 0, CAIRN_BAD_MESSAGE, "truncated");
    assert_false(g_msg.has_id);
}

static void test_reject_every_truncation(void **state)
{
    (void)state;
    sample s[SAMPLE_COUNT];
    make_samples(s);
    size_t total = 0;
    for (int k = 0; k < SAMPLE_COUNT; k++) {
        expect_status(s[k].p, s[k].n, CAIRN_OK, NULL);
        for (size_t len = 0; len < s[k].n; len++) {
            cairn_status st = decode(s[k].p, len);
            if (st != CAIRN_BAD_MESSAGE) {
                print_error("sample %d prefix %zu/%zu: %s\n", k, len, s[k].n,
                            cairn_status_name(st));
                fail();
            }
            /* "truncated", or a count the remaining bytes cannot hold */
            assert_non_null(strstr(g_err.message, "malformed msgpack"));
            total++;
        }
    }
    assert_true(total > 200);
    free_samples(s);
}

static void test_reject_trailing_bytes(void **state)
{
    (void)state;
    sample s[SAMPLE_COUNT];
    make_samples(s);
    const unsigned char extra[] = {0x00, 0xc0, 0x80, 0x90, 0xc1, 0xff};
    for (int k = 0; k < SAMPLE_COUNT; k++) {
        unsigned char *buf = malloc(2 * s[k].n);
        memcpy(buf, s[k].p, s[k].n);
        for (size_t e = 0; e < sizeof extra; e++) {
            buf[s[k].n] = extra[e];
            cairn_status st = decode(buf, s[k].n + 1);
            assert_int_equal(st, CAIRN_BAD_MESSAGE);
            /* 0xc1 and the like may be reported as such; the rest as trailing */
            if (extra[e] != 0xc1)
                assert_non_null(strstr(g_err.message, "trailing"));
        }
        /* two messages in one frame */
        memcpy(buf + s[k].n, s[k].p, s[k].n);
        expect_status(buf, 2 * s[k].n, CAIRN_BAD_MESSAGE, "trailing");
        free(buf);
    }
    free_samples(s);
}

static void test_reject_reserved_byte(void **state)
{
    (void)state;
    expect_status("\xc1", 1, CAIRN_BAD_MESSAGE, "0xc1");
    expect_built(CHANGES(RAW("extra", "\xc1")), CAIRN_BAD_MESSAGE, "0xc1");
    expect_built(CHANGES(RAW("body", "\x81\xa1x\x92\x01\xc1")), CAIRN_BAD_MESSAGE,
                 "0xc1");
}

static void test_reject_huge_counts_before_allocating(void **state)
{
    (void)state;
    /* 5 bytes claiming 2^32-1 elements: msgpack-c would allocate ~100 GB for
     * them; mp_scan must refuse first (its message names the count). */
    expect_status("\xdd\xff\xff\xff\xff", 5, CAIRN_BAD_MESSAGE, "count larger");
    expect_status("\xdf\xff\xff\xff\xff", 5, CAIRN_BAD_MESSAGE, "count larger");
    expect_status("\xdc\xff\xff", 3, CAIRN_BAD_MESSAGE, "count larger");
    expect_status("\xde\xff\xff", 3, CAIRN_BAD_MESSAGE, "count larger");
    expect_status("\x9f", 1, CAIRN_BAD_MESSAGE, "count larger");
    expect_status("\x8f\x01", 2, CAIRN_BAD_MESSAGE, "count larger");

    /* the same inside a message, followed by enough padding to look plausible */
    unsigned char raw[64];
    memset(raw, 0xc0, sizeof raw);
    memcpy(raw, "\xdd\xff\xff\xff\xff", 5);
    expect_built(CHANGES({"extra", F_RAW, 0, (const char *)raw, sizeof raw, 0}),
                 CAIRN_BAD_MESSAGE, "count larger");
    memcpy(raw, "\xdf\xff\xff\xff\xff", 5);
    expect_built(CHANGES({"body", F_RAW, 0, (const char *)raw, sizeof raw, 0}),
                 CAIRN_BAD_MESSAGE, "count larger");
    /* a map of 40 pairs needs at least 80 bytes, not 64 */
    memcpy(raw, "\xde\x00\x28", 3);
    expect_built(CHANGES({"body", F_RAW, 0, (const char *)raw, sizeof raw, 0}),
                 CAIRN_BAD_MESSAGE, NULL);

    /* str/bin/ext lengths beyond the frame */
    expect_status("\xdb\xff\xff\xff\xff", 5, CAIRN_BAD_MESSAGE, "truncated");
    expect_status("\xc6\xff\xff\xff\xff", 5, CAIRN_BAD_MESSAGE, "truncated");
    expect_status("\xc9\xff\xff\xff\xff\x01", 6, CAIRN_BAD_MESSAGE, "truncated");
    expect_status("\xc7\x00", 2, CAIRN_BAD_MESSAGE, "truncated"); /* ext8 missing its type */
}

/* A body {"x": k nested arrays}: the message nests 2 + k levels deep.
 * With empty_innermost the innermost array is [] (no elements). */
static void expect_nesting(int k, bool empty_innermost, cairn_status want)
{
    unsigned char raw[128];
    size_t n = 0;
    raw[n++] = 0x81;
    raw[n++] = 0xa1;
    raw[n++] = 'x';
    for (int i = 0; i < k - 1; i++)
        raw[n++] = 0x91;
    if (empty_innermost) {
        raw[n++] = 0x90;
    } else {
        raw[n++] = 0x91;
        raw[n++] = 0x01;
    }
    assert_true(n <= sizeof raw);
    expect_built(CHANGES({"body", F_RAW, 0, (const char *)raw, n, 0}), want,
                 want == CAIRN_BAD_MESSAGE ? "nesting" : NULL);
}

static void test_nesting_limit(void **state)
{
    (void)state;
    expect_nesting(30, false, CAIRN_OK); /* 32 levels */
    expect_nesting(31, false, CAIRN_BAD_MESSAGE);
    expect_nesting(60, false, CAIRN_BAD_MESSAGE);

    unsigned char deep[200];
    memset(deep, 0x91, sizeof deep);
    deep[sizeof deep - 1] = 0x00;
    expect_status(deep, sizeof deep, CAIRN_BAD_MESSAGE, "nesting");
    memset(deep, 0x81, sizeof deep); /* maps: {nil: {nil: ...}} */
    for (size_t i = 1; i < sizeof deep; i += 2)
        deep[i] = 0xc0;
    deep[sizeof deep - 1] = 0xc0;
    expect_status(deep, sizeof deep, CAIRN_BAD_MESSAGE, NULL);
}

/* An empty array or map is a level of nesting too: 33 levels whose innermost
 * is [] must be refused like any other nesting > 32 (docs/protocol.md), as
 * BAD_MESSAGE. mp_scan skips its depth check for containers with no elements,
 * while msgpack-c counts them against its 32-entry stack and answers
 * MSGPACK_UNPACK_NOMEM_ERROR, which msg_decode reports as CAIRN_OUT_OF_MEMORY:
 * a status the coordinator treats as fatal for the whole group transaction. */
static void test_nesting_limit_empty_innermost(void **state)
{
    (void)state;
    expect_nesting(30, true, CAIRN_OK); /* 32 levels */
    expect_nesting(31, true, CAIRN_BAD_MESSAGE);
    expect_nesting(40, true, CAIRN_BAD_MESSAGE);
}

static void test_reject_non_map_root(void **state)
{
    (void)state;
    expect_status("\x90", 1, CAIRN_BAD_MESSAGE, "not a map");
    expect_status("\x92\x01\x02", 3, CAIRN_BAD_MESSAGE, "not a map");
    expect_status("\x01", 1, CAIRN_BAD_MESSAGE, "not a map");
    expect_status("\xc0", 1, CAIRN_BAD_MESSAGE, "not a map");
    expect_status("\xa2hi", 3, CAIRN_BAD_MESSAGE, "not a map");
    expect_status("\xcb\x7f\xf8\0\0\0\0\0\0", 9, CAIRN_BAD_MESSAGE, "not a map");
    expect_status("\x80", 1, CAIRN_BAD_MESSAGE, "'id'"); /* a map, but empty */
    assert_false(g_msg.has_id);
}

static void test_reject_id(void **state)
{
    (void)state;
    expect_built(CHANGES({"id", F_OMIT, 0, NULL, 0, 0}), CAIRN_BAD_MESSAGE, "'id'");
    assert_false(g_msg.has_id);
    expect_built(CHANGES({"id", F_BIN, 0, NULL, 15, 0}), CAIRN_BAD_MESSAGE, "'id'");
    assert_false(g_msg.has_id);
    expect_built(CHANGES({"id", F_BIN, 0, NULL, 17, 0}), CAIRN_BAD_MESSAGE, "'id'");
    expect_built(CHANGES({"id", F_BIN, 0, NULL, 0, 0}), CAIRN_BAD_MESSAGE, "'id'");
    expect_built(CHANGES({"id", F_STR, 0, "0123456789abcdef", 0, 0}), CAIRN_BAD_MESSAGE, "'id'");
    expect_built(CHANGES({"id", F_STR, 0, "01ARYZ6S41TSV4RRFFQ69G5FAV", 0, 0}), CAIRN_BAD_MESSAGE,
                 "'id'");
    expect_built(CHANGES({"id", F_UINT, 5, NULL, 0, 0}), CAIRN_BAD_MESSAGE, "'id'");
    expect_built(CHANGES({"id", F_NIL, 0, NULL, 0, 0}), CAIRN_BAD_MESSAGE, "'id'");
}

static void test_reject_version(void **state)
{
    (void)state;
    expect_built(CHANGES({"v", F_OMIT, 0, NULL, 0, 0}), CAIRN_BAD_MESSAGE, "'v'");
    expect_built(CHANGES({"v", F_STR, 0, "1", 0, 0}), CAIRN_BAD_MESSAGE, "'v'");
    expect_built(CHANGES({"v", F_DOUBLE, 0, NULL, 0, 1.0}), CAIRN_BAD_MESSAGE, "'v'");
    expect_built(CHANGES({"v", F_NIL, 0, NULL, 0, 0}), CAIRN_BAD_MESSAGE, "'v'");

    expect_built(CHANGES({"v", F_UINT, 2, NULL, 0, 0}), CAIRN_UNSUPPORTED_VERSION, "2");
    /* the id was read, so the refusal can name the request it answers */
    assert_true(g_msg.has_id);
    assert_true(ulid_eq(&g_msg.id, &k_id));
    expect_built(CHANGES({"v", F_UINT, 0, NULL, 0, 0}), CAIRN_UNSUPPORTED_VERSION, NULL);
    expect_built(CHANGES({"v", F_INT, -1, NULL, 0, 0}), CAIRN_UNSUPPORTED_VERSION, NULL);
    expect_built(CHANGES({"v", F_UINT, (int64_t)((1ull << 32) + 1), NULL, 0, 0}),
                 CAIRN_UNSUPPORTED_VERSION, NULL);
    /* version 1 sent as a wider integer is still version 1 */
    expect_built(CHANGES(RAW("v", "\xcf\0\0\0\0\0\0\0\x01")), CAIRN_OK, NULL);
    assert_int_equal(g_msg.v, 1);
}

static void test_reject_type_names(void **state)
{
    (void)state;
    char t64[65], t65[66];
    memset(t64, 'a', 64);
    t64[64] = '\0';
    memset(t65, 'b', 65);
    t65[65] = '\0';
    const char *bad[] = {"Ping", "RUN.LOG", "run log", " ping", "ping ", "run-log",
                         "run/log", "caf\xc3\xa9", "ping\n", t65};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        expect_built(CHANGES({"type", F_STR, 0, bad[i], 0, 0}), CAIRN_BAD_MESSAGE, "'type'");
    /* empty (F_STR with n = 0 would take strlen, so raw) */
    expect_built(CHANGES(RAW("type", "\xa0")), CAIRN_BAD_MESSAGE, "'type'");
    /* embedded NUL */
    expect_built(CHANGES({"type", F_STR, 0, "pi\0ng", 5, 0}), CAIRN_BAD_MESSAGE, "'type'");
    expect_built(CHANGES({"type", F_OMIT, 0, NULL, 0, 0}), CAIRN_BAD_MESSAGE, "'type'");
    expect_built(CHANGES({"type", F_UINT, 1, NULL, 0, 0}), CAIRN_BAD_MESSAGE, "'type'");
    expect_built(CHANGES({"type", F_BIN, 0, NULL, 4, 0}), CAIRN_BAD_MESSAGE, "'type'");

    const char *good[] = {"a", "ping", "run.log", "a_b.c9", "0", t64};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        expect_built(CHANGES({"type", F_STR, 0, good[i], 0, 0}), CAIRN_OK, NULL);
        assert_true(msg_str_eq(g_msg.type, good[i]));
    }
}

static void test_reject_ts_and_from(void **state)
{
    (void)state;
    expect_built(CHANGES({"ts", F_OMIT, 0, NULL, 0, 0}), CAIRN_BAD_MESSAGE, "'ts'");
    expect_built(CHANGES({"ts", F_STR, 0, "now", 0, 0}), CAIRN_BAD_MESSAGE, "'ts'");
    expect_built(CHANGES({"ts", F_DOUBLE, 0, NULL, 0, 1.5e18}), CAIRN_BAD_MESSAGE, "'ts'");
    expect_built(CHANGES({"ts", F_UINT, -1, NULL, 0, 0}), CAIRN_BAD_MESSAGE, "'ts'"); /* 2^64-1 */
    expect_built(CHANGES({"ts", F_INT, -5, NULL, 0, 0}), CAIRN_OK, NULL);
    assert_true(g_msg.ts == -5);

    expect_built(CHANGES({"from", F_OMIT, 0, NULL, 0, 0}), CAIRN_BAD_MESSAGE, "'from'");
    expect_built(CHANGES({"from", F_UINT, 3, NULL, 0, 0}), CAIRN_BAD_MESSAGE, "'from'");
    expect_built(CHANGES({"from", F_BIN, 0, NULL, 8, 0}), CAIRN_BAD_MESSAGE, "'from'");
    char from[258];
    memset(from, 'f', sizeof from);
    from[257] = '\0';
    expect_built(CHANGES({"from", F_STR, 0, from, 0, 0}), CAIRN_BAD_MESSAGE, "'from'");
    from[256] = '\0';
    expect_built(CHANGES({"from", F_STR, 0, from, 0, 0}), CAIRN_OK, NULL);
    assert_int_equal(g_msg.from.n, 256);
}

static void test_reject_body_not_map(void **state)
{
    (void)state;
    expect_built(CHANGES(RAW("body", "\x90")), CAIRN_BAD_MESSAGE, "'body'");
    expect_built(CHANGES({"body", F_STR, 0, "{}", 0, 0}), CAIRN_BAD_MESSAGE, "'body'");
    expect_built(CHANGES({"body", F_UINT, 0, NULL, 0, 0}), CAIRN_BAD_MESSAGE, "'body'");
    expect_built(CHANGES({"body", F_FALSE, 0, NULL, 0, 0}), CAIRN_BAD_MESSAGE, "'body'");
    expect_built(CHANGES({"body", F_BIN, 0, NULL, 2, 0}), CAIRN_BAD_MESSAGE, "'body'");
}

static void test_reject_bad_replies(void **state)
{
    (void)state;
    const char err_map[] = "\x82\xa4" "code" "\xab" "BAD_MESSAGE" "\xa7" "message" "\xa1" "m";
    const size_t err_n = sizeof err_map - 1;
#define RE {"re", F_BIN, 0, NULL, 16, 0}

    /* both ok and error */
    expect_built(CHANGES(RE, {"ok", F_TRUE, 0, NULL, 0, 0}, {"error", F_RAW, 0, err_map, err_n, 0}),
                 CAIRN_BAD_MESSAGE, "exactly one");
    /* neither */
    expect_built(CHANGES(RE), CAIRN_BAD_MESSAGE, "exactly one");
    /* ok other than true */
    expect_built(CHANGES(RE, {"ok", F_FALSE, 0, NULL, 0, 0}), CAIRN_BAD_MESSAGE, "'ok'");
    expect_built(CHANGES(RE, {"ok", F_UINT, 1, NULL, 0, 0}), CAIRN_BAD_MESSAGE, "'ok'");
    expect_built(CHANGES(RE, {"ok", F_NIL, 0, NULL, 0, 0}), CAIRN_BAD_MESSAGE, "'ok'");
    /* error: not a map, without code, without message, wrong types */
    expect_built(CHANGES(RE, {"error", F_STR, 0, "BAD_MESSAGE", 0, 0}), CAIRN_BAD_MESSAGE, NULL);
    expect_built(CHANGES(RE, RAW("error", "\x81\xa7" "message" "\xa1" "m")),
                 CAIRN_BAD_MESSAGE, "'code'");
    expect_built(CHANGES(RE, RAW("error", "\x81\xa4" "code" "\xa2" "OK")),
                 CAIRN_BAD_MESSAGE, "'message'");
    expect_built(CHANGES(RE, RAW("error", "\x82\xa4" "code" "\x05" "\xa7" "message" "\xa1" "m")),
                 CAIRN_BAD_MESSAGE, "'code'");
    expect_built(CHANGES(RE, RAW("error", "\x82\xa4" "code" "\xa2" "OK" "\xa7" "message" "\xc0")),
                 CAIRN_BAD_MESSAGE, "'message'");
    expect_built(CHANGES(RE, RAW("error", "\x80")), CAIRN_BAD_MESSAGE, NULL);
    /* re malformed */
    expect_built(CHANGES({"re", F_BIN, 0, NULL, 15, 0}, {"ok", F_TRUE, 0, NULL, 0, 0}),
                 CAIRN_BAD_MESSAGE, "'re'");
    expect_built(CHANGES({"re", F_NIL, 0, NULL, 0, 0}, {"ok", F_TRUE, 0, NULL, 0, 0}),
                 CAIRN_BAD_MESSAGE, "'re'");
    /* and the well-formed ones pass */
    expect_built(CHANGES(RE, {"ok", F_TRUE, 0, NULL, 0, 0}), CAIRN_OK, NULL);
    assert_int_equal(g_msg.kind, MSG_REPLY_OK);
    expect_built(CHANGES(RE, {"error", F_RAW, 0, err_map, err_n, 0}), CAIRN_OK, NULL);
    assert_int_equal(g_msg.kind, MSG_REPLY_ERROR);
    assert_int_equal(g_msg.err_status, CAIRN_BAD_MESSAGE);
    assert_true(msg_str_eq(g_msg.err_message, "m"));
#undef RE
}

/* ---- body accessors ---------------------------------------------------- */

static void test_body_accessor_errors(void **state)
{
    (void)state;
    msg_writer w;
    msg_writer_init(&w);
    ulid id = ulid_pattern(2), run = ulid_pattern(4);
    msg_start_request(&w, &id, "run.log", "sdk:alice@host", BODY_ENTRIES);
    pack_every_type_body(&w.pk, &run);
    assert_int_equal(decode(w.sb.data, w.sb.size), CAIRN_OK);
    const msgpack_object *b = g_msg.body;

    cairn_error err;
    msg_str s = {"sentinel", 8};
    ulid u = ulid_pattern(99);
    const ulid u0 = u;
    int64_t i = 4242;
    double d = 42.5;
    bool flag = true;
    const msgpack_object *o = (const msgpack_object *)&err;

#define EXPECT_FIELD_ERROR(call, field)                                       \
    do {                                                                      \
        memset(&err, 0, sizeof err);                                          \
        assert_int_equal((call), CAIRN_BAD_MESSAGE);                          \
        assert_int_equal(err.status, CAIRN_BAD_MESSAGE);                      \
        if (!strstr(err.message, "'" field "'")) {                            \
            print_error("'%s' does not name " field "\n", err.message);       \
            fail();                                                           \
        }                                                                     \
    } while (0)

    /* missing required: BAD_MESSAGE naming the field */
    EXPECT_FIELD_ERROR(body_str(b, "name", true, &s, &err), "name");
    EXPECT_FIELD_ERROR(body_bin(b, "data", true, &s, &err), "data");
    EXPECT_FIELD_ERROR(body_ulid(b, "upload", true, &u, &err), "upload");
    EXPECT_FIELD_ERROR(body_int(b, "offset", true, &i, &err), "offset");
    EXPECT_FIELD_ERROR(body_double(b, "value", true, &d, &err), "value");
    EXPECT_FIELD_ERROR(body_bool(b, "last", true, &flag, &err), "last");
    EXPECT_FIELD_ERROR(body_map(b, "params", true, &o, &err), "params");
    EXPECT_FIELD_ERROR(body_array(b, "order_by", true, &o, &err), "order_by");
    assert_true(msg_str_eq(s, "sentinel"));
    assert_true(ulid_eq(&u, &u0));
    assert_true(i == 4242 && d == 42.5 && flag);
    assert_ptr_equal(o, (const msgpack_object *)&err);

    /* wrong type, required or not: BAD_MESSAGE naming the field */
    for (int req = 0; req < 2; req++) {
        EXPECT_FIELD_ERROR(body_str(b, "pos", req, &s, &err), "pos");
        EXPECT_FIELD_ERROR(body_str(b, "bin", req, &s, &err), "bin");
        EXPECT_FIELD_ERROR(body_bin(b, "s", req, &s, &err), "s");
        EXPECT_FIELD_ERROR(body_ulid(b, "bin", req, &u, &err), "bin"); /* 4 bytes */
        EXPECT_FIELD_ERROR(body_ulid(b, "s", req, &u, &err), "s");
        EXPECT_FIELD_ERROR(body_int(b, "d", req, &i, &err), "d");
        EXPECT_FIELD_ERROR(body_int(b, "s", req, &i, &err), "s");
        EXPECT_FIELD_ERROR(body_int(b, "huge", req, &i, &err), "huge");
        EXPECT_FIELD_ERROR(body_int(b, "nil", req, &i, &err), "nil");
        EXPECT_FIELD_ERROR(body_double(b, "s", req, &d, &err), "s");
        EXPECT_FIELD_ERROR(body_double(b, "yes", req, &d, &err), "yes");
        EXPECT_FIELD_ERROR(body_bool(b, "pos", req, &flag, &err), "pos");
        EXPECT_FIELD_ERROR(body_bool(b, "nil", req, &flag, &err), "nil");
        EXPECT_FIELD_ERROR(body_map(b, "metrics", req, &o, &err), "metrics");
        EXPECT_FIELD_ERROR(body_map(b, "nil", req, &o, &err), "nil");
        EXPECT_FIELD_ERROR(body_array(b, "tags", req, &o, &err), "tags");
        EXPECT_FIELD_ERROR(body_array(b, "s", req, &o, &err), "s");
    }
    assert_true(msg_str_eq(s, "sentinel"));
    assert_true(ulid_eq(&u, &u0));
    assert_true(i == 4242 && d == 42.5 && flag);
    assert_ptr_equal(o, (const msgpack_object *)&err);

    /* optional missing: OK, out and err untouched */
    err.status = CAIRN_TIMEOUT;
    strcpy(err.message, "keep");
    assert_int_equal(body_str(b, "name", false, &s, &err), CAIRN_OK);
    assert_int_equal(body_bin(b, "data", false, &s, &err), CAIRN_OK);
    assert_int_equal(body_ulid(b, "upload", false, &u, &err), CAIRN_OK);
    assert_int_equal(body_int(b, "offset", false, &i, &err), CAIRN_OK);
    assert_int_equal(body_double(b, "value", false, &d, &err), CAIRN_OK);
    assert_int_equal(body_bool(b, "last", false, &flag, &err), CAIRN_OK);
    assert_int_equal(body_map(b, "params", false, &o, &err), CAIRN_OK);
    assert_int_equal(body_array(b, "order_by", false, &o, &err), CAIRN_OK);
    assert_true(msg_str_eq(s, "sentinel"));
    assert_true(ulid_eq(&u, &u0));
    assert_true(i == 4242 && d == 42.5 && flag);
    assert_ptr_equal(o, (const msgpack_object *)&err);
    assert_int_equal(err.status, CAIRN_TIMEOUT);
    assert_string_equal(err.message, "keep");

    /* a NULL err is allowed */
    assert_int_equal(body_str(b, "name", true, &s, NULL), CAIRN_BAD_MESSAGE);
    assert_int_equal(body_int(b, "s", true, &i, NULL), CAIRN_BAD_MESSAGE);
#undef EXPECT_FIELD_ERROR
    msg_writer_destroy(&w);
}

static void test_body_find_edges(void **state)
{
    (void)state;
    assert_null(body_find(NULL, "x"));
    msgpack_object nil = {.type = MSGPACK_OBJECT_NIL};
    assert_null(body_find(&nil, "x"));
    cairn_error err;
    msg_str s;
    assert_int_equal(body_str(&nil, "x", true, &s, &err), CAIRN_BAD_MESSAGE);

    /* body {1: "int key", "xy": 1, "x": 2, "x": 3}: non-string keys are skipped,
     * prefixes do not match, the first of duplicate keys wins */
    const char raw[] = "\x84\x01\xa7int key\xa2xy\x01\xa1x\x02\xa1x\x03";
    expect_built(CHANGES({"body", F_RAW, 0, raw, sizeof raw - 1, 0}), CAIRN_OK, NULL);
    int64_t i = 0;
    assert_int_equal(body_int(g_msg.body, "x", true, &i, &err), CAIRN_OK);
    assert_true(i == 2);
    assert_int_equal(body_int(g_msg.body, "xy", true, &i, &err), CAIRN_OK);
    assert_true(i == 1);
    assert_null(body_find(g_msg.body, ""));
    assert_null(body_find(g_msg.body, "int key"));
}

/* ---- deterministic mutation -------------------------------------------- */

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint64_t rng(void)
{
    uint64_t x = rng_state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    rng_state = x;
    return x * 0x2545f4914f6cdd1dull;
}

/* Reads everything a handler might read, so the sanitizer sees every pointer. */
static unsigned walk(const msgpack_object *o, int depth)
{
    unsigned sum = 0;
    int64_t i;
    double d;
    msg_str s;
    assert_true(depth <= MP_SCAN_MAX_DEPTH + 1);
    if (obj_int(o, &i))
        sum += (unsigned)i;
    if (obj_double(o, &d))
        sum += d == d;
    if (obj_str(o, &s))
        for (uint32_t k = 0; k < s.n; k++)
            sum += (unsigned char)s.p[k];
    switch (o->type) {
    case MSGPACK_OBJECT_BIN:
        for (uint32_t k = 0; k < o->via.bin.size; k++)
            sum += (unsigned char)o->via.bin.ptr[k];
        break;
    case MSGPACK_OBJECT_EXT:
        for (uint32_t k = 0; k < o->via.ext.size; k++)
            sum += (unsigned char)o->via.ext.ptr[k];
        break;
    case MSGPACK_OBJECT_ARRAY:
        for (uint32_t k = 0; k < o->via.array.size; k++)
            sum += walk(&o->via.array.ptr[k], depth + 1);
        break;
    case MSGPACK_OBJECT_MAP:
        for (uint32_t k = 0; k < o->via.map.size; k++) {
            sum += walk(&o->via.map.ptr[k].key, depth + 1);
            sum += walk(&o->via.map.ptr[k].val, depth + 1);
        }
        break;
    default:
        break;
    }
    return sum;
}

static void check_accepted(const unsigned char *buf, size_t n)
{
    const msg *m = &g_msg;
    assert_int_equal(m->v, 1);
    assert_true(m->has_id);
    assert_true(m->type.n >= 1 && m->type.n <= 64);
    assert_true(m->type.p >= (const char *)buf && m->type.p + m->type.n <= (const char *)buf + n);
    assert_true(m->from.n <= 256);
    assert_true(m->from.p >= (const char *)buf && m->from.p + m->from.n <= (const char *)buf + n);
    assert_int_equal(m->body->type, MSGPACK_OBJECT_MAP);
    if (m->kind == MSG_REPLY_ERROR)
        assert_true(m->err_message.p + m->err_message.n <= (const char *)buf + n);
    cairn_error err;
    msg_str s;
    ulid u;
    int64_t i;
    double d;
    bool b;
    const msgpack_object *o;
    static const char *const keys[] = {"run", "name", "params", "metrics", "tags", "data",
                                       "offset", "last", "seq", "duplicate", "upload", "path"};
    for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++) {
        (void)body_str(m->body, keys[k], true, &s, &err);
        (void)body_bin(m->body, keys[k], false, &s, &err);
        (void)body_ulid(m->body, keys[k], true, &u, &err);
        (void)body_int(m->body, keys[k], false, &i, &err);
        (void)body_double(m->body, keys[k], true, &d, &err);
        (void)body_bool(m->body, keys[k], false, &b, &err);
        (void)body_map(m->body, keys[k], true, &o, &err);
        (void)body_array(m->body, keys[k], false, &o, &err);
    }
    (void)walk(m->body, 0);
    (void)walk(&g_dec.root, 0);
}

static size_t mutate(unsigned char *buf, size_t n, size_t cap)
{
    static const unsigned char interesting[] = {0x00, 0x7f, 0x80, 0x8f, 0x90, 0x9f, 0xa0, 0xbf,
                                                0xc0, 0xc1, 0xc4, 0xc6, 0xc7, 0xc9, 0xcb, 0xcf,
                                                0xd4, 0xd8, 0xd9, 0xdb, 0xdc, 0xdd, 0xde, 0xdf,
                                                0xe0, 0xff};
    int rounds = 1 + (int)(rng() % 4);
    for (int r = 0; r < rounds; r++) {
        size_t at = n ? (size_t)(rng() % n) : 0;
        switch (rng() % 7) {
        case 0: /* flip a bit */
            if (n)
                buf[at] ^= (unsigned char)(1u << (rng() % 8));
            break;
        case 1: /* overwrite with a random byte */
            if (n)
                buf[at] = (unsigned char)rng();
            break;
        case 2: /* overwrite with a msgpack header byte */
            if (n)
                buf[at] = interesting[rng() % sizeof interesting];
            break;
        case 3: /* insert a byte */
            if (n < cap) {
                memmove(buf + at + 1, buf + at, n - at);
                buf[at] = (rng() & 1) ? (unsigned char)rng() : interesting[rng() % sizeof interesting];
                n++;
            }
            break;
        case 4: /* delete a byte */
            if (n) {
                memmove(buf + at, buf + at + 1, n - at - 1);
                n--;
            }
            break;
        case 5: /* truncate */
            n = at;
            break;
        default: /* 0xff run: huge lengths and counts */
            for (size_t k = at; k < n && k < at + 4; k++)
                buf[k] = 0xff;
            break;
        }
    }
    return n;
}

static void test_mutations_never_crash(void **state)
{
    (void)state;
    sample s[SAMPLE_COUNT];
    make_samples(s);
    size_t cap = 0;
    for (int k = 0; k < SAMPLE_COUNT; k++)
        cap = s[k].n > cap ? s[k].n : cap;
    cap += 16;
    unsigned char *work = malloc(cap);
    assert_non_null(work);

    unsigned counts[CAIRN_STATUS_COUNT_] = {0};
    rng_state = 0x9e3779b97f4a7c15ull;
    for (int it = 0; it < 20000; it++) {
        const sample *src = &s[it % SAMPLE_COUNT];
        memcpy(work, src->p, src->n);
        size_t n = mutate(work, src->n, cap);
        cairn_status st = decode(work, n); /* decodes an exact-size heap copy */
        switch (st) {
        case CAIRN_OK:
            check_accepted(g_copy, n);
            break;
        case CAIRN_BAD_MESSAGE:
        case CAIRN_UNSUPPORTED_VERSION:
            assert_int_equal(g_err.status, st);
            break;
        default:
            print_error("iteration %d: unexpected %s (%s)\n", it, cairn_status_name(st),
                        g_err.message);
            fail();
        }
        counts[st]++;
    }
    /* the mutations reach both sides of the decoder */
    assert_true(counts[CAIRN_OK] > 500);
    assert_true(counts[CAIRN_BAD_MESSAGE] > 5000);

    /* pure noise, every length up to 64 */
    for (int it = 0; it < 5000; it++) {
        size_t n = (size_t)(rng() % 65);
        for (size_t k = 0; k < n; k++)
            work[k] = (unsigned char)rng();
        cairn_status st = decode(work, n);
        assert_true(st == CAIRN_OK || st == CAIRN_BAD_MESSAGE || st == CAIRN_UNSUPPORTED_VERSION);
    }
    free(work);
    free_samples(s);
}

/* mp_scan directly: the structural checks, independent of the envelope. */
static void test_mp_scan_direct(void **state)
{
    (void)state;
    const char *why = "unset";
    assert_true(mp_scan((const unsigned char *)"\xc0", 1, &why));
    assert_null(why);
    assert_true(mp_scan((const unsigned char *)"\x92\x90\x80", 3, NULL));
    /* every fixed-size scalar, each in one array */
    const unsigned char scalars[] = {
        0xdc, 0x00, 19, /* array16 of the 19 objects below */
        0xcc, 1, 0xcd, 1, 2, 0xce, 1, 2, 3, 4, 0xcf, 1, 2, 3, 4, 5, 6, 7, 8,
        0xd0, 1, 0xd1, 1, 2, 0xd2, 1, 2, 3, 4, 0xd3, 1, 2, 3, 4, 5, 6, 7, 8,
        0xca, 0, 0, 0, 0, 0xcb, 0, 0, 0, 0, 0, 0, 0, 0,
        0xd4, 1, 2, 0xd5, 1, 2, 3, 0xd6, 1, 2, 3, 4, 5,
        0xd7, 1, 2, 3, 4, 5, 6, 7, 8, 9,
        0xd8, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17,
        0xc7, 2, 1, 0xaa, 0xbb,
        0xc8, 0, 1, 1, 0xaa,
        0xc4, 0, 0xe0,
    };
    why = NULL;
    assert_true(mp_scan(scalars, sizeof scalars, &why));
    expect_status(scalars, sizeof scalars, CAIRN_BAD_MESSAGE, "not a map"); /* msgpack-c agrees */
    for (size_t n = 0; n < sizeof scalars; n++) {
        why = NULL;
        assert_false(mp_scan(scalars, n, &why));
        assert_non_null(why);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_request_round_trip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_body_absent_or_nil_is_empty_map, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ok_reply_round_trip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_error_reply_round_trip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_error_reply_unknown_code, setup, teardown),
        cmocka_unit_test_setup_teardown(test_special_doubles_survive, setup, teardown),
        cmocka_unit_test(test_msg_str_helpers),
        cmocka_unit_test(test_ulid_format_known_values),
        cmocka_unit_test(test_ulid_round_trip),
        cmocka_unit_test(test_ulid_parse_case_insensitive),
        cmocka_unit_test(test_ulid_parse_rejects),
        cmocka_unit_test(test_ulid_new_time_ordered),
        cmocka_unit_test_setup_teardown(test_reject_too_large, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reject_empty, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reject_every_truncation, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reject_trailing_bytes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reject_reserved_byte, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reject_huge_counts_before_allocating, setup, teardown),
        cmocka_unit_test_setup_teardown(test_nesting_limit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_nesting_limit_empty_innermost, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reject_non_map_root, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reject_id, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reject_version, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reject_type_names, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reject_ts_and_from, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reject_body_not_map, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reject_bad_replies, setup, teardown),
        cmocka_unit_test_setup_teardown(test_body_accessor_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_body_find_edges, setup, teardown),
        cmocka_unit_test_setup_teardown(test_mutations_never_crash, setup, teardown),
        cmocka_unit_test_setup_teardown(test_mp_scan_direct, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
