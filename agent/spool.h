/*
 * The spool: what the agent has acknowledged to the SDK and not yet handed
 * to the coordinator, in one LMDB environment (DATA_DIR/spool).
 *
 *   entries   u64 sequence (big-endian, appended) -> kind, extra bytes, payload
 *   rejected  u64 sequence -> msgpack {ts, code, message, kind, entry}
 *   meta      "next_seq", "bytes": the next sequence and the bytes accounted
 *
 * A message entry's payload is the whole envelope as the SDK sent it, so the
 * coordinator sees the original message id and applies a resend once. An
 * artifact entry's payload is a reference to a completed file in
 * DATA_DIR/uploads (see forward_upload.c); its file size counts as extra bytes.
 * Every change commits synchronously: nothing is acknowledged before it is on
 * disk, and a kill -9 at any moment loses nothing acknowledged.
 */
#ifndef CAIRN_AGENT_SPOOL_H
#define CAIRN_AGENT_SPOOL_H

#include <lmdb.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "cairn/status.h"

typedef enum spool_kind {
    SPOOL_MESSAGE = 'M',
    SPOOL_ARTIFACT = 'A',
} spool_kind;

typedef struct spool {
    MDB_env *env;
    MDB_dbi entries, rejected, meta;
    MDB_txn *reader;         /* reused read transaction (reset between uses) */
    uint64_t next_seq;       /* committed state */
    uint64_t bytes;
    uint64_t depth;
    uint64_t rejected_count;
    uint64_t rejected_bytes; /* what the rejected list holds, counted at open */
    size_t map_size;         /* as configured: room lent beyond it is given back */
} spool;

/* A write transaction and the counters it will make true when it commits. */
typedef struct spool_txn {
    MDB_txn *txn;
    uint64_t next_seq, bytes, depth, rejected_count, rejected_bytes;
} spool_txn;

typedef struct spool_entry {
    uint64_t seq;
    spool_kind kind;
    const void *data; /* valid until the read transaction ends */
    size_t len;
} spool_entry;

/* Opens (creating) DIR/spool with a map of map_size bytes. read_only opens it
 * beside a running agent, for listing. */
cairn_status spool_open(spool *s, const char *data_dir, size_t map_size, bool read_only,
                        cairn_error *err);
void spool_close(spool *s);

cairn_status spool_begin(spool *s, spool_txn *t, cairn_error *err);
/* Appends an entry; extra counts bytes kept outside the spool (a file) toward its size. */
cairn_status spool_append(spool *s, spool_txn *t, spool_kind kind, const void *data, size_t len,
                          uint64_t extra, uint64_t *seq, cairn_error *err);
/* The coordinator acknowledged entry seq: delete it. A missing entry is not an error. */
cairn_status spool_remove(spool *s, spool_txn *t, uint64_t seq, cairn_error *err);
/* The coordinator refused entry seq: move it to the rejected list with the reason. */
cairn_status spool_reject(spool *s, spool_txn *t, uint64_t seq, cairn_status code,
                          const char *message, cairn_error *err);
/* What the rejected list keeps at most, the newest first. The bytes bound
 * keeps the list from filling the map: its entries are copies of spooled
 * ones, in the same environment. */
typedef struct spool_keep {
    uint64_t entries;
    uint64_t bytes;
} spool_keep;

/* Deletes the oldest rejected entries until the list is within keep (the
 * newest entry stays even when it alone is over keep.bytes); returns how many
 * went (0 when none, -1 on error, with err set). */
long spool_prune_rejected(spool *s, spool_txn *t, spool_keep keep, cairn_error *err);
/* Commits; on failure nothing of the transaction happened. CAIRN_BACKPRESSURE
 * when the map is full. */
cairn_status spool_commit(spool *s, spool_txn *t, cairn_error *err);
void spool_abort(spool_txn *t);

/* An entry the coordinator refused, and why. */
typedef struct spool_refusal {
    uint64_t seq;
    cairn_status code;
    char message[256];
} spool_refusal;

/* What a forwarding round learned: entries to delete, entries to move to the
 * rejected list (which then keeps within keep_rejected). */
typedef struct spool_outcomes {
    const uint64_t *acked;
    int n_acked;
    const spool_refusal *refused;
    int n_refused;
    spool_keep keep_rejected;
} spool_outcomes;

/* What spool_apply wrote, even when a later step failed. */
typedef struct spool_applied {
    long acked;    /* entries deleted */
    long refused;  /* entries moved to the rejected list */
    long pruned;   /* rejected entries deleted to keep within the limits */
} spool_applied;

/* Writes the outcomes, all in one transaction when they fit. With the map full
 * they go in steps, each with room lent beyond the map, so the spool always
 * drains. On failure (a full disk) nothing of the failed step happened and
 * the entries it was about are still spooled; *done says what the steps
 * before it wrote. */
cairn_status spool_apply(spool *s, const spool_outcomes *o, spool_applied *done, cairn_error *err);

/* Reading, inside one read transaction at a time. */
cairn_status spool_read_begin(spool *s, cairn_error *err);
/* The first entry with sequence >= from; false when there is none. */
bool spool_next(spool *s, uint64_t from, spool_entry *out);
/* Entry seq itself; false when it is gone. */
bool spool_get(spool *s, uint64_t seq, spool_entry *out);
void spool_read_end(spool *s);

/* Calls fn for every artifact entry's payload (at start, to find orphan files). */
void spool_each_artifact(spool *s, void (*fn)(const void *data, size_t len, void *ctx), void *ctx);

/* Writes the rejected list as one key=value line per entry; returns the count. */
long spool_print_rejected(spool *s, FILE *out);

#endif
