/* What the test_filter_* files share: a fake run, looked up through a
 * filter_run_view the way the coordinator's store would. Each test_*.c in
 * tests/unit is its own binary and the Makefile links no shared test object,
 * hence a header of static (inline) definitions. */
#ifndef CAIRN_TEST_FILTER_FIXTURE_H
#define CAIRN_TEST_FILTER_FIXTURE_H

#include <math.h>
#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#include "filter.h"

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

static inline bool fake_metric(void *ctx, const char *key, double *value)
{
    const fake_run *run = ctx;
    for (size_t i = 0; i < run->metric_count; i++)
        if (strcmp(run->metrics[i].key, key) == 0)
            return *value = run->metrics[i].value, true;
    return false;
}

static inline bool find_string(const string_entry *entries, size_t count, const char *key,
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

static inline bool fake_param(void *ctx, const char *key, const char **value, size_t *len)
{
    const fake_run *run = ctx;
    return find_string(run->params, run->param_count, key, value, len);
}

static inline bool fake_tag(void *ctx, const char *key, const char **value, size_t *len)
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

static inline filter_run_view default_view(void)
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

#endif
