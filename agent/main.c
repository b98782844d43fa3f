/* cairn-agent: one per host; spools local SDK writes and forwards them. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent.h"
#include "config.h"
#include "daemon_args.h"
#include "kvlog.h"
#include "plugin_isolate.h"

#define DEFAULT_CONFIG "/etc/cairn/agent.conf"
#define MAX_CLI_LABELS 64

static const char usage[] =
    "usage: cairn-agent [-c FILE] [--coordinator ENDPOINT] [--data-dir DIR]\n"
    "                   [--sdk-endpoint ENDPOINT] [--label KEY=VALUE]...\n"
    "                   [--log-level debug|info|warn|error] [--version]\n"
    "       cairn-agent [-c FILE] [--data-dir DIR] --list-rejected\n"
    "Takes the writes of local training code on ENDPOINT (default\n"
    "ipc:///run/cairn/agent.sock), keeps them in a durable spool in DIR and\n"
    "forwards them to the coordinator (default tcp://127.0.0.1:7700).\n"
    "Without -c, " DEFAULT_CONFIG " is read when it exists.\n"
    "--list-rejected prints the writes the coordinator refused, and exits.\n";

/* The agent's own options; -c, --data-dir and --log-level are daemon_args'. */
typedef struct agent_overrides {
    const char *coordinator;
    const char *sdk_endpoint;
    const char *labels[MAX_CLI_LABELS];
    int n_labels;
    bool list_rejected;
} agent_overrides;

static int add_label(agent_overrides *o, const char *kv)
{
    if (o->n_labels == MAX_CLI_LABELS) {
        fprintf(stderr, "cairn-agent: more than %d --label options\n", MAX_CLI_LABELS);
        return 2;
    }
    o->labels[o->n_labels++] = kv;
    return -1;
}

/* daemon_args' callback: returns -1 to continue, or the exit code. */
static int take_option(int opt, const char *arg, void *ctx)
{
    agent_overrides *o = ctx;
    switch (opt) {
    case 'C': o->coordinator = arg; break;
    case 's': o->sdk_endpoint = arg; break;
    case 'l': return add_label(o, arg);
    case 'R': o->list_rejected = true; break;
    }
    return -1;
}

static const struct option longs[] = {
    {"config", required_argument, 0, DAEMON_OPT_CONFIG},
    {"coordinator", required_argument, 0, 'C'},
    {"data-dir", required_argument, 0, DAEMON_OPT_DATA_DIR},
    {"sdk-endpoint", required_argument, 0, 's'},
    {"label", required_argument, 0, 'l'},
    {"log-level", required_argument, 0, DAEMON_OPT_LOG_LEVEL},
    {"list-rejected", no_argument, 0, 'R'},
    {"help", no_argument, 0, DAEMON_OPT_HELP},
    {"version", no_argument, 0, DAEMON_OPT_VERSION},
    {0, 0, 0, 0},
};

static cairn_status build_config(agent_config *cfg, const daemon_args *a, cairn_error *err)
{
    const agent_overrides *o = a->ctx;
    agent_config_defaults(cfg);
    const char *file = daemon_args_config_file(a);
    cairn_status st = file ? agent_config_load(cfg, file, err) : CAIRN_OK;
    if (st)
        return st;
    daemon_args_override(cfg->coordinator, sizeof cfg->coordinator, o->coordinator);
    daemon_args_override(cfg->data_dir, sizeof cfg->data_dir, a->data_dir);
    daemon_args_override(cfg->sdk_endpoint, sizeof cfg->sdk_endpoint, o->sdk_endpoint);
    daemon_args_override(cfg->log_level, sizeof cfg->log_level, a->log_level);
    for (int i = 0; i < o->n_labels && !st; i++)
        st = agent_config_label(cfg, o->labels[i], err);
    return st ? st : agent_config_check(cfg, err);
}

/* Opens the spool read-only beside a running agent and prints its rejected list. */
static int list_rejected(const agent_config *cfg)
{
    spool s;
    cairn_error err = {0};
    if (spool_open(&s, cfg->data_dir, cfg->spool_map_size, true, &err))
        return daemon_fail("bad_spool", &err);
    long n = spool_print_rejected(&s, stdout);
    spool_close(&s);
    return n < 0 ? 1 : 0;
}

static int serve(const agent_config *cfg)
{
    agent_process *a = calloc(1, sizeof *a);
    cairn_error err = {0};
    if (!a)
        return fprintf(stderr, "cairn-agent: out of memory\n"), 1;
    cairn_status st = agent_open(a, cfg, &err);
    if (!st)
        st = agent_run(a, &err);
    agent_close(a);
    free(a);
    if (st)
        return daemon_fail("fatal", &err);
    kvlog(KVLOG_INFO, "stopped", NULL);
    return 0;
}

int main(int argc, char **argv)
{
    /* An isolated plugin's process (plugin_isolate.h): not for people. */
    if (argc == 3 && strcmp(argv[1], "--plugin-child") == 0)
        return plugin_child_main(atoi(argv[2]));
    /* A write to a closed pipe or socket must fail with EPIPE, not kill the
     * agent: an isolated plugin that dies while events are queued to it, or
     * stderr read by a pipe that went away. (Plugin processes get the
     * default back: plugin_isolate.c.) */
    signal(SIGPIPE, SIG_IGN);
    agent_overrides o = {0};
    daemon_args a = {.name = "cairn-agent", .usage = usage, .default_config = DEFAULT_CONFIG,
                     .longs = longs, .take = take_option, .ctx = &o};
    int code = daemon_args_parse(&a, argc, argv);
    if (code >= 0)
        return code;
    agent_config cfg;
    cairn_error err = {0};
    if (build_config(&cfg, &a, &err)) {
        agent_config_free(&cfg);
        return daemon_bad_config(&err);
    }
    kvlog_set_level((kvlog_level)kvlog_parse_level(cfg.log_level));
    code = o.list_rejected ? list_rejected(&cfg) : serve(&cfg);
    agent_config_free(&cfg);
    return code;
}
