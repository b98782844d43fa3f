/*
 * cairn-agent's process: the parts and the one event loop that drives them.
 *
 * zmq_poll blocks on the SDK ROUTER, the forwarder's DEALER and its monitor,
 * the relay's DEALER and a signalfd, with a timeout that is the nearest timer
 * (heartbeat, backoff, reply and relay deadlines, stats): idle means idle.
 */
#ifndef CAIRN_AGENT_AGENT_H
#define CAIRN_AGENT_AGENT_H

#include "agent_plugins.h"
#include "config.h"
#include "forwarder.h"
#include "presence.h"
#include "relay.h"
#include "sdk_server.h"
#include "spool.h"
#include "uploads.h"

typedef struct agent_process {
    agent_config cfg;
    ulid id;
    char id_text[ULID_TEXT_LEN + 1];
    char routing_id[6 + ULID_TEXT_LEN + 1]; /* "agent:" + id */
    int lock_fd;
    int signal_fd;
    void *zmq;
    spool spool;
    uploads uploads;
    sdk_server sdk;
    relay relay;
    presence presence;
    forwarder fwd;
    agent_plugins plugins;
    int64_t next_stats_ms;
} agent_process;

cairn_status agent_open(agent_process *a, const agent_config *cfg, cairn_error *err);
/* Serves until SIGTERM or SIGINT, then tries for up to shutdown_flush_ms to
 * forward what is spooled. */
cairn_status agent_run(agent_process *a, cairn_error *err);
void agent_close(agent_process *a);

#endif
