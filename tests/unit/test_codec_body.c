/* Body accessors (sdk/src/body.c): the errors they report and how they find
 * a key. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "codec_fixture.h"
#include "kvlog.h"

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

/* A copy cut short ends on a character boundary. */
static void test_str_copy_keeps_characters_whole(void **state)
{
    (void)state;
    char out[8];
    msg_str_copy(msg_str_of("x\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"), out, sizeof out); /* xéééé */
    assert_string_equal(out, "x\xc3\xa9\xc3\xa9\xc3\xa9"); /* 7 bytes: three é whole */
    msg_str_copy(msg_str_of("ab\xe2\x82\xac\xe2\x82\xac"), out, sizeof out); /* ab€€ */
    assert_string_equal(out, "ab\xe2\x82\xac"); /* the second € would not fit */
    msg_str_copy(msg_str_of("abcdefgh"), out, sizeof out);
    assert_string_equal(out, "abcdefg");
    msg_str_copy(msg_str_of("\xe2\x82\xac"), out, 3); /* no whole character fits */
    assert_string_equal(out, "");
    msg_str_copy(msg_str_of("a\xc3\xa9"), out, sizeof out); /* fits: copied whole */
    assert_string_equal(out, "a\xc3\xa9");
}

/* Log quoting: escapes, and a cut that ends between characters. */
static void test_kvlog_quote_cuts_between_characters(void **state)
{
    (void)state;
    char buf[32];
    assert_string_equal(kvlog_quote(buf, sizeof buf, "a\"b\\c\nd"), "\"a\\\"b\\\\c\\nd\"");
    assert_string_equal(kvlog_quote(buf, 6, "a\xe2\x82\xac" "b"), "\"a\""); /* € would not fit */
    assert_string_equal(kvlog_quote(buf, 7, "a\xe2\x82\xac" "b"), "\"a\xe2\x82\xac\"");
    /* A broken sequence does not swallow the quote after it. */
    assert_string_equal(kvlog_quote(buf, sizeof buf, "\xc3\"x"), "\"\xc3\\\"x\"");
    assert_string_equal(kvlog_quote(buf, 3, "abc"), "\"\"");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_body_accessor_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_body_find_edges, setup, teardown),
        cmocka_unit_test(test_str_copy_keeps_characters_whole),
        cmocka_unit_test(test_kvlog_quote_cuts_between_characters),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
