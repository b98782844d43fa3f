/*
 * What the server's files share: the group's transaction
 * (server_txn.c) and the presence and fan-out work done around groups
 * (server_fleet.c). server.c holds the loop, receiving and replying.
 */
#ifndef CAIRN_SERVER_INTERNAL_H
#define CAIRN_SERVER_INTERNAL_H

#include "clock.h"
#include "server.h"

/* ---- the group's transaction (server_txn.c) ---- */

typedef struct group_txn {
    MDB_txn *txn;
    bool writable;
    bool flushed_dedup;  /* this transaction carries a bulk write of recent ids */
    bool soft_writes;    /* a soft handler (presence) wrote: commit without an audit entry */
    int64_t now_ms;
    uint64_t saved_audit_seq, saved_experiment_id; /* restored when the txn aborts */
    size_t dedup_mark;
} group_txn;

/* Makes sure g holds a transaction able to write when write is true: a
 * read-only one is replaced. A new write transaction first carries the bulk
 * write of recent message ids when one is due. */
cairn_status txn_for(server *s, group_txn *g, bool write, cairn_error *err);
/* Drops the transaction and the counters it advanced. */
void txn_abort(server *s, group_txn *g);
/* Replaces with a STORAGE_ERROR the replies of the first n requests of the
 * batch that were handled in the write transaction. */
void fail_write_replies(server *s, int n, const char *why);
/* Commits, if the transaction holds anything to make durable. Returns false
 * when the commit failed: then every write reply of the batch's n requests
 * has become a STORAGE_ERROR, and err says why. */
bool commit_group(server *s, group_txn *g, int n, cairn_error *err);

/* ---- agents and fan-outs (server_fleet.c) ---- */

cairn_status fleet_load(server *s, cairn_error *err);
/* Any message from a known agent says it is alive. Returns that agent. */
agent *fleet_note_peer(server *s, pending *p, int64_t now);
/* Does the message come from an "agent:" routing id? */
bool fleet_from_agent(pending *p);
/* A reply from an agent: to the fan-out that sent the command. */
void fleet_take_reply(server *s, agent *a, const msg *m);
/* The down timer and the writes of presence records. */
void fleet_timers(server *s, int64_t mono);
/* Records, commits and answers the fan-outs that ended. */
void fleet_complete_fanouts(server *s);
/* Milliseconds until fleet_timers or a fan-out deadline is due. */
long fleet_wake_in(const server *s, int64_t mono);
/* At shutdown: every agent's latest presence. */
void fleet_save(server *s);

#endif
