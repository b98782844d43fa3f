/*
 * Reading the model registry: models list, show, versions, version, history,
 * get (the artifact of a version). --json prints the libcairn shapes
 * (docs/cli.md); otherwise tables.
 */
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "format.h"
#include "models_view.h"
#include "table.h"

static int out_of_memory(void)
{
    fputs("cairn: out of memory\n", stderr);
    return CLI_FAILED;
}

static cairn_status no_memory(cairn_error *err)
{
    snprintf(err->message, sizeof err->message, "out of memory");
    return err->status = CAIRN_OUT_OF_MEMORY;
}

static int print_table(table *t, bool ok)
{
    if (ok && t)
        table_print(t, stdout, NULL);
    table_free(t);
    return ok && t ? CLI_OK : out_of_memory();
}

static const char *number(uint64_t v, char buf[32])
{
    if (!v)
        return "-";
    snprintf(buf, 32, "%" PRIu64, v);
    return buf;
}

/* "a=1, b=2" of a model's aliases. */
static char *alias_list(const cairn_model *m)
{
    size_t cap = 1;
    for (size_t i = 0; i < m->n_aliases; i++)
        cap += strlen(m->aliases[i].alias) + 24;
    char *s = malloc(cap), *p = s;
    for (size_t i = 0; s && i < m->n_aliases; i++)
        p += snprintf(p, cap - (size_t)(p - s), "%s%s=%" PRIu64, i ? ", " : "", m->aliases[i].alias,
                      m->aliases[i].version);
    if (s)
        *p = '\0';
    return s;
}

/* ---- models list ---- */

static int print_models(const cairn_model_list *list)
{
    table *t = table_new(6);
    bool ok = t && table_add(t, (const char *[]){"NAME", "LATEST", "STAGING", "PRODUCTION", "ALIASES",
                                                 "UPDATED"});
    for (size_t i = 0; ok && i < list->count; i++) {
        const cairn_model *m = &list->items[i];
        char latest[32], staging[32], production[32], updated[FMT_TIME_LEN], *aliases = alias_list(m);
        ok = aliases && table_add(t, (const char *[]){m->name, number(m->latest_version, latest),
                                                      number(m->staging, staging),
                                                      number(m->production, production), aliases,
                                                      fmt_time(m->updated, updated)});
        free(aliases);
    }
    for (size_t col = 1; t && col <= 3; col++)
        table_align_right(t, col);
    return print_table(t, ok);
}

int cmd_models_list(cli_ctx *ctx, const cli_command *self, int argc, char **argv)
{
    parsed_args a;
    cairn_error err;
    cairn_model_list *list = NULL;
    int rc = cli_parse(ctx, self, argc, argv, NULL, &a);
    if (rc >= 0)
        return rc;
    cairn_client *c = NULL;
    if (a.n_pos)
        rc = cli_usage_error(self, "unexpected argument '%s'", a.pos[0]);
    else if (!(c = cli_client(ctx, &err)) || cairn_models_list(c, &list, &err))
        rc = cli_fail(&err);
    else
        rc = ctx->json ? cli_print_json(cairn_model_list_to_json(list)) : print_models(list);
    cairn_model_list_free(list);
    args_free(&a);
    return rc;
}

/* ---- models show ---- */

static bool print_model_aliases(const cairn_model *m)
{
    table *t = m->n_aliases ? table_new(2) : NULL;
    bool ok = !m->n_aliases || (t && table_add(t, (const char *[]){"ALIAS", "VERSION"}));
    for (size_t i = 0; ok && i < m->n_aliases; i++) {
        char v[32];
        ok = table_add(t, (const char *[]){m->aliases[i].alias, number(m->aliases[i].version, v)});
    }
    if (t)
        table_align_right(t, 1);
    return cli_print_section("aliases", t, ok);
}

static bool print_model_stages(const cairn_model *m)
{
    const struct {
        const char *name;
        uint64_t version;
    } stages[] = {{"Staging", m->staging}, {"Production", m->production}, {"Archived", m->archived}};
    bool any = m->staging || m->production || m->archived;
    table *t = any ? table_new(2) : NULL;
    bool ok = !any || (t && table_add(t, (const char *[]){"STAGE", "HIGHEST VERSION"}));
    for (size_t i = 0; ok && i < 3; i++) {
        char v[32];
        if (stages[i].version)
            ok = table_add(t, (const char *[]){stages[i].name, number(stages[i].version, v)});
    }
    if (t)
        table_align_right(t, 1);
    return cli_print_section("stages", t, ok);
}

static int print_model(const cairn_model *m)
{
    char created[FMT_TIME_LEN], updated[FMT_TIME_LEN], latest[32];
    const char *rows[][2] = {{"name", m->name},
                             {"description", m->description},
                             {"created", fmt_time(m->created, created)},
                             {"updated", fmt_time(m->updated, updated)},
                             {"latest_version", number(m->latest_version, latest)}};
    bool ok = models_view_block(rows, sizeof rows / sizeof rows[0]) && print_model_aliases(m) &&
              print_model_stages(m) && cli_print_kv_section("tags", m->tags, m->n_tags);
    return ok ? CLI_OK : out_of_memory();
}

int cmd_models_show(cli_ctx *ctx, const cli_command *self, int argc, char **argv)
{
    parsed_args a;
    cairn_error err;
    cairn_model *m = NULL;
    int rc = cli_parse(ctx, self, argc, argv, NULL, &a);
    if (rc >= 0)
        return rc;
    cairn_client *c = NULL;
    if (a.n_pos != 1)
        rc = cli_usage_error(self, a.n_pos ? "expected one NAME" : "missing NAME");
    else if (!(c = cli_client(ctx, &err)) || cairn_model_get(c, a.pos[0], &m, &err))
        rc = cli_fail(&err);
    else
        rc = ctx->json ? cli_print_json(cairn_model_to_json(m)) : print_model(m);
    cairn_model_free(m);
    args_free(&a);
    return rc;
}

/* ---- models versions ---- */

static cairn_status versions_page(cairn_client *c, const char *name, uint64_t since, void **items,
                                  size_t *count, uint64_t *next, cairn_error *err)
{
    cairn_model_version_list *page;
    cairn_status st = cairn_model_versions(c, name, since, 0, &page, err);
    if (st)
        return st;
    *items = page->items;
    *count = page->count;
    *next = page->next;
    free(page);
    return CAIRN_OK;
}

static void versions_drop(void *items, size_t n)
{
    cairn_model_version_list page = {items, n, 0}, *p = malloc(sizeof *p);
    if (p)
        *p = page;
    cairn_model_version_list_free(p);
}

/* Every page, as one list (freed with cairn_model_version_list_free). */
static cairn_status fetch_versions(cairn_client *c, const char *name, cairn_model_version_list **out,
                                   cairn_error *err)
{
    cairn_model_version_list *all = calloc(1, sizeof *all);
    cairn_status st = all ? models_view_fetch_all(c, name, versions_page, versions_drop,
                                                  sizeof *all->items, (void **)&all->items,
                                                  &all->count, err)
                          : no_memory(err);
    if (st)
        cairn_model_version_list_free(all);
    *out = st ? NULL : all;
    return st;
}

static int print_versions(const cairn_model_version_list *list)
{
    table *t = table_new(8);
    bool ok = t && table_add(t, (const char *[]){"VERSION", "STAGE", "ALIASES", "RUN", "ARTIFACT",
                                                 "SIZE", "CREATED", "CREATOR"});
    for (size_t i = 0; ok && i < list->count; i++) {
        const cairn_model_version *v = &list->items[i];
        char num[32], size[FMT_NUM_LEN], created[FMT_TIME_LEN], *aliases = models_view_aliases(v);
        ok = aliases && table_add(t, (const char *[]){number(v->version, num), v->stage, aliases,
                                                      v->run_id, v->artifact.path,
                                                      fmt_size(v->artifact.size, size),
                                                      fmt_time(v->created, created), v->creator});
        free(aliases);
    }
    if (t) {
        table_align_right(t, 0);
        table_align_right(t, 5);
    }
    return print_table(t, ok);
}

int cmd_models_versions(cli_ctx *ctx, const cli_command *self, int argc, char **argv)
{
    parsed_args a;
    cairn_error err;
    cairn_model_version_list *list = NULL;
    int rc = cli_parse(ctx, self, argc, argv, NULL, &a);
    if (rc >= 0)
        return rc;
    cairn_client *c = NULL;
    if (a.n_pos != 1)
        rc = cli_usage_error(self, a.n_pos ? "expected one NAME" : "missing NAME");
    else if (!(c = cli_client(ctx, &err)) || fetch_versions(c, a.pos[0], &list, &err))
        rc = cli_fail(&err);
    else
        rc = ctx->json ? cli_print_json(cairn_model_version_list_to_json(list)) : print_versions(list);
    cairn_model_version_list_free(list);
    args_free(&a);
    return rc;
}

/* ---- models version REF ---- */

static int show_version(cli_ctx *ctx, const char *ref)
{
    cairn_error err;
    cairn_model_version *v = NULL;
    cairn_client *c = cli_client(ctx, &err);
    int rc;
    if (!c || cairn_model_version_get(c, ref, &v, &err))
        rc = cli_fail(&err);
    else if (ctx->json)
        rc = cli_print_json(cairn_model_version_to_json(v));
    else
        rc = models_view_version(v) ? CLI_OK : out_of_memory();
    cairn_model_version_free(v);
    return rc;
}

int cmd_models_version(cli_ctx *ctx, const cli_command *self, int argc, char **argv)
{
    parsed_args a;
    int rc = cli_parse(ctx, self, argc, argv, NULL, &a);
    if (rc >= 0)
        return rc;
    if (a.n_pos != 1)
        rc = cli_usage_error(self, a.n_pos ? "expected one REF" : "missing REF");
    else if ((rc = models_view_check_ref(self, a.pos[0])) == CLI_OK)
        rc = show_version(ctx, a.pos[0]);
    args_free(&a);
    return rc;
}

/* ---- models history ---- */

static cairn_status history_page(cairn_client *c, const char *name, uint64_t since, void **items,
                                 size_t *count, uint64_t *next, cairn_error *err)
{
    cairn_model_event_list *page;
    cairn_status st = cairn_model_history(c, name, since, 0, &page, err);
    if (st)
        return st;
    *items = page->items;
    *count = page->count;
    *next = page->next;
    free(page);
    return CAIRN_OK;
}

static void history_drop(void *items, size_t n)
{
    cairn_model_event_list page = {items, n, 0}, *p = malloc(sizeof *p);
    if (p)
        *p = page;
    cairn_model_event_list_free(p);
}

static cairn_status fetch_history(cairn_client *c, const char *name, cairn_model_event_list **out,
                                  cairn_error *err)
{
    cairn_model_event_list *all = calloc(1, sizeof *all);
    cairn_status st = all ? models_view_fetch_all(c, name, history_page, history_drop,
                                                  sizeof *all->items, (void **)&all->items,
                                                  &all->count, err)
                          : no_memory(err);
    if (st)
        cairn_model_event_list_free(all);
    *out = st ? NULL : all;
    return st;
}

int cmd_models_history(cli_ctx *ctx, const cli_command *self, int argc, char **argv)
{
    parsed_args a;
    cairn_error err;
    cairn_model_event_list *list = NULL;
    int rc = cli_parse(ctx, self, argc, argv, NULL, &a);
    if (rc >= 0)
        return rc;
    cairn_client *c = NULL;
    if (a.n_pos != 1)
        rc = cli_usage_error(self, a.n_pos ? "expected one NAME" : "missing NAME");
    else if (!(c = cli_client(ctx, &err)) || fetch_history(c, a.pos[0], &list, &err))
        rc = cli_fail(&err);
    else if (ctx->json)
        rc = cli_print_json(cairn_model_event_list_to_json(list));
    else
        rc = models_view_events(NULL, list->items, list->count) ? CLI_OK : out_of_memory();
    cairn_model_event_list_free(list);
    args_free(&a);
    return rc;
}

/* ---- models get REF -o DIR ---- */

static const opt_spec get_opts[] = {{"-o", true}, {NULL, false}};

static int print_download(cli_ctx *ctx, const cairn_model_version *v, const char *file)
{
    if (!ctx->json) {
        printf("%s: %" PRIu64 " bytes\n", file, v->artifact.size);
        return CLI_OK;
    }
    json_t *o = json_object();
    if (o) {
        json_object_set_new(o, "name", json_string(v->name));
        json_object_set_new(o, "version", json_integer((json_int_t)v->version));
        json_object_set_new(o, "file", json_string(file));
        json_object_set_new(o, "size", json_integer((json_int_t)v->artifact.size));
        json_object_set_new(o, "sha256", json_string(v->artifact.sha256));
    }
    char *s = o ? json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER) : NULL;
    json_decref(o);
    return cli_print_json(s);
}

static int download(cli_ctx *ctx, const char *ref, const char *dir)
{
    cairn_error err;
    cairn_model_version *v = NULL;
    char file[4096];
    cairn_client *c = cli_client(ctx, &err);
    int rc;
    if (!c || cairn_model_version_get(c, ref, &v, &err) ||
        cairn_model_version_download(c, v, dir, file, sizeof file, &err))
        rc = cli_fail(&err);
    else
        rc = print_download(ctx, v, file);
    cairn_model_version_free(v);
    return rc;
}

int cmd_models_get(cli_ctx *ctx, const cli_command *self, int argc, char **argv)
{
    parsed_args a;
    int rc = cli_parse(ctx, self, argc, argv, get_opts, &a);
    if (rc >= 0)
        return rc;
    const char *dir = args_get(&a, "-o") ? args_get(&a, "-o") : ".";
    if (a.n_pos != 1)
        rc = cli_usage_error(self, a.n_pos ? "expected one REF" : "missing REF");
    else if (!*dir)
        rc = cli_usage_error(self, "-o needs a directory");
    else if ((rc = models_view_check_ref(self, a.pos[0])) == CLI_OK)
        rc = download(ctx, a.pos[0], dir);
    args_free(&a);
    return rc;
}
