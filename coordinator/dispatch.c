/*
 * From a decoded request to its reply: the handler table, the dedup check
 * and the audit entry that every applied write gets in the same transaction.
 */
#include "dispatch.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "kvlog.h"

static const handler handlers[] = {
    {"ping", false, handle_ping, NULL, false, false},
    {"experiment.list", false, handle_experiment_list, NULL, false, false},
    {"experiment.delete", true, handle_experiment_delete, NULL, false, false},
    {"experiment.restore", true, handle_experiment_restore, NULL, false, false},
    {"experiment.set_tag", true, handle_experiment_set_tag, NULL, false, false},
    {"run.start", true, handle_run_start, handle_run_start_duplicate, false, false},
    {"run.log", true, handle_run_log, NULL, false, true},
    {"run.end", true, handle_run_end, NULL, false, false},
    {"run.get", false, handle_run_get, NULL, false, false},
    {"run.search", false, handle_run_search, NULL, false, false},
    {"metric.history", false, handle_metric_history, NULL, false, false},
    {"artifact.put", true, handle_artifact_put, handle_artifact_put_duplicate, false, false},
    {"artifact.get", false, handle_artifact_get, NULL, false, false},
    {"audit.list", false, handle_audit_list, NULL, false, false},
    {"blob.get", false, handle_blob_get, NULL, false, false},
    {"event.emit", true, handle_event_emit, handle_event_emit_duplicate, false, false},
    {"event.list", false, handle_event_list, NULL, false, false},
    {"dataset.log", true, handle_dataset_log, handle_dataset_log_duplicate, false, false},
    {"dataset.list", false, handle_dataset_list, NULL, false, false},
    {"dataset.get", false, handle_dataset_get, NULL, false, false},
    /* Presence is soft state: no dedup, no audit entry (docs/protocol.md, Agents). */
    {"agent.hello", false, handle_agent_hello, NULL, true, false},
    {"agent.heartbeat", false, handle_agent_heartbeat, NULL, false, false},
    {"agent.list", false, handle_agent_list, NULL, false, false},
    /* Answered when the agents have: fanout.c records it and replies. */
    {"fanout", false, handle_fanout, NULL, false, false},
    /* The model registry: every change through dedup and the audit log. */
    {"model.create", true, handle_model_create, NULL, false, false},
    {"model.register", true, handle_model_register, handle_model_register_duplicate, false, false},
    {"model.list", false, handle_model_list, NULL, false, false},
    {"model.get", false, handle_model_get, NULL, false, false},
    {"model.versions", false, handle_model_versions, NULL, false, false},
    {"model.version.get", false, handle_model_version_get, NULL, false, false},
    {"model.stage", true, handle_model_stage, NULL, false, false},
    {"model.alias", true, handle_model_alias, NULL, false, false},
    {"model.unalias", true, handle_model_unalias, NULL, false, false},
    {"model.rollback", true, handle_model_rollback, handle_model_rollback_duplicate, false, false},
    {"model.history", false, handle_model_history, NULL, false, false},
    {"model.lineage", false, handle_model_lineage, NULL, false, false},
};

const handler *handler_find(msg_str type)
{
    for (size_t i = 0; i < sizeof handlers / sizeof handlers[0]; i++)
        if (type.n && handlers[i].type[0] == type.p[0] && msg_str_eq(type, handlers[i].type))
            return &handlers[i];
    return NULL;
}

msgpack_packer *reply_begin(request_ctx *r, uint32_t n)
{
    msg_start_reply(r->out, &r->m->id, r->m->type, r->from, n);
    return &r->out->pk;
}

msgpack_packer *reply_extra(request_ctx *r)
{
    r->extra_count++;
    return &r->extra.pk;
}

void *request_scratch(request_ctx *r, size_t n)
{
    if (n > r->scratch_cap) {
        void *p = realloc(r->scratch, n);
        if (!p)
            return NULL;
        r->scratch = p;
        r->scratch_cap = n;
    }
    return r->scratch ? r->scratch : request_scratch(r, 64);
}

void dispatch_init(request_ctx *r, store *s, blobs *b, const char *from)
{
    memset(r, 0, sizeof *r);
    r->store = s;
    r->blobs = b;
    r->from = from;
    msg_writer_init(&r->extra);
    metric_hold_init(&r->held);
}

void dispatch_destroy(request_ctx *r)
{
    msg_writer_destroy(&r->extra);
    metric_hold_destroy(&r->held);
    free(r->scratch);
}

cairn_status dispatch_flush(request_ctx *r, MDB_txn *txn, cairn_error *err)
{
    return metric_hold_flush(&r->held, r->store, txn, err);
}

void dispatch_discard(request_ctx *r)
{
    metric_hold_clear(&r->held);
    memset(r->known_runs, 0, sizeof r->known_runs);
}

/* The ok reply of a write: seq, duplicate, then the handler's extra fields. */
static void reply_write(request_ctx *r, uint64_t seq, bool duplicate)
{
    msgpack_packer *pk = reply_begin(r, 2 + r->extra_count);
    mp_str(pk, "seq");
    msgpack_pack_uint64(pk, seq);
    mp_str(pk, "duplicate");
    mp_bool(pk, duplicate);
    msgpack_sbuffer_write(&r->out->sb, r->extra.sb.data, r->extra.sb.size);
}

static cairn_status run_write(request_ctx *r, const handler *h, cairn_error *err)
{
    uint64_t seq;
    if (store_dedup_find(r->store, r->txn, &r->m->id, &seq)) {
        r->duplicate_of = seq;
        cairn_status st = h->on_duplicate ? h->on_duplicate(r, err) : CAIRN_OK;
        if (!st)
            reply_write(r, seq, true);
        return st;
    }
    cairn_status st = h->handle(r, err);
    if (st)
        return st;
    if (!r->applied) { /* e.g. an artifact chunk that is not the last */
        reply_write(r, 0, false);
        return CAIRN_OK;
    }
    audit_entry e = {r->now_ms, &r->m->id, r->m->type, r->m->from, r->summary};
    st = store_audit_append(r->store, r->txn, &e, &seq, err);
    if (!st)
        st = store_dedup_record(r->store, r->txn, &r->m->id, seq, err);
    if (!st)
        reply_write(r, seq, false);
    return st;
}

bool dispatch_must_abort(cairn_status st)
{
    return st == CAIRN_STORAGE_ERROR || st == CAIRN_OUT_OF_MEMORY || st == CAIRN_INTERNAL_ERROR;
}

/* A handler checks everything before it writes anything (handlers.h), so a
 * refused request leaves nothing behind. One that refused after writing
 * would leave half a request in the group's transaction: the error becomes
 * one that aborts it, and says so in the log. */
static cairn_status refused_after_writing(request_ctx *r, cairn_status st, cairn_error *err)
{
    char q[600];
    kvlog(KVLOG_ERROR, "refused_after_writing", "type=%.*s code=%s message=%s", (int)r->m->type.n,
          r->m->type.p, cairn_status_name(st), kvlog_quote(q, sizeof q, err->message));
    char why[sizeof err->message];
    snprintf(why, sizeof why, "%s", err->message);
    return error_set(err, CAIRN_INTERNAL_ERROR,
                     "the request was refused after part of it was written (%s): nothing of "
                     "its group is kept",
                     why);
}

cairn_status dispatch(request_ctx *r, const handler *h, const msg *m, MDB_txn *txn,
                      msg_writer *out, int64_t now_ms, cairn_error *err)
{
    size_t start = out->sb.size;
    r->m = m;
    r->txn = txn;
    r->out = out;
    r->now_ms = now_ms;
    r->applied = false;
    r->duplicate_of = 0;
    r->summary[0] = '\0';
    r->extra_count = 0;
    r->deferred = false;
    msg_writer_reset(&r->extra);
    /* What this handler reads or writes may include the held points. */
    cairn_status st = h->holds_metrics ? CAIRN_OK : dispatch_flush(r, txn, err);
    uint64_t writes = r->store->writes;
    if (!st)
        st = h->writes ? run_write(r, h, err) : h->handle(r, err);
    if (st && !dispatch_must_abort(st) && r->store->writes != writes)
        st = refused_after_writing(r, st, err);
    if (st) {
        r->deferred = false;
        out->sb.size = start; /* drop a reply packed halfway */
        msg_error_reply(out, &m->id, m->type, r->from, st, err->message);
    }
    return st;
}
