/*
 * The `plugins` group of agent.conf:
 *
 *   plugins: {
 *     dirs = ["/usr/local/lib/cairn/plugins"];   # where plugins may come from
 *     required = false;                          # a refused plugin stops the agent
 *     notify_max_attempts = 10;
 *     watchdog_ms = 10000;                       # isolated plugins: a hang after this long
 *     user = "cairn";                            # isolated plugins run as this user
 *     load = ( { name = "predictions"; path = "jsonl-tail.so"; isolate = false;
 *                config = { path = "/var/log/app/predictions.jsonl"; }; } );
 *   };
 *
 * Each plugin's `config` group is kept as plain values; it is checked against
 * the plugin's schema when the plugin is loaded.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "daemon_config.h"
#include "error.h"
#include "plugin_host.h"

#ifndef CAIRN_PLUGIN_DIR
#define CAIRN_PLUGIN_DIR "/usr/local/lib/cairn/plugins"
#endif
#define MAX_PLUGINS 64

static cairn_status at(cairn_error *err, const char *file, config_setting_t *s, const char *what)
{
    return error_set(err, CAIRN_INVALID_PARAMETER_VALUE, "%s:%d: %s", file,
                     config_setting_source_line(s), what);
}

static void free_dirs(agent_config *c)
{
    for (size_t i = 0; i < c->n_plugin_dirs; i++)
        free(c->plugin_dirs[i]);
    free(c->plugin_dirs);
    c->plugin_dirs = NULL;
    c->n_plugin_dirs = 0;
}

static void free_specs(agent_config *c)
{
    for (size_t i = 0; i < c->n_plugins; i++)
        plugin_settings_free(&c->plugins[i].config);
    free(c->plugins);
    c->plugins = NULL;
    c->n_plugins = 0;
}

void agent_config_free(agent_config *c)
{
    free_dirs(c);
    free_specs(c);
}

static cairn_status read_dirs(agent_config *c, config_setting_t *s, const char *file,
                              cairn_error *err)
{
    int n = config_setting_length(s);
    if (config_setting_type(s) != CONFIG_TYPE_ARRAY)
        return at(err, file, s, "plugins.dirs must be an array of strings");
    free_dirs(c);
    c->plugin_dirs = calloc((size_t)n + 1, sizeof *c->plugin_dirs);
    for (int i = 0; c->plugin_dirs && i < n; i++) {
        const char *d = config_setting_get_string_elem(s, i);
        if (!d || d[0] != '/')
            return at(err, file, s, "plugins.dirs must hold absolute paths");
        if (!(c->plugin_dirs[c->n_plugin_dirs++] = strdup(d)))
            break;
    }
    return c->plugin_dirs ? CAIRN_OK : error_set(err, CAIRN_OUT_OF_MEMORY, "plugins.dirs");
}

static cairn_status read_spec(config_setting_t *e, plugin_spec *spec, const char *file,
                              cairn_error *err)
{
    const char *name = NULL, *path = NULL;
    int isolate = 0;
    if (!config_setting_is_group(e))
        return at(err, file, e, "each entry of plugins.load is a group { name, path, ... }");
    for (int i = 0; i < config_setting_length(e); i++) {
        const char *k = config_setting_name(config_setting_get_elem(e, (unsigned)i));
        if (strcmp(k, "name") && strcmp(k, "path") && strcmp(k, "isolate") && strcmp(k, "config"))
            return at(err, file, config_setting_get_elem(e, (unsigned)i),
                      "unknown setting in a plugins.load entry (name, path, isolate, config)");
    }
    if (!config_setting_lookup_string(e, "name", &name) || !plugin_name_valid(name))
        return at(err, file, e, "a plugin needs a name of 1-64 characters a-z 0-9 _ -");
    if (!config_setting_lookup_string(e, "path", &path) || !path[0] ||
        strlen(path) >= sizeof spec->path)
        return at(err, file, e, "a plugin needs a path");
    config_setting_t *iso = config_setting_get_member(e, "isolate");
    if (iso && config_setting_type(iso) != CONFIG_TYPE_BOOL)
        return at(err, file, iso, "isolate must be true or false");
    isolate = iso ? config_setting_get_bool(iso) : 0;
    config_setting_t *group = config_setting_get_member(e, "config");
    if (group && !config_setting_is_group(group))
        return at(err, file, group, "a plugin's config must be a group { key = value; ... }");
    memset(spec, 0, sizeof *spec);
    snprintf(spec->name, sizeof spec->name, "%s", name);
    snprintf(spec->path, sizeof spec->path, "%s", path);
    spec->isolate = isolate != 0;
    spec->line = config_setting_source_line(e);
    return plugin_settings_read(group, &spec->config, err);
}

static cairn_status read_load(agent_config *c, config_setting_t *s, const char *file,
                              cairn_error *err)
{
    int n = config_setting_length(s);
    if (!config_setting_is_list(s) && !config_setting_is_array(s))
        return at(err, file, s, "plugins.load must be a list ( {...}, {...} )");
    if (n > MAX_PLUGINS)
        return at(err, file, s, "more than 64 plugins");
    free_specs(c);
    c->plugins = calloc((size_t)n + 1, sizeof *c->plugins);
    if (!c->plugins)
        return error_set(err, CAIRN_OUT_OF_MEMORY, "plugins.load");
    for (int i = 0; i < n; i++) {
        plugin_spec *spec = &c->plugins[c->n_plugins];
        cairn_status st = read_spec(config_setting_get_elem(s, (unsigned)i), spec, file, err);
        if (st)
            return st;
        c->n_plugins++;
        for (size_t j = 0; j + 1 < c->n_plugins; j++)
            if (strcmp(c->plugins[j].name, spec->name) == 0)
                return at(err, file, config_setting_get_elem(s, (unsigned)i),
                          "two plugins with the same name");
    }
    return CAIRN_OK;
}

cairn_status agent_config_plugins(agent_config *c, config_setting_t *group, const char *file,
                                  cairn_error *err)
{
    for (int i = 0; i < config_setting_length(group); i++) {
        config_setting_t *s = config_setting_get_elem(group, (unsigned)i);
        const char *k = config_setting_name(s);
        cairn_status st = CAIRN_OK;
        if (strcmp(k, "dirs") == 0)
            st = read_dirs(c, s, file, err);
        else if (strcmp(k, "load") == 0)
            st = read_load(c, s, file, err);
        else if (strcmp(k, "required") == 0 && config_setting_type(s) == CONFIG_TYPE_BOOL)
            c->plugins_required = config_setting_get_bool(s);
        else if (strcmp(k, "notify_max_attempts") == 0 && config_setting_type(s) == CONFIG_TYPE_INT &&
                 !daemon_config_int_wrapped(s) &&
                 config_setting_get_int(s) >= 1 && config_setting_get_int(s) <= 1000)
            c->notify_max_attempts = config_setting_get_int(s);
        else if (strcmp(k, "watchdog_ms") == 0 && config_setting_type(s) == CONFIG_TYPE_INT &&
                 !daemon_config_int_wrapped(s) &&
                 config_setting_get_int(s) >= 100 && config_setting_get_int(s) <= 3600000)
            c->plugin_watchdog_ms = config_setting_get_int(s);
        else if (strcmp(k, "user") == 0 && config_setting_get_string(s) &&
                 strlen(config_setting_get_string(s)) < sizeof c->plugin_user)
            snprintf(c->plugin_user, sizeof c->plugin_user, "%s", config_setting_get_string(s));
        else
            st = at(err, file, s,
                    "unknown or ill-typed setting in plugins (dirs, required, "
                    "notify_max_attempts 1-1000, watchdog_ms 100-3600000, user, load)");
        if (st)
            return st;
    }
    return CAIRN_OK;
}

/* lib/cairn/plugins beside the bin directory the agent runs from: where
 * `make install` put the plugins, whatever PREFIX it was given (a PREFIX
 * compiled in would be the one of the last build, not of the install). */
static const char *installed_plugin_dir(void)
{
    static char dir[PATH_MAX + sizeof "/lib/cairn/plugins"];
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    char *slash = n > 0 ? (exe[n] = '\0', strrchr(exe, '/')) : NULL;
    if (slash)
        *slash = '\0';
    slash = slash ? strrchr(exe, '/') : NULL; /* PREFIX/bin -> PREFIX */
    if (!slash)
        return CAIRN_PLUGIN_DIR;
    *slash = '\0';
    snprintf(dir, sizeof dir, "%s/lib/cairn/plugins", exe);
    return dir;
}

/* The directories to load from: the configured ones, or the installed one. */
size_t agent_plugin_dirs(const agent_config *c, char *const **dirs)
{
    static char *fallback[1];
    if (c->n_plugin_dirs) {
        *dirs = c->plugin_dirs;
        return c->n_plugin_dirs;
    }
    fallback[0] = (char *)installed_plugin_dir();
    *dirs = fallback;
    return 1;
}
