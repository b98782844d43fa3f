/*
 * The child's side of an isolated plugin: `cairn-agent --plugin-child 3`.
 * It runs a plugin host with the one plugin the agent names in its `init`
 * frame, and sends the agent what the plugin produces (see plugin_isolate.h
 * and plugin_wire.h). It ends when told to stop or when the agent goes away.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/prctl.h>

#include "body.h"
#include "clock.h"
#include "error.h"
#include "kvlog.h"
#include "plugin_isolate.h"
#include "plugin_wire.h"

#define CHILD_FETCHES 16

typedef struct child_fetch {
    uint64_t id;
    cairn_fetch_fn fn;
    void *arg;
} child_fetch;

typedef struct child {
    wire w;
    plugin_host host;
    bool loaded, stop, gone;
    char dir_buf[PATH_MAX];
    char *dirs[1];
    child_fetch fetches[CHILD_FETCHES];
    uint64_t next_fetch;
    int subs_sent;
    int64_t alive_every_ms, last_alive_ms; /* see say_alive */
    msgpack_object last_ping;             /* the last ping's number (nil: none yet) */
} child;

/* ---- the sink: to the agent ---- */

static int child_spool(void *ctx, const cairn_event *ev)
{
    child *c = ctx;
    event_pack(wire_begin(&c->w, "emit", 1), ev);
    return wire_end(&c->w);
}

static void child_done(void *ctx, const char *id, cairn_status code, const char *message,
                       const cairn_event *fields)
{
    child *c = ctx;
    msgpack_packer *pk = wire_begin(&c->w, "done", 4);
    mp_str(pk, id);
    msgpack_pack_int(pk, (int)code);
    mp_str(pk, message ? message : "");
    if (fields)
        msgpack_pack_object(pk, fields->fields);
    else
        msgpack_pack_nil(pk);
    wire_end(&c->w);
}

static int child_fetch_start(void *ctx, plugin_instance *p, const char *sha256, const char *dest,
                             cairn_fetch_fn fn, void *arg)
{
    child *c = ctx;
    (void)p;
    for (int i = 0; i < CHILD_FETCHES; i++) {
        if (c->fetches[i].fn)
            continue;
        c->fetches[i] = (child_fetch){++c->next_fetch, fn, arg};
        msgpack_packer *pk = wire_begin(&c->w, "fetch", 3);
        msgpack_pack_uint64(pk, c->next_fetch);
        mp_str(pk, sha256);
        mp_str(pk, dest);
        return wire_end(&c->w);
    }
    return -1;
}

/* ---- being alive ---- */

static void send_pong(child *c)
{
    msgpack_packer *pk = wire_begin(&c->w, "pong", 2);
    msgpack_pack_object(pk, c->last_ping);
    plugin_instance *p = c->host.n_plugins ? c->host.plugins[0] : NULL;
    msgpack_pack_map(pk, p ? (size_t)p->n_counters : 0);
    for (int i = 0; p && i < p->n_counters; i++) {
        mp_str(pk, p->counters[i].name);
        msgpack_pack_uint64(pk, p->counters[i].value);
    }
    wire_end(&c->w);
    c->last_alive_ms = clock_mono_ms();
}

/* Called each time a plugin callback has returned. A ping waits behind the
 * frames queued before it, which a slow notifier may take far longer than
 * the watchdog to get through, one slow delivery after another: so the child
 * also says it is alive, at the agent's ping pace, between callbacks. A
 * callback that never returns stays silent, and the watchdog finds it. */
static void say_alive(child *c)
{
    if (clock_mono_ms() - c->last_alive_ms < c->alive_every_ms)
        return;
    send_pong(c);
    wire_flush(&c->w); /* now: the loop may not come back to its poll for long */
}

static void child_delivered(void *ctx, plugin_instance *p, const cairn_event *ev,
                            cairn_plugin_result result)
{
    (void)p;
    (void)ev;
    (void)result;
    say_alive(ctx); /* a retry pass may deliver many in a row */
}

/* ---- what the agent says ---- */

static void send_new_subscriptions(child *c)
{
    if (!c->host.n_plugins)
        return;
    plugin_instance *p = c->host.plugins[0];
    for (; c->subs_sent < p->n_subs; c->subs_sent++) {
        mp_str(wire_begin(&c->w, "subscribe", 1), p->subs[c->subs_sent]);
        wire_end(&c->w);
    }
}

static void send_failed(child *c, const char *why)
{
    mp_str(wire_begin(&c->w, "failed", 1), why);
    wire_end(&c->w);
    c->stop = true;
}

/* After becoming the plugin's user: can it reach its state directory? When
 * not, says which directory on the way stops it, which is what an operator
 * must change (the agent opens only the two directories nearest it). */
static bool state_dir_reachable(const char *dir, char *why, size_t cap)
{
    if (access(dir, R_OK | W_OK | X_OK) == 0)
        return true;
    int first = errno;
    char prefix[PATH_MAX];
    size_t n = strlen(dir);
    for (size_t i = 1; i <= n && i < sizeof prefix; i++) {
        if (dir[i] != '/' && dir[i] != '\0')
            continue;
        memcpy(prefix, dir, i);
        prefix[i] = '\0';
        if (access(prefix, X_OK) != 0) {
            snprintf(why, cap, "state directory %.120s: no search permission on %.120s for uid %u",
                     dir, prefix, (unsigned)getuid());
            return false;
        }
    }
    snprintf(why, cap, "state directory %.200s: %.60s for uid %u", dir, strerror(first),
             (unsigned)getuid());
    return false;
}

/* Opens the plugin as the agent's user, then becomes `uid`: the plugin's
 * code is loaded only after, through the open descriptor, so the plugin's
 * directories need not be searchable by that user. */
static bool open_then_drop(const msgpack_object *o, plugin_spec *spec, char *why, size_t cap)
{
    int64_t uid, gid;
    if (!body_find(o, "uid"))
        return true; /* no user to become */
    if (body_int(o, "uid", true, &uid, NULL) || body_int(o, "gid", true, &gid, NULL)) {
        snprintf(why, cap, "malformed init from the agent");
        return false;
    }
    int fd = open(spec->path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        snprintf(why, cap, "%.200s: %s", spec->path, strerror(errno));
        return false;
    }
    if (setgroups(0, NULL) != 0 || setgid((gid_t)gid) != 0 || setuid((uid_t)uid) != 0 ||
        setuid(0) == 0) {
        snprintf(why, cap, "cannot become uid %lld: %s", (long long)uid, strerror(errno));
        close(fd);
        return false;
    }
    /* The kernel clears the parent-death signal when the uid changes: set it
     * again, or a plugin hung in a callback outlives a killed agent. If the
     * agent died before this line, the signal can no longer come. */
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() == 1) {
        snprintf(why, cap, "the agent is gone");
        close(fd);
        return false;
    }
    if (!state_dir_reachable(spec->state_dir, why, cap)) {
        close(fd);
        return false;
    }
    snprintf(spec->path, sizeof spec->path, "/proc/self/fd/%d", fd);
    spec->vetted = true; /* the agent found and checked it; the fd stays open */
    return true;
}

static void on_init(child *c, const msgpack_object *o)
{
    msg_str path, name, state_dir;
    int64_t attempts = 10;
    const msgpack_object *config = NULL;
    plugin_spec *spec = calloc(1, sizeof *spec);
    if (!spec || body_str(o, "path", true, &path, NULL) || body_str(o, "name", true, &name, NULL) ||
        body_str(o, "state_dir", true, &state_dir, NULL) ||
        body_map(o, "config", true, &config, NULL) || !wire_read_settings(config, &spec->config)) {
        free(spec);
        send_failed(c, "malformed init from the agent");
        return;
    }
    body_int(o, "notify_max_attempts", false, &attempts, NULL);
    body_int(o, "alive_every_ms", false, &c->alive_every_ms, NULL);
    int64_t level = KVLOG_INFO;
    if (body_int(o, "log_level", false, &level, NULL) == CAIRN_OK && level >= KVLOG_DEBUG &&
        level <= KVLOG_ERROR)
        kvlog_set_level((kvlog_level)level);
    msg_str_copy(path, spec->path, sizeof spec->path);
    msg_str_copy(name, spec->name, sizeof spec->name);
    msg_str_copy(state_dir, spec->state_dir, sizeof spec->state_dir);
    char why[320];
    if (!open_then_drop(o, spec, why, sizeof why)) {
        plugin_settings_free(&spec->config);
        free(spec);
        send_failed(c, why);
        return;
    }
    snprintf(c->dir_buf, sizeof c->dir_buf, "%s", spec->path);
    c->dirs[0] = dirname(c->dir_buf);
    plugin_sink sink = {c, child_spool, child_done, child_fetch_start, child_delivered, NULL};
    cairn_error err = {0};
    cairn_status st = plugin_host_init(&c->host, "/nonexistent", c->dirs, 1, (int)attempts, &sink,
                                       &err);
    c->host.in_child = true;
    if (!st)
        st = plugin_host_load(&c->host, spec, &err);
    plugin_settings_free(&spec->config);
    free(spec);
    if (st) {
        send_failed(c, c->host.n_plugins ? c->host.plugins[0]->error : err.message);
        return;
    }
    c->loaded = true;
    plugin_instance *p = c->host.plugins[0];
    msgpack_packer *pk = wire_begin(&c->w, "ready", 1);
    msgpack_pack_map(pk, 3);
    mp_str(pk, "kind");
    msgpack_pack_int(pk, p->kind);
    mp_str(pk, "version");
    mp_str(pk, p->version);
    mp_str(pk, "subscriptions");
    msgpack_pack_array(pk, (size_t)p->n_subs);
    for (int i = 0; i < p->n_subs; i++)
        mp_str(pk, p->subs[i]);
    c->subs_sent = p->n_subs;
    wire_end(&c->w);
}

static void on_command(child *c, const msgpack_object *a, uint32_t n)
{
    msg_str id;
    int64_t deadline = 0;
    cairn_event cmd;
    char id_text[64];
    if (n < 3 || !obj_str(&a[0], &id) || !wire_event_view(&a[1], &cmd) || !obj_int(&a[2], &deadline))
        return;
    msg_str_copy(id, id_text, sizeof id_text);
    cairn_error err = {0};
    if (plugin_host_command(&c->host, id_text, &cmd, deadline, &err))
        child_done(c, id_text, err.status, err.message, NULL);
}

static void on_fetched(child *c, const msgpack_object *a, uint32_t n)
{
    int64_t id, status;
    msg_str error = {"", 0};
    if (n < 3 || !obj_int(&a[0], &id) || !obj_int(&a[1], &status))
        return;
    obj_str(&a[2], &error);
    char text[512];
    msg_str_copy(error, text, sizeof text);
    for (int i = 0; i < CHILD_FETCHES; i++)
        if (c->fetches[i].fn && c->fetches[i].id == (uint64_t)id) {
            child_fetch f = c->fetches[i];
            c->fetches[i].fn = NULL;
            f.fn(f.arg, status ? -1 : 0, status ? text : NULL);
        }
}

static void on_ping(child *c, const msgpack_object *a, uint32_t n)
{
    /* Only numbers are kept: the frame's memory is gone by the next read. */
    if (n >= 1 && (a[0].type == MSGPACK_OBJECT_POSITIVE_INTEGER ||
                   a[0].type == MSGPACK_OBJECT_NEGATIVE_INTEGER))
        c->last_ping = a[0];
    send_pong(c);
}

static void on_frame(child *c, const char *verb, msgpack_object *a, uint32_t n)
{
    if (strcmp(verb, "init") == 0 && n >= 1 && !c->loaded)
        on_init(c, &a[0]);
    else if (strcmp(verb, "ping") == 0)
        on_ping(c, a, n);
    else if (strcmp(verb, "stop") == 0)
        c->stop = true;
    else if (!c->loaded)
        return;
    else if (strcmp(verb, "event") == 0 && n >= 1) {
        cairn_event ev;
        if (wire_event_view(&a[0], &ev))
            plugin_host_route(&c->host, &ev, NULL);
    } else if (strcmp(verb, "command") == 0)
        on_command(c, a, n);
    else if (strcmp(verb, "fetched") == 0)
        on_fetched(c, a, n);
    plugin_host_drain(&c->host);
    send_new_subscriptions(c);
}

/* ---- the loop ---- */

static void turn(child *c)
{
    zmq_pollitem_t items[1 + PLUGIN_MAX_WATCHES];
    if (c->loaded) {
        plugin_host_run_timers(&c->host, clock_mono_ms());
        send_new_subscriptions(c);
        say_alive(c);
    }
    items[0] = (zmq_pollitem_t){NULL, c->w.fd, (short)(ZMQ_POLLIN | (wire_pending(&c->w) ? ZMQ_POLLOUT : 0)), 0};
    int n = c->loaded ? plugin_host_poll_items(&c->host, items + 1, PLUGIN_MAX_WATCHES) : 0;
    int64_t next = c->loaded ? plugin_host_next_deadline(&c->host) : INT64_MAX;
    int64_t wait = next == INT64_MAX ? 1000 : next - clock_mono_ms();
    if (zmq_poll(items, 1 + n, wait < 0 ? 0 : wait > 1000 ? 1000 : (long)wait) < 0 && errno != EINTR)
        c->gone = true;
    if ((items[0].revents & ZMQ_POLLOUT) && wire_flush(&c->w) != 0)
        c->gone = true;
    if ((items[0].revents & (ZMQ_POLLIN | ZMQ_POLLERR)) && wire_read(&c->w) != 0)
        c->gone = true; /* the agent is gone: stop */
    msgpack_object *a;
    uint32_t na;
    char verb[16];
    while (!c->stop && wire_next(&c->w, &a, &na, verb, sizeof verb)) {
        on_frame(c, verb, a, na);
        say_alive(c);
    }
    if (c->loaded && n) {
        plugin_host_dispatch(&c->host, items + 1, n);
        say_alive(c);
    }
}

int plugin_child_main(int fd)
{
    /* A stop of the whole process group (kill -TERM -PGID, or systemd's
     * stop, which signals every process of the service) is the agent's to
     * carry out: it sends "stop" so that flush and fini run, then SIGKILL. */
    signal(SIGTERM, SIG_IGN);
    signal(SIGINT, SIG_IGN);
    signal(SIGHUP, SIG_IGN);
    child *c = calloc(1, sizeof *c);
    if (!c)
        return 1;
    fcntl(fd, F_SETFL, O_NONBLOCK);
    fcntl(fd, F_SETFD, FD_CLOEXEC);
    wire_init(&c->w, fd);
    c->alive_every_ms = 1000;
    c->last_ping.type = MSGPACK_OBJECT_NIL;
    c->last_alive_ms = clock_mono_ms();
    while (!c->stop && !c->gone)
        turn(c);
    if (c->host.queue)
        plugin_host_close(&c->host); /* flush, fini, last events */
    /* Hand over what is left before exiting (bounded: the agent reads it). */
    int64_t deadline = clock_mono_ms() + 1000;
    while (!c->gone && wire_pending(&c->w) && clock_mono_ms() < deadline) {
        if (wire_flush(&c->w) != 0)
            break;
        usleep(1000);
    }
    wire_destroy(&c->w);
    free(c);
    return 0;
}
