/*
 * bench_registry ENDPOINT DATA_DIR: the model registry's figures of
 * docs/benchmarks.md, against a running coordinator. 10,000 versions are
 * registered over 10 models (1,000 each, from 4 clients), each model with
 * aliases, a stage and some history; then resolving a version by alias, by
 * stage and by number, and a lineage query, are timed one request at a time
 * through libcairn (the round trip and decoding the reply into its struct).
 * Prints figures; asserts nothing.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench.h"
#include "cairn/client.h"

#define MODELS 10
#define VERSIONS_PER_MODEL 1000
#define CLIENTS 4
#define ROUNDS 5000

static const char *endpoint;
static const char *data_dir;

static cairn_client *client(void)
{
    cairn_error err;
    cairn_client *c = cairn_client_open(endpoint, &err);
    if (!c)
        bench_check(err.status, &err, "client open");
    cairn_client_set_timeout(c, 60000);
    return c;
}

/* A run like a training job's: params, metrics with a history, tags, an artifact. */
static void training_run(cairn_client *c, int model, char run[CAIRN_ID_TEXT_LEN + 1])
{
    cairn_error err;
    char path[4096];
    cairn_run_start_opts o = {.experiment = "bench-registry", .detect_source = 1};
    bench_check(cairn_run_start(c, NULL, &o, run, &err), &err, "run.start");
    cairn_kv params[20];
    char keys[20][32], values[20][32];
    for (int i = 0; i < 20; i++) {
        snprintf(keys[i], sizeof keys[i], "param_%02d", i);
        snprintf(values[i], sizeof values[i], "%d", i * model);
        params[i] = (cairn_kv){keys[i], values[i]};
    }
    cairn_metric metrics[20 * 50];
    char mkeys[20][32];
    for (int k = 0; k < 20; k++) {
        snprintf(mkeys[k], sizeof mkeys[k], "metric_%02d", k);
        for (int s = 0; s < 50; s++)
            metrics[k * 50 + s] = (cairn_metric){mkeys[k], 1.0 / (s + 1), s, 0};
    }
    cairn_log_batch b = {.params = params, .n_params = 20, .metrics = metrics, .n_metrics = 1000};
    bench_check(cairn_run_log(c, run, &b, &err), &err, "run.log");
    snprintf(path, sizeof path, "%s/../bench-model-%d.bin", data_dir, model);
    FILE *f = fopen(path, "w");
    if (!f)
        bench_check(CAIRN_IO_ERROR, NULL, "artifact file");
    for (int i = 0; i < 4096; i++)
        fputc((i * 31 + model) & 0xff, f);
    fclose(f);
    bench_check(cairn_artifact_upload(c, run, path, "model.bin", NULL, &err), &err, "upload");
    unlink(path);
}

typedef struct register_job {
    int first_model, n_models;
} register_job;

static void *register_worker(void *arg)
{
    register_job *j = arg;
    cairn_client *c = client();
    cairn_error err;
    for (int m = j->first_model; m < j->first_model + j->n_models; m++) {
        char run[CAIRN_ID_TEXT_LEN + 1], name[32];
        snprintf(name, sizeof name, "model-%d", m);
        training_run(c, m, run);
        cairn_register_opts o = {.name = name, .run_id = run, .artifact_path = "model.bin"};
        for (int v = 0; v < VERSIONS_PER_MODEL; v++)
            bench_check(cairn_model_register(c, &o, NULL, &err), &err, "model.register");
        /* history: promotions, aliases moved, a rollback */
        for (uint64_t v = 990; v <= VERSIONS_PER_MODEL; v += 5) {
            bench_check(cairn_model_set_stage(c, name, v, "Production", 1, "bench", &err), &err,
                        "stage");
            bench_check(cairn_model_set_alias(c, name, "champion", v, "bench", &err), &err,
                        "alias");
        }
        bench_check(
            cairn_model_set_alias(c, name, "challenger", VERSIONS_PER_MODEL - 1, NULL, &err), &err,
            "alias");
        cairn_rollback_opts ro = {.name = name, .alias = "champion"};
        bench_check(cairn_model_rollback(c, &ro, NULL, NULL, &err), &err, "rollback");
    }
    cairn_client_close(c);
    return NULL;
}

static void setup(void)
{
    pthread_t t[CLIENTS];
    register_job jobs[CLIENTS];
    double t0 = bench_now_s();
    for (int i = 0, m = 0; i < CLIENTS; i++) {
        int n = MODELS / CLIENTS + (i < MODELS % CLIENTS);
        jobs[i] = (register_job){m, n};
        m += n;
        pthread_create(&t[i], NULL, register_worker, &jobs[i]);
    }
    for (int i = 0; i < CLIENTS; i++)
        pthread_join(t[i], NULL);
    double secs = bench_now_s() - t0;
    printf("registered %d versions over %d models from %d clients (with runs, stages, aliases): "
           "%.1f s, %.0f versions/s\n",
           MODELS * VERSIONS_PER_MODEL, MODELS, CLIENTS, secs, MODELS * VERSIONS_PER_MODEL / secs);
}

/* ---- timed reads ---- */

typedef cairn_status read_fn(cairn_client *c, const char *ref, cairn_error *err);

static cairn_status get_version(cairn_client *c, const char *ref, cairn_error *err)
{
    cairn_model_version *v = NULL;
    cairn_status st = cairn_model_version_get(c, ref, &v, err);
    cairn_model_version_free(v);
    return st;
}

static cairn_status get_lineage(cairn_client *c, const char *ref, cairn_error *err)
{
    cairn_lineage *l = NULL;
    cairn_status st = cairn_model_lineage(c, ref, &l, err);
    if (!st && (l->run.n_params != 20 || l->run.n_metrics != 20 || l->n_events == 0))
        bench_check(CAIRN_INTERNAL_ERROR, NULL, "lineage is missing parts");
    cairn_lineage_free(l);
    return st;
}

static cairn_status ping(cairn_client *c, const char *ref, cairn_error *err)
{
    (void)ref;
    return cairn_ping(c, NULL, 0, err);
}

/* The reference of request i: every model in turn. */
typedef void ref_fn(char *ref, size_t cap, int i);

static void by_alias(char *ref, size_t cap, int i)
{
    snprintf(ref, cap, "model-%d@champion", i % MODELS);
}

static void by_stage(char *ref, size_t cap, int i)
{
    snprintf(ref, cap, "model-%d/Production", i % MODELS);
}

static void by_number(char *ref, size_t cap, int i)
{
    snprintf(ref, cap, "model-%d/%d", i % MODELS, 1 + (i * 7) % VERSIONS_PER_MODEL);
}

/* `rounds` requests, one at a time: p50 and p99 in microseconds. */
static void timed(const char *what, read_fn *read, ref_fn *make_ref, int rounds)
{
    cairn_client *c = client();
    double *lat = malloc((size_t)rounds * sizeof *lat);
    cairn_error err;
    char ref[64];
    for (int i = 0; i < rounds; i++) {
        make_ref(ref, sizeof ref, i);
        double t0 = bench_now_ns();
        bench_check(read(c, ref, &err), &err, what);
        lat[i] = (bench_now_ns() - t0) / 1e3;
    }
    printf("%s: p50 %.0f us, p99 %.0f us (%d requests)\n", what,
           bench_percentile(lat, (size_t)rounds, 0.5), bench_percentile(lat, (size_t)rounds, 0.99),
           rounds);
    free(lat);
    cairn_client_close(c);
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: bench_registry ENDPOINT DATA_DIR\n");
        return 2;
    }
    endpoint = argv[1];
    data_dir = argv[2];
    setup();
    timed("round trip floor (ping)", ping, by_number, ROUNDS);
    timed("version by alias (model.version.get NAME@ALIAS)", get_version, by_alias, ROUNDS);
    timed("version by stage (NAME/Production)", get_version, by_stage, ROUNDS);
    timed("version by number (NAME/VERSION)", get_version, by_number, ROUNDS);
    timed("lineage (model.lineage NAME@ALIAS: version, run with 20 params and 20 metrics, events)",
          get_lineage, by_alias, ROUNDS / 2);
    return 0;
}
