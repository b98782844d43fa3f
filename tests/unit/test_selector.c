/* Label selectors: parsing, matching and refusals (coordinator/selector.c). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "selector.h"

/* The agent most tests match against. */
static const selector_label serving_labels[] = {
    {"role", "serving"}, {"model", "churn"}, {"env", "prod"}, {"zone", "eu-west-1a"},
};
#define N_SERVING (sizeof serving_labels / sizeof serving_labels[0])
static const char serving_host[] = "gpu-07.example";

/* Parses text, which must succeed, and matches it against the serving agent. */
static bool matches(const char *text)
{
    selector s;
    cairn_error err = {0};
    cairn_status st = selector_parse(&s, text, strlen(text), &err);
    if (st != CAIRN_OK)
        fail_msg("'%s' did not parse: %s", text, err.message);
    return selector_match(&s, serving_host, serving_labels, N_SERVING);
}

/* Parses text, which must fail with status, and returns the message. */
static const char *refused(const char *text, cairn_status status)
{
    static cairn_error err;
    selector s;
    memset(&err, 0, sizeof err);
    cairn_status st = selector_parse(&s, text, strlen(text), &err);
    if (st != status)
        fail_msg("'%s': expected %s, got %s (%s)", text, cairn_status_name(status),
                 cairn_status_name(st), err.message);
    return err.message;
}

static void test_equality_clauses_are_anded(void **state)
{
    (void)state;
    assert_true(matches("role=serving"));
    assert_true(matches("role=serving,model=churn"));
    assert_true(matches("role=serving,model=churn,env=prod"));
    assert_false(matches("role=serving,model=fraud"));
    assert_false(matches("role=training"));
}

static void test_not_equal(void **state)
{
    (void)state;
    assert_true(matches("env!=dev"));
    assert_false(matches("env!=prod"));
    assert_true(matches("role=serving,env!=dev"));
    assert_false(matches("role=serving,env!=prod"));
}

static void test_missing_label_fails_equal_and_passes_not_equal(void **state)
{
    (void)state;
    assert_false(matches("gpu=a100"));
    assert_true(matches("gpu!=a100"));
    assert_false(matches("gpu=*")); /* a glob needs a value to match */
    assert_true(matches("gpu!=*"));
    assert_false(matches("env!=*")); /* present: '*' matches it, so != fails */
}

static void test_globs_in_values(void **state)
{
    (void)state;
    assert_true(matches("zone=eu-*"));
    assert_true(matches("zone=eu-west-?a"));
    assert_false(matches("zone=us-*"));
    assert_true(matches("model=ch?rn"));
    assert_true(matches("model=[bc]hurn"));
    assert_true(matches("model=*"));
    assert_false(matches("model=chur")); /* whole-value match, not a prefix */
}

static void test_host_key_matches_the_hostname(void **state)
{
    (void)state;
    assert_true(matches("host=gpu-*"));
    assert_true(matches("host=gpu-07.example"));
    assert_false(matches("host=cpu-*"));
    assert_true(matches("host!=cpu-*"));
    assert_true(matches("host=gpu-*,role=serving"));
    /* A label named host is not consulted: the key means the hostname. */
    selector_label tricky[] = {{"host", "cpu-1"}};
    selector s;
    assert_int_equal(selector_parse(&s, "host=gpu-*", 10, NULL), CAIRN_OK);
    assert_true(selector_match(&s, "gpu-1", tricky, 1));
}

static void test_empty_selector_matches_every_agent(void **state)
{
    (void)state;
    assert_true(matches(""));
    assert_true(matches("   "));
    selector s;
    assert_int_equal(selector_parse(&s, "", 0, NULL), CAIRN_OK);
    assert_int_equal(s.n, 0);
    assert_true(selector_match(&s, "any", NULL, 0));
}

static void test_blanks_around_parts_are_ignored(void **state)
{
    (void)state;
    assert_true(matches(" role = serving , model=churn "));
    assert_true(matches("env != dev"));
    assert_true(matches("\trole=serving"));
}

static void test_empty_value(void **state)
{
    (void)state;
    selector_label empty[] = {{"note", ""}};
    selector s;
    assert_int_equal(selector_parse(&s, "note=", 5, NULL), CAIRN_OK);
    assert_true(selector_match(&s, "h", empty, 1));
    assert_false(selector_match(&s, "h", serving_labels, N_SERVING));
}

static void test_value_may_hold_equals_signs(void **state)
{
    (void)state;
    selector_label eq[] = {{"query", "a=b"}};
    selector s;
    assert_int_equal(selector_parse(&s, "query=a=b", 9, NULL), CAIRN_OK);
    assert_true(selector_match(&s, "h", eq, 1));
}

static void test_parse_errors_are_clear(void **state)
{
    (void)state;
    const char *m = refused("role", CAIRN_INVALID_PARAMETER_VALUE);
    assert_non_null(strstr(m, "'role'"));
    assert_non_null(strstr(m, "no '=' or '!='"));
    m = refused("role=serving,,model=churn", CAIRN_INVALID_PARAMETER_VALUE);
    assert_non_null(strstr(m, "empty clause"));
    refused("role=serving,", CAIRN_INVALID_PARAMETER_VALUE);
    refused(",role=serving", CAIRN_INVALID_PARAMETER_VALUE);
    m = refused("=serving", CAIRN_INVALID_PARAMETER_VALUE);
    assert_non_null(strstr(m, "key"));
    refused("!=serving", CAIRN_INVALID_PARAMETER_VALUE);
    m = refused("ro le=x", CAIRN_INVALID_PARAMETER_VALUE);
    assert_non_null(strstr(m, "'ro le=x'"));
    refused("role*=x", CAIRN_INVALID_PARAMETER_VALUE);
    refused("role=a\nb", CAIRN_INVALID_PARAMETER_VALUE);
}

static void test_limits(void **state)
{
    (void)state;
    char text[SELECTOR_MAX_BYTES + 2];
    memset(text, 'a', sizeof text - 1);
    text[sizeof text - 1] = '\0';
    text[1] = '=';
    refused(text, CAIRN_LIMIT_EXCEEDED);

    char many[SELECTOR_MAX_CLAUSES * 8 + 16] = "";
    for (int i = 0; i <= SELECTOR_MAX_CLAUSES; i++)
        snprintf(many + strlen(many), sizeof many - strlen(many), "%sk%d=v", i ? "," : "", i);
    refused(many, CAIRN_LIMIT_EXCEEDED);

    char key[SELECTOR_MAX_KEY + 8];
    memset(key, 'k', SELECTOR_MAX_KEY + 1);
    strcpy(key + SELECTOR_MAX_KEY + 1, "=v");
    refused(key, CAIRN_INVALID_PARAMETER_VALUE);
    key[SELECTOR_MAX_KEY] = '=';
    key[SELECTOR_MAX_KEY + 1] = '\0';
    selector s;
    assert_int_equal(selector_parse(&s, key, strlen(key), NULL), CAIRN_OK);
}

static void test_nul_byte_is_refused(void **state)
{
    (void)state;
    selector s;
    cairn_error err;
    assert_int_equal(selector_parse(&s, "a=b\0c", 5, &err), CAIRN_INVALID_PARAMETER_VALUE);
}

static void test_key_alphabet(void **state)
{
    (void)state;
    assert_true(selector_key_ok("k8s.io/zone", 11));
    assert_true(selector_key_ok("gpu_type-2", 10));
    assert_false(selector_key_ok("", 0));
    assert_false(selector_key_ok("a b", 3));
    assert_false(selector_key_ok("a,b", 3));
    assert_false(selector_key_ok("a=b", 3));
    assert_false(selector_key_ok("é", 2));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_equality_clauses_are_anded),
        cmocka_unit_test(test_not_equal),
        cmocka_unit_test(test_missing_label_fails_equal_and_passes_not_equal),
        cmocka_unit_test(test_globs_in_values),
        cmocka_unit_test(test_host_key_matches_the_hostname),
        cmocka_unit_test(test_empty_selector_matches_every_agent),
        cmocka_unit_test(test_blanks_around_parts_are_ignored),
        cmocka_unit_test(test_empty_value),
        cmocka_unit_test(test_value_may_hold_equals_signs),
        cmocka_unit_test(test_parse_errors_are_clear),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_nul_byte_is_refused),
        cmocka_unit_test(test_key_alphabet),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
