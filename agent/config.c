/*
 * Configuration in the coordinator's style (coordinator/config.c): a table
 * of known settings, a walk over the file that refuses anything else.
 */
#include "config.h"

#include <libconfig.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "kvlog.h"

void agent_config_defaults(agent_config *c)
{
    memset(c, 0, sizeof *c);
    snprintf(c->coordinator, sizeof c->coordinator, "tcp://127.0.0.1:7700");
    snprintf(c->data_dir, sizeof c->data_dir, "/var/lib/cairn/agent");
    snprintf(c->sdk_endpoint, sizeof c->sdk_endpoint, "ipc:///run/cairn/agent.sock");
    snprintf(c->log_level, sizeof c->log_level, "info");
    c->heartbeat_ms = 5000;
    c->stats_interval_s = 60;
    c->relay_timeout_ms = 10000;
    c->shutdown_flush_ms = 3000;
    c->spool_max_bytes = (uint64_t)1 << 30;
    c->spool_max_rejected = 10000;
    c->spool_map_size = (size_t)2048 << 20;
    c->backoff_initial_ms = 100;
    c->backoff_max_ms = 10000;
    c->notify_max_attempts = 10;
    c->plugin_watchdog_ms = 10000;
}

typedef enum { OPT_STRING, OPT_INT, OPT_U64, OPT_SIZE_MB } opt_kind;

typedef struct option {
    const char *path; /* libconfig path, e.g. "spool.max_bytes" */
    opt_kind kind;
    size_t offset;
    size_t cap; /* strings: buffer size */
} option;

#define STR(name, field) {name, OPT_STRING, offsetof(agent_config, field), sizeof((agent_config *)0)->field}
#define INT(name, field) {name, OPT_INT, offsetof(agent_config, field), 0}
#define U64(name, field) {name, OPT_U64, offsetof(agent_config, field), 0}
#define MB(name, field) {name, OPT_SIZE_MB, offsetof(agent_config, field), 0}

static const option options[] = {
    STR("coordinator", coordinator),
    STR("data_dir", data_dir),
    STR("sdk_endpoint", sdk_endpoint),
    STR("sdk_socket_mode", sdk_socket_mode),
    STR("log_level", log_level),
    INT("heartbeat_ms", heartbeat_ms),
    INT("stats_interval_s", stats_interval_s),
    INT("relay_timeout_ms", relay_timeout_ms),
    INT("shutdown_flush_ms", shutdown_flush_ms),
    U64("spool.max_bytes", spool_max_bytes),
    U64("spool.max_rejected", spool_max_rejected),
    MB("spool.map_size_mb", spool_map_size),
    INT("backoff.initial_ms", backoff_initial_ms),
    INT("backoff.max_ms", backoff_max_ms),
};
/* "labels" is a group too, but of free keys: see apply_labels. */
static const char *const groups[] = {"spool", "backoff"};

static const option *find_option(const char *path)
{
    for (size_t i = 0; i < sizeof options / sizeof options[0]; i++)
        if (strcmp(options[i].path, path) == 0)
            return &options[i];
    return NULL;
}

static cairn_status bad(cairn_error *err, const char *file, config_setting_t *s, const char *what,
                        const char *path)
{
    return error_set(err, CAIRN_INVALID_PARAMETER_VALUE, "%s:%d: '%s' %s", file,
                     config_setting_source_line(s), path, what);
}

static cairn_status apply_setting(agent_config *c, const option *o, config_setting_t *s,
                                  const char *file, cairn_error *err)
{
    char *field = (char *)c + o->offset;
    if (o->kind == OPT_STRING) {
        const char *v = config_setting_get_string(s);
        if (!v || strlen(v) >= o->cap)
            return bad(err, file, s, "must be a string of fewer bytes", o->path);
        memcpy(field, v, strlen(v) + 1);
        return CAIRN_OK;
    }
    int type = config_setting_type(s);
    if (type != CONFIG_TYPE_INT && type != CONFIG_TYPE_INT64)
        return bad(err, file, s, "must be an integer", o->path);
    long long v = config_setting_get_int64(s);
    if (v < 0)
        return bad(err, file, s, "must not be negative", o->path);
    if (o->kind == OPT_U64)
        *(uint64_t *)field = (uint64_t)v;
    else if (o->kind == OPT_SIZE_MB)
        *(size_t *)field = (size_t)v << 20;
    else if (v > 1000000000)
        return bad(err, file, s, "is too large", o->path);
    else
        *(int *)field = (int)v;
    return CAIRN_OK;
}

static bool label_key_ok(const char *k)
{
    size_t n = strlen(k);
    if (n == 0 || n > AGENT_LABEL_KEY_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        char ch = k[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
              ch == '_' || ch == '-' || ch == '.' || ch == '/'))
            return false;
    }
    return true;
}

/* `host` is what selectors match the hostname with, so no label may take it. */
static cairn_status set_label(agent_config *c, const char *key, size_t key_len, const char *value,
                              cairn_error *err)
{
    char k[AGENT_LABEL_KEY_MAX + 2];
    if (key_len > AGENT_LABEL_KEY_MAX)
        return error_set(err, CAIRN_INVALID_PARAMETER_VALUE, "label key longer than %d bytes",
                         AGENT_LABEL_KEY_MAX);
    memcpy(k, key, key_len);
    k[key_len] = '\0';
    if (!label_key_ok(k) || strcmp(k, "host") == 0)
        return error_set(err, CAIRN_INVALID_PARAMETER_VALUE,
                         "label key '%s' must be letters, digits, _ - . / and not 'host'", k);
    if (strlen(value) > AGENT_LABEL_VALUE_MAX)
        return error_set(err, CAIRN_INVALID_PARAMETER_VALUE, "label '%s': value longer than %d bytes",
                         k, AGENT_LABEL_VALUE_MAX);
    int i = 0;
    while (i < c->n_labels && strcmp(c->labels[i].key, k) != 0)
        i++;
    if (i == AGENT_MAX_LABELS)
        return error_set(err, CAIRN_LIMIT_EXCEEDED, "more than %d labels", AGENT_MAX_LABELS);
    if (i == c->n_labels)
        c->n_labels++;
    memcpy(c->labels[i].key, k, key_len + 1); /* lengths checked above */
    memcpy(c->labels[i].value, value, strlen(value) + 1);
    return CAIRN_OK;
}

cairn_status agent_config_label(agent_config *c, const char *key_value, cairn_error *err)
{
    const char *eq = strchr(key_value, '=');
    if (!eq)
        return error_set(err, CAIRN_INVALID_PARAMETER_VALUE, "label '%s' is not KEY=VALUE", key_value);
    return set_label(c, key_value, (size_t)(eq - key_value), eq + 1, err);
}

static cairn_status apply_labels(agent_config *c, config_setting_t *group, const char *file,
                                 cairn_error *err)
{
    int n = config_setting_length(group);
    for (int i = 0; i < n; i++) {
        config_setting_t *s = config_setting_get_elem(group, (unsigned)i);
        const char *name = config_setting_name(s);
        const char *v = config_setting_get_string(s);
        if (!v)
            return error_set(err, CAIRN_INVALID_PARAMETER_VALUE, "%s:%d: label '%s' must be a string",
                             file, config_setting_source_line(s), name);
        cairn_error e;
        if (set_label(c, name, strlen(name), v, &e))
            return error_set(err, e.status, "%s:%d: %s", file, config_setting_source_line(s), e.message);
    }
    return CAIRN_OK;
}

static bool is_known_group(const char *path)
{
    for (size_t g = 0; g < sizeof groups / sizeof groups[0]; g++)
        if (strcmp(groups[g], path) == 0)
            return true;
    return false;
}

/* Walks one level of settings: scalars must be known options, groups known groups. */
static cairn_status apply_group(agent_config *c, config_setting_t *group, const char *prefix,
                                const char *file, cairn_error *err)
{
    int n = config_setting_length(group);
    for (int i = 0; i < n; i++) {
        config_setting_t *s = config_setting_get_elem(group, (unsigned)i);
        char path[128];
        snprintf(path, sizeof path, "%s%s%s", prefix, *prefix ? "." : "", config_setting_name(s));
        bool is_group = config_setting_is_group(s);
        cairn_status st;
        if (is_group && !*prefix && strcmp(path, "labels") == 0)
            st = apply_labels(c, s, file, err);
        else if (is_group && !*prefix && strcmp(path, "plugins") == 0)
            st = agent_config_plugins(c, s, file, err);
        else if (is_group && !*prefix && is_known_group(path))
            st = apply_group(c, s, path, file, err);
        else if (!is_group && find_option(path))
            st = apply_setting(c, find_option(path), s, file, err);
        else
            st = error_set(err, CAIRN_INVALID_PARAMETER_VALUE, "%s:%d: unknown setting '%s'",
                           file, config_setting_source_line(s), path);
        if (st)
            return st;
    }
    return CAIRN_OK;
}

cairn_status agent_config_load(agent_config *c, const char *path, cairn_error *err)
{
    config_t cfg;
    config_init(&cfg);
    cairn_status st;
    if (!config_read_file(&cfg, path)) {
        if (config_error_type(&cfg) == CONFIG_ERR_FILE_IO)
            st = error_set(err, CAIRN_IO_ERROR, "cannot read config file %s", path);
        else
            st = error_set(err, CAIRN_INVALID_PARAMETER_VALUE, "%s:%d: %s", path,
                           config_error_line(&cfg), config_error_text(&cfg));
    } else {
        st = apply_group(c, config_root_setting(&cfg), "", path, err);
    }
    config_destroy(&cfg);
    return st;
}

int agent_socket_mode(const agent_config *c)
{
    char *end;
    long mode = strtol(c->sdk_socket_mode, &end, 8);
    if (!c->sdk_socket_mode[0] || *end || mode < 0 || mode > 0777)
        return -1;
    return (int)mode;
}

static cairn_status out_of_range(cairn_error *err, const char *what)
{
    return error_set(err, CAIRN_INVALID_PARAMETER_VALUE, "%s", what);
}

cairn_status agent_config_check(const agent_config *c, cairn_error *err)
{
    if (kvlog_parse_level(c->log_level) < 0)
        return error_set(err, CAIRN_INVALID_PARAMETER_VALUE,
                         "log_level '%s' is not one of debug, info, warn, error", c->log_level);
    if (!c->coordinator[0] || !c->sdk_endpoint[0] || !c->data_dir[0])
        return out_of_range(err, "coordinator, sdk_endpoint and data_dir must not be empty");
    if (c->sdk_socket_mode[0] && agent_socket_mode(c) < 0)
        return out_of_range(err, "sdk_socket_mode must be octal permissions such as \"0660\"");
    if (c->heartbeat_ms < 100)
        return out_of_range(err, "heartbeat_ms must be at least 100");
    if (c->stats_interval_s < 1)
        return out_of_range(err, "stats_interval_s must be at least 1");
    if (c->relay_timeout_ms < 100)
        return out_of_range(err, "relay_timeout_ms must be at least 100");
    if (c->spool_max_rejected < 1)
        return out_of_range(err, "spool.max_rejected must be at least 1");
    if (c->spool_max_bytes < 1024)
        return out_of_range(err, "spool.max_bytes must be at least 1024");
    if (c->spool_map_size < ((size_t)16 << 20))
        return out_of_range(err, "spool.map_size_mb must be at least 16");
    if (c->backoff_initial_ms < 1 || c->backoff_max_ms < c->backoff_initial_ms)
        return out_of_range(err, "backoff.initial_ms must be at least 1 and at most backoff.max_ms");
    return CAIRN_OK;
}
