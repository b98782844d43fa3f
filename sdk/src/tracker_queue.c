#include <stdlib.h>
#include <string.h>

#include "tracker_queue.h"

void tkq_init(tk_queue *q, size_t max_items)
{
    memset(q, 0, sizeof *q);
    q->next_seq = 1;
    q->max_items = max_items;
}

static void free_ops(tk_op *op)
{
    while (op) {
        tk_op *next = op->next;
        tk_op_free(op);
        op = next;
    }
}

void tkq_destroy(tk_queue *q)
{
    free_ops(q->head);
    q->head = q->tail = NULL;
    while (q->spare) {
        tk_chunk *next = q->spare->next;
        free(q->spare);
        q->spare = next;
    }
    q->n_spare = 0;
    tk_keys_free(&q->keys);
    tk_runs_free(&q->runs);
}

const tk_key *tkq_intern(tk_queue *q, const char *key, size_t len, uint64_t hash)
{
    return tk_keys_intern(&q->keys, key, len, hash);
}

cairn_status tkq_room(const tk_queue *q, size_t n)
{
    if (n > q->max_items)
        return CAIRN_LIMIT_EXCEEDED;
    return q->items + n > q->max_items ? CAIRN_BACKPRESSURE : CAIRN_OK;
}

static void append(tk_queue *q, tk_op *op)
{
    op->next = NULL;
    op->seq = q->next_seq++;
    if (q->tail)
        q->tail->next = op;
    else
        q->head = op;
    q->tail = op;
}

static tk_chunk *new_chunk(tk_queue *q)
{
    tk_chunk *c = q->spare;
    if (c) {
        q->spare = c->next;
        q->n_spare--;
    } else if (!(c = malloc(sizeof *c))) {
        return NULL;
    }
    c->next = NULL;
    c->n = 0;
    return c;
}

/* The operation run's points go on: the tail when it holds them (one run
 * logging), else the run's open one, else a new METRICS operation. */
static tk_op *metrics_op(tk_queue *q, const ulid *run)
{
    tk_op *op = q->tail;
    if (op && op->kind == TK_METRICS && memcmp(op->run.b, run->b, ULID_BYTES) == 0)
        return op;
    if ((op = tk_runs_open(&q->runs, run)))
        return op;
    if (!(op = calloc(1, sizeof *op)))
        return NULL;
    op->kind = TK_METRICS;
    op->run = *run;
    append(q, op);
    tk_runs_set(&q->runs, run, op);
    return op;
}

/* Whether op concerns a run, whose later points must then follow it. */
static bool has_run(const tk_op *op)
{
    return op->kind != TK_DATASET || op->u.dataset.has_run;
}

cairn_status tkq_push_point(tk_queue *q, const ulid *run, const tk_point *p)
{
    tk_op *op = metrics_op(q, run);
    if (!op)
        return CAIRN_OUT_OF_MEMORY;
    tk_chunk *c = op->u.metrics.last;
    if (!c || c->n == TK_CHUNK_POINTS) {
        if (!(c = new_chunk(q)))
            return CAIRN_OUT_OF_MEMORY; /* an empty new operation is harmless */
        if (op->u.metrics.last)
            op->u.metrics.last->next = c;
        else
            op->u.metrics.first = c;
        op->u.metrics.last = c;
    }
    c->p[c->n++] = *p;
    op->items++;
    q->items++;
    q->waiting_items++;
    return CAIRN_OK;
}

cairn_status tkq_push_op(tk_queue *q, tk_op *op)
{
    cairn_status st = tkq_room(q, op->items);
    if (st)
        return st;
    append(q, op);
    if (has_run(op))
        tk_runs_close(&q->runs, &op->run);
    q->items += op->items;
    q->waiting_items += op->items;
    return CAIRN_OK;
}

uint64_t tkq_last_seq(const tk_queue *q)
{
    return q->next_seq - 1;
}

tk_op *tkq_take(tk_queue *q)
{
    tk_op *ops = q->head;
    q->head = q->tail = NULL;
    q->waiting_items = 0;
    tk_runs_clear(&q->runs);
    return ops;
}

void tkq_acked(tk_queue *q, size_t n)
{
    q->items = n < q->items ? q->items - n : 0;
}

void tkq_release(tk_queue *q, tk_op *op)
{
    if (op->kind == TK_METRICS) {
        tk_chunk *c = op->u.metrics.first;
        while (c && q->n_spare < TK_SPARE_CHUNKS_MAX) {
            tk_chunk *next = c->next;
            c->next = q->spare;
            q->spare = c;
            q->n_spare++;
            c = next;
        }
        op->u.metrics.first = c; /* the rest, if any, is freed with op */
    }
    tk_op_free(op);
}
