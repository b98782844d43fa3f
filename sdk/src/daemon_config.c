/*
 * One walk over a daemon's libconfig file, driven by the daemon's table
 * (daemon_config.h): the agent and the coordinator read their files alike.
 */
#include "daemon_config.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "error.h"
#include "kvlog.h"

static const daemon_setting *find_setting(const daemon_config_table *t, const char *path)
{
    for (size_t i = 0; i < t->n_settings; i++)
        if (strcmp(t->settings[i].path, path) == 0)
            return &t->settings[i];
    return NULL;
}

static const daemon_group *find_group(const daemon_config_table *t, const char *path)
{
    for (size_t i = 0; i < t->n_groups; i++)
        if (strcmp(t->groups[i].name, path) == 0)
            return &t->groups[i];
    return NULL;
}

static cairn_status bad(cairn_error *err, const char *file, config_setting_t *s, const char *path,
                        const char *what)
{
    return error_set(err, CAIRN_INVALID_PARAMETER_VALUE, "%s:%d: '%s' %s", file,
                     config_setting_source_line(s), path, what);
}

static cairn_status read_string(const daemon_setting *o, char *field, config_setting_t *s,
                                const char *file, cairn_error *err)
{
    const char *v = config_setting_get_string(s);
    if (v && strlen(v) < o->cap) {
        memcpy(field, v, strlen(v) + 1);
        return CAIRN_OK;
    }
    return error_set(err, CAIRN_INVALID_PARAMETER_VALUE,
                     "%s:%d: '%s' must be a string shorter than %zu bytes", file,
                     config_setting_source_line(s), o->path, o->cap);
}

/* The number written right after `name =` (or `name:`) at p, if any:
 * decimal or 0x hex, with libconfig's rules (a leading 0 is not octal). */
static bool literal_after(const char *p, const char *name, long long *value, bool *too_big)
{
    size_t n = strlen(name);
    if (strncmp(p, name, n) != 0)
        return false;
    p += n;
    p += strspn(p, " \t");
    if (*p != '=' && *p != ':')
        return false;
    p++;
    p += strspn(p, " \t");
    bool hex = p[0] == '0' && (p[1] == 'x' || p[1] == 'X');
    char *end;
    errno = 0;
    *value = hex ? (long long)strtoull(p, &end, 16) : strtoll(p, &end, 10);
    *too_big = errno == ERANGE || (hex && *value < 0);
    return end != p && (hex || isdigit((unsigned char)p[*p == '-' || *p == '+']));
}

/* Whether an integer setting does not hold what its file says. libconfig
 * 1.5 (Debian 12's) reads an integer without an L suffix into 32 bits, so
 * one beyond them comes back wrapped with no error: 5000000000 as 705032704,
 * -4294967295 as 1. The literal on the setting's line tells; when it cannot
 * be found there (the value on a line of its own), the value stands. */
bool daemon_config_int_wrapped(const config_setting_t *s)
{
    const char *file = config_setting_source_file(s);
    const char *name = config_setting_name(s);
    unsigned line = config_setting_source_line(s);
    if (config_setting_type(s) != CONFIG_TYPE_INT || !file || !name || line == 0)
        return false;
    FILE *f = fopen(file, "re");
    if (!f)
        return false;
    char *text = NULL;
    size_t cap = 0;
    bool found = false, exact = false;
    for (unsigned i = 1; i <= line && getline(&text, &cap, f) >= 0; i++) {
        if (i < line)
            continue;
        /* Every `name = number` of the line: another group's setting of the
         * same name may share it. */
        for (const char *p = text; (p = strstr(p, name)) != NULL; p++) {
            long long v;
            bool too_big;
            bool starts = p == text || !(isalnum((unsigned char)p[-1]) || p[-1] == '_' ||
                                         p[-1] == '-' || p[-1] == '*');
            if (!starts || !literal_after(p, name, &v, &too_big))
                continue;
            found = true;
            exact = exact || (!too_big && v == config_setting_get_int64(s));
        }
    }
    free(text);
    fclose(f);
    return found && !exact;
}

static cairn_status read_number(const daemon_setting *o, char *field, config_setting_t *s,
                                const char *file, cairn_error *err)
{
    int type = config_setting_type(s);
    if (type != CONFIG_TYPE_INT && type != CONFIG_TYPE_INT64)
        return bad(err, file, s, o->path, "must be an integer");
    if (daemon_config_int_wrapped(s))
        return bad(err, file, s, o->path, DAEMON_CONFIG_WRAPPED_HINT);
    long long v = config_setting_get_int64(s);
    if (v < 0)
        return bad(err, file, s, o->path, "must not be negative");
    switch (o->kind) {
    case DAEMON_U64: *(uint64_t *)field = (uint64_t)v; break;
    case DAEMON_SIZE: *(size_t *)field = (size_t)v; break;
    case DAEMON_SIZE_MB:
        if ((unsigned long long)v > (SIZE_MAX >> 20))
            return bad(err, file, s, o->path, "is too large");
        *(size_t *)field = (size_t)v << 20;
        break;
    default:
        if (v > DAEMON_INT_MAX)
            return bad(err, file, s, o->path, "is too large");
        *(int *)field = (int)v;
    }
    return CAIRN_OK;
}

static cairn_status read_setting(const daemon_setting *o, void *cfg,
                                 config_setting_t *s, const char *file, cairn_error *err)
{
    char *field = (char *)cfg + o->offset;
    if (o->kind == DAEMON_STRING)
        return read_string(o, field, s, file, err);
    return read_number(o, field, s, file, err);
}

/* Walks one level of settings: scalars must be table rows, groups known
 * top-level groups. */
static cairn_status read_group(const daemon_config_table *t, void *cfg, config_setting_t *group,
                               const char *prefix, const char *file, cairn_error *err)
{
    int n = config_setting_length(group);
    for (int i = 0; i < n; i++) {
        config_setting_t *s = config_setting_get_elem(group, (unsigned)i);
        char path[128];
        snprintf(path, sizeof path, "%s%s%s", prefix, *prefix ? "." : "", config_setting_name(s));
        bool is_group = config_setting_is_group(s);
        const daemon_group *g = !*prefix ? find_group(t, path) : NULL;
        /* A known name of the wrong kind is a wrong type, not an unknown
         * setting: read_setting names the type a scalar needs. */
        const daemon_setting *o = find_setting(t, path);
        cairn_status st;
        if (g && !is_group)
            st = error_set(err, CAIRN_INVALID_PARAMETER_VALUE,
                           "%s:%d: '%s' must be a group: %s: { ... };", file,
                           config_setting_source_line(s), path, path);
        else if (g && g->read)
            st = g->read(cfg, s, file, err);
        else if (g)
            st = read_group(t, cfg, s, path, file, err);
        else if (o)
            st = read_setting(o, cfg, s, file, err);
        else
            st = error_set(err, CAIRN_INVALID_PARAMETER_VALUE, "%s:%d: unknown setting '%s'",
                           file, config_setting_source_line(s), path);
        if (st)
            return st;
    }
    return CAIRN_OK;
}

/* libconfig says only that a file could not be read; the operator needs why. */
static const char *why_unreadable(const char *path)
{
    struct stat st;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return strerror(errno);
    bool dir = fstat(fd, &st) == 0 && S_ISDIR(st.st_mode);
    close(fd);
    return dir ? "it is a directory" : "read error";
}

cairn_status daemon_config_load(const daemon_config_table *t, void *cfg, const char *path,
                                cairn_error *err)
{
    config_t lc;
    config_init(&lc);
    cairn_status st;
    if (!config_read_file(&lc, path)) {
        if (config_error_type(&lc) == CONFIG_ERR_FILE_IO)
            st = error_set(err, CAIRN_IO_ERROR, "cannot read config file %s: %s", path,
                           why_unreadable(path));
        else
            st = error_set(err, CAIRN_INVALID_PARAMETER_VALUE, "%s:%d: %s", path,
                           config_error_line(&lc), config_error_text(&lc));
    } else {
        st = read_group(t, cfg, config_root_setting(&lc), "", path, err);
    }
    config_destroy(&lc);
    return st;
}

cairn_status daemon_config_check_log_level(const char *level, cairn_error *err)
{
    if (kvlog_parse_level(level) < 0)
        return error_set(err, CAIRN_INVALID_PARAMETER_VALUE,
                         "log_level '%s' is not one of debug, info, warn, error", level);
    return CAIRN_OK;
}
