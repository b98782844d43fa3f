/*
 * The agent's settings table, its labels and its range checks; the walk over
 * the file that the table drives is the daemons' shared one (daemon_config.c).
 */
#include "config.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon_config.h"
#include "error.h"
#include "keepalive.h"
#include "validate.h"

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
    c->coordinator_silence_ms = KEEPALIVE_DEFAULT_MS;
    c->shutdown_flush_ms = 3000;
    c->spool_max_bytes = (uint64_t)1 << 30;
    c->spool_max_rejected = 10000;
    c->spool_map_size = (size_t)2048 << 20;
    c->backoff_initial_ms = 100;
    c->backoff_max_ms = 10000;
    c->notify_max_attempts = 10;
    c->plugin_watchdog_ms = 10000;
}

#define STR(name, field) DAEMON_STR(agent_config, name, field)
#define INT(name, field) DAEMON_NUM(agent_config, DAEMON_INT, name, field)
#define U64(name, field) DAEMON_NUM(agent_config, DAEMON_U64, name, field)
#define MB(name, field) DAEMON_NUM(agent_config, DAEMON_SIZE_MB, name, field)

static const daemon_setting settings[] = {
    STR("coordinator", coordinator),
    STR("data_dir", data_dir),
    STR("sdk_endpoint", sdk_endpoint),
    STR("sdk_socket_mode", sdk_socket_mode),
    STR("log_level", log_level),
    INT("heartbeat_ms", heartbeat_ms),
    INT("stats_interval_s", stats_interval_s),
    INT("relay_timeout_ms", relay_timeout_ms),
    INT("coordinator_silence_ms", coordinator_silence_ms),
    INT("shutdown_flush_ms", shutdown_flush_ms),
    U64("spool.max_bytes", spool_max_bytes),
    U64("spool.max_rejected", spool_max_rejected),
    MB("spool.max_rejected_mb", spool_max_rejected_bytes),
    MB("spool.map_size_mb", spool_map_size),
    INT("backoff.initial_ms", backoff_initial_ms),
    INT("backoff.max_ms", backoff_max_ms),
};

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
    /* The coordinator refuses a hello whose label values are not printable
     * UTF-8: such an agent would run unlisted, out of every fan-out. */
    cairn_error why;
    if (validate_text("the value", msg_str_of(value), AGENT_LABEL_VALUE_MAX, &why))
        return error_set(err, why.status, "label '%s': %s", k, why.message);
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

static cairn_status read_labels(void *cfg, config_setting_t *group, const char *file,
                               cairn_error *err)
{
    agent_config *c = cfg;
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

static cairn_status read_plugins(void *cfg, config_setting_t *group, const char *file,
                                cairn_error *err)
{
    return agent_config_plugins(cfg, group, file, err);
}

/* labels and plugins hold keys of their own, so their own code reads them. */
static const daemon_group groups[] = {
    {"spool", NULL},
    {"backoff", NULL},
    {"labels", read_labels},
    {"plugins", read_plugins},
};

static const daemon_config_table table = {DAEMON_ROWS(settings), DAEMON_ROWS(groups)};

cairn_status agent_config_load(agent_config *c, const char *path, cairn_error *err)
{
    return daemon_config_load(&table, c, path, err);
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

size_t agent_rejected_bytes_max(const agent_config *c)
{
    return c->spool_max_rejected_bytes ? c->spool_max_rejected_bytes : c->spool_map_size / 4;
}

cairn_status agent_config_check(const agent_config *c, cairn_error *err)
{
    cairn_status st = daemon_config_check_log_level(c->log_level, err);
    if (st)
        return st;
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
    if (c->coordinator_silence_ms != 0 && c->coordinator_silence_ms < 100)
        return out_of_range(err, "coordinator_silence_ms must be 0 (off) or at least 100");
    if (c->spool_max_rejected < 1)
        return out_of_range(err, "spool.max_rejected must be at least 1");
    if (c->spool_max_bytes < 1024)
        return out_of_range(err, "spool.max_bytes must be at least 1024");
    if (c->spool_map_size < ((size_t)16 << 20))
        return out_of_range(err, "spool.map_size_mb must be at least 16");
    if (c->spool_max_rejected_bytes > c->spool_map_size / 2)
        return out_of_range(err, "spool.max_rejected_mb must be at most half of spool.map_size_mb");
    if (c->backoff_initial_ms < 1 || c->backoff_max_ms < c->backoff_initial_ms)
        return out_of_range(err, "backoff.initial_ms must be at least 1 and at most backoff.max_ms");
    return CAIRN_OK;
}
