/* Search filter and order_by parsing, matching and LIKE (coordinator/filter.c). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "filter.h"

/* ---- helpers ----------------------------------------------------------- */

typedef struct metric_entry {
    const char *key;
    double value;
} metric_entry;

typedef struct string_entry {
    const char *key;
    const char *value;
    size_t len; /* 0: strlen(value); lets a test hand out unterminated values */
} string_entry;

typedef struct fake_run {
    const metric_entry *metrics;
    size_t metric_count;
    const string_entry *params;
    size_t param_count;
    const string_entry *tags;
    size_t tag_count;
} fake_run;

static bool fake_metric(void *ctx, const char *key, double *value)
{
    const fake_run *run = ctx;
    for (size_t i = 0; i < run->metric_count; i++)
        if (strcmp(run->metrics[i].key, key) == 0)
            return *value = run->metrics[i].value, true;
    return false;
}

static bool find_string(const string_entry *entries, size_t count, const char *key,
                        const char **value, size_t *len)
{
    for (size_t i = 0; i < count; i++) {
        if (strcmp(entries[i].key, key) == 0) {
            *value = entries[i].value;
            *len = entries[i].len ? entries[i].len : strlen(entries[i].value);
            return true;
        }
    }
    return false;
}

static bool fake_param(void *ctx, const char *key, const char **value, size_t *len)
{
    const fake_run *run = ctx;
    return find_string(run->params, run->param_count, key, value, len);
}

static bool fake_tag(void *ctx, const char *key, const char **value, size_t *len)
{
    const fake_run *run = ctx;
    return find_string(run->tags, run->tag_count, key, value, len);
}

static const metric_entry default_metrics[] = {
    {"auc", 0.85}, {"loss", -1.5}, {"my metric", 3}, {"val/loss:1-x", 7}, {"nan", NAN},
};
static const string_entry default_params[] = {
    {"model", "rf", 0}, {"lr", "0.001", 0}, {"quote", "it's", 0}, {"empty", "", 0},
    {"greek", "αβγ", 0},
};
static const string_entry default_tags[] = {
    {"team", "Vision", 0}, {"mlflow.source.name", "train.py", 0}, {"a.b", "dotted", 0},
};
static fake_run default_run = {
    default_metrics, sizeof default_metrics / sizeof *default_metrics,
    default_params, sizeof default_params / sizeof *default_params,
    default_tags, sizeof default_tags / sizeof *default_tags,
};

static filter_run_view default_view(void)
{
    return (filter_run_view){
        .ctx = &default_run,
        .metric = fake_metric,
        .param = fake_param,
        .tag = fake_tag,
        .run_id = "01HZX3J5K8Q2W7E4R6T9Y1U3I0",
        .run_name = "bold-fox",
        .run_name_len = 8,
        .status = "FINISHED",
        .start_time = 1000,
        .end_time = 2000,
        .has_end_time = true,
    };
}

/* Parses text, which must succeed, and reports whether the view matches. */
static bool matches_view(const char *text, const filter_run_view *view)
{
    filter f;
    cairn_error err = {0};
    cairn_status st = filter_parse(text, &f, &err);
    if (st != CAIRN_OK)
        fail_msg("filter_parse(\"%s\"): %s", text, err.message);
    bool result = filter_match(&f, view);
    filter_free(&f);
    return result;
}

static bool matches(const char *text)
{
    filter_run_view view = default_view();
    return matches_view(text, &view);
}

/* Parses text, which must succeed with expected_count clauses. */
static filter parse_ok(const char *text, size_t expected_count)
{
    filter f;
    cairn_error err = {0};
    if (filter_parse(text, &f, &err) != CAIRN_OK)
        fail_msg("filter_parse(\"%s\"): %s", text, err.message);
    if (f.count != expected_count)
        fail_msg("filter_parse(\"%s\"): %zu clauses, expected %zu", text, f.count, expected_count);
    return f;
}

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

static void expect_order_error(const char *text, const char *substring)
{
    order_item item = {.key = (char *)"not freed", .descending = true};
    cairn_error err = {0};
    cairn_status st = order_parse(text, &item, &err);
    if (st != CAIRN_INVALID_PARAMETER_VALUE)
        fail_msg("order_parse(\"%s\"): status %d", text ? text : "(null)", st);
    assert_null(item.key);
    assert_false(item.descending);
    if (strncmp(err.message, "order_by: ", 10) != 0 || !strstr(err.message, substring))
        fail_msg("order_parse(\"%s\"): message \"%s\" lacks \"%s\"", text ? text : "(null)",
                 err.message, substring);
}

/* ---- parsing: successes ------------------------------------------------ */

static void test_parse_blank_matches_everything(void **state)
{
    (void)state;
    const char *blanks[] = {NULL, "", "   ", " \t\r\n\f\v "};
    for (size_t i = 0; i < sizeof blanks / sizeof *blanks; i++) {
        filter f = parse_ok(blanks[i], 0);
        assert_null(f.clauses);
        filter_run_view view = default_view();
        assert_true(filter_match(&f, &view));
        filter_free(&f);
    }
    filter_run_view view = default_view();
    assert_true(filter_match(NULL, &view));
}

static void test_parse_metric_comparators(void **state)
{
    (void)state;
    const struct {
        const char *text;
        filter_op op;
        double number;
    } cases[] = {
        {"metrics.auc = 0.8", OP_EQ, 0.8},     {"metrics.auc != -1", OP_NE, -1},
        {"metrics.auc < 1e-3", OP_LT, 1e-3},   {"metrics.auc <= 5", OP_LE, 5},
        {"metrics.auc > +2", OP_GT, 2},        {"metrics.auc >= .5", OP_GE, 0.5},
        {"metrics.auc>1E+3", OP_GT, 1e3},      {"metrics.auc<=-0.25e1", OP_LE, -2.5},
        {"  metrics.auc   =   7.  ", OP_EQ, 7},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        filter f = parse_ok(cases[i].text, 1);
        assert_int_equal(f.clauses[0].entity, FILTER_METRIC);
        assert_int_equal(f.clauses[0].attribute, ATTR_NONE);
        assert_string_equal(f.clauses[0].key, "auc");
        assert_int_equal(f.clauses[0].op, cases[i].op);
        assert_true(f.clauses[0].is_number);
        assert_true(f.clauses[0].number == cases[i].number);
        assert_null(f.clauses[0].string);
        filter_free(&f);
    }
}

static void test_parse_string_comparators(void **state)
{
    (void)state;
    const struct {
        const char *text;
        filter_entity entity;
        filter_op op;
    } cases[] = {
        {"params.model = 'rf'", FILTER_PARAM, OP_EQ},
        {"params.model != 'rf'", FILTER_PARAM, OP_NE},
        {"params.model LIKE 'rf'", FILTER_PARAM, OP_LIKE},
        {"params.model like 'rf'", FILTER_PARAM, OP_LIKE},
        {"tags.model ILIKE 'rf'", FILTER_TAG, OP_ILIKE},
        {"tags.model iLiKe \"rf\"", FILTER_TAG, OP_ILIKE},
        {"tags.model='rf'", FILTER_TAG, OP_EQ},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        filter f = parse_ok(cases[i].text, 1);
        assert_int_equal(f.clauses[0].entity, cases[i].entity);
        assert_string_equal(f.clauses[0].key, "model");
        assert_int_equal(f.clauses[0].op, cases[i].op);
        assert_false(f.clauses[0].is_number);
        assert_int_equal(f.clauses[0].string_len, 2);
        assert_string_equal(f.clauses[0].string, "rf");
        filter_free(&f);
    }
}

static void test_parse_entity_aliases(void **state)
{
    (void)state;
    const struct {
        const char *text;
        filter_entity entity;
    } cases[] = {
        {"metric.x > 1", FILTER_METRIC},          {"METRICS.x > 1", FILTER_METRIC},
        {"param.x = 'a'", FILTER_PARAM},          {"parameters.x = 'a'", FILTER_PARAM},
        {"parameter.x = 'a'", FILTER_PARAM},      {"tag.x = 'a'", FILTER_TAG},
        {"Tags.x = 'a'", FILTER_TAG},             {"attribute.status = 'a'", FILTER_ATTRIBUTE},
        {"attr.status = 'a'", FILTER_ATTRIBUTE},  {"run.status = 'a'", FILTER_ATTRIBUTE},
        {"attributes.status = 'a'", FILTER_ATTRIBUTE},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        filter f = parse_ok(cases[i].text, 1);
        assert_int_equal(f.clauses[0].entity, cases[i].entity);
        filter_free(&f);
    }
}

static void test_parse_attributes(void **state)
{
    (void)state;
    const struct {
        const char *text;
        filter_attribute attribute;
        const char *key;
        bool is_number;
    } cases[] = {
        {"attributes.run_id = 'x'", ATTR_RUN_ID, "run_id", false},
        {"attributes.run_name LIKE 'x%'", ATTR_RUN_NAME, "run_name", false},
        {"attributes.`run name` = 'x'", ATTR_RUN_NAME, "run_name", false},
        {"attributes.\"Run Name\" = 'x'", ATTR_RUN_NAME, "run_name", false},
        {"attributes.status = 'FINISHED'", ATTR_STATUS, "status", false},
        {"attributes.start_time >= 1700000000000", ATTR_START_TIME, "start_time", true},
        {"attributes.created < 5", ATTR_START_TIME, "start_time", true},
        {"attributes.end_time != 0", ATTR_END_TIME, "end_time", true},
        {"attributes.STATUS = 'x'", ATTR_STATUS, "status", false},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        filter f = parse_ok(cases[i].text, 1);
        assert_int_equal(f.clauses[0].entity, FILTER_ATTRIBUTE);
        assert_int_equal(f.clauses[0].attribute, cases[i].attribute);
        assert_string_equal(f.clauses[0].key, cases[i].key);
        assert_int_equal(f.clauses[0].is_number, cases[i].is_number);
        filter_free(&f);
    }
}

static void test_parse_key_quoting(void **state)
{
    (void)state;
    const struct {
        const char *text;
        const char *key;
    } cases[] = {
        {"metrics.`my metric` > 1", "my metric"},
        {"metrics.\"my.metric\" > 1", "my.metric"},
        {"metrics.`a``b` > 1", "a`b"},
        {"metrics.\"a\"\"b\" > 1", "a\"b"},
        {"metrics.`a > b`>1", "a > b"},
        {"tags.mlflow.source.name = 'x'", "mlflow.source.name"},
        {"metrics.val/loss:1-x > 1", "val/loss:1-x"},
        {"metrics.1st_metric > 1", "1st_metric"},
        {"metrics.`précision` > 1", "précision"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        filter f = parse_ok(cases[i].text, 1);
        assert_string_equal(f.clauses[0].key, cases[i].key);
        filter_free(&f);
    }
}

static void test_parse_string_values(void **state)
{
    (void)state;
    const struct {
        const char *text;
        const char *value;
    } cases[] = {
        {"params.q = 'it''s'", "it's"},
        {"params.q = \"say \"\"hi\"\"\"", "say \"hi\""},
        {"params.q = \"it's\"", "it's"},
        {"params.q = 'say \"hi\"'", "say \"hi\""},
        {"params.q = ''", ""},
        {"params.q = 'αβγ'", "αβγ"},
        {"params.q = ' and metrics.x > 1 '", " and metrics.x > 1 "},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        filter f = parse_ok(cases[i].text, 1);
        assert_string_equal(f.clauses[0].string, cases[i].value);
        assert_int_equal(f.clauses[0].string_len, strlen(cases[i].value));
        filter_free(&f);
    }
}

static void test_parse_and_joins_clauses(void **state)
{
    (void)state;
    filter f = parse_ok("metrics.auc > 0.8 and params.model = 'rf' AND tags.team != 'x' "
                        "aNd attributes.status = 'RUNNING'", 4);
    assert_int_equal(f.clauses[0].entity, FILTER_METRIC);
    assert_int_equal(f.clauses[1].entity, FILTER_PARAM);
    assert_int_equal(f.clauses[2].entity, FILTER_TAG);
    assert_int_equal(f.clauses[2].op, OP_NE);
    assert_int_equal(f.clauses[3].attribute, ATTR_STATUS);
    filter_free(&f);
    filter_free(&f); /* freeing twice is harmless: the struct is emptied */

    f = parse_ok("metrics.a>1 and\tmetrics.b<2\nand params.c='x'and tags.d='y'", 4);
    filter_free(&f);
}

/* ---- parsing: errors --------------------------------------------------- */

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

/* ---- matching ---------------------------------------------------------- */

static void test_match_metrics(void **state)
{
    (void)state;
    assert_true(matches("metrics.auc > 0.8"));
    assert_false(matches("metrics.auc > 0.85"));
    assert_true(matches("metrics.auc >= 0.85"));
    assert_true(matches("metrics.auc = 0.85"));
    assert_false(matches("metrics.auc != 0.85"));
    assert_true(matches("metrics.auc < 1"));
    assert_true(matches("metrics.auc <= 0.85"));
    assert_true(matches("metrics.loss < -1"));
    assert_true(matches("metrics.loss = -15e-1"));
    assert_true(matches("metrics.`my metric` = 3"));
    assert_true(matches("metrics.val/loss:1-x = 7"));
}

static void test_match_missing_key_never_matches(void **state)
{
    (void)state;
    const char *cases[] = {
        "metrics.nope = 0",        "metrics.nope != 0",     "metrics.nope < 1e300",
        "metrics.nope >= -1e300",  "params.nope = 'x'",     "params.nope != 'x'",
        "params.nope LIKE '%'",    "tags.nope ILIKE '%'",   "tags.nope != ''",
        "params.team = 'Vision'", /* a tag, not a param */
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++)
        if (matches(cases[i]))
            fail_msg("\"%s\" matched a run without the key", cases[i]);

    filter_run_view no_lookups = default_view();
    no_lookups.metric = NULL;
    no_lookups.param = NULL;
    no_lookups.tag = NULL;
    assert_false(matches_view("metrics.auc != 1", &no_lookups));
    assert_false(matches_view("params.model != 'x'", &no_lookups));
    assert_false(matches_view("tags.team != 'x'", &no_lookups));
}

static void test_match_nan_only_not_equal(void **state)
{
    (void)state;
    assert_false(matches("metrics.nan = 0"));
    assert_false(matches("metrics.nan < 0"));
    assert_false(matches("metrics.nan <= 0"));
    assert_false(matches("metrics.nan > 0"));
    assert_false(matches("metrics.nan >= 0"));
    assert_true(matches("metrics.nan != 0"));
}

static void test_match_params_and_tags(void **state)
{
    (void)state;
    assert_true(matches("params.model = 'rf'"));
    assert_false(matches("params.model = 'RF'"));
    assert_false(matches("params.model = 'rf '"));
    assert_true(matches("params.model != 'xgb'"));
    assert_true(matches("params.lr = '0.001'"));
    assert_false(matches("params.lr = '1e-3'")); /* strings compare as strings */
    assert_true(matches("params.quote = 'it''s'"));
    assert_true(matches("params.empty = ''"));
    assert_true(matches("params.empty LIKE '%'"));
    assert_false(matches("params.empty LIKE '_'"));
    assert_true(matches("params.greek LIKE 'α_γ'"));
    assert_true(matches("params.greek LIKE '___'"));
    assert_false(matches("params.greek LIKE '______'")); /* six bytes, three characters */
    assert_true(matches("tags.team = 'Vision'"));
    assert_false(matches("tags.team LIKE 'vis%'"));
    assert_true(matches("tags.team ILIKE 'vis%'"));
    assert_true(matches("tags.team ILIKE '%ION'"));
    assert_true(matches("tags.mlflow.source.name LIKE '%.py'"));
    assert_true(matches("tags.`a.b` = 'dotted'"));
    assert_true(matches("params.model = 'rf' and tags.team = 'Vision' and metrics.auc > 0.5"));
    assert_false(matches("params.model = 'rf' and tags.team = 'Vision' and metrics.auc > 0.9"));
}

/* Lookups may hand out values that are not NUL-terminated: only len counts. */
static void test_match_unterminated_values(void **state)
{
    (void)state;
    static const char buffer[] = "rfXYZ";
    const string_entry params[] = {{"model", buffer, 2}};
    fake_run run = {.params = params, .param_count = 1};
    filter_run_view view = default_view();
    view.ctx = &run;
    view.run_name = "bold-fox-and-more";
    view.run_name_len = 8;
    assert_true(matches_view("params.model = 'rf'", &view));
    assert_false(matches_view("params.model LIKE 'rfX%'", &view));
    assert_true(matches_view("attributes.run_name = 'bold-fox'", &view));
    assert_false(matches_view("attributes.run_name LIKE '%more'", &view));
}

static void test_match_attributes(void **state)
{
    (void)state;
    assert_true(matches("attributes.run_id = '01HZX3J5K8Q2W7E4R6T9Y1U3I0'"));
    assert_true(matches("attributes.run_id LIKE '01HZX%'"));
    assert_false(matches("attributes.run_id = '01hzx3j5k8q2w7e4r6t9y1u3i0'"));
    assert_true(matches("attributes.run_id ILIKE '01hzx3j5k8q2w7e4r6t9y1u3i0'"));
    assert_true(matches("attributes.run_name = 'bold-fox'"));
    assert_true(matches("attributes.`run name` LIKE 'bold%'"));
    assert_true(matches("attributes.status = 'FINISHED'"));
    assert_true(matches("attributes.status != 'RUNNING'"));
    assert_true(matches("attributes.start_time = 1000"));
    assert_true(matches("attributes.created >= 1000"));
    assert_false(matches("attributes.start_time > 1000"));
    assert_true(matches("attributes.end_time < 2001"));
    assert_true(matches("attributes.end_time != 0"));

    filter_run_view running = default_view();
    running.has_end_time = false;
    assert_false(matches_view("attributes.end_time != 0", &running));
    assert_false(matches_view("attributes.end_time > 0", &running));
    assert_false(matches_view("attributes.end_time < 1e300", &running));
    assert_true(matches_view("attributes.start_time > 0", &running));

    filter_run_view unnamed = default_view();
    unnamed.run_name = NULL;
    unnamed.run_name_len = 0;
    unnamed.status = NULL;
    unnamed.run_id = NULL;
    assert_false(matches_view("attributes.run_name != 'x'", &unnamed));
    assert_false(matches_view("attributes.status != 'x'", &unnamed));
    assert_false(matches_view("attributes.run_id LIKE '%'", &unnamed));

    filter_run_view empty_name = default_view();
    empty_name.run_name = "";
    empty_name.run_name_len = 0;
    assert_true(matches_view("attributes.run_name = ''", &empty_name));
}

/* ---- like_match -------------------------------------------------------- */

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

/* ---- order_by ---------------------------------------------------------- */

static void test_order_parse_items(void **state)
{
    (void)state;
    const struct {
        const char *text;
        filter_entity entity;
        filter_attribute attribute;
        const char *key;
        bool descending;
    } cases[] = {
        {"metrics.auc", FILTER_METRIC, ATTR_NONE, "auc", false},
        {"metrics.auc DESC", FILTER_METRIC, ATTR_NONE, "auc", true},
        {"metrics.auc desc", FILTER_METRIC, ATTR_NONE, "auc", true},
        {"metrics.auc ASC", FILTER_METRIC, ATTR_NONE, "auc", false},
        {"  params.`my p`   Desc  ", FILTER_PARAM, ATTR_NONE, "my p", true},
        {"params.\"my.p\"asc", FILTER_PARAM, ATTR_NONE, "my.p", false},
        {"tags.mlflow.user", FILTER_TAG, ATTR_NONE, "mlflow.user", false},
        {"attributes.start_time DESC", FILTER_ATTRIBUTE, ATTR_START_TIME, "start_time", true},
        {"attr.created asc", FILTER_ATTRIBUTE, ATTR_START_TIME, "start_time", false},
        {"run.`run name`", FILTER_ATTRIBUTE, ATTR_RUN_NAME, "run_name", false},
        {"attribute.end_time desc", FILTER_ATTRIBUTE, ATTR_END_TIME, "end_time", true},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        order_item item;
        cairn_error err = {0};
        if (order_parse(cases[i].text, &item, &err) != CAIRN_OK)
            fail_msg("order_parse(\"%s\"): %s", cases[i].text, err.message);
        assert_int_equal(item.entity, cases[i].entity);
        assert_int_equal(item.attribute, cases[i].attribute);
        assert_string_equal(item.key, cases[i].key);
        assert_int_equal(item.descending, cases[i].descending);
        order_item_free(&item);
        assert_null(item.key);
        order_item_free(&item);
    }
    order_item_free(NULL);
}

static void test_order_parse_errors(void **state)
{
    (void)state;
    expect_order_error(NULL, "order_by: expected '<entity>.<key>' such as metrics.auc at character 1");
    expect_order_error("", "expected '<entity>.<key>'");
    expect_order_error("   ", "expected '<entity>.<key>' such as metrics.auc at character 4");
    expect_order_error("auc DESC", "expected '<entity>.<key>'");
    expect_order_error("foo.bar", "order_by: unknown entity 'foo' (use metrics, params, tags or "
                                  "attributes)");
    expect_order_error("metrics.auc DOWN",
                       "order_by: expected ASC, DESC or the end after 'metrics.auc' at character 13");
    expect_order_error("metrics.auc DESCENDING", "expected ASC, DESC or the end");
    expect_order_error("metrics.auc DESC x",
                       "expected ASC, DESC or the end after 'metrics.auc DESC' at character 18");
    expect_order_error("metrics.auc ASC DESC", "expected ASC, DESC or the end");
    expect_order_error("metrics.auc > 1", "expected ASC, DESC or the end");
    expect_order_error("metrics.auc, params.x", "unexpected character in key 'metrics.auc'");
    expect_order_error("metrics.", "expected a key after 'metrics.'");
    expect_order_error("metrics.`auc", "unterminated quoted key");
    expect_order_error("attributes.nope", "unknown attribute 'attributes.nope'");
}

/* ---- fuzz -------------------------------------------------------------- */

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
        cmocka_unit_test(test_parse_blank_matches_everything),
        cmocka_unit_test(test_parse_metric_comparators),
        cmocka_unit_test(test_parse_string_comparators),
        cmocka_unit_test(test_parse_entity_aliases),
        cmocka_unit_test(test_parse_attributes),
        cmocka_unit_test(test_parse_key_quoting),
        cmocka_unit_test(test_parse_string_values),
        cmocka_unit_test(test_parse_and_joins_clauses),
        cmocka_unit_test(test_error_missing_comparator),
        cmocka_unit_test(test_error_entity),
        cmocka_unit_test(test_error_key),
        cmocka_unit_test(test_error_comparator_type),
        cmocka_unit_test(test_error_value),
        cmocka_unit_test(test_error_joining),
        cmocka_unit_test(test_error_discards_earlier_clauses),
        cmocka_unit_test(test_error_position_counts_characters),
        cmocka_unit_test(test_error_long_input_keeps_position),
        cmocka_unit_test(test_match_metrics),
        cmocka_unit_test(test_match_missing_key_never_matches),
        cmocka_unit_test(test_match_nan_only_not_equal),
        cmocka_unit_test(test_match_params_and_tags),
        cmocka_unit_test(test_match_unterminated_values),
        cmocka_unit_test(test_match_attributes),
        cmocka_unit_test(test_like_basics),
        cmocka_unit_test(test_like_underscore_is_one_utf8_character),
        cmocka_unit_test(test_like_broken_utf8),
        cmocka_unit_test(test_like_respects_lengths),
        cmocka_unit_test(test_like_is_not_exponential),
        cmocka_unit_test(test_order_parse_items),
        cmocka_unit_test(test_order_parse_errors),
        cmocka_unit_test(test_fuzz_never_crashes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
