#include "agent.h"

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent_id.h"
#include "clock.h"
#include "daemon_data_dir.h"
#include "daemon_signals.h"
#include "error.h"
#include "kvlog.h"

/* ---- setup ---- */

typedef struct orphan_scan {
    char (*names)[ULID_TEXT_LEN + 1];
    size_t n, cap;
} orphan_scan;

static void note_file(const void *data, size_t len, void *ctx)
{
    orphan_scan *o = ctx;
    artifact_ref ref;
    if (o->n < o->cap && artifact_ref_parse(data, len, &ref, NULL) == CAIRN_OK)
        memcpy(o->names[o->n++], ref.file, sizeof ref.file);
}

static bool is_referenced(const char *name, void *ctx)
{
    orphan_scan *o = ctx;
    for (size_t i = 0; i < o->n; i++)
        if (strcmp(o->names[i], name) == 0)
            return true;
    /* Past the cap we cannot tell: keep the file. */
    return o->n == o->cap;
}

/* A crash between an upload's rename and its spool commit leaves a file no
 * entry refers to; the SDK was never told it was taken, so it goes. */
static void remove_orphan_uploads(agent_process *a)
{
    orphan_scan o = {.cap = 4096};
    o.names = calloc(o.cap, sizeof *o.names);
    if (!o.names)
        return;
    spool_each_artifact(&a->spool, note_file, &o);
    int n = uploads_remove_orphans(&a->uploads, is_referenced, &o);
    if (n)
        kvlog(KVLOG_INFO, "orphan_uploads_removed", "count=%d", n);
    free(o.names);
}

static cairn_status open_state(agent_process *a, cairn_error *err)
{
    cairn_status st = data_dir_lock(a->cfg.data_dir, "cairn-agent", &a->lock_fd, err);
    if (!st)
        st = agent_id_load(a->cfg.data_dir, &a->id, err);
    if (!st)
        st = spool_open(&a->spool, a->cfg.data_dir, a->cfg.spool_map_size, false, err);
    if (!st)
        st = uploads_open(&a->uploads, a->cfg.data_dir, err);
    if (st)
        return st;
    ulid_format(&a->id, a->id_text);
    snprintf(a->routing_id, sizeof a->routing_id, "agent:%s", a->id_text);
    remove_orphan_uploads(a);
    return CAIRN_OK;
}

cairn_status agent_open(agent_process *a, const agent_config *cfg, cairn_error *err)
{
    memset(a, 0, sizeof *a);
    a->cfg = *cfg;
    a->lock_fd = a->signal_fd = -1;
    a->fwd.up.fd = -1;
    cairn_status st = open_state(a, err);
    if (st)
        return st;
    a->signal_fd = daemon_signals_open();
    if (a->signal_fd < 0)
        return error_set(err, CAIRN_INTERNAL_ERROR, "signalfd: %s", strerror(errno));
    a->zmq = zmq_ctx_new();
    if (!a->zmq)
        return error_set(err, CAIRN_TRANSPORT_ERROR, "zmq context: %s", zmq_strerror(errno));
    presence_init(&a->presence, &a->cfg, &a->id, a->routing_id);
    st = sdk_server_open(&a->sdk, a->zmq, &a->cfg, a->routing_id, &a->spool, &a->uploads, err);
    if (!st)
        st = relay_open(&a->relay, a->zmq, a->cfg.coordinator, a->sdk.router,
                        a->cfg.relay_timeout_ms, a->cfg.coordinator_silence_ms, a->routing_id, err);
    if (!st)
        st = forwarder_open(&a->fwd, a->zmq, &a->cfg, a->routing_id, a->routing_id, &a->spool,
                            &a->uploads, &a->presence, err);
    sdk_server_set_relay(&a->sdk, &a->relay);
    if (!st)
        st = agent_plugins_open(&a->plugins, a->zmq, &a->cfg, &a->spool, &a->fwd, a->routing_id,
                                a->id_text, err);
    a->presence.hooks = agent_plugins_presence_hooks(&a->plugins);
    a->sdk.observer = agent_plugins_observer(&a->plugins);
    a->sdk.coordinator_limit = &a->presence.coordinator_max_message;
    return st;
}

void agent_close(agent_process *a)
{
    agent_plugins_close(&a->plugins); /* their last events go to the spool */
    forwarder_close(&a->fwd);
    relay_close(&a->relay);
    sdk_server_close(&a->sdk);
    presence_destroy(&a->presence);
    if (a->zmq)
        zmq_ctx_term(a->zmq);
    a->zmq = NULL;
    if (a->signal_fd >= 0)
        close(a->signal_fd);
    uploads_close(&a->uploads);
    spool_close(&a->spool);
    if (a->lock_fd >= 0)
        close(a->lock_fd);
    a->signal_fd = a->lock_fd = -1;
}

/* ---- the loop ---- */

static void log_plugin_stats(const agent_plugins *ap)
{
    const plugin_host_stats *p = &ap->host.stats;
    kvlog(KVLOG_INFO, "plugin_stats",
          "emitted=%llu routed=%llu events_spooled=%llu not_spooled=%llu dropped=%llu "
          "invalid=%llu delivered=%llu retried=%llu delivery_failed=%llu commands=%llu "
          "command_timeouts=%llu fetched=%llu fetch_failed=%llu",
          (unsigned long long)p->emitted, (unsigned long long)p->routed,
          (unsigned long long)ap->events_spooled,
          (unsigned long long)(p->spool_refused + ap->spool_failures),
          (unsigned long long)(p->queue_full + p->delivery_dropped),
          (unsigned long long)p->invalid_events, (unsigned long long)p->delivered,
          (unsigned long long)p->retried, (unsigned long long)p->delivery_failed,
          (unsigned long long)p->commands, (unsigned long long)p->command_timeouts,
          (unsigned long long)ap->fetch.done, (unsigned long long)ap->fetch.failed);
}

static void log_stats(agent_process *a)
{
    const sdk_stats *s = &a->sdk.stats;
    const fwd_stats *f = &a->fwd.stats;
    kvlog(KVLOG_INFO, "stats",
          "spooled=%llu forwarded=%llu rejected=%llu depth=%llu bytes=%llu duplicates=%llu "
          "refused=%llu backpressure=%llu relayed=%llu relay_timeouts=%llu resends=%llu "
          "disconnects=%llu reply_drops=%llu",
          (unsigned long long)s->spooled, (unsigned long long)f->forwarded,
          (unsigned long long)f->rejected, (unsigned long long)a->spool.depth,
          (unsigned long long)a->spool.bytes, (unsigned long long)s->duplicates,
          (unsigned long long)s->refused, (unsigned long long)s->backpressure,
          (unsigned long long)a->relay.relayed, (unsigned long long)a->relay.timeouts,
          (unsigned long long)f->resends, (unsigned long long)f->disconnects,
          (unsigned long long)(s->reply_drops + a->relay.reply_drops));
    if (a->plugins.host.n_plugins)
        log_plugin_stats(&a->plugins);
}

static void run_timers(agent_process *a, int64_t now)
{
    agent_plugins_timers(&a->plugins, now);
    forwarder_timers(&a->fwd, now);
    relay_expire(&a->relay, now);
    if (uploads_next_expiry(&a->uploads) && now >= uploads_next_expiry(&a->uploads)) {
        int n = uploads_expire(&a->uploads, now);
        if (n)
            kvlog(KVLOG_INFO, "uploads_expired", "count=%d", n);
    }
    if (now >= a->next_stats_ms) {
        log_stats(a);
        a->next_stats_ms = now + (int64_t)a->cfg.stats_interval_s * 1000;
    }
}

static long poll_timeout(agent_process *a, int64_t now)
{
    int64_t next = a->next_stats_ms;
    next = clock_earliest(next, forwarder_next_deadline(&a->fwd, now));
    next = clock_earliest(next, relay_next_deadline(&a->relay));
    next = clock_earliest(next, uploads_next_expiry(&a->uploads));
    next = clock_earliest(next, agent_plugins_next_deadline(&a->plugins));
    return next > now ? (long)(next - now) : 0;
}

enum {
    ITEM_SIGNAL,
    ITEM_MONITOR,
    ITEM_FORWARD,
    ITEM_RELAY,
    ITEM_RELAY_CHANGES,
    ITEM_SDK,
    ITEM_COUNT
};
#define PLUGIN_ITEMS (1 + PLUGIN_MAX_WATCHES) /* the fetch socket and every plugin's watch */

static void setup_items(agent_process *a, zmq_pollitem_t *items, bool serving)
{
    items[ITEM_SIGNAL] = (zmq_pollitem_t){NULL, a->signal_fd, ZMQ_POLLIN, 0};
    items[ITEM_MONITOR] = (zmq_pollitem_t){a->fwd.monitor, 0, ZMQ_POLLIN, 0};
    items[ITEM_FORWARD] = (zmq_pollitem_t){a->fwd.dealer, 0, ZMQ_POLLIN, 0};
    /* POLLOUT only while a send found no room: otherwise it is always ready. */
    if (a->fwd.blocked)
        items[ITEM_FORWARD].events |= ZMQ_POLLOUT;
    items[ITEM_RELAY] = (zmq_pollitem_t){a->relay.dealer, 0, ZMQ_POLLIN, 0};
    items[ITEM_RELAY_CHANGES] = (zmq_pollitem_t){a->relay.changes, 0, ZMQ_POLLIN, 0};
    items[ITEM_SDK] = (zmq_pollitem_t){a->sdk.router, 0, serving ? ZMQ_POLLIN : 0, 0};
}

static bool signalled(agent_process *a)
{
    const char *sig = daemon_signals_stop(a->signal_fd);
    if (!sig)
        return false;
    kvlog(KVLOG_INFO, "stopping", "signal=%s depth=%llu", sig,
          (unsigned long long)a->spool.depth);
    return true;
}

/* One turn of the loop: timers, sends, a poll of at most max_wait ms, then
 * whatever became ready. Returns false when a signal arrived. */
static bool turn(agent_process *a, bool serving, long max_wait, cairn_status *st, cairn_error *err)
{
    zmq_pollitem_t items[ITEM_COUNT + PLUGIN_ITEMS];
    int64_t now = clock_mono_ms();
    run_timers(a, now);
    agent_plugins_flush(&a->plugins);
    forwarder_pump(&a->fwd, now);
    setup_items(a, items, serving);
    int n_plugin = agent_plugins_poll_items(&a->plugins, items + ITEM_COUNT, PLUGIN_ITEMS);
    long wait = poll_timeout(a, clock_mono_ms());
    int rc = zmq_poll(items, ITEM_COUNT + n_plugin,
                      max_wait >= 0 && max_wait < wait ? max_wait : wait);
    if (rc < 0 && errno != EINTR) {
        *st = error_set(err, CAIRN_TRANSPORT_ERROR, "zmq_poll: %s", zmq_strerror(errno));
        return false;
    }
    if (rc <= 0)
        return true;
    now = clock_mono_ms();
    if ((items[ITEM_SIGNAL].revents & ZMQ_POLLIN) && signalled(a))
        return false;
    if (items[ITEM_MONITOR].revents & ZMQ_POLLIN)
        forwarder_monitor(&a->fwd, now);
    if (items[ITEM_FORWARD].revents & ZMQ_POLLOUT)
        a->fwd.blocked = false;
    if (items[ITEM_FORWARD].revents & ZMQ_POLLIN)
        forwarder_receive(&a->fwd, now);
    if ((items[ITEM_RELAY].revents | items[ITEM_RELAY_CHANGES].revents) & ZMQ_POLLIN)
        relay_receive(&a->relay);
    if (items[ITEM_SDK].revents & ZMQ_POLLIN)
        sdk_server_serve(&a->sdk, now);
    agent_plugins_dispatch(&a->plugins, items + ITEM_COUNT, n_plugin);
    agent_plugins_flush(&a->plugins);
    return true;
}

/* A bounded last attempt to hand the spool over; what is left stays spooled
 * for the next start. A second signal ends it at once. */
static void flush_spool(agent_process *a, cairn_status *st, cairn_error *err)
{
    int64_t deadline = clock_mono_ms() + a->cfg.shutdown_flush_ms;
    if (!a->fwd.connected || forwarder_idle(&a->fwd))
        return;
    uint64_t before = a->fwd.stats.forwarded;
    while (!forwarder_idle(&a->fwd) && a->fwd.connected) {
        long left = (long)(deadline - clock_mono_ms());
        if (left <= 0 || !turn(a, false, left, st, err))
            break;
    }
    kvlog(KVLOG_INFO, "flushed", "forwarded=%llu depth=%llu",
          (unsigned long long)(a->fwd.stats.forwarded - before),
          (unsigned long long)a->spool.depth);
}

cairn_status agent_run(agent_process *a, cairn_error *err)
{
    cairn_status st = CAIRN_OK;
    a->next_stats_ms = clock_mono_ms() + (int64_t)a->cfg.stats_interval_s * 1000;
    char q[3][2 * PATH_MAX];
    kvlog(KVLOG_INFO, "listening",
          "sdk_endpoint=%s coordinator=%s agent_id=%s data_dir=%s depth=%llu version=%s",
          kvlog_value(q[0], sizeof q[0], a->sdk.endpoint),
          kvlog_value(q[1], sizeof q[1], a->cfg.coordinator), a->id_text,
          kvlog_value(q[2], sizeof q[2], a->cfg.data_dir), (unsigned long long)a->spool.depth,
          CAIRN_VERSION);
    while (turn(a, true, -1, &st, err))
        ;
    if (!st)
        flush_spool(a, &st, err);
    log_stats(a);
    return st;
}
