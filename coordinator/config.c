/*
 * The coordinator's settings table and its range checks; the walk over the
 * file that the table drives is the daemons' shared one (daemon_config.c).
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "daemon_config.h"
#include "error.h"

void coord_config_defaults(coord_config *c)
{
    memset(c, 0, sizeof *c);
    snprintf(c->listen, sizeof c->listen, "tcp://127.0.0.1:7700");
    snprintf(c->data_dir, sizeof c->data_dir, "/var/lib/cairn/coordinator");
    snprintf(c->log_level, sizeof c->log_level, "info");
    c->map_size = (size_t)64 << 30;
    c->dedup_days = 7;
    c->max_message_bytes = (size_t)16 << 20;
    c->max_batch = 1024;
    c->upload_idle_s = 600;
    c->stats_interval_s = 60;
    c->heartbeat_ms = 5000;
}

#define STR(name, field) DAEMON_STR(coord_config, name, field)
#define INT(name, field) DAEMON_NUM(coord_config, DAEMON_INT, name, field)
#define SIZE(name, field) DAEMON_NUM(coord_config, DAEMON_SIZE, name, field)
#define MB(name, field) DAEMON_NUM(coord_config, DAEMON_SIZE_MB, name, field)

static const daemon_setting settings[] = {
    STR("listen", listen),
    STR("data_dir", data_dir),
    STR("log_level", log_level),
    INT("stats_interval_s", stats_interval_s),
    MB("store.map_size_mb", map_size),
    INT("store.dedup_days", dedup_days),
    SIZE("limits.max_message_bytes", max_message_bytes),
    INT("limits.max_batch", max_batch),
    INT("uploads.idle_timeout_s", upload_idle_s),
    INT("agents.heartbeat_ms", heartbeat_ms),
};
static const daemon_group groups[] = {
    {"store", NULL}, {"limits", NULL}, {"uploads", NULL}, {"agents", NULL},
};

static const daemon_config_table table = {DAEMON_ROWS(settings), DAEMON_ROWS(groups)};

cairn_status coord_config_load(coord_config *c, const char *path, cairn_error *err)
{
    return daemon_config_load(&table, c, path, err);
}

cairn_status coord_config_check(const coord_config *c, cairn_error *err)
{
    cairn_status st = daemon_config_check_log_level(c->log_level, err);
    if (st)
        return st;
    if (c->max_message_bytes < 4096 || c->max_message_bytes > ((size_t)1 << 30))
        return error_set(err, CAIRN_INVALID_PARAMETER_VALUE,
                         "limits.max_message_bytes must be between 4096 and 1 GiB");
    if (c->max_batch < 1 || c->max_batch > 65536)
        return error_set(err, CAIRN_INVALID_PARAMETER_VALUE,
                         "limits.max_batch must be between 1 and 65536");
    if (c->map_size < ((size_t)1 << 20))
        return error_set(err, CAIRN_INVALID_PARAMETER_VALUE, "store.map_size_mb must be at least 1");
    if (c->dedup_days < 1 || c->upload_idle_s < 1 || c->stats_interval_s < 1)
        return error_set(err, CAIRN_INVALID_PARAMETER_VALUE,
                         "store.dedup_days, uploads.idle_timeout_s and stats_interval_s must be "
                         "at least 1");
    if (c->heartbeat_ms < 10 || c->heartbeat_ms > 3600000)
        return error_set(err, CAIRN_INVALID_PARAMETER_VALUE,
                         "agents.heartbeat_ms must be between 10 and 3600000");
    return CAIRN_OK;
}
