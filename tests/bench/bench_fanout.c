/*
 * bench_fanout ENDPOINT DATA_DIR: how long a fanned-out ping takes, from the
 * request leaving the client to the reply holding every agent's result, for
 * fleets of 1,000 and 5,000 simulated agents (cairn-fleet, started from the
 * directory this binary is in, against the coordinator at ENDPOINT).
 * Prints p50, p90 and the worst of 20 fan-outs per size; asserts nothing.
 *
 * Beside each figure, the floor measured in the same run: the same fleet
 * against a plain ROUTER that sends the same commands and counts the replies,
 * no coordinator. The machine is shared and noisy; the difference between the
 * two is what the coordinator costs.
 *
 * For profiling: BENCH_FANOUT_SIZES ("1000 5000") chooses the fleet sizes,
 * BENCH_FLEET_ARGS adds cairn-fleet options (e.g. "--threads 2").
 */
#include <libgen.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#include "bench.h"
#include "cairn/client.h"
#include "fnv1a.h"
#include "msg.h"

#define ROUNDS 20

extern char **environ;

typedef struct fleet {
    pid_t pid;
    FILE *out;
} fleet;

/* Starts cairn-fleet with count agents labelled bench=COUNT; its stdout is
 * f->out. */
static int fleet_spawn(fleet *f, const char *tool, const char *endpoint, int count)
{
    char n[16], labels[32], prefix[32];
    snprintf(n, sizeof n, "%d", count);
    snprintf(labels, sizeof labels, "bench=%d", count);
    snprintf(prefix, sizeof prefix, "bench%d-", count);
    char *argv[16] = {(char *)tool, (char *)endpoint, n, "--labels", labels, "--host-prefix", prefix};
    /* BENCH_FLEET_ARGS: extra cairn-fleet options, to try thread counts. */
    char extra[256] = "";
    snprintf(extra, sizeof extra, "%s", getenv("BENCH_FLEET_ARGS") ? getenv("BENCH_FLEET_ARGS") : "");
    int argc = 7;
    for (char *save = NULL, *w = strtok_r(extra, " ", &save); w && argc < 15; w = strtok_r(NULL, " ", &save))
        argv[argc++] = w;
    int fds[2];
    posix_spawn_file_actions_t fa;
    if (pipe(fds) != 0)
        return -1;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, fds[1], STDOUT_FILENO);
    posix_spawn_file_actions_addclose(&fa, fds[0]);
    int rc = posix_spawn(&f->pid, tool, &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(fds[1]);
    if (rc != 0) {
        fprintf(stderr, "bench: spawn %s: %s\n", tool, strerror(rc));
        return -1;
    }
    f->out = fdopen(fds[0], "r");
    return f->out ? 0 : -1;
}

static bool ready_line(fleet *f)
{
    char line[64];
    while (fgets(line, sizeof line, f->out))
        if (strncmp(line, "ready", 5) == 0)
            return true;
    return false;
}

/* Spawns the fleet and waits for its "ready" line (every hello acknowledged). */
static int fleet_start(fleet *f, const char *tool, const char *endpoint, int count)
{
    if (fleet_spawn(f, tool, endpoint, count) != 0)
        return -1;
    if (ready_line(f))
        return 0;
    fprintf(stderr, "bench: cairn-fleet %d exited before it was ready\n", count);
    return -1;
}

static void fleet_stop(fleet *f)
{
    kill(f->pid, SIGTERM);
    waitpid(f->pid, NULL, 0);
    if (f->out)
        fclose(f->out);
}

/* ---- the floor: a plain ROUTER, no coordinator ---- */

typedef struct raw_router {
    void *zmq, *sock;
    char endpoint[256];
    char (*ids)[32];  /* the agents' routing ids, learned from their hellos */
    int n;
    uint32_t *slots;  /* index + 1 by id: a hello resent before its reply counts once */
    uint32_t n_slots;
    msg_decoder dec;
    msg_writer w;
} raw_router;

/* Adds id unless known; false when it was. */
static bool raw_add(raw_router *r, const void *id)
{
    uint32_t h = fnv1a(FNV1A_START, (const unsigned char *)id + 24, 8);
    for (uint32_t j = h % r->n_slots;; j = (j + 1) % r->n_slots) {
        if (!r->slots[j]) {
            memcpy(r->ids[r->n], id, 32);
            r->slots[j] = (uint32_t)++r->n;
            return true;
        }
        if (memcmp(r->ids[r->slots[j] - 1], id, 32) == 0)
            return false;
    }
}

/* Answers a hello (heartbeats every minute: no traffic during the runs) and
 * remembers who sent it. */
static void raw_take(raw_router *r, int count)
{
    zmq_msg_t rid, body;
    zmq_msg_init(&rid);
    zmq_msg_init(&body);
    msg m;
    if (zmq_msg_recv(&rid, r->sock, ZMQ_DONTWAIT) >= 0 && zmq_msg_recv(&body, r->sock, 0) >= 0 &&
        msg_decode(&r->dec, zmq_msg_data(&body), zmq_msg_size(&body), &m, NULL) == CAIRN_OK &&
        m.kind == MSG_REQUEST && msg_str_eq(m.type, "agent.hello") && zmq_msg_size(&rid) == 32) {
        if (r->n < count)
            raw_add(r, zmq_msg_data(&rid));
        msg_writer_reset(&r->w);
        msg_start_reply(&r->w, &m.id, m.type, "bench", 1);
        mp_str(&r->w.pk, "heartbeat_ms");
        msgpack_pack_uint32(&r->w.pk, 60000);
        zmq_send(r->sock, zmq_msg_data(&rid), 32, ZMQ_SNDMORE);
        zmq_send(r->sock, r->w.sb.data, r->w.sb.size, 0);
    }
    zmq_msg_close(&rid);
    zmq_msg_close(&body);
}

/* Serves hellos until the fleet says it is ready (a minute at most). */
static int raw_wait_ready(raw_router *r, fleet *f, int count)
{
    zmq_pollitem_t items[2] = {{r->sock, 0, ZMQ_POLLIN, 0}, {NULL, fileno(f->out), ZMQ_POLLIN, 0}};
    for (double end = bench_now_ms() + 60000; bench_now_ms() < end;) {
        if (zmq_poll(items, 2, 1000) < 0)
            return -1;
        if (items[0].revents & ZMQ_POLLIN)
            raw_take(r, count);
        if (items[1].revents & ZMQ_POLLIN)
            return ready_line(f) && r->n == count ? 0 : -1;
    }
    return -1;
}

/* Sends a ping command to every agent and waits for every reply. */
static double raw_fanout(raw_router *r)
{
    double t0 = bench_now_ms();
    ulid id = ulid_new();
    msg_writer_reset(&r->w);
    msg_start_request(&r->w, &id, "command", "bench", 3);
    mp_str(&r->w.pk, "command");
    mp_str(&r->w.pk, "ping");
    mp_str(&r->w.pk, "args");
    msgpack_pack_map(&r->w.pk, 0);
    mp_str(&r->w.pk, "deadline");
    msgpack_pack_int64(&r->w.pk, 0);
    for (int i = 0; i < r->n; i++) {
        zmq_send(r->sock, r->ids[i], 32, ZMQ_SNDMORE);
        zmq_send(r->sock, r->w.sb.data, r->w.sb.size, 0);
    }
    for (int got = 0; got < r->n;) {
        zmq_msg_t part;
        zmq_msg_init(&part);
        if (zmq_msg_recv(&part, r->sock, 0) < 0)
            return -1;
        got += !zmq_msg_more(&part);
        zmq_msg_close(&part);
    }
    return bench_now_ms() - t0;
}

static void floor_size(const char *tool, int count, double *p50)
{
    raw_router r = {.zmq = zmq_ctx_new()};
    int one = 1;
    size_t len = sizeof r.endpoint;
    fleet f = {0};
    *p50 = -1;
    r.sock = zmq_socket(r.zmq, ZMQ_ROUTER);
    int timeout = 10000;
    r.ids = calloc((size_t)count, sizeof *r.ids);
    r.n_slots = (uint32_t)count * 2;
    r.slots = calloc(r.n_slots, sizeof *r.slots);
    msg_decoder_init(&r.dec, 0);
    msg_writer_init(&r.w);
    zmq_setsockopt(r.sock, ZMQ_ROUTER_MANDATORY, &one, sizeof one);
    zmq_setsockopt(r.sock, ZMQ_RCVTIMEO, &timeout, sizeof timeout);
    if (zmq_bind(r.sock, "tcp://127.0.0.1:*") == 0 &&
        zmq_getsockopt(r.sock, ZMQ_LAST_ENDPOINT, r.endpoint, &len) == 0 &&
        fleet_spawn(&f, tool, r.endpoint, count) == 0 && raw_wait_ready(&r, &f, count) == 0) {
        double ms[ROUNDS];
        int n = 0;
        raw_fanout(&r); /* warm-up */
        while (n < ROUNDS && (ms[n] = raw_fanout(&r)) >= 0)
            n++;
        qsort(ms, (size_t)n, sizeof *ms, bench_cmp_double);
        *p50 = n ? ms[n / 2] : -1;
    }
    if (f.pid)
        fleet_stop(&f);
    zmq_close(r.sock);
    zmq_ctx_term(r.zmq);
    msg_decoder_destroy(&r.dec);
    msg_writer_destroy(&r.w);
    free(r.ids);
    free(r.slots);
}

/* ---- through the coordinator ---- */

/* One fan-out; returns its time in ms, or a negative number on failure. */
static double one_fanout(cairn_client *c, const char *selector, int count, int *not_ok)
{
    cairn_fanout_opts o = {.selector = selector, .command = "ping", .timeout_ms = 10000};
    cairn_fanout_list *list = NULL;
    cairn_error err;
    double t0 = bench_now_ms();
    cairn_status st = cairn_fanout(c, &o, &list, &err);
    double ms = bench_now_ms() - t0;
    if (st) {
        fprintf(stderr, "bench: fanout: %s\n", err.message);
        return -1;
    }
    *not_ok = count - (int)list->count;
    for (size_t i = 0; i < list->count; i++)
        *not_ok += strcmp(list->items[i].result, "ok") != 0;
    cairn_fanout_list_free(list);
    return ms;
}

static void bench_size(cairn_client *c, const char *tool, const char *endpoint, int count)
{
    fleet f = {0};
    if (fleet_start(&f, tool, endpoint, count) != 0) {
        fleet_stop(&f);
        return;
    }
    char selector[32];
    snprintf(selector, sizeof selector, "bench=%d", count);
    int not_ok = 0, bad = 0, n = 0;
    double ms[ROUNDS];
    one_fanout(c, selector, count, &not_ok); /* warm-up: connections, caches */
    while (n < ROUNDS && (ms[n] = one_fanout(c, selector, count, &not_ok)) >= 0) {
        bad += not_ok;
        n++;
    }
    fleet_stop(&f);
    if (n == 0)
        return;
    qsort(ms, (size_t)n, sizeof *ms, bench_cmp_double);
    double floor;
    floor_size(tool, count, &floor);
    printf("fanout ping to %d agents, %d rounds: p50 %.1f ms, p90 %.1f ms, max %.1f ms "
           "(results not ok: %d); floor (plain ROUTER, same fleet) p50 %.1f ms\n",
           count, n, ms[n / 2], ms[n * 9 / 10], ms[n - 1], bad, floor);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: bench_fanout ENDPOINT [DATA_DIR]\n");
        return 2;
    }
    char self[4096], tool[4200];
    snprintf(self, sizeof self, "%s", argv[0]);
    snprintf(tool, sizeof tool, "%s/cairn-fleet", dirname(self));
    cairn_error err;
    cairn_client *c = cairn_client_open(argv[1], &err);
    if (!c) {
        fprintf(stderr, "bench: %s\n", err.message);
        return 1;
    }
    cairn_client_set_timeout(c, 30000);
    /* BENCH_FANOUT_SIZES: other fleet sizes than "1000 5000", to profile one. */
    char sizes[256];
    snprintf(sizes, sizeof sizes, "%s", getenv("BENCH_FANOUT_SIZES") ? getenv("BENCH_FANOUT_SIZES") : "1000 5000");
    for (char *save = NULL, *w = strtok_r(sizes, " ", &save); w; w = strtok_r(NULL, " ", &save))
        bench_size(c, tool, argv[1], atoi(w));
    cairn_client_close(c);
    return 0;
}
