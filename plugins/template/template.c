/*
 * template: the smallest complete cairn plugin, meant to be copied.
 *
 * A tracker that emits a `heartbeat` event every `interval_ms`, carrying a
 * counter. Everything a real plugin needs is here: the configuration schema,
 * checking that configuration in init, per-instance state, a timer, building
 * and emitting an event, a counter, flush and fini.
 *
 * To start a plugin of your own: copy this directory to plugins/NAME/, rename
 * the file, change the descriptor's name and kind, and replace the timer
 * callback with your work. `make` builds it into build/plugins/NAME.so, and
 * `cairn-plugin-check build/plugins/NAME.so --run-for 3000` runs it.
 *
 * The rules this file follows, which every plugin must:
 *   - include only <cairn/plugin.h> of cairn's; link nothing of cairn's;
 *   - export only cairn_plugin_entry (CAIRN_PLUGIN_EXPORT does it; the build
 *     hides every other symbol with -fvisibility=hidden);
 *   - keep no mutable global state: the agent may load the same .so several
 *     times under different names, and each instance gets its own state from
 *     init;
 *   - never block for long in a callback: they all run on the agent's event
 *     loop, which also serves its SDK clients.
 */
#include <cairn/plugin.h>

#include <stdio.h>
#include <stdlib.h>

/* The configuration schema. The host checks the plugin's `config` group
 * against it before init (unknown keys, wrong types and missing required keys
 * refuse the plugin), so init only checks what a type cannot express: ranges,
 * formats, combinations. A default is written in the config file's syntax. */
static const cairn_config_key template_config[] = {
    {.key = "interval_ms",
     .type = CAIRN_CONFIG_INT,
     .default_value = "1000",
     .doc = "milliseconds between two heartbeat events (10 to 86400000)"},
    {.key = NULL},
};

/* Everything one instance owns. init allocates it; fini frees it. */
struct template_state {
    const cairn_host_api *api; /* valid until fini */
    cairn_host *host;          /* the host's handle for this instance */
    int64_t interval_ms;
    int64_t beats; /* heartbeats emitted so far */
};

/* The timer callback: runs on the event loop every interval_ms. */
static void template_beat(void *arg)
{
    struct template_state *st = arg;
    const cairn_host_api *api = st->api;

    cairn_event *ev = api->event_new(st->host, "heartbeat");
    if (!ev) {
        api->counter_add(st->host, "emit_failed", 1);
        return;
    }
    st->beats++;
    /* Fields are flat and typed; a name set twice keeps the last value. */
    api->event_set_int(ev, "count", st->beats);
    api->event_set_int(ev, "interval_ms", st->interval_ms);
    /* emit takes the event whatever it returns: never free it afterwards.
     * -1 means the host refused it (spool full, invalid) and has already
     * logged why; a tracker counts it and carries on. */
    if (api->emit(st->host, ev) != 0)
        api->counter_add(st->host, "emit_failed", 1);
    else
        api->counter_add(st->host, "heartbeats", 1);
}

/* init: check the configuration, allocate the state, start the work.
 * Returning non-zero refuses the plugin; log the reason first, with the event
 * name "bad_config" for configuration errors so operators can grep for it. */
static int template_init(const cairn_host_api *api, cairn_host *host, void **state)
{
    int64_t interval_ms;
    /* The key has a default, so -1 here would be a host bug; check anyway. */
    if (api->config_int(host, "interval_ms", &interval_ms) != 0 || interval_ms < 10 ||
        interval_ms > 86400000) {
        api->log(host, CAIRN_LOG_ERROR, "bad_config", "interval_ms must be 10 to 86400000");
        return -1;
    }

    struct template_state *st = calloc(1, sizeof(*st));
    if (!st) {
        api->log(host, CAIRN_LOG_ERROR, "init_failed", "out of memory");
        return -1;
    }
    st->api = api;
    st->host = host;
    st->interval_ms = interval_ms;

    /* First beat after one interval, then every interval. The host removes
     * the timer itself after fini, so there is no id to keep here; a plugin
     * that stops a timer earlier keeps the id for timer_cancel. */
    if (api->timer_add(host, (uint64_t)interval_ms, (uint64_t)interval_ms, template_beat, st) ==
        0) {
        api->log(host, CAIRN_LOG_ERROR, "init_failed", "cannot add the heartbeat timer");
        free(st);
        return -1;
    }

    char detail[64];
    snprintf(detail, sizeof(detail), "interval_ms=%lld", (long long)interval_ms);
    api->log(host, CAIRN_LOG_INFO, "started", detail);
    *state = st;
    return 0;
}

/* flush: the agent is stopping. A tracker that keeps a position (an offset in
 * a file) saves it here; this one has nothing to save but says goodbye. */
static void template_flush(void *state)
{
    struct template_state *st = state;
    char detail[64];
    snprintf(detail, sizeof(detail), "beats=%lld", (long long)st->beats);
    st->api->log(st->host, CAIRN_LOG_INFO, "flushed", detail);
}

/* fini: free everything. The host has already removed timers and watches;
 * api and host must not be used after this returns. */
static void template_fini(void *state)
{
    free(state);
}

/* The operations of the kind. Each ops struct carries its own size so a
 * newer host reads only the fields this build knows. */
static const cairn_tracker_ops template_ops = {
    .size = sizeof(cairn_tracker_ops),
    .flush = template_flush,
};

/* The descriptor: constant, returned by the one exported function. The name
 * ([a-z0-9_-], up to 64) is also the name of the plugin's state directory. */
static const cairn_plugin_descriptor template_descriptor = {
    CAIRN_PLUGIN_ABI,
    .kind = CAIRN_PLUGIN_TRACKER,
    .name = "template",
    .version = "1.0.0",
    .description = "emits a heartbeat event with a counter every interval_ms",
    .config = template_config,
    .init = template_init,
    .fini = template_fini,
    .ops = &template_ops,
};

CAIRN_PLUGIN_EXPORT(template_descriptor)
