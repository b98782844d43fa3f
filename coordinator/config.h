/* The coordinator's settings: embedded defaults, then the config file, then
 * the command line. conf/coordinator.conf documents every one. */
#ifndef CAIRN_COORD_CONFIG_H
#define CAIRN_COORD_CONFIG_H

#include <limits.h>
#include <stddef.h>

#include "cairn/status.h"

typedef struct coord_config {
    char listen[256];
    char data_dir[PATH_MAX - 100];
    char log_level[16];
    size_t map_size;          /* bytes */
    int dedup_days;
    size_t max_message_bytes;
    int max_batch;            /* requests per group commit */
    int upload_idle_s;
    int stats_interval_s;
    int heartbeat_ms;         /* agents.heartbeat_ms: agents heartbeat this often */
} coord_config;

void coord_config_defaults(coord_config *c);

/* Reads a libconfig file over the current values; unknown settings are errors
 * (a typo must not pass silently). */
cairn_status coord_config_load(coord_config *c, const char *path, cairn_error *err);

/* Checks ranges after everything is applied. */
cairn_status coord_config_check(const coord_config *c, cairn_error *err);

#endif
