/*
 * The agent's side of its plugins: the plugin host wired to the rest of the
 * process. Events plugins emit are batched into event.emit messages and
 * spooled like any SDK write (at the end of each turn of the loop, or every
 * 1,000 events); SDK writes are shown to the plugins that subscribed to their
 * type once they are spooled; `plugins` and deployer commands from the
 * coordinator are answered here; blobs are fetched on a socket of their own.
 */
#ifndef CAIRN_AGENT_AGENT_PLUGINS_H
#define CAIRN_AGENT_AGENT_PLUGINS_H

#include <msgpack.h>

#include "config.h"
#include "forwarder.h"
#include "plugin_fetch.h"
#include "plugin_host.h"
#include "presence.h"
#include "sdk_server.h"
#include "spool.h"

#define OUTBOX_MAX_EVENTS 1000
#define OUTBOX_MAX_BYTES (1u << 20)

typedef struct agent_plugins {
    plugin_host host;
    fetcher fetch;
    const agent_config *cfg;
    spool *spool;
    forwarder *fwd;
    const char *from;
    const char *agent_id;
    msgpack_sbuffer outbox; /* packed events waiting for their event.emit */
    msgpack_packer outbox_pk;
    uint32_t outbox_count;
    msg_writer w;
    uint64_t events_spooled, spool_failures;
    bool open;
} agent_plugins;

/* Loads every configured plugin. Fails only when plugins.required is set
 * and a plugin was refused (or on a setup error). */
cairn_status agent_plugins_open(agent_plugins *ap, void *zctx, const agent_config *cfg, spool *sp,
                                forwarder *fwd, const char *from, const char *agent_id,
                                cairn_error *err);
void agent_plugins_close(agent_plugins *ap);

/* Spools what the outbox holds. */
void agent_plugins_flush(agent_plugins *ap);

/* The hooks the presence and the SDK server call. */
presence_hooks agent_plugins_presence_hooks(agent_plugins *ap);
sdk_observer agent_plugins_observer(agent_plugins *ap);

int agent_plugins_poll_items(agent_plugins *ap, zmq_pollitem_t *items, int cap);
void agent_plugins_dispatch(agent_plugins *ap, const zmq_pollitem_t *items, int n);
void agent_plugins_timers(agent_plugins *ap, int64_t now);
int64_t agent_plugins_next_deadline(const agent_plugins *ap);

#endif
