/*
 * The fleet: `cairn agents` (who is there) and `cairn ping --selector`
 * (a ping fanned out through the coordinator to the agents chosen).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "format.h"
#include "show.h"

/* ---- agents ---- */

/* "k=v, k=v" */
static int print_agents(const cairn_agent_list *list)
{
    table *t = table_new(7);
    bool ok = t && table_add(t, (const char *[]){"ID", "HOST", "STATUS", "LAST SEEN", "SPOOL",
                                                 "VERSION", "LABELS"});
    for (size_t i = 0; ok && i < list->count; i++) {
        const cairn_agent *a = &list->items[i];
        char seen[FMT_TIME_LEN], spool[32], *labels = fmt_kv_list(a->labels, a->n_labels);
        snprintf(spool, sizeof spool, "%" PRIu64, a->spool_depth);
        ok = labels && table_add(t, (const char *[]){a->id, a->host, a->status,
                                                     fmt_time(a->last_seen, seen), spool,
                                                     a->version, labels});
        free(labels);
    }
    if (t)
        table_align_right(t, 4);
    return cli_print_table(t, ok);
}

int cmd_agents(cli_ctx *ctx, const cli_command *self, int argc, char **argv)
{
    parsed_args a;
    int rc = cli_parse_options(ctx, self, argc, argv, NULL, &a);
    if (rc >= 0)
        return rc;
    args_free(&a);
    cairn_error err;
    cairn_agent_list *list = NULL;
    cairn_client *c = cli_client(ctx, &err);
    if (!c || cairn_agents_list(c, &list, &err))
        return cli_fail(&err);
    rc = ctx->json ? cli_print_json(cairn_agent_list_to_json(list)) : print_agents(list);
    cairn_agent_list_free(list);
    return rc;
}

/* ---- ping --selector ---- */

static int print_results(const cairn_fanout_list *list)
{
    if (list->count == 0)
        return CLI_OK; /* cli_judge_fanout says why */
    table *t = table_new(5);
    bool ok = t && table_add(t, (const char *[]){"AGENT", "HOST", "RESULT", "RTT_MS", "ERROR"});
    for (size_t i = 0; ok && i < list->count; i++) {
        const cairn_fanout_result *r = &list->items[i];
        char rtt[32];
        snprintf(rtt, sizeof rtt, "%.3f", r->rtt_ms);
        ok = table_add(t, (const char *[]){r->agent, r->host, r->result, rtt,
                                           r->error ? r->error : ""});
    }
    if (t)
        table_align_right(t, 3);
    return cli_print_table(t, ok);
}

int cli_judge_fanout(size_t n, size_t bad, const char *selector)
{
    if (n == 0) {
        cli_error("no agent matches the selector '%s'", selector);
        return CLI_FAILED;
    }
    if (bad)
        fprintf(stderr, "cairn: %zu of %zu agents did not answer ok\n", bad, n);
    return bad ? CLI_FAILED : CLI_OK;
}

const char *cli_protocol_selector(const char *selector)
{
    return strcmp(selector, "all") == 0 || strcmp(selector, "*") == 0 ? "" : selector;
}

static size_t count_bad(const cairn_fanout_list *list)
{
    size_t bad = 0;
    for (size_t i = 0; i < list->count; i++)
        bad += strcmp(list->items[i].result, "ok") != 0;
    return bad;
}

int cli_ping_agents(cli_ctx *ctx, const char *selector, int timeout_ms)
{
    cairn_error err;
    cairn_fanout_list *list = NULL;
    cairn_fanout_opts o = {.selector = cli_protocol_selector(selector), .command = "ping",
                           .timeout_ms = timeout_ms};
    cairn_client *c = cli_client(ctx, &err);
    if (!c || cairn_fanout(c, &o, &list, &err))
        return cli_fail(&err);
    int shown = ctx->json ? cli_print_json(cairn_fanout_list_to_json(list)) : print_results(list);
    int rc = shown == CLI_OK ? cli_judge_fanout(list->count, count_bad(list), selector) : shown;
    cairn_fanout_list_free(list);
    return rc;
}
