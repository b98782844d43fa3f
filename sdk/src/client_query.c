/*
 * The reads: run.get, run.search, metric.history, experiment.list, audit.list.
 * Each packs its request, waits for the reply and decodes it into a struct
 * the caller owns.
 */
#include <stdlib.h>
#include <string.h>

#include "body.h"
#include "client_internal.h"
#include "error.h"

static cairn_status no_memory(cairn_error *err)
{
    return error_set(err, CAIRN_OUT_OF_MEMORY, "out of memory");
}

static cairn_status bad_args(const char *what, cairn_error *err)
{
    return error_set(err, CAIRN_INVALID_PARAMETER_VALUE, "%s: missing client, argument or result pointer", what);
}

/* ---- run.get ---- */

static cairn_status decode_run_reply(const msgpack_object *body, cairn_run **out, cairn_error *err)
{
    const msgpack_object *o = NULL;
    cairn_status st = body_map(body, "run", true, &o, err);
    if (st)
        return st;
    cairn_run *run = malloc(sizeof *run);
    if (!run)
        return no_memory(err);
    if ((st = decode_run(o, run, err))) {
        free(run);
        return st;
    }
    *out = run;
    return CAIRN_OK;
}

cairn_status cairn_run_get(cairn_client *client, const char *run_id, cairn_run **out,
                           cairn_error *err)
{
    const msgpack_object *body;
    ulid id;
    if (!client || !out)
        return bad_args("run.get", err);
    *out = NULL;
    cairn_status st = client_run_id(run_id, &id, err);
    if (st)
        return st;
    msgpack_packer *pk = client_begin(client, "run.get", 1);
    mp_str(pk, "run");
    mp_ulid(pk, &id);
    st = client_call(client, &body, err);
    return st ? st : decode_run_reply(body, out, err);
}

/* ---- run.search ---- */

static void pack_search(cairn_client *c, const cairn_search_opts *o)
{
    bool has_filter = o->filter && *o->filter;
    bool has_token = o->page_token && *o->page_token;
    uint32_t entries = 1 + has_filter + (o->n_order_by > 0) + (o->max > 0) + has_token;
    msgpack_packer *pk = client_begin(c, "run.search", entries);
    mp_str(pk, "experiment");
    mp_str(pk, o->experiment);
    if (has_filter) {
        mp_str(pk, "filter");
        mp_str(pk, o->filter);
    }
    if (o->n_order_by) {
        mp_str(pk, "order_by");
        msgpack_pack_array(pk, o->n_order_by);
        for (size_t i = 0; i < o->n_order_by; i++)
            mp_str(pk, o->order_by[i]);
    }
    if (o->max) {
        mp_str(pk, "max");
        msgpack_pack_uint64(pk, o->max);
    }
    if (has_token) {
        mp_str(pk, "page_token");
        mp_str(pk, o->page_token);
    }
}

cairn_status cairn_run_search(cairn_client *client, const cairn_search_opts *opts,
                              cairn_run_list **out, cairn_error *err)
{
    const msgpack_object *body;
    if (!client || !out || !opts || !opts->experiment)
        return bad_args("run.search (experiment is required)", err);
    *out = NULL;
    for (size_t i = 0; i < opts->n_order_by; i++)
        if (!opts->order_by || !opts->order_by[i])
            return error_set(err, CAIRN_INVALID_PARAMETER_VALUE, "order_by[%zu] is NULL", i);
    pack_search(client, opts);
    cairn_status st = client_call(client, &body, err);
    if (st)
        return st;
    cairn_run_list *list = malloc(sizeof *list);
    if (!list)
        return no_memory(err);
    if ((st = decode_run_list(body, list, err))) {
        free(list);
        return st;
    }
    *out = list;
    return CAIRN_OK;
}

/* ---- metric.history ---- */

static void pack_history(cairn_client *c, const ulid *id, const char *key, uint64_t offset,
                         size_t max)
{
    msgpack_packer *pk = client_begin(c, "metric.history", 2 + (offset > 0) + (max > 0));
    mp_str(pk, "run");
    mp_ulid(pk, id);
    mp_str(pk, "key");
    mp_str(pk, key);
    if (offset) {
        mp_str(pk, "offset");
        msgpack_pack_uint64(pk, offset);
    }
    if (max) {
        mp_str(pk, "max");
        msgpack_pack_uint64(pk, max);
    }
}

cairn_status cairn_metric_history(cairn_client *client, const char *run_id, const char *key,
                                  uint64_t offset, size_t max, cairn_history **out,
                                  cairn_error *err)
{
    const msgpack_object *body;
    ulid id;
    if (!client || !out || !key)
        return bad_args("metric.history", err);
    *out = NULL;
    cairn_status st = client_run_id(run_id, &id, err);
    if (st)
        return st;
    pack_history(client, &id, key, offset, max);
    if ((st = client_call(client, &body, err)))
        return st;
    cairn_history *h = malloc(sizeof *h);
    if (!h)
        return no_memory(err);
    if ((st = decode_history(body, h, err))) {
        free(h);
        return st;
    }
    *out = h;
    return CAIRN_OK;
}

/* ---- experiment.list ---- */

cairn_status cairn_experiments_list(cairn_client *client, int include_deleted,
                                    cairn_experiment_list **out, cairn_error *err)
{
    const msgpack_object *body;
    if (!client || !out)
        return bad_args("experiment.list", err);
    *out = NULL;
    msgpack_packer *pk = client_begin(client, "experiment.list", 1);
    mp_str(pk, "include_deleted");
    if (include_deleted)
        msgpack_pack_true(pk);
    else
        msgpack_pack_false(pk);
    cairn_status st = client_call(client, &body, err);
    if (st)
        return st;
    cairn_experiment_list *list = malloc(sizeof *list);
    if (!list)
        return no_memory(err);
    if ((st = decode_experiments(body, list, err))) {
        free(list);
        return st;
    }
    *out = list;
    return CAIRN_OK;
}

/* ---- audit.list ---- */

cairn_status cairn_audit_entries_list(cairn_client *client, uint64_t since, size_t max,
                               cairn_audit_entry_list **out, cairn_error *err)
{
    const msgpack_object *body;
    if (!client || !out)
        return bad_args("audit.list", err);
    *out = NULL;
    msgpack_packer *pk = client_begin(client, "audit.list", (since > 0) + (max > 0));
    if (since) {
        mp_str(pk, "since");
        msgpack_pack_uint64(pk, since);
    }
    if (max) {
        mp_str(pk, "max");
        msgpack_pack_uint64(pk, max);
    }
    cairn_status st = client_call(client, &body, err);
    if (st)
        return st;
    cairn_audit_entry_list *list = malloc(sizeof *list);
    if (!list)
        return no_memory(err);
    if ((st = decode_events(body, list, err))) {
        free(list);
        return st;
    }
    *out = list;
    return CAIRN_OK;
}
