/* ping, run.get, metric.history, audit.list */
#include <stdlib.h>

#include "body.h"
#include "error.h"
#include "handlers.h"

#define HISTORY_MAX 100000
#define AUDIT_MAX 10000

cairn_status handle_ping(request_ctx *r, cairn_error *err)
{
    (void)err;
    msgpack_packer *pk = reply_begin(r, 2);
    mp_str(pk, "version");
    mp_str(pk, CAIRN_VERSION);
    mp_str(pk, "now");
    msgpack_pack_int64(pk, r->now_ms);
    return CAIRN_OK;
}

cairn_status handle_run_get(request_ctx *r, cairn_error *err)
{
    store_run run;
    cairn_status st = read_run(r, &run, err);
    if (st)
        return st;
    msgpack_packer *pk = reply_begin(r, 1);
    mp_str(pk, "run");
    return store_pack_run(r->store, r->txn, &run, pk, err);
}

cairn_status read_count(request_ctx *r, const char *key, int64_t dflt, int64_t max,
                               int64_t *out, cairn_error *err)
{
    *out = 0;
    cairn_status st = body_int(r->m->body, key, false, out, err);
    if (st)
        return st;
    if (*out < 0)
        return error_set(err, CAIRN_INVALID_PARAMETER_VALUE, "'%s' must not be negative", key);
    if (*out == 0)
        *out = dflt;
    if (*out > max)
        *out = max;
    return CAIRN_OK;
}

cairn_status handle_metric_history(request_ctx *r, cairn_error *err)
{
    store_run run;
    msg_str key;
    int64_t offset = 0, max;
    cairn_status st = read_run(r, &run, err);
    if (!st)
        st = body_str(r->m->body, "key", true, &key, err);
    if (!st)
        st = body_int(r->m->body, "offset", false, &offset, err);
    if (!st)
        st = read_count(r, "max", HISTORY_MAX, HISTORY_MAX, &max, err);
    if (st)
        return st;
    if (offset < 0)
        return error_set(err, CAIRN_INVALID_PARAMETER_VALUE, "'offset' must not be negative");
    store_point *pts = request_scratch(r, (size_t)max * sizeof *pts);
    if (!pts)
        return error_set(err, CAIRN_OUT_OF_MEMORY, "no memory for %lld points", (long long)max);
    size_t got;
    uint64_t total;
    st = store_metric_history(r->store, r->txn, &run.id, key, (uint64_t)offset, (size_t)max, pts,
                              &got, &total, err);
    if (st)
        return st;
    uint64_t next = (uint64_t)offset + got;
    msgpack_packer *pk = reply_begin(r, next < total ? 3 : 2);
    mp_str(pk, "points");
    msgpack_pack_array(pk, (uint32_t)got);
    for (size_t i = 0; i < got; i++) {
        msgpack_pack_array(pk, 3);
        msgpack_pack_int64(pk, pts[i].step);
        msgpack_pack_double(pk, pts[i].value);
        msgpack_pack_int64(pk, pts[i].timestamp);
    }
    mp_str(pk, "total");
    msgpack_pack_uint64(pk, total);
    if (next < total) {
        mp_str(pk, "next_offset");
        msgpack_pack_uint64(pk, next);
    }
    return CAIRN_OK;
}

cairn_status handle_audit_list(request_ctx *r, cairn_error *err)
{
    int64_t since = 1, max;
    cairn_status st = body_int(r->m->body, "since", false, &since, err);
    if (!st)
        st = read_count(r, "max", 1000, AUDIT_MAX, &max, err);
    if (st)
        return st;
    if (since < 1)
        since = 1;
    /* The count of events is known before packing; `next` follows them. */
    uint64_t last = r->store->next_audit_seq;
    uint64_t avail = (uint64_t)since < last ? last - (uint64_t)since : 0;
    bool more = avail > (uint64_t)max;
    msgpack_packer *pk = reply_begin(r, more ? 2 : 1);
    mp_str(pk, "events");
    uint64_t next;
    st = store_audit_pack(r->store, r->txn, (uint64_t)since, (size_t)max, pk, &next, err);
    if (st)
        return st;
    if (more) {
        mp_str(pk, "next");
        msgpack_pack_uint64(pk, next);
    }
    return CAIRN_OK;
}
