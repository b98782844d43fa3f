#include "metric_hold.h"

#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "fnv1a.h"
#include "metric_batch.h"

void metric_hold_init(metric_hold *h)
{
    memset(h, 0, sizeof *h);
}

void metric_hold_destroy(metric_hold *h)
{
    free(h->series);
    free(h->slots);
    free(h->keys);
    free(h->points);
    free(h->series_of);
    free(h->sorted);
    memset(h, 0, sizeof *h);
}

void metric_hold_clear(metric_hold *h)
{
    h->n_series = 0;
    h->keys_len = 0;
    h->n_points = 0;
    if (h->slots)
        memset(h->slots, 0, h->n_slots * sizeof *h->slots);
}

/* Makes room for need elements of size elem in *p (capacity *cap). The
 * memory is kept from group to group: steady load allocates nothing. */
static bool reserve(void **p, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap)
        return true;
    size_t n = *cap ? *cap : 64;
    while (n < need)
        n *= 2;
    void *q = realloc(*p, n * elem);
    if (!q)
        return false;
    *p = q;
    *cap = n;
    return true;
}

static bool reserve_points(metric_hold *h, size_t need)
{
    size_t cap = h->cap_points;
    size_t c1 = cap, c2 = cap;
    if (!reserve((void **)&h->points, &cap, need, sizeof *h->points) ||
        !reserve((void **)&h->series_of, &c1, need, sizeof *h->series_of) ||
        !reserve((void **)&h->sorted, &c2, need, sizeof *h->sorted))
        return false;
    h->cap_points = cap;
    return true;
}

/* Over the run's random bytes (its time is shared by many), then the key. */
static uint32_t hash_series(const ulid *run, msg_str key)
{
    return fnv1a(fnv1a(FNV1A_START, run->b + 6, ULID_BYTES - 6), key.p, key.n);
}

static bool same_series(const metric_hold *h, const held_series *s, const ulid *run, msg_str key)
{
    return s->key_len == key.n && memcmp(s->run.b, run->b, ULID_BYTES) == 0 &&
           memcmp(h->keys + s->key_off, key.p, key.n) == 0;
}

/* Keeps the table at most half full, so probes stay short. */
static bool grow_slots(metric_hold *h)
{
    if (2 * (h->n_series + 1) <= h->n_slots)
        return true;
    size_t n = h->n_slots ? 2 * h->n_slots : 256;
    uint32_t *slots = calloc(n, sizeof *slots);
    if (!slots)
        return false;
    for (size_t i = 0; i < h->n_series; i++) {
        const held_series *s = &h->series[i];
        size_t j = hash_series(&s->run, (msg_str){h->keys + s->key_off, s->key_len}) & (n - 1);
        while (slots[j])
            j = (j + 1) & (n - 1);
        slots[j] = (uint32_t)i + 1;
    }
    free(h->slots);
    h->slots = slots;
    h->n_slots = n;
    return true;
}

static bool add_series(metric_hold *h, const ulid *run, msg_str key, size_t slot)
{
    if (!reserve((void **)&h->series, &h->cap_series, h->n_series + 1, sizeof *h->series) ||
        !reserve((void **)&h->keys, &h->keys_cap, h->keys_len + key.n, 1))
        return false;
    memcpy(h->keys + h->keys_len, key.p, key.n);
    h->series[h->n_series] = (held_series){.run = *run, .key_off = (uint32_t)h->keys_len, .key_len = key.n};
    h->keys_len += key.n;
    h->slots[slot] = (uint32_t)++h->n_series;
    return true;
}

/* The index of the (run, key) series, added on first sight; -1 without memory. */
static long find_series(metric_hold *h, const ulid *run, msg_str key)
{
    if (!grow_slots(h))
        return -1;
    size_t mask = h->n_slots - 1;
    for (size_t j = hash_series(run, key) & mask;; j = (j + 1) & mask) {
        if (h->slots[j] == 0)
            return add_series(h, run, key, j) ? (long)h->n_series - 1 : -1;
        if (same_series(h, &h->series[h->slots[j] - 1], run, key))
            return (long)h->slots[j] - 1;
    }
}

cairn_status metric_hold_add(metric_hold *h, const ulid *run, const metric_batch *b,
                             cairn_error *err)
{
    if (!reserve_points(h, h->n_points + b->n_points))
        return error_set(err, CAIRN_OUT_OF_MEMORY, "no memory to hold %zu metric points",
                         h->n_points + b->n_points);
    for (size_t g = 0; g < b->n_groups; g++) {
        const metric_group *mg = &b->groups[g];
        long series = find_series(h, run, mg->key);
        if (series < 0)
            return error_set(err, CAIRN_OUT_OF_MEMORY, "no memory to hold metric series");
        memcpy(h->points + h->n_points, mg->points, mg->n * sizeof *mg->points);
        for (size_t i = 0; i < mg->n; i++)
            h->series_of[h->n_points++] = (uint32_t)series;
        h->series[series].n_points += (uint32_t)mg->n;
    }
    return CAIRN_OK;
}

cairn_status metric_hold_flush(metric_hold *h, store *s, MDB_txn *txn, cairn_error *err)
{
    if (h->n_points == 0)
        return CAIRN_OK;
    /* Counting sort by series: stable, so each series keeps its logging order. */
    size_t at = 0;
    for (size_t i = 0; i < h->n_series; i++) {
        h->series[i].start = (uint32_t)at;
        at += h->series[i].n_points;
        h->series[i].n_points = 0;
    }
    for (size_t i = 0; i < h->n_points; i++) {
        held_series *hs = &h->series[h->series_of[i]];
        h->sorted[hs->start + hs->n_points++] = h->points[i];
    }
    cairn_status st = CAIRN_OK;
    for (size_t i = 0; i < h->n_series && !st; i++) {
        const held_series *hs = &h->series[i];
        msg_str key = {h->keys + hs->key_off, hs->key_len};
        st = store_metric_append(s, txn, &hs->run, key, h->sorted + hs->start, hs->n_points, err);
    }
    metric_hold_clear(h);
    return st;
}
