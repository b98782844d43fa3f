/* The agent's side of an isolated plugin (see plugin_isolate.h). */
#include "plugin_isolate_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "body.h"
#include "clock.h"
#include "error.h"
#include "kvlog.h"
#include "msg.h"
#include "plugin_wire.h"

#define PING_EVERY_MS 1000 /* at most; more often under a short watchdog */
#define START_TIMEOUT_MS 10000
#define STOP_TIMEOUT_MS 2000
#define RESTART_FIRST_MS 1000
#define RESTART_MAX_MS 60000
#define STABLE_AFTER_MS 60000 /* up this long: the next crash starts the backoff over */


static void on_readable(void *arg, int fd, unsigned ready);

/* Four pings fit in the watchdog's time, so that one silent interval is not
 * taken for a hang; the child also says it is alive at this pace while it is
 * busy (plugin_child.c). */
static int64_t ping_every_ms(const plugin_host *h)
{
    int64_t every = h->watchdog_ms / 4;
    return every < 1 ? 1 : every > PING_EVERY_MS ? PING_EVERY_MS : every;
}

/* ---- the child process ---- */

/* After fork, only async-signal-safe calls until exec. */
static void exec_child(const plugin_host *h, int sock)
{
    sigset_t all;
    sigemptyset(&all);
    sigprocmask(SIG_SETMASK, &all, NULL);
    signal(SIGPIPE, SIG_DFL); /* the agent ignores it; exec would keep that */
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (dup2(sock, 3) != 3)
        _exit(127);
    char *argv[] = {(char *)h->self_exe, "--plugin-child", "3", NULL};
    /* The program this agent runs, through the descriptor held since start,
     * even if an upgrade has replaced the file since: a restarted child must
     * speak the agent's protocol. The path is the fallback (a kernel or a
     * valgrind without execveat). */
    if (h->self_fd >= 0 && dup2(h->self_fd, 4) == 4 && fcntl(4, F_SETFD, FD_CLOEXEC) == 0) {
        close_range(5, ~0U, 0);
        fexecve(4, argv, environ);
    }
    close_range(4, ~0U, 0);
    execv(h->self_exe, argv);
    _exit(127);
}

static cairn_status spawn(isolated *iso, cairn_error *err)
{
    plugin_host *h = iso->p->host;
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
        return error_set(err, CAIRN_IO_ERROR, "socketpair: %s", strerror(errno));
    pid_t pid = fork();
    if (pid == 0)
        exec_child(h, sv[1]);
    close(sv[1]);
    if (pid < 0) {
        close(sv[0]);
        return error_set(err, CAIRN_IO_ERROR, "fork: %s", strerror(errno));
    }
    fcntl(sv[0], F_SETFL, O_NONBLOCK);
    wire_init(&iso->w, sv[0]);
    iso->pid = pid;
    iso->ready = false;
    iso->started_at = iso->last_pong = clock_mono_ms();
    msgpack_packer *pk = wire_begin(&iso->w, "init", 1);
    msgpack_pack_map(pk, h->drop_privileges ? 9 : 7);
    if (h->drop_privileges) {
        /* The child opens the plugin as root, then becomes this user before
         * any of the plugin's code is loaded (plugin_child.c). */
        mp_str(pk, "uid");
        msgpack_pack_uint32(pk, (uint32_t)h->child_uid);
        mp_str(pk, "gid");
        msgpack_pack_uint32(pk, (uint32_t)h->child_gid);
    }
    mp_str(pk, "log_level");
    msgpack_pack_int(pk, (int)kvlog_get_level());
    mp_str(pk, "path");
    mp_str(pk, iso->path);
    mp_str(pk, "name");
    mp_str(pk, iso->p->name);
    mp_str(pk, "state_dir");
    mp_str(pk, iso->p->state_dir);
    mp_str(pk, "notify_max_attempts");
    msgpack_pack_int(pk, h->notify_max_attempts);
    mp_str(pk, "alive_every_ms");
    msgpack_pack_int64(pk, ping_every_ms(h));
    mp_str(pk, "config");
    wire_pack_settings(pk, &iso->given);
    wire_end(&iso->w);
    wire_flush(&iso->w); /* a new socket has room for it */
    plugin_watch_fd_internal(iso->p, sv[0], CAIRN_FD_READ, on_readable, iso);
    return CAIRN_OK;
}

static bool pump(isolated *iso, unsigned ready);

/* Hands on the frames held back for want of room in the emit queue,
 * draining it between turns; the last turn's events stay queued. */
static bool take_held(isolated *iso)
{
    bool held = iso->held && iso->pid;
    while (iso->held && iso->pid) {
        plugin_host_drain(iso->p->host);
        pump(iso, 0);
    }
    return held;
}

/* Reaps the child (killing it first when asked) and forgets the link. */
static void reap(isolated *iso, bool kill_it, int *status)
{
    *status = 0;
    if (iso->pid <= 0)
        return;
    take_held(iso); /* at a stop or after a crash, what it sent is kept */
    if (kill_it)
        kill(iso->pid, SIGKILL);
    while (waitpid(iso->pid, status, 0) < 0 && errno == EINTR)
        ;
    plugin_unwatch_fd(iso->p, iso->w.fd);
    wire_destroy(&iso->w);
    iso->pid = 0;
}

/* ---- sending ---- */

static void watch_for_output(isolated *iso)
{
    unsigned ev = CAIRN_FD_READ | (wire_pending(&iso->w) ? CAIRN_FD_WRITE : 0);
    plugin_watch_fd_internal(iso->p, iso->w.fd, ev, on_readable, iso);
}

bool isolate_sent(isolated *iso)
{
    int rc = wire_end(&iso->w);
    watch_for_output(iso);
    return rc == 0;
}

void isolate_event(plugin_instance *p, const cairn_event *ev)
{
    isolated *iso = p->iso;
    if (!iso->ready) {
        p->host->stats.queue_full++;
        return;
    }
    event_pack(wire_begin(&iso->w, "event", 1), ev);
    if (!isolate_sent(iso)) {
        /* The child is far behind: the event is counted, not queued forever. */
        p->host->stats.queue_full++;
        kvlog(KVLOG_WARN, "isolated_event_dropped", "plugin=%s type=%s reason=child_backlog",
              p->name, ev->type);
    }
}

cairn_plugin_result isolate_command(plugin_instance *p, const char *command_id,
                                    const cairn_event *cmd, int64_t deadline_wall_ms)
{
    isolated *iso = p->iso;
    if (!iso->ready)
        return CAIRN_PLUGIN_ERROR;
    msgpack_packer *pk = wire_begin(&iso->w, "command", 3);
    mp_str(pk, command_id);
    event_pack(pk, cmd);
    msgpack_pack_int64(pk, deadline_wall_ms);
    return isolate_sent(iso) ? CAIRN_PLUGIN_OK : CAIRN_PLUGIN_ERROR;
}

/* ---- crashes and restarts ---- */

static void start_again(void *arg);

static void describe_exit(int status, char *why, size_t cap)
{
    if (WIFSIGNALED(status))
        snprintf(why, cap, "killed by signal %d (%s)", WTERMSIG(status), strsignal(WTERMSIG(status)));
    else if (WIFEXITED(status))
        snprintf(why, cap, "exited with status %d", WEXITSTATUS(status));
    else
        snprintf(why, cap, "ended");
}

static void report_crash(plugin_instance *p, const char *reason, int status)
{
    cairn_event *ev = event_create("plugin.crashed", p->name, clock_wall_ms());
    if (!ev)
        return;
    event_set_string(ev, "plugin", p->name);
    event_set_string(ev, "reason", reason);
    event_set_int(ev, "signal", WIFSIGNALED(status) ? WTERMSIG(status) : 0);
    event_set_int(ev, "exit_code", WIFEXITED(status) ? WEXITSTATUS(status) : -1);
    event_set_int(ev, "restarts", p->restarts);
    plugin_emit(p, ev);
}

static void crashed(isolated *iso, bool hung)
{
    plugin_instance *p = iso->p;
    int status;
    reap(iso, true, &status);
    char why[160];
    if (hung)
        snprintf(why, sizeof why, "watchdog: no answer for %d ms", p->host->watchdog_ms);
    else
        describe_exit(status, why, sizeof why);
    if (clock_mono_ms() - iso->started_at > STABLE_AFTER_MS)
        iso->failures = 0;
    iso->failures++;
    int64_t wait = RESTART_FIRST_MS;
    for (int i = 1; i < iso->failures && wait < RESTART_MAX_MS; i++)
        wait *= 2;
    if (wait > RESTART_MAX_MS)
        wait = RESTART_MAX_MS;
    char q[400];
    kvlog(KVLOG_ERROR, "plugin_crashed", "plugin=%s reason=%s restarts=%u restart_in_ms=%lld",
          p->name, kvlog_quote(q, sizeof q, why), p->restarts, (long long)wait);
    snprintf(p->error, sizeof p->error, "%s", why);
    p->status = PLUGIN_RESTARTING;
    report_crash(p, why, status);
    plugin_commands_fail(p, "the plugin's process crashed; see the agent's log");
    plugin_timer_cancel(p, iso->restart_timer);
    plugin_timer_add_internal(p, (uint64_t)wait, 0, start_again, iso, &iso->restart_timer);
}

static void start_again(void *arg)
{
    isolated *iso = arg;
    cairn_error err = {0};
    iso->restart_timer = 0;
    if (spawn(iso, &err) != CAIRN_OK) {
        char q[600];
        kvlog(KVLOG_ERROR, "plugin_restart_failed", "plugin=%s reason=%s", iso->p->name,
              kvlog_quote(q, sizeof q, err.message));
        plugin_timer_add_internal(iso->p, RESTART_MAX_MS, 0, start_again, iso, &iso->restart_timer);
        return;
    }
    iso->p->restarts++;
}

static void ping(void *arg)
{
    isolated *iso = arg;
    if (!iso->pid)
        return;
    int64_t now = clock_mono_ms();
    /* The child says it is alive after a callback at most every ping interval:
     * a callback shorter than the watchdog may begin that long after the last
     * word, so that interval is allowed on top. */
    int64_t limit = iso->ready ? iso->p->host->watchdog_ms + ping_every_ms(iso->p->host)
                               : START_TIMEOUT_MS;
    if (now - iso->last_pong > limit) {
        crashed(iso, true);
        return;
    }
    msgpack_pack_uint64(wire_begin(&iso->w, "ping", 1), ++iso->ping_seq);
    isolate_sent(iso);
}

/* Returns false when the link broke (the child is gone). */
static bool pump(isolated *iso, unsigned ready)
{
    if ((ready & CAIRN_FD_WRITE) && wire_flush(&iso->w) != 0)
        return false;
    bool alive = !(ready & CAIRN_FD_READ) || wire_read(&iso->w) == 0;
    msgpack_object *a;
    uint32_t n;
    char verb[16];
    /* A child can write its events faster than they are drained: once its
     * share of the emit queue is full, the rest of its frames wait here for
     * take_held, rather than be refused (its emit returned 0 long
     * ago) or fill the queue for every other plugin. */
    while (iso->pid && !(iso->held = !plugin_queue_has_room(iso->p)) &&
           wire_next(&iso->w, &a, &n, verb, sizeof verb))
        isolate_on_frame(iso, verb, a, n);
    if (iso->pid)
        watch_for_output(iso);
    return alive;
}

bool isolate_take_held(plugin_host *h)
{
    bool took = false;
    for (size_t i = 0; i < h->n_plugins; i++)
        if (h->plugins[i]->iso)
            took |= take_held(h->plugins[i]->iso);
    return took;
}

static void on_readable(void *arg, int fd, unsigned ready)
{
    isolated *iso = arg;
    (void)fd;
    if (!pump(iso, ready) && iso->pid)
        crashed(iso, false);
}

/* ---- start and stop ---- */

static bool wait_ready(isolated *iso, int64_t deadline)
{
    while (!iso->ready && iso->pid && clock_mono_ms() < deadline) {
        struct pollfd pfd = {iso->w.fd, (short)(POLLIN | (wire_pending(&iso->w) ? POLLOUT : 0)), 0};
        int left = (int)(deadline - clock_mono_ms());
        if (poll(&pfd, 1, left > 0 ? left : 0) < 0 && errno != EINTR)
            return false;
        if (!pump(iso, CAIRN_FD_READ | ((pfd.revents & POLLOUT) ? CAIRN_FD_WRITE : 0)))
            return false;
    }
    return iso->ready;
}

/* A child running as another user must reach its state directory: the
 * directories above it get search permission for others (not read: their
 * listings stay private), and the state directory becomes the user's. */
static cairn_status give_state_dir(plugin_instance *p, cairn_error *err)
{
    plugin_host *h = p->host;
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%s", p->state_dir);
    for (int up = 0; up < 2; up++) {
        char *slash = strrchr(dir, '/');
        if (!slash || slash == dir)
            break;
        *slash = '\0';
        struct stat st;
        if (stat(dir, &st) == 0 && !(st.st_mode & S_IXOTH) && chmod(dir, (st.st_mode & 07777) | S_IXOTH) != 0)
            return error_set(err, CAIRN_IO_ERROR, "chmod o+x %s: %s", dir, strerror(errno));
    }
    if (chown(p->state_dir, h->child_uid, h->child_gid) != 0)
        return error_set(err, CAIRN_IO_ERROR, "chown %s: %s", p->state_dir, strerror(errno));
    return CAIRN_OK;
}

cairn_status isolate_start(plugin_instance *p, const char *path, const plugin_spec *spec,
                           cairn_error *err)
{
    plugin_host *h = p->host;
    if (!h->self_exe[0])
        return error_set(err, CAIRN_INTERNAL_ERROR, "cannot find this program to run the plugin");
    isolated *iso = calloc(1, sizeof *iso);
    if (!iso)
        return error_set(err, CAIRN_OUT_OF_MEMORY, "isolation");
    iso->p = p;
    p->iso = iso;
    snprintf(iso->path, sizeof iso->path, "%s", path);
    cairn_status st = h->drop_privileges ? give_state_dir(p, err) : CAIRN_OK;
    if (!st)
        st = plugin_settings_copy(&spec->config, &iso->given, err);
    if (!st)
        st = spawn(iso, err);
    if (st)
        return st;
    if (!wait_ready(iso, clock_mono_ms() + START_TIMEOUT_MS)) {
        int status;
        char why[160] = "";
        reap(iso, true, &status);
        if (!p->error[0])
            describe_exit(status, why, sizeof why);
        return error_set(err, CAIRN_INVALID_STATE, "%s", p->error[0] ? p->error : why);
    }
    uint64_t every = (uint64_t)ping_every_ms(h);
    plugin_timer_add_internal(p, every, every, ping, iso, &iso->ping_timer);
    return CAIRN_OK;
}

void isolate_stop(plugin_instance *p)
{
    isolated *iso = p->iso;
    if (!iso)
        return;
    if (iso->pid) {
        wire_begin(&iso->w, "stop", 0);
        wire_end(&iso->w);
        wire_flush(&iso->w);
        /* Let it flush and send its last events, then make sure it is gone. */
        int64_t deadline = clock_mono_ms() + STOP_TIMEOUT_MS;
        while (iso->pid && clock_mono_ms() < deadline) {
            struct pollfd pfd = {iso->w.fd, POLLIN, 0};
            poll(&pfd, 1, 100);
            if (!pump(iso, CAIRN_FD_READ | (wire_pending(&iso->w) ? CAIRN_FD_WRITE : 0)))
                break;
            take_held(iso);
        }
        int status;
        reap(iso, true, &status);
    }
    plugin_settings_free(&iso->given);
    free(iso);
    p->iso = NULL;
}
