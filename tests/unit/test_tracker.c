/*
 * cairn_tracker: the queue's mechanics (coalescing, order, limits, keys,
 * splitting into requests) without a server, then the whole path against a
 * real coordinator started from the test (the binary of this same build):
 * every point arrives exactly once and in order, refusals come back from
 * flush, and an outage costs a delay, not data.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "body.h"
#include "cairn/client.h"
#include "msg.h"
#include "tracker_encode.h"
#include "tracker_queue.h"

#define FLUSH_MS 30000 /* generous: sanitizer builds are slow */

static ulid run_a(void)
{
    ulid u;
    assert_true(ulid_parse("01HZY3ZQ5W8X9V6T4R2P0N1M3K", &u));
    return u;
}

static ulid run_b(void)
{
    ulid u;
    assert_true(ulid_parse("01HZY3ZQ5W8X9V6T4R2P0N1M3M", &u));
    return u;
}

static void push(tk_queue *q, const ulid *run, const char *key, double value, int64_t step)
{
    tk_point p = {.value = value, .step = step, .timestamp = 1000 + step};
    p.key = tkq_intern(q, key, strlen(key), tk_key_hash(key, strlen(key)));
    assert_non_null(p.key);
    assert_int_equal(tkq_room(q, 1), CAIRN_OK);
    assert_int_equal(tkq_push_point(q, run, &p), CAIRN_OK);
}

static void release_all(tk_queue *q, tk_op *op)
{
    while (op) {
        tk_op *next = op->next;
        tkq_release(q, op);
        op = next;
    }
}

/* ======== the queue, no server ======== */

static void test_coalescing_and_order(void **state)
{
    (void)state;
    tk_queue q;
    ulid a = run_a(), b = run_b();
    cairn_kv param = {"lr", "0.1"};
    tkq_init(&q, 100);
    push(&q, &a, "loss", 1, 0);
    push(&q, &a, "acc", 2, 0);
    push(&q, &a, "loss", 3, 1);
    assert_int_equal(tkq_push_op(&q, tk_op_kv(TK_PARAMS, &a, &param, 1)), CAIRN_OK);
    push(&q, &a, "loss", 4, 2);
    push(&q, &b, "loss", 5, 0);
    assert_int_equal(q.items, 6);
    assert_int_equal(tkq_last_seq(&q), 4);

    tk_op *ops = tkq_take(&q);
    const tk_kind kinds[] = {TK_METRICS, TK_PARAMS, TK_METRICS, TK_METRICS};
    const size_t items[] = {3, 1, 1, 1};
    size_t i = 0;
    for (tk_op *op = ops; op; op = op->next, i++) {
        assert_true(i < 4);
        assert_int_equal(op->kind, kinds[i]);
        assert_int_equal(op->items, items[i]);
        assert_int_equal(op->seq, i + 1);
    }
    assert_int_equal(i, 4);
    assert_memory_equal(ops->next->next->next->run.b, b.b, ULID_BYTES);
    /* The three points of the first operation, in call order. */
    const tk_chunk *c = ops->u.metrics.first;
    assert_int_equal(c->n, 3);
    assert_string_equal(c->p[0].key->s, "loss");
    assert_string_equal(c->p[1].key->s, "acc");
    assert_true(c->p[2].value == 3 && c->p[2].step == 1);

    /* Taken operations are closed: the next point starts a new one. */
    assert_int_equal(q.waiting_items, 0);
    push(&q, &b, "loss", 6, 1);
    assert_non_null(q.head);
    assert_int_equal(q.head->seq, 5);
    assert_int_equal(q.items, 7);
    release_all(&q, ops);
    tkq_destroy(&q);
}

static void test_chunks_keep_order(void **state)
{
    (void)state;
    tk_queue q;
    ulid a = run_a();
    tkq_init(&q, 10000);
    for (int i = 0; i < 3000; i++)
        push(&q, &a, i % 2 ? "odd" : "even", i, i);
    tk_op *op = tkq_take(&q);
    assert_null(op->next);
    assert_int_equal(op->items, 3000);
    int i = 0;
    for (const tk_chunk *c = op->u.metrics.first; c; c = c->next)
        for (size_t j = 0; j < c->n; j++, i++)
            assert_true(c->p[j].value == i && c->p[j].step == i);
    assert_int_equal(i, 3000);
    /* Released chunks are reused, not freed and allocated again. */
    tkq_release(&q, op);
    assert_int_equal(q.n_spare, 3);
    push(&q, &a, "loss", 0, 0);
    assert_int_equal(q.n_spare, 2);
    release_all(&q, tkq_take(&q));
    tkq_destroy(&q);
}

static void test_room_and_backpressure(void **state)
{
    (void)state;
    tk_queue q;
    ulid a = run_a();
    cairn_kv param = {"lr", "0.1"};
    tkq_init(&q, 5);
    for (int i = 0; i < 5; i++)
        push(&q, &a, "loss", i, i);
    assert_int_equal(tkq_room(&q, 1), CAIRN_BACKPRESSURE);
    assert_int_equal(tkq_room(&q, 6), CAIRN_LIMIT_EXCEEDED);
    tk_op *op = tk_op_kv(TK_PARAMS, &a, &param, 1);
    assert_int_equal(tkq_push_op(&q, op), CAIRN_BACKPRESSURE);
    assert_int_equal(tkq_last_seq(&q), 1); /* nothing queued */
    tk_op *taken = tkq_take(&q);
    /* Taken but not acknowledged still counts: the sender may have to resend it. */
    assert_int_equal(tkq_room(&q, 1), CAIRN_BACKPRESSURE);
    tkq_acked(&q, 2);
    assert_int_equal(tkq_room(&q, 2), CAIRN_OK);
    assert_int_equal(tkq_room(&q, 3), CAIRN_BACKPRESSURE);
    assert_int_equal(tkq_push_op(&q, op), CAIRN_OK);
    release_all(&q, taken);
    tkq_destroy(&q);
}

static void test_key_interning(void **state)
{
    (void)state;
    tk_keys keys = {0};
    char buf[32], long_key[300];
    const tk_key *first[200];
    for (int i = 0; i < 200; i++) { /* enough to grow the table twice */
        snprintf(buf, sizeof buf, "metric/%d", i);
        first[i] = tk_keys_intern(&keys, buf, strlen(buf), tk_key_hash(buf, strlen(buf)));
        assert_non_null(first[i]);
        assert_int_equal(first[i]->status, CAIRN_OK);
    }
    assert_int_equal(keys.count, 200);
    for (int i = 0; i < 200; i++) { /* same text from another buffer: same key */
        snprintf(buf, sizeof buf, "metric/%d", i);
        assert_ptr_equal(tk_keys_intern(&keys, buf, strlen(buf), tk_key_hash(buf, strlen(buf))),
                         first[i]);
        assert_string_equal(first[i]->s, buf);
    }
    assert_int_equal(keys.count, 200);
    const tk_key *bad = tk_keys_intern(&keys, "a\tb", 3, tk_key_hash("a\tb", 3));
    assert_int_equal(bad->status, CAIRN_INVALID_PARAMETER_VALUE);
    assert_int_equal(tk_keys_intern(&keys, "", 0, tk_key_hash("", 0))->status,
                     CAIRN_INVALID_PARAMETER_VALUE);
    memset(long_key, 'k', sizeof long_key);
    assert_int_equal(tk_keys_intern(&keys, long_key, 251, tk_key_hash(long_key, 251))->status,
                     CAIRN_LIMIT_EXCEEDED);
    assert_int_equal(tk_keys_intern(&keys, long_key, 250, tk_key_hash(long_key, 250))->status,
                     CAIRN_OK);
    tk_keys_free(&keys);
}

/* Decodes an encoded run.log and returns its metrics array. */
static const msgpack_object *decoded_metrics(msg_decoder *d, const msg_writer *w, msg *m)
{
    const msgpack_object *metrics = NULL;
    assert_int_equal(msg_decode(d, w->sb.data, w->sb.size, m, NULL), CAIRN_OK);
    assert_true(msg_str_eq(m->type, "run.log"));
    assert_int_equal(body_array(m->body, "metrics", true, &metrics, NULL), CAIRN_OK);
    return metrics;
}

static void test_split_into_requests(void **state)
{
    (void)state;
    tk_queue q;
    ulid a = run_a(), ids[4];
    msg_writer w;
    msg_decoder d;
    msg m;
    tkq_init(&q, 200000);
    for (int i = 0; i < 120001; i++)
        push(&q, &a, "loss", i, i);
    tk_op *op = tkq_take(&q);
    tk_cursor cur = tk_cursor_start(op);
    msg_writer_init(&w);
    msg_decoder_init(&d, 0);
    const size_t expect[] = {TK_MSG_POINTS, TK_MSG_POINTS, 20001};
    int64_t next = 0;
    for (int r = 0; r < 3; r++) {
        assert_non_null(cur.chunk);
        size_t n = tk_encode_metrics(&w, &ids[r], "test", &a, &cur, TK_MSG_POINTS);
        assert_int_equal(n, expect[r]);
        const msgpack_object *metrics = decoded_metrics(&d, &w, &m);
        assert_memory_equal(m.id.b, ids[r].b, ULID_BYTES);
        assert_int_equal(metrics->via.array.size, expect[r]);
        for (uint32_t i = 0; i < metrics->via.array.size; i++, next++) {
            const msgpack_object *p = metrics->via.array.ptr[i].via.array.ptr;
            assert_true(p[1].via.f64 == (double)next);
            assert_int_equal(p[2].via.i64, next);
        }
    }
    assert_null(cur.chunk);
    assert_int_equal(next, 120001);
    assert_memory_not_equal(ids[0].b, ids[1].b, ULID_BYTES);
    release_all(&q, op);

    /* Long keys: the byte budget, not the point count, ends a request. */
    char key[251];
    memset(key, 'k', 250);
    key[250] = '\0';
    for (int i = 0; i < 20000; i++)
        push(&q, &a, key, i, i);
    op = tkq_take(&q);
    cur = tk_cursor_start(op);
    size_t n = tk_encode_metrics(&w, &ids[3], "test", &a, &cur, TK_MSG_POINTS);
    assert_true(n < 20000 && n > 1000);
    assert_true(w.sb.size < TK_MSG_BYTES + 4096);
    release_all(&q, op);
    msg_decoder_destroy(&d);
    msg_writer_destroy(&w);
    tkq_destroy(&q);
}

/* ======== the public API with nothing listening ======== */

typedef struct scratch {
    char dir[64];
    char endpoint[128];
} scratch;

static void scratch_make(scratch *s)
{
    strcpy(s->dir, "/tmp/cairn-tracker-XXXXXX");
    assert_non_null(mkdtemp(s->dir));
    snprintf(s->endpoint, sizeof s->endpoint, "ipc://%s/c.sock", s->dir);
}

static int remove_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static void scratch_remove(scratch *s)
{
    nftw(s->dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static cairn_tracker *open_tracker(const char *endpoint, size_t max_queued)
{
    cairn_error err;
    cairn_tracker_opts o = {.endpoint = endpoint, .max_queued = max_queued, .flush_ms = 20};
    cairn_tracker *t = cairn_tracker_open(&o, &err);
    if (!t)
        fail_msg("cairn_tracker_open: %s", err.message);
    return t;
}

static void test_backpressure_without_server(void **state)
{
    (void)state;
    scratch s;
    cairn_error err;
    char id[CAIRN_ID_TEXT_LEN + 1];
    cairn_kv param = {"lr", "0.1"};
    cairn_metric two[2] = {{"a", 1, 0, 0}, {"b", 2, 0, 0}};
    cairn_run_start_opts ro = {.experiment = "exp"};
    scratch_make(&s);
    cairn_tracker *t = open_tracker(s.endpoint, 10);
    assert_int_equal(cairn_tracker_start_run(t, &ro, id, &err), CAIRN_OK);
    for (int i = 0; i < 8; i++)
        assert_int_equal(cairn_tracker_log_metric(t, id, "loss", i, i), CAIRN_OK);
    assert_int_equal(cairn_tracker_log_metrics(t, id, two, 2), CAIRN_BACKPRESSURE);
    assert_int_equal(cairn_tracker_log_metric(t, id, "loss", 8, 8), CAIRN_OK);
    assert_int_equal(cairn_tracker_log_metric(t, id, "loss", 9, 9), CAIRN_BACKPRESSURE);
    assert_int_equal(cairn_tracker_log_params(t, id, &param, 1), CAIRN_BACKPRESSURE);
    assert_int_equal(cairn_tracker_end_run(t, id, "FINISHED", 0, &err), CAIRN_BACKPRESSURE);
    cairn_metric many[11];
    for (int i = 0; i < 11; i++)
        many[i] = (cairn_metric){"x", i, i, 0};
    assert_int_equal(cairn_tracker_log_metrics(t, id, many, 11), CAIRN_LIMIT_EXCEEDED);
    assert_int_equal(cairn_tracker_flush(t, 100, &err), CAIRN_TIMEOUT);
    assert_int_equal(cairn_tracker_close(t, 50, &err), CAIRN_TIMEOUT);
    scratch_remove(&s);
}

static void test_arguments_checked(void **state)
{
    (void)state;
    scratch s;
    cairn_error err;
    scratch_make(&s);
    cairn_tracker *t = open_tracker(s.endpoint, 0);
    const char *run = "01HZY3ZQ5W8X9V6T4R2P0N1M3K";
    assert_int_equal(cairn_tracker_log_metric(t, NULL, "k", 1, 1), CAIRN_INVALID_PARAMETER_VALUE);
    assert_int_equal(cairn_tracker_log_metric(t, "not-a-run", "k", 1, 1),
                     CAIRN_INVALID_PARAMETER_VALUE);
    assert_int_equal(cairn_tracker_log_metric(t, run, NULL, 1, 1), CAIRN_INVALID_PARAMETER_VALUE);
    assert_int_equal(cairn_tracker_log_metric(NULL, run, "k", 1, 1), CAIRN_INVALID_PARAMETER_VALUE);
    assert_int_equal(cairn_tracker_end_run(t, run, "DONE", 0, &err), CAIRN_INVALID_PARAMETER_VALUE);
    assert_int_equal(cairn_tracker_start_run(t, NULL, NULL, &err), CAIRN_INVALID_PARAMETER_VALUE);
    assert_int_equal(cairn_tracker_log_params(t, run, NULL, 0), CAIRN_OK); /* nothing to queue */
    /* Keys the receiver would refuse are kept as a refusal, not queued. */
    assert_int_equal(cairn_tracker_log_metric(t, run, "bad\tkey", 1, 1), CAIRN_OK);
    assert_int_equal(cairn_tracker_flush(t, 0, &err), CAIRN_INVALID_PARAMETER_VALUE);
    assert_non_null(strstr(err.message, "bad\tkey"));
    assert_int_equal(cairn_tracker_flush(t, 0, &err), CAIRN_OK); /* reported once */
    char long_key[300];
    memset(long_key, 'k', sizeof long_key - 1);
    long_key[sizeof long_key - 1] = '\0';
    assert_int_equal(cairn_tracker_log_metric(t, run, long_key, 1, 1), CAIRN_OK);
    assert_int_equal(cairn_tracker_log_metric(t, run, "", 1, 1), CAIRN_OK);
    assert_int_equal(cairn_tracker_flush(t, 0, &err), CAIRN_LIMIT_EXCEEDED); /* the first one */
    assert_int_equal(cairn_tracker_flush(t, 0, &err), CAIRN_OK);
    assert_int_equal(cairn_tracker_close(t, 0, &err), CAIRN_OK);
    scratch_remove(&s);
}

static void test_endpoint_resolution(void **state)
{
    (void)state;
    cairn_error err;
    unsetenv("CAIRN_AGENT");
    unsetenv("CAIRN_COORDINATOR");
    cairn_tracker *t = cairn_tracker_open(NULL, &err);
    assert_string_equal(cairn_tracker_endpoint(t), CAIRN_DEFAULT_AGENT);
    cairn_tracker_close(t, 0, NULL);
    setenv("CAIRN_COORDINATOR", "tcp://127.0.0.1:1", 1);
    t = cairn_tracker_open(NULL, &err);
    assert_string_equal(cairn_tracker_endpoint(t), "tcp://127.0.0.1:1");
    cairn_tracker_close(t, 0, NULL);
    setenv("CAIRN_AGENT", "tcp://127.0.0.1:2", 1);
    t = cairn_tracker_open(NULL, &err);
    assert_string_equal(cairn_tracker_endpoint(t), "tcp://127.0.0.1:2");
    cairn_tracker_close(t, 0, NULL);
    cairn_tracker_opts o = {.endpoint = "tcp://127.0.0.1:3"};
    t = cairn_tracker_open(&o, &err);
    assert_string_equal(cairn_tracker_endpoint(t), "tcp://127.0.0.1:3");
    cairn_tracker_close(t, 0, NULL);
    unsetenv("CAIRN_AGENT");
    unsetenv("CAIRN_COORDINATOR");
    o.endpoint = "nonsense";
    assert_null(cairn_tracker_open(&o, &err));
    assert_int_equal(err.status, CAIRN_INVALID_PARAMETER_VALUE);
}

/* ======== against a coordinator ======== */

typedef struct coordinator {
    scratch s;
    pid_t pid;
    const char *conf; /* a configuration file, or NULL */
} coordinator;

/* The coordinator of this build: $CAIRN_BIN, $CAIRN_BUILD/bin, the bin/ next
 * to this test's own directory (BUILD/tests/test_tracker), else build/bin. */
static void coordinator_path(char *out, size_t cap)
{
    char exe[PATH_MAX];
    const char *bin = getenv("CAIRN_BIN"), *build = getenv("CAIRN_BUILD");
    ssize_t n;
    if (bin && *bin) {
        snprintf(out, cap, "%s/cairn-coordinator", bin);
    } else if (build && *build) {
        snprintf(out, cap, "%s/bin/cairn-coordinator", build);
    } else if ((n = readlink("/proc/self/exe", exe, sizeof exe - 1)) > 0) {
        exe[n] = '\0';
        *strrchr(exe, '/') = '\0'; /* BUILD/tests */
        char *up = strrchr(exe, '/');
        if (up)
            *up = '\0';
        snprintf(out, cap, "%s/bin/cairn-coordinator", up ? exe : ".");
    } else {
        snprintf(out, cap, "build/bin/cairn-coordinator");
    }
}

static void exec_coordinator(const coordinator *c, const char *path)
{
    char data[128], log[128];
    snprintf(data, sizeof data, "%s/data", c->s.dir);
    snprintf(log, sizeof log, "%s/coordinator.log", c->s.dir);
    /* Not the test's own stdout: a pipe reading it would wait for the child too. */
    int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fd >= 0) {
        dup2(fd, STDOUT_FILENO);
        dup2(fd, STDERR_FILENO);
    }
    if (c->conf)
        execl(path, path, "-c", c->conf, "--data-dir", data, "--listen", c->s.endpoint,
              (char *)NULL);
    else
        execl(path, path, "--data-dir", data, "--listen", c->s.endpoint, (char *)NULL);
    _exit(127);
}

/* Waits until the coordinator answers a ping (it binds, then serves). */
static void wait_until_up(const coordinator *c)
{
    cairn_client *client = cairn_client_open(c->s.endpoint, NULL);
    cairn_client_set_timeout(client, 200);
    cairn_client_set_retry(client, 100);
    for (int i = 0; i < 150; i++) {
        if (cairn_ping(client, NULL, 0, NULL) == CAIRN_OK) {
            cairn_client_close(client);
            return;
        }
        int status;
        if (waitpid(c->pid, &status, WNOHANG) == c->pid)
            break;
    }
    cairn_client_close(client);
    fail_msg("the coordinator at %s did not come up (see %s/coordinator.log)", c->s.endpoint,
             c->s.dir);
}

static void coordinator_start(coordinator *c)
{
    char path[PATH_MAX + 64];
    coordinator_path(path, sizeof path);
    if (access(path, X_OK) != 0)
        fail_msg("no coordinator binary at %s", path);
    c->pid = fork();
    assert_true(c->pid >= 0);
    if (c->pid == 0)
        exec_coordinator(c, path);
    wait_until_up(c);
}

static void coordinator_stop(coordinator *c)
{
    if (c->pid > 0) {
        kill(c->pid, SIGTERM);
        waitpid(c->pid, NULL, 0);
        c->pid = 0;
    }
}

/* A directory for a coordinator the test starts itself; the teardown stops
 * it even when the test fails halfway. */
static int scratch_setup(void **state)
{
    coordinator *c = calloc(1, sizeof *c);
    scratch_make(&c->s);
    *state = c;
    return 0;
}

static int coordinator_setup(void **state)
{
    scratch_setup(state);
    coordinator_start(*state);
    return 0;
}

static int coordinator_teardown(void **state)
{
    coordinator *c = *state;
    coordinator_stop(c);
    scratch_remove(&c->s);
    free(c);
    return 0;
}

static cairn_client *reader(const coordinator *c)
{
    cairn_client *client = cairn_client_open(c->s.endpoint, NULL);
    cairn_client_set_timeout(client, FLUSH_MS);
    return client;
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static const char *const keys[3] = {"loss", "acc", "lr/schedule"};

/* Point i goes to keys[i % 3] with value i / 4 (exact in binary) and step i / 3. */
static void log_points(cairn_tracker *t, const char *run, int from, int to)
{
    for (int i = from; i < to; i++)
        assert_int_equal(cairn_tracker_log_metric(t, run, keys[i % 3], i * 0.25, i / 3), CAIRN_OK);
}

/* Every point of keys[k] among points [0, n), exactly once and in order. */
static void check_history(cairn_client *client, const char *run, int k, int n, int64_t t0,
                          int64_t t1)
{
    cairn_history *h = NULL;
    cairn_error err;
    int expected = n / 3 + (k < n % 3);
    assert_int_equal(cairn_metric_history(client, run, keys[k], 0, 0, &h, &err), CAIRN_OK);
    assert_int_equal(h->total, (uint64_t)expected);
    assert_int_equal(h->count, (size_t)expected);
    int64_t last_ts = t0;
    for (int j = 0; j < expected; j++) {
        int i = 3 * j + k;
        const cairn_point *p = &h->points[j];
        if (p->value != i * 0.25 || p->step != i / 3)
            fail_msg("%s[%d]: got (%lld, %g), expected (%d, %g)", keys[k], j,
                     (long long)p->step, p->value, i / 3, i * 0.25);
        assert_true(p->timestamp >= last_ts && p->timestamp <= t1);
        last_ts = p->timestamp;
    }
    cairn_history_free(h);
}

static const char *kv_get(const cairn_kv *kv, size_t n, const char *key)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(kv[i].key, key) == 0)
            return kv[i].value;
    return NULL;
}

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

static void test_artifact_after_queue(void **state)
{
    coordinator *c = *state;
    cairn_error err;
    cairn_artifact a;
    char run[CAIRN_ID_TEXT_LEN + 1], file[128];
    cairn_run_start_opts ro = {.experiment = "tracker"};
    snprintf(file, sizeof file, "%s/model.bin", c->s.dir);
    FILE *f = fopen(file, "w");
    assert_non_null(f);
    fputs("weights", f);
    fclose(f);
    cairn_tracker *t = open_tracker(c->s.endpoint, 0);
    assert_int_equal(cairn_tracker_start_run(t, &ro, run, &err), CAIRN_OK);
    log_points(t, run, 0, 3);
    if (cairn_tracker_log_artifact(t, run, file, NULL, &a, &err) != CAIRN_OK)
        fail_msg("log_artifact: %s", err.message);
    assert_string_equal(a.path, "model.bin");
    assert_int_equal(a.size, 7);
    cairn_client *client = reader(c);
    cairn_run *r = NULL;
    assert_int_equal(cairn_run_get(client, run, &r, &err), CAIRN_OK);
    assert_int_equal(r->n_metrics, 3); /* queued before the upload: already there */
    assert_int_equal(r->n_artifacts, 1);
    assert_string_equal(r->artifacts[0].sha256, a.sha256);
    cairn_run_free(r);
    cairn_client_close(client);
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

/* A receiver whose message limit is below the tracker's request size refuses
 * them whole with MESSAGE_TOO_LARGE: the tracker sends smaller ones instead
 * of dropping the points. */
static void test_smaller_message_limit(void **state)
{
    coordinator *c = *state;
    cairn_error err;
    char run[CAIRN_ID_TEXT_LEN + 1], conf[128];
    cairn_run_start_opts ro = {.experiment = "small-limit"};
    const int n = 120000; /* 50,000-point requests are about 1.5 MB */
    snprintf(conf, sizeof conf, "%s/coordinator.conf", c->s.dir);
    FILE *f = fopen(conf, "w");
    assert_non_null(f);
    fputs("limits: { max_message_bytes = 1048576; };\n", f);
    fclose(f);
    c->conf = conf;
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

int main(void)
{
    const struct CMUnitTest offline[] = {
        cmocka_unit_test(test_coalescing_and_order),
        cmocka_unit_test(test_chunks_keep_order),
        cmocka_unit_test(test_room_and_backpressure),
        cmocka_unit_test(test_key_interning),
        cmocka_unit_test(test_split_into_requests),
        cmocka_unit_test(test_backpressure_without_server),
        cmocka_unit_test(test_arguments_checked),
        cmocka_unit_test(test_endpoint_resolution),
        cmocka_unit_test_setup_teardown(test_outage_then_recovery, scratch_setup, coordinator_teardown),
        cmocka_unit_test_setup_teardown(test_coordinator_killed_midstream, scratch_setup, coordinator_teardown),
        cmocka_unit_test_setup_teardown(test_smaller_message_limit, scratch_setup, coordinator_teardown),
    };
    const struct CMUnitTest online[] = {
        cmocka_unit_test(test_points_arrive_in_order),
        cmocka_unit_test(test_refusal_comes_back_from_flush),
        cmocka_unit_test(test_artifact_after_queue),
        cmocka_unit_test(test_threads_keep_their_order),
    };
    int failed = cmocka_run_group_tests_name("tracker offline", offline, NULL, NULL);
    failed += cmocka_run_group_tests_name("tracker online", online, coordinator_setup,
                                          coordinator_teardown);
    return failed ? 1 : 0;
}
