/*
 * The coordinator's store: one LMDB environment, one named database per entity.
 *
 * Keys are big-endian and composed so that the queries are ordered cursor walks:
 * a run's params, tags, metrics and artifacts share the run id as prefix, and
 * a metric's history is one walk over its chunks. Writes happen only inside a
 * write transaction that the server opens per group of requests; this layer
 * never commits on its own (except at open and in maintenance passes).
 */
#ifndef CAIRN_STORE_H
#define CAIRN_STORE_H

#include <lmdb.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cairn/status.h"
#include "msg.h"
#include "artifact_path.h"
#include "ulid.h"
#include "validate.h"

#define STORE_SCHEMA_VERSION 1

/* Limits, as MLflow's (the others in validate.h). */
#define LIMIT_ARTIFACT_PATH ARTIFACT_PATH_MAX

/* One metric point as stored: 24 bytes. */
typedef struct store_point {
    double value;
    int64_t step;
    int64_t timestamp;
} store_point;

/* A full chunk is exactly one LMDB overflow page (4096 - 16 header bytes), so
 * history costs 24 bytes a point plus a small leaf node per 170 points,
 * whatever order runs and keys are written in. */
#define POINTS_PER_CHUNK 170

typedef struct store_latest {
    double value;
    int64_t step;
    int64_t timestamp;
    uint64_t count; /* points in the whole history */
} store_latest;

typedef enum run_status {
    RUN_RUNNING = 0,
    RUN_FINISHED,
    RUN_FAILED,
    RUN_KILLED,
} run_status;

typedef struct store_run {
    ulid id;
    uint64_t experiment_id;
    int64_t start_time;
    int64_t end_time; /* 0 while running */
    uint8_t status;
    msg_str name;     /* points into the LMDB page: valid until the txn ends */
} store_run;

typedef struct store_experiment {
    uint64_t id;
    int64_t created;
    bool deleted;
    msg_str name;
} store_experiment;

typedef struct store {
    MDB_env *env;
    MDB_dbi meta;
    MDB_dbi experiments;     /* u64 id -> experiment record */
    MDB_dbi experiment_names;/* name -> u64 id */
    MDB_dbi experiment_tags; /* u64 id + key -> value */
    MDB_dbi runs;            /* run id -> run record */
    MDB_dbi experiment_runs; /* u64 experiment id + run id -> (empty) */
    MDB_dbi params;          /* run id + key -> value */
    MDB_dbi tags;            /* run id + key -> value */
    MDB_dbi metrics;         /* run id + key -> store_latest, then the points after the
                              * last full chunk (one record: one tree per append) */
    MDB_dbi metric_chunks;   /* run id + key + NUL + u32 chunk -> POINTS_PER_CHUNK points */
    MDB_dbi artifacts;       /* run id + path -> u64 size + sha256 (32 bytes) */
    MDB_dbi audit;           /* u64 seq -> msgpack [ts_ms, id, type, from, summary] */
    MDB_dbi dedup;           /* message id -> u64 audit seq */
    /* The model registry (store_models.h). */
    MDB_dbi models;          /* u64 model id -> model record */
    MDB_dbi model_names;     /* name -> u64 model id */
    MDB_dbi model_versions;  /* u64 model id + u32 version -> version record */
    MDB_dbi model_aliases;   /* u64 model id + alias -> u32 version */
    MDB_dbi model_stages;    /* u64 model id + u8 stage + u32 version -> (empty) */
    MDB_dbi model_history;   /* u64 model id + u64 event seq -> event record */
    MDB_dbi model_version_events; /* u64 model id + u32 version + u64 event seq -> (empty) */
    MDB_dbi run_models;      /* run id + u64 model id + u32 version -> (empty) */
    MDB_dbi agents;          /* agent id -> msgpack map (agents.c: presence, soft state) */
    MDB_dbi commands;        /* fan-out request id -> msgpack record (fanout.c) */
    MDB_dbi events;          /* u64 event seq -> event record (store_events.c) */
    /* Datasets (store_datasets.c; names hold no NUL, so NUL ends one inside a key). */
    MDB_dbi datasets;         /* name -> dataset record */
    MDB_dbi dataset_versions; /* name + NUL + u64 version -> version record */
    MDB_dbi dataset_hashes;   /* name + NUL + sha256 (32 bytes) -> u64 version */
    MDB_dbi run_datasets;     /* run id + name + NUL + u64 version + context -> i64 linked */
    MDB_dbi dataset_runs;     /* name + NUL + u64 version + run id + context -> i64 linked */
    uint64_t next_audit_seq;
    uint64_t next_experiment_id;
    struct dedup_recent *recent; /* ids not yet in the dedup tree (store_dedup.c) */
    ulid prune_from;             /* where the next dedup pruning pass starts (if set) */
    bool prune_from_set;
    size_t prune_scan_max;       /* ids one pruning pass looks at */
    uint64_t writes;             /* puts and deletes that changed something (below) */
} store;

/*
 * Every put and delete of the store goes through these, so that store.writes
 * counts those that changed something: a request its handler refuses must
 * have changed nothing, and dispatch.c checks that it has not.
 */
static inline int store_put(store *s, MDB_txn *txn, MDB_dbi dbi, MDB_val *k, MDB_val *v,
                            unsigned flags)
{
    int rc = mdb_put(txn, dbi, k, v, flags);
    s->writes += rc == 0;
    return rc;
}

static inline int store_del(store *s, MDB_txn *txn, MDB_dbi dbi, MDB_val *k)
{
    int rc = mdb_del(txn, dbi, k, NULL);
    s->writes += rc == 0;
    return rc;
}

static inline int store_cursor_put(store *s, MDB_cursor *c, MDB_val *k, MDB_val *v, unsigned flags)
{
    int rc = mdb_cursor_put(c, k, v, flags);
    s->writes += rc == 0;
    return rc;
}

static inline int store_cursor_del(store *s, MDB_cursor *c)
{
    int rc = mdb_cursor_del(c, 0);
    s->writes += rc == 0;
    return rc;
}

/* Opens (creating when needed) the environment in dir with the given map size. */
cairn_status store_open(store *s, const char *dir, size_t map_size, cairn_error *err);
void store_close(store *s);

/* An LMDB failure as a cairn status: MDB_MAP_FULL and I/O errors are STORAGE_ERROR. */
cairn_status store_fail(int rc, const char *what, cairn_error *err);

/* ---- big-endian key parts ---- */
void be64_put(uint8_t *p, uint64_t v);
uint64_t be64_get(const uint8_t *p);
void be32_put(uint8_t *p, uint32_t v);
uint32_t be32_get(const uint8_t *p);

/* A key buffer: run id or u64 prefix, then a string, then optional suffix. */
typedef struct store_key {
    uint8_t b[16 + LIMIT_ARTIFACT_PATH + 8];
    size_t n;
} store_key;

void key_run(store_key *k, const ulid *run);
void key_run_str(store_key *k, const ulid *run, const char *s, size_t n);
void key_u64(store_key *k, uint64_t v);
void key_u64_str(store_key *k, uint64_t v, const char *s, size_t n);
static inline MDB_val key_val(const store_key *k)
{
    MDB_val v = {k->n, (void *)k->b};
    return v;
}

/* ---- experiments (store_experiments.c) ---- */
/* Finds the experiment named name, creating it when create is true. */
cairn_status store_experiment_by_name(store *s, MDB_txn *txn, msg_str name, bool create,
                                      int64_t now_ms, store_experiment *out, cairn_error *err);
cairn_status store_experiment_get(store *s, MDB_txn *txn, uint64_t id, store_experiment *out,
                                  cairn_error *err);
cairn_status store_experiment_set_deleted(store *s, MDB_txn *txn, uint64_t id, bool deleted,
                                          cairn_error *err);
cairn_status store_experiment_set_tag(store *s, MDB_txn *txn, uint64_t id, msg_str key,
                                      msg_str value, cairn_error *err);
/* Packs the experiment as the protocol's experiment map. */
cairn_status store_pack_experiment(store *s, MDB_txn *txn, const store_experiment *e,
                                   msgpack_packer *pk, cairn_error *err);

/* ---- runs (store_runs.c) ---- */
cairn_status store_run_get(store *s, MDB_txn *txn, const ulid *id, store_run *out,
                           cairn_error *err);
/* As store_run_get, through a walker on s->runs: for runs read in id order. */
struct store_walker;
cairn_status store_run_read(struct store_walker *w, const ulid *id, store_run *out,
                            cairn_error *err);
cairn_status store_run_create(store *s, MDB_txn *txn, const store_run *run, cairn_error *err);
cairn_status store_run_set_end(store *s, MDB_txn *txn, const ulid *id, run_status status,
                               int64_t end_time, cairn_error *err);
const char *run_status_name(run_status status);
bool run_status_parse(msg_str name, run_status *out);
/* Packs the protocol's RUN map (params, latest metrics, tags, artifacts). */
cairn_status store_pack_run(store *s, MDB_txn *txn, const store_run *run, msgpack_packer *pk,
                            cairn_error *err);
/* Packs n runs of the experiment named experiment as n RUN maps, in the order
 * of runs (the caller packs the array header). One name for all: no experiment
 * lookup a run. pk must write into a msgpack_sbuffer. */
cairn_status store_pack_runs(store *s, MDB_txn *txn, const store_run *const *runs, size_t n,
                             msg_str experiment, msgpack_packer *pk, cairn_error *err);

/* ---- params and tags (store_kv.c) ---- */
/* Gets a run's param or tag; RESOURCE_DOES_NOT_EXIST when absent. */
cairn_status store_kv_get(store *s, MDB_txn *txn, MDB_dbi dbi, const ulid *run, msg_str key,
                          msg_str *value, cairn_error *err);
cairn_status store_kv_put(store *s, MDB_txn *txn, MDB_dbi dbi, const ulid *run, msg_str key,
                          msg_str value, cairn_error *err);
cairn_status store_kv_delete(store *s, MDB_txn *txn, MDB_dbi dbi, const ulid *run, msg_str key,
                             cairn_error *err);
/* Walks the records whose key starts with prefix, in key order, calling visit
 * with the key less the prefix. */
typedef void (*store_visit)(void *ctx, const MDB_val *key, const MDB_val *value);
cairn_status store_walk_prefix(MDB_txn *txn, MDB_dbi dbi, const uint8_t *prefix,
                               size_t prefix_len, store_visit visit, void *ctx, cairn_error *err);

/* Packs every key/value of the run in dbi as a msgpack map. */
cairn_status store_kv_pack_all(store *s, MDB_txn *txn, MDB_dbi dbi, const uint8_t *prefix,
                               size_t prefix_len, msgpack_packer *pk, cairn_error *err);

/* A cursor that walks the records of several runs: each walk starts where the
 * last one stopped when the run comes after it, instead of descending the tree
 * again, and a run with no records there costs no lookup at all. Any order of
 * runs is correct; ascending ids are what make it cheap. The txn must not
 * write while it is open. */
typedef struct store_walker {
    MDB_cursor *c;
    MDB_val k, v; /* where the cursor stands (rc == 0) */
    int rc;       /* of the last move; -1 before the first walk */
    ulid last;    /* the run walked last */
} store_walker;

cairn_status store_walker_open(store_walker *w, MDB_txn *txn, MDB_dbi dbi, cairn_error *err);
void store_walker_close(store_walker *w);
/* As store_walk_prefix with the run id as prefix. */
cairn_status store_walker_walk(store_walker *w, const ulid *run, store_visit visit, void *ctx,
                               cairn_error *err);
/* As store_kv_pack_all, for the run's params or tags. */
cairn_status store_kv_pack_run(store_walker *w, const ulid *run, msgpack_packer *pk,
                               cairn_error *err);

/* mp_strn, in one write for a short string. */
void store_pack_str(msgpack_packer *pk, const void *p, size_t n);

/* A map or array packed during one walk, its size known only at the end: begin
 * writes a placeholder header and returns where; end writes the real size there
 * in the smallest header (as msgpack_pack_map/array would), so the bytes are
 * those of a count-then-pack double walk. pk must write into a msgpack_sbuffer. */
size_t store_counted_begin(msgpack_packer *pk);
void store_counted_end(msgpack_packer *pk, size_t at, bool as_map, uint32_t n);

/* ---- metrics (store_metrics.c) ---- */
/* Appends points of one key, in order, and updates its latest value. */
cairn_status store_metric_append(store *s, MDB_txn *txn, const ulid *run, msg_str key,
                                 const store_point *points, size_t n, cairn_error *err);
cairn_status store_metric_latest(store *s, MDB_txn *txn, const ulid *run, msg_str key,
                                 store_latest *out, cairn_error *err);
/* Copies up to max points from offset into out (caller's array); *got receives how
 * many and *total the history length. */
cairn_status store_metric_history(store *s, MDB_txn *txn, const ulid *run, msg_str key,
                                  uint64_t offset, size_t max, store_point *out, size_t *got,
                                  uint64_t *total, cairn_error *err);

/* ---- artifacts (store_artifacts.c) ---- */
typedef struct store_artifact {
    uint64_t size;
    uint8_t sha256[32];
} store_artifact;

cairn_status store_artifact_put(store *s, MDB_txn *txn, const ulid *run, msg_str path,
                                const store_artifact *a, cairn_error *err);
cairn_status store_artifact_get(store *s, MDB_txn *txn, const ulid *run, msg_str path,
                                store_artifact *out, cairn_error *err);
void sha256_hex(const uint8_t sha[32], char hex[65]);
/* The 64 lowercase hex digits sha256_hex writes, back; false for anything else. */
bool sha256_parse(msg_str hex, uint8_t sha[32]);

/* ---- audit log (store_audit.c) ---- */
typedef struct audit_entry {
    int64_t ts_ms;
    const ulid *id;
    msg_str type;
    msg_str from;
    const char *summary;
} audit_entry;

/* Appends an entry; *seq receives its sequence. */
cairn_status store_audit_append(store *s, MDB_txn *txn, const audit_entry *e, uint64_t *seq,
                                cairn_error *err);
/* The summary of entry seq, NUL-terminated in out. */
cairn_status store_audit_summary(store *s, MDB_txn *txn, uint64_t seq, char *out, size_t cap,
                                 cairn_error *err);
/* Where field (" size=") last starts in summary before `before` (NULL: its
 * end), or NULL. Summaries put names and paths first and the fields read
 * back after them, so the last one is the field, whatever a name holds. */
const char *store_audit_field(const char *summary, const char *field, const char *before);
/* Packs up to max entries from since as the protocol's events array; *next gets the
 * sequence after the last packed one, or 0 when the log ends there. */
cairn_status store_audit_pack(store *s, MDB_txn *txn, uint64_t since, size_t max,
                              msgpack_packer *pk, uint64_t *next, cairn_error *err);
/* ---- dedup (store_dedup.c) ----
 *
 * The ids of applied messages. Writing each id into the dedup tree in its own
 * request's commit cost two more scattered pages per single-point write, so
 * ids first collect in memory and go to the tree in bulk about once a second,
 * inside a regular group commit. Each write's audit entry, committed with it,
 * carries its id: at start, the ids the tree does not hold yet are read back
 * from the tail of the audit log. */

/* Loads the ids applied after the last bulk write (called by store_open). */
cairn_status store_dedup_open(store *s, MDB_txn *txn, cairn_error *err);
void store_dedup_close(store *s);

/* Was this message id applied? *seq gets its audit sequence. */
bool store_dedup_find(store *s, MDB_txn *txn, const ulid *id, uint64_t *seq);
cairn_status store_dedup_record(store *s, MDB_txn *txn, const ulid *id, uint64_t seq,
                                cairn_error *err);

/* Bulk writes: due after a second or when enough ids wait. A group's write
 * transaction calls store_dedup_flush first when due; after the commit,
 * store_dedup_committed drops what it wrote; after an abort,
 * store_dedup_aborted(mark) forgets ids recorded since store_dedup_mark(). */
bool store_dedup_flush_due(const store *s, int64_t now_ms);
cairn_status store_dedup_flush(store *s, MDB_txn *txn, int64_t now_ms, cairn_error *err);
void store_dedup_committed(store *s);
size_t store_dedup_mark(const store *s);
void store_dedup_aborted(store *s, size_t mark);

/* Deletes the dedup records of requests applied before cutoff_ms (both the
 * time in the id and the audit entry's are older), at most limit of them,
 * looking at most s->prune_scan_max ids; returns how many. *more says the
 * pass stopped before the end of the candidates: the next one goes on from
 * there. */
size_t store_dedup_prune(store *s, MDB_txn *txn, uint64_t cutoff_ms, size_t limit, bool *more);

/* ---- agents and fan-out commands (store_agents.c) ----
 *
 * Records are msgpack, encoded by their owners (agents.c, fanout.c): this
 * layer only keys and stores them. Agent ids and fan-out ids are ULIDs, so a
 * new record appends. */

cairn_status store_agent_put(store *s, MDB_txn *txn, const ulid *id, const void *rec, size_t len,
                             cairn_error *err);
/* Calls visit for every agent record, in id order. */
typedef void (*store_record_visit)(void *ctx, const ulid *id, const void *rec, size_t len);
cairn_status store_agents_walk(store *s, MDB_txn *txn, store_record_visit visit, void *ctx,
                               cairn_error *err);

cairn_status store_command_put(store *s, MDB_txn *txn, const ulid *id, const void *rec,
                               size_t len, cairn_error *err);
/* RESOURCE_DOES_NOT_EXIST when no fan-out with this id was recorded; *rec
 * points into the LMDB page, valid until the transaction ends. */
cairn_status store_command_get(store *s, MDB_txn *txn, const ulid *id, MDB_val *rec,
                               cairn_error *err);

/* ---- events (store_events.c) ----
 *
 * What agents' plugins and clients report (event.emit), numbered by a
 * sequence of their own: the audit log has one entry per message, this tree
 * one record per event. */

#define STORE_EVENT_MAX_AGENT ULID_TEXT_LEN
#define STORE_EVENT_MAX_TYPE 64
#define STORE_EVENT_MAX_SOURCE 256

typedef struct store_event {
    msg_str agent;   /* the agent's id text, or empty */
    msg_str type;
    msg_str source;
    int64_t time;    /* unix ms, as reported */
    msg_str fields;  /* one packed msgpack map */
} store_event;

/* Appends n events with consecutive sequences; *first gets the first. */
cairn_status store_events_append(store *s, MDB_txn *txn, const store_event *events, size_t n,
                                 uint64_t *first, cairn_error *err);

typedef struct store_event_filter {
    msg_str type;      /* empty: any; ending in '.': a prefix; else exact */
    msg_str source;    /* empty: any */
    msg_str agent;     /* empty: any */
    uint64_t since;    /* the first sequence to look at (0 or 1: the first) */
    uint32_t max;      /* events to pack at most */
    size_t max_scan;   /* records to look at at most: a bound on the work */
    size_t max_bytes;  /* the page ends once its events take this much */
} store_event_filter;

/* Packs the matching events from f->since as the protocol's events array, in
 * sequence order. The page ends at the end of the tree or at the first bound
 * of f reached: *next then gets the sequence to go on from, else 0. */
cairn_status store_events_pack(store *s, MDB_txn *txn, const store_event_filter *f,
                               msgpack_packer *pk, uint64_t *next, cairn_error *err);

#endif
