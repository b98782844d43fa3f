/*
 * The host table handed to every plugin's init (cairn_host_api, ABI 1.0).
 * Each function receives the plugin's own handle, so a call is attributed
 * to the plugin that made it: its log lines, counters, timers and events.
 */
#include <stdio.h>
#include <string.h>

#include "clock.h"
#include "kvlog.h"
#include "plugin_host.h"

/* The event name as the contract has it, [a-z0-9_] of at most 64: it is
 * written unquoted, so a space or a newline in it would let a plugin write
 * fields, or whole lines, of its choosing into the agent's log. Upper case
 * is lowered; anything else becomes '_'. */
static const char *event_name(const char *event, char out[65])
{
    size_t n = 0;
    for (; event && event[n] && n < 64; n++) {
        char c = event[n];
        out[n] = (c >= 'A' && c <= 'Z')                               ? (char)(c - 'A' + 'a')
                 : ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')) ? c
                                                                      : '_';
    }
    out[n] = '\0';
    return n ? out : "-";
}

static void api_log(cairn_host *p, cairn_log_level level, const char *event, const char *detail)
{
    char q[1100], name[65];
    kvlog_level l = level <= CAIRN_LOG_DEBUG ? KVLOG_DEBUG
                    : level == CAIRN_LOG_INFO ? KVLOG_INFO
                    : level == CAIRN_LOG_WARN ? KVLOG_WARN
                                              : KVLOG_ERROR;
    kvlog(l, "plugin_log", "plugin=%s what=%s detail=%s", p->name, event_name(event, name),
          kvlog_quote(q, sizeof q, detail ? detail : ""));
}

/* ---- configuration ---- */

static const plugin_setting *setting(cairn_host *p, const char *key, setting_kind kind)
{
    const plugin_setting *s = key ? plugin_settings_find(&p->config, key) : NULL;
    return s && s->kind == kind ? s : NULL;
}

static int config_string(cairn_host *p, const char *key, const char **value)
{
    const plugin_setting *s = setting(p, key, SETTING_STRING);
    if (!s)
        return -1;
    *value = s->str;
    return 0;
}

static int config_int(cairn_host *p, const char *key, int64_t *value)
{
    const plugin_setting *s = setting(p, key, SETTING_INT);
    if (!s)
        return -1;
    *value = s->i;
    return 0;
}

static int config_float(cairn_host *p, const char *key, double *value)
{
    const plugin_setting *s = setting(p, key, SETTING_FLOAT);
    if (!s)
        return -1;
    *value = s->f;
    return 0;
}

static int config_bool(cairn_host *p, const char *key, int *value)
{
    const plugin_setting *s = setting(p, key, SETTING_BOOL);
    if (!s)
        return -1;
    *value = s->b;
    return 0;
}

static size_t config_list_count(cairn_host *p, const char *key)
{
    const plugin_setting *s = setting(p, key, SETTING_STRING_LIST);
    return s ? s->n_list : 0;
}

static const char *config_list_item(cairn_host *p, const char *key, size_t index)
{
    const plugin_setting *s = setting(p, key, SETTING_STRING_LIST);
    return s && index < s->n_list ? s->list[index] : NULL;
}

static const char *state_dir(cairn_host *p) { return p->state_dir; }
static int64_t now_wall(cairn_host *p) { (void)p; return clock_wall_ms(); }
static int64_t now_mono(cairn_host *p) { (void)p; return clock_mono_ms(); }

/* ---- counters and subscriptions ---- */

static bool counter_name_ok(const char *name)
{
    size_t n = name ? strlen(name) : 0;
    if (n == 0 || n > 32)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!((name[i] >= 'a' && name[i] <= 'z') || (name[i] >= '0' && name[i] <= '9') ||
              name[i] == '_'))
            return false;
    return true;
}

static void counter_add(cairn_host *p, const char *name, uint64_t delta)
{
    if (!counter_name_ok(name))
        return;
    for (int i = 0; i < p->n_counters; i++)
        if (strcmp(p->counters[i].name, name) == 0) {
            p->counters[i].value += delta;
            return;
        }
    if (p->n_counters == PLUGIN_MAX_COUNTERS)
        return;
    plugin_counter *c = &p->counters[p->n_counters++];
    snprintf(c->name, sizeof c->name, "%s", name);
    c->value = delta;
}

static int subscribe(cairn_host *p, const char *type)
{
    size_t n = type ? strlen(type) : 0;
    bool ok = (n == 1 && type[0] == '*') || event_type_valid(type, n);
    if (!ok || p->n_subs == PLUGIN_MAX_SUBSCRIPTIONS)
        return -1;
    for (int i = 0; i < p->n_subs; i++)
        if (strcmp(p->subs[i], type) == 0)
            return 0;
    memcpy(p->subs[p->n_subs++], type, n + 1);
    return 0;
}

/* ---- events ---- */

static cairn_event *event_new(cairn_host *p, const char *type)
{
    return event_create(type, p->name, clock_wall_ms());
}

static uint64_t timer_add(cairn_host *p, uint64_t after, uint64_t every, cairn_timer_fn fn,
                          void *arg)
{
    uint64_t id = 0;
    return plugin_timer_add(p, after, every, fn, arg, &id) == 0 ? id : 0;
}

static int fetch_blob(cairn_host *p, const char *sha256, const char *dest, cairn_fetch_fn fn,
                      void *arg)
{
    plugin_host *h = p->host;
    if (!h->sink.fetch || !sha256 || !dest || !fn)
        return -1;
    return h->sink.fetch(h->sink.ctx, p, sha256, dest, fn, arg);
}

const cairn_host_api plugin_host_api = {
    .size = sizeof(cairn_host_api),
    .abi_major = CAIRN_PLUGIN_ABI_MAJOR,
    .abi_minor = CAIRN_PLUGIN_ABI_MINOR,
    .log = api_log,
    .config_string = config_string,
    .config_int = config_int,
    .config_float = config_float,
    .config_bool = config_bool,
    .config_list_count = config_list_count,
    .config_list_item = config_list_item,
    .state_dir = state_dir,
    .now_wall_ms = now_wall,
    .now_mono_ms = now_mono,
    .timer_add = timer_add,
    .timer_cancel = plugin_timer_cancel,
    .watch_fd = plugin_watch_fd,
    .unwatch_fd = plugin_unwatch_fd,
    .counter_add = counter_add,
    .subscribe = subscribe,
    .event_new = event_new,
    .event_set_string = event_set_string,
    .event_set_int = event_set_int,
    .event_set_float = event_set_float,
    .event_set_bool = event_set_bool,
    .event_free = event_destroy,
    .emit = plugin_emit,
    .event_type = event_type_of,
    .event_time_ms = event_time_of,
    .event_source = event_source_of,
    .event_field_type = event_field_type,
    .event_get_string = event_get_string,
    .event_get_int = event_get_int,
    .event_get_float = event_get_float,
    .event_get_bool = event_get_bool,
    .event_count = event_count,
    .command_progress = plugin_command_progress,
    .command_done = plugin_command_done,
    .fetch_blob = fetch_blob,
};
