/* The wire codec's limits: frame size, element counts and nesting depth, each
 * refused before msgpack-c allocates for it. docs/protocol.md, "What a
 * receiver refuses", is the specification tested here. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "codec_fixture.h"

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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_reject_too_large, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reject_huge_counts_before_allocating, setup, teardown),
        cmocka_unit_test_setup_teardown(test_nesting_limit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_nesting_limit_empty_innermost, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
