/*
 * cairn: the operator's command line.
 *
 *   cairn [--coordinator ENDPOINT] [--timeout DURATION] [--json] COMMAND [ARGS]
 *
 * Global options come before the command (--json may also come after it);
 * the command tree below maps words to functions.
 */
#include <errno.h>
#include <locale.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client_internal.h"
#include "commands.h"

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

static const cli_command runs_commands[] = {
    {"list", cmd_runs_list, NULL, 0,
     "runs list --experiment NAME [--filter EXPR] [--order-by EXPR]... [--max N] [--json]",
     "list the runs of an experiment (all pages, or at most N runs)", 0},
    {"show", cmd_runs_show, NULL, 0, "runs show RUN [--json]", "show one run", 1},
    {"compare", cmd_runs_compare, NULL, 0, "runs compare RUN RUN... [--json]",
     "compare the params and metrics of runs side by side", -1},
    {"start", cmd_runs_start, NULL, 0,
     "runs start --experiment NAME [--name NAME] [--tag KEY=VALUE]...",
     "start a run and print its id", 0},
    {"log", cmd_runs_log, NULL, 0,
     "runs log RUN [--param KEY=VALUE]... [--metric KEY=VALUE[@STEP]]... [--tag KEY=VALUE]... "
     "[--artifact FILE]...",
     "log params, metrics and tags in one batch, then upload artifacts", 1},
    {"end", cmd_runs_end, NULL, 0, "runs end RUN [--status FINISHED|FAILED|KILLED]",
     "end a run (default FINISHED)", 1},
};

static const cli_command models_commands[] = {
    {"create", cmd_models_create, NULL, 0,
     "models create NAME [--description TEXT] [--tag KEY=VALUE]...",
     "create a registered model without versions (register creates one on first use)", 0},
    {"register", cmd_models_register, NULL, 0,
     "models register NAME --run RUN --artifact PATH [--new] [--description TEXT] "
     "[--tag KEY=VALUE]... [--signature JSON] [--input-example JSON]",
     "register a run's artifact as the model's next version and print its number", 0},
    {"list", cmd_models_list, NULL, 0, "models list [--json]",
     "the registered models, with their latest version, stages and aliases", 0},
    {"show", cmd_models_show, NULL, 0, "models show NAME [--json]", "one registered model", 0},
    {"versions", cmd_models_versions, NULL, 0, "models versions NAME [--json]",
     "every version of a model", 0},
    {"version", cmd_models_version, NULL, 0,
     "models version NAME/VERSION|NAME@ALIAS|NAME/STAGE [--json]",
     "the version a reference names", 0},
    {"stage", cmd_models_stage, NULL, 0,
     "models stage NAME VERSION STAGE [--archive-existing] [--reason TEXT]",
     "move a version to None, Staging, Production or Archived", 0},
    {"alias", cmd_models_alias, NULL, 0, "models alias NAME ALIAS VERSION [--reason TEXT]",
     "point an alias (champion, challenger, ...) at a version", 0},
    {"unalias", cmd_models_unalias, NULL, 0, "models unalias NAME ALIAS [--reason TEXT]",
     "remove an alias", 0},
    {"rollback", cmd_models_rollback, NULL, 0,
     "models rollback NAME (--alias ALIAS | --stage STAGE) [--to VERSION] [--reason TEXT] [--json]",
     "put an alias or stage back to its previous holder (or VERSION)", 0},
    {"history", cmd_models_history, NULL, 0, "models history NAME [--json]",
     "every stage and alias change of a model: who, when, why, from, to", 0},
    {"get", cmd_models_get, NULL, 0,
     "models get NAME/VERSION|NAME@ALIAS|NAME/STAGE [-o DIR] [--json]",
     "download a version's artifact into DIR (default: the current directory), checked by sha256",
     0},
};

static const cli_command artifacts_commands[] = {
    {"get", cmd_artifacts_get, NULL, 0, "artifacts get RUN PATH [-o FILE] [--json]",
     "download an artifact (default FILE: the base name of PATH)", 1},
};

static const cli_command datasets_commands[] = {
    {"add", cmd_datasets_add, NULL, 0,
     "datasets add PATH --name NAME [--run RUN [--context CONTEXT]] [--json]",
     "hash a file or directory and record it as a version of a dataset (same content, same version)",
     0},
    {"list", cmd_datasets_list, NULL, 0, "datasets list [--json]",
     "list the datasets, with their newest version", 0},
    {"show", cmd_datasets_show, NULL, 0, "datasets show NAME [--json]",
     "a dataset's versions and the runs that used each", 0},
};

static int cmd_help(cli_ctx *ctx, const cli_command *self, int argc, char **argv);
static int cmd_version(cli_ctx *ctx, const cli_command *self, int argc, char **argv);

static const cli_command commands[] = {
    {"experiments", cmd_experiments, NULL, 0, "experiments [--all] [--json]",
     "list experiments (--all: also deleted ones)", 0},
    {"runs", NULL, runs_commands, COUNT(runs_commands), NULL, NULL, 0},
    {"metrics", cmd_metrics, NULL, 0, "metrics RUN KEY [--json]", "the whole history of a metric", 1},
    {"artifacts", NULL, artifacts_commands, COUNT(artifacts_commands), NULL, NULL, 0},
    {"datasets", NULL, datasets_commands, COUNT(datasets_commands), NULL, NULL, 0},
    {"events", cmd_events, NULL, 0, "events [--since SEQ] [--max N] [--json]",
     "the audit log, from sequence SEQ (default: the first)", 0},
    {"agent-events", cmd_agent_events, NULL, 0,
     "agent-events [--type TYPE] [--source SOURCE] [--agent ID] [--since SEQ] [--max N] [--json]",
     "events reported by agents' plugins and clients (--type: exact, or a prefix ending in '.')",
     0},
    {"agents", cmd_agents, NULL, 0, "agents [--json]",
     "the agents the coordinator knows, with their status", 0},
    {"ping", cmd_ping, NULL, 0, "ping [--selector EXPR] [--timeout DURATION] [--json]",
     "check that the coordinator answers; with --selector, ping the agents it matches "
     "(all: every agent)", 0},
    {"plugins", cmd_plugins, NULL, 0, "plugins [--selector EXPR] [--timeout DURATION] [--json]",
     "the plugins of the agents the selector matches (default: every agent)", 0},
    {"deploy", cmd_deploy, NULL, 0,
     "deploy MODEL VERSION --sha256 HEX --selector EXPR [--deployer NAME] [--timeout DURATION] "
     "[--json]",
     "deploy a model version (its artifact's sha256) on the agents the selector matches", 0},
    {"rollback", cmd_rollback, NULL, 0,
     "rollback MODEL --selector EXPR [--deployer NAME] [--timeout DURATION] [--json]",
     "roll a model back to its previous version on the agents the selector matches", 0},
    {"models", NULL, models_commands, COUNT(models_commands), NULL, NULL, 0},
    {"lineage", cmd_lineage, NULL, 0,
     "lineage MODEL VERSION | MODEL/VERSION | MODEL@ALIAS | MODEL/STAGE [--json]",
     "how a model version was made: its run, source, params, metrics, datasets and events", 0},
    {"help", cmd_help, NULL, 0, "help", "print this help", 0},
    {"version", cmd_version, NULL, 0, "version", "print the version", 0},
};

static void print_help(FILE *out)
{
    fputs("usage: cairn [--coordinator ENDPOINT] [--timeout DURATION] [--json] COMMAND [ARGS]\n"
          "\n"
          "Commands:\n",
          out);
    cli_print_commands(commands, COUNT(commands), out);
    fputs("\n"
          "Global options:\n"
          "  --coordinator ENDPOINT  the coordinator (default: $CAIRN_COORDINATOR, else "
          CAIRN_DEFAULT_COORDINATOR ")\n"
          "  --timeout DURATION      how long to wait for an answer: 500ms, 5s, 2m (default 5s)\n"
          "  --json                  machine-readable output (read commands)\n"
          "  --help, --version\n"
          "\n"
          "Exit status: 0 done, 1 the request failed, 2 bad usage,\n"
          "3 the coordinator did not answer within the timeout.\n",
          out);
}

static int cmd_help(cli_ctx *ctx, const cli_command *self, int argc, char **argv)
{
    (void)ctx, (void)self, (void)argc, (void)argv;
    print_help(stdout);
    return CLI_OK;
}

static int cmd_version(cli_ctx *ctx, const cli_command *self, int argc, char **argv)
{
    (void)ctx, (void)self, (void)argc, (void)argv;
    printf("cairn %s\n", CAIRN_VERSION);
    return CLI_OK;
}

/* ---- global options ---- */

static const opt_spec global_opts[] = {
    {"--coordinator", true}, {"--timeout", true}, {"--version", false}, {NULL, false}};

static const char *resolve_endpoint(const char *option)
{
    const char *env = getenv("CAIRN_COORDINATOR");
    if (option)
        return option;
    return (env && *env) ? env : CAIRN_DEFAULT_COORDINATOR;
}

/* Returns -1 to go on with the command at argv[*next], else an exit status. */
static int parse_globals(int argc, char **argv, cli_ctx *ctx, int *next)
{
    parsed_args a;
    char why[300];
    const char *bad;
    if (args_parse(argc, argv, global_opts, true, &a, why, sizeof why)) {
        args_free(&a);
        return cli_usage_error(NULL, "%s", why);
    }
    int rc = -1;
    const char *timeout = args_get(&a, "--timeout");
    ctx->json = a.json;
    ctx->endpoint = resolve_endpoint(args_get(&a, "--coordinator"));
    *next = a.next;
    if (a.help)
        rc = cmd_help(ctx, NULL, 0, NULL);
    else if (args_has(&a, "--version"))
        rc = cmd_version(ctx, NULL, 0, NULL);
    else if (!*ctx->endpoint)
        /* "--coordinator $UNSET" must not write to whichever coordinator the
         * environment or the default names. */
        rc = cli_usage_error(NULL, "--coordinator is empty");
    else if (timeout && (bad = args_duration_ms(timeout, &ctx->timeout_ms)))
        rc = cli_usage_error(NULL, "bad --timeout '%s': %s", timeout, bad);
    args_free(&a);
    return rc;
}

/* Interrupted (Ctrl-C, a CI job's timeout): a download's temporary file
 * goes, then the signal does what it would have done. */
static void on_interrupt(int sig)
{
    client_download_interrupted();
    signal(sig, SIG_DFL);
    raise(sig);
}

static void remove_partial_files_on_interrupt(void)
{
    static const int sigs[] = {SIGINT, SIGTERM, SIGHUP};
    for (size_t i = 0; i < COUNT(sigs); i++) {
        struct sigaction sa = {.sa_handler = on_interrupt};
        sigemptyset(&sa.sa_mask);
        sigaction(sigs[i], &sa, NULL);
    }
}

/* Output that did not get out (a full disk, a closed pipe) is a failure: a
 * script must not take a lost run id or a truncated listing for success. */
static int check_stdout(int rc)
{
    if (fflush(stdout) == 0 && !ferror(stdout))
        return rc;
    fprintf(stderr, "cairn: writing the output: %s\n", strerror(errno));
    return rc == CLI_OK ? CLI_FAILED : rc;
}

int main(int argc, char **argv)
{
    cli_ctx ctx = {.timeout_ms = CLI_DEFAULT_TIMEOUT_MS};
    int next = 0;
    remove_partial_files_on_interrupt();
    /* Character classes and widths for aligning tables of UTF-8 text; the
     * rest of the locale (numbers, messages) stays "C". */
    setlocale(LC_CTYPE, "C.UTF-8");
    int rc = parse_globals(argc - 1, argv + 1, &ctx, &next);
    if (rc < 0)
        rc = cli_dispatch(&ctx, commands, COUNT(commands), argc - 1 - next, argv + 1 + next);
    if (ctx.bad_endpoint)
        rc = CLI_USAGE; /* the message is out already; a bad --coordinator is bad usage */
    cairn_client_close(ctx.client);
    return check_stdout(rc);
}
