/* cairn-agent: one per host; spools local SDK writes and forwards them. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent.h"
#include "config.h"
#include "error.h"
#include "kvlog.h"
#include "plugin_isolate.h"

#define DEFAULT_CONFIG "/etc/cairn/agent.conf"
#define MAX_CLI_LABELS 64

static void usage(FILE *out)
{
    fprintf(out,
            "usage: cairn-agent [-c FILE] [--coordinator ENDPOINT] [--data-dir DIR]\n"
            "                   [--sdk-endpoint ENDPOINT] [--label KEY=VALUE]...\n"
            "                   [--log-level debug|info|warn|error] [--version]\n"
            "       cairn-agent [-c FILE] [--data-dir DIR] --list-rejected\n"
            "Takes the writes of local training code on ENDPOINT (default\n"
            "ipc:///run/cairn/agent.sock), keeps them in a durable spool in DIR and\n"
            "forwards them to the coordinator (default tcp://127.0.0.1:7700).\n"
            "Without -c, " DEFAULT_CONFIG " is read when it exists.\n"
            "--list-rejected prints the writes the coordinator refused, and exits.\n");
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
    const char *coordinator;
    const char *data_dir;
    const char *sdk_endpoint;
    const char *log_level;
    const char *labels[MAX_CLI_LABELS];
    int n_labels;
    bool list_rejected;
} cli_overrides;

static int add_label(cli_overrides *o, const char *kv)
{
    if (o->n_labels == MAX_CLI_LABELS) {
        fprintf(stderr, "cairn-agent: more than %d --label options\n", MAX_CLI_LABELS);
        return 2;
    }
    o->labels[o->n_labels++] = kv;
    return -1;
}

/* Returns -1 to continue, or the exit code. */
static int parse_args(int argc, char **argv, cli_overrides *o)
{
    static const struct option longs[] = {
        {"config", required_argument, 0, 'c'},       {"coordinator", required_argument, 0, 'C'},
        {"data-dir", required_argument, 0, 'd'},     {"sdk-endpoint", required_argument, 0, 's'},
        {"label", required_argument, 0, 'l'},        {"log-level", required_argument, 0, 'L'},
        {"list-rejected", no_argument, 0, 'R'},      {"help", no_argument, 0, 'h'},
        {"version", no_argument, 0, 'V'},            {0, 0, 0, 0},
    };
    int c, rc = -1;
    while (rc < 0 && (c = getopt_long(argc, argv, "c:h", longs, NULL)) != -1) {
        switch (c) {
        case 'c': o->config_file = optarg; break;
        case 'C': o->coordinator = optarg; break;
        case 'd': o->data_dir = optarg; break;
        case 's': o->sdk_endpoint = optarg; break;
        case 'l': rc = add_label(o, optarg); break;
        case 'L': o->log_level = optarg; break;
        case 'R': o->list_rejected = true; break;
        case 'h': usage(stdout); return 0;
        case 'V': printf("cairn-agent %s\n", CAIRN_VERSION); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (rc < 0 && optind < argc) {
        fprintf(stderr, "cairn-agent: unexpected argument '%s'\n", argv[optind]);
        usage(stderr);
        return 2;
    }
    return rc;
}

static void copy_setting(char *dst, size_t cap, const char *src)
{
    if (src)
        snprintf(dst, cap, "%s", src);
}

static cairn_status build_config(agent_config *cfg, const cli_overrides *o, cairn_error *err)
{
    agent_config_defaults(cfg);
    const char *file = o->config_file;
    FILE *probe = file ? NULL : fopen(DEFAULT_CONFIG, "r");
    if (probe) {
        fclose(probe);
        file = DEFAULT_CONFIG;
    }
    cairn_status st = file ? agent_config_load(cfg, file, err) : CAIRN_OK;
    if (st)
        return st;
    copy_setting(cfg->coordinator, sizeof cfg->coordinator, o->coordinator);
    copy_setting(cfg->data_dir, sizeof cfg->data_dir, o->data_dir);
    copy_setting(cfg->sdk_endpoint, sizeof cfg->sdk_endpoint, o->sdk_endpoint);
    copy_setting(cfg->log_level, sizeof cfg->log_level, o->log_level);
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
        return fail("bad_spool", &err);
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
        return fail("fatal", &err);
    kvlog(KVLOG_INFO, "stopped", NULL);
    return 0;
}

int main(int argc, char **argv)
{
    /* An isolated plugin's process (plugin_isolate.h): not for people. */
    if (argc == 3 && strcmp(argv[1], "--plugin-child") == 0)
        return plugin_child_main(atoi(argv[2]));
    cli_overrides o = {0};
    int code = parse_args(argc, argv, &o);
    if (code >= 0)
        return code;
    agent_config cfg;
    cairn_error err = {0};
    if (build_config(&cfg, &o, &err)) {
        agent_config_free(&cfg);
        return fail("bad_config", &err);
    }
    kvlog_set_level((kvlog_level)kvlog_parse_level(cfg.log_level));
    code = o.list_rejected ? list_rejected(&cfg) : serve(&cfg);
    agent_config_free(&cfg);
    return code;
}
