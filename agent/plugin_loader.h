/*
 * Finding, vetting and opening a plugin's shared object. Everything that can
 * be checked before the plugin's code runs is: the path must lie inside a
 * configured plugin directory, and neither the file nor any directory above
 * it may be writable by anyone but its owner (root or the agent's user),
 * except a root-owned directory with the sticky bit (as /tmp), where others
 * cannot replace what is not theirs. Then dlopen(RTLD_NOW | RTLD_LOCAL) and
 * the descriptor: ABI major, size, kind, name, callbacks, schema.
 */
#ifndef CAIRN_AGENT_PLUGIN_LOADER_H
#define CAIRN_AGENT_PLUGIN_LOADER_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>

#include "cairn/plugin.h"
#include "cairn/status.h"

/* The size of the 1.0 descriptor: the least a plugin of major 1 can have. */
#define PLUGIN_DESCRIPTOR_MIN_SIZE (offsetof(cairn_plugin_descriptor, ops) + sizeof(const void *))

typedef struct loaded_plugin {
    void *dl;
    const cairn_plugin_descriptor *desc;
    char path[PATH_MAX]; /* the resolved path */
} loaded_plugin;

/* A relative path is looked up in each directory in turn; an absolute one
 * must lie inside one of them. */
cairn_status plugin_find(const char *path, char *const *dirs, size_t n_dirs, char *out, size_t cap,
                         cairn_error *err);
cairn_status plugin_check_permissions(const char *path, cairn_error *err);
/* dlopen and descriptor checks; on failure nothing stays loaded. */
cairn_status plugin_open(const char *path, loaded_plugin *out, cairn_error *err);
cairn_status plugin_descriptor_check(const cairn_plugin_descriptor *d, cairn_error *err);
void plugin_unload(loaded_plugin *p);

const char *plugin_kind_name(cairn_plugin_kind kind);
bool plugin_name_valid(const char *name);

#endif
