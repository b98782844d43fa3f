/*
 * The model registry's store: registered models, their numbered versions
 * (each the artifact of a run, kept by sha256), stages, aliases, and the
 * append-only history of every stage and alias change.
 *
 * Models have a u64 id (names are looked up once, in model_names), so that
 * the keys of versions, aliases and history events are short and ordered:
 * a model's versions, its aliases and its history are each one cursor walk.
 * Numbers grow and nothing is deleted: a new version and a new event append.
 *
 * Strings returned point into LMDB pages: valid until the transaction ends or
 * writes again (copy what a write must keep).
 */
#ifndef CAIRN_STORE_MODELS_H
#define CAIRN_STORE_MODELS_H

#include "store.h"

#define MODEL_MAX_ALIAS 64
#define MODEL_MAX_DESCRIPTION 8000
#define MODEL_MAX_REASON 1000
#define MODEL_MAX_INPUT_EXAMPLE 65536
#define MODEL_MAX_COLUMNS 1000
#define MODEL_MAX_TYPE 250

typedef enum model_stage {
    STAGE_NONE = 0,
    STAGE_STAGING,
    STAGE_PRODUCTION,
    STAGE_ARCHIVED,
    STAGE_COUNT_
} model_stage;

/* "None", "Staging", "Production", "Archived". */
const char *model_stage_name(unsigned stage);
/* Any letter case; false for another word. */
bool model_stage_parse(msg_str text, model_stage *out);

typedef struct store_model {
    uint64_t id;
    int64_t created;       /* unix ms */
    int64_t updated;       /* unix ms: the last version, stage or alias change */
    uint32_t last_version; /* 0 before the first */
    msg_str name;
    msg_str description;
    msg_str tags; /* a packed msgpack map str -> str */
} store_model;

typedef struct store_model_version {
    uint32_t version;
    ulid run;
    int64_t created;
    int64_t updated; /* creation or the last stage change */
    store_artifact artifact;
    uint8_t stage;   /* model_stage */
    ulid request;    /* the model.register message that made it */
    msg_str path;    /* the artifact's path in the run */
    msg_str creator; /* the register message's `from` */
    msg_str description;
    msg_str tags;          /* packed msgpack map */
    msg_str signature;     /* packed msgpack map {inputs, output}, when has_signature */
    msg_str input_example; /* JSON text, when has_input_example */
    bool has_signature;
    bool has_input_example;
} store_model_version;

typedef enum model_event_kind { EVENT_STAGE = 1, EVENT_ALIAS = 2 } model_event_kind;

/* One stage or alias change. A stage event moves `version` from from_stage to
 * to_stage; an alias event moves `alias` from from_version to to_version (0:
 * none, when it was created or removed). */
typedef struct store_model_event {
    uint64_t seq; /* in the model's history: 1, 2, ... */
    int64_t time;
    ulid request;    /* the message that made it (its audit entry's id) */
    uint8_t kind;    /* model_event_kind */
    bool rollback;   /* made by model.rollback */
    uint64_t undoes; /* the event whose change this one takes back; 0: none */
    uint32_t version;
    uint8_t from_stage, to_stage;
    uint32_t from_version, to_version;
    msg_str actor; /* the message's `from` */
    msg_str alias;
    msg_str reason;
} store_model_event;

/* ---- models (store_models.c) ---- */

/* RESOURCE_DOES_NOT_EXIST "no model named ..." when absent. */
cairn_status store_model_by_name(store *s, MDB_txn *txn, msg_str name, store_model *out,
                                 cairn_error *err);
cairn_status store_model_get(store *s, MDB_txn *txn, uint64_t id, store_model *out,
                             cairn_error *err);
/* Creates m->name (which must be free) with the next id; m->id receives it. */
cairn_status store_model_create(store *s, MDB_txn *txn, store_model *m, cairn_error *err);
/* Rewrites the record of m->id (its strings may point into the old record). */
cairn_status store_model_put(store *s, MDB_txn *txn, const store_model *m, cairn_error *err);
/* Every model, in name order; visit returns false to stop. */
typedef bool (*store_model_visit)(void *ctx, const store_model *m);
cairn_status store_models_walk(store *s, MDB_txn *txn, store_model_visit visit, void *ctx,
                               cairn_error *err);

/* ---- versions (store_models.c) ---- */

/* RESOURCE_DOES_NOT_EXIST "model 'x' has no version N" when absent. */
cairn_status store_model_version_get(store *s, MDB_txn *txn, const store_model *m, uint32_t version,
                                     store_model_version *out, cairn_error *err);
/* Writes a version record, and for a new one its run index entry. */
cairn_status store_model_version_put(store *s, MDB_txn *txn, uint64_t model_id,
                                     const store_model_version *v, bool is_new, cairn_error *err);
/* The versions from `since`, in number order; visit returns false to stop. */
typedef bool (*store_version_visit)(void *ctx, const store_model_version *v);
cairn_status store_model_versions_walk(store *s, MDB_txn *txn, uint64_t model_id, uint32_t since,
                                       store_version_visit visit, void *ctx, cairn_error *err);

/* Every model version made from run, in (model id, version) order: what
 * lineage and `datasets show` join runs with. model_name points into the
 * store (valid as the record strings above). */
typedef void (*store_run_model_visit)(void *ctx, msg_str model_name, uint32_t version);
cairn_status store_model_versions_of_run(store *s, MDB_txn *txn, const ulid *run,
                                         store_run_model_visit visit, void *ctx, cairn_error *err);

/* ---- stages and aliases (store_model_pointers.c) ---- */

/* Moves v (whose record holds its old stage) to stage: the record and the
 * stage index. */
cairn_status store_model_set_stage(store *s, MDB_txn *txn, uint64_t model_id,
                                   const store_model_version *v, model_stage stage, int64_t now_ms,
                                   cairn_error *err);
/* The highest version in stage (not STAGE_NONE); *found false when none. */
cairn_status store_model_stage_holder(store *s, MDB_txn *txn, uint64_t model_id, model_stage stage,
                                      uint32_t *version, bool *found, cairn_error *err);
/* The versions in stage (not STAGE_NONE), highest first, at most max into out. */
cairn_status store_model_stage_versions(store *s, MDB_txn *txn, uint64_t model_id,
                                        model_stage stage, uint32_t *out, size_t max, size_t *n,
                                        cairn_error *err);

/* *version 0 when the alias is not set. */
cairn_status store_model_alias_get(store *s, MDB_txn *txn, uint64_t model_id, msg_str alias,
                                   uint32_t *version, cairn_error *err);
/* version 0 removes the alias. */
cairn_status store_model_alias_put(store *s, MDB_txn *txn, uint64_t model_id, msg_str alias,
                                   uint32_t version, cairn_error *err);
/* Every alias of the model, in name order. */
typedef void (*store_alias_visit)(void *ctx, msg_str alias, uint32_t version);
cairn_status store_model_aliases_walk(store *s, MDB_txn *txn, uint64_t model_id,
                                      store_alias_visit visit, void *ctx, cairn_error *err);

/* ---- history (store_model_history.c) ---- */

/* Appends e to the model's history (e->seq receives its number) and indexes
 * it under every version it is about. */
cairn_status store_model_event_append(store *s, MDB_txn *txn, uint64_t model_id,
                                      store_model_event *e, cairn_error *err);
cairn_status store_model_event_get(store *s, MDB_txn *txn, uint64_t model_id, uint64_t seq,
                                   store_model_event *out, cairn_error *err);
/* The model's events from seq `since` in order; visit returns false to stop. */
typedef bool (*store_event_visit)(void *ctx, const store_model_event *e);
cairn_status store_model_events_walk(store *s, MDB_txn *txn, uint64_t model_id, uint64_t since,
                                     store_event_visit visit, void *ctx, cairn_error *err);
/* The events about one version (a stage change of it, an alias moved to or
 * from it), oldest first, or newest first with newest_first. */
cairn_status store_model_version_events(store *s, MDB_txn *txn, uint64_t model_id, uint32_t version,
                                        bool newest_first, store_event_visit visit, void *ctx,
                                        cairn_error *err);

/* ---- the protocol's maps (store_models_pack.c) ---- */

/* MODEL: name, description, created, updated, latest_version, aliases,
 * stages, tags. */
cairn_status store_pack_model(store *s, MDB_txn *txn, const store_model *m, msgpack_packer *pk,
                              cairn_error *err);

/* The aliases of a model, gathered once to pack many of its versions. */
typedef struct model_aliases {
    struct model_alias_entry {
        msg_str alias;
        uint32_t version;
    } * items;
    size_t n, cap;
    bool failed; /* out of memory */
} model_aliases;

cairn_status model_aliases_load(store *s, MDB_txn *txn, uint64_t model_id, model_aliases *out,
                                cairn_error *err);
void model_aliases_free(model_aliases *a);

/* VERSION: name, version, stage, aliases, run, artifact, description, tags,
 * signature, input_example, creator, created, updated. */
void store_pack_model_version(msgpack_packer *pk, msg_str model_name, const store_model_version *v,
                              const model_aliases *aliases);
/* EVENT: seq, time, actor, request, kind, then version/alias, from, to,
 * rollback, undoes, reason. */
void store_pack_model_event(msgpack_packer *pk, const store_model_event *e);

#endif
