/* What the tracker tests that talk to a socket share: scratch directories,
 * a tracker on an endpoint, and a coordinator of this build started and
 * stopped by the test, with the points logged to it and checked back. Each
 * test_*.c in tests/unit is its own binary and the Makefile links no shared
 * test object, hence a header of static (inline) definitions. */
#ifndef CAIRN_TEST_TRACKER_FIXTURE_H
#define CAIRN_TEST_TRACKER_FIXTURE_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cairn/client.h"

#define FLUSH_MS 30000 /* generous: sanitizer builds are slow */

typedef struct scratch {
    char dir[64];
    char endpoint[128];
} scratch;

static inline void scratch_make(scratch *s)
{
    strcpy(s->dir, "/tmp/cairn-tracker-XXXXXX");
    assert_non_null(mkdtemp(s->dir));
    snprintf(s->endpoint, sizeof s->endpoint, "ipc://%s/c.sock", s->dir);
}

static inline int remove_entry(const char *path, const struct stat *sb, int flag,
                               struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static inline void scratch_remove(scratch *s)
{
    nftw(s->dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static inline cairn_tracker *open_tracker(const char *endpoint, size_t max_queued)
{
    cairn_error err;
    cairn_tracker_opts o = {.endpoint = endpoint, .max_queued = max_queued, .flush_ms = 20};
    cairn_tracker *t = cairn_tracker_open(&o, &err);
    if (!t)
        fail_msg("cairn_tracker_open: %s", err.message);
    return t;
}

typedef struct coordinator {
    scratch s;
    pid_t pid;
    const char *conf; /* a configuration file, or NULL */
} coordinator;

/* The coordinator of this build: $CAIRN_BIN, $CAIRN_BUILD/bin, the bin/ next
 * to this test's own directory (BUILD/tests/test_tracker_*), else build/bin. */
static inline void coordinator_path(char *out, size_t cap)
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

static inline void exec_coordinator(const coordinator *c, const char *path)
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
static inline void wait_until_up(const coordinator *c)
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

static inline void coordinator_start(coordinator *c)
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

static inline void coordinator_stop(coordinator *c)
{
    if (c->pid > 0) {
        kill(c->pid, SIGTERM);
        waitpid(c->pid, NULL, 0);
        c->pid = 0;
    }
}

/* A directory for a coordinator the test starts itself; the teardown stops
 * it even when the test fails halfway. */
static inline int scratch_setup(void **state)
{
    coordinator *c = calloc(1, sizeof *c);
    scratch_make(&c->s);
    *state = c;
    return 0;
}

static inline int coordinator_setup(void **state)
{
    scratch_setup(state);
    coordinator_start(*state);
    return 0;
}

static inline int coordinator_teardown(void **state)
{
    coordinator *c = *state;
    coordinator_stop(c);
    scratch_remove(&c->s);
    free(c);
    return 0;
}

static inline cairn_client *reader(const coordinator *c)
{
    cairn_client *client = cairn_client_open(c->s.endpoint, NULL);
    cairn_client_set_timeout(client, FLUSH_MS);
    return client;
}

static inline int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static const char *const keys[3] = {"loss", "acc", "lr/schedule"};

/* Point i goes to keys[i % 3] with value i / 4 (exact in binary) and step i / 3. */
static inline void log_points(cairn_tracker *t, const char *run, int from, int to)
{
    for (int i = from; i < to; i++)
        assert_int_equal(cairn_tracker_log_metric(t, run, keys[i % 3], i * 0.25, i / 3), CAIRN_OK);
}

/* Every point of keys[k] among points [0, n), exactly once and in order. */
static inline void check_history(cairn_client *client, const char *run, int k, int n,
                                 int64_t t0, int64_t t1)
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

static inline const char *kv_get(const cairn_kv *kv, size_t n, const char *key)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(kv[i].key, key) == 0)
            return kv[i].value;
    return NULL;
}

#endif
