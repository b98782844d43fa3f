/*
 * Writing runs from shell pipelines and CI jobs:
 *   RUN=$(cairn runs start --experiment E)
 *   cairn runs log "$RUN" --param lr=0.1 --metric loss=0.3@10 --artifact model.bin
 *   cairn runs end "$RUN"
 * Every argument is checked before the first request, so a typo cannot leave
 * half of a command applied.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "artifact_path.h"
#include "commands.h"
#include "regular_file.h"

static int out_of_memory(void)
{
    fputs("cairn: out of memory\n", stderr);
    return CLI_FAILED;
}

/* Parses arg into item i of the array collect_values() fills. */
typedef const char *(*item_parser)(char *arg, void *items, size_t i);

static const char *kv_at(char *arg, void *items, size_t i)
{
    return args_kv(arg, (cairn_kv *)items + i);
}

static const char *metric_at(char *arg, void *items, size_t i)
{
    return args_metric(arg, (cairn_metric *)items + i);
}

/* The values of every occurrence of option `name`, each parsed into one item
 * (of size bytes) of a new array *out. */
static int collect_values(const cli_command *self, const parsed_args *a, const char *name,
                          size_t size, item_parser parse, void **out, size_t *n)
{
    *n = 0;
    *out = calloc(a->n_opts + 1, size);
    if (!*out)
        return out_of_memory();
    for (size_t i = 0; i < a->n_opts; i++) {
        if (strcmp(a->opts[i].name, name) != 0)
            continue;
        char *arg = (char *)a->opts[i].value; /* argv strings are writable */
        char shown[128];
        snprintf(shown, sizeof shown, "%s", arg); /* parsing splits arg */
        const char *why = parse(arg, *out, (*n)++);
        if (why)
            return cli_usage_error(self, "bad %s '%s': %s", name, shown, why);
    }
    return CLI_OK;
}

/* ---- runs start ---- */

static const opt_spec start_opts[] = {
    {"--experiment", true}, {"--name", true}, {"--tag", true}, {NULL, false}};

static int start_run(cli_ctx *ctx, const parsed_args *a, const cairn_kv *tags, size_t n_tags)
{
    cairn_error err;
    char id[CAIRN_ID_TEXT_LEN + 1];
    cairn_run_start_opts o = {.experiment = args_get(a, "--experiment"),
                              .name = args_get(a, "--name"),
                              .tags = tags,
                              .n_tags = n_tags,
                              .detect_source = 1};
    cairn_client *c = cli_client(ctx, &err);
    if (!c || cairn_run_start(c, NULL, &o, id, &err))
        return cli_fail(&err);
    printf("%s\n", id);
    return CLI_OK;
}

int cmd_runs_start(cli_ctx *ctx, const cli_command *self, int argc, char **argv)
{
    parsed_args a;
    void *tags = NULL;
    size_t n_tags = 0;
    int rc = cli_parse(ctx, self, argc, argv, start_opts, &a);
    if (rc >= 0)
        return rc;
    rc = cli_check_experiment_args(self, &a);
    if (rc == CLI_OK)
        rc = collect_values(self, &a, "--tag", sizeof(cairn_kv), kv_at, &tags, &n_tags);
    if (rc == CLI_OK)
        rc = start_run(ctx, &a, tags, n_tags);
    free(tags);
    args_free(&a);
    return rc;
}

/* ---- runs log ---- */

static const opt_spec log_opts[] = {{"--param", true},    {"--metric", true}, {"--tag", true},
                                    {"--artifact", true}, {NULL, false}};

typedef struct log_request {
    cairn_log_batch batch;
    void *params, *tags, *metrics; /* the arrays batch points to, owned here */
} log_request;

static void log_request_free(log_request *r)
{
    free(r->params);
    free(r->tags);
    free(r->metrics);
}

static int parse_log(const cli_command *self, const parsed_args *a, log_request *r)
{
    cairn_log_batch *b = &r->batch;
    int rc = collect_values(self, a, "--param", sizeof(cairn_kv), kv_at, &r->params,
                            &b->n_params);
    if (!rc)
        rc = collect_values(self, a, "--tag", sizeof(cairn_kv), kv_at, &r->tags, &b->n_tags);
    if (!rc)
        rc = collect_values(self, a, "--metric", sizeof(cairn_metric), metric_at, &r->metrics,
                            &b->n_metrics);
    b->params = r->params;
    b->tags = r->tags;
    b->metrics = r->metrics;
    return rc;
}

/* An artifact that cannot be read or stored must stop the command before
 * anything is logged: a typo cannot leave half of a command applied. */
static int check_artifact(const char *file)
{
    cairn_error err;
    int fd;
    if (regular_file_open(file, &fd, &err) != CAIRN_OK) {
        cli_error("cannot read artifact %s: %s", file, err.message);
        return CLI_FAILED;
    }
    close(fd);
    const char *name = path_base_name(file);
    if (artifact_path_check((msg_str){name, (uint32_t)strnlen(name, 4096)}, &err) != CAIRN_OK) {
        cli_error("artifact %s: %s", file, err.message);
        return CLI_FAILED;
    }
    return CLI_OK;
}

static int check_artifacts(const parsed_args *a)
{
    for (size_t i = 0; i < a->n_opts; i++)
        if (strcmp(a->opts[i].name, "--artifact") == 0 && check_artifact(a->opts[i].value))
            return CLI_FAILED;
    return CLI_OK;
}

static int upload_artifacts(cairn_client *c, const char *run, const parsed_args *a)
{
    cairn_error err;
    for (size_t i = 0; i < a->n_opts; i++)
        if (strcmp(a->opts[i].name, "--artifact") == 0 &&
            cairn_artifact_upload(c, run, a->opts[i].value, NULL, NULL, &err))
            return cli_fail(&err);
    return CLI_OK;
}

static int send_log(cli_ctx *ctx, const char *run, const parsed_args *a, const log_request *r)
{
    cairn_error err;
    const cairn_log_batch *b = &r->batch;
    int rc = check_artifacts(a);
    if (rc)
        return rc;
    cairn_client *c = cli_client(ctx, &err);
    if (!c)
        return cli_fail(&err);
    if ((b->n_params || b->n_metrics || b->n_tags) && cairn_run_log(c, run, b, &err))
        return cli_fail(&err);
    return upload_artifacts(c, run, a);
}

int cmd_runs_log(cli_ctx *ctx, const cli_command *self, int argc, char **argv)
{
    parsed_args a;
    log_request r = {0};
    int rc = cli_parse(ctx, self, argc, argv, log_opts, &a);
    if (rc >= 0)
        return rc;
    if (a.n_pos != 1)
        rc = cli_usage_error(self, a.n_pos ? "expected one RUN" : "missing RUN");
    else if (a.n_opts == 0)
        rc = cli_usage_error(self, "nothing to log: give --param, --metric, --tag or --artifact");
    else if ((rc = parse_log(self, &a, &r)) == CLI_OK)
        rc = send_log(ctx, a.pos[0], &a, &r);
    log_request_free(&r);
    args_free(&a);
    return rc;
}

/* ---- runs end ---- */

static const opt_spec end_opts[] = {{"--status", true}, {NULL, false}};

/* FINISHED, FAILED or KILLED, in any case; upper-cased in place. */
static bool end_status_ok(char *s)
{
    for (char *p = s; *p; p++)
        *p = (char)toupper((unsigned char)*p);
    return strcmp(s, "FINISHED") == 0 || strcmp(s, "FAILED") == 0 || strcmp(s, "KILLED") == 0;
}

int cmd_runs_end(cli_ctx *ctx, const cli_command *self, int argc, char **argv)
{
    parsed_args a;
    cairn_error err;
    int rc = cli_parse(ctx, self, argc, argv, end_opts, &a);
    if (rc >= 0)
        return rc;
    char *status = (char *)args_get(&a, "--status");
    char shown[64];
    snprintf(shown, sizeof shown, "%s", status ? status : "");
    cairn_client *c = NULL;
    if (a.n_pos != 1)
        rc = cli_usage_error(self, a.n_pos ? "expected one RUN" : "missing RUN");
    else if (status && !end_status_ok(status))
        rc = cli_usage_error(self, "bad --status '%s': expected FINISHED, FAILED or KILLED", shown);
    else if (!(c = cli_client(ctx, &err)) ||
             cairn_run_end(c, a.pos[0], status ? status : "FINISHED", 0, &err))
        rc = cli_fail(&err);
    else
        rc = CLI_OK;
    args_free(&a);
    return rc;
}

int cli_collect_kvs(const cli_command *self, const parsed_args *a, const char *name,
                    cairn_kv **out, size_t *n)
{
    return collect_values(self, a, name, sizeof(cairn_kv), kv_at, (void **)out, n);
}
