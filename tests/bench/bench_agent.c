/*
 * bench_agent ENDPOINT [DATA_DIR]: the figures of the whole write path,
 * training code -> cairn-agent -> coordinator. ENDPOINT is the coordinator;
 * the agent is the one at $CAIRN_BENCH_AGENT (run-bench.sh starts it),
 * forwarding to that coordinator.
 *   (a) durable arrival: POINTS points logged by a training loop through a
 *       tracker opened on the agent, timed from the first call until the
 *       coordinator's metric histories hold every one of them (polled with
 *       cairn_metric_history, the reader's view of "stored"), with the time
 *       the tracker's flush returned (everything in the agent's spool) on the
 *       way;
 *   (b) the latency of a flush after 1,000 points through the agent;
 *   (c) durable points/s of a sweep through the agent: 1,000 runs stepped
 *       in turn, until the flush returns (all in the agent's spool).
 * Prints figures; asserts nothing.
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "bench.h"

#define POINTS 1000000
#define KEYS 4 /* points a training step logs: loss, accuracy, learning rate, grad norm */
#define POLL_MS 5
#define FLUSH_ROUNDS 200
#define FLUSH_POINTS 1000
#define TIMEOUT_MS 120000
#define SWEEP_RUNS 1000
#define SWEEP_STEPS 100

static const char *coordinator;
static const char *agent;
static const char *const keys[KEYS] = {"train/loss", "train/acc", "lr", "grad_norm"};

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* A tracker on the agent whose queue holds the whole phase: the figure is the
 * path's, not the caller's handling of backpressure. */
static cairn_tracker *open_tracker(char run[CAIRN_ID_TEXT_LEN + 1], const char *name)
{
    return bench_tracker_open(agent, 2 * POINTS, "bench-agent", name, run, TIMEOUT_MS);
}

/* One training step: a point for each key, the way a loop logs them. */
static void log_step(cairn_tracker *t, const char *run, long step)
{
    for (int k = 0; k < KEYS; k++)
        bench_check(cairn_tracker_log_metric(t, run, keys[k], 1.0 / (double)(step + k + 1), step),
                    NULL, "log_metric");
}

/* Points of run the coordinator has stored, all keys together. */
static uint64_t stored_points(cairn_client *c, const char *run)
{
    uint64_t total = 0;
    for (int k = 0; k < KEYS; k++) {
        cairn_history *h = NULL;
        cairn_error err;
        cairn_status st = cairn_metric_history(c, run, keys[k], 0, 1, &h, &err);
        if (st == CAIRN_RESOURCE_DOES_NOT_EXIST)
            continue; /* no point of this key has arrived yet */
        bench_check(st, &err, "metric.history");
        total += h->total;
        cairn_history_free(h);
    }
    return total;
}

/* Polls the coordinator until every point of run is there; the time it was
 * first seen complete. */
static double wait_stored(cairn_client *c, const char *run, uint64_t want, double deadline)
{
    while (stored_points(c, run) < want) {
        if (bench_now_ms() > deadline) {
            fprintf(stderr, "bench_agent: points missing at the coordinator after %d ms\n",
                    TIMEOUT_MS);
            exit(1);
        }
        sleep_ms(POLL_MS);
    }
    return bench_now_ms();
}

/* Until the run itself has reached the coordinator through the agent. */
static void wait_run(cairn_client *c, const char *run)
{
    double deadline = bench_now_ms() + TIMEOUT_MS;
    cairn_run *r = NULL;
    cairn_error err;
    cairn_status st;
    while ((st = cairn_run_get(c, run, &r, &err)) == CAIRN_RESOURCE_DOES_NOT_EXIST &&
           bench_now_ms() < deadline)
        sleep_ms(POLL_MS);
    bench_check(st, &err, "run.get");
    cairn_run_free(r);
}

/* (a) */
static void bench_arrival(cairn_client *c)
{
    char run[CAIRN_ID_TEXT_LEN + 1];
    cairn_error err;
    cairn_tracker *t = open_tracker(run, "arrival");
    wait_run(c, run);
    double t0 = bench_now_ms();
    for (long step = 0; step < POINTS / KEYS; step++)
        log_step(t, run, step);
    double logged = bench_now_ms();
    bench_check(cairn_tracker_flush(t, TIMEOUT_MS, &err), &err, "flush");
    double spooled = bench_now_ms();
    double stored = wait_stored(c, run, POINTS, t0 + TIMEOUT_MS);
    printf("SDK -> agent -> coordinator, %d points (%d keys a step): logged in %.0f ms, "
           "in the agent's spool (flush returned) after %.0f ms, stored at the coordinator "
           "after %.0f ms: %.0f points/s arrived\n",
           POINTS, KEYS, logged - t0, spooled - t0, stored - t0, POINTS / ((stored - t0) / 1e3));
    bench_tracker_close(t, TIMEOUT_MS);
}

/* (b) */
static void bench_flush_latency(void)
{
    char run[CAIRN_ID_TEXT_LEN + 1];
    double p50, p99;
    cairn_tracker *t = open_tracker(run, "flush-latency");
    bench_flush_rounds(t, run, log_step, FLUSH_POINTS / KEYS, FLUSH_ROUNDS, TIMEOUT_MS, &p50, &p99);
    printf("flush after %d points through the agent: p50 %.2f ms, p99 %.2f ms (%d rounds)\n",
           FLUSH_POINTS, p50, p99, FLUSH_ROUNDS);
    bench_tracker_close(t, TIMEOUT_MS);
}

static void bench_sweep_rate(void)
{
    double rate = bench_sweep(agent, SWEEP_RUNS, SWEEP_STEPS, TIMEOUT_MS);
    printf("sweep through the agent: %d runs stepped in turn, %d points each: %.0f points/s "
           "durable in the spool\n", SWEEP_RUNS, SWEEP_STEPS, rate);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: CAIRN_BENCH_AGENT=ENDPOINT bench_agent COORDINATOR [DATA_DIR [sweep]]\n");
        return 2;
    }
    coordinator = argv[1];
    agent = getenv("CAIRN_BENCH_AGENT");
    if (!agent || !*agent) {
        printf("no agent ($CAIRN_BENCH_AGENT unset): skipped\n");
        return 0;
    }
    if (argc > 3 && strcmp(argv[3], "sweep") == 0) { /* that figure alone */
        bench_sweep_rate();
        return 0;
    }
    cairn_error err;
    cairn_client *c = cairn_client_open(coordinator, &err);
    if (!c)
        bench_check(err.status, &err, "client");
    cairn_client_set_timeout(c, 30000);
    bench_arrival(c);
    bench_flush_latency();
    bench_sweep_rate();
    cairn_client_close(c);
    return 0;
}
