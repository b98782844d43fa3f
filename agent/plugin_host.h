/*
 * The plugin host: the plugins an agent (or cairn-plugin-check) runs, the
 * host table they call, and the routing between them.
 *
 * Everything happens on the caller's thread. The embedding program polls the
 * descriptors plugins watch (plugin_host_poll_items), runs due timers
 * (plugin_host_run_timers) and sleeps no longer than plugin_host_next_deadline.
 * Events a plugin emits are queued, not delivered from inside the emitting
 * callback: plugin_host_drain routes them to the subscribers (never back to
 * the sender) and hands them to the sink, which spools them for the
 * coordinator. Notifier deliveries that ask for RETRY wait in a bounded queue
 * with capped backoff.
 */
#ifndef CAIRN_AGENT_PLUGIN_HOST_H
#define CAIRN_AGENT_PLUGIN_HOST_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <zmq.h>

#include "cairn/plugin.h"
#include "cairn/status.h"
#include "plugin_config.h"
#include "plugin_event.h"
#include "plugin_loader.h"

#define PLUGIN_MAX_COUNTERS 32
#define PLUGIN_MAX_SUBSCRIPTIONS 16
#define PLUGIN_QUEUE_MAX 65536   /* emitted events waiting for drain */
/* With several plugins running, none may hold more than its share of that
 * queue, divided among them at most this many ways: a flood from one leaves
 * room for the others' events. */
#define PLUGIN_QUEUE_SHARES 4
#define NOTIFY_QUEUE_MAX 1024    /* deliveries waiting to be retried, per notifier */
/* Descriptors watched by all plugins together, isolated children's sockets
 * included: a loop embedding the host polls this many (see
 * plugin_host_poll_items), or a watch accepted past its room never fires. */
#define PLUGIN_MAX_WATCHES 1024

typedef enum plugin_state {
    PLUGIN_RUNNING,
    PLUGIN_FAILED,     /* refused at load or init failed */
    PLUGIN_RESTARTING, /* an isolated child died and waits for its restart */
    PLUGIN_DISABLED,
} plugin_state;

/* One plugin as agent.conf lists it. */
typedef struct plugin_spec {
    char name[65];       /* the instance's name (several may share one .so); "": the descriptor's */
    char state_dir[PATH_MAX - 128]; /* "": STATE_ROOT/NAME */
    char path[PATH_MAX]; /* as written: relative to plugins.dirs, or absolute */
    bool isolate;
    bool vetted; /* path was found and checked by the agent: load it as it is */
    plugin_settings config;
    int line;
} plugin_spec;

typedef struct plugin_counter {
    char name[33];
    uint64_t value;
} plugin_counter;

typedef struct notify_retry {
    cairn_event *ev;
    int64_t due_ms;
    int attempts;
} notify_retry;

/* One running (or failed) plugin: the handle its host functions receive. */
struct cairn_host {
    struct plugin_host *host;
    char name[65];
    loaded_plugin lib;
    plugin_settings config; /* resolved against the schema */
    char state_dir[PATH_MAX];
    void *state;
    bool initialised;
    plugin_state status;
    bool isolated;
    const char *refusing; /* why emit last refused its event: logged once until one passes */
    size_t queued;        /* its events in the host's queue */
    uint32_t restarts;
    char error[512];
    plugin_counter counters[PLUGIN_MAX_COUNTERS];
    int n_counters;
    char subs[PLUGIN_MAX_SUBSCRIPTIONS][EVENT_TYPE_MAX + 1];
    int n_subs;
    notify_retry *retries; /* notifiers: ring of NOTIFY_QUEUE_MAX */
    int retry_head, retry_count;
    cairn_plugin_kind kind; /* 0 until known */
    char version[65];
    struct isolated *iso; /* isolate = true: the child process that runs it */
};
typedef struct cairn_host plugin_instance;

/* What the embedding does with what plugins produce. */
typedef struct plugin_sink {
    void *ctx;
    /* Spool an emitted event for the coordinator; 0, -1 when the spool is
     * full, -2 when the event is larger than one message may carry. */
    int (*spool)(void *ctx, const cairn_event *ev);
    /* A command's answer: CAIRN_OK with the deployer's fields (may be NULL),
     * CAIRN_COMMAND_FAILED with its message, or CAIRN_TIMEOUT. */
    void (*command_done)(void *ctx, const char *command_id, cairn_status code,
                         const char *message, const cairn_event *fields);
    /* Start fetching a blob (see cairn_host_api.fetch_blob). */
    int (*fetch)(void *ctx, plugin_instance *p, const char *sha256, const char *dest,
                 cairn_fetch_fn fn, void *arg);
    /* Optional: every delivery's outcome (cairn-plugin-check prints them). */
    void (*delivered)(void *ctx, plugin_instance *p, const cairn_event *ev,
                      cairn_plugin_result result);
    /* Optional: whether the spool can take `bytes` more of events now. emit
     * asks, so that a plugin hears of a full spool from emit's -1 rather
     * than having the event dropped later, at drain. */
    bool (*room)(void *ctx, size_t bytes);
} plugin_sink;

typedef struct plugin_timer {
    uint64_t id;
    plugin_instance *owner;
    bool internal; /* the host's own (isolation): runs whatever the plugin's state */
    int64_t due_ms; /* monotonic */
    uint64_t every_ms;
    cairn_timer_fn fn;
    void *arg;
} plugin_timer;

typedef struct plugin_watch {
    int fd;
    unsigned events;
    plugin_instance *owner;
    bool internal;
    cairn_fd_fn fn;
    void *arg;
} plugin_watch;

typedef struct queued_event {
    cairn_event *ev;
    plugin_instance *from;
    size_t bytes; /* event_size at emit */
} queued_event;

typedef struct pending_command {
    char id[64];
    plugin_instance *deployer;
    int64_t deadline_ms; /* wall */
} pending_command;

typedef struct plugin_host_stats {
    uint64_t emitted, routed, spool_refused, invalid_events, queue_full;
    uint64_t delivered, retried, delivery_failed, delivery_dropped;
    uint64_t commands, command_timeouts;
} plugin_host_stats;

typedef struct plugin_host {
    plugin_instance **plugins;
    size_t n_plugins;
    char state_root[PATH_MAX - 128]; /* DATA_DIR/plugins */
    char *const *dirs;               /* where plugins may be loaded from */
    size_t n_dirs;
    int notify_max_attempts;
    int watchdog_ms;     /* isolated plugins: no answer to a ping this long is a hang */
    bool drop_privileges; /* isolated children run as child_uid/child_gid */
    uid_t child_uid;
    gid_t child_gid;
    char self_exe[PATH_MAX]; /* what isolated children run: this program */
    int self_fd;             /* that program, held open (-1: none) */
    bool in_child;           /* the host inside an isolated plugin's process */
    plugin_sink sink;
    plugin_timer *timers;
    size_t n_timers, cap_timers;
    uint64_t next_timer_id;
    plugin_watch *watches;
    size_t n_watches, cap_watches;
    queued_event *queue; /* FIFO ring of PLUGIN_QUEUE_MAX */
    size_t q_head, q_count;
    size_t q_bytes; /* event_size of the queued events, which the spool will take */
    pending_command *commands;
    size_t n_commands, cap_commands;
    plugin_host_stats stats;
} plugin_host;

/* dirs (and the strings in it) must outlive the host. */
cairn_status plugin_host_init(plugin_host *h, const char *state_root, char *const *dirs,
                              size_t n_dirs, int notify_max_attempts, const plugin_sink *sink,
                              cairn_error *err);
/* Loads, checks and starts one plugin. It joins the list even when it is
 * refused (state failed, with the reason), so `cairn plugins` shows it. */
cairn_status plugin_host_load(plugin_host *h, const plugin_spec *spec, cairn_error *err);
/* Flushes trackers, calls every fini, unloads. */
void plugin_host_close(plugin_host *h);

/* True when some plugin subscribed to events of this type. */
bool plugin_host_wants(const plugin_host *h, const char *type);
/* Hands an event from outside the plugins (an SDK write) to its subscribers. */
void plugin_host_route(plugin_host *h, const cairn_event *ev, const plugin_instance *from);
/* Routes and spools what plugins emitted. */
void plugin_host_drain(plugin_host *h);

int64_t plugin_host_next_deadline(const plugin_host *h); /* monotonic ms; INT64_MAX: none */
void plugin_host_run_timers(plugin_host *h, int64_t now_mono);

/* Poll items for the watched descriptors; returns how many were written. */
int plugin_host_poll_items(const plugin_host *h, zmq_pollitem_t *items, int cap);
void plugin_host_dispatch(plugin_host *h, const zmq_pollitem_t *items, int n);

/* A command for a deployer: the one named `deployer` in its fields, or the
 * only deployer. CAIRN_OK: accepted, sink->command_done follows; otherwise
 * refused with a reason in err. */
cairn_status plugin_host_command(plugin_host *h, const char *command_id, const cairn_event *cmd,
                                 int64_t deadline_wall_ms, cairn_error *err);

/* Answers the commands whose deadline passed (plugin_host_run_timers calls it). */
void plugin_host_expire_commands(plugin_host *h, int64_t now_wall_ms);

const char *plugin_state_name(plugin_state s);

/* The host table every plugin receives. */
extern const cairn_host_api plugin_host_api;

/* Whether the emit queue has room for another event of p (its share). */
bool plugin_queue_has_room(const plugin_instance *p);

/* Records a failure of a plugin (logs it, marks it failed). */
void plugin_fail(plugin_instance *p, const char *why);

/* ---- behind the host table (plugin_api.c) ---- */
int plugin_emit(plugin_instance *p, cairn_event *ev);
int plugin_timer_add(plugin_instance *p, uint64_t after_ms, uint64_t every_ms, cairn_timer_fn fn,
                     void *arg, uint64_t *id);
void plugin_timer_cancel(plugin_instance *p, uint64_t id);
int plugin_watch_fd(plugin_instance *p, int fd, unsigned events, cairn_fd_fn fn, void *arg);
void plugin_unwatch_fd(plugin_instance *p, int fd);
void plugin_command_progress(plugin_instance *p, const char *command_id, const char *message);
void plugin_command_done(plugin_instance *p, const char *command_id, cairn_plugin_result result,
                         const char *message, cairn_event *fields);
/* Drops every timer and watch of p (at fini), internal ones too. */
void plugin_forget(plugin_instance *p);
int plugin_timer_add_internal(plugin_instance *p, uint64_t after_ms, uint64_t every_ms,
                              cairn_timer_fn fn, void *arg, uint64_t *id);
int plugin_watch_fd_internal(plugin_instance *p, int fd, unsigned events, cairn_fd_fn fn,
                             void *arg);
/* Answers a pending command with a final code (the isolation's path). */
void plugin_command_answer(plugin_instance *p, const char *command_id, cairn_status code,
                           const char *message, const cairn_event *fields);
/* Answers every command p holds with COMMAND_FAILED (p crashed). */
void plugin_commands_fail(plugin_instance *p, const char *why);
/* Notifier deliveries (plugin_notify.c). */
void plugin_deliver(plugin_instance *p, const cairn_event *ev);
void plugin_retry_due(plugin_instance *p, int64_t now_mono);
int64_t plugin_retry_next(const plugin_instance *p);
void plugin_retry_clear(plugin_instance *p);

#endif
