/*
 * cairn_tracker against a real coordinator started from the test (the binary
 * of this same build): every point arrives exactly once and in order,
 * refusals come back from flush, an artifact follows the queue, and threads
 * logging at once keep their own order.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "tracker_fixture.h"
#include "tracker_internal.h"

static void test_points_arrive_in_order(void **state)
{
    coordinator *c = *state;
    cairn_error err;
    char run[CAIRN_ID_TEXT_LEN + 1];
    cairn_kv tags[] = {{"team", "ml"}, {"cairn.user", "override"}};
    cairn_kv params[] = {{"lr", "0.01"}, {"model", "resnet"}};
    cairn_kv more_tags[] = {{"phase", "train"}};
    cairn_run_start_opts ro = {.experiment = "tracker", .name = "hundred-k", .tags = tags,
                               .n_tags = 2, .detect_source = 1};
    const int n = 100000;
    int64_t t0 = now_ms();
    cairn_tracker *t = open_tracker(c->s.endpoint, 0);
    assert_int_equal(cairn_tracker_start_run(t, &ro, run, &err), CAIRN_OK);
    log_points(t, run, 0, n / 2);
    assert_int_equal(cairn_tracker_log_params(t, run, params, 2), CAIRN_OK);
    log_points(t, run, n / 2, n);
    assert_int_equal(cairn_tracker_set_tags(t, run, more_tags, 1), CAIRN_OK);
    if (cairn_tracker_end_run(t, run, "FINISHED", FLUSH_MS, &err) != CAIRN_OK)
        fail_msg("end_run: %s", err.message);
    int64_t t1 = now_ms();

    cairn_client *client = reader(c);
    for (int k = 0; k < 3; k++)
        check_history(client, run, k, n, t0, t1);
    cairn_run *r = NULL;
    assert_int_equal(cairn_run_get(client, run, &r, &err), CAIRN_OK);
    assert_string_equal(r->status, "FINISHED");
    assert_string_equal(r->name, "hundred-k");
    assert_true(r->start_time >= t0 && r->end_time >= r->start_time && r->end_time <= t1);
    assert_string_equal(kv_get(r->params, r->n_params, "lr"), "0.01");
    assert_string_equal(kv_get(r->params, r->n_params, "model"), "resnet");
    assert_string_equal(kv_get(r->tags, r->n_tags, "team"), "ml");
    assert_string_equal(kv_get(r->tags, r->n_tags, "phase"), "train");
    assert_string_equal(kv_get(r->tags, r->n_tags, "cairn.user"), "override"); /* caller's wins */
    assert_non_null(kv_get(r->tags, r->n_tags, "cairn.host"));
    /* Run from a git work tree (or not): a dirty flag only beside its commit. */
    const char *dirty = kv_get(r->tags, r->n_tags, "cairn.git.dirty");
    if (dirty) {
        assert_non_null(kv_get(r->tags, r->n_tags, "cairn.git.commit"));
        assert_true(strcmp(dirty, "true") == 0 || strcmp(dirty, "false") == 0);
    }
    assert_int_equal(r->n_metrics, 3);
    cairn_run_free(r);
    cairn_client_close(client);
    assert_int_equal(cairn_tracker_close(t, FLUSH_MS, &err), CAIRN_OK);
}

static void test_refusal_comes_back_from_flush(void **state)
{
    coordinator *c = *state;
    cairn_error err;
    char run[CAIRN_ID_TEXT_LEN + 1];
    cairn_kv first = {"lr", "0.1"}, changed = {"lr", "0.2"};
    cairn_run_start_opts ro = {.experiment = "tracker"};
    cairn_tracker *t = open_tracker(c->s.endpoint, 0);
    assert_int_equal(cairn_tracker_start_run(t, &ro, run, &err), CAIRN_OK);
    assert_int_equal(cairn_tracker_log_params(t, run, &first, 1), CAIRN_OK);
    log_points(t, run, 0, 30);
    assert_int_equal(cairn_tracker_flush(t, FLUSH_MS, &err), CAIRN_OK);
    assert_int_equal(cairn_tracker_log_params(t, run, &changed, 1), CAIRN_OK);
    log_points(t, run, 30, 60); /* behind the refused request: still delivered */
    assert_int_equal(cairn_tracker_flush(t, FLUSH_MS, &err), CAIRN_INVALID_PARAMETER_VALUE);
    assert_int_equal(err.status, CAIRN_INVALID_PARAMETER_VALUE);
    assert_non_null(strstr(err.message, run));
    assert_int_equal(cairn_tracker_flush(t, FLUSH_MS, &err), CAIRN_OK); /* cleared */

    cairn_client *client = reader(c);
    for (int k = 0; k < 3; k++)
        check_history(client, run, k, 60, 0, now_ms());
    cairn_run *r = NULL;
    assert_int_equal(cairn_run_get(client, run, &r, &err), CAIRN_OK);
    assert_string_equal(kv_get(r->params, r->n_params, "lr"), "0.1");
    cairn_run_free(r);
    cairn_client_close(client);
    assert_int_equal(cairn_tracker_close(t, FLUSH_MS, &err), CAIRN_OK);
}

/* In a sweep several runs' points are in flight together: a run the
 * coordinator refuses comes back from flush by name, and the runs sent
 * beside it lose nothing. */
static void test_sweep_refusal_spares_the_other_runs(void **state)
{
    coordinator *c = *state;
    cairn_error err;
    enum { RUNS = 40, POINTS = 30, UNKNOWN = 17 };
    char runs[RUNS][CAIRN_ID_TEXT_LEN + 1];
    cairn_run_start_opts ro = {.experiment = "sweep"};
    cairn_tracker *t = open_tracker(c->s.endpoint, 0);
    for (int r = 0; r < RUNS; r++)
        assert_int_equal(cairn_tracker_start_run(t, &ro, runs[r], &err), CAIRN_OK);
    assert_int_equal(cairn_tracker_flush(t, FLUSH_MS, &err), CAIRN_OK);
    snprintf(runs[UNKNOWN], sizeof runs[UNKNOWN], "%s", "01ARZ3NDEKTSV4RRFFQ69G5FAV");
    for (int i = 0; i < POINTS; i++)
        for (int r = 0; r < RUNS; r++)
            log_points(t, runs[r], i, i + 1);
    assert_int_not_equal(cairn_tracker_flush(t, FLUSH_MS, &err), CAIRN_OK);
    assert_non_null(strstr(err.message, runs[UNKNOWN]));
    assert_int_equal(cairn_tracker_flush(t, FLUSH_MS, &err), CAIRN_OK); /* cleared */

    cairn_client *client = reader(c);
    for (int r = 0; r < RUNS; r++)
        for (int k = 0; k < 3 && r != UNKNOWN; k++)
            check_history(client, runs[r], k, POINTS, 0, now_ms());
    cairn_client_close(client);
    assert_int_equal(cairn_tracker_close(t, FLUSH_MS, &err), CAIRN_OK);
}

/* A 7-byte model.bin in the coordinator's directory; its path into file. */
static void write_model(const coordinator *c, char *file, size_t cap)
{
    snprintf(file, cap, "%s/model.bin", c->s.dir);
    FILE *f = fopen(file, "w");
    assert_non_null(f);
    fputs("weights", f);
    fclose(f);
}

static cairn_run *get_run(const coordinator *c, const char *id)
{
    cairn_error err;
    cairn_run *r = NULL;
    cairn_client *client = reader(c);
    if (cairn_run_get(client, id, &r, &err) != CAIRN_OK)
        fail_msg("run.get: %s", err.message);
    cairn_client_close(client);
    return r;
}

static void test_artifact_after_queue(void **state)
{
    coordinator *c = *state;
    cairn_error err;
    cairn_artifact a;
    char run[CAIRN_ID_TEXT_LEN + 1], file[128];
    cairn_run_start_opts ro = {.experiment = "tracker"};
    write_model(c, file, sizeof file);
    cairn_tracker *t = open_tracker(c->s.endpoint, 0);
    assert_int_equal(cairn_tracker_start_run(t, &ro, run, &err), CAIRN_OK);
    log_points(t, run, 0, 3);
    if (cairn_tracker_log_artifact(t, run, file, NULL, &a, &err) != CAIRN_OK)
        fail_msg("log_artifact: %s", err.message);
    assert_string_equal(a.path, "model.bin");
    assert_int_equal(a.size, 7);
    cairn_run *r = get_run(c, run);
    assert_int_equal(r->n_metrics, 3); /* queued before the upload: already there */
    assert_int_equal(r->n_artifacts, 1);
    assert_string_equal(r->artifacts[0].sha256, a.sha256);
    cairn_run_free(r);
    assert_int_equal(cairn_tracker_close(t, FLUSH_MS, &err), CAIRN_OK);
}

/* A tracker with a run whose 3 points are in flight to the coordinator,
 * stopped (SIGSTOP), and model.bin written: where the upload steps start. */
static cairn_tracker *points_held(const coordinator *c, char *run, char *file, size_t cap)
{
    cairn_error err;
    cairn_run_start_opts ro = {.experiment = "tracker"};
    write_model(c, file, cap);
    cairn_tracker *t = open_tracker(c->s.endpoint, 0);
    assert_int_equal(cairn_tracker_start_run(t, &ro, run, &err), CAIRN_OK);
    assert_int_equal(kill(c->pid, SIGSTOP), 0);
    log_points(t, run, 0, 3);
    return t;
}

/* Awaits the upload in 50 ms slices until it is over; its outcome. */
static cairn_status await_to_end(cairn_tracker *t, cairn_tracker_upload **u, cairn_artifact *a,
                                 cairn_error *err)
{
    cairn_status st;
    while ((st = cairn_tracker_await_artifact(t, u, 50, a, err)) == CAIRN_TIMEOUT && *u)
        ;
    return st;
}

/* The upload in steps: awaited in slices while the coordinator is stopped,
 * then to its end; one given up before the sender reached it is never made,
 * and one given up at once is either never made or made whole. */
static void test_artifact_in_steps(void **state)
{
    coordinator *c = *state;
    cairn_error err;
    cairn_artifact a;
    cairn_status st;
    char run[CAIRN_ID_TEXT_LEN + 1], file[128];
    cairn_tracker_upload *kept, *dropped, *raced;
    cairn_tracker *t = points_held(c, run, file, sizeof file);
    assert_int_equal(cairn_tracker_queue_artifact(t, run, file, "kept.bin", &kept, &err), CAIRN_OK);
    assert_int_equal(cairn_tracker_queue_artifact(t, run, file, "dropped.bin", &dropped, &err),
                     CAIRN_OK);
    assert_int_equal(cairn_tracker_await_artifact(t, &kept, 100, &a, &err), CAIRN_TIMEOUT);
    assert_non_null(kept); /* not over: still to be awaited */
    cairn_tracker_abandon_artifact(t, dropped);
    assert_int_equal(kill(c->pid, SIGCONT), 0);
    if ((st = await_to_end(t, &kept, &a, &err)) != CAIRN_OK)
        fail_msg("await_artifact: %s", err.message);
    assert_null(kept);
    assert_string_equal(a.path, "kept.bin");
    assert_int_equal(a.size, 7);
    assert_int_equal(cairn_tracker_await_artifact(t, &kept, 0, &a, &err),
                     CAIRN_INVALID_PARAMETER_VALUE);

    assert_int_equal(cairn_tracker_queue_artifact(t, run, file, "raced.bin", &raced, &err), CAIRN_OK);
    cairn_tracker_abandon_artifact(t, raced);
    assert_int_equal(cairn_tracker_flush(t, FLUSH_MS, &err), CAIRN_OK);
    cairn_run *r = get_run(c, run);
    assert_int_equal(r->n_metrics, 3);
    assert_in_range(r->n_artifacts, 1, 2);
    for (size_t i = 0; i < r->n_artifacts; i++) {
        assert_string_equal(r->artifacts[i].path, i ? "raced.bin" : "kept.bin");
        assert_string_equal(r->artifacts[i].sha256, a.sha256);
    }
    cairn_run_free(r);
    assert_int_equal(cairn_tracker_close(t, FLUSH_MS, &err), CAIRN_OK);
}

/* An upload the sender has not reached by its deadline (60 s; 200 ms here)
 * is over for its caller, answered TIMEOUT, and never made. */
static void test_an_upload_not_reached_in_time_is_cancelled(void **state)
{
    coordinator *c = *state;
    cairn_error err;
    cairn_artifact a;
    char run[CAIRN_ID_TEXT_LEN + 1], file[128];
    cairn_tracker_upload *late;
    cairn_tracker *t = points_held(c, run, file, sizeof file);
    assert_int_equal(cairn_tracker_queue_artifact(t, run, file, NULL, &late, &err), CAIRN_OK);
    /* Only the waiting caller reads the deadline, and this is its thread. */
    ((tk_op *)late)->u.artifact.deadline_ms = tk_mono_ms() + 200;
    assert_int_equal(await_to_end(t, &late, &a, &err), CAIRN_TIMEOUT);
    assert_null(late);
    assert_non_null(strstr(err.message, "not acknowledged within 60000 ms"));
    assert_int_equal(kill(c->pid, SIGCONT), 0);
    assert_int_equal(cairn_tracker_flush(t, FLUSH_MS, &err), CAIRN_OK);
    cairn_run *r = get_run(c, run);
    assert_int_equal(r->n_metrics, 3);
    assert_int_equal(r->n_artifacts, 0);
    cairn_run_free(r);
    assert_int_equal(cairn_tracker_close(t, FLUSH_MS, &err), CAIRN_OK);
}

typedef struct logger {
    cairn_tracker *t;
    const char *run;
    char key[32];
    int n;
} logger;

static void *log_from_thread(void *arg)
{
    logger *l = arg;
    for (int i = 0; i < l->n; i++)
        if (cairn_tracker_log_metric(l->t, l->run, l->key, i, i) != CAIRN_OK)
            return (void *)1;
    return NULL;
}

/* Threads log at once into one tracker: each thread's points keep its order. */
static void test_threads_keep_their_order(void **state)
{
    coordinator *c = *state;
    cairn_error err;
    char run[CAIRN_ID_TEXT_LEN + 1];
    cairn_run_start_opts ro = {.experiment = "tracker"};
    enum { THREADS = 4, PER_THREAD = 20000 };
    pthread_t th[THREADS];
    logger l[THREADS];
    cairn_tracker *t = open_tracker(c->s.endpoint, 0);
    assert_int_equal(cairn_tracker_start_run(t, &ro, run, &err), CAIRN_OK);
    for (int k = 0; k < THREADS; k++) {
        l[k] = (logger){.t = t, .run = run, .n = PER_THREAD};
        snprintf(l[k].key, sizeof l[k].key, "thread/%d", k);
        assert_int_equal(pthread_create(&th[k], NULL, log_from_thread, &l[k]), 0);
    }
    for (int k = 0; k < THREADS; k++) {
        void *failed;
        pthread_join(th[k], &failed);
        assert_null(failed);
    }
    assert_int_equal(cairn_tracker_flush(t, FLUSH_MS, &err), CAIRN_OK);
    cairn_client *client = reader(c);
    for (int k = 0; k < THREADS; k++) {
        cairn_history *h = NULL;
        assert_int_equal(cairn_metric_history(client, run, l[k].key, 0, 0, &h, &err), CAIRN_OK);
        assert_int_equal(h->count, PER_THREAD);
        for (int i = 0; i < PER_THREAD; i++)
            assert_true(h->points[i].step == i && h->points[i].value == i);
        cairn_history_free(h);
    }
    cairn_client_close(client);
    assert_int_equal(cairn_tracker_close(t, FLUSH_MS, &err), CAIRN_OK);
}

/* A mark names what was queued when it was taken: waiting for it is not
 * waiting for what other calls queue after it. */
static void test_a_mark_names_what_came_before(void **state)
{
    coordinator *c = *state;
    cairn_error err;
    char run[CAIRN_ID_TEXT_LEN + 1];
    cairn_run_start_opts ro = {.experiment = "tracker"};
    cairn_tracker *t = open_tracker(c->s.endpoint, 0);
    assert_int_equal(cairn_tracker_wait(t, cairn_tracker_mark(t), 0, &err), CAIRN_OK); /* none */
    assert_int_equal(cairn_tracker_start_run(t, &ro, run, &err), CAIRN_OK);
    assert_int_equal(kill(c->pid, SIGSTOP), 0);
    log_points(t, run, 0, 30);
    uint64_t mark = cairn_tracker_mark(t);
    assert_int_equal(cairn_tracker_wait(t, mark, 100, &err), CAIRN_TIMEOUT);
    log_points(t, run, 30, 60);
    assert_true(cairn_tracker_mark(t) > mark);
    assert_int_equal(kill(c->pid, SIGCONT), 0);
    assert_int_equal(cairn_tracker_wait(t, mark, FLUSH_MS, &err), CAIRN_OK);
    assert_int_equal(cairn_tracker_flush(t, FLUSH_MS, &err), CAIRN_OK);
    cairn_client *client = reader(c);
    for (int k = 0; k < 3; k++)
        check_history(client, run, k, 60, 0, now_ms());
    cairn_client_close(client);
    assert_int_equal(cairn_tracker_close(t, FLUSH_MS, &err), CAIRN_OK);
    assert_int_equal(cairn_tracker_mark(NULL), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_points_arrive_in_order),
        cmocka_unit_test(test_refusal_comes_back_from_flush),
        cmocka_unit_test(test_sweep_refusal_spares_the_other_runs),
        cmocka_unit_test(test_artifact_after_queue),
        cmocka_unit_test(test_artifact_in_steps),
        cmocka_unit_test(test_an_upload_not_reached_in_time_is_cancelled),
        cmocka_unit_test(test_threads_keep_their_order),
        cmocka_unit_test(test_a_mark_names_what_came_before),
    };
    return cmocka_run_group_tests_name("tracker online", tests, coordinator_setup,
                                       coordinator_teardown);
}
