/*
 * Reading runs: runs list, runs show, runs compare. --json prints the
 * libcairn JSON shapes (docs/cli.md); otherwise aligned tables.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "fetch.h"
#include "format.h"
#include "table.h"

/* Beyond this many metric columns runs list points to runs show / --json. */
#define LIST_METRIC_COLUMNS 6
#define CELL_MAX 40

static int out_of_memory(void)
{
    fputs("cairn: out of memory\n", stderr);
    return CLI_FAILED;
}

/* ---- sets of keys across runs ---- */

typedef struct key_set {
    const char **keys; /* borrowed from the runs; sorted, unique */
    size_t n;
} key_set;

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static void key_set_finish(key_set *s)
{
    size_t n = 0;
    qsort(s->keys, s->n, sizeof *s->keys, cmp_str);
    for (size_t i = 0; i < s->n; i++)
        if (n == 0 || strcmp(s->keys[n - 1], s->keys[i]) != 0)
            s->keys[n++] = s->keys[i];
    s->n = n;
}

/* The metric keys (params when params is set) of every run. */
static bool key_set_of(const cairn_run *const *runs, size_t n_runs, bool params, key_set *out)
{
    size_t total = 0;
    for (size_t r = 0; r < n_runs; r++)
        total += params ? runs[r]->n_params : runs[r]->n_metrics;
    out->n = 0;
    out->keys = malloc((total + 1) * sizeof *out->keys);
    if (!out->keys)
        return false;
    for (size_t r = 0; r < n_runs; r++) {
        size_t n = params ? runs[r]->n_params : runs[r]->n_metrics;
        for (size_t i = 0; i < n; i++)
            out->keys[out->n++] = params ? runs[r]->params[i].key : runs[r]->metrics[i].key;
    }
    key_set_finish(out);
    return true;
}

static const cairn_metric *find_metric(const cairn_run *r, const char *key)
{
    for (size_t i = 0; i < r->n_metrics; i++)
        if (strcmp(r->metrics[i].key, key) == 0)
            return &r->metrics[i];
    return NULL;
}

static const char *find_kv(const cairn_kv *kv, size_t n, const char *key)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(kv[i].key, key) == 0)
            return kv[i].value;
    return NULL;
}

static const char *metric_text(const cairn_run *r, const char *key, char buf[FMT_NUM_LEN])
{
    const cairn_metric *m = find_metric(r, key);
    return m ? fmt_double(m->value, buf) : "-";
}

/* ---- runs list ---- */

static const opt_spec list_opts[] = {{"--experiment", true}, {"--filter", true},
                                     {"--order-by", true},   {"--max", true},
                                     {NULL, false}};

static bool list_row(table *t, const cairn_run *r, const key_set *metrics, size_t n_metric_cols)
{
    const char *cells[4 + LIST_METRIC_COLUMNS];
    char start[FMT_TIME_LEN], nums[LIST_METRIC_COLUMNS][FMT_NUM_LEN];
    cells[0] = r->id;
    cells[1] = r->name;
    cells[2] = r->status;
    cells[3] = fmt_time(r->start_time, start);
    for (size_t i = 0; i < n_metric_cols; i++)
        cells[4 + i] = metric_text(r, metrics->keys[i], nums[i]);
    return table_add(t, cells);
}

static int print_run_table(const cairn_run_list *list)
{
    const cairn_run **runs = malloc((list->count + 1) * sizeof *runs);
    key_set metrics = {0};
    for (size_t i = 0; runs && i < list->count; i++)
        runs[i] = &list->runs[i];
    bool ok = runs && key_set_of(runs, list->count, false, &metrics);
    size_t n_cols = metrics.n < LIST_METRIC_COLUMNS ? metrics.n : LIST_METRIC_COLUMNS;
    table *t = ok ? table_new(4 + n_cols) : NULL;
    const char *header[4 + LIST_METRIC_COLUMNS] = {"ID", "NAME", "STATUS", "START"};
    for (size_t i = 0; i < n_cols; i++) {
        header[4 + i] = metrics.keys[i];
        if (t)
            table_align_right(t, 4 + i);
    }
    if (t)
        table_max_width(t, 1, CELL_MAX);
    ok = t && table_add(t, header);
    for (size_t r = 0; ok && r < list->count; r++)
        ok = list_row(t, &list->runs[r], &metrics, n_cols);
    if (ok)
        table_print(t, stdout, NULL);
    if (ok && metrics.n > n_cols)
        fprintf(stderr, "cairn: %zu more metric columns not shown (see 'runs show' or --json)\n",
                metrics.n - n_cols);
    table_free(t);
    free(metrics.keys);
    free(runs);
    return ok ? CLI_OK : out_of_memory();
}

static int list_runs(cli_ctx *ctx, const parsed_args *a, size_t max)
{
    cairn_error err;
    cairn_run_list *list = NULL;
    size_t n_order = args_count(a, "--order-by");
    const char **order = calloc(n_order + 1, sizeof *order);
    cairn_search_opts o = {.experiment = args_get(a, "--experiment"),
                           .filter = args_get(a, "--filter"),
                           .order_by = order,
                           .n_order_by = n_order};
    if (!order)
        return out_of_memory();
    for (size_t i = 0, k = 0; i < a->n_opts; i++)
        if (strcmp(a->opts[i].name, "--order-by") == 0)
            order[k++] = a->opts[i].value;
    cairn_client *c = cli_client(ctx, &err);
    int rc = (!c || fetch_runs(c, &o, max, &list, &err)) ? cli_fail(&err) : CLI_OK;
    free(order);
    if (rc == CLI_OK)
        rc = ctx->json ? cli_print_json(cairn_run_list_to_json(list)) : print_run_table(list);
    cairn_run_list_free(list);
    return rc;
}

int cmd_runs_list(cli_ctx *ctx, const cli_command *self, int argc, char **argv)
{
    parsed_args a;
    uint64_t max = 0;
    const char *why = NULL;
    int rc = cli_parse(ctx, self, argc, argv, list_opts, &a);
    if (rc >= 0)
        return rc;
    rc = cli_check_experiment_args(self, &a);
    if (rc == CLI_OK && (why = args_positive_count(&a, "--max", &max)))
        rc = cli_usage_error(self, "bad --max: %s", why);
    else if (rc == CLI_OK)
        rc = list_runs(ctx, &a, (size_t)max);
    args_free(&a);
    return rc;
}

/* ---- runs show ---- */

/* Prints t indented under title when every row made it in (ok) and there
 * are rows (t: a run without metrics, say, makes no table); frees t. */
bool cli_print_section(const char *title, table *t, bool ok)
{
    if (ok && t) {
        printf("\n%s:\n", title);
        table_print(t, stdout, "  ");
    }
    table_free(t);
    return ok;
}

bool cli_print_kv_section(const char *title, const cairn_kv *kv, size_t n)
{
    table *t = n ? table_new(2) : NULL;
    bool ok = n == 0 || t != NULL;
    for (size_t i = 0; ok && i < n; i++)
        ok = table_add(t, (const char *[]){kv[i].key, kv[i].value});
    return cli_print_section(title, t, ok);
}

bool cli_print_metrics_section(const cairn_run *r)
{
    table *t = r->n_metrics ? table_new(4) : NULL;
    bool ok = r->n_metrics == 0 || (t && table_add(t, (const char *[]){"KEY", "VALUE", "STEP", "TIMESTAMP"}));
    for (size_t i = 0; ok && i < r->n_metrics; i++) {
        char value[FMT_NUM_LEN], step[32], ts[FMT_TIME_LEN];
        snprintf(step, sizeof step, "%" PRId64, r->metrics[i].step);
        ok = table_add(t, (const char *[]){r->metrics[i].key, fmt_double(r->metrics[i].value, value),
                                           step, fmt_time_ms(r->metrics[i].timestamp, ts)});
    }
    if (t) {
        table_align_right(t, 1);
        table_align_right(t, 2);
    }
    return cli_print_section("metrics", t, ok);
}

static bool print_artifacts_section(const cairn_run *r)
{
    table *t = r->n_artifacts ? table_new(3) : NULL;
    bool ok = r->n_artifacts == 0 || (t && table_add(t, (const char *[]){"PATH", "SIZE", "SHA256"}));
    for (size_t i = 0; ok && i < r->n_artifacts; i++) {
        char size[FMT_NUM_LEN];
        const cairn_artifact *art = &r->artifacts[i];
        ok = table_add(t, (const char *[]){art->path, fmt_size(art->size, size), art->sha256});
    }
    if (t)
        table_align_right(t, 1);
    return cli_print_section("artifacts", t, ok);
}

static bool print_run_header(const cairn_run *r)
{
    char start[FMT_TIME_LEN], end[FMT_TIME_LEN], exp_id[32];
    snprintf(exp_id, sizeof exp_id, "%" PRIu64, r->experiment_id);
    const char *rows[][2] = {{"id", r->id},           {"name", r->name},
                             {"experiment", r->experiment}, {"experiment_id", exp_id},
                             {"status", r->status},   {"start", fmt_time(r->start_time, start)},
                             {"end", fmt_time(r->end_time, end)}};
    table *t = table_new(2);
    bool ok = t != NULL;
    for (size_t i = 0; ok && i < sizeof rows / sizeof rows[0]; i++)
        ok = table_add(t, rows[i]);
    if (ok)
        table_print(t, stdout, NULL);
    table_free(t);
    return ok;
}

int cli_print_run(const cairn_run *r)
{
    bool ok = print_run_header(r) && cli_print_kv_section("params", r->params, r->n_params) &&
              cli_print_metrics_section(r) && cli_print_kv_section("tags", r->tags, r->n_tags) &&
              print_artifacts_section(r);
    return ok ? CLI_OK : out_of_memory();
}

int cmd_runs_show(cli_ctx *ctx, const cli_command *self, int argc, char **argv)
{
    parsed_args a;
    cairn_error err;
    cairn_run *run = NULL;
    int rc = cli_parse(ctx, self, argc, argv, NULL, &a);
    if (rc >= 0)
        return rc;
    cairn_client *c = NULL;
    if (a.n_pos != 1)
        rc = cli_usage_error(self, a.n_pos ? "expected one RUN" : "missing RUN");
    else if (!(c = cli_client(ctx, &err)) || cairn_run_get(c, a.pos[0], &run, &err))
        rc = cli_fail(&err);
    else
        rc = ctx->json ? cli_print_json(cairn_run_to_json(run)) : cli_print_run(run);
    cairn_run_free(run);
    args_free(&a);
    return rc;
}

/* ---- runs compare ---- */

typedef struct compare {
    cairn_run **runs;
    size_t n;
    table *t;
} compare;

static bool compare_row(compare *cmp, const char *label, const char *(*cell)(const cairn_run *, const char *, char *),
                        const char *key)
{
    const char **cells = malloc((cmp->n + 1) * sizeof *cells);
    char (*bufs)[FMT_TIME_LEN + FMT_NUM_LEN] = malloc((cmp->n + 1) * sizeof *bufs);
    bool ok = cells && bufs;
    for (size_t i = 0; ok && i < cmp->n; i++)
        cells[1 + i] = cell(cmp->runs[i], key, bufs[i]);
    if (ok) {
        cells[0] = label;
        ok = table_add(cmp->t, cells);
    }
    free(cells);
    free(bufs);
    return ok;
}

static const char *cell_id(const cairn_run *r, const char *key, char *buf)
{
    (void)key, (void)buf;
    return r->id;
}

static const char *cell_attr(const cairn_run *r, const char *key, char *buf)
{
    if (strcmp(key, "name") == 0)
        return r->name;
    if (strcmp(key, "status") == 0)
        return r->status;
    if (strcmp(key, "start") == 0)
        return fmt_time(r->start_time, buf);
    return fmt_time(r->end_time, buf);
}

static const char *cell_param(const cairn_run *r, const char *key, char *buf)
{
    (void)buf;
    const char *v = find_kv(r->params, r->n_params, key);
    return v ? v : "-";
}

static const char *cell_metric(const cairn_run *r, const char *key, char *buf)
{
    return metric_text(r, key, buf);
}

static bool compare_keys(compare *cmp, bool params)
{
    key_set keys;
    char label[300];
    if (!key_set_of((const cairn_run *const *)cmp->runs, cmp->n, params, &keys))
        return false;
    bool ok = true;
    for (size_t i = 0; ok && i < keys.n; i++) {
        snprintf(label, sizeof label, "%s.%s", params ? "params" : "metrics", keys.keys[i]);
        ok = compare_row(cmp, label, params ? cell_param : cell_metric, keys.keys[i]);
    }
    free(keys.keys);
    return ok;
}

static int print_compare(cairn_run **runs, size_t n)
{
    static const char *const attrs[] = {"name", "status", "start", "end"};
    compare cmp = {runs, n, table_new(n + 1)};
    for (size_t i = 1; cmp.t && i <= n; i++)
        table_max_width(cmp.t, i, CELL_MAX); /* before the rows: cells are cut when added */
    bool ok = cmp.t && compare_row(&cmp, "RUN", cell_id, NULL);
    for (size_t i = 0; ok && i < sizeof attrs / sizeof attrs[0]; i++)
        ok = compare_row(&cmp, attrs[i], cell_attr, attrs[i]);
    ok = ok && compare_keys(&cmp, true) && compare_keys(&cmp, false);
    if (ok)
        table_print(cmp.t, stdout, NULL);
    table_free(cmp.t);
    return ok ? CLI_OK : out_of_memory();
}

/* --json: the runs as one array, the shape of runs list. */
static int print_compare_json(cairn_run **runs, size_t n)
{
    cairn_run_list list = {.runs = malloc((n + 1) * sizeof *list.runs), .count = n};
    if (!list.runs)
        return out_of_memory();
    for (size_t i = 0; i < n; i++)
        list.runs[i] = *runs[i]; /* shallow: the runs keep their memory */
    int rc = cli_print_json(cairn_run_list_to_json(&list));
    free(list.runs);
    return rc;
}

static int compare_runs(cli_ctx *ctx, char **ids, size_t n)
{
    cairn_error err;
    cairn_run **runs = calloc(n, sizeof *runs);
    cairn_client *c = cli_client(ctx, &err);
    int rc = runs ? CLI_OK : out_of_memory();
    if (!rc && !c)
        rc = cli_fail(&err);
    for (size_t i = 0; !rc && i < n; i++)
        if (cairn_run_get(c, ids[i], &runs[i], &err))
            rc = cli_fail(&err);
    if (!rc)
        rc = ctx->json ? print_compare_json(runs, n) : print_compare(runs, n);
    for (size_t i = 0; runs && i < n; i++)
        cairn_run_free(runs[i]);
    free(runs);
    return rc;
}

int cmd_runs_compare(cli_ctx *ctx, const cli_command *self, int argc, char **argv)
{
    parsed_args a;
    int rc = cli_parse(ctx, self, argc, argv, NULL, &a);
    if (rc >= 0)
        return rc;
    if (a.n_pos < 2)
        rc = cli_usage_error(self, "give at least two runs to compare");
    else
        rc = compare_runs(ctx, a.pos, a.n_pos);
    args_free(&a);
    return rc;
}
