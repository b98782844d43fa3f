/*
 * The tracker's sender thread: takes the queue when a batch is ready, when
 * someone waits for it, or every flush_ms; sends each operation in order on
 * its own connection; resends each request, same bytes and id, until it is
 * acknowledged or refused. A refusal is kept for the next flush and the
 * sender moves on, so one bad request never blocks the ones behind it.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "client_internal.h"
#include "error.h"
#include "tracker_encode.h"
#include "tracker_internal.h"

typedef enum sent {
    SENT_OK,
    SENT_REFUSED,  /* the receiver answered with an error: resending cannot help */
    SENT_ABANDONED /* close stopped the sender before an acknowledgement */
} sent;

/* Operations of distinct runs whose requests are in flight together: a
 * sweep's runs each have a few points to send, and one request at a time
 * would give each its own commit (see send_ops). */
typedef struct burst {
    int n;
    tk_op *ops[TK_WINDOW];
    size_t points[TK_WINDOW];
    bool settled[TK_WINDOW]; /* acknowledged, refused, or to go again alone */
    bool too_large[TK_WINDOW];
    msg_writer w[TK_WINDOW];
    ulid id[TK_WINDOW];
    client_batch_item items[TK_WINDOW];
} burst;

typedef struct sender {
    cairn_tracker *t;
    msg_writer w;      /* the request being sent */
    ulid id;           /* its id */
    burst *b;
    uint64_t rng;      /* xorshift state for the backoff's jitter */
    int64_t next_tick; /* when the queue is taken even below a batch */
    size_t max_points; /* points per run.log: halved when the receiver's limit is lower */
} sender;

int64_t tk_mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int tk_wait_until(pthread_cond_t *cv, pthread_mutex_t *mu, int64_t deadline_ms)
{
    struct timespec ts = {.tv_sec = deadline_ms / 1000, .tv_nsec = (deadline_ms % 1000) * 1000000};
    return pthread_cond_timedwait(cv, mu, &ts);
}

void tk_keep_refusal(cairn_tracker *t, const cairn_error *err)
{
    if (t->refusal.status == CAIRN_OK)
        t->refusal = *err;
}

/* ---- waiting for work (the mutex is held) ---- */

static bool send_now(const cairn_tracker *t)
{
    return t->q.waiting_items >= TK_BATCH_ITEMS || t->urgent_upto >= t->q.head->seq;
}

/* The queued operations once it is time to send them; NULL when stopping. */
static tk_op *wait_for_work(sender *s)
{
    cairn_tracker *t = s->t;
    for (;;) {
        if (t->stop)
            return NULL;
        int64_t now = tk_mono_ms();
        bool tick = now >= s->next_tick;
        if (tick)
            s->next_tick = now + t->flush_ms;
        if (t->q.head && (tick || send_now(t)))
            return tkq_take(&t->q);
        tk_wait_until(&t->work, &t->mu, s->next_tick);
    }
}

/* ---- one request, until it is acknowledged ---- */

/* Equal jitter: somewhere in [ms/2, ms], so that trackers cut off together
 * do not come back in step. */
static int jitter(sender *s, int ms)
{
    s->rng ^= s->rng << 13;
    s->rng ^= s->rng >> 7;
    s->rng ^= s->rng << 17;
    return ms / 2 + (int)(s->rng % (uint64_t)(ms / 2 + 1));
}

/* Waits about *wait_ms (jittered) unless close stops the sender first (then
 * false), and doubles *wait_ms, up to TK_BACKOFF_CAP_MS, for the next wait. */
static bool back_off(sender *s, int *wait_ms)
{
    cairn_tracker *t = s->t;
    int ms = jitter(s, *wait_ms);
    *wait_ms = *wait_ms * 2 < TK_BACKOFF_CAP_MS ? *wait_ms * 2 : TK_BACKOFF_CAP_MS;
    pthread_mutex_lock(&t->mu);
    int64_t deadline = tk_mono_ms() + ms;
    while (!t->stop && tk_mono_ms() < deadline)
        tk_wait_until(&t->work, &t->mu, deadline);
    bool stopped = t->stop;
    pthread_mutex_unlock(&t->mu);
    return !stopped;
}

/* Silence, no connection, a full spool and a store that could not commit
 * (disk full, I/O) pass with time: nothing of the request was applied, so the
 * same bytes are sent again rather than the points dropped. Any other error
 * is the receiver's answer about this request and would be the same next time. */
static bool worth_resending(cairn_status st)
{
    return st == CAIRN_TIMEOUT || st == CAIRN_TRANSPORT_ERROR || st == CAIRN_BACKPRESSURE ||
           st == CAIRN_STORAGE_ERROR;
}

/* Keeps why the request is being resent (NULL: it is not), for a flush that
 * times out to say: "agent spool full" explains a timeout that "not
 * acknowledged" alone does not. */
static void note_retrying(cairn_tracker *t, const cairn_error *why)
{
    pthread_mutex_lock(&t->mu);
    if (why)
        t->retrying = *why;
    else
        t->retrying.status = CAIRN_OK;
    pthread_mutex_unlock(&t->mu);
}

/* Sends the request in w (whose id is *id) until it is acknowledged, or
 * refused (err says why), resending the same bytes and id with backoff
 * between attempts: the receiver applies an id once, so a resend after a
 * lost reply is harmless. */
static sent deliver_request(sender *s, const msg_writer *w, const ulid *id, cairn_error *err)
{
    int wait_ms = TK_BACKOFF_FIRST_MS;
    for (;;) {
        const msgpack_object *body;
        cairn_status st = client_call_prebuilt(s->t->client, w->sb.data, w->sb.size, id,
                                               TK_REPLY_WAIT_MS, &body, err);
        note_retrying(s->t, worth_resending(st) ? err : NULL);
        if (st == CAIRN_OK)
            return SENT_OK;
        if (!worth_resending(st))
            return SENT_REFUSED;
        if (!back_off(s, &wait_ms))
            return SENT_ABANDONED;
    }
}

static sent deliver(sender *s, cairn_error *err)
{
    return deliver_request(s, &s->w, &s->id, err);
}

/* ---- one operation ---- */

static const char *kind_name(tk_kind kind)
{
    switch (kind) {
    case TK_START: return "run.start";
    case TK_METRICS: return "run.log (metrics)";
    case TK_PARAMS: return "run.log (params)";
    case TK_TAGS: return "run.log (tags)";
    case TK_END: return "run.end";
    case TK_ARTIFACT: return "artifact upload";
    case TK_DATASET: return "dataset.log";
    }
    return "request";
}

void tk_keep_run_refusal(cairn_tracker *t, tk_kind kind, const ulid *run, const cairn_error *why)
{
    char id[ULID_TEXT_LEN + 1];
    cairn_error e;
    ulid_format(run, id);
    error_set(&e, why->status, "%s of run %s refused: %s", kind_name(kind), id, why->message);
    tk_keep_refusal(t, &e);
}

/* n items of op are settled; a refusal (err not NULL) is kept, naming the run. */
static void settle(sender *s, tk_op *op, size_t n, const cairn_error *err)
{
    cairn_tracker *t = s->t;
    pthread_mutex_lock(&t->mu);
    tkq_acked(&t->q, n);
    op->items -= n;
    if (err && op->kind == TK_DATASET && !op->u.dataset.has_run) {
        cairn_error e;
        error_set(&e, err->status, "dataset.log of '%s' refused: %s", op->u.dataset.name,
                  err->message);
        tk_keep_refusal(t, &e);
    } else if (err) {
        tk_keep_run_refusal(t, op->kind, &op->run, err);
    }
    pthread_mutex_unlock(&t->mu);
}

/* A receiver configured with a message limit below our requests' size
 * refuses them whole (and applies nothing): send fewer points at a time. */
static bool smaller_requests(sender *s, size_t n, cairn_status st)
{
    if (st != CAIRN_MESSAGE_TOO_LARGE || n <= 1)
        return false;
    if (n / 2 < s->max_points) /* only ever lowered: a burst's requests differ in size */
        s->max_points = n / 2;
    return true;
}

static sent send_metrics(sender *s, tk_op *op)
{
    tk_cursor cur = tk_cursor_start(op);
    while (cur.chunk) {
        cairn_error err;
        tk_cursor from = cur;
        size_t n = tk_encode_metrics(&s->w, &s->id, s->t->client->from, &op->run, &cur,
                                     s->max_points);
        sent r = deliver(s, &err);
        if (r == SENT_ABANDONED)
            return r;
        if (r == SENT_REFUSED && smaller_requests(s, n, err.status)) {
            cur = from;
            continue;
        }
        settle(s, op, n, r == SENT_REFUSED ? &err : NULL);
    }
    return SENT_OK;
}

static sent send_single(sender *s, tk_op *op)
{
    cairn_error err;
    tk_encode_op(&s->w, &s->id, s->t->client->from, op);
    sent r = deliver(s, &err);
    if (r == SENT_REFUSED)
        settle(s, op, 0, &err);
    return r;
}

/* On the sender's own connection, so that the upload comes after everything
 * queued before it and no cairn_client is ever used by two threads. Its
 * outcome goes to the waiting caller, not to the kept refusal. */
static void upload(sender *s, tk_op *op)
{
    cairn_tracker *t = s->t;
    tk_artifact *a = &op->u.artifact;
    char run[ULID_TEXT_LEN + 1];
    pthread_mutex_lock(&t->mu);
    a->started = !a->cancelled;
    pthread_mutex_unlock(&t->mu);
    if (!a->started)
        return;
    ulid_format(&op->run, run);
    a->status = cairn_artifact_upload(t->client, run, a->local_file, a->path, &a->out, &a->err);
}

static sent send_op(sender *s, tk_op *op)
{
    switch (op->kind) {
    case TK_METRICS:
        return send_metrics(s, op);
    case TK_ARTIFACT:
        upload(s, op);
        return SENT_OK;
    default:
        return send_single(s, op);
    }
}

/* The operation is acknowledged or refused: whoever waits for it may go on.
 * An upload a caller still waits for is freed by that caller. */
static void complete(sender *s, tk_op *op)
{
    cairn_tracker *t = s->t;
    pthread_mutex_lock(&t->mu);
    tkq_acked(&t->q, op->items);
    t->acked_seq = op->seq;
    if (op->kind == TK_ARTIFACT && !op->u.artifact.cancelled)
        op->u.artifact.done = true;
    else
        tkq_release(&t->q, op);
    pthread_cond_broadcast(&t->done);
    pthread_mutex_unlock(&t->mu);
}

static void free_ops(tk_op *op)
{
    while (op) {
        tk_op *next = op->next;
        tk_op_free(op);
        op = next;
    }
}

/* ---- several runs' points in flight together ---- */

static burst *burst_new(void)
{
    burst *b = calloc(1, sizeof *b);
    for (int i = 0; b && i < TK_WINDOW; i++)
        msg_writer_init(&b->w[i]); /* the writer's packer points into it: b never moves */
    return b;
}

static void burst_free(burst *b)
{
    for (int i = 0; b && i < TK_WINDOW; i++)
        msg_writer_destroy(&b->w[i]);
    free(b);
}

static bool in_burst(const burst *b, const ulid *run)
{
    for (int i = 0; i < b->n; i++)
        if (memcmp(b->ops[i]->run.b, run->b, ULID_BYTES) == 0)
            return true;
    return false;
}

/* Encodes into the burst the METRICS operations from ops on that each fit
 * one request and belong to runs not in it yet, up to TK_WINDOW: each run's
 * requests stay in order, since a run has one request in flight at most.
 * Returns the first operation left out. */
static tk_op *gather_burst(sender *s, tk_op *ops)
{
    burst *b = s->b;
    b->n = 0;
    for (; ops && b->n < TK_WINDOW; ops = ops->next) {
        if (ops->kind != TK_METRICS || ops->items > TK_BURST_POINTS ||
            ops->items > s->max_points || in_burst(b, &ops->run))
            break;
        tk_cursor cur = tk_cursor_start(ops);
        size_t n = tk_encode_metrics(&b->w[b->n], &b->id[b->n], s->t->client->from, &ops->run,
                                     &cur, s->max_points);
        if (cur.chunk) /* past TK_MSG_BYTES: more than one request, sent on its own */
            break;
        int i = b->n++;
        b->ops[i] = ops;
        b->points[i] = n;
        b->settled[i] = b->too_large[i] = false;
        b->items[i] = (client_batch_item){.bytes = b->w[i].sb.data, .len = b->w[i].sb.size,
                                          .id = &b->id[i]};
    }
    return ops;
}

/* An answered request is settled, unless the answer says that the same
 * bytes may succeed later: then it is marked to be sent again. A request
 * the receiver found too large applied nothing; its operation goes again
 * alone, in smaller requests (send_burst). */
static void settle_answer(sender *s, int i)
{
    burst *b = s->b;
    client_batch_item *it = &b->items[i];
    if (worth_resending(it->status)) {
        note_retrying(s->t, &it->err);
        it->answered = false;
        return;
    }
    b->settled[i] = true;
    if (smaller_requests(s, b->points[i], it->status))
        b->too_large[i] = true;
    else
        settle(s, b->ops[i], b->points[i], it->status ? &it->err : NULL);
}

static bool settle_answers(sender *s)
{
    burst *b = s->b;
    bool left = false;
    for (int i = 0; i < b->n; i++) {
        if (b->items[i].answered && !b->settled[i])
            settle_answer(s, i);
        left |= !b->settled[i];
    }
    return left;
}

/* A new connection for the sender, retried with backoff while one cannot
 * be made (no file descriptors, say). */
static sent reconnect(sender *s)
{
    int wait_ms = TK_BACKOFF_FIRST_MS;
    cairn_error err;
    while (client_reconnect(s->t->client, &err) != CAIRN_OK) {
        note_retrying(s->t, &err);
        if (!back_off(s, &wait_ms))
            return SENT_ABANDONED;
    }
    return SENT_OK;
}

/* After a reply that could not be told apart: the rest one request at a
 * time, on a new connection. A reply without an id (a request too large for
 * the receiver to read it) is taken by client_call_prebuilt as the answer to
 * the one request it waits for; on the burst's connection, the other
 * requests' such replies may still be on their way, and one taken for an
 * applied request's answer would have its points sent again. */
static sent deliver_singly(sender *s)
{
    burst *b = s->b;
    if (reconnect(s) == SENT_ABANDONED)
        return SENT_ABANDONED;
    for (int i = 0; i < b->n; i++) {
        if (b->settled[i])
            continue;
        client_batch_item *it = &b->items[i];
        sent r = deliver_request(s, &b->w[i], &b->id[i], &it->err);
        if (r == SENT_ABANDONED)
            return r;
        it->answered = true;
        it->status = r == SENT_OK ? CAIRN_OK : it->err.status;
        settle_answer(s, i);
    }
    return SENT_OK;
}

/* Sends the burst's requests together until each is acknowledged or refused,
 * resending the unanswered ones' same bytes and ids with backoff. */
static sent deliver_burst(sender *s)
{
    burst *b = s->b;
    int wait_ms = TK_BACKOFF_FIRST_MS;
    for (;;) {
        cairn_error err;
        cairn_status st = client_call_batch(s->t->client, b->items, b->n, TK_REPLY_WAIT_MS, &err);
        bool left = settle_answers(s);
        if (st == CAIRN_BAD_MESSAGE)
            return deliver_singly(s);
        if (!left) {
            note_retrying(s->t, NULL);
            return SENT_OK;
        }
        if (st)
            note_retrying(s->t, &err);
        if (!back_off(s, &wait_ms))
            return SENT_ABANDONED;
    }
}

/* Sends the gathered burst and completes its operations in order. */
static sent send_burst(sender *s)
{
    burst *b = s->b;
    sent r = deliver_burst(s);
    for (int i = 0; i < b->n && r != SENT_ABANDONED; i++)
        if (b->too_large[i]) /* max_points is lowered already (settle_answer) */
            r = send_metrics(s, b->ops[i]);
    if (r == SENT_ABANDONED)
        return r;
    for (int i = 0; i < b->n; i++)
        complete(s, b->ops[i]);
    return SENT_OK;
}

/* Sends taken operations in order (the points of different runs may leave
 * together); false when close stopped it midway (what was not sent is
 * dropped: close already reported its timeout). */
static bool send_ops(sender *s, tk_op *ops)
{
    while (ops) {
        tk_op *rest = s->b ? gather_burst(s, ops) : ops;
        sent r;
        if (s->b && s->b->n > 0) {
            r = send_burst(s);
        } else {
            rest = ops->next;
            r = send_op(s, ops);
            if (r != SENT_ABANDONED)
                complete(s, ops);
        }
        if (r == SENT_ABANDONED) {
            free_ops(ops);
            return false;
        }
        ops = rest;
    }
    return true;
}

void *tk_sender_main(void *arg)
{
    sender s = {.t = arg, .max_points = TK_MSG_POINTS};
    ulid seed = ulid_new();
    memcpy(&s.rng, seed.b + 6, sizeof s.rng);
    s.rng |= 1; /* xorshift must not start at zero */
    msg_writer_init(&s.w);
    s.b = burst_new(); /* without it, one request at a time */
    s.next_tick = tk_mono_ms() + s.t->flush_ms;
    pthread_mutex_lock(&s.t->mu);
    tk_op *ops;
    while ((ops = wait_for_work(&s))) {
        pthread_mutex_unlock(&s.t->mu);
        bool go_on = send_ops(&s, ops);
        pthread_mutex_lock(&s.t->mu);
        if (!go_on)
            break;
    }
    pthread_mutex_unlock(&s.t->mu);
    msg_writer_destroy(&s.w);
    burst_free(s.b);
    return NULL;
}
