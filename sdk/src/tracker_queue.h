/*
 * The tracker's queue: what training code logged and the sender has not yet
 * had acknowledged, as a list of operations. Each run's operations keep call
 * order; a run's points join its METRICS operation while nothing else was
 * queued for the run after it, even when other runs' operations came between
 * (tracker_runs.h), so operations of different runs may leave in another
 * order than they were made. Points are stored in fixed-size chunks so that
 * appending one copies 32 bytes and allocates nothing in the common case. Nothing here locks or blocks: the tracker holds its mutex
 * around every call (tracker.c, tracker_sender.c).
 */
#ifndef CAIRN_TRACKER_QUEUE_H
#define CAIRN_TRACKER_QUEUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cairn/client.h"
#include "tracker_keys.h"
#include "tracker_runs.h"
#include "ulid.h"

#define TK_CHUNK_POINTS 1024  /* 32 KiB: below malloc's mmap threshold */
#define TK_SPARE_CHUNKS_MAX 64 /* chunks kept for reuse after a burst is sent */

typedef struct tk_point {
    const tk_key *key;
    double value;
    int64_t step;
    int64_t timestamp; /* unix ms */
} tk_point;

typedef struct tk_chunk {
    struct tk_chunk *next;
    size_t n;
    tk_point p[TK_CHUNK_POINTS];
} tk_chunk;

typedef enum tk_kind {
    TK_START,    /* run.start */
    TK_METRICS,  /* run.log of metrics, split into several requests when large */
    TK_PARAMS,   /* run.log of params: one call, one request, applied whole */
    TK_TAGS,     /* run.log of tags */
    TK_END,      /* run.end */
    TK_ARTIFACT, /* an upload, made when every operation before it is done */
    TK_DATASET,  /* dataset.log of a hashed dataset, the run's link when it has one */
} tk_kind;

/* An upload shared by the caller of cairn_tracker_log_artifact, who waits for
 * it, and the sender, who makes it. Fields change under the tracker's mutex. */
typedef struct tk_artifact {
    char *local_file;
    char *path;     /* NULL: the file's base name */
    bool started;   /* the sender began the upload: the caller waits for it */
    bool done;      /* status, err and out are set: the caller frees the operation */
    bool cancelled; /* the caller gave up on it: the sender skips it, or finishes it
                       unwatched, and frees it */
    int64_t deadline_ms;    /* tk_mono_ms(): not begun by then, it is cancelled */
    const char *asked_file; /* the caller's own arguments, for cairn_artifact.path */
    const char *asked_path;
    cairn_status status;
    cairn_error err;
    cairn_artifact out;
} tk_artifact;

typedef struct tk_op {
    struct tk_op *next;
    tk_kind kind;
    uint64_t seq;  /* position in the queue, from 1; a flush waits for a position */
    size_t items;  /* counted against max_queued until acknowledged */
    ulid run;
    union {
        struct {
            tk_chunk *first, *last;
        } metrics; /* op->items points */
        struct {
            char *experiment;
            char *name; /* may be NULL */
            cairn_kv *tags;
            size_t n_tags;
            int64_t start_time;
        } start;
        struct {
            cairn_kv *kv;
            size_t n;
        } kv; /* TK_PARAMS, TK_TAGS */
        struct {
            const char *status; /* a static string: FINISHED, FAILED or KILLED */
            int64_t end_time;
        } end;
        tk_artifact artifact;
        struct {
            char *name;
            char *source;  /* may be NULL */
            char *context; /* may be NULL */
            cairn_dataset_digest digest;
            bool has_run;  /* else op->run is unused */
        } dataset;
    } u;
} tk_op;

typedef struct tk_queue {
    tk_op *head, *tail;
    uint64_t next_seq;    /* the seq the next operation gets */
    size_t items;         /* queued or being sent, not yet acknowledged */
    size_t max_items;
    size_t waiting_items; /* of those, still in the queue (not taken by the sender) */
    tk_keys keys;
    tk_runs runs;         /* each run's METRICS operation its next point joins */
    tk_chunk *spare;      /* chunks given back after sending, reused by appends */
    size_t n_spare;
} tk_queue;

void tkq_init(tk_queue *q, size_t max_items);

/* Frees the queued operations, the interned keys and the spare chunks. */
void tkq_destroy(tk_queue *q);

/* The interned key, see tk_keys_intern. */
const tk_key *tkq_intern(tk_queue *q, const char *key, size_t len, uint64_t hash);

/* CAIRN_OK when n more items fit under max_items, else CAIRN_BACKPRESSURE
 * (CAIRN_LIMIT_EXCEEDED when n alone is more than max_items: it never fits). */
cairn_status tkq_room(const tk_queue *q, size_t n);

/* Appends a point to its run's METRICS operation when nothing else was queued
 * for the run after it, else to a new one at the tail. The caller checked tkq_room and the key's status.
 * CAIRN_OUT_OF_MEMORY is the only failure. */
cairn_status tkq_push_point(tk_queue *q, const ulid *run, const tk_point *p);

/* Appends op (made by a tk_op_* constructor) and numbers it, or returns
 * CAIRN_BACKPRESSURE and leaves op to the caller. */
cairn_status tkq_push_op(tk_queue *q, tk_op *op);

/* The seq of the last operation queued (0: none yet). */
uint64_t tkq_last_seq(const tk_queue *q);

/* Detaches every queued operation, in order, for the sender: later appends
 * start new operations. NULL when the queue is empty. */
tk_op *tkq_take(tk_queue *q);

/* n items of a taken operation were acknowledged (or refused): room again. */
void tkq_acked(tk_queue *q, size_t n);

/* Frees a taken operation, keeping its chunks for reuse. */
void tkq_release(tk_queue *q, tk_op *op);

/* ---- operations (tracker_ops.c): each owns copies of its arguments ---- */

tk_op *tk_op_start(const ulid *run, const cairn_run_start_opts *opts, const cairn_kv *detected,
                   size_t n_detected, int64_t start_time);
tk_op *tk_op_kv(tk_kind kind, const ulid *run, const cairn_kv *kv, size_t n);
tk_op *tk_op_end(const ulid *run, const char *status, int64_t end_time);
tk_op *tk_op_artifact(const ulid *run, const char *local_file, const char *path);
/* run may be NULL: the dataset version alone. */
tk_op *tk_op_dataset(const ulid *run, const char *name, const cairn_dataset_digest *digest,
                     const char *source, const char *context);

/* Frees op and everything it owns, its chunks included. */
void tk_op_free(tk_op *op);

#endif
