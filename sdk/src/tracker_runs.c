#include "tracker_runs.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define MIN_SLOTS 64

/* ULIDs made in one millisecond share their first bytes: mix both halves. */
static size_t slot_of(const tk_runs *r, const ulid *run)
{
    uint64_t hi, lo;
    memcpy(&hi, run->b, sizeof hi);
    memcpy(&lo, run->b + 8, sizeof lo);
    uint64_t h = (hi ^ (lo * 0x9E3779B97F4A7C15u)) * 0xBF58476D1CE4E5B9u;
    return (size_t)(h >> 32) & (r->cap - 1);
}

/* The slot holding run, or the free slot where it would go. cap > used. */
static tk_run_slot *find(const tk_runs *r, const ulid *run)
{
    size_t i = slot_of(r, run);
    while (r->slots[i].used && memcmp(r->slots[i].run.b, run->b, ULID_BYTES) != 0)
        i = (i + 1) & (r->cap - 1);
    return &r->slots[i];
}

void tk_runs_free(tk_runs *r)
{
    free(r->slots);
    memset(r, 0, sizeof *r);
}

struct tk_op *tk_runs_open(const tk_runs *r, const ulid *run)
{
    if (r->used == 0)
        return NULL;
    const tk_run_slot *s = find(r, run);
    return s->used ? s->op : NULL;
}

/* Doubles the table, keeping only runs that still have an open operation. */
static bool grow(tk_runs *r)
{
    size_t cap = r->cap ? r->cap * 2 : MIN_SLOTS;
    tk_runs bigger = {.slots = calloc(cap, sizeof *bigger.slots), .cap = cap};
    if (!bigger.slots)
        return false;
    for (size_t i = 0; i < r->cap; i++) {
        const tk_run_slot *s = &r->slots[i];
        if (s->used && s->op) {
            *find(&bigger, &s->run) = *s;
            bigger.used++;
        }
    }
    free(r->slots);
    *r = bigger;
    return true;
}

void tk_runs_set(tk_runs *r, const ulid *run, struct tk_op *op)
{
    tk_run_slot *s = r->cap ? find(r, run) : NULL;
    if (!s || !s->used) {
        /* At most half full, so that probes stay short. */
        if ((r->used + 1) * 2 > r->cap) {
            if (!grow(r))
                return;
            s = find(r, run);
        }
        s->used = true;
        s->run = *run;
        r->used++;
    }
    s->op = op;
}

void tk_runs_close(tk_runs *r, const ulid *run)
{
    if (r->used == 0)
        return;
    tk_run_slot *s = find(r, run);
    if (s->used)
        s->op = NULL;
}

void tk_runs_clear(tk_runs *r)
{
    if (r->used)
        memset(r->slots, 0, r->cap * sizeof *r->slots);
    r->used = 0;
}
