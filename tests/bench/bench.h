/*
 * What the benchmark programs share: a monotonic clock, percentiles, dying
 * on an error, and a tracker with its run started.
 */
#ifndef CAIRN_BENCH_H
#define CAIRN_BENCH_H

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "cairn/client.h"

static inline double bench_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static inline double bench_now_ms(void)
{
    return bench_now_ns() / 1e6;
}

static inline double bench_now_s(void)
{
    return bench_now_ns() / 1e9;
}

static inline int bench_cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The p-quantile (0..1) of v's n values; sorts v. */
static inline double bench_percentile(double *v, size_t n, double p)
{
    qsort(v, n, sizeof *v, bench_cmp_double);
    return v[(size_t)(p * (double)(n - 1) + 0.5)];
}

/* CPU seconds (user + system) used so far by thread tid of process pid,
 * the whole process when tid is 0; -1 when /proc does not say. */
static inline double bench_proc_cpu_s(long pid, long tid)
{
    char path[64], buf[1024];
    if (tid)
        snprintf(path, sizeof path, "/proc/%ld/task/%ld/stat", pid, tid);
    else
        snprintf(path, sizeof path, "/proc/%ld/stat", pid);
    FILE *f = fopen(path, "r");
    size_t n = f ? fread(buf, 1, sizeof buf - 1, f) : 0;
    if (f)
        fclose(f);
    buf[n] = '\0';
    const char *after_name = strrchr(buf, ')'); /* the name may hold spaces */
    unsigned long user, sys;
    if (!after_name || sscanf(after_name + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu",
                              &user, &sys) != 2)
        return -1;
    return (double)(user + sys) / (double)sysconf(_SC_CLK_TCK);
}

/* CPU seconds used so far by this process, all its threads. */
static inline double bench_self_cpu_s(void)
{
    struct rusage u;
    getrusage(RUSAGE_SELF, &u);
    return (double)u.ru_utime.tv_sec + (double)u.ru_utime.tv_usec / 1e6 +
           (double)u.ru_stime.tv_sec + (double)u.ru_stime.tv_usec / 1e6;
}

/* Exits, saying what failed, when st is not CAIRN_OK. err may be NULL. */
static inline void bench_check(cairn_status st, const cairn_error *err, const char *what)
{
    if (st) {
        fprintf(stderr, "%s: %s: %s\n", program_invocation_short_name, what,
                err ? err->message : cairn_status_name(st));
        exit(1);
    }
}

/* A tracker on endpoint holding up to max_queued items, with a run of
 * experiment started and acknowledged; its id in run. */
static inline cairn_tracker *bench_tracker_open(const char *endpoint, size_t max_queued,
                                                const char *experiment, const char *name,
                                                char run[CAIRN_ID_TEXT_LEN + 1], int timeout_ms)
{
    cairn_error err;
    cairn_tracker_opts o = {.endpoint = endpoint, .max_queued = max_queued};
    cairn_tracker *t = cairn_tracker_open(&o, &err);
    if (!t)
        bench_check(err.status, &err, "tracker open");
    cairn_run_start_opts ro = {.experiment = experiment, .name = name};
    bench_check(cairn_tracker_start_run(t, &ro, run, &err), &err, "start_run");
    bench_check(cairn_tracker_flush(t, timeout_ms, &err), &err, "flush");
    return t;
}

static inline void bench_tracker_close(cairn_tracker *t, int timeout_ms)
{
    cairn_error err;
    bench_check(cairn_tracker_close(t, timeout_ms, &err), &err, "tracker close");
}

/* A training loop's logging: its call number i for run. */
typedef void bench_log_fn(cairn_tracker *t, const char *run, long i);

/* Times a flush after every `calls` calls of log, `rounds` times: the p50
 * and p99 in ms. */
static inline void bench_flush_rounds(cairn_tracker *t, const char *run, bench_log_fn *log,
                                      int calls, int rounds, int timeout_ms, double *p50,
                                      double *p99)
{
    double *lat = malloc((size_t)rounds * sizeof *lat);
    cairn_error err;
    long i = 0;
    if (!lat)
        bench_check(CAIRN_OUT_OF_MEMORY, NULL, "flush rounds");
    for (int r = 0; r < rounds; r++) {
        for (int k = 0; k < calls; k++, i++)
            log(t, run, i);
        double t0 = bench_now_ms();
        bench_check(cairn_tracker_flush(t, timeout_ms, &err), &err, "flush");
        lat[r] = bench_now_ms() - t0;
    }
    *p50 = bench_percentile(lat, (size_t)rounds, 0.5);
    *p99 = bench_percentile(lat, (size_t)rounds, 0.99);
    free(lat);
}

/* A sweep in one process: `runs` runs stepped in turn, one point of each per
 * step, then a flush. Points/s from the first point to the flush's return
 * (the runs are started and flushed before). */
static inline double bench_sweep(const char *endpoint, int runs, int steps, int timeout_ms)
{
    char (*ids)[CAIRN_ID_TEXT_LEN + 1] = malloc((size_t)runs * sizeof *ids);
    cairn_error err;
    cairn_tracker_opts o = {.endpoint = endpoint, .max_queued = (size_t)runs * (steps + 1)};
    cairn_tracker *t = cairn_tracker_open(&o, &err);
    if (!t || !ids)
        bench_check(t ? CAIRN_OUT_OF_MEMORY : err.status, t ? NULL : &err, "sweep");
    cairn_run_start_opts ro = {.experiment = "bench-sweep"};
    for (int r = 0; r < runs; r++)
        bench_check(cairn_tracker_start_run(t, &ro, ids[r], &err), &err, "start_run");
    bench_check(cairn_tracker_flush(t, timeout_ms, &err), &err, "flush");
    double t0 = bench_now_s();
    for (int step = 0; step < steps; step++)
        for (int r = 0; r < runs; r++)
            bench_check(cairn_tracker_log_metric(t, ids[r], "loss", 1.0 / (step + 1), step),
                        NULL, "log_metric");
    bench_check(cairn_tracker_flush(t, timeout_ms, &err), &err, "flush");
    double secs = bench_now_s() - t0;
    bench_tracker_close(t, timeout_ms);
    free(ids);
    return (double)runs * steps / secs;
}

#endif
