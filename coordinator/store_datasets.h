/*
 * Datasets: a name, versions of content (the same content by sha256 is the
 * same version, new content the next version), and the runs that used each
 * version with a context ("training", "test", ...). Links are kept both ways
 * so that a run's datasets (lineage) and a version's runs (`datasets show`)
 * are each one ordered walk.
 *
 * Strings returned point into LMDB pages: valid until the transaction ends
 * or writes again.
 */
#ifndef CAIRN_STORE_DATASETS_H
#define CAIRN_STORE_DATASETS_H

#include "store.h"

#define DATASET_MAX_CONTEXT LIMIT_DATASET_CONTEXT
#define DATASET_MAX_SOURCE 1000 /* bytes; kept in the version record, not a key */

typedef struct store_dataset {
    msg_str name;
    int64_t created; /* unix ms: the first version */
    int64_t updated; /* unix ms: the newest version */
    uint64_t versions; /* how many; the newest is this number */
} store_dataset;

typedef struct store_dataset_version {
    uint64_t version;
    uint8_t sha256[32];
    uint64_t size;
    uint64_t files;
    int64_t created; /* unix ms */
    ulid message; /* the dataset.log request that made it */
    msg_str source; /* may be empty */
} store_dataset_version;

/* One run's use of one dataset version. */
typedef struct store_dataset_use {
    ulid run;
    msg_str name;
    store_dataset_version version; /* the version's record */
    msg_str context; /* may be empty */
    int64_t linked; /* unix ms: when first linked */
} store_dataset_use;

typedef void (*store_dataset_use_visit)(void *ctx, const store_dataset_use *use);

/* RESOURCE_DOES_NOT_EXIST when there is no dataset of that name. */
cairn_status store_dataset_get(store *s, MDB_txn *txn, msg_str name, store_dataset *out,
                               cairn_error *err);
cairn_status store_dataset_version_get(store *s, MDB_txn *txn, msg_str name, uint64_t version,
                                       store_dataset_version *out, cairn_error *err);
/* The version of name holding this content; RESOURCE_DOES_NOT_EXIST when none. */
cairn_status store_dataset_find_hash(store *s, MDB_txn *txn, msg_str name, const uint8_t sha256[32],
                                     uint64_t *version, cairn_error *err);

/* Adds v as the next version of name, creating the dataset with its first;
 * v->version receives the number. The caller checked that no version holds
 * this content, and the lengths (name <= LIMIT_NAME, source <= DATASET_MAX_SOURCE). */
cairn_status store_dataset_add_version(store *s, MDB_txn *txn, msg_str name,
                                       store_dataset_version *v, cairn_error *err);

/* Links run to version of name with context (<= DATASET_MAX_CONTEXT bytes);
 * linking the same three again changes nothing (*added false). */
cairn_status store_dataset_link(store *s, MDB_txn *txn, const ulid *run, msg_str name,
                                uint64_t version, msg_str context, int64_t now_ms, bool *added,
                                cairn_error *err);

/* The lineage join: every dataset version the run used, with the version's
 * record and the context, in (name, version, context) order. */
cairn_status store_datasets_of_run(store *s, MDB_txn *txn, const ulid *run,
                                   store_dataset_use_visit visit, void *ctx, cairn_error *err);

/* The runs that used version of name, in run id order (oldest run first). */
cairn_status store_dataset_version_runs(store *s, MDB_txn *txn, msg_str name, uint64_t version,
                                        store_dataset_use_visit visit, void *ctx, cairn_error *err);

/* Every dataset, in name order. */
typedef void (*store_dataset_visit)(void *ctx, const store_dataset *d);
cairn_status store_datasets_walk(store *s, MDB_txn *txn, store_dataset_visit visit, void *ctx,
                                 cairn_error *err);

/* Packs, as an array of {model, version, run}, the model versions registered
 * from the runs that used version of name (store_model_versions_of_run). */
cairn_status store_pack_dataset_model_versions(store *s, MDB_txn *txn, msg_str name,
                                               uint64_t version, msgpack_packer *pk,
                                               cairn_error *err);

#endif
