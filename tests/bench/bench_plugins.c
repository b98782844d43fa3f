/*
 * bench_plugins: the plugin host's costs, with the test plugin counter.so
 * (a detector that reads one numeric field of every event it gets).
 *   - events/s routed to an in-process detector;
 *   - events/s routed to the same detector isolated in a child process,
 *     measured until the child has seen the last one;
 *   - time to load a plugin (dlopen, checks, config, init), in-process and
 *     isolated (fork, exec, the child's init).
 * Prints figures; asserts nothing. Arguments (an endpoint and a directory
 * from run-bench.sh) are not used.
 */
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "kvlog.h"
#include "plugin_host.h"
#include "plugin_isolate.h"

static char plugin_dir[PATH_MAX];
static char *dirs[1] = {plugin_dir};
static char state_root[64] = "/tmp/cairn-bench-plugins.XXXXXX";
static int64_t seen_count; /* the last `seen` the counter emitted */

static double now_s(void) { return (double)clock_mono_ms() / 1e3; }

static double precise_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int sink_spool(void *ctx, const cairn_event *ev)
{
    (void)ctx;
    if (strcmp(ev->type, "seen") == 0)
        event_get_int(ev, "count", &seen_count);
    return 0;
}

static plugin_host *open_host(void)
{
    plugin_host *h = calloc(1, sizeof *h);
    plugin_sink sink = {NULL, sink_spool, NULL, NULL, NULL, NULL};
    cairn_error err = {0};
    if (!h || plugin_host_init(h, state_root, dirs, 1, 3, &sink, &err)) {
        fprintf(stderr, "bench_plugins: %s\n", err.message);
        exit(1);
    }
    return h;
}

static void load(plugin_host *h, bool isolate, long every)
{
    plugin_spec spec = {.isolate = isolate};
    snprintf(spec.name, sizeof spec.name, "counter");
    snprintf(spec.path, sizeof spec.path, "counter.so");
    config_t cf;
    config_init(&cf);
    char text[128];
    snprintf(text, sizeof text, "subscribe = [\"prediction\"]; field = \"score\"; every = %ld;", every);
    config_read_string(&cf, text);
    cairn_error err = {0};
    plugin_settings_read(config_root_setting(&cf), &spec.config, &err);
    config_destroy(&cf);
    if (plugin_host_load(h, &spec, &err)) {
        fprintf(stderr, "bench_plugins: %s\n", err.message);
        exit(1);
    }
    plugin_settings_free(&spec.config);
}

/* A serving app's prediction, as the SDK or jsonl-tail would bring it. */
static cairn_event *prediction(void)
{
    cairn_event *ev = event_create("prediction", "bench", 0);
    event_set_string(ev, "model", "churn");
    event_set_int(ev, "version", 7);
    event_set_float(ev, "score", 0.73);
    event_set_float(ev, "latency_ms", 4.2);
    return ev;
}

static void pump(plugin_host *h, int wait_ms)
{
    zmq_pollitem_t items[8];
    int n = plugin_host_poll_items(h, items, 8);
    plugin_host_run_timers(h, clock_mono_ms());
    zmq_poll(items, n, wait_ms);
    plugin_host_dispatch(h, items, n);
}

static void in_process(long n)
{
    plugin_host *h = open_host();
    load(h, false, n);
    cairn_event *ev = prediction();
    seen_count = 0;
    double t0 = precise_s();
    for (long i = 0; i < n; i++)
        plugin_host_route(h, ev, NULL);
    plugin_host_drain(h);
    double dt = precise_s() - t0;
    printf("in-process detector: %ld events in %.3f s = %.0f events/s (%.0f ns/event)%s\n", n, dt,
           (double)n / dt, dt * 1e9 / (double)n, seen_count == n ? "" : " (INCOMPLETE)");
    event_destroy(ev);
    plugin_host_close(h);
    free(h);
}

static void isolated(long n)
{
    plugin_host *h = open_host();
    load(h, true, n);
    cairn_event *ev = prediction();
    seen_count = 0;
    double t0 = precise_s();
    for (long i = 0; i < n; i++) {
        plugin_host_route(h, ev, NULL);
        if (i % 4096 == 0)
            pump(h, 0); /* keep the socket moving, as the agent's loop does */
    }
    double deadline = now_s() + 60;
    while (seen_count < n && now_s() < deadline)
        pump(h, 5);
    double dt = precise_s() - t0;
    printf("isolated detector:   %ld events in %.3f s = %.0f events/s, to the child's last one%s\n",
           n, dt, (double)n / dt, seen_count == n ? "" : " (INCOMPLETE)");
    event_destroy(ev);
    plugin_host_close(h);
    free(h);
}

static void load_times(int rounds, bool isolate)
{
    double total = 0;
    for (int i = 0; i < rounds; i++) {
        plugin_host *h = open_host();
        double t0 = precise_s();
        load(h, isolate, 1);
        total += precise_s() - t0;
        plugin_host_close(h);
        free(h);
    }
    printf("load time, %s: %.3f ms per plugin (mean of %d)\n", isolate ? "isolated  " : "in-process",
           total * 1e3 / rounds, rounds);
}

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "--plugin-child") == 0)
        return plugin_child_main(atoi(argv[2]));
    char self[PATH_MAX];
    ssize_t len = readlink("/proc/self/exe", self, sizeof self - 1);
    if (len <= 0 || !mkdtemp(state_root))
        return 1;
    self[len] = '\0';
    snprintf(plugin_dir, sizeof plugin_dir, "%s/plugins", dirname(self));
    kvlog_set_level(KVLOG_WARN);
    in_process(2000000);
    in_process(2000000);
    isolated(500000);
    isolated(500000);
    load_times(200, false);
    load_times(20, true);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", state_root);
    return system(cmd) == 0 ? 0 : 1;
}
