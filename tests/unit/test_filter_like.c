/* LIKE and ILIKE (like_match in coordinator/filter.c): wildcards over UTF-8,
 * bounded by lengths, in linear time. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "filter.h"

static bool like(const char *pattern, const char *s, bool case_insensitive)
{
    return like_match(pattern, strlen(pattern), s, strlen(s), case_insensitive);
}

static void test_like_basics(void **state)
{
    (void)state;
    const struct {
        const char *pattern;
        const char *s;
        bool ci;
        bool expected;
    } cases[] = {
        {"", "", false, true},         {"", "a", false, false},      {"%", "", false, true},
        {"%%", "", false, true},       {"%", "anything", false, true}, {"_", "", false, false},
        {"_", "a", false, true},       {"_", "ab", false, false},    {"a%", "abc", false, true},
        {"a%", "bac", false, false},   {"%c", "abc", false, true},   {"%b%", "abc", false, true},
        {"%b%", "ac", false, false},   {"a_c", "abc", false, true},  {"a_c", "ac", false, false},
        {"a__c", "abbc", false, true}, {"%a_", "banana", false, false}, {"%n_", "banana", false, true},
        {"b%a%a", "banana", false, true}, {"b%n%n", "banana", false, false},
        {"a.c", "abc", false, false},  {"a.c", "a.c", false, true},  {"[a]", "a", false, false},
        {"50%", "50% off", false, true}, {"ABC", "abc", false, false}, {"ABC", "abc", true, true},
        {"a%C", "AxYc", true, true},   {"%Vision", "vision", true, true},
        {"%x%", "aaaa", false, false}, {"%a%b%", "xaybz", false, true},
        {"%a%b%", "xbyaz", false, false}, {"a%%b", "ab", false, true},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++)
        if (like(cases[i].pattern, cases[i].s, cases[i].ci) != cases[i].expected)
            fail_msg("like('%s', '%s', %d) should be %d", cases[i].pattern, cases[i].s,
                     cases[i].ci, cases[i].expected);
}

static void test_like_underscore_is_one_utf8_character(void **state)
{
    (void)state;
    assert_true(like("_", "é", false));            /* 2 bytes */
    assert_true(like("_", "€", false));            /* 3 bytes */
    assert_true(like("_", "😀", false));           /* 4 bytes */
    assert_false(like("__", "é", false));
    assert_false(like("%__", "€", false)); /* a restart must not land inside the sequence */
    assert_false(like("%___", "é€", false));
    assert_true(like("%__", "é€", false));
    assert_true(like("a_b", "aéb", false));
    assert_true(like("%_b", "a€b", false));
    assert_true(like("_é_", "xéy", false));
    assert_true(like("%é", "caféé", false));
    assert_false(like("%é", "café!", false));
    assert_false(like("É", "é", true)); /* ILIKE folds ASCII only */
    assert_true(like("caf_", "CAFé", true));
}

static void test_like_broken_utf8(void **state)
{
    (void)state;
    assert_true(like("_", "\x80", false));          /* lone continuation byte */
    assert_true(like("_", "\xC3", false));          /* truncated sequence */
    assert_true(like("_", "\xE2\x82", false));      /* truncated 3-byte sequence */
    assert_false(like("__", "\xE2\x82", false));
    assert_true(like("__", "\xC3x", false));        /* a lead without continuation */
    assert_true(like("_", "\xFF", false));
    assert_true(like("%_", "\x80\x80\x80", false));
}

/* Lengths, not NUL terminators, bound both inputs. */
static void test_like_respects_lengths(void **state)
{
    (void)state;
    assert_true(like_match("ab%", 2, "abc", 2, false));
    assert_false(like_match("ab", 2, "abc", 3, false));
    assert_true(like_match("a_", 2, "a\0", 2, false));
    assert_true(like_match("", 0, "", 0, false));
    assert_true(like_match(NULL, 0, NULL, 0, false));

    char *pattern = malloc(3); /* exact sizes so ASan catches any overread */
    char *s = malloc(4);
    assert_non_null(pattern);
    assert_non_null(s);
    memcpy(pattern, "%_%", 3);
    memcpy(s, "\xF0\x9F\x98", 3); /* a 4-byte lead cut short */
    s[3] = 'x';
    assert_true(like_match(pattern, 3, s, 3, false));
    free(pattern);
    free(s);
}

/* The classic exponential case for naive backtracking: must stay fast. */
static void test_like_is_not_exponential(void **state)
{
    (void)state;
    size_t n = 20000;
    char *s = malloc(n + 2);
    assert_non_null(s);
    memset(s, 'a', n);
    s[n] = '\0';
    const char *pattern = "%a%a%a%a%a%a%a%a%a%a%a%a%a%a%a%a%b";
    assert_false(like(pattern, s, false));
    assert_false(like("%a%a%a%a%a%a%a%a%a%a%a%a%a%a%a%a_b", s, true));
    s[n] = 'b';
    s[n + 1] = '\0';
    assert_true(like(pattern, s, false));
    free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_like_basics),
        cmocka_unit_test(test_like_underscore_is_one_utf8_character),
        cmocka_unit_test(test_like_broken_utf8),
        cmocka_unit_test(test_like_respects_lengths),
        cmocka_unit_test(test_like_is_not_exponential),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
