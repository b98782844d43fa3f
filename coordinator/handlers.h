/*
 * Request handlers: one function per message type of docs/protocol.md.
 *
 * A handler reads its body from r->m, checks everything it will write
 * *before* writing anything (so a refused request leaves no trace), then
 * writes through r->txn. Reads pack their reply body with reply_begin();
 * writes describe themselves in r->summary for the audit log and may add
 * reply fields to r->extra. dispatch.c does the rest: dedup, audit, reply.
 */
#ifndef CAIRN_HANDLERS_H
#define CAIRN_HANDLERS_H

#include <zmq.h>

#include "blobs.h"
#include "metric_hold.h"
#include "msg.h"
#include "store.h"

struct agent_table;
struct fanout_table;

typedef struct request_ctx {
    store *store;
    blobs *blobs;
    MDB_txn *txn;
    const msg *m;
    msg_writer *out;       /* where the reply goes */
    const char *from;      /* this coordinator's name in replies */
    int64_t now_ms;
    bool applied;          /* a write handler sets this when it changed state */
    uint64_t duplicate_of; /* the audit sequence of the first time; 0: not a resend */
    char summary[256];     /* audit summary of the change */
    msg_writer extra;      /* extra reply fields of a write (key/value pairs) */
    uint32_t extra_count;
    void *scratch;         /* a reusable buffer, grown with request_scratch() */
    size_t scratch_cap;
    /* Presence and fan-out (handle_agents.c). */
    struct agent_table *agents;
    struct fanout_table *fanouts;
    int64_t mono_ms;       /* monotonic clock of this group */
    zmq_msg_t *routing;    /* the sender's routing frames (routing[0]: its routing id) */
    int n_routing;
    bool deferred;         /* the handler answers later (a fan-out): no reply now */
    size_t max_message_bytes; /* limits.max_message_bytes, told to agents in hello */
    metric_hold held;      /* points of small run.log batches, appended before the
                            * group's next other request or its commit */
    /* Runs known to exist: runs are never deleted, so an entry stays true
     * until a transaction that may have created it aborts (dispatch_discard). */
    struct known_run {
        ulid id;
        bool set;
    } known_runs[64];
} request_ctx;

typedef cairn_status (*handler_fn)(request_ctx *r, cairn_error *err);

typedef struct handler {
    const char *type;
    bool writes;             /* goes through dedup and the audit log */
    handler_fn handle;
    handler_fn on_duplicate; /* adds reply fields when answering a resend (may be NULL) */
    bool soft;               /* may write soft state (presence): in the group's write
                              * transaction, replied to after its commit, but without
                              * dedup or audit entry; sets r->applied when it wrote */
    bool holds_metrics;      /* may leave points in r->held (run.log): every other
                              * handler runs after they are appended */
} handler;

const handler *handler_find(msg_str type);

/* Starts an ok reply with n body fields; the handler packs them next. */
msgpack_packer *reply_begin(request_ctx *r, uint32_t n);
/* Packer for extra reply fields of a write; each call adds one field (key+value). */
msgpack_packer *reply_extra(request_ctx *r);
/* A buffer of at least n bytes, kept across requests. NULL when out of memory. */
void *request_scratch(request_ctx *r, size_t n);

/* Shared body readers. */
cairn_status read_run(request_ctx *r, store_run *run, cairn_error *err);
cairn_status read_kv_map(const msgpack_object *map, const char *what, size_t value_limit,
                         cairn_error *err);
/* Names repeated within one request are found by sorting rather than by
 * comparing every pair: a 16 MiB request can carry millions of them. */
typedef struct request_name {
    msg_str name;
    uint32_t at; /* its place in the request */
} request_name;
/* The n strings of o (map keys when keys is true, else array items) in name
 * order, equal names in request order; NULL when out of memory. */
request_name *request_sorted_names(request_ctx *r, const msgpack_object *o, bool keys, uint32_t n);
/* A uint field with a default and an upper bound; 0 or absent means the default. */
cairn_status read_count(request_ctx *r, const char *key, int64_t dflt, int64_t max, int64_t *out,
                        cairn_error *err);

/* The handlers, by file. */
cairn_status handle_run_start(request_ctx *r, cairn_error *err);
cairn_status handle_run_start_duplicate(request_ctx *r, cairn_error *err);
cairn_status handle_run_log(request_ctx *r, cairn_error *err);
cairn_status handle_run_end(request_ctx *r, cairn_error *err);
cairn_status handle_experiment_list(request_ctx *r, cairn_error *err);
cairn_status handle_experiment_delete(request_ctx *r, cairn_error *err);
cairn_status handle_experiment_restore(request_ctx *r, cairn_error *err);
cairn_status handle_experiment_set_tag(request_ctx *r, cairn_error *err);
cairn_status handle_ping(request_ctx *r, cairn_error *err);
cairn_status handle_run_get(request_ctx *r, cairn_error *err);
cairn_status handle_metric_history(request_ctx *r, cairn_error *err);
cairn_status handle_audit_list(request_ctx *r, cairn_error *err);
cairn_status handle_run_search(request_ctx *r, cairn_error *err);
cairn_status handle_artifact_put(request_ctx *r, cairn_error *err);
cairn_status handle_artifact_put_duplicate(request_ctx *r, cairn_error *err);
cairn_status handle_artifact_get(request_ctx *r, cairn_error *err);
cairn_status handle_blob_get(request_ctx *r, cairn_error *err);
/* The model registry (handle_models.c, handle_model_changes.c, model_rollback.c,
 * handle_lineage.c). */
cairn_status handle_model_create(request_ctx *r, cairn_error *err);
cairn_status handle_model_register(request_ctx *r, cairn_error *err);
cairn_status handle_model_register_duplicate(request_ctx *r, cairn_error *err);
cairn_status handle_model_list(request_ctx *r, cairn_error *err);
cairn_status handle_model_get(request_ctx *r, cairn_error *err);
cairn_status handle_model_versions(request_ctx *r, cairn_error *err);
cairn_status handle_model_version_get(request_ctx *r, cairn_error *err);
cairn_status handle_model_stage(request_ctx *r, cairn_error *err);
cairn_status handle_model_alias(request_ctx *r, cairn_error *err);
cairn_status handle_model_unalias(request_ctx *r, cairn_error *err);
cairn_status handle_model_rollback(request_ctx *r, cairn_error *err);
cairn_status handle_model_rollback_duplicate(request_ctx *r, cairn_error *err);
cairn_status handle_model_history(request_ctx *r, cairn_error *err);
cairn_status handle_model_lineage(request_ctx *r, cairn_error *err);
cairn_status handle_event_emit(request_ctx *r, cairn_error *err);
cairn_status handle_event_emit_duplicate(request_ctx *r, cairn_error *err);
cairn_status handle_event_list(request_ctx *r, cairn_error *err);
cairn_status handle_agent_hello(request_ctx *r, cairn_error *err);
cairn_status handle_agent_heartbeat(request_ctx *r, cairn_error *err);
cairn_status handle_agent_list(request_ctx *r, cairn_error *err);
cairn_status handle_fanout(request_ctx *r, cairn_error *err);
cairn_status handle_dataset_log(request_ctx *r, cairn_error *err);
cairn_status handle_dataset_log_duplicate(request_ctx *r, cairn_error *err);
cairn_status handle_dataset_list(request_ctx *r, cairn_error *err);
cairn_status handle_dataset_get(request_ctx *r, cairn_error *err);

#endif
