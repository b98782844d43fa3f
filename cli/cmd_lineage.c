/*
 * cairn lineage REF | MODEL VERSION: how a model version was made, from one
 * coordinator request: the version, its run and where the run came from
 * (user, host, git commit and dirty flag), its params and final metrics, the
 * datasets it used, and the version's stage and alias events.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "format.h"
#include "models_view.h"
#include "table.h"

static const char *run_tag(const cairn_run *r, const char *key)
{
    for (size_t i = 0; i < r->n_tags; i++)
        if (strcmp(r->tags[i].key, key) == 0)
            return r->tags[i].value;
    return "-";
}

static bool print_run_source(const cairn_run *r)
{
    char start[FMT_TIME_LEN], end[FMT_TIME_LEN];
    const char *rows[][2] = {{"id", r->id},
                             {"name", r->name},
                             {"experiment", r->experiment},
                             {"status", r->status},
                             {"start", fmt_time(r->start_time, start)},
                             {"end", fmt_time(r->end_time, end)},
                             {"user", run_tag(r, "cairn.user")},
                             {"host", run_tag(r, "cairn.host")},
                             {"git commit", run_tag(r, "cairn.git.commit")},
                             {"git dirty", run_tag(r, "cairn.git.dirty")}};
    table *t = table_new(2);
    bool ok = t != NULL;
    for (size_t i = 0; ok && i < sizeof rows / sizeof rows[0]; i++)
        ok = table_add(t, rows[i]);
    return cli_print_section("run", t, ok);
}

static bool print_datasets(const cairn_lineage *l)
{
    if (l->n_datasets == 0) {
        printf("\ndatasets: none recorded\n");
        return true;
    }
    table *t = table_new(6);
    bool ok = t && table_add(t, (const char *[]){"NAME", "VERSION", "CONTEXT", "SHA256", "SIZE",
                                                 "FILES"});
    for (size_t i = 0; ok && i < l->n_datasets; i++) {
        const cairn_lineage_dataset *d = &l->datasets[i];
        char version[32], size[FMT_NUM_LEN], files[32];
        snprintf(version, sizeof version, "%" PRIu64, d->version);
        snprintf(files, sizeof files, "%" PRIu64, d->files);
        ok = table_add(t, (const char *[]){d->name, version, *d->context ? d->context : "-",
                                           d->hash, fmt_size(d->size, size), files});
    }
    if (t) {
        table_align_right(t, 1);
        table_align_right(t, 4);
        table_align_right(t, 5);
    }
    return table_print_section(t, ok, "datasets");
}

static bool print_lineage(const void *result)
{
    const cairn_lineage *l = result;
    return models_view_version(&l->version) && print_run_source(&l->run) &&
           cli_print_kv_section("params", l->run.params, l->run.n_params) &&
           cli_print_metrics_section(&l->run) && print_datasets(l) &&
           models_view_events("events", l->events, l->n_events);
}

static cairn_status fetch_lineage(cairn_client *c, char *const *pos, void **out, cairn_error *err)
{
    cairn_lineage *l = NULL;
    cairn_status st = cairn_model_lineage(c, pos[0], &l, err);
    *out = l;
    return st;
}

static char *lineage_json(const void *l)
{
    return cairn_lineage_to_json(l);
}

static void lineage_release(void *l)
{
    cairn_lineage_free(l);
}

static const models_read lineage_read = {
    1, "expected a REF", true, fetch_lineage, lineage_json, print_lineage, lineage_release};

int cmd_lineage(cli_ctx *ctx, const cli_command *self, int argc, char **argv)
{
    parsed_args a;
    uint64_t version;
    char *ref = NULL;
    int rc = cli_parse(ctx, self, argc, argv, NULL, &a);
    if (rc >= 0)
        return rc;
    if (a.n_pos == 2 && args_uint(a.pos[1], &version))
        rc = cli_usage_error(self, "bad VERSION '%s': expected a version number", a.pos[1]);
    else if (a.n_pos == 2 && strpbrk(a.pos[0], "@/"))
        rc = cli_usage_error(self, "bad MODEL '%s': before a VERSION, a model name alone "
                                   "(no '@' or '/')", a.pos[0]);
    else if (a.n_pos == 2 && (ref = malloc(strlen(a.pos[0]) + strlen(a.pos[1]) + 2)))
        sprintf(ref, "%s/%s", a.pos[0], a.pos[1]); /* MODEL VERSION */
    else if (a.n_pos == 1)
        ref = strdup(a.pos[0]);
    else if (a.n_pos != 2)
        rc = cli_usage_error(self, "expected MODEL VERSION, or one of MODEL/VERSION, MODEL@ALIAS, "
                                   "MODEL/STAGE");
    if (rc < 0 && !ref)
        rc = cli_fail(&(cairn_error){CAIRN_OUT_OF_MEMORY, "out of memory"});
    if (rc < 0 && (rc = models_view_check_ref(self, ref)) == CLI_OK)
        rc = models_view_show(ctx, &lineage_read, (char *[]){ref});
    free(ref);
    args_free(&a);
    return rc;
}
