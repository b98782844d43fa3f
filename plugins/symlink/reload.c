/* The reload command: a child process watched through a pidfd (or a poll
 * timer) with a timeout, whose failure undoes the switch. */
#include "symlink.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

static void reload_unwatch(struct op *op)
{
    const cairn_host_api *api = op->d->api;
    if (op->pidfd >= 0) {
        api->unwatch_fd(op->d->host, op->pidfd);
        close(op->pidfd);
        op->pidfd = -1;
    }
    if (op->poll_timer)
        api->timer_cancel(op->d->host, op->poll_timer);
    if (op->timeout_timer)
        api->timer_cancel(op->d->host, op->timeout_timer);
    op->poll_timer = op->timeout_timer = 0;
    op->pid = 0;
}

/* The reload is over: keep the switch, or undo it when `failure` says why. */
void reload_ended(struct op *op, const char *failure)
{
    reload_unwatch(op);
    if (!failure) {
        op_succeeded(op);
        return;
    }
    const char *prev = op->prev_version ? op->prev_version : "none (removed)";
    if (current_switch(op->d, op->model_dir, op->prev_target) != 0)
        op_fail(op, "reload failed (%s) and current could not be restored to %s: %s", failure, prev,
                strerror(errno));
    else
        op_fail(op, "reload failed (%s); current restored to %s", failure, prev);
}

/* Collects the reload's exit status when it has one. */
static void reload_reap(struct op *op, int block)
{
    int status = 0;
    pid_t r;
    do
        r = waitpid(op->pid, &status, block ? 0 : WNOHANG);
    while (r < 0 && errno == EINTR);
    if (r == 0)
        return; /* still running */
    char why[96];
    if (r < 0)
        snprintf(why, sizeof(why), "its exit status is lost: %s", strerror(errno));
    else if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
        why[0] = '\0';
    else if (WIFEXITED(status))
        snprintf(why, sizeof(why), "exit status %d", WEXITSTATUS(status));
    else
        snprintf(why, sizeof(why), "killed by signal %d", WTERMSIG(status));
    reload_ended(op, why[0] ? why : NULL);
}

static void reload_fd_ready(void *arg, int fd, unsigned ready)
{
    (void)fd;
    (void)ready;
    reload_reap(arg, 0);
}

static void reload_poll(void *arg)
{
    reload_reap(arg, 0);
}

static void reload_timeout(void *arg)
{
    struct op *op = arg;
    op->timeout_timer = 0;   /* a one-shot timer that has fired */
    kill(-op->pid, SIGKILL); /* its process group: the shell and its children */
    int status;
    while (waitpid(op->pid, &status, 0) < 0 && errno == EINTR)
        ;
    char why[64];
    snprintf(why, sizeof(why), "timed out after %" PRId64 " ms", op->d->reload_timeout_ms);
    reload_ended(op, why);
}

/* The environment of the reload: the agent's, with the CAIRN_* variables set. */
static char **reload_env(char *vars[3])
{
    size_t n = 0;
    while (environ[n])
        n++;
    char **envp = calloc(n + 4, sizeof(*envp));
    if (!envp)
        return NULL;
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (strncmp(environ[i], "CAIRN_MODEL=", 12) && strncmp(environ[i], "CAIRN_VERSION=", 14) &&
            strncmp(environ[i], "CAIRN_PATH=", 11))
            envp[k++] = environ[i];
    for (int i = 0; i < 3; i++)
        envp[k++] = vars[i];
    return envp;
}

/* Spawns /bin/sh -c reload_command in its own process group, stdin from
 * /dev/null and stdout to the agent's stderr (the agent's stdout may carry a
 * protocol), no inherited descriptors, default signals. posix_spawn rather
 * than fork: the agent has threads. */
static int reload_spawn(struct op *op)
{
    char *path = op_file_path(op);
    char *vars[3] = {fmt("CAIRN_MODEL=%s", op->model), fmt("CAIRN_VERSION=%s", op->version),
                     fmt("CAIRN_PATH=%s", path ? path : "")};
    char **envp = vars[0] && vars[1] && vars[2] ? reload_env(vars) : NULL;
    int rc = ENOMEM;
    if (envp) {
        posix_spawn_file_actions_t fa;
        posix_spawnattr_t at;
        sigset_t none, all;
        sigemptyset(&none);
        sigfillset(&all);
        posix_spawn_file_actions_init(&fa);
        posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
        posix_spawn_file_actions_adddup2(&fa, 2, 1);
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 34))
        posix_spawn_file_actions_addclosefrom_np(&fa, 3);
#endif
        posix_spawnattr_init(&at);
        posix_spawnattr_setflags(&at, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK |
                                          POSIX_SPAWN_SETSIGDEF);
        posix_spawnattr_setpgroup(&at, 0);
        posix_spawnattr_setsigmask(&at, &none);
        posix_spawnattr_setsigdefault(&at, &all);
        char *argv[] = {"sh", "-c", (char *)op->d->reload_command, NULL};
        rc = posix_spawn(&op->pid, "/bin/sh", &fa, &at, argv, envp);
        posix_spawnattr_destroy(&at);
        posix_spawn_file_actions_destroy(&fa);
    }
    free(envp);
    for (int i = 0; i < 3; i++)
        free(vars[i]);
    free(path);
    errno = rc;
    return rc == 0 ? 0 : -1;
}

/* Starts the reload and watches for its end. Returns -1 when it cannot. */
int reload_start(struct op *op)
{
    const cairn_host_api *api = op->d->api;
    cairn_host *h = op->d->host;
    if (reload_spawn(op) != 0) {
        op->pid = 0;
        return -1;
    }
#ifdef SYS_pidfd_open
    op->pidfd = (int)syscall(SYS_pidfd_open, op->pid, 0);
#endif
    if (op->pidfd >= 0 && api->watch_fd(h, op->pidfd, CAIRN_FD_READ, reload_fd_ready, op) != 0) {
        close(op->pidfd);
        op->pidfd = -1;
    }
    if (op->pidfd < 0)
        op->poll_timer = api->timer_add(h, RELOAD_POLL_MS, RELOAD_POLL_MS, reload_poll, op);
    op->timeout_timer =
        api->timer_add(h, (uint64_t)op->d->reload_timeout_ms, 0, reload_timeout, op);
    if ((op->pidfd < 0 && !op->poll_timer) || !op->timeout_timer) {
        kill(-op->pid, SIGKILL);
        reload_reap(op, 1);
        return 0; /* reload_reap answered the command */
    }
    return 0;
}
