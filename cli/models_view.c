#include "models_view.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "format.h"
#include "model_ref.h"
#include "table.h"

int models_view_check_ref(const cli_command *self, const char *ref)
{
    model_ref r;
    cairn_error err;
    if (model_ref_parse(ref, &r, &err))
        return cli_usage_error(self, "%s", err.message);
    model_ref_free(&r);
    return CLI_OK;
}

cairn_status models_view_no_memory(cairn_error *err)
{
    snprintf(err->message, sizeof err->message, "out of memory");
    return err->status = CAIRN_OUT_OF_MEMORY;
}

int models_view_show(cli_ctx *ctx, const models_read *r, char *const *pos)
{
    cairn_error err;
    void *result = NULL;
    cairn_client *c = cli_client(ctx, &err);
    int rc;
    if (!c || r->fetch(c, pos, &result, &err))
        rc = cli_fail(&err);
    else if (ctx->json)
        rc = cli_print_json(r->to_json(result));
    else if (!r->print(result))
        rc = cli_fail(&(cairn_error){CAIRN_OUT_OF_MEMORY, "out of memory"});
    else
        rc = CLI_OK;
    if (result)
        r->release(result);
    return rc;
}

int models_view_read(cli_ctx *ctx, const cli_command *self, int argc, char **argv,
                     const models_read *r)
{
    parsed_args a;
    int rc = cli_parse(ctx, self, argc, argv, NULL, &a);
    if (rc >= 0)
        return rc;
    if (a.n_pos != r->n_pos)
        rc = cli_usage_error(self, "%s", r->expected);
    else if (!r->is_ref || (rc = models_view_check_ref(self, a.pos[0])) == CLI_OK)
        rc = models_view_show(ctx, r, a.pos);
    args_free(&a);
    return rc;
}

bool models_view_block(const char *const (*rows)[2], size_t n)
{
    table *t = table_new(2);
    bool ok = t != NULL;
    for (size_t i = 0; ok && i < n; i++)
        ok = table_add(t, rows[i]);
    if (ok)
        table_print(t, stdout, NULL);
    table_free(t);
    return ok;
}

char *models_view_aliases(const cairn_model_version *v)
{
    size_t cap = 2;
    for (size_t i = 0; i < v->n_aliases; i++)
        cap += strlen(v->aliases[i]) + 2;
    char *s = malloc(cap), *p = s;
    if (!s)
        return NULL;
    for (size_t i = 0; i < v->n_aliases; i++)
        p += snprintf(p, cap - (size_t)(p - s), "%s%s", i ? ", " : "", v->aliases[i]);
    snprintf(p, cap - (size_t)(p - s), "%s", v->n_aliases ? "" : "-");
    return s;
}

/* ---- a version ---- */

static bool print_signature(const cairn_signature *s)
{
    if (!s)
        return true;
    table *t = table_new(2);
    bool ok = t && table_add(t, (const char *[]){"INPUT", "TYPE"});
    for (size_t i = 0; ok && i < s->n_inputs; i++)
        ok = table_add(t, (const char *[]){s->inputs[i].name, s->inputs[i].type});
    if (ok && s->output)
        ok = table_add(t, (const char *[]){"(output)", s->output});
    return cli_print_section("signature", t, ok);
}

bool models_view_version(const cairn_model_version *v)
{
    char version[32], size[FMT_NUM_LEN], created[FMT_TIME_LEN], updated[FMT_TIME_LEN];
    char *aliases = models_view_aliases(v);
    snprintf(version, sizeof version, "%" PRIu64, v->version);
    const char *rows[][2] = {{"name", v->name},
                             {"version", version},
                             {"stage", v->stage},
                             {"aliases", aliases},
                             {"run", v->run_id},
                             {"artifact", v->artifact.path},
                             {"size", fmt_size(v->artifact.size, size)},
                             {"sha256", v->artifact.sha256},
                             {"description", v->description},
                             {"creator", v->creator},
                             {"created", fmt_time(v->created, created)},
                             {"updated", fmt_time(v->updated, updated)}};
    bool ok = aliases && models_view_block(rows, sizeof rows / sizeof rows[0]) &&
              cli_print_kv_section("tags", v->tags, v->n_tags) && print_signature(v->signature);
    if (ok && v->input_example) {
        char *example = text_blank_copy(v->input_example);
        printf("\ninput example:\n  %s\n", example ? example : "(out of memory)");
        free(example);
    }
    free(aliases);
    return ok;
}

static cairn_status fetch_version(cairn_client *c, char *const *pos, void **out, cairn_error *err)
{
    cairn_model_version *v = NULL;
    cairn_status st = cairn_model_version_get(c, pos[0], &v, err);
    *out = v;
    return st;
}

static char *version_json(const void *v)
{
    return cairn_model_version_to_json(v);
}

static bool print_version(const void *v)
{
    return models_view_version(v);
}

static void version_release(void *v)
{
    cairn_model_version_free(v);
}

const models_read models_view_version_read = {
    1, "expected one REF", true, fetch_version, version_json, print_version, version_release};

/* ---- history ---- */

static const char *version_text(uint64_t v, char buf[32])
{
    if (!v)
        return "-";
    snprintf(buf, 32, "%" PRIu64, v);
    return buf;
}

/* "version 3: Staging -> Production", "alias champion: 2 -> 3", with
 * "rollback: " before and " (undoes 5)" after a rollback's. */
static void change_text(const cairn_model_event *e, char *buf, size_t cap)
{
    char from[32], to[32], undoes[48] = "";
    if (e->undoes)
        snprintf(undoes, sizeof undoes, " (undoes %" PRIu64 ")", e->undoes);
    if (e->alias)
        snprintf(buf, cap, "%salias %s: %s -> %s%s", e->rollback ? "rollback: " : "", e->alias,
                 version_text(e->from_version, from), version_text(e->to_version, to), undoes);
    else
        snprintf(buf, cap, "%sversion %" PRIu64 ": %s -> %s%s", e->rollback ? "rollback: " : "",
                 e->version, e->from_stage, e->to_stage, undoes);
}

bool models_view_events(const char *title, const cairn_model_event *e, size_t n)
{
    table *t = table_new(5);
    bool ok = t && table_add(t, (const char *[]){"SEQ", "TIME", "ACTOR", "CHANGE", "REASON"});
    for (size_t i = 0; ok && i < n; i++) {
        char seq[32], time[FMT_TIME_LEN], change[400];
        snprintf(seq, sizeof seq, "%" PRIu64, e[i].seq);
        change_text(&e[i], change, sizeof change);
        ok = table_add(
            t, (const char *[]){seq, fmt_time(e[i].time, time), e[i].actor, change, e[i].reason});
    }
    if (t)
        table_align_right(t, 0);
    if (title && !n) { /* no section for no events */
        table_free(t);
        return ok;
    }
    if (title)
        return cli_print_section(title, t, ok);
    if (ok)
        table_print(t, stdout, NULL);
    table_free(t);
    return ok;
}

/* ---- paging ---- */

cairn_status models_view_fetch_all(cairn_client *c, const char *name, models_view_page fetch,
                                   models_view_drop drop, size_t size, void **items, size_t *count,
                                   cairn_error *err)
{
    uint64_t since = 1;
    while (since) {
        void *page;
        size_t n;
        cairn_status st = fetch(c, name, since, &page, &n, &since, err);
        if (st)
            return st;
        char *all = realloc(*items, (*count + n + 1) * size);
        if (!all) {
            drop(page, n);
            snprintf(err->message, sizeof err->message, "out of memory");
            return err->status = CAIRN_OUT_OF_MEMORY;
        }
        memcpy(all + *count * size, page, n * size);
        free(page); /* its items moved: only the array goes */
        *items = all;
        *count += n;
    }
    return CAIRN_OK;
}
