/*
 * symlink: a deployer that installs model versions side by side and points a
 * `current` symlink at the live one.
 *
 *     <root>/<model>/versions/<version>/<file_name>   the artifact
 *     <root>/<model>/versions/<version>/.sha256       its hash, for redeploys
 *     <root>/<model>/current -> versions/<version>    what the server loads
 *     <root>/<model>/history                          deployed versions, oldest first
 *
 * Every change a server could observe is one rename(): a version directory
 * appears whole (built under a dot name, then renamed), and `current` is
 * switched by renaming a new symlink over it, so a reader sees the old target
 * or the new one, never none. Names starting with '.' in versions/ are this
 * plugin's scratch (a model or version name may not start with '.'), removed
 * when the next deploy of that model starts.
 *
 * A command runs in steps on the agent's loop, never blocking it: the fetch
 * is the host's (fetch_blob calls back when the file is in place), and the
 * reload command is a child process watched through a pidfd (or, where the
 * kernel has none, a short poll timer) with a timeout. One command per model
 * runs at a time; another one for the same model meanwhile is answered
 * `retry`.
 */
#include <cairn/plugin.h>

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define NAME_MAX_LEN 128  /* longest model, version or file name */
#define HISTORY_KEEP 32   /* versions remembered per model for rollback */
#define RELOAD_POLL_MS 50 /* reload exit polling, only where pidfd_open is missing */
#define VERSIONS_PREFIX "versions/"

extern char **environ;

static const cairn_config_key deployer_config[] = {
    {.key = "root",
     .type = CAIRN_CONFIG_STRING,
     .required = 1,
     .doc = "existing absolute directory holding <model>/versions/ and <model>/current"},
    {.key = "reload_command",
     .type = CAIRN_CONFIG_STRING,
     .doc = "run with /bin/sh -c after each switch (env CAIRN_MODEL, CAIRN_VERSION, CAIRN_PATH)"},
    {.key = "reload_timeout_ms",
     .type = CAIRN_CONFIG_INT,
     .default_value = "30000",
     .doc = "a reload command still running after this is killed and the switch undone"},
    {.key = "file_name",
     .type = CAIRN_CONFIG_STRING,
     .default_value = "model",
     .doc = "name of the artifact inside versions/<version>/"},
    {.key = NULL},
};

struct deployer {
    const cairn_host_api *api;
    cairn_host *host;
    const char *root; /* host strings, valid until fini */
    const char *reload_command;
    const char *file_name;
    int64_t reload_timeout_ms;
    struct op *ops; /* commands in flight */
    unsigned seq;   /* makes scratch names unique */
};

/* One command in flight. */
struct op {
    struct op *next;
    struct deployer *d;
    char *id;
    int rollback;
    int64_t deadline_ms;
    char model[NAME_MAX_LEN + 1];
    char version[NAME_MAX_LEN + 1]; /* the version being switched to */
    char sha256[65];
    char *model_dir;    /* <root>/<model> */
    char *fetch_path;   /* scratch file the blob is fetched into, or NULL */
    char *prev_target;  /* what `current` pointed at before, or NULL when absent */
    char *prev_version; /* the version of prev_target ("" when none) */
    pid_t pid;          /* the reload command, or 0 */
    int pidfd;
    uint64_t poll_timer, timeout_timer;
};

/* ---- small helpers ---- */

static char *fmt(const char *f, ...) __attribute__((format(printf, 1, 2)));

static char *fmt(const char *f, ...)
{
    char *s;
    va_list ap;
    va_start(ap, f);
    int n = vasprintf(&s, f, ap);
    va_end(ap);
    return n < 0 ? NULL : s;
}

/* A name that is safe as one path component: 1 to NAME_MAX_LEN bytes, no '/',
 * no control character, not starting with '.' (which also excludes "." and
 * ".." and keeps dot names free for the plugin's scratch files). */
static int safe_name(const char *s, size_t len)
{
    if (len == 0 || len > NAME_MAX_LEN || s[0] == '.')
        return 0;
    for (size_t i = 0; i < len; i++)
        if (s[i] == '/' || (unsigned char)s[i] < 0x20 || s[i] == 0x7f)
            return 0;
    return 1;
}

/* Copies the string field `name` of a command into out, checking it is a safe
 * name. Returns NULL, or why not. */
static const char *command_name(struct deployer *d, const cairn_event *cmd, const char *name,
                                char out[NAME_MAX_LEN + 1])
{
    const char *s;
    size_t len;
    if (d->api->event_get_string(cmd, name, &s, &len) != 0)
        return "missing";
    if (!safe_name(s, len))
        return "not a safe name (1-128 bytes, no '/', no control character, not starting with '.')";
    memcpy(out, s, len);
    out[len] = '\0';
    return NULL;
}

static int command_sha256(struct deployer *d, const cairn_event *cmd, char out[65])
{
    const char *s;
    size_t len;
    if (d->api->event_get_string(cmd, "sha256", &s, &len) != 0 || len != 64)
        return -1;
    for (size_t i = 0; i < 64; i++) {
        if (!isxdigit((unsigned char)s[i]))
            return -1;
        out[i] = (char)tolower((unsigned char)s[i]);
    }
    out[64] = '\0';
    return 0;
}

/* Makes the renames in dir durable. */
static void sync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
}

/* Writes `text` to path through a scratch file and a rename. */
static int write_file_atomic(const char *path, const char *text)
{
    char *tmp = fmt("%s.tmp-%ld", path, (long)getpid());
    if (!tmp)
        return -1;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    size_t len = strlen(text);
    int ok = fd >= 0 && write(fd, text, len) == (ssize_t)len && fsync(fd) == 0;
    if (fd >= 0 && close(fd) != 0)
        ok = 0;
    if (ok && rename(tmp, path) != 0)
        ok = 0;
    if (!ok)
        unlink(tmp);
    free(tmp);
    return ok ? 0 : -1;
}

/* Reads a small file whole, NUL-terminated; NULL when it cannot. */
static char *read_small_file(const char *path)
{
    FILE *f = fopen(path, "re");
    if (!f)
        return NULL;
    char *buf = calloc(1, 64 * 1024);
    if (buf && fread(buf, 1, 64 * 1024 - 1, f) == 0 && ferror(f)) {
        free(buf);
        buf = NULL;
    }
    fclose(f);
    return buf;
}

/* Removes the scratch entries (dot names) a crash left in versions/. */
static void remove_scratch(const char *versions_dir)
{
    DIR *dir = opendir(versions_dir);
    if (!dir)
        return;
    int dfd = dirfd(dir);
    struct dirent *e;
    while ((e = readdir(dir)) != NULL) {
        if (e->d_name[0] != '.' || !strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        if (unlinkat(dfd, e->d_name, 0) == 0 || errno != EISDIR)
            continue;
        int sub = openat(dfd, e->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
        DIR *sd = sub >= 0 ? fdopendir(sub) : NULL;
        struct dirent *se;
        while (sd && (se = readdir(sd)) != NULL)
            unlinkat(sub, se->d_name, 0);
        if (sd)
            closedir(sd);
        else if (sub >= 0)
            close(sub);
        unlinkat(dfd, e->d_name, AT_REMOVEDIR);
    }
    closedir(dir);
}

/* ---- history: the versions deployed, oldest first, one a line ---- */

/* Reads the newest HISTORY_KEEP names of the history into out. */
static size_t history_read(const char *model_dir, char (*out)[NAME_MAX_LEN + 1])
{
    char *path = fmt("%s/history", model_dir);
    char *text = path ? read_small_file(path) : NULL;
    free(path);
    size_t n = 0;
    for (char *save = NULL, *line = text ? strtok_r(text, "\n", &save) : NULL; line;
         line = strtok_r(NULL, "\n", &save)) {
        if (!safe_name(line, strlen(line)))
            continue;
        if (n == HISTORY_KEEP) { /* keep the newest */
            memmove(out, out + 1, (HISTORY_KEEP - 1) * sizeof(*out));
            n--;
        }
        snprintf(out[n++], NAME_MAX_LEN + 1, "%s", line);
    }
    free(text);
    return n;
}

static int history_write(const char *model_dir, char (*names)[NAME_MAX_LEN + 1], size_t n)
{
    size_t first = n > HISTORY_KEEP ? n - HISTORY_KEEP : 0;
    char *text = calloc(HISTORY_KEEP, NAME_MAX_LEN + 2);
    char *path = fmt("%s/history", model_dir);
    int rc = -1;
    if (text && path) {
        size_t at = 0;
        for (size_t i = first; i < n; i++)
            at += (size_t)sprintf(text + at, "%s\n", names[i]);
        rc = write_file_atomic(path, text);
    }
    free(text);
    free(path);
    return rc;
}

/* ---- the `current` link ---- */

/* Reads where current points: the raw target and the version it names. */
static int current_read(const char *model_dir, char **target, char **version)
{
    char *link = fmt("%s/current", model_dir);
    char buf[4096];
    ssize_t n = link ? readlink(link, buf, sizeof(buf) - 1) : -1;
    free(link);
    *target = NULL;
    *version = NULL;
    if (n < 0)
        return errno == ENOENT ? 0 : -1;
    buf[n] = '\0';
    size_t plen = strlen(VERSIONS_PREFIX);
    *target = strdup(buf);
    *version = strdup(strncmp(buf, VERSIONS_PREFIX, plen) == 0 ? buf + plen : buf);
    return *target && *version ? 0 : -1;
}

/* Points current at target (NULL: removes current), atomically. */
static int current_switch(struct deployer *d, const char *model_dir, const char *target)
{
    char *link = fmt("%s/current", model_dir);
    char *tmp = fmt("%s/.current.tmp-%ld-%u", model_dir, (long)getpid(), ++d->seq);
    int rc = -1, err = ENOMEM;
    if (link && tmp) {
        if (!target)
            rc = unlink(link) == 0 || errno == ENOENT ? 0 : -1;
        else if (symlink(target, tmp) == 0 && rename(tmp, link) == 0)
            rc = 0;
        err = errno;
        if (rc != 0)
            unlink(tmp);
        sync_dir(model_dir);
    }
    free(link);
    free(tmp);
    errno = err; /* the reason of a failure, for the caller's message */
    return rc;
}

/* ---- finishing a command ---- */

static void op_free(struct op *op)
{
    if (op->fetch_path)
        unlink(op->fetch_path);
    free(op->fetch_path);
    free(op->id);
    free(op->model_dir);
    free(op->prev_target);
    free(op->prev_version);
    free(op);
}

static void op_unlink(struct op *op)
{
    for (struct op **p = &op->d->ops; *p; p = &(*p)->next) {
        if (*p == op) {
            *p = op->next;
            return;
        }
    }
}

static char *op_file_path(const struct op *op)
{
    return fmt("%s/" VERSIONS_PREFIX "%s/%s", op->model_dir, op->version, op->d->file_name);
}

/* Answers the command, with the result fields on success, and forgets it. */
static void op_finish(struct op *op, cairn_plugin_result result, const char *message)
{
    struct deployer *d = op->d;
    const cairn_host_api *api = d->api;
    cairn_event *fields = NULL;
    if (result == CAIRN_PLUGIN_OK && (fields = api->event_new(d->host, "result")) != NULL) {
        char *path = op_file_path(op);
        api->event_set_string(fields, "model", op->model);
        api->event_set_string(fields, "version", op->version);
        api->event_set_string(fields, "path", path ? path : "");
        api->event_set_string(fields, "previous", op->prev_version ? op->prev_version : "");
        free(path);
    }
    api->log(d->host, result == CAIRN_PLUGIN_OK ? CAIRN_LOG_INFO : CAIRN_LOG_WARN,
             op->rollback ? "rollback" : "deploy", message);
    api->counter_add(d->host, result == CAIRN_PLUGIN_OK ? "succeeded" : "failed", 1);
    api->command_done(d->host, op->id, result, message, fields);
    op_unlink(op);
    op_free(op);
}

static void op_fail(struct op *op, const char *f, ...) __attribute__((format(printf, 2, 3)));

static void op_fail(struct op *op, const char *f, ...)
{
    char message[512];
    va_list ap;
    va_start(ap, f);
    vsnprintf(message, sizeof(message), f, ap);
    va_end(ap);
    op_finish(op, CAIRN_PLUGIN_ERROR, message);
}

/* The switch stands: record it in the history and answer. */
static void op_succeeded(struct op *op)
{
    char(*hist)[NAME_MAX_LEN + 1] = calloc(HISTORY_KEEP + 2, sizeof(*hist));
    size_t n = hist ? history_read(op->model_dir, hist) : 0;
    if (hist && op->rollback) {
        while (n > 0 && strcmp(hist[n - 1], op->prev_version) == 0)
            n--;
    } else if (hist) {
        /* A link set up by hand before the first deploy is remembered too. */
        if (n == 0 && op->prev_version && safe_name(op->prev_version, strlen(op->prev_version)))
            snprintf(hist[n++], NAME_MAX_LEN + 1, "%s", op->prev_version);
        snprintf(hist[n++], NAME_MAX_LEN + 1, "%s", op->version);
    }
    if (!hist || history_write(op->model_dir, hist, n) != 0)
        op->d->api->log(op->d->host, CAIRN_LOG_WARN, "history_failed", op->model_dir);
    free(hist);
    char message[512];
    snprintf(message, sizeof(message), "%s %s is current (previous: %s)", op->model, op->version,
             op->prev_version && op->prev_version[0] ? op->prev_version : "none");
    op_finish(op, CAIRN_PLUGIN_OK, message);
}

/* ---- the reload command ---- */

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
static void reload_ended(struct op *op, const char *failure)
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
static int reload_start(struct op *op)
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

/* ---- the steps of a command ---- */

/* Points current at op->version and reloads. */
static void op_switch(struct op *op)
{
    struct deployer *d = op->d;
    if (op->deadline_ms > 0 && d->api->now_wall_ms(d->host) > op->deadline_ms) {
        op_fail(op, "the deadline passed before the switch; current left at %s",
                op->prev_version ? op->prev_version : "none");
        return;
    }
    if (op->prev_version && strcmp(op->prev_version, op->version) == 0) {
        op_finish(op, CAIRN_PLUGIN_OK, "already current: nothing to switch or reload");
        return;
    }
    char *target = fmt(VERSIONS_PREFIX "%s", op->version);
    int rc = target ? current_switch(d, op->model_dir, target) : -1;
    free(target);
    if (rc != 0) {
        op_fail(op, "cannot switch current to %s: %s", op->version, strerror(errno));
        return;
    }
    char message[256];
    snprintf(message, sizeof(message), "current -> " VERSIONS_PREFIX "%s", op->version);
    d->api->command_progress(d->host, op->id, message);
    if (!d->reload_command) {
        op_succeeded(op);
        return;
    }
    d->api->command_progress(d->host, op->id, "running the reload command");
    if (reload_start(op) != 0) {
        char why[128];
        snprintf(why, sizeof(why), "cannot start /bin/sh: %s", strerror(errno));
        reload_ended(op, why);
    }
}

/* 1: versions/<version> holds this sha256; 0: not installed; -1: it holds
 * something else (a version's content never changes under its name). */
static int op_installed(struct op *op)
{
    char *dir = fmt("%s/" VERSIONS_PREFIX "%s", op->model_dir, op->version);
    char *sha = fmt("%s/" VERSIONS_PREFIX "%s/.sha256", op->model_dir, op->version);
    struct stat st;
    int rc = 0;
    if (!dir || !sha) {
        rc = -1;
    } else if (lstat(dir, &st) == 0) {
        char *text = read_small_file(sha);
        rc = text && strncmp(text, op->sha256, 64) == 0 ? 1 : -1;
        free(text);
    }
    free(dir);
    free(sha);
    return rc;
}

/* Builds versions/.<version>.dir-* with the fetched file and its hash, then
 * renames it to versions/<version>. Returns 0, or -1 having failed the op. */
static int op_install(struct op *op)
{
    struct deployer *d = op->d;
    unsigned seq = ++d->seq;
    char *scratch = fmt("%s/" VERSIONS_PREFIX ".%s.dir-%ld-%u", op->model_dir, op->version,
                        (long)getpid(), seq);
    char *file = fmt("%s/%s", scratch ? scratch : "", d->file_name);
    char *sha = fmt("%s/.sha256", scratch ? scratch : "");
    char *final = fmt("%s/" VERSIONS_PREFIX "%s", op->model_dir, op->version);
    char *line = fmt("%s\n", op->sha256);
    const char *step = NULL;
    if (!scratch || !file || !sha || !final || !line)
        step = "out of memory";
    else if (mkdir(scratch, 0755) != 0)
        step = "mkdir";
    else if (rename(op->fetch_path, file) != 0)
        step = "moving the artifact";
    else if (write_file_atomic(sha, line) != 0)
        step = "writing .sha256";
    else if (rename(scratch, final) != 0)
        step = "renaming into place";
    int err = errno;
    if (step && scratch) {
        unlink(file);
        unlink(sha);
        rmdir(scratch);
    }
    free(scratch);
    free(file);
    free(sha);
    free(final);
    free(line);
    if (step) {
        op_fail(op, "cannot install " VERSIONS_PREFIX "%s (%s): %s", op->version, step,
                strerror(err));
        return -1;
    }
    char *versions = fmt("%s/versions", op->model_dir);
    if (versions)
        sync_dir(versions);
    free(versions);
    char message[256];
    snprintf(message, sizeof(message), "installed " VERSIONS_PREFIX "%s", op->version);
    d->api->command_progress(d->host, op->id, message);
    return 0;
}

static void op_fetched(void *arg, int status, const char *error)
{
    struct op *op = arg;
    if (status != 0)
        op_fail(op, "fetching %s failed: %s", op->sha256, error ? error : "no reason given");
    else if (op_install(op) == 0)
        op_switch(op);
}

static void deploy_start(struct op *op, const cairn_event *cmd)
{
    struct deployer *d = op->d;
    const char *why = command_name(d, cmd, "version", op->version);
    if (why) {
        op_fail(op, "version: %s", why);
        return;
    }
    if (command_sha256(d, cmd, op->sha256) != 0) {
        op_fail(op, "sha256: missing, or not 64 hex digits");
        return;
    }
    char *versions = fmt("%s/versions", op->model_dir);
    if (!versions || (mkdir(op->model_dir, 0755) != 0 && errno != EEXIST) ||
        (mkdir(versions, 0755) != 0 && errno != EEXIST)) {
        op_fail(op, "cannot create %s: %s", op->model_dir, strerror(errno));
        free(versions);
        return;
    }
    remove_scratch(versions);
    int installed = op_installed(op);
    if (installed != 0) {
        free(versions);
        if (installed < 0) {
            op_fail(op, VERSIONS_PREFIX "%s exists with another sha256 than %s", op->version,
                    op->sha256);
        } else {
            d->api->command_progress(d->host, op->id, "already installed");
            op_switch(op);
        }
        return;
    }
    op->fetch_path = fmt("%s/.%s.tmp-%ld-%u", versions, op->version, (long)getpid(), ++d->seq);
    free(versions);
    if (!op->fetch_path) {
        op_fail(op, "out of memory");
        return;
    }
    char message[128];
    snprintf(message, sizeof(message), "fetching %s", op->sha256);
    d->api->command_progress(d->host, op->id, message);
    /* The host may call op_fetched before fetch_blob returns: op is not
     * touched after a successful start. */
    if (d->api->fetch_blob(d->host, op->sha256, op->fetch_path, op_fetched, op) != 0)
        op_fail(op, "cannot start fetching %s", op->sha256);
}

/* Rolls back to the newest version of the history that is not current. */
static void rollback_start(struct op *op)
{
    if (!op->prev_version) {
        op_fail(op, "model %s has no current version", op->model);
        return;
    }
    char(*hist)[NAME_MAX_LEN + 1] = calloc(HISTORY_KEEP + 2, sizeof(*hist));
    size_t n = hist ? history_read(op->model_dir, hist) : 0;
    while (n > 0 && strcmp(hist[n - 1], op->prev_version) == 0)
        n--;
    if (n > 0)
        snprintf(op->version, sizeof(op->version), "%s", hist[n - 1]);
    free(hist);
    if (n == 0) {
        op_fail(op, "no version of %s before %s to roll back to", op->model, op->prev_version);
        return;
    }
    char *dir = fmt("%s/" VERSIONS_PREFIX "%s", op->model_dir, op->version);
    struct stat st;
    int present = dir && stat(dir, &st) == 0 && S_ISDIR(st.st_mode);
    free(dir);
    if (!present) {
        op_fail(op, VERSIONS_PREFIX "%s is no longer installed", op->version);
        return;
    }
    op_switch(op);
}

static int model_busy(const struct deployer *d, const char *model)
{
    for (const struct op *o = d->ops; o; o = o->next)
        if (strcmp(o->model, model) == 0)
            return 1;
    return 0;
}

/* Every command is accepted and answered through command_done, so that the
 * reply always carries the reason of a failure. */
static cairn_plugin_result deployer_on_command(void *state, const char *command_id,
                                               const cairn_event *command, int64_t deadline_ms)
{
    struct deployer *d = state;
    struct op *op = calloc(1, sizeof(*op));
    if (!op || !(op->id = strdup(command_id))) {
        free(op);
        d->api->log(d->host, CAIRN_LOG_ERROR, "command_refused", "out of memory");
        return CAIRN_PLUGIN_ERROR;
    }
    op->d = d;
    op->deadline_ms = deadline_ms;
    op->pidfd = -1;
    const char *type = d->api->event_type(command);
    op->rollback = strcmp(type, "rollback") == 0;
    const char *why = command_name(d, command, "model", op->model);
    if (!op->rollback && strcmp(type, "deploy") != 0) {
        op_fail(op, "unknown command %s (this deployer knows deploy and rollback)", type);
    } else if (why) {
        op_fail(op, "model: %s", why);
    } else if (model_busy(d, op->model)) {
        op_finish(op, CAIRN_PLUGIN_RETRY, "another command for this model is in progress");
    } else if (!(op->model_dir = fmt("%s/%s", d->root, op->model)) ||
               current_read(op->model_dir, &op->prev_target, &op->prev_version) != 0) {
        op_fail(op, "cannot read %s/current: %s", op->model, strerror(errno));
    } else {
        op->next = d->ops;
        d->ops = op;
        if (op->rollback)
            rollback_start(op);
        else
            deploy_start(op, command);
    }
    return CAIRN_PLUGIN_OK;
}

/* ---- the plugin ---- */

static int deployer_configure(struct deployer *d)
{
    const cairn_host_api *api = d->api;
    cairn_host *h = d->host;
    struct stat st;
    const char *why = NULL;
    if (api->config_string(h, "root", &d->root) != 0 || d->root[0] != '/')
        why = "root must be an absolute directory path";
    else if (stat(d->root, &st) != 0 || !S_ISDIR(st.st_mode))
        why = "root must be an existing directory";
    else if (api->config_string(h, "file_name", &d->file_name) != 0 ||
             !safe_name(d->file_name, strlen(d->file_name)))
        why = "file_name must be a plain file name (no '/', not starting with '.')";
    else if (api->config_int(h, "reload_timeout_ms", &d->reload_timeout_ms) != 0 ||
             d->reload_timeout_ms < 1 || d->reload_timeout_ms > 3600000)
        why = "reload_timeout_ms must be 1 to 3600000";
    if (why) {
        api->log(h, CAIRN_LOG_ERROR, "bad_config", why);
        return -1;
    }
    if (api->config_string(h, "reload_command", &d->reload_command) != 0 || !d->reload_command[0])
        d->reload_command = NULL;
    return 0;
}

static int deployer_init(const cairn_host_api *api, cairn_host *host, void **state)
{
    struct deployer *d = calloc(1, sizeof(*d));
    if (!d) {
        api->log(host, CAIRN_LOG_ERROR, "init_failed", "out of memory");
        return -1;
    }
    d->api = api;
    d->host = host;
    if (deployer_configure(d) != 0) {
        free(d);
        return -1;
    }
    *state = d;
    return 0;
}

/* Stopping in the middle of a reload undoes its switch: the command was
 * never answered ok, so the previous version stays the live one. */
static void deployer_fini(void *state)
{
    struct deployer *d = state;
    while (d->ops) {
        struct op *op = d->ops;
        d->ops = op->next;
        if (op->pid > 0) {
            kill(-op->pid, SIGKILL);
            while (waitpid(op->pid, NULL, 0) < 0 && errno == EINTR)
                ;
            current_switch(d, op->model_dir, op->prev_target);
        }
        if (op->pidfd >= 0)
            close(op->pidfd);
        op_free(op);
    }
    free(d);
}

static const cairn_deployer_ops deployer_ops = {
    .size = sizeof(cairn_deployer_ops),
    .on_command = deployer_on_command,
};

static const cairn_plugin_descriptor deployer_descriptor = {
    CAIRN_PLUGIN_ABI,
    .kind = CAIRN_PLUGIN_DEPLOYER,
    .name = "symlink",
    .version = "1.0.0",
    .description = "installs model versions side by side and switches a `current` symlink",
    .config = deployer_config,
    .init = deployer_init,
    .fini = deployer_fini,
    .ops = &deployer_ops,
};

CAIRN_PLUGIN_EXPORT(deployer_descriptor)
