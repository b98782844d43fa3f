/*
 * For each run with points waiting in the tracker's queue, the METRICS
 * operation its next point joins: the run's last operation in the queue,
 * while that is a METRICS operation. A process that steps many runs in turn
 * (a sweep, one point per run per step) then queues one operation per run,
 * sent as one request, where each point used to start an operation of its
 * own with its own request and its own 32 KiB chunk.
 *
 * An open-addressing table keyed by run id, emptied when the sender takes
 * the queue. It only ever saves work: when it cannot grow, points start new
 * operations as they would without it.
 */
#ifndef CAIRN_TRACKER_RUNS_H
#define CAIRN_TRACKER_RUNS_H

#include <stdbool.h>
#include <stddef.h>

#include "ulid.h"

struct tk_op;

typedef struct tk_run_slot {
    ulid run;
    struct tk_op *op; /* NULL: the run's next point starts a new operation */
    bool used;
} tk_run_slot;

typedef struct tk_runs {
    tk_run_slot *slots;
    size_t cap;  /* a power of two, or 0 */
    size_t used; /* slots holding a run */
} tk_runs;

void tk_runs_free(tk_runs *r);

/* The operation run's next point may join, or NULL. */
struct tk_op *tk_runs_open(const tk_runs *r, const ulid *run);

/* op is now run's operation for its next points. */
void tk_runs_set(tk_runs *r, const ulid *run, struct tk_op *op);

/* Something other than points was queued for run: its next point goes after
 * it, in a new operation. */
void tk_runs_close(tk_runs *r, const ulid *run);

/* The queue was taken: every run's next point starts a new operation. */
void tk_runs_clear(tk_runs *r);

#endif
