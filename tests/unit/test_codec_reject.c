/* The wire codec refusing malformed input: truncation, trailing bytes,
 * reserved bytes and every envelope field with a wrong or missing value
 * (sdk/src/msg.c, sdk/src/mp_scan.c). docs/protocol.md, "What a receiver
 * refuses", is the specification tested here. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "codec_fixture.h"

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
    /* All zero bytes is what a reply's re says when an id could not be read. */
    static const char zero_id[18] = "\xc4\x10";
    expect_built(CHANGES({"id", F_RAW, 0, zero_id, sizeof zero_id, 0}), CAIRN_BAD_MESSAGE,
                 "not zero");
    assert_false(g_msg.has_id);
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
    /* The audit log's actor: text an operator can read. */
    expect_built(CHANGES({"from", F_STR, 0, "cli:\xff\xfe@host", 0, 0}), CAIRN_BAD_MESSAGE,
                 "UTF-8");
    expect_built(CHANGES({"from", F_STR, 0, "cli:a\x1b[2J@host", 0, 0}), CAIRN_BAD_MESSAGE,
                 "control characters");
    expect_built(CHANGES({"from", F_STR, 0, "cli\0x", 5, 0}), CAIRN_BAD_MESSAGE, "'from'");
    expect_built(CHANGES({"from", F_STR, 0, "cli:jos\xc3\xa9@h\xc3\xb4te", 0, 0}), CAIRN_OK, NULL);
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_reject_empty, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reject_every_truncation, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reject_trailing_bytes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reject_reserved_byte, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reject_non_map_root, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reject_id, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reject_version, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reject_type_names, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reject_ts_and_from, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reject_body_not_map, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reject_bad_replies, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
