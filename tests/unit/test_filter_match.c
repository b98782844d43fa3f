/* Search filters (coordinator/filter.c): which runs a parsed filter
 * matches, through metrics, params, tags and attributes. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "filter_fixture.h"

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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_match_metrics),
        cmocka_unit_test(test_match_missing_key_never_matches),
        cmocka_unit_test(test_match_nan_only_not_equal),
        cmocka_unit_test(test_match_params_and_tags),
        cmocka_unit_test(test_match_unterminated_values),
        cmocka_unit_test(test_match_attributes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
