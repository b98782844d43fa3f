/* The plugin host with real plugins (the .so files in build/tests/plugins):
 * every refusal, routing, notifier retries, deployer commands. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "clock.h"
#include "plugin_host.h"
#include "plugin_isolate.h"

static char plugin_dir[PATH_MAX];
static char state_root[64];

/* What the host handed its sink. */
typedef struct captured {
    char types[256][EVENT_TYPE_MAX + 1];
    int n_events; /* the first 256 */
    int spooled;  /* all of them */
    char done_id[64];
    cairn_status done_code;
    char done_message[256];
    char done_model[64];
    int n_done;
} captured;

static captured cap;

static int64_t started_uid = -1;

static int sink_spool(void *ctx, const cairn_event *ev)
{
    (void)ctx;
    if (strcmp(ev->type, "started") == 0)
        event_get_int(ev, "uid", &started_uid);
    if (cap.n_events < 256)
        snprintf(cap.types[cap.n_events++], EVENT_TYPE_MAX + 1, "%s", ev->type);
    cap.spooled++;
    return 0;
}

static void sink_done(void *ctx, const char *id, cairn_status code, const char *message,
                      const cairn_event *fields)
{
    (void)ctx;
    snprintf(cap.done_id, sizeof cap.done_id, "%s", id);
    cap.done_code = code;
    snprintf(cap.done_message, sizeof cap.done_message, "%s", message);
    const char *m;
    size_t n;
    cap.done_model[0] = '\0';
    if (fields && event_get_string(fields, "model", &m, &n) == 0)
        snprintf(cap.done_model, sizeof cap.done_model, "%.*s", (int)n, m);
    cap.n_done++;
}

static int count_type(const char *type)
{
    int n = 0;
    for (int i = 0; i < cap.n_events; i++)
        n += strcmp(cap.types[i], type) == 0;
    return n;
}

static int setup(void **state)
{
    (void)state;
    memset(&cap, 0, sizeof cap);
    snprintf(state_root, sizeof state_root, "/tmp/cairn-test-plugins.XXXXXX");
    assert_non_null(mkdtemp(state_root));
    plugin_host *h = calloc(1, sizeof *h);
    static char *dirs[1] = {plugin_dir}; /* the host keeps the pointer */
    plugin_sink sink = {NULL, sink_spool, sink_done, NULL, NULL, NULL};
    cairn_error err = {0};
    assert_int_equal(plugin_host_init(h, state_root, dirs, 1, 3, &sink, &err), CAIRN_OK);
    *state = h;
    return 0;
}

static int teardown(void **state)
{
    plugin_host *h = *state;
    plugin_host_close(h);
    free(h);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", state_root);
    return system(cmd);
}

/* Loads tests/plugins NAME.so as instance `name` with a config in libconfig text. */
static cairn_status load_as(plugin_host *h, const char *name, const char *file, const char *config,
                            bool isolate, cairn_error *err)
{
    plugin_spec spec = {.isolate = isolate};
    snprintf(spec.name, sizeof spec.name, "%s", name);
    snprintf(spec.path, sizeof spec.path, "%s", file);
    config_t cf;
    config_init(&cf);
    assert_int_equal(config_read_string(&cf, config ? config : ""), CONFIG_TRUE);
    assert_int_equal(plugin_settings_read(config_root_setting(&cf), &spec.config, err), CAIRN_OK);
    config_destroy(&cf);
    cairn_status st = plugin_host_load(h, &spec, err);
    plugin_settings_free(&spec.config);
    return st;
}

static cairn_status load(plugin_host *h, const char *name, const char *file, const char *config,
                         cairn_error *err)
{
    return load_as(h, name, file, config, false, err);
}

static void refused(plugin_host *h, const char *file, const char *config, const char *why)
{
    cairn_error err = {0};
    assert_int_not_equal(load(h, "x", file, config, &err), CAIRN_OK);
    if (!strstr(err.message, why))
        fail_msg("%s: expected '%s' in '%s'", file, why, err.message);
    plugin_instance *p = h->plugins[h->n_plugins - 1];
    assert_int_equal(p->status, PLUGIN_FAILED); /* listed, with its reason */
    assert_non_null(strstr(p->error, why));
}

static void a_plugin_with_the_smallest_ops_loads_and_stops(void **state)
{
    plugin_host *h = *state;
    cairn_error err = {0};
    assert_int_equal(load(h, "m", "minimal.so", NULL, &err), CAIRN_OK);
    assert_int_equal(h->plugins[0]->status, PLUGIN_RUNNING);
    /* teardown stops it: a flush past the ops' size would be read there */
}

static void every_refusal_names_its_reason(void **state)
{
    plugin_host *h = *state;
    refused(h, "bad_abi.so", NULL, "built for plugin ABI 2.0");
    refused(h, "bad_size.so", NULL, "descriptor too small");
    refused(h, "bad_kind.so", NULL, "unknown plugin kind 9");
    refused(h, "bad_init.so", NULL, "init failed");
    refused(h, "bad_default.so", NULL, "default for 'limit'");
    refused(h, "missing.so", NULL, "not found in the plugin directories");
    refused(h, "/bin/sh", NULL, "outside the plugin directories");
    refused(h, "../test_plugin_host", NULL, "outside the plugin directories");
    refused(h, "counter.so", "evry = 3;", "unknown config key 'evry'");
    refused(h, "counter.so", "every = \"3\";", "'every' must be of type int");
}

/* A plugin in a directory of the test's own, with the given modes. */
static void refused_for_mode(mode_t dir_mode, mode_t file_mode, const char *why)
{
    char dir[64] = "/tmp/cairn-test-perm.XXXXXX", src[PATH_MAX + 16], dst[128], cmd[PATH_MAX * 2];
    assert_non_null(mkdtemp(dir));
    snprintf(src, sizeof src, "%s/counter.so", plugin_dir);
    snprintf(dst, sizeof dst, "%s/counter.so", dir);
    snprintf(cmd, sizeof cmd, "cp %s %s", src, dst);
    assert_int_equal(system(cmd), 0);
    chmod(dst, file_mode);
    chmod(dir, dir_mode);
    plugin_host h;
    char *dirs[1] = {dir};
    plugin_sink sink = {0};
    cairn_error err = {0};
    assert_int_equal(plugin_host_init(&h, state_root, dirs, 1, 3, &sink, &err), CAIRN_OK);
    plugin_spec spec = {.name = "perm", .path = "counter.so"};
    cairn_status st = plugin_host_load(&h, &spec, &err);
    plugin_host_close(&h);
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
    if (!why) {
        assert_int_equal(st, CAIRN_OK);
        return;
    }
    assert_int_not_equal(st, CAIRN_OK);
    if (!strstr(err.message, why))
        fail_msg("expected '%s' in '%s'", why, err.message);
}

static void writable_files_and_directories_are_refused(void **state)
{
    (void)state;
    refused_for_mode(0755, 0755, NULL);
    refused_for_mode(0755, 0775, "writable by its group");
    refused_for_mode(0755, 0757, "writable by others");
    refused_for_mode(0777, 0755, "writable by others");
    refused_for_mode(0775, 0644, "writable by its group");
}

static void run_for(plugin_host *h, int64_t ms)
{
    int64_t until = clock_mono_ms() + ms;
    while (clock_mono_ms() < until) {
        plugin_host_run_timers(h, clock_mono_ms());
        usleep(1000);
    }
}

static void emitted_events_reach_subscribers_and_the_spool(void **state)
{
    plugin_host *h = *state;
    cairn_error err = {0};
    assert_int_equal(load(h, "ticker", "ticker.so", "interval_ms = 1; count = 5;", &err), CAIRN_OK);
    /* Subscribed to everything: it sees the ticks, never its own `seen`. */
    assert_int_equal(load(h, "counter", "counter.so", "every = 1; field = \"n\";", &err), CAIRN_OK);
    run_for(h, 200);
    assert_int_equal(count_type("tick"), 5);
    assert_int_equal(count_type("seen"), 5);
    plugin_instance *counter = h->plugins[1];
    assert_int_equal(counter->n_counters, 1);
    assert_int_equal(counter->counters[0].value, 5);
    assert_true(h->stats.routed == 5);
    struct stat st;
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%s/counter", state_root);
    assert_int_equal(stat(dir, &st), 0); /* its own state directory */
    assert_true(S_ISDIR(st.st_mode));
}

/* emit n events of p without draining; how many it took. */
static int emit_many(plugin_instance *p, int n)
{
    int took = 0;
    for (int i = 0; i < n; i++)
        took += plugin_host_api.emit(p, plugin_host_api.event_new(p, "flood")) == 0;
    return took;
}

/* One plugin emitting faster than the queue drains takes at most its share
 * of it (a half with two plugins running): the other's events still go. */
static void a_flood_leaves_room_for_the_other_plugins(void **state)
{
    plugin_host *h = *state;
    cairn_error err = {0};
    assert_int_equal(load(h, "flood", "minimal.so", NULL, &err), CAIRN_OK);
    assert_int_equal(load(h, "quiet", "minimal.so", NULL, &err), CAIRN_OK);
    assert_int_not_equal(load(h, "refused", "bad_abi.so", NULL, &err), CAIRN_OK); /* no share */
    assert_int_equal(emit_many(h->plugins[0], PLUGIN_QUEUE_MAX + 10), PLUGIN_QUEUE_MAX / 2);
    assert_int_equal(h->stats.queue_full, PLUGIN_QUEUE_MAX / 2 + 10);
    assert_int_equal(emit_many(h->plugins[1], 100), 100);
    plugin_host_drain(h);
    assert_int_equal(h->stats.emitted, PLUGIN_QUEUE_MAX / 2 + 100);
    assert_int_equal(emit_many(h->plugins[0], 1), 1); /* drained: room again */
    plugin_host_drain(h);
}

static int fires;
static void count_fire(void *arg)
{
    (void)arg;
    fires++;
}

/* Periods past what the clock holds are "not again for a long time", as
 * delays past it are: never a period that wraps negative and fires on every
 * turn of the loop. */
static void timers_at_their_limits_do_not_spin(void **state)
{
    plugin_host *h = *state;
    cairn_error err = {0};
    assert_int_equal(load(h, "m", "minimal.so", NULL, &err), CAIRN_OK);
    plugin_instance *p = h->plugins[0];
    const uint64_t periods[] = {UINT64_MAX, (uint64_t)INT64_MAX, (uint64_t)INT64_MAX + 1};
    for (size_t i = 0; i < sizeof periods / sizeof periods[0]; i++) {
        fires = 0;
        uint64_t id = plugin_host_api.timer_add(p, 0, periods[i], count_fire, NULL);
        assert_true(id > 0);
        for (int turn = 0; turn < 5; turn++) {
            plugin_host_run_timers(h, clock_mono_ms());
            usleep(1000);
        }
        assert_int_equal(fires, 1);
        assert_true(plugin_host_next_deadline(h) > clock_mono_ms() + 86400000);
        plugin_host_api.timer_cancel(p, id);
    }
    fires = 0;
    assert_true(plugin_host_api.timer_add(p, UINT64_MAX, 0, count_fire, NULL) > 0);
    plugin_host_run_timers(h, clock_mono_ms());
    assert_int_equal(fires, 0);
}

static unsigned woken_for;

static void note_wake(void *arg, int fd, unsigned ready)
{
    (void)arg;
    (void)fd;
    woken_for |= ready;
}

/* A pipe whose reader is gone is an error on its write end: a watch for
 * writing hears it as WRITE (its write then fails with EPIPE), not READ. */
static void an_error_wakes_a_watch_for_what_it_waits_on(void **state)
{
    plugin_host *h = *state;
    cairn_error err = {0};
    assert_int_equal(load(h, "m", "minimal.so", NULL, &err), CAIRN_OK);
    plugin_instance *p = h->plugins[0];
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    close(fds[0]);
    assert_int_equal(plugin_host_api.watch_fd(p, fds[1], CAIRN_FD_WRITE, note_wake, NULL), 0);
    zmq_pollitem_t items[4];
    int n = plugin_host_poll_items(h, items, 4);
    assert_int_equal(n, 1);
    assert_true(zmq_poll(items, n, 1000) == 1);
    woken_for = 0;
    plugin_host_dispatch(h, items, n);
    assert_int_equal(woken_for, CAIRN_FD_WRITE);
    plugin_host_api.unwatch_fd(p, fds[1]);
    close(fds[1]);
}

static void route_alert(plugin_host *h)
{
    cairn_event *ev = event_create("alert", "test", 0);
    plugin_host_route(h, ev, NULL);
    event_destroy(ev);
}

static void notifier_retries_with_backoff_then_delivers(void **state)
{
    plugin_host *h = *state;
    cairn_error err = {0};
    assert_int_equal(load(h, "n", "flaky_notifier.so", "results = [\"retry\", \"retry\", \"ok\"];",
                          &err),
                     CAIRN_OK);
    plugin_instance *p = h->plugins[0];
    route_alert(h);
    assert_int_equal(p->retry_count, 1);
    int64_t first = plugin_retry_next(p) - clock_mono_ms();
    assert_true(first > 500 && first <= 1000); /* 1 s */
    plugin_host_run_timers(h, clock_mono_ms() + 1000);
    int64_t second = plugin_retry_next(p) - clock_mono_ms();
    assert_true(second > 2500); /* then 2 s after that attempt */
    plugin_host_run_timers(h, clock_mono_ms() + 4000);
    assert_int_equal(p->retry_count, 0);
    assert_int_equal(h->stats.delivered, 1);
    assert_int_equal(h->stats.retried, 2);
}

static void notifier_gives_up_after_max_attempts_or_on_error(void **state)
{
    plugin_host *h = *state;
    cairn_error err = {0};
    assert_int_equal(load(h, "r", "flaky_notifier.so", "results = [\"retry\"];", &err), CAIRN_OK);
    assert_int_equal(load(h, "e", "flaky_notifier.so", "results = [\"error\"];", &err), CAIRN_OK);
    route_alert(h);
    assert_int_equal(h->stats.delivery_failed, 1); /* "e" at once */
    for (int i = 1; i <= 3; i++)
        plugin_host_run_timers(h, clock_mono_ms() + 100000 * i);
    assert_int_equal(h->plugins[0]->retry_count, 0);
    assert_int_equal(h->stats.delivery_failed, 2); /* "r" after 3 attempts */
    assert_int_equal(h->stats.delivered, 0);
}

static cairn_status command(plugin_host *h, const char *type, const char *id, int64_t deadline,
                            cairn_error *err)
{
    cairn_event *cmd = event_create(type, "coordinator", 0);
    event_set_string(cmd, "model", "churn");
    cairn_status st = plugin_host_command(h, id, cmd, deadline, err);
    event_destroy(cmd);
    return st;
}

static void deployer_commands_get_exactly_one_answer(void **state)
{
    plugin_host *h = *state;
    cairn_error err = {0};
    int64_t later = clock_wall_ms() + 60000;
    assert_int_equal(command(h, "deploy", "c0", later, &err), CAIRN_RESOURCE_DOES_NOT_EXIST);
    assert_int_equal(load(h, "d", "echo_deployer.so", NULL, &err), CAIRN_OK);
    assert_int_equal(command(h, "deploy", "c1", later, &err), CAIRN_OK);
    assert_int_equal(cap.n_done, 1);
    assert_string_equal(cap.done_id, "c1");
    assert_int_equal(cap.done_code, CAIRN_OK);
    assert_string_equal(cap.done_model, "churn");
    assert_int_equal(count_type("command.progress"), 1);
    assert_int_equal(command(h, "refuse", "c2", later, &err), CAIRN_INVALID_PARAMETER_VALUE);
    assert_int_equal(cap.n_done, 1);
    assert_int_equal(command(h, "fail", "c3", later, &err), CAIRN_OK);
    assert_int_equal(cap.done_code, CAIRN_COMMAND_FAILED);
    assert_string_equal(cap.done_message, "reload failed");
    assert_int_equal(command(h, "hang", "c4", clock_wall_ms() - 1, &err), CAIRN_OK);
    assert_int_equal(cap.n_done, 2);
    plugin_host_run_timers(h, clock_mono_ms());
    assert_int_equal(cap.n_done, 3);
    assert_string_equal(cap.done_id, "c4");
    assert_int_equal(cap.done_code, CAIRN_TIMEOUT);
    assert_int_equal(h->n_commands, 0);
}

/* Runs the host's loop for ms, or until `type` has been spooled `count` times. */
static void run_until(plugin_host *h, int64_t ms, const char *type, int count)
{
    int64_t until = clock_mono_ms() + ms;
    while (clock_mono_ms() < until && (!type || count_type(type) < count)) {
        zmq_pollitem_t items[16];
        int n = plugin_host_poll_items(h, items, 16);
        plugin_host_run_timers(h, clock_mono_ms());
        zmq_poll(items, n, 10);
        plugin_host_dispatch(h, items, n);
    }
}

static void route_type(plugin_host *h, const char *type)
{
    cairn_event *ev = event_create(type, "test", 0);
    plugin_host_route(h, ev, NULL);
    event_destroy(ev);
    plugin_host_drain(h);
}

static void isolated_plugin_runs_in_its_own_process(void **state)
{
    plugin_host *h = *state;
    cairn_error err = {0};
    assert_int_equal(load_as(h, "iso", "misbehave.so", NULL, true, &err), CAIRN_OK);
    plugin_instance *p = h->plugins[0];
    assert_int_equal(p->kind, CAIRN_PLUGIN_DETECTOR);
    assert_string_equal(p->version, "1.0");
    assert_int_equal(p->n_subs, 3);
    run_until(h, 5000, "started", 1);
    assert_int_equal(count_type("started"), 1);
    route_type(h, "echo");
    route_type(h, "echo");
    run_until(h, 5000, "echoed", 2);
    assert_int_equal(count_type("echoed"), 2);
    run_until(h, 1500, NULL, 0); /* a ping brings the counters over */
    assert_int_equal(p->n_counters, 1);
    assert_int_equal(p->counters[0].value, 2);
}

/* Stopped while its share of the queue is full, an isolated plugin still has
 * every event it sent handed on, none left unread with its socket. */
static void an_isolated_plugins_last_events_are_kept_at_stop(void **state)
{
    plugin_host *h = *state;
    cairn_error err = {0};
    /* Loaded first, it stops first: while the other three still run, its
     * share is a quarter of the queue, 16,384. */
    if (load_as(h, "loud", "big_emitter.so", "bytes = 8; count = 20000;", true, &err))
        fail_msg("load: %s", err.message);
    static const char *const quiet[] = {"quiet1", "quiet2", "quiet3"};
    for (int i = 0; i < 3; i++)
        assert_int_equal(load(h, quiet[i], "minimal.so", NULL, &err), CAIRN_OK);
    route_type(h, "tick"); /* its 20,000 events come while it stops */
    plugin_host_close(h);
    assert_int_equal(cap.spooled, 20000);
}

static void a_crashed_child_is_reported_and_restarted(void **state)
{
    plugin_host *h = *state;
    cairn_error err = {0};
    assert_int_equal(load_as(h, "iso", "misbehave.so", NULL, true, &err), CAIRN_OK);
    plugin_instance *p = h->plugins[0];
    run_until(h, 5000, "started", 1);
    route_type(h, "crash");
    run_until(h, 5000, "plugin.crashed", 1);
    assert_int_equal(count_type("plugin.crashed"), 1);
    assert_int_equal(p->status, PLUGIN_RESTARTING);
    assert_non_null(strstr(p->error, "signal 6"));
    run_until(h, 5000, "started", 2); /* back after 1 s */
    assert_int_equal(p->status, PLUGIN_RUNNING);
    assert_int_equal(p->restarts, 1);
    route_type(h, "echo");
    run_until(h, 5000, "echoed", 1);
    assert_int_equal(count_type("echoed"), 1);
}

static void a_hung_child_is_killed_by_the_watchdog(void **state)
{
    plugin_host *h = *state;
    cairn_error err = {0};
    h->watchdog_ms = 1500;
    assert_int_equal(load_as(h, "iso", "misbehave.so", NULL, true, &err), CAIRN_OK);
    plugin_instance *p = h->plugins[0];
    run_until(h, 5000, "started", 1);
    route_type(h, "hang");
    run_until(h, 8000, "plugin.crashed", 1);
    assert_int_equal(count_type("plugin.crashed"), 1);
    assert_non_null(strstr(p->error, "watchdog"));
    run_until(h, 5000, "started", 2);
    assert_int_equal(p->status, PLUGIN_RUNNING);
}

/* Run as root, the tests check that a child configured to drop privileges
 * runs as `nobody` and cannot become root again (become_user checks it). */
static void an_isolated_child_runs_as_the_configured_user(void **state)
{
    plugin_host *h = *state;
    if (geteuid() != 0)
        skip();
    h->drop_privileges = true;
    h->child_uid = 65534;
    h->child_gid = 65534;
    cairn_error err = {0};
    assert_int_equal(load_as(h, "iso", "misbehave.so", NULL, true, &err), CAIRN_OK);
    run_until(h, 5000, "started", 1);
    assert_int_equal(count_type("started"), 1);
    assert_int_equal(started_uid, 65534);
    struct stat st;
    assert_int_equal(stat(h->plugins[0]->state_dir, &st), 0);
    assert_int_equal(st.st_uid, 65534);
}

/* The agent opens only the two directories nearest a state directory to the
 * plugin's user: one further up that the user cannot search is named in the
 * refusal, not left to fail inside the plugin. */
static void an_unreachable_state_directory_is_named(void **state)
{
    (void)state;
    if (geteuid() != 0)
        skip();
    char outer[64] = "/tmp/cairn-test-private.XXXXXX", root[96];
    assert_non_null(mkdtemp(outer)); /* 0700, owned by root */
    snprintf(root, sizeof root, "%s/agent", outer);
    assert_int_equal(mkdir(root, 0700), 0);
    strcat(root, "/plugins"); /* as the agent's: DATA_DIR/plugins/NAME */
    assert_int_equal(mkdir(root, 0700), 0);
    plugin_host h = {0};
    static char *dirs[1] = {plugin_dir};
    plugin_sink sink = {NULL, sink_spool, sink_done, NULL, NULL, NULL};
    cairn_error err = {0};
    assert_int_equal(plugin_host_init(&h, root, dirs, 1, 3, &sink, &err), CAIRN_OK);
    h.drop_privileges = true;
    h.child_uid = 65534;
    h.child_gid = 65534;
    assert_int_not_equal(load_as(&h, "iso", "misbehave.so", NULL, true, &err), CAIRN_OK);
    char want[128];
    snprintf(want, sizeof want, "no search permission on %s for uid 65534", outer);
    assert_non_null(strstr(err.message, want));
    plugin_host_close(&h);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", outer);
    assert_int_equal(system(cmd), 0);
}

static void an_isolated_refusal_is_reported_from_the_child(void **state)
{
    plugin_host *h = *state;
    cairn_error err = {0};
    assert_int_not_equal(load_as(h, "iso", "bad_abi.so", NULL, true, &err), CAIRN_OK);
    assert_non_null(strstr(err.message, "built for plugin ABI 2.0"));
    assert_int_not_equal(load_as(h, "iso2", "counter.so", "evry = 1;", true, &err), CAIRN_OK);
    assert_non_null(strstr(err.message, "unknown config key 'evry'"));
}

static void an_isolated_deployer_answers_through_the_child(void **state)
{
    plugin_host *h = *state;
    cairn_error err = {0};
    assert_int_equal(load_as(h, "d", "echo_deployer.so", "delay_ms = 50;", true, &err), CAIRN_OK);
    assert_int_equal(command(h, "deploy", "c1", clock_wall_ms() + 10000, &err), CAIRN_OK);
    int64_t until = clock_mono_ms() + 5000;
    while (cap.n_done == 0 && clock_mono_ms() < until)
        run_until(h, 20, NULL, 0);
    assert_int_equal(cap.n_done, 1);
    assert_int_equal(cap.done_code, CAIRN_OK);
    assert_string_equal(cap.done_model, "churn");
    assert_int_equal(count_type("command.progress"), 1);
}

int main(int argc, char **argv)
{
    /* Isolated plugins run in this program started again. */
    if (argc == 3 && strcmp(argv[1], "--plugin-child") == 0)
        return plugin_child_main(atoi(argv[2]));
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0)
        return 1;
    self[n] = '\0';
    snprintf(plugin_dir, sizeof plugin_dir, "%s/plugins", dirname(self));
    (void)argv;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(every_refusal_names_its_reason, setup, teardown),
        cmocka_unit_test_setup_teardown(a_plugin_with_the_smallest_ops_loads_and_stops, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(writable_files_and_directories_are_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(timers_at_their_limits_do_not_spin, setup, teardown),
        cmocka_unit_test_setup_teardown(an_error_wakes_a_watch_for_what_it_waits_on, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(emitted_events_reach_subscribers_and_the_spool, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(a_flood_leaves_room_for_the_other_plugins, setup, teardown),
        cmocka_unit_test_setup_teardown(notifier_retries_with_backoff_then_delivers, setup, teardown),
        cmocka_unit_test_setup_teardown(notifier_gives_up_after_max_attempts_or_on_error, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(deployer_commands_get_exactly_one_answer, setup, teardown),
        cmocka_unit_test_setup_teardown(isolated_plugin_runs_in_its_own_process, setup, teardown),
        cmocka_unit_test_setup_teardown(an_isolated_plugins_last_events_are_kept_at_stop, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(a_crashed_child_is_reported_and_restarted, setup, teardown),
        cmocka_unit_test_setup_teardown(a_hung_child_is_killed_by_the_watchdog, setup, teardown),
        cmocka_unit_test_setup_teardown(an_isolated_child_runs_as_the_configured_user, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(an_unreachable_state_directory_is_named, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(an_isolated_refusal_is_reported_from_the_child, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(an_isolated_deployer_answers_through_the_child, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
