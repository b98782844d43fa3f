/*
 * cairn_tracker: the calls training code makes. Queueing calls copy their
 * arguments into the queue under the tracker's mutex and return; the sender
 * thread (tracker_sender.c) does all network work. Calls that wait (flush,
 * end_run, log_artifact, close) wait on the `done` condition variable for
 * the sender's acknowledgements.
 */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/eventfd.h>
#include <time.h>

#include "artifact_path.h"
#include "client_internal.h"
#include "error.h"
#include "source_info.h"
#include "clock.h"
#include "tracker_internal.h"
#include "validate.h"

static void lock(cairn_tracker *t)
{
    pthread_mutex_lock(&t->mu);
}

static void unlock(cairn_tracker *t)
{
    pthread_mutex_unlock(&t->mu);
}

/* Unix ms from the vDSO clock: no system call on the logging path. */
/* Parsing a run id costs more than the rest of queueing a point, and training
 * loops log to one run, so each thread remembers the last id it parsed. */
static bool parse_run(const char *text, ulid *out)
{
    static _Thread_local struct {
        bool valid;
        char text[ULID_TEXT_LEN + 1];
        ulid id;
    } last;
    if (!text)
        return false;
    if (last.valid && strncmp(text, last.text, sizeof last.text) == 0) {
        *out = last.id;
        return true;
    }
    if (!ulid_parse(text, out))
        return false;
    memcpy(last.text, text, sizeof last.text);
    last.id = *out;
    last.valid = true;
    return true;
}

static cairn_status bad_run_id(const char *text, cairn_error *err)
{
    return error_set(err, CAIRN_INVALID_PARAMETER_VALUE,
                     "invalid run id '%s' (expected a 26-character ULID)", text ? text : "");
}

static bool kvs_ok(const cairn_kv *kv, size_t n)
{
    if (n && !kv)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!kv[i].key || !kv[i].value)
            return false;
    return true;
}

/* ---- open and close ---- */

static const char *resolve_endpoint(const char *endpoint)
{
    const char *agent = getenv("CAIRN_AGENT"), *coordinator = getenv("CAIRN_COORDINATOR");
    if (endpoint && *endpoint)
        return endpoint;
    if (agent && *agent)
        return agent;
    if (coordinator && *coordinator)
        return coordinator;
    return CAIRN_DEFAULT_AGENT;
}

/* Waits are measured on CLOCK_MONOTONIC, so a clock change cannot stretch them. */
static bool init_sync(cairn_tracker *t)
{
    pthread_condattr_t attr;
    if (pthread_condattr_init(&attr) != 0)
        return false;
    bool ok = pthread_condattr_setclock(&attr, CLOCK_MONOTONIC) == 0 &&
              pthread_mutex_init(&t->mu, NULL) == 0;
    if (ok && pthread_cond_init(&t->work, &attr) != 0) {
        pthread_mutex_destroy(&t->mu);
        ok = false;
    }
    if (ok && pthread_cond_init(&t->done, &attr) != 0) {
        pthread_cond_destroy(&t->work);
        pthread_mutex_destroy(&t->mu);
        ok = false;
    }
    pthread_condattr_destroy(&attr);
    return ok;
}

static void destroy_sync(cairn_tracker *t)
{
    pthread_cond_destroy(&t->done);
    pthread_cond_destroy(&t->work);
    pthread_mutex_destroy(&t->mu);
}

static void close_wake_fd(cairn_tracker *t)
{
    if (t->wake_fd >= 0)
        close(t->wake_fd);
    t->wake_fd = -1;
}

/* Ends the sender's wait for a reply (client_set_interrupt). */
static void wake_sender(cairn_tracker *t)
{
    uint64_t one = 1;
    /* Fails only with the counter at its maximum, that is never: written once. */
    ssize_t n = t->wake_fd >= 0 ? write(t->wake_fd, &one, sizeof one) : 0;
    (void)n;
}

static cairn_client *open_sender_client(const char *endpoint, cairn_error *err)
{
    client_tuning tuning = {.immediate = true, .sndhwm = TK_SENDER_SNDHWM};
    cairn_client *c = client_open_tuned(resolve_endpoint(endpoint), &tuning, err);
    if (c) {
        cairn_client_set_timeout(c, TK_ARTIFACT_CALL_MS); /* used by artifact uploads only */
        cairn_client_set_retry(c, TK_RESEND_MS);
    }
    return c;
}

cairn_tracker *cairn_tracker_open(const cairn_tracker_opts *opts, cairn_error *err)
{
    static const cairn_tracker_opts defaults;
    const cairn_tracker_opts *o = opts ? opts : &defaults;
    error_clear(err);
    cairn_tracker *t = calloc(1, sizeof *t);
    if (!t) {
        error_set(err, CAIRN_OUT_OF_MEMORY, "out of memory");
        return NULL;
    }
    tkq_init(&t->q, o->max_queued ? o->max_queued : TK_DEFAULT_MAX_QUEUED);
    t->flush_ms = o->flush_ms > 0 ? o->flush_ms : TK_DEFAULT_FLUSH_MS;
    if (!(t->client = open_sender_client(o->endpoint, err))) {
        free(t);
        return NULL;
    }
    /* Without it close waits out a reply a stalled receiver never sends. */
    t->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    client_set_interrupt(t->client, t->wake_fd);
    if (!init_sync(t)) {
        error_set(err, CAIRN_INTERNAL_ERROR, "cannot initialise the tracker's mutex");
    } else if (pthread_create(&t->thread, NULL, tk_sender_main, t) != 0) {
        error_set(err, CAIRN_INTERNAL_ERROR, "cannot start the tracker's sender thread");
        destroy_sync(t);
    } else {
        return t;
    }
    close_wake_fd(t);
    cairn_client_close(t->client);
    free(t);
    return NULL;
}

const char *cairn_tracker_endpoint(const cairn_tracker *t)
{
    return t ? t->client->endpoint : NULL;
}

/* ---- waiting for acknowledgements ---- */

/* Waits (the mutex held) until every operation up to seq is settled or the
 * deadline passes; asks the sender to send them now. */
static bool wait_settled(cairn_tracker *t, uint64_t seq, int64_t deadline)
{
    if (t->acked_seq >= seq)
        return true;
    if (seq > t->urgent_upto)
        t->urgent_upto = seq;
    pthread_cond_signal(&t->work);
    while (t->acked_seq < seq)
        if (tk_wait_until(&t->done, &t->mu, deadline) == ETIMEDOUT)
            return t->acked_seq >= seq;
    return true;
}

/* The flush's answer: the kept refusal first (it is reported once, and is
 * then cleared), the timeout otherwise. The mutex is held. */
static cairn_status report(cairn_tracker *t, bool settled, int timeout_ms, cairn_error *err)
{
    cairn_error kept = t->refusal;
    t->refusal.status = CAIRN_OK;
    if (kept.status && settled)
        return error_set(err, kept.status, "%s", kept.message);
    if (kept.status)
        return error_set(err, kept.status, "%s (and %zu items still unacknowledged after %d ms)",
                         kept.message, t->q.items, timeout_ms);
    if (!settled && t->retrying.status)
        return error_set(err, CAIRN_TIMEOUT,
                         "%zu items not acknowledged by %s within %d ms; its last answer: %s: %s",
                         t->q.items, t->client->endpoint, timeout_ms,
                         cairn_status_name(t->retrying.status), t->retrying.message);
    if (!settled)
        return error_set(err, CAIRN_TIMEOUT,
                         "%zu items not acknowledged by %s within %d ms", t->q.items,
                         t->client->endpoint, timeout_ms);
    error_clear(err);
    return CAIRN_OK;
}

/* Waits for what *mark names; mark NULL: what is queued when the wait begins. */
static cairn_status wait_for(cairn_tracker *t, const uint64_t *mark, int timeout_ms,
                             cairn_error *err)
{
    if (!t)
        return error_set(err, CAIRN_INVALID_PARAMETER_VALUE, "no tracker");
    if (timeout_ms < 0)
        timeout_ms = 0;
    lock(t);
    uint64_t seq = mark ? *mark : tkq_last_seq(&t->q);
    bool settled = wait_settled(t, seq, tk_mono_ms() + timeout_ms);
    cairn_status st = report(t, settled, timeout_ms, err);
    unlock(t);
    return st;
}

cairn_status cairn_tracker_flush(cairn_tracker *t, int timeout_ms, cairn_error *err)
{
    return wait_for(t, NULL, timeout_ms, err);
}

uint64_t cairn_tracker_mark(cairn_tracker *t)
{
    if (!t)
        return 0;
    lock(t);
    uint64_t seq = tkq_last_seq(&t->q);
    unlock(t);
    return seq;
}

cairn_status cairn_tracker_wait(cairn_tracker *t, uint64_t mark, int timeout_ms,
                                cairn_error *err)
{
    return wait_for(t, &mark, timeout_ms, err);
}

cairn_status cairn_tracker_close(cairn_tracker *t, int timeout_ms, cairn_error *err)
{
    if (!t) {
        error_clear(err);
        return CAIRN_OK;
    }
    cairn_status st = cairn_tracker_flush(t, timeout_ms, err);
    lock(t);
    t->stop = true;
    pthread_cond_signal(&t->work);
    unlock(t);
    wake_sender(t);
    pthread_join(t->thread, NULL);
    tkq_destroy(&t->q);
    destroy_sync(t);
    close_wake_fd(t);
    cairn_client_close(t->client);
    free(t);
    return st;
}

/* ---- queueing ---- */

/* Wakes the sender when this append completed a batch (one signal per batch,
 * not per point). The mutex is held. */
static void wake_on_batch(cairn_tracker *t, size_t waiting_before)
{
    if (waiting_before < TK_BATCH_ITEMS && t->q.waiting_items >= TK_BATCH_ITEMS)
        pthread_cond_signal(&t->work);
}

/* Queues op, or frees it and returns why not. */
static cairn_status push_op(cairn_tracker *t, tk_op *op)
{
    lock(t);
    size_t before = t->q.waiting_items;
    cairn_status st = tkq_push_op(&t->q, op);
    wake_on_batch(t, before);
    unlock(t);
    if (st)
        tk_op_free(op);
    return st;
}

/* Only operations of one item come here, so the queue is full, not too small. */
static cairn_status queue_full(cairn_tracker *t, cairn_status st, cairn_error *err)
{
    return error_set(err, st,
                     "the tracker's queue holds its limit of %zu items: the receiver is slow "
                     "or not answering",
                     t->q.max_items);
}

/* A point whose key the receiver would refuse is not queued, so that it
 * cannot take the rest of its request down with it; the refusal is kept as
 * if the receiver had made it. The mutex is held. */
static void refuse_key(cairn_tracker *t, const ulid *run, const char *key)
{
    cairn_error e;
    validate_key("metric", msg_str_of(key), &e);
    tk_keep_run_refusal(t, TK_METRICS, run, &e);
}

/* Queues one point whose room the caller checked. The mutex is held. Keys
 * over the limit are refused before interning: nothing keeps such junk. */
static cairn_status push_point(cairn_tracker *t, const ulid *run, const char *key, size_t len,
                               uint64_t hash, tk_point *p)
{
    if (len > LIMIT_KEY) {
        refuse_key(t, run, key);
        return CAIRN_OK;
    }
    if (!(p->key = tkq_intern(&t->q, key, len, hash)))
        return CAIRN_OUT_OF_MEMORY;
    if (p->key->status) {
        refuse_key(t, run, key);
        return CAIRN_OK;
    }
    return tkq_push_point(&t->q, run, p);
}

cairn_status cairn_tracker_log_metric(cairn_tracker *t, const char *run_id, const char *key,
                                      double value, int64_t step)
{
    ulid run;
    if (!t || !key || !parse_run(run_id, &run))
        return CAIRN_INVALID_PARAMETER_VALUE;
    size_t len = strlen(key);
    uint64_t hash = tk_key_hash(key, len);
    tk_point p = {.value = value, .step = step, .timestamp = clock_wall_ms()};
    lock(t);
    size_t before = t->q.waiting_items;
    cairn_status st = tkq_room(&t->q, 1);
    if (!st)
        st = push_point(t, &run, key, len, hash, &p);
    wake_on_batch(t, before);
    unlock(t);
    return st;
}

static bool metrics_ok(const cairn_metric *m, size_t n)
{
    if (n && !m)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!m[i].key)
            return false;
    return true;
}

/* All n points or none, as far as room goes (tkq_room first); only running
 * out of memory can leave part of them queued. */
cairn_status cairn_tracker_log_metrics(cairn_tracker *t, const char *run_id,
                                       const cairn_metric *metrics, size_t n)
{
    ulid run;
    if (!t || !metrics_ok(metrics, n) || !parse_run(run_id, &run))
        return CAIRN_INVALID_PARAMETER_VALUE;
    int64_t now = clock_wall_ms();
    lock(t);
    size_t before = t->q.waiting_items;
    cairn_status st = n ? tkq_room(&t->q, n) : CAIRN_OK;
    for (size_t i = 0; !st && i < n; i++) {
        const cairn_metric *m = &metrics[i];
        size_t len = strlen(m->key);
        tk_point p = {.value = m->value, .step = m->step,
                      .timestamp = m->timestamp ? m->timestamp : now};
        st = push_point(t, &run, m->key, len, tk_key_hash(m->key, len), &p);
    }
    wake_on_batch(t, before);
    unlock(t);
    return st;
}

/* Adds the key to a value's refusal: one call holds many values, and
 * "param value of 7000 bytes" alone does not say which. */
static void name_key(cairn_error *err, const char *key)
{
    char why[sizeof err->message];
    memcpy(why, err->message, sizeof why);
    error_set(err, err->status, "%s (key '%s')", why, key);
}

/* The first param or tag the coordinator would refuse, by its own rules. */
static cairn_status check_kvs(const char *what, size_t value_limit, const cairn_kv *kv, size_t n,
                              cairn_error *err)
{
    cairn_status st = CAIRN_OK;
    for (size_t i = 0; !st && i < n; i++) {
        st = validate_key(what, msg_str_of(kv[i].key), err);
        if (!st && (st = validate_value(what, msg_str_of(kv[i].value), value_limit, err)))
            name_key(err, kv[i].key);
    }
    return st;
}

/* A batch the coordinator would refuse is not queued: it would refuse it
 * whole, and through an agent, which acknowledges a write before the
 * coordinator sees it, the caller would never hear of it. The refusal is
 * kept as if the receiver had made it, for the next flush or end. */
static cairn_status queue_kv(cairn_tracker *t, tk_kind kind, const char *run_id,
                             const cairn_kv *kv, size_t n)
{
    ulid run;
    if (!t || !kvs_ok(kv, n) || !parse_run(run_id, &run))
        return CAIRN_INVALID_PARAMETER_VALUE;
    if (n == 0)
        return CAIRN_OK;
    cairn_error e;
    if (check_kvs(kind == TK_PARAMS ? "param" : "tag",
                  kind == TK_PARAMS ? LIMIT_PARAM_VALUE : LIMIT_TAG_VALUE, kv, n, &e)) {
        lock(t);
        tk_keep_run_refusal(t, kind, &run, &e);
        unlock(t);
        return CAIRN_OK;
    }
    tk_op *op = tk_op_kv(kind, &run, kv, n);
    return op ? push_op(t, op) : CAIRN_OUT_OF_MEMORY;
}

cairn_status cairn_tracker_log_params(cairn_tracker *t, const char *run_id, const cairn_kv *params,
                                      size_t n)
{
    return queue_kv(t, TK_PARAMS, run_id, params, n);
}

cairn_status cairn_tracker_set_tags(cairn_tracker *t, const char *run_id, const cairn_kv *tags,
                                    size_t n)
{
    return queue_kv(t, TK_TAGS, run_id, tags, n);
}

/* ---- runs ---- */

cairn_status cairn_tracker_start_run(cairn_tracker *t, const cairn_run_start_opts *opts,
                                     char id_out[CAIRN_ID_TEXT_LEN + 1], cairn_error *err)
{
    ulid id = ulid_new();
    source_info src;
    cairn_kv detected[SOURCE_TAGS_MAX];
    size_t n_detected = 0;
    if (!t || !opts || !opts->experiment)
        return error_set(err, CAIRN_INVALID_PARAMETER_VALUE, "start_run needs a tracker and an experiment");
    if (!kvs_ok(opts->tags, opts->n_tags))
        return error_set(err, CAIRN_INVALID_PARAMETER_VALUE, "tags: NULL array, key or value");
    /* What the coordinator would refuse, refused now: a run refused there
     * would take every write to it along. */
    cairn_status bad = validate_name("experiment", msg_str_of(opts->experiment), true, err);
    if (!bad && opts->name)
        bad = validate_name("run", msg_str_of(opts->name), false, err);
    if (!bad)
        bad = check_kvs("tag", LIMIT_TAG_VALUE, opts->tags, opts->n_tags, err);
    if (bad)
        return bad;
    if (opts->detect_source) {
        source_detect(&src);
        n_detected = source_tags(&src, detected);
    }
    /* Stamped now, not when the sender gets to it, which may be much later. */
    int64_t start = opts->start_time ? opts->start_time : clock_wall_ms();
    tk_op *op = tk_op_start(&id, opts, detected, n_detected, start);
    if (!op)
        return error_set(err, CAIRN_OUT_OF_MEMORY, "out of memory");
    cairn_status st = push_op(t, op);
    if (st)
        return queue_full(t, st, err);
    if (id_out)
        ulid_format(&id, id_out);
    error_clear(err);
    return CAIRN_OK;
}

/* The status as one of the static strings an END operation keeps. */
static const char *end_status(const char *status)
{
    static const char *const known[] = {"FINISHED", "FAILED", "KILLED"};
    if (!status)
        return known[0];
    for (size_t i = 0; i < sizeof known / sizeof *known; i++)
        if (strcmp(status, known[i]) == 0)
            return known[i];
    return NULL;
}

cairn_status cairn_tracker_end_run(cairn_tracker *t, const char *run_id, const char *status,
                                   int timeout_ms, cairn_error *err)
{
    ulid run;
    const char *s = end_status(status);
    if (!t)
        return error_set(err, CAIRN_INVALID_PARAMETER_VALUE, "no tracker");
    if (!parse_run(run_id, &run))
        return bad_run_id(run_id, err);
    if (!s)
        return error_set(err, CAIRN_INVALID_PARAMETER_VALUE,
                         "run status '%s': expected FINISHED, FAILED or KILLED", status);
    tk_op *op = tk_op_end(&run, s, clock_wall_ms());
    if (!op)
        return error_set(err, CAIRN_OUT_OF_MEMORY, "out of memory");
    cairn_status st = push_op(t, op);
    if (st)
        return queue_full(t, st, err);
    return cairn_tracker_flush(t, timeout_ms, err);
}

/* ---- artifacts ---- */

/* Waits (the mutex held) until the upload is over or until_ms. True when
 * it is over: made (done), or given up because the sender had not reached it
 * by its deadline (then cancelled, and the sender frees it when it gets
 * there). */
static bool await_upload(cairn_tracker *t, tk_op *op, int64_t until_ms)
{
    tk_artifact *a = &op->u.artifact;
    while (!a->done) {
        /* Once begun, each chunk is bounded (TK_ARTIFACT_CALL_MS): only the
         * wait for the sender to get there has a deadline of its own. */
        int64_t until = a->started || until_ms < a->deadline_ms ? until_ms : a->deadline_ms;
        if (tk_wait_until(&t->done, &t->mu, until) != ETIMEDOUT || a->done)
            continue;
        if (!a->started && tk_mono_ms() >= a->deadline_ms) {
            a->cancelled = true;
            return true;
        }
        if (tk_mono_ms() >= until_ms)
            return false;
    }
    return true;
}

/* The outcome of an upload that was made, for the caller, who frees the
 * operation; out->path points into the caller's own arguments, as
 * cairn_artifact_upload's does. */
static cairn_status upload_result(tk_op *op, cairn_artifact *out, cairn_error *err)
{
    tk_artifact *a = &op->u.artifact;
    cairn_status st = a->status;
    if (st)
        error_set(err, st, "%s", a->err.message);
    else
        error_clear(err);
    if (!st && out) {
        *out = a->out;
        out->path = a->asked_path ? a->asked_path : path_base_name(a->asked_file);
    }
    tk_op_free(op);
    return st;
}

cairn_status cairn_tracker_queue_artifact(cairn_tracker *t, const char *run_id,
                                          const char *local_file, const char *artifact_path,
                                          cairn_tracker_upload **upload, cairn_error *err)
{
    ulid run;
    if (upload)
        *upload = NULL;
    if (!t || !local_file || !upload)
        return error_set(err, CAIRN_INVALID_PARAMETER_VALUE,
                         "log_artifact needs a tracker, a file and somewhere to name the upload");
    if (!parse_run(run_id, &run))
        return bad_run_id(run_id, err);
    tk_op *op = tk_op_artifact(&run, local_file, artifact_path);
    if (!op)
        return error_set(err, CAIRN_OUT_OF_MEMORY, "out of memory");
    op->u.artifact.asked_file = local_file;
    op->u.artifact.asked_path = artifact_path;
    op->u.artifact.deadline_ms = tk_mono_ms() + TK_ARTIFACT_WAIT_MS;
    lock(t);
    cairn_status st = tkq_push_op(&t->q, op);
    if (!st) { /* someone waits for it: send it now */
        if (op->seq > t->urgent_upto)
            t->urgent_upto = op->seq;
        pthread_cond_signal(&t->work);
    }
    unlock(t);
    if (st) {
        tk_op_free(op);
        return queue_full(t, st, err);
    }
    *upload = (cairn_tracker_upload *)op;
    error_clear(err);
    return CAIRN_OK;
}

cairn_status cairn_tracker_await_artifact(cairn_tracker *t, cairn_tracker_upload **upload,
                                          int timeout_ms, cairn_artifact *out, cairn_error *err)
{
    if (!t || !upload || !*upload)
        return error_set(err, CAIRN_INVALID_PARAMETER_VALUE, "await_artifact needs a tracker and an upload");
    tk_op *op = (tk_op *)*upload;
    lock(t);
    bool over = await_upload(t, op, tk_mono_ms() + (timeout_ms > 0 ? timeout_ms : 0));
    /* Decided under the mutex: once cancelled, the operation is the sender's,
     * which may free it the moment the mutex is let go. */
    bool made = over && op->u.artifact.done;
    unlock(t);
    if (!over)
        return error_set(err, CAIRN_TIMEOUT, "the upload of %s is not over yet",
                         op->u.artifact.asked_file);
    *upload = NULL;
    if (!made)
        return error_set(err, CAIRN_TIMEOUT,
                         "what was queued before the artifact was not acknowledged within %d ms",
                         TK_ARTIFACT_WAIT_MS);
    return upload_result(op, out, err);
}

void cairn_tracker_abandon_artifact(cairn_tracker *t, cairn_tracker_upload *upload)
{
    if (!t || !upload)
        return;
    tk_op *op = (tk_op *)upload;
    lock(t);
    bool mine = op->u.artifact.done; /* over: nobody else holds it */
    op->u.artifact.cancelled = true; /* else the sender skips or finishes it, then frees it */
    unlock(t);
    if (mine)
        tk_op_free(op);
}

cairn_status cairn_tracker_log_artifact(cairn_tracker *t, const char *run_id,
                                        const char *local_file, const char *artifact_path,
                                        cairn_artifact *out, cairn_error *err)
{
    cairn_tracker_upload *upload;
    cairn_status st = cairn_tracker_queue_artifact(t, run_id, local_file, artifact_path, &upload, err);
    while (upload)
        st = cairn_tracker_await_artifact(t, &upload, INT_MAX, out, err);
    return st;
}

/* ---- datasets ---- */

/* The hash is made here, in the caller's thread, before anything is queued:
 * the sender never reads files, and a refusal to hash (an unreadable file)
 * is the call's own error. The path recorded is the absolute one. */
cairn_status cairn_tracker_log_dataset(cairn_tracker *t, const char *run_id, const char *path,
                                       const char *name, const char *context,
                                       cairn_dataset_digest *out, cairn_error *err)
{
    ulid run;
    cairn_dataset_digest d;
    if (!t || !path || !name || !*name)
        return error_set(err, CAIRN_INVALID_PARAMETER_VALUE,
                         "log_dataset needs a tracker, a path and a name");
    if (run_id && !parse_run(run_id, &run))
        return bad_run_id(run_id, err);
    cairn_status st = validate_name("dataset", msg_str_of(name), true, err);
    if (!st && context && *context)
        st = validate_dataset_context(msg_str_of(context), err);
    if (!st && context && *context && !run_id)
        st = error_set(err, CAIRN_INVALID_PARAMETER_VALUE,
                       "'context' is the use a run made: it needs a run");
    if (st)
        return st;
    st = cairn_dataset_hash(path, 1, &d, err);
    if (st)
        return st;
    char *source = realpath(path, NULL);
    tk_op *op = tk_op_dataset(run_id ? &run : NULL, name, &d, source ? source : path, context);
    free(source);
    if (!op)
        return error_set(err, CAIRN_OUT_OF_MEMORY, "out of memory");
    if ((st = push_op(t, op)))
        return queue_full(t, st, err);
    if (out)
        *out = d;
    error_clear(err);
    return CAIRN_OK;
}
