/* run.start, run.log, run.end: the tracking writes. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "body.h"
#include "dispatch.h"
#include "error.h"
#include "handlers.h"
#include "metric_batch.h"
#include "validate.h"

cairn_status read_run(request_ctx *r, store_run *run, cairn_error *err)
{
    ulid id;
    cairn_status st = body_ulid(r->m->body, "run", true, &id, err);
    return st ? st : store_run_get(r->store, r->txn, &id, run, err);
}

/* Checks every key and value of a str->str map (tags, params). */
cairn_status read_kv_map(const msgpack_object *map, const char *what, size_t value_limit,
                         cairn_error *err)
{
    for (uint32_t i = 0; map && i < map->via.map.size; i++) {
        msg_str k, v;
        if (!obj_str(&map->via.map.ptr[i].key, &k) || !obj_str(&map->via.map.ptr[i].val, &v))
            return error_set(err, CAIRN_BAD_MESSAGE, "%ss must map strings to strings", what);
        cairn_status st = validate_key(what, k, err);
        if (!st)
            st = validate_value(what, v, value_limit, err);
        if (st)
            return st;
    }
    return CAIRN_OK;
}

static cairn_status write_kv_map(request_ctx *r, MDB_dbi dbi, const ulid *run,
                                 const msgpack_object *map, cairn_error *err)
{
    for (uint32_t i = 0; map && i < map->via.map.size; i++) {
        msg_str k, v;
        obj_str(&map->via.map.ptr[i].key, &k);
        obj_str(&map->via.map.ptr[i].val, &v);
        cairn_status st = store_kv_put(r->store, r->txn, dbi, run, k, v, err);
        if (st)
            return st;
    }
    return CAIRN_OK;
}

/* ---- run.start ---- */

typedef struct start_req {
    ulid id;
    msg_str experiment;
    msg_str name;
    int64_t start_time;
    const msgpack_object *tags;
} start_req;

static cairn_status read_start(request_ctx *r, start_req *q, cairn_error *err)
{
    const msgpack_object *b = r->m->body;
    q->name = (msg_str){"", 0};
    q->start_time = r->now_ms;
    q->tags = NULL;
    cairn_status st = body_ulid(b, "run", true, &q->id, err);
    if (!st)
        st = body_str(b, "experiment", true, &q->experiment, err);
    if (!st)
        st = body_str(b, "name", false, &q->name, err);
    if (!st)
        st = body_int(b, "start_time", false, &q->start_time, err);
    if (!st)
        st = body_map(b, "tags", false, &q->tags, err);
    if (!st)
        st = validate_name("experiment", q->experiment, true, err);
    if (!st)
        st = validate_name("run", q->name, false, err);
    return st ? st : read_kv_map(q->tags, "tag", LIMIT_TAG_VALUE, err);
}

static void reply_experiment_id(request_ctx *r, uint64_t id)
{
    msgpack_packer *pk = reply_extra(r);
    mp_str(pk, "experiment_id");
    msgpack_pack_uint64(pk, id);
}

cairn_status handle_run_start(request_ctx *r, cairn_error *err)
{
    start_req q;
    store_run existing;
    store_experiment e;
    cairn_status st = read_start(r, &q, err);
    if (st)
        return st;
    if (store_run_get(r->store, r->txn, &q.id, &existing, NULL) == CAIRN_OK)
        return error_set(err, CAIRN_RESOURCE_ALREADY_EXISTS, "a run with this id already exists");
    st = store_experiment_by_name(r->store, r->txn, q.experiment, true, r->now_ms, &e, err);
    if (st)
        return st;
    if (e.deleted)
        return error_set(err, CAIRN_INVALID_STATE, "experiment '%.*s' is deleted; restore it first",
                         (int)e.name.n, e.name.p);
    store_run run = {.id = q.id, .experiment_id = e.id, .start_time = q.start_time,
                     .status = RUN_RUNNING, .name = q.name};
    st = store_run_create(r->store, r->txn, &run, err);
    if (!st)
        st = write_kv_map(r, r->store->tags, &q.id, q.tags, err);
    if (st)
        return st;
    reply_experiment_id(r, e.id);
    char idtext[ULID_TEXT_LEN + 1];
    ulid_format(&q.id, idtext);
    snprintf(r->summary, sizeof r->summary, "run=%s experiment=%llu", idtext,
             (unsigned long long)e.id);
    r->applied = true;
    return CAIRN_OK;
}

/* A resend gets the same fields: the run's experiment never changes. */
cairn_status handle_run_start_duplicate(request_ctx *r, cairn_error *err)
{
    store_run run;
    cairn_status st = read_run(r, &run, err);
    if (!st)
        reply_experiment_id(r, run.experiment_id);
    return st;
}

/* ---- run.log ---- */

/* ---- names repeated within one request ---- */

static int by_name_then_place(const void *pa, const void *pb)
{
    const request_name *a = pa, *b = pb;
    int c = memcmp(a->name.p, b->name.p, a->name.n < b->name.n ? a->name.n : b->name.n);
    if (!c)
        c = (a->name.n > b->name.n) - (a->name.n < b->name.n);
    return c ? c : (a->at > b->at) - (a->at < b->at);
}

request_name *request_sorted_names(request_ctx *r, const msgpack_object *o, bool keys, uint32_t n)
{
    request_name *v = request_scratch(r, (size_t)n * sizeof *v);
    for (uint32_t i = 0; v && i < n; i++) {
        obj_str(keys ? &o->via.map.ptr[i].key : &o->via.array.ptr[i], &v[i].name);
        v[i].at = i;
    }
    if (v)
        qsort(v, n, sizeof *v, by_name_then_place);
    return v;
}

/* A value's length as a message shows it: its first 100 bytes. */
static int shown(msg_str v)
{
    return (int)(v.n > 100 ? 100 : v.n);
}

static cairn_status param_changed(msg_str k, msg_str old, msg_str v, cairn_error *err)
{
    return error_set(err, CAIRN_INVALID_PARAMETER_VALUE,
                     "param '%.*s' was logged as '%.*s'; params are immutable (got '%.*s')",
                     (int)k.n, k.p, shown(old), old.p, shown(v), v.p);
}

/* Nothing was logged: the message says what was asked. */
static cairn_status param_given_twice(msg_str k, msg_str first, msg_str again, cairn_error *err)
{
    return error_set(err, CAIRN_INVALID_PARAMETER_VALUE,
                     "param '%.*s' is given twice in one request, as '%.*s' and as '%.*s'; "
                     "params are immutable",
                     (int)k.n, k.p, shown(first), first.p, shown(again), again.p);
}

/* A param may be logged again only with the value it already has, in the
 * store or earlier in this request. */
static cairn_status check_params_immutable(request_ctx *r, const ulid *run,
                                           const msgpack_object *params, cairn_error *err)
{
    uint32_t n = params ? params->via.map.size : 0;
    for (uint32_t i = 0; i < n; i++) {
        msg_str k, v, old;
        obj_str(&params->via.map.ptr[i].key, &k);
        obj_str(&params->via.map.ptr[i].val, &v);
        if (store_kv_get(r->store, r->txn, r->store->params, run, k, &old, NULL) == CAIRN_OK &&
            !msg_str_same(old, v))
            return param_changed(k, old, v, err);
    }
    if (n < 2)
        return CAIRN_OK;
    request_name *keys = request_sorted_names(r, params, true, n);
    if (!keys)
        return error_set(err, CAIRN_OUT_OF_MEMORY, "checking %u params", n);
    for (uint32_t i = 1; i < n; i++) {
        if (!msg_str_same(keys[i - 1].name, keys[i].name))
            continue;
        msg_str first, again;
        obj_str(&params->via.map.ptr[keys[i - 1].at].val, &first);
        obj_str(&params->via.map.ptr[keys[i].at].val, &again);
        if (!msg_str_same(first, again))
            return param_given_twice(keys[i].name, first, again, err);
    }
    return CAIRN_OK;
}

/* Each tag to delete must exist, and be named once: a second delete of the
 * same tag would fail after the first, with this request half written. */
static cairn_status check_delete_tags(request_ctx *r, const ulid *run, const msgpack_object *del,
                                      cairn_error *err)
{
    uint32_t n = del ? del->via.array.size : 0;
    for (uint32_t i = 0; i < n; i++) {
        msg_str k, v;
        if (!obj_str(&del->via.array.ptr[i], &k))
            return error_set(err, CAIRN_BAD_MESSAGE, "delete_tags must be an array of strings");
        cairn_status st = store_kv_get(r->store, r->txn, r->store->tags, run, k, &v, NULL);
        if (st)
            return error_set(err, CAIRN_RESOURCE_DOES_NOT_EXIST, "no tag '%.*s' to delete",
                             (int)k.n, k.p);
    }
    if (n < 2)
        return CAIRN_OK;
    request_name *names = request_sorted_names(r, del, false, n);
    if (!names)
        return error_set(err, CAIRN_OUT_OF_MEMORY, "checking %u tags to delete", n);
    for (uint32_t i = 1; i < n; i++)
        if (msg_str_same(names[i - 1].name, names[i].name))
            return error_set(err, CAIRN_INVALID_PARAMETER_VALUE,
                             "tag '%.*s' is named twice in delete_tags", (int)names[i].name.n,
                             names[i].name.p);
    return CAIRN_OK;
}

/* The slot of run in r->known_runs: its random bytes spread well. */
static struct known_run *known_slot(request_ctx *r, const ulid *run)
{
    size_t n = sizeof r->known_runs / sizeof r->known_runs[0];
    return &r->known_runs[run->b[ULID_BYTES - 1] % n];
}

/* The run a run.log names, which must exist. A client logs to the same few
 * runs request after request: those it logged to before need no lookup. */
static cairn_status read_log_run(request_ctx *r, ulid *id, cairn_error *err)
{
    cairn_status st = body_ulid(r->m->body, "run", true, id, err);
    if (st)
        return st;
    struct known_run *k = known_slot(r, id);
    if (k->set && memcmp(k->id.b, id->b, ULID_BYTES) == 0)
        return CAIRN_OK;
    store_run run;
    st = store_run_get(r->store, r->txn, id, &run, err);
    if (!st)
        *k = (struct known_run){*id, true};
    return st;
}

typedef struct log_req {
    ulid run;
    const msgpack_object *params, *metrics, *tags, *delete_tags;
    metric_batch batch;
} log_req;

static cairn_status read_log(request_ctx *r, log_req *q, cairn_error *err)
{
    const msgpack_object *b = r->m->body;
    q->params = q->metrics = q->tags = q->delete_tags = NULL;
    cairn_status st = read_log_run(r, &q->run, err);
    if (!st)
        st = body_map(b, "params", false, &q->params, err);
    if (!st)
        st = body_array(b, "metrics", false, &q->metrics, err);
    if (!st)
        st = body_map(b, "tags", false, &q->tags, err);
    if (!st)
        st = body_array(b, "delete_tags", false, &q->delete_tags, err);
    if (!st)
        st = read_kv_map(q->params, "param", LIMIT_PARAM_VALUE, err);
    if (!st)
        st = read_kv_map(q->tags, "tag", LIMIT_TAG_VALUE, err);
    if (!st)
        st = check_params_immutable(r, &q->run, q->params, err);
    if (!st)
        st = check_delete_tags(r, &q->run, q->delete_tags, err);
    return st ? st : metric_batch_read(r, q->metrics, &q->batch, err);
}

static cairn_status append_points(request_ctx *r, const log_req *q, cairn_error *err)
{
    if (q->batch.n_points <= METRIC_HOLD_MAX_POINTS)
        return metric_hold_add(&r->held, &q->run, &q->batch, err);
    /* Held points of the same series were logged first. */
    cairn_status held = dispatch_flush(r, r->txn, err);
    if (held)
        return held;
    for (size_t g = 0; g < q->batch.n_groups; g++) {
        const metric_group *m = &q->batch.groups[g];
        cairn_status st = store_metric_append(r->store, r->txn, &q->run, m->key, m->points,
                                              m->n, err);
        if (st)
            return st;
    }
    return CAIRN_OK;
}

/* Appends " name=n" at *at when n is not zero. */
static void summary_count(char *summary, size_t *at, const char *name, size_t n)
{
    if (n == 0)
        return;
    char digits[24];
    size_t d = 0;
    for (; n; n /= 10)
        digits[d++] = (char)('0' + n % 10);
    size_t len = strlen(name);
    summary[(*at)++] = ' ';
    memcpy(summary + *at, name, len);
    *at += len;
    summary[(*at)++] = '=';
    while (d)
        summary[(*at)++] = digits[--d];
}

/* "run=ID metrics=1": the counts that are not zero. Written by hand: this is
 * the summary of the most frequent request, and snprintf was a visible share
 * of its cost. */
static void summarize_log(request_ctx *r, const log_req *q)
{
    size_t at = 4;
    memcpy(r->summary, "run=", 4);
    ulid_format(&q->run, r->summary + at);
    at += ULID_TEXT_LEN;
    summary_count(r->summary, &at, "params", q->params ? q->params->via.map.size : 0);
    summary_count(r->summary, &at, "metrics", q->batch.n_points);
    summary_count(r->summary, &at, "tags", q->tags ? q->tags->via.map.size : 0);
    summary_count(r->summary, &at, "deleted_tags",
                  q->delete_tags ? q->delete_tags->via.array.size : 0);
    r->summary[at] = '\0';
}

cairn_status handle_run_log(request_ctx *r, cairn_error *err)
{
    log_req q;
    cairn_status st = read_log(r, &q, err);
    if (st)
        return st;
    st = write_kv_map(r, r->store->params, &q.run, q.params, err);
    if (!st)
        st = write_kv_map(r, r->store->tags, &q.run, q.tags, err);
    for (uint32_t i = 0; !st && q.delete_tags && i < q.delete_tags->via.array.size; i++) {
        msg_str k;
        obj_str(&q.delete_tags->via.array.ptr[i], &k);
        st = store_kv_delete(r->store, r->txn, r->store->tags, &q.run, k, err);
    }
    if (!st)
        st = append_points(r, &q, err);
    if (st)
        return st;
    summarize_log(r, &q);
    r->applied = true;
    return CAIRN_OK;
}

/* ---- run.end ---- */

cairn_status handle_run_end(request_ctx *r, cairn_error *err)
{
    store_run run;
    msg_str status_name;
    int64_t end_time = r->now_ms;
    run_status status;
    cairn_status st = read_run(r, &run, err);
    if (!st)
        st = body_str(r->m->body, "status", true, &status_name, err);
    if (!st)
        st = body_int(r->m->body, "end_time", false, &end_time, err);
    if (st)
        return st;
    if (!run_status_parse(status_name, &status) || status == RUN_RUNNING)
        return error_set(err, CAIRN_INVALID_PARAMETER_VALUE,
                         "status '%.*s' is not one of FINISHED, FAILED, KILLED",
                         (int)status_name.n, status_name.p);
    st = store_run_set_end(r->store, r->txn, &run.id, status, end_time, err);
    if (st)
        return st;
    char idtext[ULID_TEXT_LEN + 1];
    ulid_format(&run.id, idtext);
    snprintf(r->summary, sizeof r->summary, "run=%s status=%s", idtext, run_status_name(status));
    r->applied = true;
    return CAIRN_OK;
}
