/*
 * The reads: run.get, run.search, metric.history, experiment.list, audit.list.
 * Each packs its request, waits for the reply and decodes it into a struct
 * the caller owns.
 */
#include "body.h"
#include "client_internal.h"
#include "error.h"

static cairn_status bad_args(const char *what, cairn_error *err)
{
    return error_set(err, CAIRN_INVALID_PARAMETER_VALUE, "%s: missing client, argument or result pointer", what);
}

/* ---- run.get ---- */

static cairn_status run_body(const msgpack_object *body, void *out, cairn_error *err)
{
    const msgpack_object *o = NULL;
    cairn_status st = body_map(body, "run", true, &o, err);
    return st ? st : decode_run(o, out, err);
}

cairn_status cairn_run_get(cairn_client *client, const char *run_id, cairn_run **out,
                           cairn_error *err)
{
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
    return client_call_into(client, sizeof **out, run_body, (void **)out, err);
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
    client_pack_count(pk, "max", o->max);
    if (has_token) {
        mp_str(pk, "page_token");
        mp_str(pk, o->page_token);
    }
}

static cairn_status runs_body(const msgpack_object *body, void *out, cairn_error *err)
{
    return decode_run_list(body, out, err);
}

cairn_status cairn_run_search(cairn_client *client, const cairn_search_opts *opts,
                              cairn_run_list **out, cairn_error *err)
{
    if (!client || !out || !opts || !opts->experiment)
        return bad_args("run.search (experiment is required)", err);
    *out = NULL;
    for (size_t i = 0; i < opts->n_order_by; i++)
        if (!opts->order_by || !opts->order_by[i])
            return error_set(err, CAIRN_INVALID_PARAMETER_VALUE, "order_by[%zu] is NULL", i);
    pack_search(client, opts);
    return client_call_into(client, sizeof **out, runs_body, (void **)out, err);
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
    client_pack_count(pk, "offset", offset);
    client_pack_count(pk, "max", max);
}

static cairn_status history_body(const msgpack_object *body, void *out, cairn_error *err)
{
    return decode_history(body, out, err);
}

cairn_status cairn_metric_history(cairn_client *client, const char *run_id, const char *key,
                                  uint64_t offset, size_t max, cairn_history **out,
                                  cairn_error *err)
{
    ulid id;
    if (!client || !out || !key)
        return bad_args("metric.history", err);
    *out = NULL;
    cairn_status st = client_run_id(run_id, &id, err);
    if (st)
        return st;
    pack_history(client, &id, key, offset, max);
    return client_call_into(client, sizeof **out, history_body, (void **)out, err);
}

/* ---- experiment.list ---- */

static cairn_status experiments_body(const msgpack_object *body, void *out, cairn_error *err)
{
    return decode_experiments(body, out, err);
}

cairn_status cairn_experiments_list(cairn_client *client, int include_deleted,
                                    cairn_experiment_list **out, cairn_error *err)
{
    if (!client || !out)
        return bad_args("experiment.list", err);
    *out = NULL;
    msgpack_packer *pk = client_begin(client, "experiment.list", 1);
    mp_str(pk, "include_deleted");
    if (include_deleted)
        msgpack_pack_true(pk);
    else
        msgpack_pack_false(pk);
    return client_call_into(client, sizeof **out, experiments_body, (void **)out, err);
}

/* ---- audit.list ---- */

static cairn_status events_body(const msgpack_object *body, void *out, cairn_error *err)
{
    return decode_events(body, out, err);
}

cairn_status cairn_audit_entries_list(cairn_client *client, uint64_t since, size_t max,
                               cairn_audit_entry_list **out, cairn_error *err)
{
    if (!client || !out)
        return bad_args("audit.list", err);
    *out = NULL;
    msgpack_packer *pk = client_begin(client, "audit.list", (since > 0) + (max > 0));
    client_pack_count(pk, "since", since);
    client_pack_count(pk, "max", max);
    return client_call_into(client, sizeof **out, events_body, (void **)out, err);
}
