/*
 * bench_tracking ENDPOINT DATA_DIR: the tracking figures of docs/benchmarks.md,
 * measured against a running coordinator whose store is in DATA_DIR.
 * Prints figures; asserts nothing.
 */
#include <lmdb.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#include "bench.h"
#include "body.h"
#include "cairn/client.h"
#include "msg.h"

static const char *endpoint;
static const char *data_dir;

static cairn_client *client(void)
{
    cairn_error err;
    cairn_client *c = cairn_client_open(endpoint, &err);
    if (!c) {
        fprintf(stderr, "bench: %s\n", err.message);
        exit(1);
    }
    cairn_client_set_timeout(c, 30000);
    return c;
}

static void start_run(cairn_client *c, const char *experiment, char id[27])
{
    cairn_run_start_opts o = {.experiment = experiment};
    cairn_error err;
    if (cairn_run_start(c, NULL, &o, id, &err)) {
        fprintf(stderr, "bench: run.start: %s\n", err.message);
        exit(1);
    }
}

/* ---- synchronous single-metric round trips ---- */

typedef struct sync_job {
    int requests;
    double *lat_us;
} sync_job;

static void *sync_worker(void *arg)
{
    sync_job *j = arg;
    cairn_client *c = client();
    char run[27];
    start_run(c, "bench-sync", run);
    for (int i = 0; i < j->requests; i++) {
        cairn_error err;
        double t0 = bench_now_s();
        bench_check(cairn_log_metric(c, run, "loss", 1.0 / (i + 1), i, &err), &err, "log_metric");
        j->lat_us[i] = (bench_now_s() - t0) * 1e6;
    }
    cairn_client_close(c);
    return NULL;
}

static void bench_sync(int clients, int per_client)
{
    pthread_t t[16];
    sync_job jobs[16];
    double *all = calloc((size_t)clients * per_client, sizeof *all);
    double t0 = bench_now_s();
    for (int i = 0; i < clients; i++) {
        jobs[i] = (sync_job){per_client, all + (size_t)i * per_client};
        pthread_create(&t[i], NULL, sync_worker, &jobs[i]);
    }
    for (int i = 0; i < clients; i++)
        pthread_join(t[i], NULL);
    double secs = bench_now_s() - t0;
    size_t n = (size_t)clients * per_client;
    printf("sync single-metric writes, %d client%s: %.0f acks/s, p50 %.0f us, p99 %.0f us\n",
           clients, clients > 1 ? "s" : "", (double)n / secs, bench_percentile(all, n, 0.5),
           bench_percentile(all, n, 0.99));
    free(all);
}

/* ---- the floor under a synchronous write, on this disk, now ---- */

static void be64_key(uint8_t key[8], uint64_t v)
{
    for (int b = 0; b < 8; b++)
        key[b] = (uint8_t)(v >> (56 - 8 * b));
}

/* Appends record i to each of the first `trees` databases. */
static int put_in_trees(MDB_txn *txn, const MDB_dbi *dbi, int trees, uint64_t i)
{
    static char value[64];
    uint8_t key[8];
    be64_key(key, i);
    for (int t = 0; t < trees; t++) {
        MDB_val k = {sizeof key, key}, v = {sizeof value, value};
        int rc = mdb_put(txn, dbi[t], &k, &v, MDB_APPEND);
        if (rc)
            return rc;
    }
    return 0;
}

/* p50 of one durable commit appending one record to each of `trees` trees,
 * in a scratch environment beside DATA_DIR (same file system), its trees
 * first filled to two levels as the store's are. One tree is what a single
 * write cannot go below; two is a write with its audit entry in the same
 * commit, as the coordinator keeps them: each tree adds its leaf and branch
 * pages to what the commit must sync. The disk's sync time moves from hour
 * to hour; the figures above are read against these. */
static double lmdb_commit_p50_us(int trees, int commits)
{
    enum { PREFILL = 2000 };
    char dir[4200];
    snprintf(dir, sizeof dir, "%s/../floor-XXXXXX", data_dir);
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi dbi[2];
    bool ok = mkdtemp(dir) && !mdb_env_create(&env) && !mdb_env_set_maxdbs(env, 2) &&
              !mdb_env_set_mapsize(env, (size_t)64 << 20) && !mdb_env_open(env, dir, 0, 0600) &&
              !mdb_txn_begin(env, NULL, 0, &txn) &&
              !mdb_dbi_open(txn, "floor", MDB_CREATE, &dbi[0]) &&
              !mdb_dbi_open(txn, "floor_audit", MDB_CREATE, &dbi[1]);
    for (uint64_t i = 0; ok && i < PREFILL; i++)
        ok = put_in_trees(txn, dbi, trees, i) == 0;
    if (!ok || mdb_txn_commit(txn)) {
        fprintf(stderr, "bench: cannot open a scratch LMDB environment in %s\n", dir);
        exit(1);
    }
    double *lat = calloc((size_t)commits, sizeof *lat);
    for (int i = 0; i < commits; i++) {
        double t0 = bench_now_s();
        if (mdb_txn_begin(env, NULL, 0, &txn) || put_in_trees(txn, dbi, trees, PREFILL + (uint64_t)i) ||
            mdb_txn_commit(txn)) {
            fprintf(stderr, "bench: scratch LMDB commit failed\n");
            exit(1);
        }
        lat[i] = (bench_now_s() - t0) * 1e6;
    }
    mdb_env_close(env);
    char path[4300];
    snprintf(path, sizeof path, "%s/data.mdb", dir);
    unlink(path);
    snprintf(path, sizeof path, "%s/lock.mdb", dir);
    unlink(path);
    rmdir(dir);
    double p50 = bench_percentile(lat, (size_t)commits, 0.5);
    free(lat);
    return p50;
}

static double ping_p50_us(int pings)
{
    cairn_client *c = client();
    double *lat = calloc((size_t)pings, sizeof *lat);
    for (int i = 0; i < pings; i++) {
        cairn_error err;
        double t0 = bench_now_s();
        bench_check(cairn_ping(c, NULL, 0, &err), &err, "ping");
        lat[i] = (bench_now_s() - t0) * 1e6;
    }
    cairn_client_close(c);
    double p50 = bench_percentile(lat, (size_t)pings, 0.5);
    free(lat);
    return p50;
}

static void bench_sync_floor(void)
{
    double one = lmdb_commit_p50_us(1, 2000), two = lmdb_commit_p50_us(2, 2000);
    double ping = ping_p50_us(2000);
    printf("floor now: one LMDB put per durable commit p50 %.0f us, ping round trip p50 %.0f us, "
           "sum %.0f us\n", one, ping, one + ping);
    printf("floor now with the audit entry: two puts in two trees per durable commit p50 %.0f us, "
           "plus ping %.0f us\n", two, two + ping);
}

/* ---- 1,000-point batches ---- */

static off_t store_size(void)
{
    char path[4096];
    struct stat st;
    snprintf(path, sizeof path, "%s/data.mdb", data_dir);
    return stat(path, &st) == 0 ? st.st_size : 0;
}

typedef struct batch_job {
    long batches;
} batch_job;

static void *batch_worker(void *arg)
{
    batch_job *j = arg;
    cairn_client *c = client();
    char run[27];
    start_run(c, "bench-batch", run);
    cairn_metric m[1000];
    long step = 0;
    for (long b = 0; b < j->batches; b++) {
        for (int i = 0; i < 1000; i++, step++)
            m[i] = (cairn_metric){i % 2 ? "loss" : "acc", sin((double)step), step, 1700000000000 + step};
        cairn_log_batch lb = {.metrics = m, .n_metrics = 1000};
        cairn_error err;
        bench_check(cairn_run_log(c, run, &lb, &err), &err, "run_log");
    }
    cairn_client_close(c);
    return NULL;
}

static void bench_batches(int clients, long batches_per_client)
{
    pthread_t t[16];
    batch_job jobs[16];
    off_t before = store_size();
    double t0 = bench_now_s();
    for (int i = 0; i < clients; i++) {
        jobs[i].batches = batches_per_client;
        pthread_create(&t[i], NULL, batch_worker, &jobs[i]);
    }
    for (int i = 0; i < clients; i++)
        pthread_join(t[i], NULL);
    double secs = bench_now_s() - t0;
    double points = (double)clients * (double)batches_per_client * 1000.0;
    printf("durable points, 1,000-point batches, %d client%s: %.0f points/s\n", clients,
           clients > 1 ? "s" : "", points / secs);
    if (clients == 1)
        printf("LMDB bytes per metric point: %.1f (data.mdb grew %lld bytes for %.0f points)\n",
               (double)(store_size() - before) / points, (long long)(store_size() - before), points);
}

/* ---- 16 clients, single points, many in flight (group commit) ---- */

typedef struct pipe_job {
    void *zmq;       /* one context for all clients: one I/O thread, not 16 */
    char run[27];
    long messages;
    int per_message; /* points in each message */
    int window;      /* messages in flight */
} pipe_job;

/* One run.log message of n points, steps from first. */
static void pack_points_message(msg_writer *w, const ulid *run, long first, int n)
{
    ulid id = ulid_new();
    msg_writer_reset(w);
    msg_start_request(w, &id, "run.log", "bench", 2);
    mp_str(&w->pk, "run");
    mp_ulid(&w->pk, run);
    mp_str(&w->pk, "metrics");
    msgpack_pack_array(&w->pk, (uint32_t)n);
    for (long i = first; i < first + n; i++) {
        msgpack_pack_array(&w->pk, 4);
        mp_str(&w->pk, i % 2 ? "loss" : "acc");
        msgpack_pack_double(&w->pk, (double)i);
        msgpack_pack_int64(&w->pk, i);
        msgpack_pack_int64(&w->pk, 1700000000000 + i);
    }
}

static void *pipe_worker(void *arg)
{
    pipe_job *j = arg;
    void *s = zmq_socket(j->zmq, ZMQ_DEALER);
    int zero = 0;
    zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof zero);
    zmq_connect(s, endpoint);
    ulid run;
    ulid_parse(j->run, &run);
    msg_writer w;
    msg_writer_init(&w);
    msg_decoder d;
    msg_decoder_init(&d, 0);
    long sent = 0, acked = 0;
    char reply[4096];
    while (acked < j->messages) {
        while (sent < j->messages && sent - acked < j->window) {
            pack_points_message(&w, &run, sent * j->per_message, j->per_message);
            zmq_send(s, w.sb.data, w.sb.size, 0);
            sent++;
        }
        int n = zmq_recv(s, reply, sizeof reply, 0);
        msg m;
        if (n < 0 || msg_decode(&d, reply, (size_t)n, &m, NULL) || m.kind != MSG_REPLY_OK) {
            fprintf(stderr, "bench: pipelined write refused\n");
            exit(1);
        }
        acked++;
    }
    msg_writer_destroy(&w);
    msg_decoder_destroy(&d);
    zmq_close(s);
    return NULL;
}

static void bench_pipelined(int clients, long messages_per_client, int per_message, int window)
{
    pthread_t t[16];
    pipe_job jobs[16];
    cairn_client *c = client();
    for (int i = 0; i < clients; i++) {
        start_run(c, "bench-pipelined", jobs[i].run);
        jobs[i].messages = messages_per_client;
        jobs[i].per_message = per_message;
        jobs[i].window = window;
    }
    cairn_client_close(c);
    void *zmq = zmq_ctx_new();
    /* Where the CPU goes: the coordinator's (set by run-bench.sh), this load
     * generator's own, and how busy the coordinator's main thread is, which
     * handles every request and waits on every commit. */
    const char *pid_text = getenv("CAIRN_BENCH_COORDINATOR_PID");
    long coord = pid_text ? atol(pid_text) : 0;
    double coord0 = coord ? bench_proc_cpu_s(coord, 0) : -1;
    double main0 = coord ? bench_proc_cpu_s(coord, coord) : -1;
    double self0 = bench_self_cpu_s();
    double t0 = bench_now_s();
    for (int i = 0; i < clients; i++) {
        jobs[i].zmq = zmq;
        pthread_create(&t[i], NULL, pipe_worker, &jobs[i]);
    }
    for (int i = 0; i < clients; i++)
        pthread_join(t[i], NULL);
    double secs = bench_now_s() - t0;
    double self_cpu = bench_self_cpu_s() - self0;
    double coord_cpu = coord0 >= 0 ? bench_proc_cpu_s(coord, 0) - coord0 : -1;
    double main_cpu = main0 >= 0 ? bench_proc_cpu_s(coord, coord) - main0 : -1;
    zmq_ctx_term(zmq);
    double points = (double)clients * (double)messages_per_client * per_message;
    double requests = (double)clients * (double)messages_per_client;
    if (per_message == 1)
        printf("durable single-point writes, %d clients x %d in flight (group commit): %.0f points/s\n",
               clients, window, points / secs);
    else
        printf("durable points, %d-point batches, %d client%s x %d in flight: %.0f points/s\n",
               per_message, clients, clients > 1 ? "s" : "", window, points / secs);
    if (coord_cpu >= 0 && main_cpu >= 0)
        printf("  CPU per request: coordinator %.2f us (its main thread busy %.0f%% of the time), "
               "load generator %.2f us; both together %.0f%% of %ld cores\n",
               coord_cpu / requests * 1e6, 100 * main_cpu / secs, self_cpu / requests * 1e6,
               100 * (coord_cpu + self_cpu) / secs / (double)sysconf(_SC_NPROCESSORS_ONLN),
               sysconf(_SC_NPROCESSORS_ONLN));
}

/* ---- reads ---- */

static void bench_history(void)
{
    cairn_client *c = client();
    char run[27];
    start_run(c, "bench-history", run);
    cairn_metric m[1000];
    for (int b = 0; b < 10; b++) {
        for (int i = 0; i < 1000; i++)
            m[i] = (cairn_metric){"loss", 1.0 / (b * 1000 + i + 1), b * 1000 + i, 1700000000000};
        cairn_log_batch lb = {.metrics = m, .n_metrics = 1000};
        cairn_error err;
        bench_check(cairn_run_log(c, run, &lb, &err), &err, "run_log");
    }
    double lat[50];
    for (int r = 0; r < 50; r++) {
        cairn_history *h;
        cairn_error err;
        double t0 = bench_now_s();
        bench_check(cairn_metric_history(c, run, "loss", 0, 10000, &h, &err), &err, "history");
        lat[r] = (bench_now_s() - t0) * 1e3;
        if (h->count != 10000) {
            fprintf(stderr, "bench: history returned %zu points\n", h->count);
            exit(1);
        }
        cairn_history_free(h);
    }
    printf("10,000-point history read: p50 %.2f ms (MLflow: 317 ms)\n", bench_percentile(lat, 50, 0.5));
    cairn_client_close(c);
}

static void bench_search(void)
{
    cairn_client *c = client();
    for (int i = 0; i < 1000; i++) {
        char run[27], depth[16];
        start_run(c, "bench-search", run);
        snprintf(depth, sizeof depth, "%d", i % 20);
        cairn_kv params[2] = {{"model", i % 3 ? "rf" : "gb"}, {"max_depth", depth}};
        cairn_metric metrics[3] = {{"auc", (i % 997) / 1000.0, 1, 0}, {"f1", (i % 13) / 13.0, 1, 0},
                                   {"loss", 1.0 / (i + 1), 1, 0}};
        cairn_kv tags[1] = {{"team", i % 2 ? "growth" : "core"}};
        cairn_log_batch lb = {params, 2, metrics, 3, tags, 1, NULL, 0};
        cairn_error err;
        bench_check(cairn_run_log(c, run, &lb, &err), &err, "run_log");
    }
    const char *order[] = {"metrics.auc DESC"};
    cairn_search_opts all = {.experiment = "bench-search", .order_by = order, .n_order_by = 1};
    cairn_search_opts filtered = {.experiment = "bench-search",
                                  .filter = "metrics.auc > 0.5 and params.model = 'rf'",
                                  .order_by = order, .n_order_by = 1};
    const cairn_search_opts *cases[2] = {&all, &filtered};
    const char *names[2] = {"all 1,000 runs returned", "filtered"};
    for (int k = 0; k < 2; k++) {
        double lat[30];
        for (int r = 0; r < 30; r++) {
            cairn_run_list *l;
            cairn_error err;
            double t0 = bench_now_s();
            bench_check(cairn_run_search(c, cases[k], &l, &err), &err, "search");
            lat[r] = (bench_now_s() - t0) * 1e3;
            cairn_run_list_free(l);
        }
        printf("1,000-run search, ordered by metric, %s: p50 %.2f ms (MLflow: 649 ms)\n", names[k],
               bench_percentile(lat, 30, 0.5));
    }
    cairn_client_close(c);
}

/* ---- a large artifact upload beside synchronous writes ---- */

typedef struct upload_job {
    const char *file;
    double secs;
    atomic_bool done;
} upload_job;

static void *upload_worker(void *arg)
{
    upload_job *j = arg;
    cairn_client *c = client();
    cairn_client_set_timeout(c, 120000);
    char run[27];
    start_run(c, "bench-artifact", run);
    cairn_error err;
    double t0 = bench_now_s();
    bench_check(cairn_artifact_upload(c, run, j->file, "model.bin", NULL, &err), &err, "upload");
    j->secs = bench_now_s() - t0;
    atomic_store(&j->done, true);
    cairn_client_close(c);
    return NULL;
}

/* A file of `mib` MiB of pseudo-random bytes (incompressible, distinct per run). */
static void write_random_file(const char *path, int mib)
{
    FILE *f = fopen(path, "wb");
    static uint64_t block[1 << 17];
    uint64_t x = (uint64_t)time(NULL) | 1;
    for (int m = 0; f && m < mib; m++) {
        for (size_t i = 0; i < sizeof block / sizeof *block; i++) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            block[i] = x;
        }
        fwrite(block, sizeof block, 1, f);
    }
    /* On the disk before the upload starts, not written back during it. */
    if (!f || fflush(f) != 0 || fsync(fileno(f)) != 0 || fclose(f) != 0) {
        fprintf(stderr, "bench: cannot write %s\n", path);
        exit(1);
    }
}

/* Uploading a large artifact must not hold up the other clients: the
 * coordinator handles every request on one thread, and the upload's last
 * chunk makes the whole file durable before it is recorded. */
static void bench_artifact(int mib)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/../bench-artifact.bin", data_dir);
    write_random_file(path, mib);
    upload_job up = {path, 0, false};
    pthread_t t;
    pthread_create(&t, NULL, upload_worker, &up);
    cairn_client *c = client();
    char run[27];
    start_run(c, "bench-artifact", run);
    size_t cap = 1 << 20, n = 0;
    double *lat = malloc(cap * sizeof *lat);
    do {
        cairn_error err;
        double t0 = bench_now_s();
        bench_check(cairn_log_metric(c, run, "loss", 1.0, (int64_t)n, &err), &err, "log_metric");
        lat[n++] = (bench_now_s() - t0) * 1e6;
    } while (!atomic_load(&up.done) && n < cap);
    pthread_join(t, NULL);
    cairn_client_close(c);
    unlink(path);
    printf("%d MiB artifact upload: %.0f MiB/s; sync single-metric writes meanwhile from another "
           "client: %zu, p50 %.0f us, p99 %.0f us, max %.1f ms\n",
           mib, mib / up.secs, n, bench_percentile(lat, n, 0.5), bench_percentile(lat, n, 0.99),
           bench_percentile(lat, n, 1.0) / 1000);
    free(lat);
}

static bool wanted(const char *only, const char *name)
{
    return !only || strcmp(only, name) == 0;
}

int main(int argc, char **argv)
{
    if (argc != 3 && argc != 4) {
        fprintf(stderr, "usage: bench_tracking ENDPOINT DATA_DIR [sync|batch|pipelined|history|search|artifact]\n");
        return 2;
    }
    endpoint = argv[1];
    data_dir = argv[2];
    const char *only = argc == 4 ? argv[3] : NULL;
    if (wanted(only, "sync")) {
        bench_sync_floor();
        bench_sync(1, 5000);
        bench_sync(8, 1000);
    }
    if (wanted(only, "batch")) {
        bench_batches(1, 2000);
        bench_batches(4, 500);
    }
    if (wanted(only, "batch"))
        bench_pipelined(1, 2000, 1000, 4);
    if (wanted(only, "pipelined"))
        bench_pipelined(16, 20000, 1, 100);
    if (wanted(only, "history"))
        bench_history();
    if (wanted(only, "search"))
        bench_search();
    if (wanted(only, "artifact"))
        bench_artifact(1024);
    return 0;
}
