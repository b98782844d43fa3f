/*
 * The daemons' config files. Each daemon describes its settings in a table
 * (path, kind, where the value goes in its config struct); one walk over the
 * libconfig file fills the struct and refuses any setting the table does not
 * name, so that a typo never passes silently.
 */
#ifndef CAIRN_DAEMON_CONFIG_H
#define CAIRN_DAEMON_CONFIG_H

#include <libconfig.h>
#include <stdbool.h>
#include <stddef.h>

#include "cairn/status.h"

typedef enum {
    DAEMON_STRING,  /* char[cap] */
    DAEMON_INT,     /* int */
    DAEMON_U64,     /* uint64_t */
    DAEMON_SIZE,    /* size_t, written in bytes */
    DAEMON_SIZE_MB, /* size_t, written in MiB */
} daemon_setting_kind;

typedef struct daemon_setting {
    const char *path; /* libconfig path, e.g. "spool.max_bytes" */
    daemon_setting_kind kind;
    size_t offset; /* of the field in the daemon's config struct */
    size_t cap;    /* strings: buffer size */
} daemon_setting;

/* Table rows for a field of config struct `type`. */
#define DAEMON_STR(type, path, field) \
    {path, DAEMON_STRING, offsetof(type, field), sizeof((type *)0)->field}
#define DAEMON_NUM(type, kind, path, field) {path, kind, offsetof(type, field), 0}

/* Reads a group whose keys are the daemon's own rather than table rows
 * (the agent's labels and plugins). */
typedef cairn_status (*daemon_group_reader)(void *cfg, config_setting_t *group, const char *file,
                                            cairn_error *err);

typedef struct daemon_group {
    const char *name;           /* a top-level group */
    daemon_group_reader read;   /* NULL: its settings are table rows "name.key" */
} daemon_group;

/* An array and its length, for the table's settings and groups. */
#define DAEMON_ROWS(array) array, sizeof array / sizeof array[0]

typedef struct daemon_config_table {
    const daemon_setting *settings;
    size_t n_settings;
    const daemon_group *groups;
    size_t n_groups;
} daemon_config_table;

/* DAEMON_INT values above this are refused: no setting needs more, and
 * beyond INT_MAX a value would silently wrap. */
#define DAEMON_INT_MAX 1000000000LL

/* Reads a libconfig file over the current values of cfg; unknown settings
 * are errors, reported as "FILE:LINE: unknown setting 'PATH'". */
cairn_status daemon_config_load(const daemon_config_table *t, void *cfg, const char *path,
                                cairn_error *err);

/* Whether an integer setting was read wrapped: libconfig 1.5 keeps an
 * integer written without an L suffix in 32 bits, silently. */
bool daemon_config_int_wrapped(const config_setting_t *s);
/* What a refusal of such a setting says after its name. */
#define DAEMON_CONFIG_WRAPPED_HINT "is beyond 32 bits: write it with an L suffix, as in 5000000000L"

/* Refuses a log level kvlog does not know, in both daemons' words. */
cairn_status daemon_config_check_log_level(const char *level, cairn_error *err);

#endif
