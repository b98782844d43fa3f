/*
 * Reply bodies into the public structs. Replies are checked as strictly as
 * requests are on the coordinator: a wrongly typed field is CAIRN_BAD_MESSAGE,
 * never a crash, and whatever was built before it is freed.
 */
#include <stdlib.h>
#include <string.h>

#include "body.h"
#include "client_internal.h"
#include "error.h"

/* ---- small pieces ---- */

static char *dup_msgstr(msg_str s)
{
    char *p = malloc((size_t)s.n + 1);
    if (p) {
        if (s.n)
            memcpy(p, s.p, s.n);
        p[s.n] = '\0';
    }
    return p;
}

static cairn_status oom(cairn_error *err)
{
    return error_set(err, CAIRN_OUT_OF_MEMORY, "out of memory decoding a reply");
}

/* calloc that returns a valid pointer for zero items too, so that "NULL"
 * always means out of memory. */
static void *alloc_items(size_t n, size_t size)
{
    return calloc(n ? n : 1, size);
}

static bool is_nil(const msgpack_object *o)
{
    return o && o->type == MSGPACK_OBJECT_NIL;
}

/* A string field copied into *out; absent or nil optional fields become "". */
static cairn_status get_str(const msgpack_object *map, const char *key, bool required, char **out,
                            cairn_error *err)
{
    msg_str s = {"", 0};
    cairn_status st = CAIRN_OK;
    if (required || !is_nil(body_find(map, key)))
        st = body_str(map, key, required, &s, err);
    if (st)
        return st;
    *out = dup_msgstr(s);
    return *out ? CAIRN_OK : oom(err);
}

static cairn_status get_uint(const msgpack_object *map, const char *key, bool required,
                             uint64_t *out, cairn_error *err)
{
    int64_t v = (int64_t)*out;
    cairn_status st = body_int(map, key, required, &v, err);
    if (st)
        return st;
    if (v < 0)
        return error_set(err, CAIRN_BAD_MESSAGE, "field '%s' must be a non-negative integer", key);
    *out = (uint64_t)v;
    return CAIRN_OK;
}

static bool is_hex64(msg_str s)
{
    if (s.n != 64)
        return false;
    for (uint32_t i = 0; i < s.n; i++) {
        char c = s.p[i];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')))
            return false;
    }
    return true;
}

/* ---- sorting ---- */

static int cmp_kv(const void *a, const void *b)
{
    return strcmp(((const cairn_kv *)a)->key, ((const cairn_kv *)b)->key);
}

static int cmp_metric(const void *a, const void *b)
{
    return strcmp(((const cairn_metric *)a)->key, ((const cairn_metric *)b)->key);
}

static int cmp_artifact(const void *a, const void *b)
{
    return strcmp(((const cairn_artifact *)a)->path, ((const cairn_artifact *)b)->path);
}

/* ---- string maps (params, tags) ---- */

static void kv_free(cairn_kv *kv, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free((char *)kv[i].key);
        free((char *)kv[i].value);
    }
    free(kv);
}

static cairn_status kv_entry(const msgpack_object_kv *e, const char *field, cairn_kv *out,
                             cairn_error *err)
{
    msg_str k, v;
    if (!obj_str(&e->key, &k) || !obj_str(&e->val, &v))
        return error_set(err, CAIRN_BAD_MESSAGE, "field '%s' must map strings to strings", field);
    out->key = dup_msgstr(k);
    out->value = dup_msgstr(v);
    return (out->key && out->value) ? CAIRN_OK : oom(err);
}

/* An optional map field of strings; *out sorted by key. */
static cairn_status get_kv_map(const msgpack_object *map, const char *field, cairn_kv **out,
                               size_t *n_out, cairn_error *err)
{
    const msgpack_object *m = NULL;
    cairn_status st = body_map(map, field, false, &m, err);
    if (st || !m || m->via.map.size == 0)
        return st;
    cairn_kv *kv = alloc_items(m->via.map.size, sizeof *kv);
    if (!kv)
        return oom(err);
    size_t n = 0;
    for (; n < m->via.map.size; n++)
        if ((st = kv_entry(&m->via.map.ptr[n], field, &kv[n], err)))
            break;
    if (st) {
        kv_free(kv, n + 1); /* the failed entry may hold one string */
        return st;
    }
    qsort(kv, n, sizeof *kv, cmp_kv);
    *out = kv;
    *n_out = n;
    return CAIRN_OK;
}

/* ---- metrics: key -> [value, step, timestamp] ---- */

static void metrics_free(cairn_metric *m, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free((char *)m[i].key);
    free(m);
}

static cairn_status metric_entry(const msgpack_object_kv *e, cairn_metric *out, cairn_error *err)
{
    msg_str k;
    const msgpack_object *a = &e->val;
    if (!obj_str(&e->key, &k) || a->type != MSGPACK_OBJECT_ARRAY || a->via.array.size != 3 ||
        !obj_double(&a->via.array.ptr[0], &out->value) ||
        !obj_int(&a->via.array.ptr[1], &out->step) ||
        !obj_int(&a->via.array.ptr[2], &out->timestamp))
        return error_set(err, CAIRN_BAD_MESSAGE,
                         "field 'metrics' must map keys to [value, step, timestamp]");
    out->key = dup_msgstr(k);
    return out->key ? CAIRN_OK : oom(err);
}

static cairn_status get_metrics(const msgpack_object *map, cairn_run *run, cairn_error *err)
{
    const msgpack_object *m = NULL;
    cairn_status st = body_map(map, "metrics", false, &m, err);
    if (st || !m || m->via.map.size == 0)
        return st;
    cairn_metric *ms = alloc_items(m->via.map.size, sizeof *ms);
    if (!ms)
        return oom(err);
    size_t n = 0;
    for (; n < m->via.map.size; n++)
        if ((st = metric_entry(&m->via.map.ptr[n], &ms[n], err)))
            break;
    if (st) {
        metrics_free(ms, n);
        return st;
    }
    qsort(ms, n, sizeof *ms, cmp_metric);
    run->metrics = ms;
    run->n_metrics = n;
    return CAIRN_OK;
}

/* ---- artifacts: [[path, size, sha256]] ---- */

static void artifacts_free(cairn_artifact *a, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free((char *)a[i].path);
    free(a);
}

static cairn_status artifact_entry(const msgpack_object *e, cairn_artifact *out, cairn_error *err)
{
    msg_str path, sha;
    int64_t size;
    if (e->type != MSGPACK_OBJECT_ARRAY || e->via.array.size != 3 ||
        !obj_str(&e->via.array.ptr[0], &path) || !obj_int(&e->via.array.ptr[1], &size) ||
        size < 0 || !obj_str(&e->via.array.ptr[2], &sha) || !is_hex64(sha))
        return error_set(err, CAIRN_BAD_MESSAGE,
                         "field 'artifacts' must hold [path, size, sha256 (64 hex)] items");
    out->size = (uint64_t)size;
    msg_str_copy(sha, out->sha256, sizeof out->sha256);
    out->path = dup_msgstr(path);
    return out->path ? CAIRN_OK : oom(err);
}

static cairn_status get_artifacts(const msgpack_object *map, cairn_run *run, cairn_error *err)
{
    const msgpack_object *a = NULL;
    cairn_status st = body_array(map, "artifacts", false, &a, err);
    if (st || !a || a->via.array.size == 0)
        return st;
    cairn_artifact *arts = alloc_items(a->via.array.size, sizeof *arts);
    if (!arts)
        return oom(err);
    size_t n = 0;
    for (; n < a->via.array.size; n++)
        if ((st = artifact_entry(&a->via.array.ptr[n], &arts[n], err)))
            break;
    if (st) {
        artifacts_free(arts, n);
        return st;
    }
    qsort(arts, n, sizeof *arts, cmp_artifact);
    run->artifacts = arts;
    run->n_artifacts = n;
    return CAIRN_OK;
}

/* ---- RUN ---- */

static cairn_status get_end_time(const msgpack_object *o, int64_t *out, cairn_error *err)
{
    *out = 0;
    if (is_nil(body_find(o, "end_time")))
        return CAIRN_OK;
    return body_int(o, "end_time", false, out, err);
}

static cairn_status run_scalars(const msgpack_object *o, cairn_run *r, cairn_error *err)
{
    ulid id;
    cairn_status st = body_ulid(o, "id", true, &id, err);
    if (!st)
        ulid_format(&id, r->id);
    if (!st)
        st = get_str(o, "experiment", true, &r->experiment, err);
    if (!st)
        st = get_uint(o, "experiment_id", false, &r->experiment_id, err);
    if (!st)
        st = get_str(o, "name", false, &r->name, err);
    if (!st)
        st = get_str(o, "status", true, &r->status, err);
    if (!st)
        st = body_int(o, "start_time", true, &r->start_time, err);
    if (!st)
        st = get_end_time(o, &r->end_time, err);
    return st;
}

cairn_status decode_run(const msgpack_object *o, cairn_run *out, cairn_error *err)
{
    memset(out, 0, sizeof *out);
    if (!o || o->type != MSGPACK_OBJECT_MAP)
        return error_set(err, CAIRN_BAD_MESSAGE, "a run must be a map");
    cairn_status st = run_scalars(o, out, err);
    if (!st)
        st = get_kv_map(o, "params", &out->params, &out->n_params, err);
    if (!st)
        st = get_metrics(o, out, err);
    if (!st)
        st = get_kv_map(o, "tags", &out->tags, &out->n_tags, err);
    if (!st)
        st = get_artifacts(o, out, err);
    if (st)
        run_clear(out);
    return st;
}

void run_clear(cairn_run *run)
{
    free(run->experiment);
    free(run->name);
    free(run->status);
    kv_free(run->params, run->n_params);
    metrics_free(run->metrics, run->n_metrics);
    kv_free(run->tags, run->n_tags);
    artifacts_free(run->artifacts, run->n_artifacts);
    memset(run, 0, sizeof *run);
}

void cairn_run_free(cairn_run *run)
{
    if (!run)
        return;
    run_clear(run);
    free(run);
}

/* ---- run.search ---- */

static cairn_status get_page_token(const msgpack_object *body, char **out, cairn_error *err)
{
    msg_str s = {"", 0};
    *out = NULL;
    if (is_nil(body_find(body, "next_page_token")))
        return CAIRN_OK;
    cairn_status st = body_str(body, "next_page_token", false, &s, err);
    if (st || s.n == 0)
        return st;
    *out = dup_msgstr(s);
    return *out ? CAIRN_OK : oom(err);
}

cairn_status decode_run_list(const msgpack_object *body, cairn_run_list *out, cairn_error *err)
{
    const msgpack_object *a = NULL;
    memset(out, 0, sizeof *out);
    cairn_status st = body_array(body, "runs", true, &a, err);
    if (st)
        return st;
    out->runs = alloc_items(a->via.array.size, sizeof *out->runs);
    if (!out->runs)
        return oom(err);
    for (; out->count < a->via.array.size; out->count++)
        if ((st = decode_run(&a->via.array.ptr[out->count], &out->runs[out->count], err)))
            break;
    if (!st)
        st = get_page_token(body, &out->next_page_token, err);
    if (st) {
        for (size_t i = 0; i < out->count; i++)
            run_clear(&out->runs[i]);
        free(out->runs);
        free(out->next_page_token);
        memset(out, 0, sizeof *out);
    }
    return st;
}

void cairn_run_list_free(cairn_run_list *list)
{
    if (!list)
        return;
    for (size_t i = 0; i < list->count; i++)
        run_clear(&list->runs[i]);
    free(list->runs);
    free(list->next_page_token);
    free(list);
}

/* ---- metric.history: points [[step, value, timestamp]] ---- */

static cairn_status point_entry(const msgpack_object *e, cairn_point *p, cairn_error *err)
{
    if (e->type != MSGPACK_OBJECT_ARRAY || e->via.array.size != 3 ||
        !obj_int(&e->via.array.ptr[0], &p->step) || !obj_double(&e->via.array.ptr[1], &p->value) ||
        !obj_int(&e->via.array.ptr[2], &p->timestamp))
        return error_set(err, CAIRN_BAD_MESSAGE,
                         "field 'points' must hold [step, value, timestamp] items");
    return CAIRN_OK;
}

cairn_status decode_history(const msgpack_object *body, cairn_history *out, cairn_error *err)
{
    const msgpack_object *a = NULL;
    memset(out, 0, sizeof *out);
    cairn_status st = body_array(body, "points", true, &a, err);
    if (st)
        return st;
    out->points = alloc_items(a->via.array.size, sizeof *out->points);
    if (!out->points)
        return oom(err);
    for (; !st && out->count < a->via.array.size; out->count++)
        st = point_entry(&a->via.array.ptr[out->count], &out->points[out->count], err);
    out->total = out->count;
    if (!st)
        st = get_uint(body, "total", false, &out->total, err);
    if (!st)
        st = get_uint(body, "next_offset", false, &out->next_offset, err);
    if (st) {
        free(out->points);
        memset(out, 0, sizeof *out);
    }
    return st;
}

void cairn_history_free(cairn_history *history)
{
    if (!history)
        return;
    free(history->points);
    free(history);
}

/* ---- experiment.list ---- */

static void experiment_clear(cairn_experiment *e)
{
    free(e->name);
    free(e->lifecycle);
    kv_free(e->tags, e->n_tags);
}

static cairn_status experiment_entry(const msgpack_object *o, cairn_experiment *e,
                                     cairn_error *err)
{
    if (o->type != MSGPACK_OBJECT_MAP)
        return error_set(err, CAIRN_BAD_MESSAGE, "field 'experiments' must hold maps");
    cairn_status st = get_uint(o, "id", true, &e->id, err);
    if (!st)
        st = get_str(o, "name", true, &e->name, err);
    if (!st)
        st = get_str(o, "lifecycle", true, &e->lifecycle, err);
    if (!st)
        st = body_int(o, "created", false, &e->created, err);
    if (!st)
        st = get_kv_map(o, "tags", &e->tags, &e->n_tags, err);
    return st;
}

cairn_status decode_experiments(const msgpack_object *body, cairn_experiment_list *out,
                                cairn_error *err)
{
    const msgpack_object *a = NULL;
    memset(out, 0, sizeof *out);
    cairn_status st = body_array(body, "experiments", true, &a, err);
    if (st)
        return st;
    out->items = alloc_items(a->via.array.size, sizeof *out->items);
    if (!out->items)
        return oom(err);
    for (; !st && out->count < a->via.array.size; out->count++)
        st = experiment_entry(&a->via.array.ptr[out->count], &out->items[out->count], err);
    if (st) {
        for (size_t i = 0; i < out->count; i++) /* includes the failed, partly filled one */
            experiment_clear(&out->items[i]);
        free(out->items);
        memset(out, 0, sizeof *out);
    }
    return st;
}

void cairn_experiment_list_free(cairn_experiment_list *list)
{
    if (!list)
        return;
    for (size_t i = 0; i < list->count; i++)
        experiment_clear(&list->items[i]);
    free(list->items);
    free(list);
}

/* ---- audit.list ---- */

static void event_clear(cairn_event *e)
{
    free(e->type);
    free(e->from);
    free(e->summary);
}

static cairn_status event_entry(const msgpack_object *o, cairn_event *e, cairn_error *err)
{
    ulid id;
    if (o->type != MSGPACK_OBJECT_MAP)
        return error_set(err, CAIRN_BAD_MESSAGE, "field 'events' must hold maps");
    cairn_status st = get_uint(o, "seq", true, &e->seq, err);
    if (!st)
        st = body_int(o, "ts", true, &e->ts, err);
    if (!st)
        st = body_ulid(o, "id", true, &id, err);
    if (!st)
        ulid_format(&id, e->id);
    if (!st)
        st = get_str(o, "type", true, &e->type, err);
    if (!st)
        st = get_str(o, "from", true, &e->from, err);
    if (!st)
        st = get_str(o, "summary", false, &e->summary, err);
    return st;
}

cairn_status decode_events(const msgpack_object *body, cairn_event_list *out, cairn_error *err)
{
    const msgpack_object *a = NULL;
    memset(out, 0, sizeof *out);
    cairn_status st = body_array(body, "events", true, &a, err);
    if (st)
        return st;
    out->items = alloc_items(a->via.array.size, sizeof *out->items);
    if (!out->items)
        return oom(err);
    for (; !st && out->count < a->via.array.size; out->count++)
        st = event_entry(&a->via.array.ptr[out->count], &out->items[out->count], err);
    if (!st)
        st = get_uint(body, "next", false, &out->next, err);
    if (st) {
        for (size_t i = 0; i < out->count; i++)
            event_clear(&out->items[i]);
        free(out->items);
        memset(out, 0, sizeof *out);
    }
    return st;
}

void cairn_event_list_free(cairn_event_list *list)
{
    if (!list)
        return;
    for (size_t i = 0; i < list->count; i++)
        event_clear(&list->items[i]);
    free(list->items);
    free(list);
}
