/*
 * Metric points held back within a group of requests.
 *
 * Under group commit, single-point run.log requests arrive by the thousand
 * for a handful of (run, key) series. Appending each one on its own rewrites
 * its series record (up to 4 KiB) and walks the tree twice; holding the
 * points of small batches until the group next reads, or commits, appends
 * each series once with the same result. The holder lives as long as the
 * group's write transaction: it is flushed into that transaction before any
 * other handler runs and before the commit, and cleared when it aborts.
 */
#ifndef CAIRN_METRIC_HOLD_H
#define CAIRN_METRIC_HOLD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store.h"

/* Batches with more points than this append at once: they gain nothing from
 * waiting, and this bounds the memory held to max_batch times it. */
#define METRIC_HOLD_MAX_POINTS 64

struct metric_batch;

typedef struct held_series {
    ulid run;
    uint32_t key_off;   /* into keys */
    uint32_t key_len;
    uint32_t n_points;
    uint32_t start;     /* its first point in sorted, while flushing */
} held_series;

typedef struct metric_hold {
    held_series *series;  /* in order of first sight */
    size_t n_series, cap_series;
    uint32_t *slots;      /* open addressing over series: index + 1, 0 = empty */
    size_t n_slots;
    char *keys;           /* the series' keys, back to back */
    size_t keys_len, keys_cap;
    store_point *points;  /* in arrival order */
    uint32_t *series_of;  /* the series of each point */
    store_point *sorted;  /* points grouped by series at flush */
    size_t n_points, cap_points;
} metric_hold;

void metric_hold_init(metric_hold *h);
void metric_hold_destroy(metric_hold *h);
static inline bool metric_hold_empty(const metric_hold *h)
{
    return h->n_points == 0;
}
/* Holds the batch's points for run. OUT_OF_MEMORY when it cannot (the caller
 * aborts the transaction). */
cairn_status metric_hold_add(metric_hold *h, const ulid *run, const struct metric_batch *b,
                             cairn_error *err);
/* Appends every held series to the store in txn (each in its logging order)
 * and empties the holder. */
cairn_status metric_hold_flush(metric_hold *h, store *s, MDB_txn *txn, cairn_error *err);
/* Forgets the held points: their transaction was aborted. */
void metric_hold_clear(metric_hold *h);

#endif
