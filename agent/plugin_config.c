/* Plugin configuration against its schema (see plugin_config.h). */
#include "plugin_config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon_config.h"
#include "error.h"

const char *config_type_name(cairn_config_type t)
{
    switch (t) {
    case CAIRN_CONFIG_STRING: return "string";
    case CAIRN_CONFIG_INT: return "int";
    case CAIRN_CONFIG_FLOAT: return "float";
    case CAIRN_CONFIG_BOOL: return "bool";
    case CAIRN_CONFIG_STRING_LIST: return "string list";
    default: return "unknown";
    }
}

static void setting_free(plugin_setting *s)
{
    free(s->key);
    free(s->str);
    for (size_t i = 0; i < s->n_list; i++)
        free(s->list[i]);
    free(s->list);
    memset(s, 0, sizeof *s);
}

void plugin_settings_free(plugin_settings *s)
{
    for (size_t i = 0; i < s->n; i++)
        setting_free(&s->v[i]);
    free(s->v);
    s->v = NULL;
    s->n = 0;
}

static cairn_status no_memory(cairn_error *err)
{
    return error_set(err, CAIRN_INTERNAL_ERROR, "out of memory reading plugin configuration");
}

static bool read_list(config_setting_t *cs, plugin_setting *out)
{
    int n = config_setting_length(cs);
    out->list = n ? calloc((size_t)n, sizeof *out->list) : NULL;
    if (n && !out->list)
        return false;
    for (int i = 0; i < n; i++) {
        const char *v = config_setting_get_string_elem(cs, i);
        if (!v)
            return false;
        out->list[out->n_list] = strdup(v);
        if (!out->list[out->n_list++])
            return false;
    }
    return true;
}

/* One libconfig setting as a plain value; an array counts as a string list
 * when it is empty or holds strings. */
static bool read_one(config_setting_t *cs, plugin_setting *out)
{
    out->line = config_setting_source_line(cs);
    out->key = strdup(config_setting_name(cs));
    if (!out->key)
        return false;
    switch (config_setting_type(cs)) {
    case CONFIG_TYPE_STRING:
        out->kind = SETTING_STRING;
        out->str = strdup(config_setting_get_string(cs));
        return out->str != NULL;
    case CONFIG_TYPE_INT:
    case CONFIG_TYPE_INT64:
        out->kind = SETTING_INT;
        out->i = config_setting_get_int64(cs);
        return true;
    case CONFIG_TYPE_FLOAT:
        out->kind = SETTING_FLOAT;
        out->f = config_setting_get_float(cs);
        return true;
    case CONFIG_TYPE_BOOL:
        out->kind = SETTING_BOOL;
        out->b = config_setting_get_bool(cs);
        return true;
    case CONFIG_TYPE_ARRAY: {
        config_setting_t *first = config_setting_get_elem(cs, 0);
        if (first && config_setting_type(first) != CONFIG_TYPE_STRING) {
            out->kind = SETTING_OTHER;
            return true;
        }
        out->kind = SETTING_STRING_LIST;
        return read_list(cs, out);
    }
    default:
        out->kind = SETTING_OTHER;
        return true;
    }
}

cairn_status plugin_settings_read(config_setting_t *group, plugin_settings *out, cairn_error *err)
{
    memset(out, 0, sizeof *out);
    int n = group ? config_setting_length(group) : 0;
    if (n <= 0)
        return CAIRN_OK;
    out->v = calloc((size_t)n, sizeof *out->v);
    if (!out->v)
        return no_memory(err);
    for (int i = 0; i < n; i++) {
        config_setting_t *cs = config_setting_get_elem(group, (unsigned)i);
        if (daemon_config_int_wrapped(cs)) {
            plugin_settings_free(out);
            return error_set(err, CAIRN_INVALID_PARAMETER_VALUE,
                             "line %d: config key '%s' " DAEMON_CONFIG_WRAPPED_HINT,
                             config_setting_source_line(cs), config_setting_name(cs));
        }
        out->n++;
        if (!read_one(cs, &out->v[i])) {
            plugin_settings_free(out);
            return no_memory(err);
        }
    }
    return CAIRN_OK;
}

static bool copy_setting(const plugin_setting *src, plugin_setting *dst)
{
    *dst = *src;
    dst->key = strdup(src->key);
    dst->str = src->str ? strdup(src->str) : NULL;
    dst->list = src->n_list ? calloc(src->n_list, sizeof *dst->list) : NULL;
    dst->n_list = 0;
    if (!dst->key || (src->str && !dst->str) || (src->n_list && !dst->list))
        return false;
    for (size_t i = 0; i < src->n_list; i++) {
        dst->list[i] = strdup(src->list[i]);
        if (!dst->list[i])
            return false;
        dst->n_list++;
    }
    return true;
}

cairn_status plugin_settings_copy(const plugin_settings *src, plugin_settings *dst,
                                  cairn_error *err)
{
    memset(dst, 0, sizeof *dst);
    if (!src->n)
        return CAIRN_OK;
    dst->v = calloc(src->n, sizeof *dst->v);
    if (!dst->v)
        return no_memory(err);
    for (size_t i = 0; i < src->n; i++) {
        dst->n++;
        if (!copy_setting(&src->v[i], &dst->v[i])) {
            plugin_settings_free(dst);
            return no_memory(err);
        }
    }
    return CAIRN_OK;
}

const plugin_setting *plugin_settings_find(const plugin_settings *s, const char *key)
{
    for (size_t i = 0; i < s->n; i++)
        if (strcmp(s->v[i].key, key) == 0)
            return &s->v[i];
    return NULL;
}

/* ---- the schema ---- */

static bool key_valid(const char *k)
{
    size_t n = strlen(k);
    if (n == 0 || n > 64 || !((k[0] >= 'a' && k[0] <= 'z') || (k[0] >= 'A' && k[0] <= 'Z')))
        return false;
    for (size_t i = 0; i < n; i++)
        if (!((k[i] >= 'a' && k[i] <= 'z') || (k[i] >= 'A' && k[i] <= 'Z') ||
              (k[i] >= '0' && k[i] <= '9') || k[i] == '_' || k[i] == '-'))
            return false;
    return true;
}

static bool kind_fits(cairn_config_type t, setting_kind k)
{
    switch (t) {
    case CAIRN_CONFIG_STRING: return k == SETTING_STRING;
    case CAIRN_CONFIG_INT: return k == SETTING_INT;
    case CAIRN_CONFIG_FLOAT: return k == SETTING_FLOAT || k == SETTING_INT;
    case CAIRN_CONFIG_BOOL: return k == SETTING_BOOL;
    case CAIRN_CONFIG_STRING_LIST: return k == SETTING_STRING_LIST;
    default: return false;
    }
}

/* A default in the file's syntax (strings as they are), read by libconfig
 * itself so it means exactly what the same text in agent.conf would. */
static cairn_status parse_default(const cairn_config_key *k, plugin_setting *out, cairn_error *err)
{
    if (k->type == CAIRN_CONFIG_STRING) {
        out->key = strdup(k->key);
        out->kind = SETTING_STRING;
        out->str = strdup(k->default_value);
        return out->key && out->str ? CAIRN_OK : no_memory(err);
    }
    config_t cf;
    config_init(&cf);
    char text[1024];
    int n = snprintf(text, sizeof text, "%s = %s;", k->key, k->default_value);
    config_setting_t *s = NULL;
    if (n > 0 && (size_t)n < sizeof text && config_read_string(&cf, text) == CONFIG_TRUE)
        s = config_setting_get_elem(config_root_setting(&cf), 0);
    cairn_status st = CAIRN_OK;
    if (!s || !read_one(s, out) || !kind_fits(k->type, out->kind))
        st = error_set(err, CAIRN_INVALID_PARAMETER_VALUE,
                       "the schema's default for '%s' (%s) is not of type %s", k->key, k->default_value,
                       config_type_name(k->type));
    out->line = 0;
    config_destroy(&cf);
    return st;
}

cairn_status plugin_schema_check(const cairn_config_key *schema, cairn_error *err)
{
    for (size_t i = 0; schema && schema[i].key; i++) {
        const cairn_config_key *k = &schema[i];
        if (!key_valid(k->key))
            return error_set(err, CAIRN_INVALID_PARAMETER_VALUE, "schema key '%.64s' is not a valid name",
                             k->key);
        if (k->type < CAIRN_CONFIG_STRING || k->type > CAIRN_CONFIG_STRING_LIST)
            return error_set(err, CAIRN_INVALID_PARAMETER_VALUE, "schema key '%s' has unknown type %d",
                             k->key, (int)k->type);
        for (size_t j = 0; j < i; j++)
            if (strcmp(schema[j].key, k->key) == 0)
                return error_set(err, CAIRN_INVALID_PARAMETER_VALUE, "schema key '%s' is declared twice",
                                 k->key);
        if (k->default_value) {
            plugin_setting d = {0};
            cairn_status st = parse_default(k, &d, err);
            setting_free(&d);
            if (st)
                return st;
        }
    }
    return CAIRN_OK;
}

static const cairn_config_key *schema_find(const cairn_config_key *schema, const char *key)
{
    for (size_t i = 0; schema && schema[i].key; i++)
        if (strcmp(schema[i].key, key) == 0)
            return &schema[i];
    return NULL;
}

static cairn_status check_given(const cairn_config_key *schema, const plugin_settings *given,
                                cairn_error *err)
{
    for (size_t i = 0; i < given->n; i++) {
        const plugin_setting *g = &given->v[i];
        const cairn_config_key *k = schema_find(schema, g->key);
        if (!k)
            return error_set(err, CAIRN_INVALID_PARAMETER_VALUE,
                             "line %d: unknown config key '%s' (not in the plugin's schema)", g->line,
                             g->key);
        if (!kind_fits(k->type, g->kind))
            return error_set(err, CAIRN_INVALID_PARAMETER_VALUE, "line %d: config key '%s' must be of type %s",
                             g->line, g->key, config_type_name(k->type));
    }
    return CAIRN_OK;
}

cairn_status plugin_config_resolve(const cairn_config_key *schema, const plugin_settings *given,
                                   plugin_settings *out, cairn_error *err)
{
    memset(out, 0, sizeof *out);
    cairn_status st = check_given(schema, given, err);
    size_t n = 0;
    while (!st && schema && schema[n].key)
        n++;
    if (st || n == 0)
        return st;
    out->v = calloc(n, sizeof *out->v);
    if (!out->v)
        return no_memory(err);
    for (size_t i = 0; i < n && !st; i++) {
        const cairn_config_key *k = &schema[i];
        const plugin_setting *g = plugin_settings_find(given, k->key);
        if (!g && k->required)
            st = error_set(err, CAIRN_INVALID_PARAMETER_VALUE, "missing required config key '%s' (%s)",
                           k->key, k->doc ? k->doc : config_type_name(k->type));
        else if (g)
            st = copy_setting(g, &out->v[out->n]) ? CAIRN_OK : no_memory(err);
        else if (k->default_value)
            st = parse_default(k, &out->v[out->n], err);
        else
            continue;
        plugin_setting *v = &out->v[out->n++];
        if (!st && k->type == CAIRN_CONFIG_FLOAT && v->kind == SETTING_INT) {
            v->kind = SETTING_FLOAT;
            v->f = (double)v->i;
        }
    }
    if (st)
        plugin_settings_free(out);
    return st;
}
