/* cairn-coordinator: the fleet's one owner of tracking state. */
#include <signal.h>
#include <stdio.h>

#include "config.h"
#include "daemon_args.h"
#include "kvlog.h"
#include "server.h"

#define DEFAULT_CONFIG "/etc/cairn/coordinator.conf"

static const char usage[] =
    "usage: cairn-coordinator [-c FILE] [--data-dir DIR] [--listen ENDPOINT]\n"
    "                         [--log-level debug|info|warn|error] [--version]\n"
    "Serves agents, SDK clients and the cairn CLI on one ZeroMQ endpoint\n"
    "(default tcp://127.0.0.1:7700) and keeps their state in DIR.\n"
    "Without -c, " DEFAULT_CONFIG " is read when it exists.\n";

/* The coordinator's one option of its own; the rest are daemon_args'. */
static int take_option(int opt, const char *arg, void *endpoint)
{
    if (opt == 'l')
        *(const char **)endpoint = arg;
    return -1;
}

static const struct option longs[] = {
    {"config", required_argument, 0, DAEMON_OPT_CONFIG},
    {"data-dir", required_argument, 0, DAEMON_OPT_DATA_DIR},
    {"listen", required_argument, 0, 'l'},
    {"log-level", required_argument, 0, DAEMON_OPT_LOG_LEVEL},
    {"help", no_argument, 0, DAEMON_OPT_HELP},
    {"version", no_argument, 0, DAEMON_OPT_VERSION},
    {0, 0, 0, 0},
};

static cairn_status build_config(coord_config *cfg, const daemon_args *a,
                                 const char *listen_endpoint, cairn_error *err)
{
    coord_config_defaults(cfg);
    const char *file = daemon_args_config_file(a);
    cairn_status st = file ? coord_config_load(cfg, file, err) : CAIRN_OK;
    if (st)
        return st;
    daemon_args_override(cfg->data_dir, sizeof cfg->data_dir, a->data_dir);
    daemon_args_override(cfg->listen, sizeof cfg->listen, listen_endpoint);
    daemon_args_override(cfg->log_level, sizeof cfg->log_level, a->log_level);
    return coord_config_check(cfg, err);
}

int main(int argc, char **argv)
{
    const char *listen_endpoint = NULL;
    /* A write to a closed pipe or socket (stderr read by a pipe that went
     * away) must fail with EPIPE, not kill the process. */
    signal(SIGPIPE, SIG_IGN);
    daemon_args a = {.name = "cairn-coordinator", .usage = usage, .default_config = DEFAULT_CONFIG,
                     .longs = longs, .take = take_option, .ctx = &listen_endpoint};
    int code = daemon_args_parse(&a, argc, argv);
    if (code >= 0)
        return code;
    coord_config cfg;
    cairn_error err = {0};
    if (build_config(&cfg, &a, listen_endpoint, &err))
        return daemon_bad_config(&err);
    kvlog_set_level((kvlog_level)kvlog_parse_level(cfg.log_level));
    server s;
    cairn_status st = server_open(&s, &cfg, &err);
    if (!st)
        st = server_run(&s, &err);
    server_close(&s);
    if (st)
        return daemon_fail("fatal", &err);
    kvlog(KVLOG_INFO, "stopped", NULL);
    return 0;
}
