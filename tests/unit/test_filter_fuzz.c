/* Search filters, order_by and LIKE (coordinator/filter.c) fed generated
 * input: every entry point answers a result or a well-formed error. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "filter_fixture.h"

/* xorshift64*: deterministic, so a failure reproduces with the same seed. */
static uint64_t rng_state = 0x9E3779B97F4A7C15u;

static uint32_t rng_next(void)
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return (uint32_t)((rng_state * 0x2545F4914F6CDD1Du) >> 32);
}

static uint32_t rng_below(uint32_t n) { return rng_next() % n; }

static const char *const fuzz_tokens[] = {
    "metrics", "params", "tags", "attributes", "attr", "run", "foo", ".", ".", "auc",
    "`", "`", "\"", "'", "''", "`my key`", "'rf'", "\"x\"", " ", " ", "  ", "\t", "\n",
    "and", "AND", "or", "LIKE", "ilike", "=", "!=", "<", "<=", ">", ">=", "==", "!",
    "0.8", "-1", "1e-3", "1e", "+", "-", "5", ".5", "1.2.3", "0x1F", "inf", "nan",
    "%", "_", "é", "€", "\xC3", "\x80", "\xFF", "run_id", "status", "start_time",
    "end_time", "run_name", "created", "`run name`", "DESC", "asc", "(", ")", ",",
    "mlflow.source.name", "a/b:c-d",
};

static const char *const fuzz_seeds[] = {
    "metrics.auc > 0.8 and params.model = 'rf' and tags.team != 'x'",
    "attributes.status = 'FINISHED' AND attributes.start_time >= 1700000000000",
    "params.`my param` LIKE 'a%b_c' and tags.\"x.y\" ILIKE '%é%'",
    "metrics.loss <= -1e-3 and attributes.end_time != 0 and attributes.run_name = 'it''s'",
    "run.`run name` like 'bold%' and metric.val/loss:1-x < 5",
};

static size_t fuzz_from_tokens(char *buf, size_t cap)
{
    size_t len = 0, count = 1 + rng_below(14);
    for (size_t i = 0; i < count; i++) {
        const char *token = fuzz_tokens[rng_below(sizeof fuzz_tokens / sizeof *fuzz_tokens)];
        size_t n = strlen(token);
        if (len + n >= cap)
            break;
        memcpy(buf + len, token, n);
        len += n;
    }
    return len;
}

static size_t fuzz_random_bytes(char *buf, size_t cap)
{
    size_t len = rng_below((uint32_t)cap);
    for (size_t i = 0; i < len; i++)
        buf[i] = (char)(1 + rng_below(255)); /* no NUL: the text is a C string */
    return len;
}

static size_t fuzz_mutate_seed(char *buf, size_t cap)
{
    const char *seed = fuzz_seeds[rng_below(sizeof fuzz_seeds / sizeof *fuzz_seeds)];
    size_t len = strlen(seed);
    memcpy(buf, seed, len);
    for (uint32_t edits = 1 + rng_below(4); edits > 0; edits--) {
        size_t at = len ? rng_below((uint32_t)len) : 0;
        switch (rng_below(4)) {
        case 0: /* replace a byte */
            if (len)
                buf[at] = (char)(1 + rng_below(255));
            break;
        case 1: /* delete a byte */
            if (len) {
                memmove(buf + at, buf + at + 1, len - at - 1);
                len--;
            }
            break;
        case 2: /* insert a byte the lexer treats specially */
            if (len + 1 < cap) {
                static const char special[] = "'\"`. %_=<>!\\\xC3\x80";
                memmove(buf + at + 1, buf + at, len - at);
                len++;
                buf[at] = special[rng_below(sizeof special - 1)];
            }
            break;
        default: /* truncate */
            len = at;
        }
    }
    return len;
}

static filter_run_view fuzz_view(void)
{
    filter_run_view view = default_view();
    view.has_end_time = rng_below(2);
    return view;
}

/* One input through every entry point; text sits in an exact-size heap block
 * so that ASan reports any read past its NUL. */
static bool fuzz_one(const char *bytes, size_t len)
{
    char *text = malloc(len + 1);
    assert_non_null(text);
    memcpy(text, bytes, len);
    text[len] = '\0';

    filter f;
    cairn_error err = {0};
    cairn_status st = filter_parse(text, &f, &err);
    bool accepted = st == CAIRN_OK;
    if (accepted) {
        filter_run_view view = fuzz_view();
        (void)filter_match(&f, &view);
    } else {
        if (st != CAIRN_INVALID_PARAMETER_VALUE || f.count != 0 || f.clauses != NULL ||
            strncmp(err.message, "filter: ", 8) != 0 || !strstr(err.message, " at character "))
            fail_msg("filter_parse(\"%s\"): status %d, message \"%s\"", text, st, err.message);
    }
    filter_free(&f);

    order_item item;
    st = order_parse(text, &item, &err);
    if (st != CAIRN_OK && (item.key != NULL || strncmp(err.message, "order_by: ", 10) != 0))
        fail_msg("order_parse(\"%s\"): message \"%s\"", text, err.message);
    order_item_free(&item);

    /* the same bytes, split, as a LIKE pattern and subject without NULs */
    size_t split = len ? rng_below((uint32_t)len + 1) : 0;
    char *pattern = malloc(split ? split : 1);
    char *subject = malloc(len - split ? len - split : 1);
    assert_non_null(pattern);
    assert_non_null(subject);
    memcpy(pattern, text, split);
    memcpy(subject, text + split, len - split);
    (void)like_match(pattern, split, subject, len - split, rng_below(2));
    free(pattern);
    free(subject);
    free(text);
    return accepted;
}

static void test_fuzz_never_crashes(void **state)
{
    (void)state;
    char buf[256];
    size_t accepted = 0;
    for (int i = 0; i < 6000; i++) {
        size_t len;
        switch (i % 3) {
        case 0: len = fuzz_from_tokens(buf, sizeof buf); break;
        case 1: len = fuzz_mutate_seed(buf, sizeof buf); break;
        default: len = fuzz_random_bytes(buf, 96); break;
        }
        accepted += fuzz_one(buf, len);
    }
    /* the mutated seeds keep some inputs valid, so matching gets exercised too */
    assert_true(accepted > 100);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fuzz_never_crashes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
