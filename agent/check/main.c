/*
 * cairn-plugin-check: loads a plugin outside the agent, as the agent would,
 * and shows what it does. The plugin author's harness (docs/plugins.md).
 *
 *   cairn-plugin-check PLUGIN.so [--config FILE] [--state-dir DIR]
 *       [--event JSON]... [--command JSON]... [--blob FILE]... [--run-for MS]
 *
 * One JSON object per line on stdout: the descriptor, then what happens
 * (emit, progress, done, deliver), then the counters. Exit 0 when all went
 * well, 1 on any fault of the plugin, 2 on a usage error.
 */
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <libconfig.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "clock.h"
#include "error.h"
#include "kvlog.h"
#include "plugin_host.h"
#include "plugin_json.h"

static void usage(FILE *out)
{
    fprintf(out,
            "usage: cairn-plugin-check PLUGIN.so [--config FILE] [--state-dir DIR]\n"
            "           [--event JSON]... [--command JSON]... [--blob FILE]... [--run-for MS]\n"
            "  --config FILE     libconfig file: the plugin's config group, at top level\n"
            "  --state-dir DIR   the plugin's state directory (default: a new temporary one)\n"
            "  --event JSON      {\"type\": T, field: value...} fed to a detector or notifier\n"
            "  --command JSON    {\"type\": \"deploy\", \"id\": I, \"deadline_ms\": N, args...}\n"
            "  --blob FILE       served to fetch_blob under the file's sha256\n"
            "  --run-for MS      keep timers and watches running this long after the input\n");
}

static int parse_args(int argc, char **argv, check_opts *o)
{
    static const struct option longs[] = {
        {"config", required_argument, 0, 'c'},  {"state-dir", required_argument, 0, 's'},
        {"event", required_argument, 0, 'e'},   {"command", required_argument, 0, 'm'},
        {"blob", required_argument, 0, 'b'},    {"run-for", required_argument, 0, 'r'},
        {"help", no_argument, 0, 'h'},          {0, 0, 0, 0}};
    int c;
    while ((c = getopt_long(argc, argv, "c:h", longs, NULL)) != -1) {
        char *end;
        switch (c) {
        case 'c': o->config_file = optarg; break;
        case 's': o->state_dir = optarg; break;
        case 'e': o->inputs[o->n_inputs++] = (check_input){CHECK_EVENT, optarg}; break;
        case 'm': o->inputs[o->n_inputs++] = (check_input){CHECK_COMMAND, optarg}; break;
        case 'b': o->blobs[o->n_blobs++].path = optarg; break;
        case 'r':
            o->run_for_ms = strtol(optarg, &end, 10);
            if (*end || o->run_for_ms < 0)
                return -1;
            break;
        case 'h': usage(stdout); exit(0);
        default: return -1;
        }
        if (o->n_inputs == CHECK_MAX_INPUTS || o->n_blobs == CHECK_MAX_BLOBS)
            return -1;
    }
    if (optind != argc - 1)
        return -1;
    o->plugin = argv[optind];
    return 0;
}

int main(int argc, char **argv)
{
    check_opts o = {0};
    if (parse_args(argc, argv, &o) != 0) {
        usage(stderr);
        return 2;
    }
    kvlog_set_level(KVLOG_DEBUG);
    return check_run(&o);
}
