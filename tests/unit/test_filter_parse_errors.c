/* Search filters (coordinator/filter.c): what filter_parse refuses, and the
 * message and position it reports. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "filter.h"

static void expect_parse_error(const char *text, const char *substring)
{
    filter f = {.count = 99}; /* must come back empty */
    cairn_error err = {0};
    cairn_status st = filter_parse(text, &f, &err);
    if (st != CAIRN_INVALID_PARAMETER_VALUE)
        fail_msg("filter_parse(\"%s\"): status %d, expected an error containing \"%s\"", text,
                 st, substring);
    assert_int_equal(err.status, CAIRN_INVALID_PARAMETER_VALUE);
    assert_int_equal(f.count, 0);
    assert_null(f.clauses);
    if (strncmp(err.message, "filter: ", 8) != 0 || !strstr(err.message, substring))
        fail_msg("filter_parse(\"%s\"): message \"%s\" lacks \"%s\"", text, err.message, substring);
}

static void test_error_missing_comparator(void **state)
{
    (void)state;
    expect_parse_error("metrics.auc", "filter: expected a comparator after 'metrics.auc' at character 12");
    expect_parse_error("metrics.auc 0.8",
                       "filter: expected a comparator after 'metrics.auc' at character 13");
    expect_parse_error("metrics.`my metric` ~ 1",
                       "expected a comparator after 'metrics.`my metric`' at character 21");
    expect_parse_error("metrics.a == 1", "expected a number after 'metrics.a' at character 12");
    expect_parse_error("params.a IN ('x')", "expected a comparator after 'params.a' at character 10");
    expect_parse_error("params.a NOT LIKE 'x'", "expected a comparator");
    expect_parse_error("params.a likex 'x'", "expected a comparator");
}

static void test_error_entity(void **state)
{
    (void)state;
    expect_parse_error("foo.bar = 'x'",
                       "filter: unknown entity 'foo' (use metrics, params, tags or attributes)");
    expect_parse_error("metrics.a > 1 and dataset.name = 'x'", "unknown entity 'dataset'");
    expect_parse_error("auc > 0.8", "expected '<entity>.<key>' such as metrics.auc at character 1");
    expect_parse_error("> 0.8", "expected '<entity>.<key>'");
    expect_parse_error("metrics > 0.8", "expected '.' after 'metrics' at character 8");
    expect_parse_error("`metrics`.auc > 1", "expected '<entity>.<key>'");
    expect_parse_error("metrics . auc > 1", "expected '.' after 'metrics'");
}

static void test_error_key(void **state)
{
    (void)state;
    expect_parse_error("metrics. > 1", "expected a key after 'metrics.' at character 9");
    expect_parse_error("metrics.", "expected a key after 'metrics.' at character 9");
    expect_parse_error("metrics.`` > 1", "empty key after 'metrics.' at character 9");
    expect_parse_error("metrics.\"\" > 1", "empty key");
    expect_parse_error("metrics.`auc > 1", "unterminated quoted key (no closing `) at character 9");
    expect_parse_error("metrics.pré > 1", "unexpected character in key 'metrics.pr' "
                                          "(quote such keys in backticks) at character 11");
    expect_parse_error("params.a'x' = 'y'", "unexpected character in key 'params.a'");
    expect_parse_error("attributes.user_id = 'x'",
                       "unknown attribute 'attributes.user_id' (use run_id, run_name, status, "
                       "start_time or end_time) at character 1");
    expect_parse_error("attributes.`` = 'x'", "empty key");
}

static void test_error_comparator_type(void **state)
{
    (void)state;
    expect_parse_error("metrics.a LIKE '%x'",
                       "LIKE does not apply to 'metrics.a', which is a number (use = != < <= > >=)");
    expect_parse_error("attributes.start_time ilike '1%'", "ilike does not apply to "
                                                           "'attributes.start_time', which is a number");
    expect_parse_error("attributes.end_time LIKE '1'", "which is a number");
    expect_parse_error("params.a < 'x'",
                       "< does not apply to 'params.a', which is a string (use = != LIKE ILIKE)"
                       " at character 10");
    expect_parse_error("tags.a >= 'x'", ">= does not apply to 'tags.a'");
    expect_parse_error("attributes.status > 'x'", "which is a string");
    expect_parse_error("attributes.run_id <= 'x'", "which is a string");
}

static void test_error_value(void **state)
{
    (void)state;
    expect_parse_error("metrics.a > 'x'",
                       "expected a number for 'metrics.a', found a quoted string at character 13");
    expect_parse_error("metrics.a > \"0.8\"", "found a quoted string");
    expect_parse_error("params.a = 5", "expected a quoted string for 'params.a'");
    expect_parse_error("tags.a = rf", "expected a quoted string for 'tags.a'");
    expect_parse_error("attributes.status = FINISHED", "expected a quoted string");
    expect_parse_error("metrics.a > abc", "expected a number after 'metrics.a' at character 13");
    expect_parse_error("metrics.a >", "expected a number after 'metrics.a' at character 12");
    expect_parse_error("metrics.a > -", "expected a number");
    expect_parse_error("metrics.a > .", "expected a number");
    expect_parse_error("metrics.a > inf", "expected a number");
    expect_parse_error("metrics.a > nan", "expected a number");
    expect_parse_error("metrics.a > 1e", "malformed number for 'metrics.a' at character 13");
    expect_parse_error("metrics.a > 0.8x", "malformed number");
    expect_parse_error("metrics.a > 1.2.3", "malformed number");
    expect_parse_error("metrics.a > 0x10", "malformed number");
    expect_parse_error("metrics.a > 1e+", "malformed number");
    expect_parse_error("metrics.a > 0.8and metrics.b > 1", "malformed number");
    expect_parse_error("params.a = 'x", "unterminated string (no closing ') at character 12");
    expect_parse_error("params.a = \"x''", "unterminated string (no closing \")");
    expect_parse_error("params.a = 'it''", "unterminated string");
}

static void test_error_joining(void **state)
{
    (void)state;
    expect_parse_error("metrics.a > 1 or metrics.b > 2",
                       "'or' is not supported (clauses join with 'and' only) at character 15");
    expect_parse_error("metrics.a > 1 metrics.b > 2",
                       "expected 'and' or the end of the filter at character 15");
    expect_parse_error("metrics.a > 1 and", "expected '<entity>.<key>' such as metrics.auc at "
                                            "character 18");
    expect_parse_error("metrics.a > 1 and and metrics.b > 1", "expected '<entity>.<key>'");
    expect_parse_error("metrics.a > 1 andmetrics.b > 1", "expected 'and' or the end");
    expect_parse_error("params.a = 'x' && params.b = 'y'", "expected 'and' or the end");
    expect_parse_error("(metrics.a > 1)", "expected '<entity>.<key>'");
}

/* A clause that parsed before the error must not leak or be left behind. */
static void test_error_discards_earlier_clauses(void **state)
{
    (void)state;
    const char *text = "metrics.a > 1 and params.b = 'x' and params.c = 2";
    expect_parse_error(text, "expected a quoted string for 'params.c'");
    expect_parse_error(text, "at character 49");
    assert_int_equal(filter_parse("bad", &(filter){0}, NULL), CAIRN_INVALID_PARAMETER_VALUE);
}

static void test_error_position_counts_characters(void **state)
{
    (void)state;
    /* é is two bytes but one character */
    expect_parse_error("tags.`é` = 'é' xx", "expected 'and' or the end of the filter at character 16");
    expect_parse_error("tags.`€` = '€€' or", "'or' is not supported (clauses join with 'and' "
                                            "only) at character 17");
}

/* A very long token is quoted only in part, so the position still fits. */
static void test_error_long_input_keeps_position(void **state)
{
    (void)state;
    size_t n = 5000;
    char *text = malloc(n + 16);
    assert_non_null(text);
    memset(text, 'x', n);
    strcpy(text + n, ".a > 1");
    expect_parse_error(text, "unknown entity 'xxxxxxxx");
    expect_parse_error(text, "at character 1");

    memcpy(text, "metrics.", 8); /* metrics.xxxx...x.a > 1 and then garbage */
    strcpy(text + n, " > 1 ~");
    char expected[64];
    snprintf(expected, sizeof expected, "at character %zu", n + 6);
    expect_parse_error(text, expected);
    free(text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_error_missing_comparator),
        cmocka_unit_test(test_error_entity),
        cmocka_unit_test(test_error_key),
        cmocka_unit_test(test_error_comparator_type),
        cmocka_unit_test(test_error_value),
        cmocka_unit_test(test_error_joining),
        cmocka_unit_test(test_error_discards_earlier_clauses),
        cmocka_unit_test(test_error_position_counts_characters),
        cmocka_unit_test(test_error_long_input_keeps_position),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
