/* What the test_codec_* files share: a decoder fixture, an envelope builder
 * that changes one standard field at a time, a body holding every type, and
 * valid sample messages to truncate and mutate. Each test_*.c in tests/unit
 * is its own binary and the Makefile links no shared test object, hence a
 * header of static (inline) definitions: inline keeps a file that uses only
 * some of them free of unused-function warnings. */
#ifndef CAIRN_TEST_CODEC_FIXTURE_H
#define CAIRN_TEST_CODEC_FIXTURE_H

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

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

static inline int setup(void **state)
{
    (void)state;
    msg_decoder_init(&g_dec, 0);
    msgpack_sbuffer_init(&g_sb);
    g_copy = NULL;
    return 0;
}

static inline int teardown(void **state)
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
static inline cairn_status decode(const void *buf, size_t n)
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

static inline void expect_status(const void *buf, size_t n, cairn_status want,
                                 const char *why_part)
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

static inline bool ulid_eq(const ulid *a, const ulid *b)
{
    return memcmp(a->b, b->b, ULID_BYTES) == 0;
}

static inline ulid ulid_pattern(uint8_t seed)
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

static inline void pack_field_value(msgpack_packer *pk, const field *f, msgpack_sbuffer *sb)
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
static inline size_t build(msgpack_sbuffer *sb, const field *changes, size_t nchanges)
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
static inline void expect_built(const field *changes, size_t nchanges, cairn_status want,
                                const char *why_part)
{
    size_t n = build(&g_sb, changes, nchanges);
    expect_status(g_sb.data, n, want, why_part);
}

/* A change whose value is a string literal of encoded msgpack. */
#define RAW(key, lit) {key, F_RAW, 0, lit, sizeof(lit) - 1, 0}

#define CHANGES(...) ((const field[]){__VA_ARGS__}), \
    (sizeof((const field[]){__VA_ARGS__}) / sizeof(field))

/* ---- a body of every type, for round trips and accessors --------------- */

static unsigned char g_bigbin[70000];
static char g_longstr[300];

enum { BODY_ENTRIES = 21 };

static inline void pack_every_type_body(msgpack_packer *pk, const ulid *run)
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

/* ---- valid samples ------------------------------------------------------ */

/* The valid messages the truncation, trailing-byte and mutation tests start from. */
typedef struct sample {
    unsigned char *p;
    size_t n;
} sample;

enum { SAMPLE_COUNT = 5 };

static inline void make_samples(sample out[SAMPLE_COUNT])
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

static inline void free_samples(sample s[SAMPLE_COUNT])
{
    for (int k = 0; k < SAMPLE_COUNT; k++)
        free(s[k].p);
}

#endif
