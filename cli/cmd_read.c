/*
 * The other reads: experiments, metrics (a whole history), events (the audit
 * log), ping (of the coordinator; of agents in cmd_agents.c), and artifacts get.
 */
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "artifact_path.h"
#include "client_internal.h"
#include "commands.h"
#include "mp_json.h"
#include "fetch.h"
#include "format.h"
#include "show.h"
#include "table.h"

/* ---- experiments ---- */

static const opt_spec experiments_opts[] = {{"--all", false}, {NULL, false}};

/* "k=v, k=v" */
static int print_experiments(const cairn_experiment_list *list)
{
    table *t = table_new(5);
    bool ok = t && table_add(t, (const char *[]){"ID", "NAME", "LIFECYCLE", "CREATED", "TAGS"});
    for (size_t i = 0; ok && i < list->count; i++) {
        const cairn_experiment *e = &list->items[i];
        char id[32], created[FMT_TIME_LEN], *tags = fmt_kv_list(e->tags, e->n_tags);
        snprintf(id, sizeof id, "%" PRIu64, e->id);
        ok = tags && table_add(t, (const char *[]){id, e->name, e->lifecycle,
                                                   fmt_time(e->created, created), tags});
        free(tags);
    }
    if (t)
        table_align_right(t, 0);
    return cli_print_table(t, ok);
}

int cmd_experiments(cli_ctx *ctx, const cli_command *self, int argc, char **argv)
{
    parsed_args a;
    int rc = cli_parse_options(ctx, self, argc, argv, experiments_opts, &a);
    if (rc >= 0)
        return rc;
    bool all = args_has(&a, "--all");
    args_free(&a);
    cairn_error err;
    cairn_experiment_list *list = NULL;
    cairn_client *c = cli_client(ctx, &err);
    if (!c || cairn_experiments_list(c, all, &list, &err))
        return cli_fail(&err);
    rc = ctx->json ? cli_print_json(cairn_experiment_list_to_json(list)) : print_experiments(list);
    cairn_experiment_list_free(list);
    return rc;
}

/* ---- metrics RUN KEY ---- */

static int print_history(const cairn_history *h)
{
    table *t = table_new(3);
    bool ok = t && table_add(t, (const char *[]){"STEP", "VALUE", "TIMESTAMP"});
    for (size_t i = 0; ok && i < h->count; i++) {
        char step[32], value[FMT_NUM_LEN], ts[FMT_TIME_LEN];
        snprintf(step, sizeof step, "%" PRId64, h->points[i].step);
        ok = table_add(t, (const char *[]){step, fmt_double(h->points[i].value, value),
                                           fmt_time_ms(h->points[i].timestamp, ts)});
    }
    if (t) {
        table_align_right(t, 0);
        table_align_right(t, 1);
    }
    return cli_print_table(t, ok);
}

int cmd_metrics(cli_ctx *ctx, const cli_command *self, int argc, char **argv)
{
    parsed_args a;
    cairn_error err;
    cairn_history *h = NULL;
    int rc = cli_parse(ctx, self, argc, argv, NULL, &a);
    if (rc >= 0)
        return rc;
    cairn_client *c = NULL;
    if (a.n_pos != 2)
        rc = cli_usage_error(self, "expected RUN and KEY");
    else if (!(c = cli_client(ctx, &err)) || fetch_history(c, a.pos[0], a.pos[1], &h, &err))
        rc = cli_fail(&err);
    else
        rc = ctx->json ? cli_print_json(cairn_history_to_json(h)) : print_history(h);
    cairn_history_free(h);
    args_free(&a);
    return rc;
}

/* ---- events ---- */

static const opt_spec events_opts[] = {{"--since", true}, {"--max", true}, {NULL, false}};

static int print_events(const cairn_audit_entry_list *list)
{
    table *t = table_new(5);
    bool ok = t && table_add(t, (const char *[]){"SEQ", "TIME", "TYPE", "FROM", "SUMMARY"});
    for (size_t i = 0; ok && i < list->count; i++) {
        const cairn_audit_entry *e = &list->items[i];
        char seq[32], ts[FMT_TIME_LEN];
        snprintf(seq, sizeof seq, "%" PRIu64, e->seq);
        ok = table_add(t, (const char *[]){seq, fmt_time(e->ts, ts), e->type, e->from, e->summary});
    }
    if (t)
        table_align_right(t, 0);
    return cli_print_table(t, ok);
}

static int list_events(cli_ctx *ctx, uint64_t since, uint64_t max)
{
    cairn_error err;
    cairn_audit_entry_list *list = NULL;
    cairn_client *c = cli_client(ctx, &err);
    int rc;
    if (!c || fetch_events(c, since, (size_t)max, &list, &err))
        rc = cli_fail(&err);
    else
        rc = ctx->json ? cli_print_json(cairn_audit_entry_list_to_json(list)) : print_events(list);
    cairn_audit_entry_list_free(list);
    return rc;
}

int cmd_events(cli_ctx *ctx, const cli_command *self, int argc, char **argv)
{
    parsed_args a;
    uint64_t since = 0, max = 0;
    const char *why = NULL, *bad = NULL;
    int rc = cli_parse(ctx, self, argc, argv, events_opts, &a);
    if (rc >= 0)
        return rc;
    if (args_has(&a, "--since") && (why = args_uint(args_get(&a, "--since"), &since)))
        bad = "--since";
    else if ((why = args_positive_count(&a, "--max", &max)))
        bad = "--max";
    if (a.n_pos)
        rc = cli_usage_error(self, "unexpected argument '%s'", a.pos[0]);
    else if (bad)
        rc = cli_usage_error(self, "bad %s: %s", bad, why);
    else
        rc = list_events(ctx, since, max);
    args_free(&a);
    return rc;
}

/* ---- ping ---- */

static double mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int print_ping_json(const char *endpoint, const char *version, double rtt_ms)
{
    json_t *o = json_object();
    if (o) {
        json_object_set_new(o, "endpoint", json_str(endpoint));
        json_object_set_new(o, "version", json_str(version));
        json_object_set_new(o, "rtt_ms", json_real(rtt_ms));
    }
    /* rtt_ms holds microseconds: 10 digits print it without float noise. */
    char *s = o ? json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(10)) : NULL;
    json_decref(o);
    return cli_print_json(s);
}

static int ping_coordinator(cli_ctx *ctx)
{
    cairn_error err;
    char version[128];
    cairn_client *c = cli_client(ctx, &err);
    double t0 = mono_ms();
    if (!c || cairn_ping(c, version, sizeof version, &err))
        return cli_fail(&err);
    /* Microsecond resolution is all a loopback round trip can use. */
    double rtt = (double)(int64_t)((mono_ms() - t0) * 1000 + 0.5) / 1000;
    if (ctx->json)
        return print_ping_json(ctx->endpoint, version, rtt);
    text_blank_controls(version); /* the server's text */
    printf("%s: cairn-coordinator %s, round trip %.3f ms\n", ctx->endpoint, version, rtt);
    return CLI_OK;
}

static const opt_spec ping_opts[] = {{"--selector", true}, {"--timeout", true}, {NULL, false}};

/* Without --selector: a round trip to the coordinator, waiting --timeout.
 * With it: a ping fanned out to agents, who get --timeout to answer. */
int cmd_ping(cli_ctx *ctx, const cli_command *self, int argc, char **argv)
{
    parsed_args a;
    int timeout_ms = CLI_DEFAULT_TIMEOUT_MS;
    const char *bad = NULL;
    int rc = cli_parse(ctx, self, argc, argv, ping_opts, &a);
    if (rc >= 0)
        return rc;
    const char *selector = args_get(&a, "--selector"), *timeout = args_get(&a, "--timeout");
    if (a.n_pos)
        rc = cli_usage_error(self, "ping takes no arguments");
    else if (timeout && (bad = selector ? args_fanout_timeout_ms(timeout, &timeout_ms)
                                        : args_duration_ms(timeout, &timeout_ms)))
        rc = cli_usage_error(self, "bad --timeout '%s': %s", timeout, bad);
    else if (selector)
        rc = cli_ping_agents(ctx, selector, timeout_ms);
    else {
        if (timeout)
            ctx->timeout_ms = timeout_ms;
        rc = ping_coordinator(ctx);
    }
    args_free(&a);
    return rc;
}

/* ---- artifacts get RUN PATH [-o FILE] ---- */

static const opt_spec get_opts[] = {{"-o", true}, {NULL, false}};

/* True when file is this process's standard output (-o /dev/stdout). */
static bool is_own_stdout(const char *file)
{
    struct stat f, out;
    return stat(file, &f) == 0 && fstat(STDOUT_FILENO, &out) == 0 && f.st_dev == out.st_dev &&
           f.st_ino == out.st_ino;
}

/* The report goes to stderr when the content went to stdout: a line after
 * the content would end up in the downloaded file. */
static int print_download(cli_ctx *ctx, const char *run, const char *path, const char *file,
                          uint64_t size, FILE *out)
{
    if (!ctx->json) {
        fprintf(out, "%s: %" PRIu64 " bytes\n", file, size);
        return CLI_OK;
    }
    json_t *o = json_object();
    if (o) {
        json_object_set_new(o, "run", json_str(run));
        json_object_set_new(o, "path", json_str(path));
        json_object_set_new(o, "file", json_str(file));
        json_object_set_new(o, "size", json_integer((json_int_t)size));
    }
    char *s = o ? json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER) : NULL;
    json_decref(o);
    if (out == stdout || !s)
        return cli_print_json(s);
    fprintf(out, "%s\n", s);
    free(s);
    return CLI_OK;
}

static int download_artifact(cli_ctx *ctx, const char *run, const char *path, const char *file)
{
    cairn_error err;
    /* asked before the download: a file stdout was redirected to is replaced */
    FILE *report = is_own_stdout(file) ? stderr : stdout;
    uint64_t size = 0;
    cairn_client *c = cli_client(ctx, &err);
    if (!c || client_artifact_download_sized(c, run, path, file, &size, &err))
        return cli_fail(&err);
    char canonical[27]; /* the run id as the coordinator writes it, however it was typed */
    return print_download(ctx, cli_run_id_canonical(run, canonical) ? canonical : run, path, file,
                          size, report);
}

int cmd_artifacts_get(cli_ctx *ctx, const cli_command *self, int argc, char **argv)
{
    parsed_args a;
    int rc = cli_parse(ctx, self, argc, argv, get_opts, &a);
    if (rc >= 0)
        return rc;
    const char *file = args_get(&a, "-o");
    if (a.n_pos != 2)
        rc = cli_usage_error(self, "expected RUN and PATH");
    else if (!file && !*(file = path_base_name(a.pos[1])))
        rc = cli_usage_error(self, "no file name in '%s': give -o FILE", a.pos[1]);
    else
        rc = download_artifact(ctx, a.pos[0], a.pos[1], file);
    args_free(&a);
    return rc;
}
