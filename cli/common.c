#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <pwd.h>

#include "cli.h"
#include "table.h"
#include "ulid.h"

/* ---- failing ---- */

/* "cairn: <message>" and a newline on stderr, the message's control
 * characters as spaces (as in tables): an error stays one line even when it
 * quotes a name or a value holding a newline. */
static void put_error(const char *message)
{
    char *safe = text_blank_copy(message);
    fprintf(stderr, "cairn: %s\n", safe ? safe : "out of memory");
    free(safe);
}

static void vput_error(const char *fmt, va_list ap)
{
    char *message = NULL;
    if (vasprintf(&message, fmt, ap) < 0)
        message = NULL;
    put_error(message ? message : "out of memory");
    free(message);
}

void cli_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vput_error(fmt, ap);
    va_end(ap);
}

int cli_usage_error(const cli_command *self, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vput_error(fmt, ap);
    va_end(ap);
    if (self && self->usage)
        fprintf(stderr, "usage: cairn %s\n", self->usage);
    else
        fputs("usage: cairn [--coordinator ENDPOINT] [--timeout DURATION] [--json] COMMAND ...\n"
              "Try 'cairn help'.\n",
              stderr);
    return CLI_USAGE;
}

int cli_check_experiment_args(const cli_command *self, const parsed_args *a)
{
    if (a->n_pos)
        return cli_usage_error(self, "unexpected argument '%s'", a->pos[0]);
    if (!args_get(a, "--experiment"))
        return cli_usage_error(self, "--experiment is required");
    return CLI_OK;
}

int cli_fail(const cairn_error *err)
{
    put_error(err->message[0] ? err->message : cairn_status_name(err->status));
    return err->status == CAIRN_TIMEOUT ? CLI_TIMEOUT : CLI_FAILED;
}

int cli_print_json(char *json)
{
    if (!json) {
        fputs("cairn: out of memory\n", stderr);
        return CLI_FAILED;
    }
    puts(json);
    free(json);
    return CLI_OK;
}

/* ---- the connection ---- */

static void set_from(cairn_client *client)
{
    struct passwd *pw = getpwuid(getuid());
    const char *user = pw ? pw->pw_name : getenv("USER");
    char host[256] = "unknown", from[600];
    gethostname(host, sizeof host - 1);
    snprintf(from, sizeof from, "cli:%s@%s", user ? user : "unknown", host);
    cairn_client_set_from(client, from);
}

cairn_client *cli_client(cli_ctx *ctx, cairn_error *err)
{
    if (ctx->client)
        return ctx->client;
    ctx->client = cairn_client_open(ctx->endpoint, err);
    if (!ctx->client) {
        ctx->bad_endpoint = err->status == CAIRN_INVALID_PARAMETER_VALUE;
        return NULL;
    }
    cairn_client_set_timeout(ctx->client, ctx->timeout_ms);
    set_from(ctx->client);
    return ctx->client;
}

/* ---- commands ---- */

static void print_usage_line(const cli_command *c, FILE *out)
{
    fprintf(out, "  cairn %s\n      %s\n", c->usage, c->summary);
}

void cli_print_commands(const cli_command *table, size_t n, FILE *out)
{
    for (size_t i = 0; i < n; i++) {
        if (table[i].subs)
            cli_print_commands(table[i].subs, table[i].n_subs, out);
        else if (table[i].usage)
            print_usage_line(&table[i], out);
    }
}

static const cli_command *find_command(const cli_command *table, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(table[i].name, name) == 0)
            return &table[i];
    return NULL;
}

static bool is_help(const char *a)
{
    return strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0;
}

static void print_group(const cli_command *group, FILE *out)
{
    fputs("usage:\n", out);
    cli_print_commands(group->subs, group->n_subs, out);
}

/* "usage: cairn runs list|show|... ARGS" and where to read more. */
static void print_group_hint(const cli_command *group)
{
    fprintf(stderr, "usage: cairn %s ", group->name);
    for (size_t i = 0; i < group->n_subs; i++)
        fprintf(stderr, "%s%s", i ? "|" : "", group->subs[i].name);
    fprintf(stderr, " ...\nTry 'cairn %s --help'.\n", group->name);
}

/* --json may come anywhere after the command, also between its words. */
static int skip_json(cli_ctx *ctx, int *argc, char ***argv)
{
    while (*argc > 0 && strcmp((*argv)[0], "--json") == 0) {
        ctx->json = true;
        (*argc)--;
        (*argv)++;
    }
    return *argc;
}

/* Runs c with the arguments after its name, descending into groups. */
static int run_command(cli_ctx *ctx, const cli_command *c, int argc, char **argv)
{
    if (!c->subs)
        return c->fn(ctx, c, argc, argv);
    if (skip_json(ctx, &argc, &argv) > 0 && is_help(argv[0])) {
        print_group(c, stdout);
        return CLI_OK;
    }
    const cli_command *sub = argc ? find_command(c->subs, c->n_subs, argv[0]) : NULL;
    if (!sub) {
        if (argc)
            cli_error("unknown command '%s %s'", c->name, argv[0]);
        else
            fprintf(stderr, "cairn: '%s' needs a subcommand\n", c->name);
        print_group_hint(c);
        return CLI_USAGE;
    }
    return run_command(ctx, sub, argc - 1, argv + 1);
}

int cli_dispatch(cli_ctx *ctx, const cli_command *table, size_t n, int argc, char **argv)
{
    if (skip_json(ctx, &argc, &argv) == 0)
        return cli_usage_error(NULL, "missing command");
    const cli_command *c = find_command(table, n, argv[0]);
    if (!c)
        return cli_usage_error(NULL, "unknown command '%s'", argv[0]);
    return run_command(ctx, c, argc - 1, argv + 1);
}

bool cli_is_run_id(const char *text)
{
    ulid id;
    return ulid_parse(text, &id);
}

bool cli_run_id_canonical(const char *text, char out[27])
{
    ulid id;
    if (!ulid_parse(text, &id))
        return false;
    ulid_format(&id, out);
    return true;
}

int cli_parse(cli_ctx *ctx, const cli_command *self, int argc, char **argv,
              const opt_spec *specs, parsed_args *out)
{
    char why[300];
    if (args_parse(argc, argv, specs, false, out, why, sizeof why)) {
        args_free(out);
        return cli_usage_error(self, "%s", why);
    }
    if (out->json)
        ctx->json = true;
    if (out->help) {
        printf("usage: cairn %s\n  %s\n", self->usage, self->summary);
        args_free(out);
        return CLI_OK;
    }
    /* A malformed run id is a mistake on the command line, not a request the
     * coordinator refused: it is caught here, before anything is sent. */
    size_t n = self->run_ids < 0 ? out->n_pos : (size_t)self->run_ids;
    for (size_t i = 0; i < n && i < out->n_pos; i++) {
        if (!cli_is_run_id(out->pos[i])) {
            int rc = cli_usage_error(self, "invalid run id '%s' (expected a 26-character ULID)",
                                     out->pos[i]);
            args_free(out);
            return rc;
        }
    }
    return -1;
}
