/*
 * bench_tracker ENDPOINT DATA_DIR: the figures of cairn_tracker against a
 * running coordinator.
 *   (a) the cost of one cairn_tracker_log_metric call, while the sender
 *       streams the same points to the coordinator;
 *   (b) end-to-end durable points/s: 2,000,000 points logged, then a flush;
 *   (c) the latency of a flush after 1,000 points;
 *   (d) durable points/s of a sweep: 1,000 runs stepped in turn.
 * Prints figures; asserts nothing.
 */
#include <stdio.h>
#include <stdlib.h>

#include "bench.h"

#define CALLS 1000000
#define BATCH 1000 /* calls timed together: the clock's own cost spread thin */
#define E2E_POINTS 2000000
#define FLUSH_ROUNDS 200
#define FLUSH_POINTS 1000
#define TIMEOUT_MS 120000
#define SWEEP_RUNS 1000
#define SWEEP_STEPS 100

static const char *endpoint;
static const char *const keys[] = {"train/loss", "train/acc", "lr"};

/* A tracker whose queue holds a whole phase: the figures measure the calls,
 * not the caller's handling of backpressure. */
static cairn_tracker *open_tracker(char run[CAIRN_ID_TEXT_LEN + 1], const char *name)
{
    return bench_tracker_open(endpoint, 3 * E2E_POINTS, "bench-tracker", name, run, TIMEOUT_MS);
}

static void log_one(cairn_tracker *t, const char *run, long i)
{
    bench_check(cairn_tracker_log_metric(t, run, keys[i % 3], (double)i, i / 3), NULL,
                "log_metric");
}

/* (a) */
static void bench_call_cost(void)
{
    char run[CAIRN_ID_TEXT_LEN + 1];
    cairn_tracker *t = open_tracker(run, "call-cost");
    double *batch = malloc(CALLS / BATCH * sizeof *batch);
    double *single = malloc(CALLS / 10 * sizeof *single);
    long i = 0;
    for (size_t b = 0; b < CALLS / BATCH; b++) {
        double t0 = bench_now_ns();
        for (int k = 0; k < BATCH; k++, i++)
            log_one(t, run, i);
        batch[b] = (bench_now_ns() - t0) / BATCH;
    }
    /* Timed one by one: the tail (a new chunk, the lock held by the sender)
     * shows, at the price of the clock read inside every sample. */
    for (size_t s = 0; s < CALLS / 10; s++, i++) {
        double t0 = bench_now_ns();
        log_one(t, run, i);
        single[s] = bench_now_ns() - t0;
    }
    printf("log_metric call, %d calls in batches of %d: median %.0f ns, p99 %.0f ns per call\n",
           CALLS, BATCH, bench_percentile(batch, CALLS / BATCH, 0.5),
           bench_percentile(batch, CALLS / BATCH, 0.99));
    printf("log_metric call, %d calls timed singly (clock read included): median %.0f ns, "
           "p99 %.0f ns, p99.9 %.0f ns\n",
           CALLS / 10, bench_percentile(single, CALLS / 10, 0.5),
           bench_percentile(single, CALLS / 10, 0.99),
           bench_percentile(single, CALLS / 10, 0.999));
    free(batch);
    free(single);
    bench_tracker_close(t, TIMEOUT_MS);
}

/* (b) */
static void bench_durable_rate(void)
{
    char run[CAIRN_ID_TEXT_LEN + 1];
    cairn_error err;
    cairn_tracker *t = open_tracker(run, "durable-rate");
    double t0 = bench_now_ns();
    for (long i = 0; i < E2E_POINTS; i++)
        log_one(t, run, i);
    double logged = bench_now_ns();
    bench_check(cairn_tracker_flush(t, TIMEOUT_MS, &err), &err, "flush");
    double done = bench_now_ns();
    printf("durable points through the tracker: %d points logged in %.0f ms, durable after "
           "%.0f ms: %.0f points/s\n",
           E2E_POINTS, (logged - t0) / 1e6, (done - t0) / 1e6, E2E_POINTS / ((done - t0) / 1e9));
    bench_tracker_close(t, TIMEOUT_MS);
}

/* (c) */
static void bench_flush_latency(void)
{
    char run[CAIRN_ID_TEXT_LEN + 1];
    double p50, p99;
    cairn_tracker *t = open_tracker(run, "flush-latency");
    bench_flush_rounds(t, run, log_one, FLUSH_POINTS, FLUSH_ROUNDS, TIMEOUT_MS, &p50, &p99);
    printf("flush after %d points: p50 %.2f ms, p99 %.2f ms (%d rounds)\n", FLUSH_POINTS, p50, p99,
           FLUSH_ROUNDS);
    bench_tracker_close(t, TIMEOUT_MS);
}

/* (d) */
static void bench_sweep_rate(void)
{
    double rate = bench_sweep(endpoint, SWEEP_RUNS, SWEEP_STEPS, TIMEOUT_MS);
    printf("sweep through the tracker: %d runs stepped in turn, %d points each: %.0f durable "
           "points/s\n", SWEEP_RUNS, SWEEP_STEPS, rate);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: bench_tracker ENDPOINT [DATA_DIR [sweep]]\n");
        return 2;
    }
    endpoint = argv[1];
    if (argc > 3 && strcmp(argv[3], "sweep") == 0) { /* that figure alone */
        bench_sweep_rate();
        return 0;
    }
    bench_call_cost();
    bench_durable_rate();
    bench_flush_latency();
    bench_sweep_rate();
    return 0;
}
