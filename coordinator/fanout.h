/*
 * Fan-out: one request from the CLI, a `command` to every matching agent,
 * one reply with every agent's result.
 *
 * The `fanout` request is answered later, so the table keeps each one in
 * progress: the requester's routing frames and message id, the deadline, and
 * per agent a command id and its result. Commands go out through the
 * coordinator's ROUTER to routing id "agent:<id>"; agents' replies come back
 * on it and are matched by `re`. When every agent has answered or the
 * deadline passes, the server records the fan-out (fanout_record_done: the
 * `commands` record, an audit entry), commits, and only then sends the reply
 * (fanout_reply_done): the rule that nothing is acknowledged before it is
 * durable holds for the record of what was done.
 *
 * A command id is the fan-out's own base ULID with the agent's position in its
 * last four bytes: unique per agent, and a reply finds its fan-out and agent
 * without an index.
 */
#ifndef CAIRN_FANOUT_H
#define CAIRN_FANOUT_H

#include <stdbool.h>
#include <stdint.h>
#include <zmq.h>

#include "agents.h"
#include "msg.h"
#include "selector.h"
#include "store.h"

#define FANOUT_MAX_PENDING 64
#define FANOUT_MAX_ROUTING 8
#define FANOUT_DEFAULT_TIMEOUT_MS 5000
#define FANOUT_MAX_TIMEOUT_MS 600000
/* An agent's reply body travels in the results (and their record): a fan-out
 * to a thousand agents must not make a reply the size of a thousand models. */
#define FANOUT_MAX_REPLY_BYTES 65536

struct fanout;

typedef struct fanout_stats {
    uint64_t started;
    uint64_t commands;      /* sent to agents */
    uint64_t late_replies;  /* answers after the deadline, or to nothing we sent */
} fanout_stats;

typedef struct fanout_table {
    struct fanout *head;
    uint32_t n;
    void *router;
    agent_table *agents;
    msg_writer w; /* commands and replies, reused */
    fanout_stats stats;
} fanout_table;

/* What the `fanout` handler read and checked. */
typedef struct fanout_request {
    const ulid *id;               /* the request's id: the fan-out's id */
    msg_str from;
    zmq_msg_t *routing;           /* the requester's routing frames (copied) */
    int n_routing;
    const selector *sel;
    msg_str selector_text;
    msg_str command;
    const msgpack_object *args;   /* a map, or NULL */
    int64_t timeout_ms;
} fanout_request;

void fanout_init(fanout_table *ft, void *router, agent_table *agents);
/* Drops every fan-out in progress without replying (shutdown). */
void fanout_destroy(fanout_table *ft);

/* Starts a fan-out: sends the command to every matching agent that is up.
 * Agents that match but are down get result "timeout" ("agent is down") at
 * once; a send the ROUTER refuses, result "error" ("not connected"). */
cairn_status fanout_start(fanout_table *ft, const fanout_request *q, int64_t wall_ms,
                          int64_t mono_ms, cairn_error *err);

/* Is a fan-out with this id in progress (a resend of its request)? */
bool fanout_in_progress(const fanout_table *ft, const ulid *id);

/* A reply from agent a (NULL: an agent routing id the coordinator does not
 * know). Returns false, counting it in late_replies, when it answers no
 * command in progress (late, not sent to a, or from no known agent). */
bool fanout_on_reply(fanout_table *ft, const agent *a, const msg *m);

/* Times out the agents of fan-outs whose deadline passed. */
void fanout_expire(fanout_table *ft, int64_t mono_ms);
/* Milliseconds until the next deadline, or -1 when none is pending. */
long fanout_wake_in(const fanout_table *ft, int64_t mono_ms);

/* Are there finished fan-outs to record and answer? */
bool fanout_any_done(const fanout_table *ft);
/* Writes each finished fan-out's record, audit entry and dedup record into txn. */
cairn_status fanout_record_done(fanout_table *ft, store *s, MDB_txn *txn, int64_t wall_ms,
                                cairn_error *err);
/* Sends each finished fan-out its reply (the results when committed is true,
 * else a STORAGE_ERROR with why) and forgets it. */
void fanout_reply_done(fanout_table *ft, bool committed, const char *why);

/* Packs the `results` of a stored record (a resend of a finished fan-out).
 * False when the record is damaged. */
bool fanout_pack_stored(const MDB_val *rec, msgpack_packer *pk);

#endif
