/*
 * cairn-fleet: many simulated agents in one process, against a real
 * coordinator, for fan-out tests and benchmarks.
 *
 *   cairn-fleet ENDPOINT COUNT [--labels K=V,...] [--host-prefix PREFIX]
 *               [--threads N] [--io-threads N] [--stop-after SECONDS]
 *               [--impostor 1] [--refuse COMMAND]
 *
 * Each agent is a DEALER whose routing id is "agent:<ULID>", as cairn-agent's
 * is. It sends agent.hello (host PREFIX + a 5-digit index, default "fleet-";
 * the labels given), then agent.heartbeat at the interval the coordinator's
 * hello reply names, and answers the commands a real agent answers with
 * bodies of their documented shapes (docs/protocol.md, "Commands"):
 *   ping      an empty ok reply
 *   plugins   two plugins: fleet-tracker (running, counters: events = the
 *             agent's index), fleet-deployer (restarting, 2 restarts, an error)
 *   deploy    {model, version, sha256, path, message}; args model, version
 *             and sha256 required; a deployer other than fleet-deployer is
 *             RESOURCE_DOES_NOT_EXIST
 *   rollback  {model, version: "previous", message}; args model required
 *   echo      {host, args}: the args as they came
 * and any other command with UNKNOWN_TYPE; --refuse COMMAND answers that
 * command with INVALID_STATE instead. When every agent's hello is acknowledged it
 * prints "ready COUNT" on stdout. It runs until SIGTERM or SIGINT (exit 0) or
 * --stop-after seconds. A refused hello ends it with exit 1. --impostor 1
 * makes each agent speak for an id other than its routing id's, as a hostile
 * peer would.
 *
 * Sockets: each agent costs two descriptors (its TCP connection and its
 * socket's mailbox), so 5,000 agents fit the open-file limit of 20,000. The
 * agents are split between threads, each waiting on its slice with epoll over
 * the sockets' ZMQ_FD: zmq_poll would walk every socket of the slice on every
 * wake, which for thousands of agents costs more than the coordinator's work
 * being measured.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#include "msg.h"
#include "body.h"

#define HELLO_RETRY_MS 1000
#define MAX_LABELS 32

typedef struct fleet_opts {
    const char *endpoint;
    int count;
    int threads;
    int io_threads;
    const char *host_prefix;
    char *labels[MAX_LABELS][2];
    int n_labels;
    int stop_after_s;
    bool impostor;
    const char *refuse; /* a command answered with an error */
} fleet_opts;

typedef struct sim_agent {
    void *sock;
    ulid id;
    int index;
    char routing[33];
    char host[128];
    bool hello_acked;
    int heartbeat_ms;
    int64_t next_send_ms;
} sim_agent;

typedef struct slice {
    const fleet_opts *o;
    void *zmq;
    int first, n;
    sim_agent *agents;
    int epoll_fd;
    int64_t next_due;  /* the earliest next_send_ms of the slice */
    msg_decoder dec;
    msg_writer w;
} slice;

static atomic_int stopping;
static atomic_int acked;
static atomic_int failed;

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- one agent ---- */

static void schedule(slice *s, sim_agent *a, int64_t at)
{
    a->next_send_ms = at;
    if (at < s->next_due)
        s->next_due = at;
}

static void send_hello(slice *s, sim_agent *a)
{
    ulid id = ulid_new();
    msg_writer *w = &s->w;
    msg_writer_reset(w);
    msg_start_request(w, &id, "agent.hello", a->routing, 6);
    mp_str(&w->pk, "agent");
    ulid other = ulid_new();
    mp_ulid(&w->pk, s->o->impostor ? &other : &a->id);
    mp_str(&w->pk, "host");
    mp_str(&w->pk, a->host);
    mp_str(&w->pk, "labels");
    msgpack_pack_map(&w->pk, (uint32_t)s->o->n_labels);
    for (int i = 0; i < s->o->n_labels; i++) {
        mp_str(&w->pk, s->o->labels[i][0]);
        mp_str(&w->pk, s->o->labels[i][1]);
    }
    mp_str(&w->pk, "version");
    mp_str(&w->pk, "cairn-fleet " CAIRN_VERSION);
    mp_str(&w->pk, "plugins");
    msgpack_pack_array(&w->pk, 0);
    mp_str(&w->pk, "spool_depth");
    msgpack_pack_uint32(&w->pk, 0);
    zmq_send(a->sock, w->sb.data, w->sb.size, ZMQ_DONTWAIT);
    schedule(s, a, mono_ms() + HELLO_RETRY_MS);
}

static void send_heartbeat(slice *s, sim_agent *a)
{
    ulid id = ulid_new();
    msg_writer *w = &s->w;
    msg_writer_reset(w);
    msg_start_request(w, &id, "agent.heartbeat", a->routing, 2);
    mp_str(&w->pk, "agent");
    mp_ulid(&w->pk, &a->id);
    mp_str(&w->pk, "spool_depth");
    msgpack_pack_uint32(&w->pk, 0);
    zmq_send(a->sock, w->sb.data, w->sb.size, ZMQ_DONTWAIT);
    schedule(s, a, mono_ms() + a->heartbeat_ms);
}

/* ---- commands ---- */

typedef struct command_ctx {
    msg_writer *w;
    const msg *m;
    const sim_agent *a;
    const msgpack_object *args; /* a map */
    char why[160];              /* set when the command is refused */
    cairn_status refusal;
} command_ctx;

static bool arg(command_ctx *c, const char *key, msg_str *out)
{
    *out = (msg_str){"", 0};
    return body_str(c->args, key, true, out, NULL) == CAIRN_OK && out->n > 0;
}

static void kv(msgpack_packer *pk, const char *key, const char *value)
{
    mp_str(pk, key);
    mp_str(pk, value);
}

static void answer_ping(command_ctx *c)
{
    msg_start_reply(c->w, &c->m->id, c->m->type, c->a->routing, 0);
}

static void pack_plugin(msgpack_packer *pk, const char *name, const char *kind, const char *state,
                        int restarts, const char *error, int64_t events)
{
    msgpack_pack_map(pk, error ? 8 : 7);
    kv(pk, "name", name);
    kv(pk, "kind", kind);
    kv(pk, "version", CAIRN_VERSION);
    kv(pk, "state", state);
    mp_str(pk, "isolated");
    mp_bool(pk, restarts > 0);
    mp_str(pk, "restarts");
    msgpack_pack_int(pk, restarts);
    if (error)
        kv(pk, "error", error);
    mp_str(pk, "counters");
    msgpack_pack_map(pk, 2);
    mp_str(pk, "events");
    msgpack_pack_int64(pk, events);
    mp_str(pk, "errors");
    msgpack_pack_int(pk, restarts);
}

static void answer_plugins(command_ctx *c)
{
    msgpack_packer *pk = &c->w->pk;
    msg_start_reply(c->w, &c->m->id, c->m->type, c->a->routing, 1);
    mp_str(pk, "plugins");
    msgpack_pack_array(pk, 2);
    pack_plugin(pk, "fleet-tracker", "tracker", "running", 0, NULL, c->a->index);
    pack_plugin(pk, "fleet-deployer", "deployer", "restarting", 2, "exited with status 1", 0);
}

static bool check_deployer(command_ctx *c)
{
    msg_str d;
    if (!arg(c, "deployer", &d) || msg_str_eq(d, "fleet-deployer"))
        return true;
    c->refusal = CAIRN_RESOURCE_DOES_NOT_EXIST;
    snprintf(c->why, sizeof c->why, "no deployer '%.*s' on this agent", (int)(d.n > 64 ? 64 : d.n), d.p);
    return false;
}

static void answer_deploy(command_ctx *c)
{
    msg_str model, version, sha;
    char path[400], message[200];
    if (!arg(c, "model", &model) || !arg(c, "version", &version) || !arg(c, "sha256", &sha)) {
        c->refusal = CAIRN_INVALID_PARAMETER_VALUE;
        snprintf(c->why, sizeof c->why, "deploy needs args model, version and sha256");
        return;
    }
    if (!check_deployer(c))
        return;
    snprintf(path, sizeof path, "/srv/models/%.*s/%.*s", (int)model.n, model.p, (int)version.n,
             version.p);
    snprintf(message, sizeof message, "deployed on %s", c->a->host);
    msgpack_packer *pk = &c->w->pk;
    msg_start_reply(c->w, &c->m->id, c->m->type, c->a->routing, 5);
    mp_str(pk, "model"), mp_msgstr(pk, model);
    mp_str(pk, "version"), mp_msgstr(pk, version);
    mp_str(pk, "sha256"), mp_msgstr(pk, sha);
    kv(pk, "path", path);
    kv(pk, "message", message);
}

static void answer_rollback(command_ctx *c)
{
    msg_str model;
    char message[200];
    if (!arg(c, "model", &model)) {
        c->refusal = CAIRN_INVALID_PARAMETER_VALUE;
        snprintf(c->why, sizeof c->why, "rollback needs arg model");
        return;
    }
    if (!check_deployer(c))
        return;
    snprintf(message, sizeof message, "rolled back on %s", c->a->host);
    msgpack_packer *pk = &c->w->pk;
    msg_start_reply(c->w, &c->m->id, c->m->type, c->a->routing, 3);
    mp_str(pk, "model"), mp_msgstr(pk, model);
    kv(pk, "version", "previous");
    kv(pk, "message", message);
}

static void answer_echo(command_ctx *c)
{
    msgpack_packer *pk = &c->w->pk;
    msg_start_reply(c->w, &c->m->id, c->m->type, c->a->routing, 2);
    kv(pk, "host", c->a->host);
    mp_str(pk, "args");
    msgpack_pack_object(pk, *c->args);
}

static const struct {
    const char *name;
    void (*answer)(command_ctx *c);
} commands[] = {
    {"ping", answer_ping},         {"plugins", answer_plugins}, {"deploy", answer_deploy},
    {"rollback", answer_rollback}, {"echo", answer_echo},
};

static void answer_command(slice *s, sim_agent *a, const msg *m)
{
    static const msgpack_object no_args = {.type = MSGPACK_OBJECT_MAP};
    msg_str command = {"", 0};
    command_ctx c = {.w = &s->w, .m = m, .a = a, .args = &no_args};
    body_str(m->body, "command", false, &command, NULL);
    body_map(m->body, "args", false, &c.args, NULL);
    msg_writer_reset(c.w);
    int n = (int)(command.n > 64 ? 64 : command.n);
    size_t i = 0;
    while (i < sizeof commands / sizeof commands[0] && !msg_str_eq(command, commands[i].name))
        i++;
    if (s->o->refuse && msg_str_eq(command, s->o->refuse)) {
        c.refusal = CAIRN_INVALID_STATE;
        snprintf(c.why, sizeof c.why, "'%.*s' refused (--refuse)", n, command.p);
    } else if (i == sizeof commands / sizeof commands[0]) {
        c.refusal = CAIRN_UNKNOWN_TYPE;
        snprintf(c.why, sizeof c.why, "unknown command '%.*s'", n, command.p);
    } else {
        commands[i].answer(&c);
    }
    if (c.why[0])
        msg_error_reply(c.w, &m->id, m->type, a->routing, c.refusal, c.why);
    zmq_send(a->sock, c.w->sb.data, c.w->sb.size, ZMQ_DONTWAIT);
}

/* The coordinator's reply to our hello or heartbeat. */
static void take_reply(slice *s, sim_agent *a, const msg *m)
{
    if (msg_str_eq(m->type, "agent.hello") && m->kind == MSG_REPLY_OK) {
        int64_t hb = 5000;
        body_int(m->body, "heartbeat_ms", false, &hb, NULL);
        a->heartbeat_ms = hb > 0 ? (int)hb : 5000;
        schedule(s, a, mono_ms() + a->heartbeat_ms);
        if (!a->hello_acked)
            atomic_fetch_add(&acked, 1);
        a->hello_acked = true;
    } else if (m->kind == MSG_REPLY_ERROR && m->err_status == CAIRN_RESOURCE_DOES_NOT_EXIST) {
        send_hello(s, a); /* the coordinator forgot us: introduce ourselves again */
    } else if (m->kind == MSG_REPLY_ERROR && msg_str_eq(m->type, "agent.hello")) {
        fprintf(stderr, "cairn-fleet: hello refused: %.*s\n", (int)m->err_message.n,
                m->err_message.p);
        atomic_store(&failed, 1);
    }
}

/* ZMQ_FD only signals a change: after it fires, and after every send (which
 * may consume the signal of a message that arrived meanwhile), a socket is
 * read until it has nothing more. */
static void drain(slice *s, sim_agent *a)
{
    zmq_msg_t frame; /* any size: a command's args may be large */
    zmq_msg_init(&frame);
    while (zmq_msg_recv(&frame, a->sock, ZMQ_DONTWAIT) >= 0) {
        msg m;
        if (msg_decode(&s->dec, zmq_msg_data(&frame), zmq_msg_size(&frame), &m, NULL) != CAIRN_OK)
            continue;
        if (m.kind == MSG_REQUEST && msg_str_eq(m.type, "command"))
            answer_command(s, a, &m);
        else if (m.kind != MSG_REQUEST)
            take_reply(s, a, &m);
    }
    zmq_msg_close(&frame);
}

/* ---- a thread's slice of agents ---- */

static int open_agent(slice *s, sim_agent *a, int index)
{
    int zero = 0, fd;
    size_t len = sizeof fd;
    a->id = ulid_new();
    a->index = index;
    memcpy(a->routing, "agent:", 6);
    ulid_format(&a->id, a->routing + 6);
    snprintf(a->host, sizeof a->host, "%s%05d", s->o->host_prefix, index);
    a->sock = zmq_socket(s->zmq, ZMQ_DEALER);
    if (!a->sock)
        return -1;
    zmq_setsockopt(a->sock, ZMQ_ROUTING_ID, a->routing, 32);
    zmq_setsockopt(a->sock, ZMQ_LINGER, &zero, sizeof zero);
    if (zmq_connect(a->sock, s->o->endpoint) != 0 || zmq_getsockopt(a->sock, ZMQ_FD, &fd, &len) != 0)
        return -1;
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = a};
    return epoll_ctl(s->epoll_fd, EPOLL_CTL_ADD, fd, &ev);
}

/* Sends what is due and sets when the next send is. */
static void send_due(slice *s)
{
    int64_t now = mono_ms(), next = now + 1000;
    s->next_due = INT64_MAX; /* the sends below schedule their agents again */
    for (int i = 0; i < s->n; i++) {
        sim_agent *a = &s->agents[i];
        if (now >= a->next_send_ms) {
            if (a->hello_acked)
                send_heartbeat(s, a);
            else
                send_hello(s, a);
            drain(s, a);
        }
        if (a->next_send_ms < next)
            next = a->next_send_ms;
    }
    if (next < s->next_due)
        s->next_due = next;
}

static void *run_slice(void *arg)
{
    slice *s = arg;
    struct epoll_event ready[256];
    s->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
    for (int i = 0; i < s->n; i++) {
        if (s->epoll_fd < 0 || open_agent(s, &s->agents[i], s->first + i) != 0) {
            fprintf(stderr, "cairn-fleet: agent %d: %s\n", s->first + i, strerror(errno));
            atomic_store(&failed, 1);
            break;
        }
    }
    s->next_due = 0;
    while (!atomic_load(&stopping) && !atomic_load(&failed)) {
        if (mono_ms() >= s->next_due)
            send_due(s);
        int64_t wait = s->next_due - mono_ms();
        int n = epoll_wait(s->epoll_fd, ready, 256, wait < 0 ? 0 : wait < 100 ? (int)wait : 100);
        for (int i = 0; i < n; i++)
            drain(s, ready[i].data.ptr);
    }
    for (int i = 0; i < s->n; i++)
        if (s->agents[i].sock)
            zmq_close(s->agents[i].sock);
    if (s->epoll_fd >= 0)
        close(s->epoll_fd);
    return NULL;
}

/* ---- the process ---- */

static int usage(void)
{
    fprintf(stderr, "usage: cairn-fleet ENDPOINT COUNT [--labels K=V,...] [--host-prefix PREFIX]\n"
                    "                   [--threads N] [--io-threads N] [--stop-after SECONDS]\n"
                    "                   [--impostor 1] [--refuse COMMAND]\n");
    return 2;
}

static int parse_labels(fleet_opts *o, char *text)
{
    for (char *save = NULL, *kv = strtok_r(text, ",", &save); kv; kv = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(kv, '=');
        if (!eq || eq == kv || o->n_labels == MAX_LABELS)
            return -1;
        *eq = '\0';
        o->labels[o->n_labels][0] = kv;
        o->labels[o->n_labels++][1] = eq + 1;
    }
    return 0;
}

static int parse_args(int argc, char **argv, fleet_opts *o)
{
    if (argc < 3)
        return -1;
    *o = (fleet_opts){.endpoint = argv[1], .count = atoi(argv[2]), .host_prefix = "fleet-"};
    for (int i = 3; i < argc; i++) {
        const char *opt = argv[i];
        if (i + 1 >= argc)
            return -1;
        char *value = argv[++i];
        if (strcmp(opt, "--labels") == 0 && parse_labels(o, value) == 0)
            continue;
        else if (strcmp(opt, "--host-prefix") == 0)
            o->host_prefix = value;
        else if (strcmp(opt, "--threads") == 0)
            o->threads = atoi(value);
        else if (strcmp(opt, "--io-threads") == 0)
            o->io_threads = atoi(value);
        else if (strcmp(opt, "--stop-after") == 0)
            o->stop_after_s = atoi(value);
        else if (strcmp(opt, "--impostor") == 0)
            o->impostor = atoi(value) != 0;
        else if (strcmp(opt, "--refuse") == 0)
            o->refuse = value;
        else
            return -1;
    }
    if (o->threads <= 0)
        o->threads = o->count < 4 ? (o->count ? o->count : 1) : 4;
    return o->count > 0 ? 0 : -1;
}

/* Waits for a signal or --stop-after, printing "ready" once every hello is
 * acknowledged. */
static void wait_until_stopped(const fleet_opts *o)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    struct timespec tick = {0, 10 * 1000000};
    int64_t end = o->stop_after_s > 0 ? mono_ms() + (int64_t)o->stop_after_s * 1000 : INT64_MAX;
    bool ready = false;
    while (!atomic_load(&failed) && mono_ms() < end) {
        if (sigtimedwait(&set, NULL, &tick) > 0)
            break;
        if (!ready && atomic_load(&acked) == o->count) {
            printf("ready %d\n", o->count);
            fflush(stdout);
            ready = true;
        }
    }
    atomic_store(&stopping, 1);
}

int main(int argc, char **argv)
{
    fleet_opts o;
    if (parse_args(argc, argv, &o) != 0)
        return usage();
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, NULL); /* inherited by every thread */
    void *zmq = zmq_ctx_new();
    zmq_ctx_set(zmq, ZMQ_MAX_SOCKETS, o.count + 64);
    zmq_ctx_set(zmq, ZMQ_IO_THREADS, o.io_threads > 0 ? o.io_threads : 1);
    slice *slices = calloc((size_t)o.threads, sizeof *slices);
    pthread_t *tids = calloc((size_t)o.threads, sizeof *tids);
    sim_agent *agents = calloc((size_t)o.count, sizeof *agents);
    if (!slices || !tids || !agents)
        return fputs("cairn-fleet: out of memory\n", stderr), 1;
    for (int t = 0, first = 0; t < o.threads; t++) {
        int n = o.count / o.threads + (t < o.count % o.threads);
        slices[t] = (slice){.o = &o, .zmq = zmq, .first = first, .n = n, .agents = agents + first,
                            .epoll_fd = -1};
        msg_decoder_init(&slices[t].dec, 0);
        msg_writer_init(&slices[t].w);
        pthread_create(&tids[t], NULL, run_slice, &slices[t]);
        first += n;
    }
    wait_until_stopped(&o);
    for (int t = 0; t < o.threads; t++) {
        pthread_join(tids[t], NULL);
        msg_decoder_destroy(&slices[t].dec);
        msg_writer_destroy(&slices[t].w);
    }
    zmq_ctx_term(zmq);
    free(slices), free(tids), free(agents);
    return atomic_load(&failed) ? 1 : 0;
}
