/*
 * datasets add (hash locally, then dataset.log), datasets list, datasets show.
 */
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "mp_json.h"
#include "format.h"
#include "show.h"

/* ---- datasets add PATH --name NAME [--run RUN [--context CONTEXT]] ---- */

static const opt_spec add_opts[] = {
    {"--name", true}, {"--run", true}, {"--context", true}, {NULL, false}};

static json_t *text_or_null(const char *s)
{
    return s && *s ? json_str(s) : json_null();
}

static int print_added_json(const cairn_dataset_log_opts *o, const cairn_dataset_logged *r)
{
    json_t *j = json_object();
    if (j) {
        json_object_set_new(j, "name", json_str(o->name));
        json_object_set_new(j, "version",
                            r->spooled ? json_null() : json_integer((json_int_t)r->version));
        json_object_set_new(j, "new", r->spooled ? json_null() : json_boolean(r->created));
        json_object_set_new(j, "hash", json_str(o->digest->hash));
        json_object_set_new(j, "size", json_integer((json_int_t)o->digest->size));
        json_object_set_new(j, "files", json_integer((json_int_t)o->digest->files));
        json_object_set_new(j, "source", text_or_null(o->source));
        json_object_set_new(j, "run", text_or_null(o->run_id));
        json_object_set_new(j, "context", text_or_null(o->context));
        json_object_set_new(j, "spooled", json_boolean(r->spooled));
    }
    char *s = j ? json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER) : NULL;
    json_decref(j);
    return cli_print_json(s);
}

static int print_added(const cairn_dataset_log_opts *o, const cairn_dataset_logged *r)
{
    char size[FMT_NUM_LEN];
    const cairn_dataset_digest *d = o->digest;
    if (r->spooled)
        printf("%s: spooled by the agent (the version is numbered on arrival)", o->name);
    else
        printf("%s: version %" PRIu64 "%s", o->name, r->version, r->created ? " (new)" : "");
    printf(", sha256 %s, %" PRIu64 " file%s, %s", d->hash, d->files, d->files == 1 ? "" : "s",
           fmt_size(d->size, size));
    if (o->run_id)
        printf(", run %s%s%s", o->run_id, o->context ? " " : "", o->context ? o->context : "");
    putchar('\n');
    return CLI_OK;
}

static int add_dataset(cli_ctx *ctx, const char *path, cairn_dataset_log_opts *o)
{
    cairn_error err;
    cairn_dataset_digest digest;
    cairn_dataset_logged logged;
    cairn_client *c;
    /* Hashed before connecting: a refusal to read the data costs no round trip. */
    if (cairn_dataset_hash(path, 1, &digest, &err) || !(c = cli_client(ctx, &err)))
        return cli_fail(&err);
    char *source = realpath(path, NULL);
    o->digest = &digest;
    o->source = source ? source : path;
    cairn_status st = cairn_dataset_log(c, o, &logged, &err);
    int rc = st     ? cli_fail(&err)
        : ctx->json ? print_added_json(o, &logged)
                    : print_added(o, &logged);
    free(source);
    return rc;
}

int cmd_datasets_add(cli_ctx *ctx, const cli_command *self, int argc, char **argv)
{
    parsed_args a;
    int rc = cli_parse(ctx, self, argc, argv, add_opts, &a);
    if (rc >= 0)
        return rc;
    cairn_dataset_log_opts o = {.name = args_get(&a, "--name"),
                                .run_id = args_get(&a, "--run"),
                                .context = args_get(&a, "--context")};
    char run[27]; /* printed back as every other command prints a run id */
    if (a.n_pos != 1)
        rc = cli_usage_error(self, "expected one PATH (a file or a directory)");
    else if (!o.name || !*o.name)
        rc = cli_usage_error(self, "--name is required");
    else if (o.run_id && !cli_run_id_canonical(o.run_id, run))
        rc = cli_usage_error(self, "bad --run '%s': not a run id (a 26-character ULID)", o.run_id);
    else if (o.context && !o.run_id)
        rc = cli_usage_error(self, "--context is the use a run made of the data: it needs --run");
    else {
        if (o.run_id)
            o.run_id = run;
        rc = add_dataset(ctx, a.pos[0], &o);
    }
    args_free(&a);
    return rc;
}

/* ---- datasets list ---- */

static const char *short_hash(const char *hash, char buf[13])
{
    memcpy(buf, hash, 12);
    buf[12] = '\0';
    return buf;
}

static int print_datasets(const cairn_dataset_list *list)
{
    table *t = table_new(6);
    bool ok = t &&
        table_add(t, (const char *[]){"NAME", "VERSIONS", "SHA256", "SIZE", "FILES", "UPDATED"});
    for (size_t i = 0; ok && i < list->count; i++) {
        const cairn_dataset *d = &list->items[i];
        const cairn_dataset_version *v = &d->versions[0];
        char versions[32], hash[13], size[FMT_NUM_LEN], files[32], updated[FMT_TIME_LEN];
        snprintf(versions, sizeof versions, "%" PRIu64, d->n_total);
        snprintf(files, sizeof files, "%" PRIu64, v->files);
        ok = table_add(t,
                       (const char *[]){d->name, versions, short_hash(v->hash, hash),
                                        fmt_size(v->size, size), files,
                                        fmt_time(d->updated, updated)});
    }
    if (t) {
        table_align_right(t, 1);
        table_align_right(t, 3);
        table_align_right(t, 4);
    }
    return cli_print_table(t, ok);
}

/* A read of the command's positional arguments (0 or 1: NAME) into *out,
 * printed as JSON or for people, then freed. */
typedef struct dataset_read {
    size_t n_pos;
    cairn_status (*fetch)(cairn_client *c, char **pos, void **out, cairn_error *err);
    char *(*to_json)(const void *got);
    int (*print)(const void *got);
    void (*release)(void *got);
} dataset_read;

static int read_and_print(cli_ctx *ctx, const cli_command *self, int argc, char **argv,
                          const dataset_read *r)
{
    parsed_args a;
    cairn_error err;
    void *got = NULL;
    int rc = cli_parse(ctx, self, argc, argv, NULL, &a);
    if (rc >= 0)
        return rc;
    cairn_client *c = NULL;
    if (a.n_pos != r->n_pos)
        rc = cli_usage_error(self, r->n_pos ? "expected one NAME" : "unexpected argument");
    else if (!(c = cli_client(ctx, &err)) || r->fetch(c, a.pos, &got, &err))
        rc = cli_fail(&err);
    else
        rc = ctx->json ? cli_print_json(r->to_json(got)) : r->print(got);
    r->release(got);
    args_free(&a);
    return rc;
}

static cairn_status fetch_list(cairn_client *c, char **pos, void **out, cairn_error *err)
{
    (void)pos;
    return cairn_dataset_list_all(c, (cairn_dataset_list **)out, err);
}

static char *list_json(const void *got)
{
    return cairn_dataset_list_to_json(got);
}

static int list_print(const void *got)
{
    return print_datasets(got);
}

static void list_release(void *got)
{
    cairn_dataset_list_free(got);
}

int cmd_datasets_list(cli_ctx *ctx, const cli_command *self, int argc, char **argv)
{
    static const dataset_read list = {0, fetch_list, list_json, list_print, list_release};
    return read_and_print(ctx, self, argc, argv, &list);
}

/* ---- datasets show NAME ---- */

static bool print_header(const cairn_dataset *d)
{
    char created[FMT_TIME_LEN], updated[FMT_TIME_LEN];
    table *t = table_new(2);
    bool ok = t && table_add(t, (const char *[]){"name", d->name}) &&
        table_add(t, (const char *[]){"created", fmt_time(d->created, created)}) &&
        table_add(t, (const char *[]){"updated", fmt_time(d->updated, updated)});
    return table_print_section(t, ok, NULL);
}

static bool print_versions(const cairn_dataset *d)
{
    table *t = table_new(6);
    bool ok = t &&
        table_add(t, (const char *[]){"VERSION", "SHA256", "SIZE", "FILES", "CREATED", "SOURCE"});
    for (size_t i = 0; ok && i < d->n_versions; i++) {
        const cairn_dataset_version *v = &d->versions[i];
        char version[32], size[FMT_NUM_LEN], files[32], created[FMT_TIME_LEN];
        snprintf(version, sizeof version, "%" PRIu64, v->version);
        snprintf(files, sizeof files, "%" PRIu64, v->files);
        ok = table_add(t,
                       (const char *[]){version, v->hash, fmt_size(v->size, size), files,
                                        fmt_time(v->created, created), v->source});
    }
    if (t) {
        table_align_right(t, 0);
        table_align_right(t, 2);
        table_align_right(t, 3);
    }
    return table_print_section(t, ok, "versions");
}

/* The runs of every version, in one table; none: no section. */
static bool print_runs(const cairn_dataset *d)
{
    size_t n = 0;
    for (size_t i = 0; i < d->n_versions; i++)
        n += d->versions[i].n_runs;
    if (n == 0)
        return true;
    table *t = table_new(4);
    bool ok = t && table_add(t, (const char *[]){"VERSION", "RUN", "CONTEXT", "LINKED"});
    for (size_t i = 0; ok && i < d->n_versions; i++) {
        const cairn_dataset_version *v = &d->versions[i];
        for (size_t j = 0; ok && j < v->n_runs; j++) {
            char version[32], linked[FMT_TIME_LEN];
            snprintf(version, sizeof version, "%" PRIu64, v->version);
            ok = table_add(t,
                           (const char *[]){version, v->runs[j].run,
                                            *v->runs[j].context ? v->runs[j].context : "-",
                                            fmt_time(v->runs[j].linked, linked)});
        }
    }
    if (t)
        table_align_right(t, 0);
    return table_print_section(t, ok, "runs");
}

/* The model versions registered from those runs; none: no section. */
static bool print_models(const cairn_dataset *d)
{
    size_t n = 0;
    for (size_t i = 0; i < d->n_versions; i++)
        n += d->versions[i].n_models;
    if (n == 0)
        return true;
    table *t = table_new(4);
    bool ok = t && table_add(t, (const char *[]){"VERSION", "MODEL", "MODEL VERSION", "RUN"});
    for (size_t i = 0; ok && i < d->n_versions; i++) {
        const cairn_dataset_version *v = &d->versions[i];
        for (size_t j = 0; ok && j < v->n_models; j++) {
            char version[32], model_version[32];
            snprintf(version, sizeof version, "%" PRIu64, v->version);
            snprintf(model_version, sizeof model_version, "%" PRIu64, v->models[j].version);
            ok = table_add(t, (const char *[]){version, v->models[j].model, model_version,
                                               v->models[j].run});
        }
    }
    if (t) {
        table_align_right(t, 0);
        table_align_right(t, 2);
    }
    return table_print_section(t, ok, "model versions");
}

static cairn_status fetch_one(cairn_client *c, char **pos, void **out, cairn_error *err)
{
    return cairn_dataset_get(c, pos[0], (cairn_dataset **)out, err);
}

static char *show_json(const void *got)
{
    return cairn_dataset_to_json(got);
}

static int show_print(const void *got)
{
    return print_header(got) && print_versions(got) && print_runs(got) && print_models(got)
               ? CLI_OK
               : cli_out_of_memory();
}

static void show_release(void *got)
{
    cairn_dataset_free(got);
}

int cmd_datasets_show(cli_ctx *ctx, const cli_command *self, int argc, char **argv)
{
    static const dataset_read show = {1, fetch_one, show_json, show_print, show_release};
    return read_and_print(ctx, self, argc, argv, &show);
}
