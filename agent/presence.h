/*
 * The agent's presence at the coordinator: agent.hello on every connection,
 * agent.heartbeat every heartbeat_ms with the spool's depth, and answers to
 * the coordinator's `command` requests. All of it travels on the forwarder's
 * DEALER, whose routing id lets the coordinator address this agent.
 *
 * A coordinator that does not know these messages yet answers UNKNOWN_TYPE:
 * that is logged once and otherwise ignored, since forwarding does not
 * depend on presence.
 */
#ifndef CAIRN_AGENT_PRESENCE_H
#define CAIRN_AGENT_PRESENCE_H

#include <stdbool.h>
#include <stdint.h>

#include "config.h"
#include "msg.h"

/* What a command hook did with a command that is not `ping`. */
typedef enum command_outcome {
    COMMAND_UNKNOWN,  /* not its command: presence answers UNKNOWN_TYPE */
    COMMAND_REPLIED,  /* the reply is packed in the writer given: presence sends it */
    COMMAND_DEFERRED, /* answered later by the hook's owner */
} command_outcome;

typedef struct presence_hooks {
    void *ctx;
    command_outcome (*command)(void *ctx, const msg *m, msg_writer *w);
    /* Packs the array of plugin names for agent.hello. */
    void (*pack_plugins)(void *ctx, msgpack_packer *pk);
} presence_hooks;

typedef struct presence {
    const agent_config *cfg;
    ulid agent_id;
    const char *from;
    char host[256];
    int heartbeat_ms;
    int64_t next_heartbeat; /* 0 while disconnected */
    bool hello_due;         /* connected, hello not queued yet */
    bool unsupported_logged;
    msg_writer w;
    uint64_t commands;
    presence_hooks hooks;
    /* The coordinator's limits.max_message_bytes, from its hello reply; 0
     * until known. Writes larger than this could never be handed over. */
    uint64_t coordinator_max_message;
    /* Until this time, or the hello's answer (ok or error), the spool waits:
     * it must know the limit above before it hands anything over. */
    int64_t hello_wait_until;
} presence;

/* Whether the spool may be handed over now: the hello was answered (or the
 * answer is overdue: an old coordinator, a lost reply). */
bool presence_settled(const presence *p, int64_t now);

/* The most payload bytes one message may carry: cap, or less under a small
 * coordinator limit (4 KiB kept for the envelope, 4 KiB at the least). */
size_t presence_payload_max(const presence *p, size_t cap);

void presence_init(presence *p, const agent_config *cfg, const ulid *agent_id, const char *from);
void presence_destroy(presence *p);

/* On a (re)connection: agent.hello (sent by the next presence_tick), then
 * heartbeats. */
void presence_connected(presence *p, int64_t now);
void presence_disconnected(presence *p);
/* Sends the hello or a heartbeat when one is due. False when the hello found
 * no room on the socket: the caller waits for POLLOUT and calls again. */
bool presence_tick(presence *p, void *dealer, uint64_t depth, int64_t now);
int64_t presence_next_deadline(const presence *p);

/* Whether m answers a hello or heartbeat; then it is handled here. */
bool presence_take_reply(presence *p, const msg *m);
/* Answers a `command` request from the coordinator. */
void presence_command(presence *p, void *dealer, const msg *m);

#endif
