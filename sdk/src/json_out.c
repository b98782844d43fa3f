/*
 * The JSON shapes of the CLI's --json output (docs/cli.md is their contract).
 * Keys are inserted in the documented order, which jansson keeps. JSON has
 * no NaN or infinity, so those metric values become the strings "NaN",
 * "Infinity" and "-Infinity". Other doubles are written with the fewest
 * significant digits from 15 to 17 (one count per document: jansson's
 * precision is a dump flag) with which every double of the document reads
 * back exactly, so 0.9 prints as 0.9, not 0.90000000000000002, and no value
 * loses a bit.
 */
#include <jansson.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cairn/client.h"
#include "json_out.h"
#include "utf8.h"

#define JSON_FLAGS (JSON_INDENT(2) | JSON_PRESERVE_ORDER)
#define MAX_DIGITS 17 /* always enough for a double */
#define MIN_DIGITS 15 /* fewer would print 100 as 1e+02 */

/* ---- values ---- */

/* Strings from the coordinator are bytes: JSON needs UTF-8, so bad
 * sequences become U+FFFD rather than failing the whole document. */
static json_t *jstr(const char *s)
{
    json_t *j = json_string(s ? s : "");
    if (j)
        return j;
    char *fixed = utf8_repair(s, strlen(s), NULL);
    j = fixed ? json_string(fixed) : NULL;
    free(fixed);
    return j ? j : json_string("\xef\xbf\xbd");
}

static json_t *jnum(double v)
{
    if (isnan(v))
        return json_string("NaN");
    if (isinf(v))
        return json_string(v > 0 ? "Infinity" : "-Infinity");
    return json_real(v);
}

static json_t *jint(int64_t v)
{
    return json_integer((json_int_t)v);
}

static json_t *juint(uint64_t v)
{
    return json_integer(v > (uint64_t)INT64_MAX ? INT64_MAX : (json_int_t)v);
}

/* Sets key in obj; false when either is missing (out of memory). A key with
 * bad UTF-8 is repaired like a value. json_object_set_new consumes the value
 * even when it fails, so hold a reference for the second try. */
static bool put(json_t *obj, const char *key, json_t *value)
{
    if (!obj || !value) {
        json_decref(value);
        return false;
    }
    json_incref(value);
    if (json_object_set_new(obj, key, value) == 0) {
        json_decref(value);
        return true;
    }
    char *fixed = utf8_repair(key, strlen(key), NULL);
    if (!fixed) {
        json_decref(value);
        return false;
    }
    bool ok = json_object_set_new(obj, fixed, value) == 0;
    free(fixed);
    return ok;
}

static bool append(json_t *arr, json_t *value)
{
    if (!arr || !value) {
        json_decref(value);
        return false;
    }
    return json_array_append_new(arr, value) == 0;
}

/* The array of object(item) for each of n items of size bytes, or NULL, with
 * nothing leaked, as soon as one item cannot be made (out of memory). */
static json_t *array_of(const void *items, size_t n, size_t size,
                        json_t *(*object)(const void *item))
{
    json_t *a = json_array();
    for (size_t i = 0; a && i < n; i++)
        if (!append(a, object((const char *)items + i * size))) {
            json_decref(a);
            return NULL;
        }
    return a;
}

static json_t *kv_object(const cairn_kv *kv, size_t n)
{
    json_t *o = json_object();
    for (size_t i = 0; o && i < n; i++)
        if (!put(o, kv[i].key, jstr(kv[i].value))) {
            json_decref(o);
            return NULL;
        }
    return o;
}

/* Dumps and releases j, reals with `digits` significant digits. */
static char *dump(json_t *j, int digits)
{
    char *s = j ? json_dumps(j, JSON_FLAGS | JSON_REAL_PRECISION(digits)) : NULL;
    json_decref(j);
    return s;
}

/* The fewest digits, at least `from`, with which v reads back exactly. */
static int digits_for(double v, int from)
{
    char buf[40];
    if (isnan(v) || isinf(v))
        return from;
    for (int d = from; d < MAX_DIGITS; d++) {
        snprintf(buf, sizeof buf, "%.*g", d, v);
        if (strtod(buf, NULL) == v)
            return d;
    }
    return MAX_DIGITS;
}

static int run_digits(const cairn_run *r, int from)
{
    for (size_t i = 0; i < r->n_metrics && from < MAX_DIGITS; i++)
        from = digits_for(r->metrics[i].value, from);
    return from;
}

/* ---- run ---- */

static json_t *metrics_object(const cairn_run *run)
{
    json_t *o = json_object();
    for (size_t i = 0; o && i < run->n_metrics; i++)
        if (!put(o, run->metrics[i].key, jnum(run->metrics[i].value))) {
            json_decref(o);
            return NULL;
        }
    return o;
}

static json_t *artifact_object(const void *item)
{
    const cairn_artifact *a = item;
    json_t *o = json_object();
    if (put(o, "path", jstr(a->path)) && put(o, "size", juint(a->size)) &&
        put(o, "sha256", jstr(a->sha256)))
        return o;
    json_decref(o);
    return NULL;
}

static json_t *run_object(const void *item)
{
    const cairn_run *r = item;
    json_t *o = json_object();
    bool ok = put(o, "id", jstr(r->id)) && put(o, "experiment", jstr(r->experiment)) &&
              put(o, "name", jstr(r->name)) && put(o, "status", jstr(r->status)) &&
              put(o, "start_time", jint(r->start_time)) &&
              put(o, "end_time", r->end_time ? jint(r->end_time) : json_null()) &&
              put(o, "params", kv_object(r->params, r->n_params)) &&
              put(o, "metrics", metrics_object(r)) && put(o, "tags", kv_object(r->tags, r->n_tags)) &&
              put(o, "artifacts", array_of(r->artifacts, r->n_artifacts, sizeof *r->artifacts,
                                           artifact_object));
    if (ok)
        return o;
    json_decref(o);
    return NULL;
}

char *cairn_run_to_json(const cairn_run *run)
{
    return run ? dump(run_object(run), run_digits(run, MIN_DIGITS)) : NULL;
}

char *cairn_run_list_to_json(const cairn_run_list *list)
{
    static const cairn_run_list empty;
    int digits = MIN_DIGITS;
    if (!list)
        list = &empty;
    for (size_t i = 0; i < list->count; i++)
        digits = run_digits(&list->runs[i], digits);
    return dump(array_of(list->runs, list->count, sizeof *list->runs, run_object), digits);
}

/* ---- shared with the model registry's shapes (json_models.c) ---- */

json_t *json_out_kv(const cairn_kv *kv, size_t n)
{
    return kv_object(kv, n);
}

json_t *json_out_run(const cairn_run *run)
{
    return run_object(run);
}

char *json_out_dump_run(json_t *j, const cairn_run *run)
{
    return dump(j, run_digits(run, MIN_DIGITS)); /* reals: the run's metrics */
}

/* ---- history, experiments, events ---- */

static json_t *point_object(const void *item)
{
    const cairn_point *p = item;
    json_t *o = json_object();
    if (put(o, "step", jint(p->step)) && put(o, "value", jnum(p->value)) &&
        put(o, "timestamp", jint(p->timestamp)))
        return o;
    json_decref(o);
    return NULL;
}

char *cairn_history_to_json(const cairn_history *history)
{
    static const cairn_history empty;
    int digits = MIN_DIGITS;
    if (!history)
        history = &empty;
    for (size_t i = 0; i < history->count && digits < MAX_DIGITS; i++)
        digits = digits_for(history->points[i].value, digits);
    return dump(array_of(history->points, history->count, sizeof *history->points, point_object),
                digits);
}

static json_t *experiment_object(const void *item)
{
    const cairn_experiment *e = item;
    json_t *o = json_object();
    if (put(o, "id", juint(e->id)) && put(o, "name", jstr(e->name)) &&
        put(o, "lifecycle", jstr(e->lifecycle)) && put(o, "created", jint(e->created)) &&
        put(o, "tags", kv_object(e->tags, e->n_tags)))
        return o;
    json_decref(o);
    return NULL;
}

char *cairn_experiment_list_to_json(const cairn_experiment_list *list)
{
    static const cairn_experiment_list empty;
    if (!list)
        list = &empty;
    return dump(array_of(list->items, list->count, sizeof *list->items, experiment_object),
                MAX_DIGITS); /* no reals */
}

static json_t *event_object(const void *item)
{
    const cairn_audit_entry *e = item;
    json_t *o = json_object();
    if (put(o, "seq", juint(e->seq)) && put(o, "ts", jint(e->ts)) && put(o, "id", jstr(e->id)) &&
        put(o, "type", jstr(e->type)) && put(o, "from", jstr(e->from)) &&
        put(o, "summary", jstr(e->summary)))
        return o;
    json_decref(o);
    return NULL;
}

char *cairn_audit_entry_list_to_json(const cairn_audit_entry_list *list)
{
    static const cairn_audit_entry_list empty;
    if (!list)
        list = &empty;
    return dump(array_of(list->items, list->count, sizeof *list->items, event_object),
                MAX_DIGITS); /* no reals */
}

/* ---- shared with the other JSON shapes (json_datasets.c) ---- */

json_t *json_out_str(const char *s)
{
    return jstr(s);
}

json_t *json_out_int(int64_t v)
{
    return jint(v);
}

json_t *json_out_uint(uint64_t v)
{
    return juint(v);
}

bool json_out_put(json_t *obj, const char *key, json_t *value)
{
    return put(obj, key, value);
}

json_t *json_out_array(const void *items, size_t n, size_t size, json_t *(*object)(const void *item))
{
    return array_of(items, n, size, object);
}

char *json_out_dump(json_t *j)
{
    return dump(j, MAX_DIGITS); /* for documents without reals */
}
