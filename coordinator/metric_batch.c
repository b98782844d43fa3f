#include "metric_batch.h"

#include <string.h>

#include "body.h"
#include "body_shapes.h"
#include "error.h"
#include "fnv1a.h"
#include "validate.h"

/* Scratch layout for n points: groups[n], slots[2^k >= 2n], group_of[n],
 * decoded[n], dense[n]. */
typedef struct layout {
    metric_group *groups;
    uint32_t *slots; /* open addressing: group index + 1, 0 = empty */
    size_t n_slots;
    uint32_t *group_of;
    store_point *decoded;
    store_point *dense;
} layout;

static bool make_layout(request_ctx *r, size_t n, layout *l)
{
    l->n_slots = 2;
    while (l->n_slots < 2 * n)
        l->n_slots *= 2;
    size_t bytes = n * (sizeof(metric_group) + sizeof(uint32_t) + 2 * sizeof(store_point)) +
                   l->n_slots * sizeof(uint32_t);
    uint8_t *p = request_scratch(r, bytes);
    if (!p)
        return false;
    l->groups = (metric_group *)p;
    l->decoded = (store_point *)(l->groups + n);
    l->dense = l->decoded + n;
    l->slots = (uint32_t *)(l->dense + n);
    l->group_of = l->slots + l->n_slots;
    memset(l->slots, 0, l->n_slots * sizeof(uint32_t));
    return true;
}

/* The group of key, created (and its key checked) on first sight. */
static cairn_status find_group(layout *l, metric_batch *b, msg_str key, uint32_t *group,
                               cairn_error *err)
{
    size_t mask = l->n_slots - 1;
    for (size_t i = fnv1a(FNV1A_START, key.p, key.n) & mask;; i = (i + 1) & mask) {
        if (l->slots[i] == 0) {
            cairn_status st = validate_key("metric", key, err);
            if (st)
                return st;
            *group = (uint32_t)b->n_groups;
            l->groups[b->n_groups++] = (metric_group){key, NULL, 0};
            l->slots[i] = *group + 1;
            return CAIRN_OK;
        }
        if (msg_str_same(l->groups[l->slots[i] - 1].key, key)) {
            *group = l->slots[i] - 1;
            return CAIRN_OK;
        }
    }
}

static cairn_status read_point(const msgpack_object *o, int64_t now_ms, msg_str *key,
                               store_point *p, cairn_error *err)
{
    cairn_status st = body_metric_point(o, key, &p->value, &p->step, &p->timestamp, err);
    if (st)
        return st;
    if (p->timestamp == 0)
        p->timestamp = now_ms;
    return CAIRN_OK;
}

/* Decodes every point and assigns it a group; a point with the previous
 * point's key skips the hash lookup. */
static cairn_status decode_points(request_ctx *r, const msgpack_object *arr, layout *l,
                                  metric_batch *b, cairn_error *err)
{
    msg_str prev = {NULL, 0};
    uint32_t prev_group = 0;
    for (size_t i = 0; i < b->n_points; i++) {
        msg_str key;
        cairn_status st = read_point(&arr->via.array.ptr[i], r->now_ms, &key, &l->decoded[i], err);
        if (st)
            return st;
        if (!prev.p || !msg_str_same(prev, key)) {
            if ((st = find_group(l, b, key, &prev_group, err)))
                return st;
            prev = key;
        }
        l->group_of[i] = prev_group;
        l->groups[prev_group].n++;
    }
    return CAIRN_OK;
}

cairn_status metric_batch_read(request_ctx *r, const msgpack_object *metrics, metric_batch *out,
                               cairn_error *err)
{
    memset(out, 0, sizeof *out);
    out->n_points = metrics ? metrics->via.array.size : 0;
    if (out->n_points == 0)
        return CAIRN_OK;
    layout l;
    if (!make_layout(r, out->n_points, &l))
        return error_set(err, CAIRN_OUT_OF_MEMORY, "no memory for %zu metric points", out->n_points);
    out->groups = l.groups;
    cairn_status st = decode_points(r, metrics, &l, out, err);
    if (st)
        return st;
    /* Counting sort by group: stable, so each key keeps its logging order. */
    size_t start = 0;
    for (size_t g = 0; g < out->n_groups; g++) {
        l.groups[g].points = l.dense + start;
        start += l.groups[g].n;
        l.groups[g].n = 0;
    }
    for (size_t i = 0; i < out->n_points; i++) {
        metric_group *g = &l.groups[l.group_of[i]];
        g->points[g->n++] = l.decoded[i];
    }
    return CAIRN_OK;
}
