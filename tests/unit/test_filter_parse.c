/* Search filters (coordinator/filter.c): what filter_parse accepts, and the
 * clauses it makes of it. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "filter_fixture.h"

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
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
