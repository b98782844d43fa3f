/* cairn-coordinator: the fleet's one owner of tracking state. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "error.h"
#include "kvlog.h"
#include "server.h"

static void usage(FILE *out)
{
    fprintf(out,
            "usage: cairn-coordinator [-c FILE] [--data-dir DIR] [--listen ENDPOINT]\n"
            "                         [--log-level debug|info|warn|error] [--version]\n"
            "Serves agents, SDK clients and the cairn CLI on one ZeroMQ endpoint\n"
            "(default tcp://127.0.0.1:7700) and keeps their state in DIR.\n"
            "Without -c, /etc/cairn/coordinator.conf is read when it exists.\n");
}

static int fail(const char *what, const cairn_error *err)
{
    char q[600];
    kvlog(KVLOG_ERROR, what, "code=%s message=%s", cairn_status_name(err->status),
          kvlog_quote(q, sizeof q, err->message));
    return 1;
}

typedef struct cli_overrides {
    const char *config_file;
    const char *data_dir;
    const char *listen;
    const char *log_level;
} cli_overrides;

/* Returns -1 to continue, or the exit code. */
static int parse_args(int argc, char **argv, cli_overrides *o)
{
    static const struct option longs[] = {
        {"config", required_argument, 0, 'c'},   {"data-dir", required_argument, 0, 'd'},
        {"listen", required_argument, 0, 'l'},   {"log-level", required_argument, 0, 'L'},
        {"help", no_argument, 0, 'h'},           {"version", no_argument, 0, 'V'},
        {0, 0, 0, 0},
    };
    int c;
    while ((c = getopt_long(argc, argv, "c:h", longs, NULL)) != -1) {
        switch (c) {
        case 'c': o->config_file = optarg; break;
        case 'd': o->data_dir = optarg; break;
        case 'l': o->listen = optarg; break;
        case 'L': o->log_level = optarg; break;
        case 'h': usage(stdout); return 0;
        case 'V': printf("cairn-coordinator %s\n", CAIRN_VERSION); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "cairn-coordinator: unexpected argument '%s'\n", argv[optind]);
        usage(stderr);
        return 2;
    }
    return -1;
}

static void copy_setting(char *dst, size_t cap, const char *src)
{
    if (src)
        snprintf(dst, cap, "%s", src);
}

static cairn_status build_config(coord_config *cfg, const cli_overrides *o, cairn_error *err)
{
    coord_config_defaults(cfg);
    const char *file = o->config_file;
    FILE *probe = file ? NULL : fopen("/etc/cairn/coordinator.conf", "r");
    if (probe) {
        fclose(probe);
        file = "/etc/cairn/coordinator.conf";
    }
    cairn_status st = file ? coord_config_load(cfg, file, err) : CAIRN_OK;
    if (st)
        return st;
    copy_setting(cfg->data_dir, sizeof cfg->data_dir, o->data_dir);
    copy_setting(cfg->listen, sizeof cfg->listen, o->listen);
    copy_setting(cfg->log_level, sizeof cfg->log_level, o->log_level);
    if (kvlog_parse_level(cfg->log_level) < 0)
        return error_set(err, CAIRN_INVALID_PARAMETER_VALUE,
                         "log_level '%s' is not one of debug, info, warn, error", cfg->log_level);
    return coord_config_check(cfg, err);
}

int main(int argc, char **argv)
{
    cli_overrides o = {0};
    int code = parse_args(argc, argv, &o);
    if (code >= 0)
        return code;
    coord_config cfg;
    cairn_error err = {0};
    if (build_config(&cfg, &o, &err))
        return fail("bad_config", &err);
    kvlog_set_level((kvlog_level)kvlog_parse_level(cfg.log_level));
    server s;
    cairn_status st = server_open(&s, &cfg, &err);
    if (!st)
        st = server_run(&s, &err);
    server_close(&s);
    if (st)
        return fail("fatal", &err);
    kvlog(KVLOG_INFO, "stopped", NULL);
    return 0;
}
