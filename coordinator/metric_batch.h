/*
 * The metric points of one run.log request: decoded, checked, and grouped by
 * key in logging order, so that each key's history is appended once per
 * request however its points were interleaved.
 */
#ifndef CAIRN_METRIC_BATCH_H
#define CAIRN_METRIC_BATCH_H

#include "handlers.h"

typedef struct metric_group {
    msg_str key;
    store_point *points; /* in logging order */
    size_t n;
} metric_group;

typedef struct metric_batch {
    metric_group *groups; /* in order of each key's first point */
    size_t n_groups;
    size_t n_points;
} metric_batch;

/* Reads `metrics` ([[key, value, step, timestamp], ...], may be NULL) into
 * out, using the request's scratch memory. A timestamp of 0 becomes now. */
cairn_status metric_batch_read(request_ctx *r, const msgpack_object *metrics, metric_batch *out,
                               cairn_error *err);

#endif
