/*
 * Reads from the SDK (run.get, run.search, metric.history, ...) relayed to the
 * coordinator on a DEALER of their own, so that a read never waits behind the
 * spool, and the coordinator's reply relayed back to the SDK peer that asked.
 * Requests are matched to replies by message id; one that gets no reply
 * within relay_timeout_ms is answered with TIMEOUT.
 */
#ifndef CAIRN_AGENT_RELAY_H
#define CAIRN_AGENT_RELAY_H

#include <stdbool.h>
#include <stdint.h>
#include <zmq.h>

#include "msg.h"

#define RELAY_MAX_PENDING 256
#define RELAY_MAX_ROUTE 4

typedef struct relay_slot {
    bool used;
    ulid id;
    char type[65];
    zmq_msg_t route[RELAY_MAX_ROUTE]; /* the SDK peer's routing frames */
    int n_route;
    int64_t deadline;
} relay_slot;

typedef struct relay {
    void *dealer;  /* reads: queued while the coordinator restarts, sent on reconnect */
    void *changes; /* registry changes: sent only on a live connection (below) */
    void *router; /* the SDK socket, where replies go back */
    int timeout_ms;
    const char *from;
    relay_slot *slots;
    int used;
    msg_decoder dec;
    msg_writer w;
    uint64_t relayed, timeouts, reply_drops, stray_replies;
} relay;

/* router: the SDK-side socket; from: the agent's name in the replies it makes. */
/* silence_ms: see keepalive.h (agent.conf's coordinator_silence_ms). */
cairn_status relay_open(relay *r, void *zctx, const char *coordinator, void *router,
                        int timeout_ms, int silence_ms, const char *from, cairn_error *err);
void relay_close(relay *r);

/* Sends the request m (whose bytes are payload) to the coordinator. On
 * CAIRN_OK the routing frames were moved into the relay; on an error the
 * caller keeps them and answers with the error. */
cairn_status relay_forward(relay *r, zmq_msg_t *route, int n_route, const msg *m,
                           const void *payload, size_t len, int64_t now, cairn_error *err);

/* Relays every reply that has arrived from the coordinator, on either socket. */
void relay_receive(relay *r);

/* Answers requests past their deadline with TIMEOUT. */
void relay_expire(relay *r, int64_t now);
int64_t relay_next_deadline(const relay *r);

#endif
