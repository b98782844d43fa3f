/*
 * The command line both daemons share: -c/--config, --data-dir, --log-level,
 * --help and --version, a default config file read when it exists, and how
 * main reports a failure. Each daemon adds options of its own through a
 * callback.
 */
#ifndef CAIRN_DAEMON_ARGS_H
#define CAIRN_DAEMON_ARGS_H

#include <getopt.h>
#include <stddef.h>

#include "cairn/status.h"

/* getopt values of the shared options: a daemon's long option table lists
 * them with these (in the order its --help reads), its own with others. */
enum {
    DAEMON_OPT_CONFIG = 'c',
    DAEMON_OPT_DATA_DIR = 'd',
    DAEMON_OPT_LOG_LEVEL = 'L',
    DAEMON_OPT_HELP = 'h',
    DAEMON_OPT_VERSION = 'V',
};

typedef struct daemon_args {
    const char *name;           /* "cairn-agent": for --version and errors */
    const char *usage;          /* what --help prints, and a bad command line */
    const char *default_config; /* read when -c is not given and it exists */
    const struct option *longs;
    /* Takes one of the daemon's own options: -1 to go on, or the exit code. */
    int (*take)(int opt, const char *arg, void *ctx);
    void *ctx;
    /* The shared options' values; NULL when not given. */
    const char *config_file;
    const char *data_dir;
    const char *log_level;
} daemon_args;

/* Returns -1 to go on, or the exit code (0 after --help or --version, 2 for
 * a bad command line). */
int daemon_args_parse(daemon_args *a, int argc, char **argv);

/* The file to read: -c's, else the default when it exists, else NULL. */
const char *daemon_args_config_file(const daemon_args *a);

/* Copies a command-line value over a setting, when one was given. */
void daemon_args_override(char *setting, size_t cap, const char *value);

/* Logs what failed (a kvlog error event) and returns main's exit code, 1. */
int daemon_fail(const char *event, const cairn_error *err);

/* sysexits.h's EX_CONFIG: a bad setting or config file, which starting again
 * cannot mend. The systemd units do not restart on it (RestartPreventExitStatus),
 * where exit 1 every two seconds would go on for ever. */
#define DAEMON_EXIT_CONFIG 78

/* Logs event=bad_config and returns DAEMON_EXIT_CONFIG. */
int daemon_bad_config(const cairn_error *err);

#endif
