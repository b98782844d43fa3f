/*
 * The CLI's argument syntaxes: durations, KEY=VALUE, KEY=VALUE[@STEP],
 * counts, and option parsing (order, repetition, --opt=value, --json).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "args.h"
#include "format.h"
#include "table.h"

/* ---- durations ---- */

static void test_duration_units(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        int ms;
    } ok[] = {{"500ms", 500}, {"5s", 5000}, {"2m", 120000}, {"1h", 3600000},
              {"5", 5000},    {"0.5", 500}, {"1.5s", 1500}, {"1ms", 1},
              {".5s", 500},   {"2.", 2000}};
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        int ms = -1;
        assert_null(args_duration_ms(ok[i].text, &ms));
        assert_int_equal(ms, ok[i].ms);
    }
}

static void test_duration_refused(void **state)
{
    (void)state;
    static const char *const bad[] = {"",  "s",    "5x",  "-1s", " 5s", "5 s", "0",
                                      "0ms", "nan", "inf", "99999999h", "5sec", "0.1ms",
                                      "0x10", "1e3", "1e3s", ".", ".s", "+5s", "5..5s"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int ms = 42;
        assert_non_null(args_duration_ms(bad[i], &ms));
        assert_int_equal(ms, 42); /* untouched on error */
    }
}

/* ---- counts ---- */

static void test_uint(void **state)
{
    (void)state;
    uint64_t v = 0;
    assert_null(args_uint("0", &v));
    assert_int_equal(v, 0);
    assert_null(args_uint("18446744073709551615", &v));
    assert_true(v == UINT64_MAX);
    assert_non_null(args_uint("18446744073709551616", &v));
    assert_non_null(args_uint("-1", &v));
    assert_non_null(args_uint("12a", &v));
    assert_non_null(args_uint("", &v));
    assert_non_null(args_uint(" 1", &v));
}

/* ---- KEY=VALUE ---- */

static void test_kv(void **state)
{
    (void)state;
    cairn_kv kv;
    char a[] = "lr=0.1";
    assert_null(args_kv(a, &kv));
    assert_string_equal(kv.key, "lr");
    assert_string_equal(kv.value, "0.1");

    char b[] = "query=a=b";  /* split at the first '=' */
    assert_null(args_kv(b, &kv));
    assert_string_equal(kv.key, "query");
    assert_string_equal(kv.value, "a=b");

    char c[] = "note=";      /* an empty value is a value */
    assert_null(args_kv(c, &kv));
    assert_string_equal(kv.value, "");

    char d[] = "novalue", e[] = "=v";
    assert_non_null(args_kv(d, &kv));
    assert_string_equal(d, "novalue"); /* untouched on error */
    assert_non_null(args_kv(e, &kv));
}

/* ---- KEY=VALUE[@STEP] ---- */

static void test_metric_ok(void **state)
{
    (void)state;
    cairn_metric m;
    char a[] = "loss=0.25";
    assert_null(args_metric(a, &m));
    assert_string_equal(m.key, "loss");
    assert_true(m.value == 0.25);
    assert_int_equal(m.step, 0);
    assert_int_equal(m.timestamp, 0);

    char b[] = "acc=0.9@12";
    assert_null(args_metric(b, &m));
    assert_true(m.value == 0.9);
    assert_int_equal(m.step, 12);

    char c[] = "x=-1e-3@-4";
    assert_null(args_metric(c, &m));
    assert_true(m.value == -1e-3);
    assert_int_equal(m.step, -4);

    char d[] = "x=nan", e[] = "x=inf@1", f[] = "x=-Infinity";
    assert_null(args_metric(d, &m));
    assert_true(isnan(m.value));
    assert_null(args_metric(e, &m));
    assert_true(isinf(m.value) && m.value > 0);
    assert_int_equal(m.step, 1);
    assert_null(args_metric(f, &m));
    assert_true(isinf(m.value) && m.value < 0);
}

static void test_metric_refused(void **state)
{
    (void)state;
    static const char *const bad[] = {"loss",     "=1",      "loss=",    "loss=@3", "loss=abc",
                                      "loss=1@",  "loss=1@x", "loss=1@1.5", "loss=1 ", "loss= 1",
                                      "loss=1@99999999999999999999", "loss=1@@2"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char buf[64];
        cairn_metric m;
        snprintf(buf, sizeof buf, "%s", bad[i]);
        assert_non_null(args_metric(buf, &m));
        assert_string_equal(buf, bad[i]);
    }
    /* Each says why: hex and overflow are not what the user meant. */
    static const char *const why[][2] = {
        {"x=0x10", "VALUE is not a decimal number"}, {"x=-0X1p3", "VALUE is not a decimal number"},
        {"x= 1", "VALUE is not a decimal number"},   {"x=1e999", "VALUE is beyond the range of a double"},
        {"x=-1e999@2", "VALUE is beyond the range of a double"}, {"x=", "missing VALUE in KEY=VALUE[@STEP]"}};
    for (size_t i = 0; i < sizeof why / sizeof why[0]; i++) {
        char buf[64];
        cairn_metric m;
        snprintf(buf, sizeof buf, "%s", why[i][0]);
        const char *got = args_metric(buf, &m);
        assert_non_null(got);
        assert_string_equal(got, why[i][1]);
    }
    char tiny[] = "x=1e-320"; /* subnormal, not out of range */
    cairn_metric m;
    assert_null(args_metric(tiny, &m));
    assert_true(m.value > 0);
}

/* ---- option parsing ---- */

static const opt_spec specs[] = {
    {"--experiment", true}, {"--tag", true}, {"--all", false}, {"-o", true}, {NULL, false}};

static void test_parse_mixed(void **state)
{
    (void)state;
    char *argv[] = {"RUN1", "--tag", "a=1", "--json", "--experiment=exp", "PATH",
                    "--tag", "b=2", "-o", "out", "--all", "--", "--not-an-option"};
    int argc = (int)(sizeof argv / sizeof argv[0]);
    parsed_args a;
    char why[128];
    assert_null(args_parse(argc, argv, specs, false, &a, why, sizeof why));
    assert_true(a.json);
    assert_false(a.help);
    assert_int_equal(a.n_pos, 3);
    assert_string_equal(a.pos[0], "RUN1");
    assert_string_equal(a.pos[1], "PATH");
    assert_string_equal(a.pos[2], "--not-an-option");
    assert_string_equal(args_get(&a, "--experiment"), "exp");
    assert_int_equal(args_count(&a, "--tag"), 2);
    assert_string_equal(args_get(&a, "--tag"), "b=2"); /* the last one */
    assert_string_equal(a.opts[0].value, "a=1");       /* all of them, in order */
    assert_string_equal(args_get(&a, "-o"), "out");
    assert_true(args_has(&a, "--all"));
    args_free(&a);
}

static void test_parse_errors(void **state)
{
    (void)state;
    parsed_args a;
    char why[128];
    char *unknown[] = {"--bogus"};
    assert_non_null(args_parse(1, unknown, specs, false, &a, why, sizeof why));
    assert_non_null(strstr(why, "--bogus"));
    args_free(&a);
    char *missing[] = {"--experiment"};
    assert_non_null(args_parse(1, missing, specs, false, &a, why, sizeof why));
    assert_non_null(strstr(why, "needs a value"));
    args_free(&a);
    char *flag_value[] = {"--all=yes"};
    assert_non_null(args_parse(1, flag_value, specs, false, &a, why, sizeof why));
    args_free(&a);
}

static void test_parse_stops_at_command(void **state)
{
    (void)state;
    char *argv[] = {"--experiment", "x", "--json", "runs", "--all"};
    parsed_args a;
    char why[128];
    assert_null(args_parse(5, argv, specs, true, &a, why, sizeof why));
    assert_int_equal(a.next, 3);
    assert_true(a.json);
    assert_false(args_has(&a, "--all"));
    args_free(&a);
}

/* ---- human formatting ---- */

static void test_format(void **state)
{
    (void)state;
    char buf[FMT_NUM_LEN], t[FMT_TIME_LEN];
    assert_string_equal(fmt_double(0.1, buf), "0.1");
    assert_string_equal(fmt_double(1.0 / 3, buf), "0.3333333333333333");
    assert_string_equal(fmt_double(NAN, buf), "NaN");
    assert_string_equal(fmt_double(-INFINITY, buf), "-Infinity");
    assert_string_equal(fmt_time(1700000000123, t), "2023-11-14T22:13:20Z");
    assert_string_equal(fmt_time_ms(1700000000123, t), "2023-11-14T22:13:20.123Z");
    assert_string_equal(fmt_time(0, t), "-");
    assert_string_equal(fmt_size(512, buf), "512 B");
    assert_string_equal(fmt_size(1536, buf), "1.5 KiB");
}

static void test_table_alignment(void **state)
{
    (void)state;
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    table *t = table_new(3);
    table_align_right(t, 2);
    table_max_width(t, 1, 5);
    assert_true(table_add(t, (const char *[]){"ID", "NAME", "N"}));
    assert_true(table_add(t, (const char *[]){"a", "caf\xc3\xa9", "10"}));
    assert_true(table_add(t, (const char *[]){"bbb", "long\nname", NULL}));
    table_print(t, out, "> ");
    fclose(out);
    assert_string_equal(text, "> ID   NAME    N\n"
                              "> a    caf\xc3\xa9   10\n"
                              "> bbb  long\xe2\x80\xa6\n"); /* no trailing blanks */
    table_free(t);
    free(text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_duration_units),   cmocka_unit_test(test_duration_refused),
        cmocka_unit_test(test_uint),             cmocka_unit_test(test_kv),
        cmocka_unit_test(test_metric_ok),        cmocka_unit_test(test_metric_refused),
        cmocka_unit_test(test_parse_mixed),      cmocka_unit_test(test_parse_errors),
        cmocka_unit_test(test_parse_stops_at_command), cmocka_unit_test(test_format),
        cmocka_unit_test(test_table_alignment),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
