/*
 * A plugin's configuration: the `config` group of its entry in agent.conf,
 * read into plain values, then checked against the schema the plugin
 * declares and completed with the schema's defaults. Plugins read the result
 * through the host table's config_* functions.
 */
#ifndef CAIRN_AGENT_PLUGIN_CONFIG_H
#define CAIRN_AGENT_PLUGIN_CONFIG_H

#include <libconfig.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cairn/plugin.h"
#include "cairn/status.h"

typedef enum setting_kind {
    SETTING_STRING,
    SETTING_INT,
    SETTING_FLOAT,
    SETTING_BOOL,
    SETTING_STRING_LIST,
    SETTING_OTHER, /* a group, a list or an array of non-strings: no schema type takes it */
} setting_kind;

typedef struct plugin_setting {
    char *key;
    setting_kind kind;
    char *str;
    int64_t i;
    double f;
    bool b;
    char **list;
    size_t n_list;
    int line; /* in the file, for messages; 0 for a default */
} plugin_setting;

typedef struct plugin_settings {
    plugin_setting *v;
    size_t n;
} plugin_settings;

/* Reads every setting of a libconfig group (NULL: none). */
cairn_status plugin_settings_read(config_setting_t *group, plugin_settings *out, cairn_error *err);
void plugin_settings_free(plugin_settings *s);
cairn_status plugin_settings_copy(const plugin_settings *src, plugin_settings *dst,
                                  cairn_error *err);

/* Checks the schema itself (unique, well-formed keys, known types, defaults
 * that parse as their type). */
cairn_status plugin_schema_check(const cairn_config_key *schema, cairn_error *err);

/* Checks `given` against the schema and builds `out`: one entry per schema key
 * that has a value, of the schema's type (an int where a float is wanted is
 * converted). Refuses an unknown key, a wrong type and a missing required key,
 * naming the key. */
cairn_status plugin_config_resolve(const cairn_config_key *schema, const plugin_settings *given,
                                   plugin_settings *out, cairn_error *err);

const plugin_setting *plugin_settings_find(const plugin_settings *s, const char *key);

const char *config_type_name(cairn_config_type t);

#endif
