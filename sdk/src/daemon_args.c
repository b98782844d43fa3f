/*
 * The daemons' shared command line (daemon_args.h), so that cairn-agent and
 * cairn-coordinator answer --help, --version and a bad option alike.
 */
#include "daemon_args.h"

#include <errno.h>
#include <stdio.h>
#include <unistd.h>

#include "kvlog.h"

static int take_option(daemon_args *a, int opt, const char *arg)
{
    switch (opt) {
    case DAEMON_OPT_CONFIG: a->config_file = arg; return -1;
    case DAEMON_OPT_DATA_DIR: a->data_dir = arg; return -1;
    case DAEMON_OPT_LOG_LEVEL: a->log_level = arg; return -1;
    case DAEMON_OPT_HELP: fputs(a->usage, stdout); return 0;
    case DAEMON_OPT_VERSION: printf("%s %s\n", a->name, CAIRN_VERSION); return 0;
    case '?': fputs(a->usage, stderr); return 2; /* getopt has said what was wrong */
    default: return a->take(opt, arg, a->ctx);
    }
}

int daemon_args_parse(daemon_args *a, int argc, char **argv)
{
    int opt, rc = -1;
    while (rc < 0 && (opt = getopt_long(argc, argv, "c:h", a->longs, NULL)) != -1)
        rc = take_option(a, opt, optarg);
    if (rc < 0 && optind < argc) {
        fprintf(stderr, "%s: unexpected argument '%s'\n", a->name, argv[optind]);
        fputs(a->usage, stderr);
        return 2;
    }
    return rc;
}

const char *daemon_args_config_file(const daemon_args *a)
{
    if (a->config_file)
        return a->config_file;
    /* A missing default is no error: the embedded defaults then stand. One
     * that exists but cannot be read is loaded all the same, so that it
     * fails loudly instead of being silently replaced by the defaults. */
    if (access(a->default_config, F_OK) != 0 && errno == ENOENT)
        return NULL;
    return a->default_config;
}

void daemon_args_override(char *setting, size_t cap, const char *value)
{
    if (value)
        snprintf(setting, cap, "%s", value);
}

int daemon_bad_config(const cairn_error *err)
{
    daemon_fail("bad_config", err);
    return DAEMON_EXIT_CONFIG;
}

int daemon_fail(const char *event, const cairn_error *err)
{
    char q[600];
    kvlog(KVLOG_ERROR, event, "code=%s message=%s", cairn_status_name(err->status),
          kvlog_quote(q, sizeof q, err->message));
    return 1;
}
