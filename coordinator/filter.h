/*
 * Run search expressions, in MLflow's syntax.
 *
 *   filter:   metrics.auc > 0.8 and params.model = 'rf' and tags.team != 'x'
 *   order_by: metrics.auc DESC
 *
 * Parsing happens once per search; filter_match runs once per run, so it
 * looks values up through the caller's run view and allocates nothing.
 * The grammar is in docs/protocol.md ("Search filter").
 */
#ifndef CAIRN_FILTER_H
#define CAIRN_FILTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cairn/status.h"

typedef enum filter_entity {
    FILTER_METRIC,
    FILTER_PARAM,
    FILTER_TAG,
    FILTER_ATTRIBUTE,
} filter_entity;

typedef enum filter_attribute {
    ATTR_NONE,
    ATTR_RUN_ID,     /* string: the 26-character ULID text */
    ATTR_RUN_NAME,   /* string */
    ATTR_STATUS,     /* string */
    ATTR_START_TIME, /* number (ms) */
    ATTR_END_TIME,   /* number (ms); a running run has none */
} filter_attribute;

typedef enum filter_op {
    OP_EQ,
    OP_NE,
    OP_LT,
    OP_LE,
    OP_GT,
    OP_GE,
    OP_LIKE,
    OP_ILIKE,
} filter_op;

typedef struct filter_clause {
    filter_entity entity;
    filter_attribute attribute; /* FILTER_ATTRIBUTE only */
    char *key;                  /* metric/param/tag key (NUL-terminated, unquoted) */
    filter_op op;
    bool is_number;             /* value is `number`, else `string` */
    double number;
    char *string;
    size_t string_len;
} filter_clause;

typedef struct filter {
    filter_clause *clauses; /* all must hold */
    size_t count;
} filter;

typedef struct order_item {
    filter_entity entity;
    filter_attribute attribute;
    char *key;
    bool descending;
} order_item;

/* What filter_match needs to know of one run. Lookups return false when the
 * run has no such key; strings need not be NUL-terminated. */
typedef struct filter_run_view {
    void *ctx;
    bool (*metric)(void *ctx, const char *key, double *value);
    bool (*param)(void *ctx, const char *key, const char **value, size_t *len);
    bool (*tag)(void *ctx, const char *key, const char **value, size_t *len);
    const char *run_id;      /* 26-character text */
    const char *run_name;
    size_t run_name_len;
    const char *status;
    int64_t start_time;
    int64_t end_time;
    bool has_end_time;
    uint64_t *like_work; /* NULL, or where LIKE and ILIKE add the steps they took */
} filter_run_view;

/* Parses text (NULL or blank: matches every run). On error out is empty and
 * err says where: CAIRN_INVALID_PARAMETER_VALUE "filter: expected a comparator
 * after 'metrics.auc' at character 12". */
cairn_status filter_parse(const char *text, filter *out, cairn_error *err);
void filter_free(filter *f);

/* True when every clause holds for the run. Numbers compare as doubles (NaN
 * matches only !=); a clause on a missing key is false. */
bool filter_match(const filter *f, const filter_run_view *run);

/* Parses one order_by item: "<entity>.<key> [ASC|DESC]" (default ASC). */
cairn_status order_parse(const char *text, order_item *out, cairn_error *err);
void order_item_free(order_item *item);

/* SQL LIKE: '%' any run of characters, '_' exactly one character (a whole
 * UTF-8 sequence),
 * everything else literal; case_insensitive folds ASCII letters (ILIKE). */
bool like_match(const char *pattern, size_t pattern_len, const char *s, size_t len,
                bool case_insensitive);

/* like_match, adding to *work (when not NULL) the steps it took: up to
 * len * pattern_len, which a caller matching many values bounds. */
bool like_match_counted(const char *pattern, size_t pattern_len, const char *s, size_t len,
                        bool case_insensitive, uint64_t *work);

#endif
