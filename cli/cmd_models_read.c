/*
 * Reading the model registry: models list, show, versions, version, history
 * (each a models_read: its request and its tables; --json prints the libcairn
 * shapes of docs/cli.md), and get (the artifact of a version).
 */
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "mp_json.h"
#include "format.h"
#include "models_view.h"
#include "table.h"

static const char *number(uint64_t v, char buf[32])
{
    if (!v)
        return "-";
    snprintf(buf, 32, "%" PRIu64, v);
    return buf;
}

/* "a=1, b=2" of a model's aliases. */
/* "champion=3, challenger=4", or "-" for none, as models versions writes it. */
static char *alias_list(const cairn_model *m)
{
    size_t cap = 2;
    for (size_t i = 0; i < m->n_aliases; i++)
        cap += strlen(m->aliases[i].alias) + 24;
    char *s = malloc(cap), *p = s;
    if (!s)
        return NULL;
    for (size_t i = 0; i < m->n_aliases; i++)
        p += snprintf(p, cap - (size_t)(p - s), "%s%s=%" PRIu64, i ? ", " : "", m->aliases[i].alias,
                      m->aliases[i].version);
    snprintf(p, cap - (size_t)(p - s), "%s", m->n_aliases ? "" : "-");
    return s;
}

/* ---- models list ---- */

static cairn_status fetch_models(cairn_client *c, char *const *pos, void **out, cairn_error *err)
{
    cairn_model_list *list = NULL;
    (void)pos;
    cairn_status st = cairn_models_list(c, &list, err);
    *out = list;
    return st;
}

static char *models_json(const void *list)
{
    return cairn_model_list_to_json(list);
}

static void models_release(void *list)
{
    cairn_model_list_free(list);
}

static bool print_models(const void *result)
{
    const cairn_model_list *list = result;
    table *t = table_new(6);
    bool ok = t && table_add(t, (const char *[]){"NAME", "LATEST", "STAGING", "PRODUCTION",
                                                 "ALIASES", "UPDATED"});
    for (size_t i = 0; ok && i < list->count; i++) {
        const cairn_model *m = &list->items[i];
        char latest[32], staging[32], production[32], updated[FMT_TIME_LEN],
            *aliases = alias_list(m);
        ok = aliases && table_add(t, (const char *[]){m->name, number(m->latest_version, latest),
                                                      number(m->staging, staging),
                                                      number(m->production, production), aliases,
                                                      fmt_time(m->updated, updated)});
        free(aliases);
    }
    for (size_t col = 1; t && col <= 3; col++)
        table_align_right(t, col);
    return table_print_section(t, ok, NULL);
}

static const models_read list_read = {0,
                                      "models list takes no arguments",
                                      false,
                                      fetch_models,
                                      models_json,
                                      print_models,
                                      models_release};

int cmd_models_list(cli_ctx *ctx, const cli_command *self, int argc, char **argv)
{
    return models_view_read(ctx, self, argc, argv, &list_read);
}

/* ---- models show ---- */

static cairn_status fetch_model(cairn_client *c, char *const *pos, void **out, cairn_error *err)
{
    cairn_model *m = NULL;
    cairn_status st = cairn_model_get(c, pos[0], &m, err);
    *out = m;
    return st;
}

static char *model_json(const void *m)
{
    return cairn_model_to_json(m);
}

static void model_release(void *m)
{
    cairn_model_free(m);
}

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
    } stages[] = {
        {"Staging", m->staging}, {"Production", m->production}, {"Archived", m->archived}};
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

static bool print_model(const void *result)
{
    const cairn_model *m = result;
    char created[FMT_TIME_LEN], updated[FMT_TIME_LEN], latest[32];
    const char *rows[][2] = {{"name", m->name},
                             {"description", m->description},
                             {"created", fmt_time(m->created, created)},
                             {"updated", fmt_time(m->updated, updated)},
                             {"latest_version", number(m->latest_version, latest)}};
    bool ok = models_view_block(rows, sizeof rows / sizeof rows[0]) && print_model_aliases(m) &&
              print_model_stages(m) && cli_print_kv_section("tags", m->tags, m->n_tags);
    return ok;
}

static const models_read show_read = {1,          "expected one NAME", false,        fetch_model,
                                      model_json, print_model,         model_release};

int cmd_models_show(cli_ctx *ctx, const cli_command *self, int argc, char **argv)
{
    return models_view_read(ctx, self, argc, argv, &show_read);
}

/* ---- models versions, models history: every page ---- */

/* Defines page_fn (one page, handed over as its items), drop_fn (frees a
 * page that cannot be kept) and fetch_fn (every page as one list of
 * list_type, through models_view_fetch_all) for a paged call. */
#define PAGED_LIST(list_type, call, list_free, page_fn, drop_fn, fetch_fn)                         \
    static cairn_status page_fn(cairn_client *c, const char *name, uint64_t since, void **items,   \
                                size_t *count, uint64_t *next, cairn_error *err)                   \
    {                                                                                              \
        list_type *page;                                                                           \
        cairn_status st = call(c, name, since, 0, &page, err);                                     \
        if (st)                                                                                    \
            return st;                                                                             \
        *items = page->items;                                                                      \
        *count = page->count;                                                                      \
        *next = page->next;                                                                        \
        free(page);                                                                                \
        return CAIRN_OK;                                                                           \
    }                                                                                              \
    static void drop_fn(void *items, size_t n)                                                     \
    {                                                                                              \
        list_type *p = malloc(sizeof *p);                                                          \
        if (p)                                                                                     \
            *p = (list_type){items, n, 0};                                                         \
        list_free(p);                                                                              \
    }                                                                                              \
    static cairn_status fetch_fn(cairn_client *c, char *const *pos, void **out, cairn_error *err)  \
    {                                                                                              \
        list_type *all = calloc(1, sizeof *all);                                                   \
        cairn_status st =                                                                          \
            all ? models_view_fetch_all(c, pos[0], page_fn, drop_fn, sizeof *all->items,           \
                                        (void **)&all->items, &all->count, err)                    \
                : models_view_no_memory(err);                                                      \
        if (st)                                                                                    \
            list_free(all);                                                                        \
        *out = st ? NULL : all;                                                                    \
        return st;                                                                                 \
    }

PAGED_LIST(cairn_model_version_list, cairn_model_versions, cairn_model_version_list_free,
           versions_page, versions_drop, fetch_versions)
PAGED_LIST(cairn_model_event_list, cairn_model_history, cairn_model_event_list_free, history_page,
           history_drop, fetch_history)

static char *versions_json(const void *list)
{
    return cairn_model_version_list_to_json(list);
}

static void versions_release(void *list)
{
    cairn_model_version_list_free(list);
}

static bool print_versions(const void *result)
{
    const cairn_model_version_list *list = result;
    table *t = table_new(8);
    bool ok = t && table_add(t, (const char *[]){"VERSION", "STAGE", "ALIASES", "RUN", "ARTIFACT",
                                                 "SIZE", "CREATED", "CREATOR"});
    for (size_t i = 0; ok && i < list->count; i++) {
        const cairn_model_version *v = &list->items[i];
        char num[32], size[FMT_NUM_LEN], created[FMT_TIME_LEN], *aliases = models_view_aliases(v);
        ok = aliases &&
             table_add(t, (const char *[]){number(v->version, num), v->stage, aliases, v->run_id,
                                           v->artifact.path, fmt_size(v->artifact.size, size),
                                           fmt_time(v->created, created), v->creator});
        free(aliases);
    }
    if (t) {
        table_align_right(t, 0);
        table_align_right(t, 5);
    }
    return table_print_section(t, ok, NULL);
}

static const models_read versions_read = {
    1, "expected one NAME", false, fetch_versions, versions_json, print_versions, versions_release};

int cmd_models_versions(cli_ctx *ctx, const cli_command *self, int argc, char **argv)
{
    return models_view_read(ctx, self, argc, argv, &versions_read);
}

static char *history_json(const void *list)
{
    return cairn_model_event_list_to_json(list);
}

static bool print_history(const void *result)
{
    const cairn_model_event_list *list = result;
    return models_view_events(NULL, list->items, list->count);
}

static void history_release(void *list)
{
    cairn_model_event_list_free(list);
}

static const models_read history_read = {
    1, "expected one NAME", false, fetch_history, history_json, print_history, history_release};

int cmd_models_history(cli_ctx *ctx, const cli_command *self, int argc, char **argv)
{
    return models_view_read(ctx, self, argc, argv, &history_read);
}

/* ---- models version REF ---- */

int cmd_models_version(cli_ctx *ctx, const cli_command *self, int argc, char **argv)
{
    return models_view_read(ctx, self, argc, argv, &models_view_version_read);
}

/* ---- models get REF -o DIR ---- */

static const opt_spec get_opts[] = {{"-o", true}, {NULL, false}};

static int print_download(cli_ctx *ctx, const cairn_model_version *v, const char *file)
{
    if (!ctx->json) {
        char *shown = text_blank_copy(file); /* the stored artifact's name */
        if (!shown)
            return cli_error("out of memory"), CLI_FAILED;
        printf("%s: %" PRIu64 " bytes\n", shown, v->artifact.size);
        free(shown);
        return CLI_OK;
    }
    json_t *o = json_object();
    if (o) {
        json_object_set_new(o, "name", json_str(v->name));
        json_object_set_new(o, "version", json_integer((json_int_t)v->version));
        json_object_set_new(o, "file", json_str(file));
        json_object_set_new(o, "size", json_integer((json_int_t)v->artifact.size));
        json_object_set_new(o, "sha256", json_str(v->artifact.sha256));
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
