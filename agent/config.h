/* The agent's settings: embedded defaults, then the config file, then the
 * command line. conf/agent.conf documents every one. */
#ifndef CAIRN_AGENT_CONFIG_H
#define CAIRN_AGENT_CONFIG_H

#include <libconfig.h>
#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cairn/status.h"

#define AGENT_MAX_LABELS 32
#define AGENT_LABEL_KEY_MAX 64
#define AGENT_LABEL_VALUE_MAX 256

typedef struct agent_label {
    char key[AGENT_LABEL_KEY_MAX + 1];
    char value[AGENT_LABEL_VALUE_MAX + 1];
} agent_label;

typedef struct agent_config {
    char coordinator[256];
    char data_dir[PATH_MAX - 200];
    char sdk_endpoint[256];
    char sdk_socket_mode[8]; /* octal, e.g. "0660": applied to an ipc socket; "": the umask's */
    char log_level[16];
    int heartbeat_ms;
    int stats_interval_s;
    int relay_timeout_ms;
    int coordinator_silence_ms; /* 0: no ZeroMQ heartbeat on its connections */
    int shutdown_flush_ms;
    uint64_t spool_max_bytes;
    uint64_t spool_max_rejected; /* entries kept in the rejected list */
    size_t spool_max_rejected_bytes; /* and their bytes; 0: agent_rejected_bytes_max's default */
    size_t spool_map_size; /* bytes */
    int backoff_initial_ms;
    int backoff_max_ms;
    agent_label labels[AGENT_MAX_LABELS];
    int n_labels;
    /* plugins { dirs, required, notify_max_attempts, load } (plugin_conf.c);
     * the arrays are the config's own: agent_config_free releases them. */
    char **plugin_dirs;
    size_t n_plugin_dirs;
    struct plugin_spec *plugins;
    size_t n_plugins;
    bool plugins_required;
    int notify_max_attempts;
    int plugin_watchdog_ms;
    char plugin_user[64]; /* isolated children run as this user when the agent is root */
} agent_config;

void agent_config_defaults(agent_config *c);
void agent_config_free(agent_config *c);

/* The `plugins` group (plugin_conf.c). */
cairn_status agent_config_plugins(agent_config *c, config_setting_t *group, const char *file,
                                  cairn_error *err);
size_t agent_plugin_dirs(const agent_config *c, char *const **dirs);

/* Reads a libconfig file over the current values; unknown settings are errors
 * (a typo must not pass silently). */
cairn_status agent_config_load(agent_config *c, const char *path, cairn_error *err);

/* Sets label key to value (replacing an earlier value of the same key) from
 * "key=value" text, as --label gives it. */
cairn_status agent_config_label(agent_config *c, const char *key_value, cairn_error *err);

/* sdk_socket_mode as a number; -1 when unset or not octal permissions. */
int agent_socket_mode(const agent_config *c);

/* Checks ranges after everything is applied. */
/* The most bytes the rejected list keeps: spool.max_rejected_mb, else a
 * quarter of the map, so that refusals can never fill it. */
size_t agent_rejected_bytes_max(const agent_config *c);
cairn_status agent_config_check(const agent_config *c, cairn_error *err);

#endif
