#include "config.h"

#include <libconfig.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

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

typedef enum { OPT_STRING, OPT_INT, OPT_SIZE_MB } opt_kind;

typedef struct option {
    const char *path; /* libconfig path, e.g. "store.map_size_mb" */
    opt_kind kind;
    size_t offset;
    size_t cap; /* strings: buffer size */
} option;

#define STR(name, field) {name, OPT_STRING, offsetof(coord_config, field), sizeof((coord_config *)0)->field}
#define INT(name, field) {name, OPT_INT, offsetof(coord_config, field), 0}
#define MB(name, field) {name, OPT_SIZE_MB, offsetof(coord_config, field), 0}

static const option options[] = {
    STR("listen", listen),
    STR("data_dir", data_dir),
    STR("log_level", log_level),
    INT("stats_interval_s", stats_interval_s),
    MB("store.map_size_mb", map_size),
    INT("store.dedup_days", dedup_days),
    INT("limits.max_message_bytes", max_message_bytes),
    INT("limits.max_batch", max_batch),
    INT("uploads.idle_timeout_s", upload_idle_s),
    INT("agents.heartbeat_ms", heartbeat_ms),
};
static const char *const groups[] = {"store", "limits", "uploads", "agents"};

static const option *find_option(const char *path)
{
    for (size_t i = 0; i < sizeof options / sizeof options[0]; i++)
        if (strcmp(options[i].path, path) == 0)
            return &options[i];
    return NULL;
}

static cairn_status apply_setting(coord_config *c, const option *o, config_setting_t *s,
                                  const char *file, cairn_error *err)
{
    char *field = (char *)c + o->offset;
    if (o->kind == OPT_STRING) {
        const char *v = config_setting_get_string(s);
        if (!v || strlen(v) >= o->cap)
            return error_set(err, CAIRN_INVALID_PARAMETER_VALUE,
                             "%s:%d: '%s' must be a string shorter than %zu bytes", file,
                             config_setting_source_line(s), o->path, o->cap);
        memcpy(field, v, strlen(v) + 1);
        return CAIRN_OK;
    }
    int type = config_setting_type(s);
    if (type != CONFIG_TYPE_INT && type != CONFIG_TYPE_INT64)
        return error_set(err, CAIRN_INVALID_PARAMETER_VALUE, "%s:%d: '%s' must be an integer",
                         file, config_setting_source_line(s), o->path);
    long long v = config_setting_get_int64(s);
    if (v < 0)
        return error_set(err, CAIRN_INVALID_PARAMETER_VALUE, "%s:%d: '%s' must not be negative",
                         file, config_setting_source_line(s), o->path);
    if (o->kind == OPT_SIZE_MB)
        *(size_t *)field = (size_t)v << 20;
    else if (o->offset == offsetof(coord_config, max_message_bytes))
        *(size_t *)field = (size_t)v;
    else
        *(int *)field = (int)v;
    return CAIRN_OK;
}

/* Walks one level of settings: scalars must be known options, groups known groups. */
static cairn_status apply_group(coord_config *c, config_setting_t *group, const char *prefix,
                                const char *file, cairn_error *err)
{
    int n = config_setting_length(group);
    for (int i = 0; i < n; i++) {
        config_setting_t *s = config_setting_get_elem(group, (unsigned)i);
        char path[128];
        snprintf(path, sizeof path, "%s%s%s", prefix, *prefix ? "." : "", config_setting_name(s));
        bool is_group = config_setting_is_group(s);
        bool known_group = false;
        for (size_t g = 0; g < sizeof groups / sizeof groups[0] && !*prefix; g++)
            known_group |= strcmp(groups[g], path) == 0;
        cairn_status st;
        if (is_group && known_group)
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

cairn_status coord_config_load(coord_config *c, const char *path, cairn_error *err)
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

cairn_status coord_config_check(const coord_config *c, cairn_error *err)
{
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
