/* The wire codec, round trips: what msg_start_request, msg_start_reply and
 * msg_error_reply write (sdk/src/msg.c), msg_decode gives back, every body
 * type included. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec_fixture.h"

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
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
