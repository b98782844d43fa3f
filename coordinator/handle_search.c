/* run.search: filter the runs of one experiment, order them, page them. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "body.h"
#include "error.h"
#include "filter.h"
#include "handlers.h"

#define SEARCH_DEFAULT_MAX 1000
#define SEARCH_MAX 50000
#define ORDER_MAX 8
/* LIKE and ILIKE take up to a value's length times the pattern's length in
 * steps. Past this many over one search's runs (a fraction of a second) the
 * search is refused: the coordinator serves every client on one thread, and
 * a long pattern over 8,000-byte tags of 50,000 runs would hold it for
 * minutes. Ordinary patterns over a million runs stay far below. */
#define SEARCH_LIKE_WORK_MAX ((uint64_t)200 * 1000 * 1000)

typedef struct sort_value {
    bool present;
    bool is_number;
    double number;
    msg_str string; /* points into the store: valid while the transaction is */
} sort_value;

/* The run record is kept so that packing the page reads it no second time
 * (its name points into the store, as sort strings do). */
typedef struct candidate {
    store_run run;
    sort_value keys[ORDER_MAX];
} candidate;

typedef struct search {
    request_ctx *r;
    filter filter;
    bool needs_run_id; /* a clause compares run_id: format it for each run */
    order_item order[ORDER_MAX];
    size_t n_order;
    candidate *found;
    size_t n_found, cap_found;
    uint64_t like_work; /* steps LIKE and ILIKE took so far */
} search;

/* ---- the run view filter_match reads through ---- */

/* The cursors of a search, kept over its runs: they are read in id order, so
 * a lookup most often lands on the page of the one before and skips the tree
 * descent a fresh lookup (mdb_get) makes. */
typedef struct cursors {
    MDB_cursor *index; /* experiment_runs */
    store_walker runs;
    MDB_cursor *metrics, *params, *tags;
} cursors;

typedef struct view_ctx {
    const cursors *c;
    const ulid *run;
} view_ctx;

/* The run's record of key in c's tree, as store_kv_get and store_metric_latest read it. */
static bool lookup(MDB_cursor *c, const ulid *run, const char *key, MDB_val *value)
{
    store_key k;
    key_run_str(&k, run, key, strlen(key));
    MDB_val kv = key_val(&k);
    return mdb_cursor_get(c, &kv, value, MDB_SET_KEY) == 0;
}

static bool view_metric(void *ctx, const char *key, double *value)
{
    view_ctx *v = ctx;
    MDB_val val;
    store_latest l;
    if (!lookup(v->c->metrics, v->run, key, &val) || val.mv_size < sizeof l)
        return false;
    memcpy(&l, val.mv_data, sizeof l); /* the record starts with the latest point */
    *value = l.value;
    return true;
}

static bool view_kv(MDB_cursor *c, const ulid *run, const char *key, const char **value,
                    size_t *len)
{
    MDB_val val;
    if (!lookup(c, run, key, &val))
        return false;
    *value = val.mv_data;
    *len = val.mv_size;
    return true;
}

static bool view_param(void *ctx, const char *key, const char **value, size_t *len)
{
    view_ctx *v = ctx;
    return view_kv(v->c->params, v->run, key, value, len);
}

static bool view_tag(void *ctx, const char *key, const char **value, size_t *len)
{
    view_ctx *v = ctx;
    return view_kv(v->c->tags, v->run, key, value, len);
}

/* ---- sort keys ---- */

static sort_value attribute_value(const filter_run_view *view, filter_attribute a)
{
    sort_value s = {.present = true, .is_number = true};
    switch (a) {
    case ATTR_START_TIME:
        s.number = (double)view->start_time;
        break;
    case ATTR_END_TIME:
        s.present = view->has_end_time;
        s.number = (double)view->end_time;
        break;
    case ATTR_RUN_NAME:
        s = (sort_value){true, false, 0, {view->run_name, (uint32_t)view->run_name_len}};
        break;
    case ATTR_STATUS:
        s = (sort_value){true, false, 0, msg_str_of(view->status)};
        break;
    default: /* run_id: compare_item reads it from the candidate's record */
        s.present = false;
    }
    return s;
}

static sort_value sort_value_of(const filter_run_view *view, const order_item *o)
{
    sort_value s = {0};
    const char *p;
    size_t n;
    switch (o->entity) {
    case FILTER_METRIC:
        s.present = s.is_number = view->metric(view->ctx, o->key, &s.number);
        break;
    case FILTER_PARAM:
    case FILTER_TAG:
        s.present = (o->entity == FILTER_PARAM ? view->param : view->tag)(view->ctx, o->key, &p, &n);
        s.string = (msg_str){p, (uint32_t)n};
        break;
    case FILTER_ATTRIBUTE:
        s = attribute_value(view, o->attribute);
    }
    return s;
}

/* Missing values sort last in either direction; NaN sorts above every number. */
static int compare_values(const sort_value *a, const sort_value *b, bool descending)
{
    if (!a->present || !b->present)
        return a->present == b->present ? 0 : (a->present ? -1 : 1);
    int c;
    if (a->is_number) {
        bool an = isnan(a->number), bn = isnan(b->number);
        c = (an || bn) ? (an - bn) : (a->number > b->number) - (a->number < b->number);
    } else {
        uint32_t n = a->string.n < b->string.n ? a->string.n : b->string.n;
        c = memcmp(a->string.p, b->string.p, n);
        if (c == 0)
            c = (a->string.n > b->string.n) - (a->string.n < b->string.n);
    }
    return descending ? -c : c;
}

/* A run id has no sort_value: its bytes live in the candidate, which moves
 * as the array grows, so order_by run_id compares the records themselves
 * (ULID bytes sort as their text does). */
static int compare_item(const order_item *o, const sort_value *ka, const sort_value *kb,
                        const candidate *a, const candidate *b)
{
    if (o->entity != FILTER_ATTRIBUTE || o->attribute != ATTR_RUN_ID)
        return compare_values(ka, kb, o->descending);
    int c = memcmp(a->run.id.b, b->run.id.b, ULID_BYTES);
    return o->descending ? -c : c;
}

static int compare_candidates(const void *x, const void *y, void *ctx)
{
    const candidate *a = x, *b = y;
    const search *s = ctx;
    for (size_t i = 0; i < s->n_order; i++) {
        int c = compare_item(&s->order[i], &a->keys[i], &b->keys[i], a, b);
        if (c)
            return c;
    }
    if (a->run.start_time != b->run.start_time)
        return a->run.start_time > b->run.start_time ? -1 : 1; /* newest first */
    return memcmp(a->run.id.b, b->run.id.b, ULID_BYTES);
}

/* ---- collecting ---- */

static bool keep_candidate(search *s, const filter_run_view *view, const store_run *run)
{
    if (s->n_found == s->cap_found) {
        size_t cap = s->cap_found ? s->cap_found * 2 : 256;
        candidate *c = realloc(s->found, cap * sizeof *c);
        if (!c)
            return false;
        s->found = c;
        s->cap_found = cap;
    }
    candidate *c = &s->found[s->n_found++];
    c->run = *run;
    for (size_t i = 0; i < s->n_order; i++)
        c->keys[i] = sort_value_of(view, &s->order[i]);
    return true;
}

static cairn_status consider_run(search *s, cursors *c, const ulid *id, cairn_error *err)
{
    store_run run;
    cairn_status st = store_run_read(&c->runs, id, &run, err);
    if (st)
        return st;
    char idtext[ULID_TEXT_LEN + 1] = "";
    if (s->needs_run_id)
        ulid_format(id, idtext);
    view_ctx vc = {c, id};
    filter_run_view view = {
        .ctx = &vc, .metric = view_metric, .param = view_param, .tag = view_tag,
        .run_id = idtext, .run_name = run.name.p, .run_name_len = run.name.n,
        .status = run_status_name((run_status)run.status), .start_time = run.start_time,
        .end_time = run.end_time, .has_end_time = run.status != RUN_RUNNING,
        .like_work = &s->like_work,
    };
    bool matches = filter_match(&s->filter, &view);
    if (s->like_work > SEARCH_LIKE_WORK_MAX)
        return error_set(err, CAIRN_LIMIT_EXCEEDED,
                         "filter: its LIKE patterns took more than %llu steps to match over "
                         "this experiment's runs; use shorter patterns",
                         (unsigned long long)SEARCH_LIKE_WORK_MAX);
    if (!matches)
        return CAIRN_OK;
    return keep_candidate(s, &view, &run) ? CAIRN_OK
                                        : error_set(err, CAIRN_OUT_OF_MEMORY, "search results");
}

/* The experiment's index lists its runs in id order: the order of the trees
 * the cursors read. */
static cairn_status collect_from(search *s, cursors *c, uint64_t experiment_id,
                                 cairn_error *err)
{
    uint8_t prefix[8];
    be64_put(prefix, experiment_id);
    MDB_val k = {8, prefix}, v;
    cairn_status st = CAIRN_OK;
    int rc = mdb_cursor_get(c->index, &k, &v, MDB_SET_RANGE);
    while (!st && rc == 0 && k.mv_size == 8 + ULID_BYTES && memcmp(k.mv_data, prefix, 8) == 0) {
        ulid id;
        memcpy(id.b, (const uint8_t *)k.mv_data + 8, ULID_BYTES);
        st = consider_run(s, c, &id, err);
        rc = mdb_cursor_get(c->index, &k, &v, MDB_NEXT);
    }
    if (!st && rc != 0 && rc != MDB_NOTFOUND)
        st = store_fail(rc, "walk runs", err);
    return st;
}

static void cursors_close(cursors *c)
{
    MDB_cursor *all[] = {c->index, c->metrics, c->params, c->tags};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        if (all[i])
            mdb_cursor_close(all[i]);
    store_walker_close(&c->runs);
}

static cairn_status cursors_open(request_ctx *r, cursors *c, cairn_error *err)
{
    memset(c, 0, sizeof *c);
    const store *s = r->store;
    int rc = mdb_cursor_open(r->txn, s->experiment_runs, &c->index);
    if (!rc)
        rc = mdb_cursor_open(r->txn, s->metrics, &c->metrics);
    if (!rc)
        rc = mdb_cursor_open(r->txn, s->params, &c->params);
    if (!rc)
        rc = mdb_cursor_open(r->txn, s->tags, &c->tags);
    cairn_status st = rc ? store_fail(rc, "cursor", err) : CAIRN_OK;
    if (!st)
        st = store_walker_open(&c->runs, r->txn, s->runs, err);
    if (st)
        cursors_close(c);
    return st;
}

static cairn_status collect(search *s, uint64_t experiment_id, cairn_error *err)
{
    cursors c;
    cairn_status st = cursors_open(s->r, &c, err);
    if (!st) {
        st = collect_from(s, &c, experiment_id, err);
        cursors_close(&c);
    }
    return st;
}

/* ---- the request ---- */

static cairn_status read_order(search *s, const msgpack_object *arr, cairn_error *err)
{
    if (!arr)
        return CAIRN_OK;
    if (arr->via.array.size > ORDER_MAX)
        return error_set(err, CAIRN_LIMIT_EXCEEDED, "order_by: at most %d items", ORDER_MAX);
    for (uint32_t i = 0; i < arr->via.array.size; i++) {
        msg_str item;
        char text[512];
        if (!obj_str(&arr->via.array.ptr[i], &item))
            return error_set(err, CAIRN_BAD_MESSAGE, "order_by must be an array of strings");
        if (item.n >= sizeof text)
            return error_set(err, CAIRN_LIMIT_EXCEEDED, "order_by item longer than %zu bytes",
                             sizeof text - 1);
        if (memchr(item.p, '\0', item.n)) /* it would end the text early: the rest unread */
            return error_set(err, CAIRN_INVALID_PARAMETER_VALUE, "order_by item holds NUL");
        msg_str_copy(item, text, sizeof text);
        cairn_status st = order_parse(text, &s->order[i], err);
        if (st)
            return st;
        s->n_order++;
    }
    return CAIRN_OK;
}

static cairn_status read_page_token(msg_str token, uint64_t *offset, cairn_error *err)
{
    char text[24];
    char *end;
    *offset = 0;
    if (token.n == 0)
        return CAIRN_OK;
    msg_str_copy(token, text, sizeof text);
    errno = 0;
    unsigned long long v = strtoull(text, &end, 10);
    if (token.n >= sizeof text || *end || errno || text[0] == '-')
        return error_set(err, CAIRN_INVALID_PARAMETER_VALUE, "invalid page_token");
    *offset = v;
    return CAIRN_OK;
}

typedef struct search_req {
    msg_str experiment, filter_text, token;
    int64_t max;
    const msgpack_object *order_by;
} search_req;

static cairn_status read_search(request_ctx *r, search *s, search_req *q, cairn_error *err)
{
    const msgpack_object *b = r->m->body;
    char ftext[4096];
    q->filter_text = q->token = (msg_str){"", 0};
    q->max = 0;
    q->order_by = NULL;
    cairn_status st = body_str(b, "experiment", true, &q->experiment, err);
    if (!st)
        st = body_str(b, "filter", false, &q->filter_text, err);
    if (!st)
        st = body_array(b, "order_by", false, &q->order_by, err);
    if (!st)
        st = body_int(b, "max", false, &q->max, err);
    if (!st)
        st = body_str(b, "page_token", false, &q->token, err);
    if (st)
        return st;
    if (q->max < 0)
        return error_set(err, CAIRN_INVALID_PARAMETER_VALUE, "'max' must not be negative");
    q->max = q->max == 0 ? SEARCH_DEFAULT_MAX : q->max > SEARCH_MAX ? SEARCH_MAX : q->max;
    if (q->filter_text.n >= sizeof ftext)
        return error_set(err, CAIRN_LIMIT_EXCEEDED, "filter longer than %zu bytes", sizeof ftext - 1);
    if (memchr(q->filter_text.p, '\0', q->filter_text.n))
        return error_set(err, CAIRN_INVALID_PARAMETER_VALUE, "filter holds NUL");
    msg_str_copy(q->filter_text, ftext, sizeof ftext);
    st = filter_parse(ftext, &s->filter, err);
    return st ? st : read_order(s, q->order_by, err);
}

static bool filter_needs_run_id(const filter *f)
{
    for (size_t i = 0; i < f->count; i++)
        if (f->clauses[i].entity == FILTER_ATTRIBUTE && f->clauses[i].attribute == ATTR_RUN_ID)
            return true;
    return false;
}

static cairn_status pack_page(search *s, msg_str experiment, uint64_t offset, size_t max,
                              cairn_error *err)
{
    size_t from = offset < s->n_found ? (size_t)offset : s->n_found;
    size_t n = s->n_found - from < max ? s->n_found - from : max;
    bool more = from + n < s->n_found;
    msgpack_packer *pk = reply_begin(s->r, more ? 2 : 1);
    mp_str(pk, "runs");
    msgpack_pack_array(pk, (uint32_t)n);
    const store_run **runs = malloc((n ? n : 1) * sizeof *runs);
    if (!runs)
        return error_set(err, CAIRN_OUT_OF_MEMORY, "search results");
    for (size_t i = 0; i < n; i++)
        runs[i] = &s->found[from + i].run;
    cairn_status st = store_pack_runs(s->r->store, s->r->txn, runs, n, experiment, pk, err);
    free(runs);
    if (st)
        return st;
    if (more) {
        char token[24];
        int len = snprintf(token, sizeof token, "%zu", from + n);
        mp_str(pk, "next_page_token");
        mp_strn(pk, token, (size_t)len);
    }
    return CAIRN_OK;
}

cairn_status handle_run_search(request_ctx *r, cairn_error *err)
{
    search s = {.r = r};
    search_req q;
    store_experiment e;
    uint64_t offset = 0;
    cairn_status st = read_search(r, &s, &q, err);
    if (!st)
        st = read_page_token(q.token, &offset, err);
    if (!st)
        st = store_experiment_by_name(r->store, r->txn, q.experiment, false, 0, &e, err);
    if (!st) {
        s.needs_run_id = filter_needs_run_id(&s.filter);
        st = collect(&s, e.id, err);
    }
    if (!st) {
        qsort_r(s.found, s.n_found, sizeof *s.found, compare_candidates, &s);
        st = pack_page(&s, e.name, offset, (size_t)q.max, err);
    }
    filter_free(&s.filter);
    for (size_t i = 0; i < s.n_order; i++)
        order_item_free(&s.order[i]);
    free(s.found);
    return st;
}
