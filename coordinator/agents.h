/*
 * The agents the coordinator knows: presence (up/down, last seen, spool
 * depth) and what each announced in agent.hello (host, labels, version,
 * plugins).
 *
 * Presence is soft state. The table lives in memory, loaded from the store's
 * `agents` database at start, so a heartbeat costs no disk write. A record is
 * written on agent.hello (in the request's own transaction, before the
 * reply), after a status change (up/down) in a transaction of its own, and
 * otherwise at most every AGENTS_PERSIST_EVERY_MS for last_seen and
 * spool_depth. A crash loses at most that much of last_seen, which the next
 * heartbeat restores.
 *
 * Agents are never removed, so an index into the table stays valid; pointers
 * to agents do not (the table grows).
 */
#ifndef CAIRN_AGENTS_H
#define CAIRN_AGENTS_H

#include <stdbool.h>
#include <stdint.h>

#include "msg.h"
#include "selector.h"
#include "store.h"

#define AGENT_ROUTING_PREFIX "agent:"
#define AGENT_ROUTING_LEN (6 + ULID_TEXT_LEN)
#define AGENTS_PERSIST_EVERY_MS 60000
#define AGENTS_DOWN_AFTER 3 /* heartbeat intervals without a message */

/* Limits on what an agent announces. */
#define AGENT_MAX_HOST 255
#define AGENT_MAX_LABELS 64
#define AGENT_MAX_LABEL_VALUE 256
#define AGENT_MAX_VERSION 64
#define AGENT_MAX_PLUGINS 64
#define AGENT_MAX_PLUGIN 128

typedef struct agent {
    ulid id;
    char routing[AGENT_ROUTING_LEN + 1]; /* "agent:" + id text: its ZeroMQ routing id */
    const char *host;
    const char *version;
    selector_label *labels; /* sorted by key */
    uint32_t n_labels;
    const char **plugins;
    uint32_t n_plugins;
    void *strings;          /* one allocation holding all of the above */
    int64_t last_seen_ms;   /* wall clock, as reported */
    int64_t heard_mono_ms;  /* monotonic clock, for the down timer */
    uint64_t spool_depth;
    bool up;
    bool dirty;             /* newer than its stored record */
    bool status_dirty;      /* up/down changed since it was stored */
} agent;

typedef struct agent_table {
    agent *items;
    uint32_t n, cap;
    uint32_t *slots;        /* open addressing by id: index + 1, 0 = empty */
    uint32_t n_slots;       /* a power of two, at least twice n */
    int heartbeat_ms;
    uint32_t n_status_dirty;
    msg_writer w;           /* record encoding, reused */
} agent_table;

/* What agent.hello announces; the strings and objects point into the
 * request and have been checked (handle_agents.c). */
typedef struct agent_hello {
    ulid id;
    msg_str host;
    msg_str version;
    const msgpack_object *labels;  /* map str -> str, or NULL */
    const msgpack_object *plugins; /* array of str, or NULL */
    uint64_t spool_depth;
} agent_hello;

void agents_init(agent_table *t, int heartbeat_ms);
void agents_destroy(agent_table *t);

/* Loads every stored agent. Agents stored as up keep that status and get
 * AGENTS_DOWN_AFTER intervals from now to speak, so a coordinator restart
 * does not flap the whole fleet down and up. */
cairn_status agents_load(agent_table *t, store *s, MDB_txn *txn, int64_t mono_ms,
                         cairn_error *err);

agent *agents_find(agent_table *t, const ulid *id);
/* The agent whose routing id this is, in its canonical spelling ("agent:" +
 * the upper-case id text that commands are addressed to), else NULL. */
agent *agents_by_routing(agent_table *t, const void *routing, size_t len);
/* "agent:" + the id's text, NUL-terminated. */
void agents_routing_of(const ulid *id, char routing[AGENT_ROUTING_LEN + 1]);

/* Creates or updates the agent from its hello and marks it up. *out gets it. */
cairn_status agents_hello(agent_table *t, const agent_hello *h, int64_t wall_ms, int64_t mono_ms,
                          agent **out, cairn_error *err);
/* Any message from the agent: it is up, seen now. */
void agents_seen(agent_table *t, agent *a, int64_t wall_ms, int64_t mono_ms);
/* Marks down every agent silent for AGENTS_DOWN_AFTER intervals. */
void agents_sweep(agent_table *t, int64_t mono_ms);
/* How often agents_sweep should run: a fraction of the interval, so a silent
 * agent is marked down soon after its third missed heartbeat. */
int agents_sweep_every_ms(const agent_table *t);

/* Writes one agent's record. */
cairn_status agents_store(agent_table *t, agent *a, store *s, MDB_txn *txn, cairn_error *err);
/* Writes the agents whose status changed, and with all_dirty every agent
 * newer than its record. Flags are cleared as records are written: after a
 * failed commit call agents_persist_failed. */
cairn_status agents_persist(agent_table *t, store *s, MDB_txn *txn, bool all_dirty,
                            cairn_error *err);
void agents_persist_failed(agent_table *t);

/* Fills order (t->n entries) with the indexes of the agents sorted by host,
 * then id. */
void agents_sorted(const agent_table *t, uint32_t *order);
/* Packs the protocol's agent map (agent.list). */
void agents_pack(const agent *a, msgpack_packer *pk);

#endif
