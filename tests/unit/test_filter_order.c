/* order_by parsing (order_parse in coordinator/filter.c). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "filter.h"

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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_order_parse_items),
        cmocka_unit_test(test_order_parse_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
