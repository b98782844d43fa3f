/*
 * libcairn: the C client of a cairn coordinator.
 *
 * A cairn_client holds one ZeroMQ DEALER connection. Every call is a
 * synchronous request/reply: it returns once the coordinator has answered
 * (for writes: once the change is durable) or the client's timeout has passed.
 * A request that gets no answer is resent with the same message id every
 * `retry` interval until the timeout, so a coordinator restart in between
 * costs a delay, never a duplicate: the coordinator applies an id once.
 *
 * Thread-safety: a cairn_client may be used by one thread at a time. Use one
 * client per thread, or serialise calls with your own lock. Results
 * (cairn_run, lists) are plain memory owned by the caller and freed with their
 * *_free function.
 *
 * Errors: every call returns CAIRN_OK or a cairn_status, and fills the
 * cairn_error passed to it (which may be NULL) with a one-line message. A
 * refusal by the coordinator carries the coordinator's code and message.
 */
#ifndef CAIRN_CLIENT_H
#define CAIRN_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#include "cairn/status.h"

#ifdef __cplusplus
extern "C" {
#endif

#define CAIRN_DEFAULT_COORDINATOR "tcp://127.0.0.1:7700"
#define CAIRN_ID_TEXT_LEN 26 /* a run id as text: a ULID */

typedef struct cairn_client cairn_client;

/* ---- connection ---- */

/*
 * Connects to endpoint, or, when NULL, to $CAIRN_COORDINATOR, or to
 * CAIRN_DEFAULT_COORDINATOR. Connecting does not wait for the peer.
 * Returns NULL (with err filled) only on a bad endpoint or no memory.
 */
cairn_client *cairn_client_open(const char *endpoint, cairn_error *err);
void cairn_client_close(cairn_client *client);

/* Deadline of each call (default 5000 ms) and the resend interval (default 1000 ms). */
void cairn_client_set_timeout(cairn_client *client, int timeout_ms);
void cairn_client_set_retry(cairn_client *client, int retry_ms);

/* Names this client in the envelope's `from` (default "sdk:USER@HOST"). */
void cairn_client_set_from(cairn_client *client, const char *from);

/* Round trip to the coordinator; version may be NULL, else gets up to cap bytes. */
cairn_status cairn_ping(cairn_client *client, char *version, size_t cap, cairn_error *err);

/* ---- values ---- */

typedef struct cairn_kv {
    const char *key;
    const char *value;
} cairn_kv;

typedef struct cairn_metric {
    const char *key;
    double value;
    int64_t step;
    int64_t timestamp; /* unix ms; 0 when logging means "now" */
} cairn_metric;

typedef struct cairn_artifact {
    const char *path;
    uint64_t size;
    char sha256[65];
} cairn_artifact;

typedef struct cairn_run {
    char id[CAIRN_ID_TEXT_LEN + 1];
    char *experiment;
    uint64_t experiment_id;
    char *name;
    char *status;          /* RUNNING, FINISHED, FAILED, KILLED */
    int64_t start_time;    /* unix ms */
    int64_t end_time;      /* unix ms; 0 while running */
    cairn_kv *params;      /* sorted by key */
    size_t n_params;
    cairn_metric *metrics; /* latest point per key, sorted by key */
    size_t n_metrics;
    cairn_kv *tags;        /* sorted by key */
    size_t n_tags;
    cairn_artifact *artifacts; /* sorted by path */
    size_t n_artifacts;
} cairn_run;

typedef struct cairn_run_list {
    cairn_run *runs;
    size_t count;
    char *next_page_token; /* NULL on the last page */
} cairn_run_list;

typedef struct cairn_point {
    int64_t step;
    double value;
    int64_t timestamp;
} cairn_point;

typedef struct cairn_history {
    cairn_point *points;
    size_t count;
    uint64_t total;       /* points in the whole history */
    uint64_t next_offset; /* 0 on the last page */
} cairn_history;

typedef struct cairn_experiment {
    uint64_t id;
    char *name;
    char *lifecycle; /* "active" or "deleted" */
    int64_t created;
    cairn_kv *tags;
    size_t n_tags;
} cairn_experiment;

typedef struct cairn_experiment_list {
    cairn_experiment *items;
    size_t count;
} cairn_experiment_list;

/* One entry of the coordinator's audit log (`cairn events`): every applied write. */
typedef struct cairn_audit_entry {
    uint64_t seq;
    int64_t ts; /* unix ms */
    char id[CAIRN_ID_TEXT_LEN + 1];
    char *type;
    char *from;
    char *summary;
} cairn_audit_entry;

typedef struct cairn_audit_entry_list {
    cairn_audit_entry *items;
    size_t count;
    uint64_t next; /* 0 when no more */
} cairn_audit_entry_list;

/* ---- runs ---- */

typedef struct cairn_run_start_opts {
    const char *experiment;  /* required; created on first use */
    const char *name;        /* optional */
    const cairn_kv *tags;
    size_t n_tags;
    int64_t start_time;      /* unix ms; 0 = now */
    int detect_source;       /* non-zero: add cairn.user, cairn.host, cairn.git.* tags */
} cairn_run_start_opts;

/* Makes a new run id (client-side, no round trip) and writes it as text. */
void cairn_new_run_id(char id[CAIRN_ID_TEXT_LEN + 1]);

/* Starts run_id (made with cairn_new_run_id, or NULL to make one and write it back into
 * id_out when id_out is not NULL). */
cairn_status cairn_run_start(cairn_client *client, const char *run_id,
                             const cairn_run_start_opts *opts,
                             char id_out[CAIRN_ID_TEXT_LEN + 1], cairn_error *err);

typedef struct cairn_log_batch {
    const cairn_kv *params;
    size_t n_params;
    const cairn_metric *metrics;
    size_t n_metrics;
    const cairn_kv *tags;
    size_t n_tags;
    const char *const *delete_tags;
    size_t n_delete_tags;
} cairn_log_batch;

/* Logs a batch in one durable request, applied whole or not at all. */
cairn_status cairn_run_log(cairn_client *client, const char *run_id, const cairn_log_batch *batch,
                           cairn_error *err);

/* One metric point (timestamp 0 = now): a convenience over cairn_run_log. */
cairn_status cairn_log_metric(cairn_client *client, const char *run_id, const char *key,
                              double value, int64_t step, cairn_error *err);

/* status: "FINISHED", "FAILED" or "KILLED"; end_time 0 = now. */
cairn_status cairn_run_end(cairn_client *client, const char *run_id, const char *status,
                           int64_t end_time, cairn_error *err);

cairn_status cairn_run_get(cairn_client *client, const char *run_id, cairn_run **out,
                           cairn_error *err);
void cairn_run_free(cairn_run *run);

typedef struct cairn_search_opts {
    const char *experiment;       /* required */
    const char *filter;           /* NULL: every run */
    const char *const *order_by;  /* e.g. "metrics.auc DESC" */
    size_t n_order_by;
    size_t max;                   /* 0: 1000 */
    const char *page_token;       /* NULL: first page */
} cairn_search_opts;

cairn_status cairn_run_search(cairn_client *client, const cairn_search_opts *opts,
                              cairn_run_list **out, cairn_error *err);
void cairn_run_list_free(cairn_run_list *list);

/* One page of a metric's history, from offset, at most max points (0: 100,000). */
cairn_status cairn_metric_history(cairn_client *client, const char *run_id, const char *key,
                                  uint64_t offset, size_t max, cairn_history **out,
                                  cairn_error *err);
void cairn_history_free(cairn_history *history);

/* ---- experiments and events ---- */

cairn_status cairn_experiments_list(cairn_client *client, int include_deleted,
                                    cairn_experiment_list **out, cairn_error *err);
void cairn_experiment_list_free(cairn_experiment_list *list);

/* Audit-log entries from sequence `since` (1 = the first), at most max (0: 1000). */
cairn_status cairn_audit_entries_list(cairn_client *client, uint64_t since, size_t max,
                               cairn_audit_entry_list **out, cairn_error *err);
void cairn_audit_entry_list_free(cairn_audit_entry_list *list);

/* ---- artifacts ---- */

/* Uploads a local file in chunks as artifact_path of the run (NULL: the file's base
 * name). Files larger than memory work. A coordinator that restarted and forgot
 * the unfinished upload gets it again from the first byte (at most 3 times).
 * out (may be NULL) gets size and sha256. */
cairn_status cairn_artifact_upload(cairn_client *client, const char *run_id,
                                   const char *local_file, const char *artifact_path,
                                   cairn_artifact *out, cairn_error *err);

/* Downloads an artifact into local_file (written to a temporary name, checked
 * against the stored sha256, then renamed into place). A symbolic link is
 * followed (its target is replaced, not the link); a character device or a
 * pipe (/dev/stdout, a FIFO) is written straight into, and checked at the end. */
cairn_status cairn_artifact_download(cairn_client *client, const char *run_id,
                                     const char *artifact_path, const char *local_file,
                                     cairn_error *err);

/* ---- model registry ----
 *
 * Registered models and their numbered versions (each a run's artifact, kept
 * by sha256), stages, aliases and the history of every stage and alias change
 * (docs/protocol.md, "Model registry"). A version reference `ref` is
 * "NAME/VERSION", "NAME@ALIAS" or "NAME/STAGE" (the highest version in that
 * stage, any letter case): "churn/3", "churn@champion", "churn/Production". */

typedef struct cairn_column {
    const char *name;
    const char *type;
} cairn_column;

/* What a model takes and gives: its input columns with their types, and the
 * type of its output. */
typedef struct cairn_signature {
    const cairn_column *inputs;
    size_t n_inputs;
    const char *output; /* NULL: not given */
} cairn_signature;

typedef struct cairn_model_version {
    char *name;                 /* the model */
    uint64_t version;
    char *stage;                /* "None", "Staging", "Production" or "Archived" */
    char **aliases;             /* those naming this version, sorted */
    size_t n_aliases;
    char run_id[CAIRN_ID_TEXT_LEN + 1];
    cairn_artifact artifact;    /* its path in the run, size, sha256 */
    char *description;
    cairn_kv *tags;             /* sorted by key */
    size_t n_tags;
    cairn_signature *signature; /* NULL when none */
    char *input_example;        /* JSON text; NULL when none */
    char *creator;              /* who registered it: "cli:user@host", "sdk:user@host" */
    int64_t created;            /* unix ms */
    int64_t updated;            /* unix ms: the last stage change */
} cairn_model_version;

typedef struct cairn_model_version_list {
    cairn_model_version *items; /* by number */
    size_t count;
    uint64_t next;              /* the first version of the next page; 0 on the last */
} cairn_model_version_list;

typedef struct cairn_model_alias {
    char *alias;
    uint64_t version;
} cairn_model_alias;

typedef struct cairn_model {
    char *name;
    char *description;
    int64_t created;            /* unix ms */
    int64_t updated;            /* unix ms: the last version, stage or alias change */
    uint64_t latest_version;    /* 0: none yet */
    cairn_model_alias *aliases; /* sorted by alias */
    size_t n_aliases;
    /* The highest version in each stage; 0: none. */
    uint64_t staging, production, archived;
    cairn_kv *tags;             /* sorted by key */
    size_t n_tags;
} cairn_model;

typedef struct cairn_model_list {
    cairn_model *items;         /* by name */
    size_t count;
} cairn_model_list;

/* One stage or alias change. A stage event moved `version` from from_stage to
 * to_stage; an alias event moved `alias` from from_version to to_version (0:
 * none: it was set, or removed). */
typedef struct cairn_model_event {
    uint64_t seq;               /* in the model's history: 1, 2, ... */
    int64_t time;               /* unix ms */
    char *actor;                /* the request's sender: "cli:user@host" */
    char request[CAIRN_ID_TEXT_LEN + 1]; /* the request's id (its audit entry's) */
    char *kind;                 /* "stage" or "alias" */
    uint64_t version;           /* stage events */
    char *from_stage, *to_stage;/* stage events; NULL for alias events */
    char *alias;                /* alias events; NULL for stage events */
    uint64_t from_version, to_version; /* alias events */
    int rollback;               /* made by a rollback */
    uint64_t undoes;            /* the event whose change it took back; 0: none */
    char *reason;               /* "" when none was given */
} cairn_model_event;

typedef struct cairn_model_event_list {
    cairn_model_event *items;   /* in order */
    size_t count;
    uint64_t next;              /* the first event of the next page; 0 on the last */
} cairn_model_event_list;

/* A dataset version a run used, as lineage gives it. */
typedef struct cairn_lineage_dataset {
    char *name;
    uint64_t version;
    char hash[65];   /* sha256 of the file, or the directory's Merkle hash */
    uint64_t size;
    uint64_t files;
    char *source;    /* "" when none */
    char *context;   /* "training", "validation", ...; "" when none */
} cairn_lineage_dataset;

/* How a model version was made, read in one request. Fields may be added at
 * the end: get one only from cairn_model_lineage. */
typedef struct cairn_lineage {
    cairn_model_version version;
    cairn_run run;              /* params, latest metrics, tags (cairn.user, cairn.host,
                                   cairn.git.commit, cairn.git.dirty), artifacts */
    cairn_model_event *events;  /* the version's own stage and alias events, in order */
    size_t n_events;
    cairn_lineage_dataset *datasets; /* the dataset versions its run used, by name */
    size_t n_datasets;
} cairn_lineage;

typedef struct cairn_register_opts {
    const char *name;           /* the model; created on first use */
    const char *run_id;
    const char *artifact_path;  /* a path among the run's artifacts */
    int create_new;             /* non-zero: refuse a name that exists (RESOURCE_ALREADY_EXISTS) */
    const char *description;    /* NULL: none */
    const cairn_kv *tags;
    size_t n_tags;
    const cairn_signature *signature; /* NULL: none */
    const char *input_example;  /* JSON text; NULL: none */
} cairn_register_opts;

/* Creates a model without versions (cairn_model_register creates one on first use). */
cairn_status cairn_model_create(cairn_client *client, const char *name, const char *description,
                                const cairn_kv *tags, size_t n_tags, cairn_error *err);

/* Registers the run's artifact as the model's next version; *version (may be
 * NULL) gets its number. */
cairn_status cairn_model_register(cairn_client *client, const cairn_register_opts *opts,
                                  uint64_t *version, cairn_error *err);

cairn_status cairn_models_list(cairn_client *client, cairn_model_list **out, cairn_error *err);
void cairn_model_list_free(cairn_model_list *list);
cairn_status cairn_model_get(cairn_client *client, const char *name, cairn_model **out,
                             cairn_error *err);
void cairn_model_free(cairn_model *model);

/* One page of the model's versions from `since` (0 or 1: the first), at most
 * max (0: 1000); a page also ends once it passes 16 MiB (versions heavy with
 * tags), so follow the list's next rather than counting on max. */
cairn_status cairn_model_versions(cairn_client *client, const char *name, uint64_t since,
                                  size_t max, cairn_model_version_list **out, cairn_error *err);
void cairn_model_version_list_free(cairn_model_version_list *list);

/* The version ref names. */
cairn_status cairn_model_version_get(cairn_client *client, const char *ref,
                                     cairn_model_version **out, cairn_error *err);
void cairn_model_version_free(cairn_model_version *version);

/* Moves a version to stage ("None", "Staging", "Production", "Archived", any
 * letter case); archive_existing non-zero moves every other version in that
 * stage (Staging or Production) to Archived. reason may be NULL. */
cairn_status cairn_model_set_stage(cairn_client *client, const char *name, uint64_t version,
                                   const char *stage, int archive_existing, const char *reason,
                                   cairn_error *err);
/* Points alias at version (moving it from where it was). reason may be NULL. */
cairn_status cairn_model_set_alias(cairn_client *client, const char *name, const char *alias,
                                   uint64_t version, const char *reason, cairn_error *err);
cairn_status cairn_model_delete_alias(cairn_client *client, const char *name, const char *alias,
                                      const char *reason, cairn_error *err);

typedef struct cairn_rollback_opts {
    const char *name;
    const char *alias;          /* exactly one of alias and stage */
    const char *stage;
    uint64_t to;                /* 0: the previous holder (docs/protocol.md, "Rollback") */
    const char *reason;         /* NULL: none */
} cairn_rollback_opts;

/* Puts the alias or stage back to its previous holder (or opts->to); *version
 * gets the holder after, *previous the holder before (each may be NULL; 0:
 * none, or not known when the request was a resend). */
cairn_status cairn_model_rollback(cairn_client *client, const cairn_rollback_opts *opts,
                                  uint64_t *version, uint64_t *previous, cairn_error *err);

/* One page of the model's history from event `since` (0 or 1: the first), at
 * most max (0: 1000). */
cairn_status cairn_model_history(cairn_client *client, const char *name, uint64_t since,
                                 size_t max, cairn_model_event_list **out, cairn_error *err);
void cairn_model_event_list_free(cairn_model_event_list *list);

cairn_status cairn_model_lineage(cairn_client *client, const char *ref, cairn_lineage **out,
                                 cairn_error *err);
void cairn_lineage_free(cairn_lineage *lineage);

/* Downloads the version's artifact into dest_dir (created when missing) under
 * the base name of its path, by its sha256 (what the version registered, even
 * if the run's path was uploaded again since), checked against that hash and
 * renamed into place as cairn_artifact_download does. path (may be NULL) gets
 * the file written, cut to cap bytes. */
cairn_status cairn_model_version_download(cairn_client *client,
                                          const cairn_model_version *version,
                                          const char *dest_dir, char *path, size_t cap,
                                          cairn_error *err);
/* The same for the version ref names (resolved once). */
cairn_status cairn_model_download(cairn_client *client, const char *ref, const char *dest_dir,
                                  char *path, size_t cap, cairn_error *err);

/* The --json shapes of `cairn models` and `cairn lineage` (docs/cli.md);
 * malloc'd, free with cairn_free(). */
char *cairn_model_to_json(const cairn_model *model);
char *cairn_model_list_to_json(const cairn_model_list *list);
char *cairn_model_version_to_json(const cairn_model_version *version);
char *cairn_model_version_list_to_json(const cairn_model_version_list *list);
char *cairn_model_event_list_to_json(const cairn_model_event_list *list);
char *cairn_lineage_to_json(const cairn_lineage *lineage);

/* ---- agents and fan-out ----
 *
 * The agents the coordinator knows (agent.list), and commands fanned out to
 * the agents a label selector chooses (fanout). docs/protocol.md, "Agents",
 * has the selector syntax and the meaning of each result. */

typedef struct cairn_agent {
    char id[CAIRN_ID_TEXT_LEN + 1];
    char *host;
    cairn_kv *labels;     /* sorted by key */
    size_t n_labels;
    char *version;
    char *status;         /* "up" or "down" */
    int64_t last_seen;    /* unix ms */
    uint64_t spool_depth;
} cairn_agent;

typedef struct cairn_agent_list {
    cairn_agent *items;   /* ordered by host */
    size_t count;
} cairn_agent_list;

cairn_status cairn_agents_list(cairn_client *client, cairn_agent_list **out, cairn_error *err);
void cairn_agent_list_free(cairn_agent_list *list);

typedef struct cairn_fanout_opts {
    const char *selector; /* NULL or "": every agent */
    const char *command;  /* required, e.g. "ping" */
    const cairn_kv *args; /* the command's arguments (strings) */
    size_t n_args;
    int timeout_ms;       /* how long the agents have to answer; 0: 5000 */
} cairn_fanout_opts;

typedef struct cairn_fanout_result {
    char agent[CAIRN_ID_TEXT_LEN + 1];
    char *host;
    char *result;         /* "ok", "error" or "timeout" */
    double rtt_ms;
    char *error;          /* NULL when none */
} cairn_fanout_result;

typedef struct cairn_fanout_list {
    cairn_fanout_result *items; /* ordered by host */
    size_t count;
} cairn_fanout_list;

/* Sends opts->command to every agent the selector matches and returns each
 * one's result. Waits up to opts->timeout_ms plus the client's timeout: the
 * agents' time, then the coordinator's. A refused selector is
 * CAIRN_INVALID_PARAMETER_VALUE. */
cairn_status cairn_fanout(cairn_client *client, const cairn_fanout_opts *opts,
                          cairn_fanout_list **out, cairn_error *err);
void cairn_fanout_list_free(cairn_fanout_list *list);

/* ---- logging from training code: cairn_tracker ----
 *
 * A tracker sends what training code logs from a background thread, so that
 * logging never waits on the network: cairn_tracker_log_metric appends to an
 * in-memory queue and returns. The sender thread turns the queue into batched
 * requests, each run's in the order its calls were made, and resends each until
 * it is acknowledged (with the same message id: never applied twice). A run's
 * points queued meanwhile travel together, also when other runs' calls came
 * between them (a sweep stepping many runs in turn), and the requests of
 * several runs may be in flight together, so calls for different runs may be
 * applied in another order than they were made.
 *
 * Where writes go: opts->endpoint, else $CAIRN_AGENT (the local agent, which
 * spools them durably before acknowledging), else $CAIRN_COORDINATOR (straight
 * to the coordinator, no spool), else CAIRN_DEFAULT_AGENT.
 *
 * Durability: cairn_tracker_flush returns CAIRN_OK once everything logged
 * before the call is durable (in the agent's spool or the coordinator's store).
 *
 * Errors: calls that only queue return CAIRN_BACKPRESSURE when the queue holds
 * opts->max_queued items (the agent's spool is full or nothing answers), and
 * otherwise CAIRN_OK. A request the receiver refuses (an immutable param logged
 * with another value, a bad key) cannot be reported by the call that queued
 * it: the first such error is kept and returned by the next cairn_tracker_flush,
 * cairn_tracker_end_run or cairn_tracker_close (then cleared).
 *
 * Thread-safety: every cairn_tracker_* function may be called from any thread
 * at the same time; each run's calls are applied in the order they were made.
 */
typedef struct cairn_tracker cairn_tracker;

#define CAIRN_DEFAULT_AGENT "ipc:///run/cairn/agent.sock"

typedef struct cairn_tracker_opts {
    const char *endpoint; /* NULL: see above */
    size_t max_queued;    /* queued items (points, params, tags) before BACKPRESSURE; 0: 1,000,000 */
    int flush_ms;         /* the sender sends at least this often (0: 50 ms) */
} cairn_tracker_opts;

/* opts may be NULL. Starts the sender thread; connecting does not wait. */
cairn_tracker *cairn_tracker_open(const cairn_tracker_opts *opts, cairn_error *err);

/* Flushes for up to timeout_ms, stops the sender and frees the tracker. Returns
 * the flush's status: CAIRN_TIMEOUT means some queued items were not sent. */
cairn_status cairn_tracker_close(cairn_tracker *t, int timeout_ms, cairn_error *err);

/* The endpoint the tracker sends to. */
const char *cairn_tracker_endpoint(const cairn_tracker *t);

/* Queues the start of a run. The id is made here (no round trip) and written
 * into id_out; opts->detect_source adds the cairn.user/host/git.* tags. */
cairn_status cairn_tracker_start_run(cairn_tracker *t, const cairn_run_start_opts *opts,
                                     char id_out[CAIRN_ID_TEXT_LEN + 1], cairn_error *err);

/* Queues one point (timestamp: now). The hot path: no allocation in the
 * common case, no system call, no network. */
cairn_status cairn_tracker_log_metric(cairn_tracker *t, const char *run_id, const char *key,
                                      double value, int64_t step);

/* Queues points, params, tags (timestamps of 0 mean now). */
cairn_status cairn_tracker_log_metrics(cairn_tracker *t, const char *run_id,
                                       const cairn_metric *metrics, size_t n);
cairn_status cairn_tracker_log_params(cairn_tracker *t, const char *run_id, const cairn_kv *params,
                                      size_t n);
cairn_status cairn_tracker_set_tags(cairn_tracker *t, const char *run_id, const cairn_kv *tags,
                                    size_t n);

/* Uploads a file as an artifact of the run, after everything queued before it;
 * returns once the upload is acknowledged (out, may be NULL, gets size and sha256). */
cairn_status cairn_tracker_log_artifact(cairn_tracker *t, const char *run_id,
                                        const char *local_file, const char *artifact_path,
                                        cairn_artifact *out, cairn_error *err);

/* cairn_tracker_log_artifact in steps, for a caller that waits in short
 * slices (Python, so that Ctrl-C is seen between them).
 * cairn_tracker_queue_artifact queues the upload as log_artifact does and
 * names it in *upload. Each cairn_tracker_await_artifact waits up to
 * timeout_ms: while the upload is not over it returns CAIRN_TIMEOUT and leaves
 * *upload as it is; once it is over it sets *upload to NULL and returns what
 * log_artifact would have (its CAIRN_TIMEOUT when the sender had not reached
 * the upload 60 s after it was queued). out->path points into the arguments
 * given to queue_artifact, which must stay valid until then.
 * cairn_tracker_abandon_artifact gives up on an upload not over yet: one the
 * sender has not begun is never made; one it has begun is finished, unwatched.
 * Either way the tracker frees it. Every upload queued must be awaited to its
 * end or abandoned before cairn_tracker_close. */
typedef struct cairn_tracker_upload cairn_tracker_upload;
cairn_status cairn_tracker_queue_artifact(cairn_tracker *t, const char *run_id,
                                          const char *local_file, const char *artifact_path,
                                          cairn_tracker_upload **upload, cairn_error *err);
cairn_status cairn_tracker_await_artifact(cairn_tracker *t, cairn_tracker_upload **upload,
                                          int timeout_ms, cairn_artifact *out, cairn_error *err);
void cairn_tracker_abandon_artifact(cairn_tracker *t, cairn_tracker_upload *upload);

/* Queues the end of the run and flushes (up to timeout_ms). status: FINISHED,
 * FAILED or KILLED. */
cairn_status cairn_tracker_end_run(cairn_tracker *t, const char *run_id, const char *status,
                                   int timeout_ms, cairn_error *err);

/* Returns once everything queued before the call is durable, or after
 * timeout_ms with CAIRN_TIMEOUT; also returns (and clears) a refusal met since
 * the last report. */
cairn_status cairn_tracker_flush(cairn_tracker *t, int timeout_ms, cairn_error *err);

/* cairn_tracker_flush in two steps, for a caller that waits in short slices
 * (Python, so that Ctrl-C is seen between them): cairn_tracker_mark names
 * everything queued so far (0 for a NULL tracker), and each
 * cairn_tracker_wait waits up to timeout_ms for what the mark names, however
 * much was queued since, and answers as cairn_tracker_flush does. */
uint64_t cairn_tracker_mark(cairn_tracker *t);
cairn_status cairn_tracker_wait(cairn_tracker *t, uint64_t mark, int timeout_ms,
                                cairn_error *err);

/* ---- datasets ----
 *
 * A dataset is a name and versions of content: the same content (by hash) is
 * the same version, new content the next version (1, 2, ...). Runs are linked
 * to the versions they used, with a context ("training", "validation",
 * "test", ...). docs/sdk.md defines the hash of a directory precisely. */

typedef struct cairn_dataset_digest {
    char hash[65];  /* sha256 of a file; of a directory, the Merkle hash (docs/sdk.md) */
    uint64_t size;  /* bytes hashed */
    uint64_t files; /* regular files hashed (1 for a file) */
} cairn_dataset_digest;

/* Hashes a file or a directory, streaming (a file larger than memory works),
 * in the caller's thread: it takes as long as reading the data. With progress
 * non-zero, a progress line is kept updated on stderr while the input is over
 * 64 MiB and stderr is a terminal; never otherwise. A symlink inside a
 * directory to a regular file is hashed as that file; a dangling one, one to a
 * directory, a special file (FIFO, socket, device), an unreadable file or
 * directory, a name holding a newline, a directory without files: an error
 * naming the path (CAIRN_IO_ERROR or CAIRN_INVALID_PARAMETER_VALUE), never a
 * silent skip. */
cairn_status cairn_dataset_hash(const char *path, int progress, cairn_dataset_digest *out,
                                cairn_error *err);

typedef struct cairn_dataset_log_opts {
    const char *name;                    /* required: the dataset */
    const cairn_dataset_digest *digest;  /* required: its content */
    const char *source;                  /* optional: where it was read (a path) */
    const char *run_id;                  /* optional: link this run to the version */
    const char *context;                 /* optional, with run_id: "training", "test", ... */
} cairn_dataset_log_opts;

typedef struct cairn_dataset_logged {
    uint64_t version; /* 0 when spooled by an agent: numbered on arrival */
    int created;      /* this content made a new version */
    int spooled;      /* the receiver is an agent, which spooled the request */
} cairn_dataset_logged;

/* dataset.log: records the version (and the run's link) durably. out may be NULL. */
cairn_status cairn_dataset_log(cairn_client *client, const cairn_dataset_log_opts *opts,
                               cairn_dataset_logged *out, cairn_error *err);

typedef struct cairn_dataset_use {
    char run[CAIRN_ID_TEXT_LEN + 1];
    char *context;  /* "" when none was given */
    int64_t linked; /* unix ms: when the run was first linked */
} cairn_dataset_use;

/* A model version registered from a run that used a dataset version. */
typedef struct cairn_dataset_model_use {
    char *model;
    uint64_t version;
    char run[CAIRN_ID_TEXT_LEN + 1];
} cairn_dataset_model_use;

typedef struct cairn_dataset_version {
    uint64_t version;
    char hash[65];
    uint64_t size;
    uint64_t files;
    char *source;   /* "" when none */
    int64_t created;
    cairn_dataset_use *runs; /* in run id order (oldest run first) */
    size_t n_runs;
    cairn_dataset_model_use *models; /* dataset_get: the model versions made from those runs */
    size_t n_models;
} cairn_dataset_version;

typedef struct cairn_dataset {
    char *name;
    int64_t created;
    int64_t updated;   /* when the newest version was made */
    uint64_t n_total;  /* versions the dataset has */
    cairn_dataset_version *versions; /* dataset_get: all, oldest first; dataset_list: the newest */
    size_t n_versions;
} cairn_dataset;

typedef struct cairn_dataset_list {
    cairn_dataset *items; /* ordered by name */
    size_t count;
} cairn_dataset_list;

cairn_status cairn_dataset_list_all(cairn_client *client, cairn_dataset_list **out,
                                    cairn_error *err);
void cairn_dataset_list_free(cairn_dataset_list *list);
/* One dataset, every version with the runs that used it; RESOURCE_DOES_NOT_EXIST
 * for an unknown name. */
cairn_status cairn_dataset_get(cairn_client *client, const char *name, cairn_dataset **out,
                               cairn_error *err);
void cairn_dataset_free(cairn_dataset *dataset);

/* Hashes path (cairn_dataset_hash, with progress) in the calling thread, then
 * queues a dataset.log of the result behind everything queued before, through
 * the tracker's durable path (the agent's spool, or the coordinator), like a
 * run's other writes: a refusal (an unknown run) is reported by the next
 * flush. run_id may be NULL (the dataset version alone); context may be NULL.
 * out (may be NULL) gets the hash, size and file count. */
cairn_status cairn_tracker_log_dataset(cairn_tracker *t, const char *run_id, const char *path,
                                       const char *name, const char *context,
                                       cairn_dataset_digest *out, cairn_error *err);

/* The --json shapes of `cairn datasets list` and `cairn datasets show`
 * (docs/cli.md); malloc'd, as the other *_to_json below. */
char *cairn_dataset_list_to_json(const cairn_dataset_list *list);
char *cairn_dataset_to_json(const cairn_dataset *dataset);

/* ---- JSON (the CLI's --json shapes, documented in docs/cli.md) ---- */

/* Frees memory libcairn returned (JSON texts), for callers such as Python's
 * ctypes that cannot reach the same free(). */
void cairn_free(void *p);

/* Each returns a malloc'd NUL-terminated JSON text (free with free() or cairn_free()), or NULL
 * when out of memory. NaN and infinities are written as "NaN", "Infinity",
 * "-Infinity". */
char *cairn_run_to_json(const cairn_run *run);
char *cairn_run_list_to_json(const cairn_run_list *list);
char *cairn_history_to_json(const cairn_history *history);
char *cairn_experiment_list_to_json(const cairn_experiment_list *list);
char *cairn_audit_entry_list_to_json(const cairn_audit_entry_list *list);
char *cairn_agent_list_to_json(const cairn_agent_list *list);
char *cairn_fanout_list_to_json(const cairn_fanout_list *list);

#ifdef __cplusplus
}
#endif
#endif
