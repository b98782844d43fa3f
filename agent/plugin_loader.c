/* Vetting and opening plugins (see plugin_loader.h). */
#include "plugin_loader.h"

#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "error.h"
#include "plugin_config.h"

const char *plugin_kind_name(cairn_plugin_kind kind)
{
    switch (kind) {
    case CAIRN_PLUGIN_TRACKER: return "tracker";
    case CAIRN_PLUGIN_DETECTOR: return "detector";
    case CAIRN_PLUGIN_DEPLOYER: return "deployer";
    case CAIRN_PLUGIN_NOTIFIER: return "notifier";
    default: return "unknown";
    }
}

bool plugin_name_valid(const char *name)
{
    size_t n = name ? strnlen(name, 65) : 0;
    if (n == 0 || n > 64)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-'))
            return false;
    }
    return true;
}

/* ---- where ---- */

static bool inside(const char *path, const char *dir)
{
    size_t n = strlen(dir);
    while (n > 1 && dir[n - 1] == '/')
        n--;
    return strncmp(path, dir, n) == 0 && path[n] == '/';
}

enum { FOUND, MISSING, OUTSIDE, TOO_LONG };

static int resolve_in(const char *path, const char *dir, char *out, size_t cap)
{
    char real_dir[PATH_MAX], joined[PATH_MAX], real[PATH_MAX];
    if (!realpath(dir, real_dir))
        return MISSING;
    if (path[0] == '/')
        snprintf(joined, sizeof joined, "%s", path);
    else if (snprintf(joined, sizeof joined, "%s/%s", real_dir, path) >= (int)sizeof joined)
        return TOO_LONG;
    if (!realpath(joined, real))
        return MISSING;
    if (!inside(real, real_dir))
        return OUTSIDE;
    if (strlen(real) >= cap)
        return TOO_LONG;
    memcpy(out, real, strlen(real) + 1);
    return FOUND;
}

cairn_status plugin_find(const char *path, char *const *dirs, size_t n_dirs, char *out, size_t cap,
                         cairn_error *err)
{
    bool outside = false;
    for (size_t i = 0; i < n_dirs; i++) {
        int r = resolve_in(path, dirs[i], out, cap);
        if (r == FOUND)
            return CAIRN_OK;
        if (r == TOO_LONG)
            return error_set(err, CAIRN_INVALID_PARAMETER_VALUE, "%s: path too long", path);
        outside |= r == OUTSIDE;
    }
    if (outside || (path[0] == '/' && access(path, F_OK) == 0))
        return error_set(err, CAIRN_INVALID_PARAMETER_VALUE,
                         "%s is outside the plugin directories (plugins.dirs)", path);
    char searched[512] = "";
    for (size_t i = 0, used = 0; i < n_dirs && used < sizeof searched; i++)
        used += (size_t)snprintf(searched + used, sizeof searched - used, "%s%s", i ? ", " : "",
                                 dirs[i]);
    return error_set(err, CAIRN_RESOURCE_DOES_NOT_EXIST,
                     "%s not found in the plugin directories (%s)", path, searched);
}

/* ---- who may write it ---- */

static cairn_status check_one(const char *path, bool is_file, cairn_error *err)
{
    struct stat st;
    if (stat(path, &st) != 0)
        return error_set(err, CAIRN_RESOURCE_DOES_NOT_EXIST, "%s: %s", path, strerror(errno));
    if (is_file && !S_ISREG(st.st_mode))
        return error_set(err, CAIRN_INVALID_PARAMETER_VALUE, "%s is not a regular file", path);
    if (st.st_uid != 0 && st.st_uid != geteuid())
        return error_set(err, CAIRN_INVALID_PARAMETER_VALUE,
                         "%s is owned by uid %u, neither root nor the agent's user", path,
                         (unsigned)st.st_uid);
    bool sticky_root = !is_file && (st.st_mode & S_ISVTX) && st.st_uid == 0;
    if ((st.st_mode & (S_IWGRP | S_IWOTH)) && !sticky_root)
        return error_set(err, CAIRN_INVALID_PARAMETER_VALUE, "%s is writable by %s (mode %04o)", path,
                         (st.st_mode & S_IWOTH) ? "others" : "its group",
                         (unsigned)(st.st_mode & 07777));
    return CAIRN_OK;
}

cairn_status plugin_check_permissions(const char *path, cairn_error *err)
{
    cairn_status st = check_one(path, true, err);
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%s", path);
    while (!st) {
        char *slash = strrchr(dir, '/');
        if (!slash)
            break;
        if (slash == dir) {
            st = check_one("/", false, err);
            break;
        }
        *slash = '\0';
        st = check_one(dir, false, err);
    }
    return st;
}

/* ---- what it is ---- */

static size_t ops_min_size(cairn_plugin_kind kind)
{
    switch (kind) {
    case CAIRN_PLUGIN_TRACKER: return sizeof(uint32_t);
    case CAIRN_PLUGIN_DETECTOR: return offsetof(cairn_detector_ops, on_event) + sizeof(void *);
    case CAIRN_PLUGIN_DEPLOYER: return offsetof(cairn_deployer_ops, on_command) + sizeof(void *);
    case CAIRN_PLUGIN_NOTIFIER: return offsetof(cairn_notifier_ops, deliver) + sizeof(void *);
    default: return 0;
    }
}

static bool ops_complete(const cairn_plugin_descriptor *d)
{
    switch (d->kind) {
    case CAIRN_PLUGIN_TRACKER: return true;
    case CAIRN_PLUGIN_DETECTOR: return ((const cairn_detector_ops *)d->ops)->on_event != NULL;
    case CAIRN_PLUGIN_DEPLOYER: return ((const cairn_deployer_ops *)d->ops)->on_command != NULL;
    case CAIRN_PLUGIN_NOTIFIER: return ((const cairn_notifier_ops *)d->ops)->deliver != NULL;
    default: return false;
    }
}

cairn_status plugin_descriptor_check(const cairn_plugin_descriptor *d, cairn_error *err)
{
    if (!d)
        return error_set(err, CAIRN_INVALID_PARAMETER_VALUE, "cairn_plugin_entry returned NULL");
    if (d->size < PLUGIN_DESCRIPTOR_MIN_SIZE)
        return error_set(err, CAIRN_INVALID_PARAMETER_VALUE,
                         "descriptor too small (%u bytes, ABI 1.0 needs %zu)", (unsigned)d->size,
                         PLUGIN_DESCRIPTOR_MIN_SIZE);
    if (d->abi_major != CAIRN_PLUGIN_ABI_MAJOR)
        return error_set(err, CAIRN_INVALID_PARAMETER_VALUE,
                         "built for plugin ABI %u.%u; this agent loads ABI %d (up to %d.%d)",
                         (unsigned)d->abi_major, (unsigned)d->abi_minor, CAIRN_PLUGIN_ABI_MAJOR,
                         CAIRN_PLUGIN_ABI_MAJOR, CAIRN_PLUGIN_ABI_MINOR);
    if (d->kind < CAIRN_PLUGIN_TRACKER || d->kind > CAIRN_PLUGIN_NOTIFIER)
        return error_set(err, CAIRN_INVALID_PARAMETER_VALUE, "unknown plugin kind %d", (int)d->kind);
    if (!plugin_name_valid(d->name))
        return error_set(err, CAIRN_INVALID_PARAMETER_VALUE,
                         "descriptor name must be 1-64 of a-z 0-9 _ -");
    if (!d->init || !d->fini || !d->ops)
        return error_set(err, CAIRN_INVALID_PARAMETER_VALUE, "descriptor lacks init, fini or ops");
    const uint32_t ops_size = *(const uint32_t *)d->ops;
    if (ops_size < ops_min_size(d->kind) || !ops_complete(d))
        return error_set(err, CAIRN_INVALID_PARAMETER_VALUE, "%s ops too small or incomplete",
                         plugin_kind_name(d->kind));
    return plugin_schema_check(d->config, err);
}

cairn_status plugin_open(const char *path, loaded_plugin *out, cairn_error *err)
{
    memset(out, 0, sizeof *out);
    dlerror();
    void *dl = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!dl)
        return error_set(err, CAIRN_INVALID_PARAMETER_VALUE, "dlopen: %s", dlerror());
    cairn_plugin_entry_fn entry;
    *(void **)&entry = dlsym(dl, CAIRN_PLUGIN_ENTRY_SYMBOL);
    if (!entry) {
        dlclose(dl);
        return error_set(err, CAIRN_INVALID_PARAMETER_VALUE, "no %s symbol: not a cairn plugin",
                         CAIRN_PLUGIN_ENTRY_SYMBOL);
    }
    const cairn_plugin_descriptor *d = entry();
    cairn_status st = plugin_descriptor_check(d, err);
    if (st) {
        dlclose(dl);
        return st;
    }
    out->dl = dl;
    out->desc = d;
    snprintf(out->path, sizeof out->path, "%s", path);
    return CAIRN_OK;
}

void plugin_unload(loaded_plugin *p)
{
    if (p->dl)
        dlclose(p->dl);
    p->dl = NULL;
    p->desc = NULL;
}
