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

/* ---- lists (item_kind: client_internal.h) ---- */

static void free_items(void *items, size_t n, const item_kind *kind)
{
    for (size_t i = 0; kind->clear && i < n; i++)
        kind->clear((char *)items + i * kind->size);
    free(items);
}

static size_t element_count(const msgpack_object *list, const item_kind *kind)
{
    return kind->from_map ? list->via.map.size : list->via.array.size;
}

static cairn_status decode_items(const msgpack_object *list, const char *field,
                                 const item_kind *kind, void **items_out, size_t *count_out,
                                 cairn_error *err)
{
    size_t n = element_count(list, kind), done = 0;
    char *items = alloc_items(n, kind->size);
    if (!items)
        return oom(err);
    cairn_status st = CAIRN_OK;
    for (; !st && done < n; done++) {
        const void *elem = kind->from_map ? (const void *)&list->via.map.ptr[done]
                                          : (const void *)&list->via.array.ptr[done];
        st = kind->decode(elem, field, items + done * kind->size, err);
    }
    if (st) {
        free_items(items, done, kind); /* done counts the failed item: it may hold a string */
        return st;
    }
    if (kind->cmp)
        qsort(items, n, kind->size, kind->cmp);
    *items_out = items;
    *count_out = n;
    return CAIRN_OK;
}

/* The list in field of map into *items and *count. An optional list that is
 * absent or empty leaves them as they were (NULL, 0); a required one always
 * gets an array, if of no items. */
static cairn_status get_items(const msgpack_object *map, const char *field, bool required,
                              const item_kind *kind, void **items, size_t *count,
                              cairn_error *err)
{
    const msgpack_object *list = NULL;
    cairn_status st = kind->from_map ? body_map(map, field, required, &list, err)
                                     : body_array(map, field, required, &list, err);
    if (st || !list || (!required && element_count(list, kind) == 0))
        return st;
    return decode_items(list, field, kind, items, count, err);
}

/* ---- string maps (params, tags), sorted by key ---- */

static void kv_clear(void *item)
{
    cairn_kv *kv = item;
    free((char *)kv->key);
    free((char *)kv->value);
}

static cairn_status kv_entry(const void *elem, const char *field, void *item, cairn_error *err)
{
    const msgpack_object_kv *e = elem;
    cairn_kv *out = item;
    msg_str k, v;
    if (!obj_str(&e->key, &k) || !obj_str(&e->val, &v))
        return error_set(err, CAIRN_BAD_MESSAGE, "field '%s' must map strings to strings", field);
    out->key = dup_msgstr(k);
    out->value = dup_msgstr(v);
    return (out->key && out->value) ? CAIRN_OK : oom(err);
}

static int cmp_kv(const void *a, const void *b)
{
    return strcmp(((const cairn_kv *)a)->key, ((const cairn_kv *)b)->key);
}

static const item_kind kv_kind = {sizeof(cairn_kv), true, kv_entry, kv_clear, cmp_kv};

/* ---- shared with the model registry's decoders (client_models_decode.c) ---- */

cairn_status decode_kvs(const msgpack_object *map, const char *field, cairn_kv **items,
                        size_t *count, cairn_error *err)
{
    return get_items(map, field, true, &kv_kind, (void **)items, count, err);
}

void decode_kvs_free(cairn_kv *items, size_t n)
{
    free_items(items, n, &kv_kind);
}

/* ---- metrics: key -> [value, step, timestamp], sorted by key ---- */

static void metric_clear(void *item)
{
    free((char *)((cairn_metric *)item)->key);
}

static cairn_status metric_entry(const void *elem, const char *field, void *item,
                                 cairn_error *err)
{
    const msgpack_object_kv *e = elem;
    cairn_metric *out = item;
    msg_str k;
    const msgpack_object *a = &e->val;
    if (!obj_str(&e->key, &k) || a->type != MSGPACK_OBJECT_ARRAY || a->via.array.size != 3 ||
        !obj_double(&a->via.array.ptr[0], &out->value) ||
        !obj_int(&a->via.array.ptr[1], &out->step) ||
        !obj_int(&a->via.array.ptr[2], &out->timestamp))
        return error_set(err, CAIRN_BAD_MESSAGE,
                         "field '%s' must map keys to [value, step, timestamp]", field);
    out->key = dup_msgstr(k);
    return out->key ? CAIRN_OK : oom(err);
}

static int cmp_metric(const void *a, const void *b)
{
    return strcmp(((const cairn_metric *)a)->key, ((const cairn_metric *)b)->key);
}

static const item_kind metric_kind = {sizeof(cairn_metric), true, metric_entry, metric_clear,
                                      cmp_metric};

/* ---- artifacts: [[path, size, sha256]], sorted by path ---- */

static void artifact_clear(void *item)
{
    free((char *)((cairn_artifact *)item)->path);
}

static cairn_status artifact_entry(const void *elem, const char *field, void *item,
                                   cairn_error *err)
{
    const msgpack_object *e = elem;
    cairn_artifact *out = item;
    msg_str path, sha;
    int64_t size;
    if (e->type != MSGPACK_OBJECT_ARRAY || e->via.array.size != 3 ||
        !obj_str(&e->via.array.ptr[0], &path) || !obj_int(&e->via.array.ptr[1], &size) ||
        size < 0 || !obj_str(&e->via.array.ptr[2], &sha) || !is_hex64(sha))
        return error_set(err, CAIRN_BAD_MESSAGE,
                         "field '%s' must hold [path, size, sha256 (64 hex)] items", field);
    out->size = (uint64_t)size;
    msg_str_copy(sha, out->sha256, sizeof out->sha256);
    out->path = dup_msgstr(path);
    return out->path ? CAIRN_OK : oom(err);
}

static int cmp_artifact(const void *a, const void *b)
{
    return strcmp(((const cairn_artifact *)a)->path, ((const cairn_artifact *)b)->path);
}

static const item_kind artifact_kind = {sizeof(cairn_artifact), false, artifact_entry,
                                        artifact_clear, cmp_artifact};

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

/* params, metrics, tags and artifacts; through void pointers, as get_items
 * serves every item type. */
static cairn_status run_lists(const msgpack_object *o, cairn_run *r, cairn_error *err)
{
    void *params = NULL, *metrics = NULL, *tags = NULL, *artifacts = NULL;
    cairn_status st = get_items(o, "params", false, &kv_kind, &params, &r->n_params, err);
    if (!st)
        st = get_items(o, "metrics", false, &metric_kind, &metrics, &r->n_metrics, err);
    if (!st)
        st = get_items(o, "tags", false, &kv_kind, &tags, &r->n_tags, err);
    if (!st)
        st = get_items(o, "artifacts", false, &artifact_kind, &artifacts, &r->n_artifacts, err);
    r->params = params;
    r->metrics = metrics;
    r->tags = tags;
    r->artifacts = artifacts;
    return st;
}

cairn_status decode_run(const msgpack_object *o, cairn_run *out, cairn_error *err)
{
    memset(out, 0, sizeof *out);
    if (!o || o->type != MSGPACK_OBJECT_MAP)
        return error_set(err, CAIRN_BAD_MESSAGE, "a run must be a map");
    cairn_status st = run_scalars(o, out, err);
    if (!st)
        st = run_lists(o, out, err);
    if (st)
        run_clear(out);
    return st;
}

void run_clear(cairn_run *run)
{
    free(run->experiment);
    free(run->name);
    free(run->status);
    free_items(run->params, run->n_params, &kv_kind);
    free_items(run->metrics, run->n_metrics, &metric_kind);
    free_items(run->tags, run->n_tags, &kv_kind);
    free_items(run->artifacts, run->n_artifacts, &artifact_kind);
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

/* decode_run and run_clear in the untyped form item_kind calls. */
static cairn_status run_entry(const void *elem, const char *field, void *item, cairn_error *err)
{
    (void)field; /* decode_run names the run itself */
    return decode_run(elem, item, err);
}

static void run_entry_clear(void *item)
{
    run_clear(item);
}

static const item_kind run_kind = {sizeof(cairn_run), false, run_entry, run_entry_clear, NULL};

cairn_status decode_run_list(const msgpack_object *body, cairn_run_list *out, cairn_error *err)
{
    void *runs = NULL;
    memset(out, 0, sizeof *out);
    cairn_status st = get_items(body, "runs", true, &run_kind, &runs, &out->count, err);
    out->runs = runs;
    if (!st)
        st = get_page_token(body, &out->next_page_token, err);
    if (st) {
        free_items(out->runs, out->count, &run_kind);
        free(out->next_page_token);
        memset(out, 0, sizeof *out);
    }
    return st;
}

void cairn_run_list_free(cairn_run_list *list)
{
    if (!list)
        return;
    free_items(list->runs, list->count, &run_kind);
    free(list->next_page_token);
    free(list);
}

/* ---- metric.history: points [[step, value, timestamp]] ---- */

static cairn_status point_entry(const void *elem, const char *field, void *item,
                                cairn_error *err)
{
    const msgpack_object *e = elem;
    cairn_point *p = item;
    if (e->type != MSGPACK_OBJECT_ARRAY || e->via.array.size != 3 ||
        !obj_int(&e->via.array.ptr[0], &p->step) || !obj_double(&e->via.array.ptr[1], &p->value) ||
        !obj_int(&e->via.array.ptr[2], &p->timestamp))
        return error_set(err, CAIRN_BAD_MESSAGE,
                         "field '%s' must hold [step, value, timestamp] items", field);
    return CAIRN_OK;
}

static const item_kind point_kind = {sizeof(cairn_point), false, point_entry, NULL, NULL};

cairn_status decode_history(const msgpack_object *body, cairn_history *out, cairn_error *err)
{
    void *points = NULL;
    memset(out, 0, sizeof *out);
    cairn_status st = get_items(body, "points", true, &point_kind, &points, &out->count, err);
    out->points = points;
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

static void experiment_clear(void *item)
{
    cairn_experiment *e = item;
    free(e->name);
    free(e->lifecycle);
    free_items(e->tags, e->n_tags, &kv_kind);
}

static cairn_status experiment_entry(const void *elem, const char *field, void *item,
                                     cairn_error *err)
{
    const msgpack_object *o = elem;
    cairn_experiment *e = item;
    void *tags = NULL;
    if (o->type != MSGPACK_OBJECT_MAP)
        return error_set(err, CAIRN_BAD_MESSAGE, "field '%s' must hold maps", field);
    cairn_status st = get_uint(o, "id", true, &e->id, err);
    if (!st)
        st = get_str(o, "name", true, &e->name, err);
    if (!st)
        st = get_str(o, "lifecycle", true, &e->lifecycle, err);
    if (!st)
        st = body_int(o, "created", false, &e->created, err);
    if (!st)
        st = get_items(o, "tags", false, &kv_kind, &tags, &e->n_tags, err);
    e->tags = tags;
    return st;
}

static const item_kind experiment_kind = {sizeof(cairn_experiment), false, experiment_entry,
                                          experiment_clear, NULL};

cairn_status decode_experiments(const msgpack_object *body, cairn_experiment_list *out,
                                cairn_error *err)
{
    void *items = NULL;
    memset(out, 0, sizeof *out);
    cairn_status st = get_items(body, "experiments", true, &experiment_kind, &items, &out->count,
                                err);
    out->items = items;
    return st;
}

void cairn_experiment_list_free(cairn_experiment_list *list)
{
    if (!list)
        return;
    free_items(list->items, list->count, &experiment_kind);
    free(list);
}

/* ---- audit.list ---- */

static void event_clear(void *item)
{
    cairn_audit_entry *e = item;
    free(e->type);
    free(e->from);
    free(e->summary);
}

static cairn_status event_entry(const void *elem, const char *field, void *item, cairn_error *err)
{
    const msgpack_object *o = elem;
    cairn_audit_entry *e = item;
    ulid id;
    if (o->type != MSGPACK_OBJECT_MAP)
        return error_set(err, CAIRN_BAD_MESSAGE, "field '%s' must hold maps", field);
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

static const item_kind event_kind = {sizeof(cairn_audit_entry), false, event_entry, event_clear, NULL};

cairn_status decode_events(const msgpack_object *body, cairn_audit_entry_list *out, cairn_error *err)
{
    void *items = NULL;
    memset(out, 0, sizeof *out);
    cairn_status st = get_items(body, "events", true, &event_kind, &items, &out->count, err);
    out->items = items;
    if (!st)
        st = get_uint(body, "next", false, &out->next, err);
    if (st) {
        free_items(out->items, out->count, &event_kind);
        memset(out, 0, sizeof *out);
    }
    return st;
}

void cairn_audit_entry_list_free(cairn_audit_entry_list *list)
{
    if (!list)
        return;
    free_items(list->items, list->count, &event_kind);
    free(list);
}

/* ---- shared with the other decoders (client_datasets.c) ---- */

cairn_status decode_text(const msgpack_object *map, const char *key, bool required, char **out,
                         cairn_error *err)
{
    return get_str(map, key, required, out, err);
}

cairn_status decode_count(const msgpack_object *map, const char *key, bool required,
                          uint64_t *out, cairn_error *err)
{
    return get_uint(map, key, required, out, err);
}

bool decode_is_hex64(msg_str s)
{
    return is_hex64(s);
}

cairn_status decode_list(const msgpack_object *map, const char *field, bool required,
                         const item_kind *kind, void **items, size_t *count, cairn_error *err)
{
    return get_items(map, field, required, kind, items, count, err);
}

void decode_list_free(void *items, size_t n, const item_kind *kind)
{
    free_items(items, n, kind);
}
