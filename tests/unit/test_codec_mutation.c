/* The wire codec under deterministic mutation of valid messages, and
 * mp_scan (sdk/src/mp_scan.c) driven directly: whatever the bytes, a decode
 * answers a status and never reads out of bounds. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "codec_fixture.h"

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
        cmocka_unit_test_setup_teardown(test_mutations_never_crash, setup, teardown),
        cmocka_unit_test_setup_teardown(test_mp_scan_direct, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
