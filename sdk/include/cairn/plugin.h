/*
 * cairn/plugin.h: the whole plugin SDK. Header only: a plugin includes this
 * file and links nothing of cairn's.
 *
 *     cc -shared -fPIC $(pkg-config --cflags cairn) my_plugin.c -o my_plugin.so
 *
 * A plugin exports one function, cairn_plugin_entry (CAIRN_PLUGIN_EXPORT
 * declares it), that returns a constant descriptor: what the plugin is, the
 * configuration it accepts, init/fini and the operations of its kind. The
 * agent hands init a table of host functions, through which the plugin emits
 * and reads events, logs, reads its configuration, sets timers, watches file
 * descriptors, finds its state directory and counts things.
 *
 * The ABI promise. ABI major 1 stays loadable for as long as the agent
 * supports major 1. Within a major:
 *   - structs only grow at their end, and every struct that crosses the
 *     boundary carries its own size, so each side reads only the fields the
 *     other one knows;
 *   - the host table only grows at its end: before calling a function added in
 *     minor N, a plugin checks CAIRN_HOST_HAS(api, field) (or api->abi_minor);
 *   - enum values are never renumbered; new ones are added.
 * A plugin built for 1.0 loads in any agent of ABI 1.n; an agent refuses a
 * plugin whose major differs or whose descriptor is smaller than 1.0's.
 *
 * Threading. Every callback (init, fini, the kind's operations, timers, file
 * descriptor watches, fetch completions) is called on one thread, the agent's
 * event loop, never two at once for the same plugin. Host functions may be
 * called only from inside a callback, on that thread. A callback must not
 * block for long: the agent serves its SDK clients on the same thread. A
 * plugin that must block (a slow HTTP endpoint, a heavy computation) is run
 * with `isolate = true`, where it has a process to itself.
 *
 * Events. An event has a type ("prediction", "alert", "run.log"), a time,
 * the plugin or client that produced it, and fields. Fields are read by path:
 * "latency_ms" names a top-level field, "model.version" a field of a nested
 * map and "metrics.0.1" an element of an array (arrays are indexed from 0).
 * Plugins build events with flat fields of four types. The representation
 * behind cairn_event is the agent's and may change; only these accessors are
 * the contract.
 */
#ifndef CAIRN_PLUGIN_H
#define CAIRN_PLUGIN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define CAIRN_PLUGIN_ABI_MAJOR 1
#define CAIRN_PLUGIN_ABI_MINOR 0

/* The one symbol a plugin exports. */
#define CAIRN_PLUGIN_ENTRY_SYMBOL "cairn_plugin_entry"

/* ---- kinds and results ---- */

typedef enum cairn_plugin_kind {
    CAIRN_PLUGIN_TRACKER = 1,  /* produces events from the host */
    CAIRN_PLUGIN_DETECTOR = 2, /* consumes events, emits findings */
    CAIRN_PLUGIN_DEPLOYER = 3, /* applies deployment commands */
    CAIRN_PLUGIN_NOTIFIER = 4  /* delivers alerts */
} cairn_plugin_kind;

/* What a notifier's deliver returns, and what other callbacks return where
 * they can fail: CAIRN_PLUGIN_OK, or an error. RETRY asks the host to call
 * again later with capped backoff. */
typedef enum cairn_plugin_result {
    CAIRN_PLUGIN_OK = 0,
    CAIRN_PLUGIN_RETRY = 1,
    CAIRN_PLUGIN_ERROR = 2
} cairn_plugin_result;

typedef enum cairn_log_level {
    CAIRN_LOG_DEBUG = 0,
    CAIRN_LOG_INFO = 1,
    CAIRN_LOG_WARN = 2,
    CAIRN_LOG_ERROR = 3
} cairn_log_level;

/* ---- configuration schema ---- */

typedef enum cairn_config_type {
    CAIRN_CONFIG_STRING = 1,
    CAIRN_CONFIG_INT = 2,   /* int64 */
    CAIRN_CONFIG_FLOAT = 3, /* double; an integer in the file is accepted */
    CAIRN_CONFIG_BOOL = 4,
    CAIRN_CONFIG_STRING_LIST = 5 /* a libconfig array of strings: ["a", "b"] */
} cairn_config_type;

/* One key of a plugin's `config` group. The host checks the group against
 * the schema before init: an unknown key, a value of the wrong type or a
 * missing required key refuses the plugin, naming the key. */
typedef struct cairn_config_key {
    const char *key;           /* NULL ends the schema array */
    cairn_config_type type;
    const char *default_value; /* in the file's syntax ("5", "0.5", "true", "x"); NULL: none */
    int required;              /* non-zero: the key must be given (no default applies) */
    const char *doc;           /* one line, shown by cairn-plugin-check */
} cairn_config_key;

/* ---- opaque host objects ---- */

typedef struct cairn_host cairn_host;   /* the host's handle for this plugin */
typedef struct cairn_event cairn_event; /* an event; see the accessors below */

/* The type of a field, as event_field_type reports it. */
typedef enum cairn_field_type {
    CAIRN_FIELD_NONE = 0, /* no such field */
    CAIRN_FIELD_NIL = 1,
    CAIRN_FIELD_BOOL = 2,
    CAIRN_FIELD_INT = 3,
    CAIRN_FIELD_FLOAT = 4,
    CAIRN_FIELD_STRING = 5,
    CAIRN_FIELD_BINARY = 6,
    CAIRN_FIELD_ARRAY = 7,
    CAIRN_FIELD_MAP = 8
} cairn_field_type;

/* Readiness flags for watch_fd. */
#define CAIRN_FD_READ 1u
#define CAIRN_FD_WRITE 2u

typedef void (*cairn_timer_fn)(void *arg);
typedef void (*cairn_fd_fn)(void *arg, int fd, unsigned ready);
/* A fetch ends: status 0 and the file in place, or non-zero and a reason. */
typedef void (*cairn_fetch_fn)(void *arg, int status, const char *error);

/* ---- the host table (ABI 1.0) ---- */

typedef struct cairn_host_api {
    uint32_t size; /* sizeof(cairn_host_api) as the host was built */
    uint16_t abi_major;
    uint16_t abi_minor;

    /* Logging: one key=value line on the agent's stderr, tagged with the
     * plugin's name. `event` is a short name (a-z, 0-9, _; up to 64, any other
     * character is written as '_'), `detail` free text. */
    void (*log)(cairn_host *h, cairn_log_level level, const char *event, const char *detail);

    /* Configuration: the value of `key` from the plugin's config group, or its
     * schema default. Return 0, or -1 when the key has no value or another
     * type. Strings stay valid until fini. */
    int (*config_string)(cairn_host *h, const char *key, const char **value);
    int (*config_int)(cairn_host *h, const char *key, int64_t *value);
    int (*config_float)(cairn_host *h, const char *key, double *value);
    int (*config_bool)(cairn_host *h, const char *key, int *value);
    /* A STRING_LIST: the number of items (0 when absent), then each item. */
    size_t (*config_list_count)(cairn_host *h, const char *key);
    const char *(*config_list_item)(cairn_host *h, const char *key, size_t index);

    /* The plugin's own directory for state that outlives a restart (offsets,
     * installed versions); created by the host, private to the plugin. */
    const char *(*state_dir)(cairn_host *h);

    /* Clocks, in milliseconds: wall (unix epoch) and monotonic. */
    int64_t (*now_wall_ms)(cairn_host *h);
    int64_t (*now_mono_ms)(cairn_host *h);

    /* Timers: call fn(arg) after `after_ms`, then every `every_ms` when it is
     * non-zero (either is held at 2^31 - 1 ms, about 24.8 days, at most).
     * Returns a timer id (> 0), or 0 on failure. */
    uint64_t (*timer_add)(cairn_host *h, uint64_t after_ms, uint64_t every_ms, cairn_timer_fn fn,
                          void *arg);
    void (*timer_cancel)(cairn_host *h, uint64_t timer);

    /* Watch a descriptor the plugin owns: fn(arg, fd, ready) whenever it is
     * ready for what `events` asks (CAIRN_FD_READ | CAIRN_FD_WRITE); an error
     * or hang-up on it calls fn with what `events` asks, so that the read or
     * write meets it. A second watch of the same fd replaces the first.
     * Return 0 or -1. */
    int (*watch_fd)(cairn_host *h, int fd, unsigned events, cairn_fd_fn fn, void *arg);
    void (*unwatch_fd)(cairn_host *h, int fd);

    /* Counters, reported by `cairn plugins`: add delta to a named counter
     * (created at 0 on first use; a-z, 0-9, _, at most 32 names). */
    void (*counter_add)(cairn_host *h, const char *name, uint64_t delta);

    /* Ask for the events of a type (exact, or a prefix ending in '.', as
     * "run."; "*" for all). Detectors and notifiers subscribe in init. */
    int (*subscribe)(cairn_host *h, const char *event_type);

    /* Building an event: event_new, then set fields (a name set twice keeps
     * the last value), then emit it or free it. A setter returns -1 for a
     * name no field can have (empty, over 64 bytes, a '.' or a control
     * character) or past 256 fields, and leaves the event as it was. */
    cairn_event *(*event_new)(cairn_host *h, const char *type);
    int (*event_set_string)(cairn_event *ev, const char *name, const char *value);
    int (*event_set_int)(cairn_event *ev, const char *name, int64_t value);
    int (*event_set_float)(cairn_event *ev, const char *name, double value);
    int (*event_set_bool)(cairn_event *ev, const char *name, int value);
    void (*event_free)(cairn_event *ev);
    /* Emit: the host takes the event (whatever the result), routes it to the
     * local plugins that subscribed to its type (never back to its sender)
     * and spools it for the coordinator. Returns 0, or -1 when the spool is
     * full, the event is invalid or over 1 MiB (logged and counted by the
     * host). In an isolated plugin a full spool is found by the agent after
     * emit has returned 0. */
    int (*emit)(cairn_host *h, cairn_event *ev);

    /* Reading any event: its type, its time (unix ms), who produced it (a
     * plugin's name, or the client's "sdk:user@host"), and its fields by path.
     * The getters return 0, or -1 when the field is absent or of another type
     * (get_float also reads an integer field). A string is not terminated:
     * use its length. Pointers stay valid for the callback's duration. */
    const char *(*event_type)(const cairn_event *ev);
    int64_t (*event_time_ms)(const cairn_event *ev);
    const char *(*event_source)(const cairn_event *ev);
    cairn_field_type (*event_field_type)(const cairn_event *ev, const char *path);
    int (*event_get_string)(const cairn_event *ev, const char *path, const char **value,
                            size_t *len);
    int (*event_get_int)(const cairn_event *ev, const char *path, int64_t *value);
    int (*event_get_float)(const cairn_event *ev, const char *path, double *value);
    int (*event_get_bool)(const cairn_event *ev, const char *path, int *value);
    /* Elements of an array or entries of a map at path ("" or NULL: the
     * event's own fields); 0 for other types and absent fields. */
    size_t (*event_count)(const cairn_event *ev, const char *path);

    /* Deployers. A command is answered exactly once with command_done; before
     * that, command_progress may report steps (spooled as "command.progress"
     * events). `result` (may be NULL) carries fields for the reply; the host
     * takes it. */
    void (*command_progress)(cairn_host *h, const char *command_id, const char *message);
    void (*command_done)(cairn_host *h, const char *command_id, cairn_plugin_result result,
                         const char *message, cairn_event *result_fields);

    /* Fetch a blob of the coordinator's store by its sha256 (64 hex digits)
     * into dest_path, without blocking: the host downloads it in chunks,
     * verifies the hash, renames it into place and then calls
     * fn(arg, 0, NULL); on any failure fn(arg, -1, reason) and no file.
     * An isolated plugin running as plugins.user gets the file made and
     * renamed with that user's permissions, never the agent's.
     * Returns 0 when started, -1 when it cannot start. */
    int (*fetch_blob)(cairn_host *h, const char *sha256, const char *dest_path, cairn_fetch_fn fn,
                      void *arg);
} cairn_host_api;

/* True when the host's table is large enough to hold `field`. */
#define CAIRN_HOST_HAS(api, field)                                                                 \
    ((api)->size >= offsetof(cairn_host_api, field) + sizeof((api)->field))

/* ---- operations of each kind (each carries its own size) ---- */

/* Trackers produce events from their timers and watched descriptors, set up
 * in init; no operation is required. */
typedef struct cairn_tracker_ops {
    uint32_t size;
    /* Optional: called before fini when the agent stops, to save progress. */
    void (*flush)(void *state);
} cairn_tracker_ops;

/* Detectors receive the events they subscribed to. */
typedef struct cairn_detector_ops {
    uint32_t size;
    void (*on_event)(void *state, const cairn_event *ev);
} cairn_detector_ops;

/* Deployers receive commands sent to their agent: `command` is an event whose
 * type is the command's name ("deploy", "rollback") and whose fields are its
 * arguments. Return CAIRN_PLUGIN_OK when accepted (command_done follows, now
 * or later), or CAIRN_PLUGIN_ERROR to refuse it (the host answers with an
 * error and command_done must not be called). deadline_ms is wall clock: the
 * host answers `timeout` itself when it passes. */
typedef struct cairn_deployer_ops {
    uint32_t size;
    cairn_plugin_result (*on_command)(void *state, const char *command_id,
                                      const cairn_event *command, int64_t deadline_ms);
} cairn_deployer_ops;

/* Notifiers deliver the alerts they subscribed to. RETRY: the host calls
 * deliver again with capped exponential backoff (1 s doubling to 60 s, up to
 * the agent's notify.max_attempts); ERROR: given up at once, counted. */
typedef struct cairn_notifier_ops {
    uint32_t size;
    cairn_plugin_result (*deliver)(void *state, const cairn_event *alert);
} cairn_notifier_ops;

/* ---- the descriptor ---- */

typedef struct cairn_plugin_descriptor {
    uint32_t size; /* sizeof(cairn_plugin_descriptor) as the plugin was built */
    uint16_t abi_major;
    uint16_t abi_minor;
    cairn_plugin_kind kind;
    const char *name;        /* [a-z0-9_-]{1,64}; also the state directory's name */
    const char *version;     /* the plugin's own version, free form */
    const char *description; /* one line */
    const cairn_config_key *config; /* ends with a {NULL} entry; NULL: no keys */
    /* Set up: keep api and host (they stay valid until fini) and put the
     * plugin's state in *state. Non-zero refuses to start; log why first. */
    int (*init)(const cairn_host_api *api, cairn_host *host, void **state);
    /* Release everything; timers and watches are removed by the host. */
    void (*fini)(void *state);
    /* The cairn_<kind>_ops matching `kind`. */
    const void *ops;
} cairn_plugin_descriptor;

typedef const cairn_plugin_descriptor *(*cairn_plugin_entry_fn)(void);

/* Fills the version fields of a descriptor initializer. */
#define CAIRN_PLUGIN_ABI                                                                           \
    .size = sizeof(cairn_plugin_descriptor), .abi_major = CAIRN_PLUGIN_ABI_MAJOR,                  \
    .abi_minor = CAIRN_PLUGIN_ABI_MINOR

/* Exports the entry function returning `descriptor` (a static const object). */
#define CAIRN_PLUGIN_EXPORT(descriptor)                                                            \
    __attribute__((visibility("default"))) const cairn_plugin_descriptor *cairn_plugin_entry(void); \
    const cairn_plugin_descriptor *cairn_plugin_entry(void) { return &(descriptor); }

#ifdef __cplusplus
}
#endif

#endif
