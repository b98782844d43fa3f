/*
 * cairn_tracker through what a coordinator may do to it: not be there yet,
 * be killed mid-stream, or refuse requests larger than its message limit.
 * An outage costs a delay, not data. Each test starts its coordinator itself.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tracker_fixture.h"

/* Writes text as the coordinator's config file, read from its next start. */
static void use_config(coordinator *c, const char *text)
{
    static char conf[128];
    snprintf(conf, sizeof conf, "%s/coordinator.conf", c->s.dir);
    FILE *f = fopen(conf, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    c->conf = conf;
}

/* One run's n points through a coordinator started with config: each
 * arrives exactly once, in order. */
static void stream_one_run(coordinator *c, const char *config, const char *experiment, int n)
{
    cairn_error err;
    char run[CAIRN_ID_TEXT_LEN + 1];
    cairn_run_start_opts ro = {.experiment = experiment};
    use_config(c, config);
    coordinator_start(c);
    cairn_tracker *t = open_tracker(c->s.endpoint, 0);
    assert_int_equal(cairn_tracker_start_run(t, &ro, run, &err), CAIRN_OK);
    log_points(t, run, 0, n);
    if (cairn_tracker_flush(t, FLUSH_MS, &err) != CAIRN_OK)
        fail_msg("flush: %s", err.message);
    cairn_client *client = reader(c);
    for (int k = 0; k < 3; k++)
        check_history(client, run, k, n, 0, now_ms());
    cairn_client_close(client);
    assert_int_equal(cairn_tracker_close(t, FLUSH_MS, &err), CAIRN_OK);
}

/* Nothing listens at first: flush times out, nothing is lost; once a
 * coordinator is up, the queue goes through exactly once. */
static void test_outage_then_recovery(void **state)
{
    coordinator *c = *state;
    cairn_error err;
    char run[CAIRN_ID_TEXT_LEN + 1];
    cairn_kv param = {"batch", "64"};
    cairn_run_start_opts ro = {.experiment = "outage"};
    cairn_tracker *t = open_tracker(c->s.endpoint, 0);
    assert_int_equal(cairn_tracker_start_run(t, &ro, run, &err), CAIRN_OK);
    log_points(t, run, 0, 1500);
    assert_int_equal(cairn_tracker_log_params(t, run, &param, 1), CAIRN_OK);
    assert_int_equal(cairn_tracker_flush(t, 200, &err), CAIRN_TIMEOUT);
    log_points(t, run, 1500, 3000);
    coordinator_start(c);
    if (cairn_tracker_flush(t, FLUSH_MS, &err) != CAIRN_OK)
        fail_msg("flush after recovery: %s", err.message);
    assert_int_equal(cairn_tracker_end_run(t, run, "FINISHED", FLUSH_MS, &err), CAIRN_OK);

    cairn_client *client = reader(c);
    for (int k = 0; k < 3; k++)
        check_history(client, run, k, 3000, 0, now_ms());
    cairn_run *r = NULL;
    assert_int_equal(cairn_run_get(client, run, &r, &err), CAIRN_OK);
    assert_string_equal(kv_get(r->params, r->n_params, "batch"), "64");
    assert_string_equal(r->status, "FINISHED");
    cairn_run_free(r);
    cairn_client_close(client);
    assert_int_equal(cairn_tracker_close(t, FLUSH_MS, &err), CAIRN_OK);
}

/* The coordinator dies (SIGKILL: no clean shutdown) while points stream and
 * comes back on the same store: requests it never committed are resent with
 * their ids, those it committed are not applied twice. */
static void test_coordinator_killed_midstream(void **state)
{
    coordinator *c = *state;
    cairn_error err;
    char run[CAIRN_ID_TEXT_LEN + 1];
    cairn_run_start_opts ro = {.experiment = "restart"};
    const int n = 60000;
    coordinator_start(c);
    cairn_tracker *t = open_tracker(c->s.endpoint, 0);
    assert_int_equal(cairn_tracker_start_run(t, &ro, run, &err), CAIRN_OK);
    log_points(t, run, 0, n / 2);
    kill(c->pid, SIGKILL);
    waitpid(c->pid, NULL, 0);
    c->pid = 0;
    log_points(t, run, n / 2, n);
    coordinator_start(c);
    if (cairn_tracker_flush(t, FLUSH_MS, &err) != CAIRN_OK)
        fail_msg("flush after restart: %s", err.message);
    cairn_client *client = reader(c);
    for (int k = 0; k < 3; k++)
        check_history(client, run, k, n, 0, now_ms());
    cairn_client_close(client);
    assert_int_equal(cairn_tracker_close(t, FLUSH_MS, &err), CAIRN_OK);
}

static void kill_coordinator(coordinator *c)
{
    kill(c->pid, SIGKILL);
    waitpid(c->pid, NULL, 0);
    c->pid = 0;
}

typedef char run_id[CAIRN_ID_TEXT_LEN + 1];

/* A tracker with n runs of experiment started (not yet sent). */
static cairn_tracker *start_sweep(const coordinator *c, const char *experiment, run_id *runs, int n)
{
    cairn_error err;
    cairn_run_start_opts ro = {.experiment = experiment};
    cairn_tracker *t = open_tracker(c->s.endpoint, 0);
    for (int r = 0; r < n; r++)
        assert_int_equal(cairn_tracker_start_run(t, &ro, runs[r], &err), CAIRN_OK);
    return t;
}

/* Each run has each of its points [0, points) exactly once, in order; closes t. */
static void check_sweep(const coordinator *c, cairn_tracker *t, run_id *runs, int n, int points)
{
    cairn_error err;
    cairn_client *client = reader(c);
    for (int r = 0; r < n; r++)
        for (int k = 0; k < 3; k++)
            check_history(client, runs[r], k, points, 0, now_ms());
    cairn_client_close(client);
    assert_int_equal(cairn_tracker_close(t, FLUSH_MS, &err), CAIRN_OK);
}

/* Steps every run through points [from, to). */
static void log_sweep(cairn_tracker *t, run_id *runs, int n_runs, int from, int to)
{
    for (int i = from; i < to; i++)
        for (int r = 0; r < n_runs; r++)
            log_points(t, runs[r], i, i + 1);
}

/* A sweep (many runs stepped in turn, so several runs' requests are in
 * flight together) through a coordinator killed twice: once with requests
 * in flight, their replies lost, and once before the sender's next requests,
 * which then meet no connection. Every run still gets each of its points
 * exactly once and in its order. */
static void test_sweep_killed_midstream(void **state)
{
    coordinator *c = *state;
    cairn_error err;
    /* Each third past TK_BATCH_ITEMS: the sender takes it at once. */
    enum { RUNS = 100, POINTS = 360 };
    static run_id runs[RUNS];
    coordinator_start(c);
    cairn_tracker *t = start_sweep(c, "sweep-restart", runs, RUNS);
    log_sweep(t, runs, RUNS, 0, POINTS / 3);
    kill_coordinator(c);
    coordinator_start(c);
    log_sweep(t, runs, RUNS, POINTS / 3, 2 * POINTS / 3);
    if (cairn_tracker_flush(t, FLUSH_MS, &err) != CAIRN_OK)
        fail_msg("flush after the first restart: %s", err.message);
    kill_coordinator(c);
    log_sweep(t, runs, RUNS, 2 * POINTS / 3, POINTS);
    usleep(300 * 1000);
    coordinator_start(c);
    if (cairn_tracker_flush(t, FLUSH_MS, &err) != CAIRN_OK)
        fail_msg("flush after the second restart: %s", err.message);
    check_sweep(c, t, runs, RUNS, POINTS);
}

/* A sweep into a store that cannot commit (its map full): the groups fail
 * whole with STORAGE_ERROR, the tracker keeps every run's points and resends
 * them, and once the store has room each arrives exactly once. */
static void test_sweep_into_a_full_store(void **state)
{
    coordinator *c = *state;
    cairn_error err;
    enum { RUNS = 100, POINTS = 600 }; /* 60,000 points: more than a 1 MiB map holds */
    static run_id runs[RUNS];
    use_config(c, "store: { map_size_mb = 1; };\n");
    coordinator_start(c);
    cairn_tracker *t = start_sweep(c, "sweep-full", runs, RUNS);
    log_sweep(t, runs, RUNS, 0, POINTS);
    assert_int_equal(cairn_tracker_flush(t, 2000, &err), CAIRN_TIMEOUT);
    assert_non_null(strstr(err.message, "STORAGE_ERROR"));
    coordinator_stop(c);
    c->conf = NULL; /* the default map */
    coordinator_start(c);
    if (cairn_tracker_flush(t, FLUSH_MS, &err) != CAIRN_OK)
        fail_msg("flush once the store has room: %s", err.message);
    check_sweep(c, t, runs, RUNS, POINTS);
}

/* A receiver whose message limit is below the tracker's request size refuses
 * them whole with MESSAGE_TOO_LARGE: the tracker sends smaller ones instead
 * of dropping the points. */
static void test_smaller_message_limit(void **state)
{
    /* 50,000-point requests are about 1.5 MB */
    stream_one_run(*state, "limits: { max_message_bytes = 1048576; };\n", "small-limit", 120000);
}

/* A sweep whose runs' requests are in flight together, some of them over the
 * receiver's message limit (answered MESSAGE_TOO_LARGE without an id, since
 * the receiver does not read a message that large): the others' answers must
 * not be taken for theirs. Each run gets each of its points exactly once. */
static void test_sweep_some_requests_too_large(void **state)
{
    coordinator *c = *state;
    cairn_error err;
    enum { RUNS = 16, LARGE = 700, SMALL = 20 }; /* 700 points: about 21 KB */
    static char runs[RUNS][CAIRN_ID_TEXT_LEN + 1];
    use_config(c, "limits: { max_message_bytes = 16384; };\n");
    coordinator_start(c);
    cairn_run_start_opts ro = {.experiment = "sweep-too-large"};
    cairn_tracker_opts o = {.endpoint = c->s.endpoint, .flush_ms = 60000};
    cairn_tracker *t = cairn_tracker_open(&o, &err);
    assert_non_null(t);
    for (int r = 0; r < RUNS; r++)
        assert_int_equal(cairn_tracker_start_run(t, &ro, runs[r], &err), CAIRN_OK);
    if (cairn_tracker_flush(t, FLUSH_MS, &err) != CAIRN_OK)
        fail_msg("flush of the starts: %s", err.message);
    for (int r = 0; r < RUNS; r++)
        log_points(t, runs[r], 0, r % 2 ? SMALL : LARGE);
    if (cairn_tracker_flush(t, FLUSH_MS, &err) != CAIRN_OK)
        fail_msg("flush: %s", err.message);
    cairn_client *client = reader(c);
    for (int r = 0; r < RUNS; r++)
        for (int k = 0; k < 3; k++)
            check_history(client, runs[r], k, r % 2 ? SMALL : LARGE, 0, now_ms());
    cairn_client_close(client);
    assert_int_equal(cairn_tracker_close(t, FLUSH_MS, &err), CAIRN_OK);
}

/* A message limit far below the tracker's requests (4 KiB against requests
 * of about 90 KB): each is still read and refused MESSAGE_TOO_LARGE, not cut
 * off with its connection, and the points go in small requests. */
static void test_tiny_message_limit(void **state)
{
    stream_one_run(*state, "limits: { max_message_bytes = 4096; };\n", "tiny-limit", 3000);
}

/* A receiver that stops answering (stopped, its host wedged) while points
 * are in flight: close flushes for its timeout and returns then, rather than
 * after the sender has waited out the reply in hand (5 s). */
static void test_close_returns_in_its_time_from_a_stalled_receiver(void **state)
{
    coordinator *c = *state;
    cairn_error err;
    char run[CAIRN_ID_TEXT_LEN + 1];
    cairn_run_start_opts ro = {.experiment = "stalled"};
    coordinator_start(c);
    cairn_tracker *t = open_tracker(c->s.endpoint, 0);
    assert_int_equal(cairn_tracker_start_run(t, &ro, run, &err), CAIRN_OK);
    assert_int_equal(cairn_tracker_flush(t, FLUSH_MS, &err), CAIRN_OK);
    kill(c->pid, SIGSTOP);
    log_points(t, run, 0, 20000); /* past a batch: the sender sends at once */
    usleep(100 * 1000);
    int64_t t0 = now_ms();
    assert_int_equal(cairn_tracker_close(t, 300, &err), CAIRN_TIMEOUT);
    int64_t took = now_ms() - t0;
    kill(c->pid, SIGCONT);
    if (took > 3000) /* generous: the wait it must not make is 5,000 ms */
        fail_msg("close(300 ms) took %lld ms", (long long)took);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_outage_then_recovery, scratch_setup, coordinator_teardown),
        cmocka_unit_test_setup_teardown(test_coordinator_killed_midstream, scratch_setup, coordinator_teardown),
        cmocka_unit_test_setup_teardown(test_sweep_killed_midstream, scratch_setup, coordinator_teardown),
        cmocka_unit_test_setup_teardown(test_sweep_into_a_full_store, scratch_setup, coordinator_teardown),
        cmocka_unit_test_setup_teardown(test_smaller_message_limit, scratch_setup, coordinator_teardown),
        cmocka_unit_test_setup_teardown(test_tiny_message_limit, scratch_setup, coordinator_teardown),
        cmocka_unit_test_setup_teardown(test_close_returns_in_its_time_from_a_stalled_receiver,
                                        scratch_setup, coordinator_teardown),
        cmocka_unit_test_setup_teardown(test_sweep_some_requests_too_large, scratch_setup, coordinator_teardown),
    };
    return cmocka_run_group_tests_name("tracker recovery", tests, NULL, NULL);
}
