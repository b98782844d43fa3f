/*
 * The writes of a run's life: run.start, run.log, run.end.
 */
#include <stdlib.h>
#include <string.h>

#include "client_internal.h"
#include "error.h"
#include "source_info.h"

void cairn_new_run_id(char id[CAIRN_ID_TEXT_LEN + 1])
{
    ulid u = ulid_new();
    ulid_format(&u, id);
}

static cairn_status check_kvs(const cairn_kv *kv, size_t n, const char *what, cairn_error *err)
{
    if (n && !kv)
        return error_set(err, CAIRN_INVALID_PARAMETER_VALUE, "%s: NULL array of %zu items", what, n);
    for (size_t i = 0; i < n; i++)
        if (!kv[i].key || !kv[i].value)
            return error_set(err, CAIRN_INVALID_PARAMETER_VALUE, "%s[%zu]: NULL key or value",
                             what, i);
    return CAIRN_OK;
}

static void pack_kv_map(msgpack_packer *pk, const char *field, const cairn_kv *kv, size_t n)
{
    mp_str(pk, field);
    msgpack_pack_map(pk, n);
    for (size_t i = 0; i < n; i++) {
        mp_str(pk, kv[i].key);
        mp_str(pk, kv[i].value);
    }
}

static cairn_status call_write(cairn_client *c, cairn_error *err)
{
    const msgpack_object *body;
    return client_call(c, &body, err);
}

/* ---- run.start ---- */

static bool has_key(const cairn_kv *kv, size_t n, const char *key)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(kv[i].key, key) == 0)
            return true;
    return false;
}

/* The caller's tags, then the detected ones the caller did not set: the
 * caller's win. *out is malloc'd (NULL when there are none). */
static cairn_status merge_tags(const cairn_run_start_opts *o, const source_info *src,
                               cairn_kv **out, size_t *n_out, cairn_error *err)
{
    cairn_kv detected[SOURCE_TAGS_MAX];
    size_t n_detected = o->detect_source ? source_tags(src, detected) : 0;
    *out = NULL;
    *n_out = 0;
    if (o->n_tags + n_detected == 0)
        return CAIRN_OK;
    cairn_kv *all = malloc((o->n_tags + n_detected) * sizeof *all);
    if (!all)
        return error_set(err, CAIRN_OUT_OF_MEMORY, "out of memory");
    if (o->n_tags)
        memcpy(all, o->tags, o->n_tags * sizeof *all);
    size_t n = o->n_tags;
    for (size_t i = 0; i < n_detected; i++)
        if (!has_key(o->tags, o->n_tags, detected[i].key))
            all[n++] = detected[i];
    *out = all;
    *n_out = n;
    return CAIRN_OK;
}

static void pack_run_start(cairn_client *c, const ulid *id, const cairn_run_start_opts *o,
                           const cairn_kv *tags, size_t n_tags)
{
    uint32_t entries = 2 + (o->name != NULL) + (o->start_time != 0) + (n_tags > 0);
    msgpack_packer *pk = client_begin(c, "run.start", entries);
    mp_str(pk, "run");
    mp_ulid(pk, id);
    mp_str(pk, "experiment");
    mp_str(pk, o->experiment);
    if (o->name) {
        mp_str(pk, "name");
        mp_str(pk, o->name);
    }
    if (o->start_time) {
        mp_str(pk, "start_time");
        msgpack_pack_int64(pk, o->start_time);
    }
    if (n_tags)
        pack_kv_map(pk, "tags", tags, n_tags);
}

cairn_status cairn_run_start(cairn_client *client, const char *run_id,
                             const cairn_run_start_opts *opts,
                             char id_out[CAIRN_ID_TEXT_LEN + 1], cairn_error *err)
{
    ulid id = ulid_new();
    source_info src = {0};
    cairn_kv *tags;
    size_t n_tags;
    if (!client || !opts || !opts->experiment)
        return error_set(err, CAIRN_INVALID_PARAMETER_VALUE, "run.start needs a client and an experiment");
    cairn_status st = run_id ? client_run_id(run_id, &id, err) : CAIRN_OK;
    if (!st)
        st = check_kvs(opts->tags, opts->n_tags, "tags", err);
    if (st)
        return st;
    if (opts->detect_source)
        source_detect(&src);
    if ((st = merge_tags(opts, &src, &tags, &n_tags, err)))
        return st;
    pack_run_start(client, &id, opts, tags, n_tags);
    free(tags);
    st = call_write(client, err);
    if (st == CAIRN_OK && id_out)
        ulid_format(&id, id_out);
    return st;
}

/* ---- run.log ---- */

static cairn_status check_batch(const cairn_log_batch *b, cairn_error *err)
{
    cairn_status st = check_kvs(b->params, b->n_params, "params", err);
    if (!st)
        st = check_kvs(b->tags, b->n_tags, "tags", err);
    if (!st && b->n_metrics && !b->metrics)
        st = error_set(err, CAIRN_INVALID_PARAMETER_VALUE, "metrics: NULL array");
    for (size_t i = 0; !st && i < b->n_metrics; i++)
        if (!b->metrics[i].key)
            st = error_set(err, CAIRN_INVALID_PARAMETER_VALUE, "metrics[%zu]: NULL key", i);
    if (!st && b->n_delete_tags && !b->delete_tags)
        st = error_set(err, CAIRN_INVALID_PARAMETER_VALUE, "delete_tags: NULL array");
    for (size_t i = 0; !st && i < b->n_delete_tags; i++)
        if (!b->delete_tags[i])
            st = error_set(err, CAIRN_INVALID_PARAMETER_VALUE, "delete_tags[%zu]: NULL", i);
    return st;
}

static void pack_metrics(msgpack_packer *pk, const cairn_metric *m, size_t n)
{
    int64_t now = client_now_ms();
    mp_str(pk, "metrics");
    msgpack_pack_array(pk, n);
    for (size_t i = 0; i < n; i++) {
        msgpack_pack_array(pk, 4);
        mp_str(pk, m[i].key);
        msgpack_pack_double(pk, m[i].value);
        msgpack_pack_int64(pk, m[i].step);
        msgpack_pack_int64(pk, m[i].timestamp ? m[i].timestamp : now);
    }
}

static void pack_delete_tags(msgpack_packer *pk, const char *const *keys, size_t n)
{
    mp_str(pk, "delete_tags");
    msgpack_pack_array(pk, n);
    for (size_t i = 0; i < n; i++)
        mp_str(pk, keys[i]);
}

static void pack_run_log(cairn_client *c, const ulid *id, const cairn_log_batch *b)
{
    uint32_t entries = 1 + (b->n_params > 0) + (b->n_metrics > 0) + (b->n_tags > 0) +
                       (b->n_delete_tags > 0);
    msgpack_packer *pk = client_begin(c, "run.log", entries);
    mp_str(pk, "run");
    mp_ulid(pk, id);
    if (b->n_params)
        pack_kv_map(pk, "params", b->params, b->n_params);
    if (b->n_metrics)
        pack_metrics(pk, b->metrics, b->n_metrics);
    if (b->n_tags)
        pack_kv_map(pk, "tags", b->tags, b->n_tags);
    if (b->n_delete_tags)
        pack_delete_tags(pk, b->delete_tags, b->n_delete_tags);
}

cairn_status cairn_run_log(cairn_client *client, const char *run_id, const cairn_log_batch *batch,
                           cairn_error *err)
{
    static const cairn_log_batch empty;
    ulid id;
    if (!client)
        return error_set(err, CAIRN_INVALID_PARAMETER_VALUE, "no client");
    cairn_status st = client_run_id(run_id, &id, err);
    if (!st)
        st = check_batch(batch ? batch : &empty, err);
    if (st)
        return st;
    pack_run_log(client, &id, batch ? batch : &empty);
    return call_write(client, err);
}

cairn_status cairn_log_metric(cairn_client *client, const char *run_id, const char *key,
                              double value, int64_t step, cairn_error *err)
{
    cairn_metric m = {.key = key, .value = value, .step = step, .timestamp = 0};
    cairn_log_batch b = {.metrics = &m, .n_metrics = 1};
    return cairn_run_log(client, run_id, &b, err);
}

/* ---- run.end ---- */

cairn_status cairn_run_end(cairn_client *client, const char *run_id, const char *status,
                           int64_t end_time, cairn_error *err)
{
    ulid id;
    if (!client)
        return error_set(err, CAIRN_INVALID_PARAMETER_VALUE, "no client");
    cairn_status st = client_run_id(run_id, &id, err);
    if (st)
        return st;
    msgpack_packer *pk = client_begin(client, "run.end", 2 + (end_time != 0));
    mp_str(pk, "run");
    mp_ulid(pk, &id);
    mp_str(pk, "status");
    mp_str(pk, status ? status : "FINISHED");
    if (end_time) {
        mp_str(pk, "end_time");
        msgpack_pack_int64(pk, end_time);
    }
    return call_write(client, err);
}
