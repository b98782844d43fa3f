/*
 * What every command of the cairn CLI shares: the context built from the
 * global options, the command tables, and one way to fail.
 *
 * Exit status: 0 done, 1 the request failed (refused by the coordinator or a
 * local error), 2 bad usage, 3 the coordinator did not answer in time.
 */
#ifndef CAIRN_CLI_H
#define CAIRN_CLI_H

#include <stdbool.h>
#include <stddef.h>

#include "args.h"
#include "cairn/client.h"

enum { CLI_OK = 0, CLI_FAILED = 1, CLI_USAGE = 2, CLI_TIMEOUT = 3 };

#define CLI_DEFAULT_TIMEOUT_MS 5000

typedef struct cli_ctx {
    const char *endpoint; /* resolved: --coordinator, $CAIRN_COORDINATOR or the default */
    int timeout_ms;
    bool json;
    cairn_client *client; /* opened on first use */
    bool bad_endpoint;    /* opening failed on the endpoint: a usage error */
} cli_ctx;

typedef struct cli_command cli_command;

/* argv holds the arguments after the command words. */
typedef int (*cli_fn)(cli_ctx *ctx, const cli_command *self, int argc, char **argv);

struct cli_command {
    const char *name;
    cli_fn fn;                 /* a leaf command... */
    const cli_command *subs;   /* ...or a group of subcommands */
    size_t n_subs;
    const char *usage;         /* after "cairn ", e.g. "runs show RUN" */
    const char *summary;
    int run_ids;               /* leading positionals that must be run ids (-1: all) */
};

/* Runs the command named by argv[0] in table, descending into groups. */
int cli_dispatch(cli_ctx *ctx, const cli_command *table, size_t n, int argc, char **argv);

/* Prints the usage of every leaf command under table. */
void cli_print_commands(const cli_command *table, size_t n, FILE *out);

/* Parses a leaf command's arguments. Returns -1 when parsing succeeded and
 * the command should run, else the exit status to return (0 after printing
 * --help, CLI_USAGE after a usage error). Sets ctx->json on --json. */
int cli_parse(cli_ctx *ctx, const cli_command *self, int argc, char **argv,
              const opt_spec *specs, parsed_args *out);

/* True for the text form of a run id (a ULID). */
bool cli_is_run_id(const char *text);
/* The run id in text as the coordinator writes it (upper case, Crockford's
 * aliases resolved) into out; false when text is not one. */
bool cli_run_id_canonical(const char *text, char out[27]);

/* "cairn: <message>" on stderr, one line: control characters print as spaces. */
void cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* "cairn: <message>" plus the command's usage on stderr; returns CLI_USAGE. */
int cli_usage_error(const cli_command *self, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* For the commands that work in one experiment and take no positional
 * argument (runs start, runs list): CLI_OK, or the usage error of a stray
 * argument or a missing --experiment. */
int cli_check_experiment_args(const cli_command *self, const parsed_args *a);

/* "cairn: <message>" on stderr; returns CLI_TIMEOUT or CLI_FAILED. */
int cli_fail(const cairn_error *err);

/* The connection, opened with the context's endpoint and timeout. */
cairn_client *cli_client(cli_ctx *ctx, cairn_error *err);

/* Prints a JSON text and a newline, and frees it; NULL means out of memory. */
int cli_print_json(char *json);

/* ---- pieces the commands share across files ---- */

struct table;
/* Prints t indented under "title:" when every row made it in (ok) and there
 * are rows (t may be NULL: nothing to show); frees t; returns ok. */
bool cli_print_section(const char *title, struct table *t, bool ok);
/* A "title:" section of KEY VALUE rows (none: nothing printed). */
bool cli_print_kv_section(const char *title, const cairn_kv *kv, size_t n);
/* A "metrics:" section of a run's latest values (none: nothing printed). */
bool cli_print_metrics_section(const cairn_run *r);
/* `runs show`'s human output of a run. */
int cli_print_run(const cairn_run *r);
/* Every value of option name (KEY=VALUE, such as --tag) split into a new
 * array *out of *n pairs pointing into argv; CLI_OK or a usage error. */
int cli_collect_kvs(const cli_command *self, const parsed_args *a, const char *name,
                    cairn_kv **out, size_t *n);

#endif
