/*
 * Changing the model registry: models create, register, stage, alias,
 * unalias, rollback. Every argument is checked before the request is sent;
 * the coordinator judges the rest (unknown run, artifact, stage, version).
 */
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdint.h>
#include <string.h>

#include "commands.h"
#include "mp_json.h"

/* A version number argument: 1 or more, and at most what the registry can
 * number (32 bits), so that a typo is a usage error, not a refusal. */
static int parse_version(const cli_command *self, const char *what, const char *text, uint64_t *out)
{
    const char *why = args_uint(text, out);
    if (!why && *out == 0)
        why = "versions are numbered from 1";
    if (!why && *out > UINT32_MAX)
        why = "versions go up to 4294967295";
    return why ? cli_usage_error(self, "bad %s '%s': %s", what, text, why) : CLI_OK;
}

/* ---- models create ---- */

static const opt_spec create_opts[] = {{"--description", true}, {"--tag", true}, {NULL, false}};

int cmd_models_create(cli_ctx *ctx, const cli_command *self, int argc, char **argv)
{
    parsed_args a;
    cairn_error err;
    cairn_kv *tags = NULL;
    size_t n_tags = 0;
    int rc = cli_parse(ctx, self, argc, argv, create_opts, &a);
    if (rc >= 0)
        return rc;
    cairn_client *c = NULL;
    if (a.n_pos != 1)
        rc = cli_usage_error(self, a.n_pos ? "expected one NAME" : "missing NAME");
    else if ((rc = cli_collect_kvs(self, &a, "--tag", &tags, &n_tags)) != CLI_OK)
        ;
    else if (!(c = cli_client(ctx, &err)) ||
             cairn_model_create(c, a.pos[0], args_get(&a, "--description"), tags, n_tags, &err))
        rc = cli_fail(&err);
    free(tags);
    args_free(&a);
    return rc;
}

/* ---- models register ---- */

static const opt_spec register_opts[] = {
    {"--run", true}, {"--artifact", true},  {"--new", false},          {"--description", true},
    {"--tag", true}, {"--signature", true}, {"--input-example", true}, {NULL, false}};

/* A signature given as JSON: {"inputs": [{"name": ..., "type": ...}...], "output": ...}. */
typedef struct signature_arg {
    json_t *root; /* owns the strings the columns point to */
    cairn_column *columns;
    cairn_signature sig;
} signature_arg;

static const char *column_at(json_t *col, cairn_column *out)
{
    json_t *name = json_object_get(col, "name"), *type = json_object_get(col, "type");
    if (!json_is_object(col) || !json_is_string(name) || !json_is_string(type) ||
        json_object_size(col) != 2)
        return "each input is {\"name\": STRING, \"type\": STRING}";
    out->name = json_string_value(name);
    out->type = json_string_value(type);
    return NULL;
}

static const char *parse_signature(const char *text, signature_arg *s)
{
    json_error_t jerr;
    json_t *inputs, *output;
    if (!(s->root = json_loads(text, 0, &jerr)))
        return "not JSON";
    inputs = json_object_get(s->root, "inputs");
    output = json_object_get(s->root, "output");
    if (!json_is_array(inputs) || (output && !json_is_string(output) && !json_is_null(output)) ||
        json_object_size(s->root) != 1 + (output != NULL))
        return "expected {\"inputs\": [{\"name\": ..., \"type\": ...}...], \"output\": TYPE}";
    size_t n = json_array_size(inputs);
    if (!(s->columns = calloc(n + 1, sizeof *s->columns)))
        return "out of memory";
    for (size_t i = 0; i < n; i++) {
        const char *why = column_at(json_array_get(inputs, i), &s->columns[i]);
        if (why)
            return why;
    }
    s->sig =
        (cairn_signature){s->columns, n, json_is_string(output) ? json_string_value(output) : NULL};
    return NULL;
}

static void signature_arg_free(signature_arg *s)
{
    json_decref(s->root);
    free(s->columns);
}

/* Every option that needs a look before anything is sent. */
static int check_register(const cli_command *self, const parsed_args *a, signature_arg *sig)
{
    const char *example = args_get(a, "--input-example"), *text = args_get(a, "--signature"), *why;
    json_error_t jerr;
    if (a->n_pos != 1)
        return cli_usage_error(self, a->n_pos ? "expected one NAME" : "missing NAME");
    if (!args_get(a, "--run") || !args_get(a, "--artifact"))
        return cli_usage_error(self, "--run and --artifact are required");
    if (!cli_is_run_id(args_get(a, "--run")))
        return cli_usage_error(self, "invalid run id '%s' (expected a 26-character ULID)",
                               args_get(a, "--run"));
    if (text && (why = parse_signature(text, sig)))
        return cli_usage_error(self, "bad --signature: %s", why);
    json_t *parsed = example ? json_loads(example, JSON_DECODE_ANY, &jerr) : NULL;
    json_decref(parsed);
    if (example && !parsed)
        return cli_usage_error(self, "bad --input-example: not JSON (%s)", jerr.text);
    return CLI_OK;
}

static int send_register(cli_ctx *ctx, const parsed_args *a, const cairn_kv *tags, size_t n_tags,
                         const signature_arg *sig)
{
    cairn_error err;
    uint64_t version;
    cairn_register_opts o = {.name = a->pos[0],
                             .run_id = args_get(a, "--run"),
                             .artifact_path = args_get(a, "--artifact"),
                             .create_new = args_has(a, "--new"),
                             .description = args_get(a, "--description"),
                             .tags = tags,
                             .n_tags = n_tags,
                             .signature = sig->root ? &sig->sig : NULL,
                             .input_example = args_get(a, "--input-example")};
    cairn_client *c = cli_client(ctx, &err);
    if (!c || cairn_model_register(c, &o, &version, &err))
        return cli_fail(&err);
    printf("%" PRIu64 "\n", version);
    return CLI_OK;
}

int cmd_models_register(cli_ctx *ctx, const cli_command *self, int argc, char **argv)
{
    parsed_args a;
    signature_arg sig = {0};
    cairn_kv *tags = NULL;
    size_t n_tags = 0;
    int rc = cli_parse(ctx, self, argc, argv, register_opts, &a);
    if (rc >= 0)
        return rc;
    rc = check_register(self, &a, &sig);
    if (rc == CLI_OK)
        rc = cli_collect_kvs(self, &a, "--tag", &tags, &n_tags);
    if (rc == CLI_OK)
        rc = send_register(ctx, &a, tags, n_tags, &sig);
    signature_arg_free(&sig);
    free(tags);
    args_free(&a);
    return rc;
}

/* ---- models stage, alias, unalias ---- */

static const opt_spec stage_opts[] = {
    {"--archive-existing", false}, {"--reason", true}, {NULL, false}};
static const opt_spec reason_opts[] = {{"--reason", true}, {NULL, false}};

int cmd_models_stage(cli_ctx *ctx, const cli_command *self, int argc, char **argv)
{
    parsed_args a;
    cairn_error err;
    uint64_t version = 0;
    int rc = cli_parse(ctx, self, argc, argv, stage_opts, &a);
    if (rc >= 0)
        return rc;
    cairn_client *c = NULL;
    if (a.n_pos != 3)
        rc = cli_usage_error(self, "expected NAME, VERSION and STAGE");
    else if ((rc = parse_version(self, "VERSION", a.pos[1], &version)) != CLI_OK)
        ;
    else if (!(c = cli_client(ctx, &err)) ||
             cairn_model_set_stage(c, a.pos[0], version, a.pos[2],
                                   args_has(&a, "--archive-existing"), args_get(&a, "--reason"),
                                   &err))
        rc = cli_fail(&err);
    args_free(&a);
    return rc;
}

int cmd_models_alias(cli_ctx *ctx, const cli_command *self, int argc, char **argv)
{
    parsed_args a;
    cairn_error err;
    uint64_t version = 0;
    int rc = cli_parse(ctx, self, argc, argv, reason_opts, &a);
    if (rc >= 0)
        return rc;
    cairn_client *c = NULL;
    if (a.n_pos != 3)
        rc = cli_usage_error(self, "expected NAME, ALIAS and VERSION");
    else if ((rc = parse_version(self, "VERSION", a.pos[2], &version)) != CLI_OK)
        ;
    else if (!(c = cli_client(ctx, &err)) ||
             cairn_model_set_alias(c, a.pos[0], a.pos[1], version, args_get(&a, "--reason"), &err))
        rc = cli_fail(&err);
    args_free(&a);
    return rc;
}

int cmd_models_unalias(cli_ctx *ctx, const cli_command *self, int argc, char **argv)
{
    parsed_args a;
    cairn_error err;
    int rc = cli_parse(ctx, self, argc, argv, reason_opts, &a);
    if (rc >= 0)
        return rc;
    cairn_client *c = NULL;
    if (a.n_pos != 2)
        rc = cli_usage_error(self, "expected NAME and ALIAS");
    else if (!(c = cli_client(ctx, &err)) ||
             cairn_model_delete_alias(c, a.pos[0], a.pos[1], args_get(&a, "--reason"), &err))
        rc = cli_fail(&err);
    args_free(&a);
    return rc;
}

/* ---- models rollback ---- */

static const opt_spec rollback_opts[] = {
    {"--alias", true}, {"--stage", true}, {"--to", true}, {"--reason", true}, {NULL, false}};

static int print_rollback(cli_ctx *ctx, const cairn_rollback_opts *o, uint64_t version,
                          uint64_t previous)
{
    if (ctx->json) {
        json_t *j = json_object();
        if (j) {
            json_object_set_new(j, "name", json_str(o->name));
            json_object_set_new(j, o->alias ? "alias" : "stage",
                                json_str(o->alias ? o->alias : o->stage));
            json_object_set_new(j, "version",
                                version ? json_integer((json_int_t)version) : json_null());
            json_object_set_new(j, "previous",
                                previous ? json_integer((json_int_t)previous) : json_null());
        }
        char *s = j ? json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER) : NULL;
        json_decref(j);
        return cli_print_json(s);
    }
    printf("%s%s%s: version %" PRIu64, o->name, o->alias ? "@" : "/",
           o->alias ? o->alias : o->stage, version);
    if (previous)
        printf(" (was %" PRIu64 ")", previous);
    putchar('\n');
    return CLI_OK;
}

int cmd_models_rollback(cli_ctx *ctx, const cli_command *self, int argc, char **argv)
{
    parsed_args a;
    cairn_error err;
    int rc = cli_parse(ctx, self, argc, argv, rollback_opts, &a);
    if (rc >= 0)
        return rc;
    cairn_rollback_opts o = {.alias = args_get(&a, "--alias"),
                             .stage = args_get(&a, "--stage"),
                             .reason = args_get(&a, "--reason")};
    uint64_t version = 0, previous = 0;
    cairn_client *c = NULL;
    o.name = a.n_pos ? a.pos[0] : NULL;
    if (a.n_pos != 1)
        rc = cli_usage_error(self, a.n_pos ? "expected one NAME" : "missing NAME");
    else if (!o.alias == !o.stage)
        rc = cli_usage_error(self, "give exactly one of --alias and --stage");
    else if (args_has(&a, "--to") &&
             (rc = parse_version(self, "--to", args_get(&a, "--to"), &o.to)))
        ;
    else if (!(c = cli_client(ctx, &err)) || cairn_model_rollback(c, &o, &version, &previous, &err))
        rc = cli_fail(&err);
    else
        rc = print_rollback(ctx, &o, version, previous);
    args_free(&a);
    return rc;
}
