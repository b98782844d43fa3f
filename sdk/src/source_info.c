#include "source_info.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <pwd.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "clock.h"

extern char **environ;

/* A symbolic ref may point at another; git itself stops at 5 levels. */
#define GIT_MAX_SYMREF_DEPTH 5

static void copy_or_unknown(char *buf, size_t cap, const char *s)
{
    snprintf(buf, cap, "%s", (s && *s) ? s : "unknown");
}

void source_user(char *buf, size_t cap)
{
    struct passwd pw, *found = NULL;
    char scratch[4096];
    if (getpwuid_r(getuid(), &pw, scratch, sizeof scratch, &found) == 0 && found)
        copy_or_unknown(buf, cap, found->pw_name);
    else
        copy_or_unknown(buf, cap, getenv("USER"));
}

void source_host(char *buf, size_t cap)
{
    char name[HOST_NAME_MAX + 1];
    if (gethostname(name, sizeof name) != 0)
        name[0] = '\0';
    name[sizeof name - 1] = '\0';
    copy_or_unknown(buf, cap, name);
}

/* ---- reading .git without git ---- */

/* Reads the first line of a small file, without its newline. */
static bool read_line(const char *path, char *buf, size_t cap)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return false;
    bool ok = fgets(buf, (int)cap, f) != NULL;
    fclose(f);
    if (ok)
        buf[strcspn(buf, "\r\n")] = '\0';
    return ok;
}

/* Path building that reports, rather than hides, a path too long. */
static bool copy_path(char *out, size_t cap, const char *s)
{
    size_t n = strlen(s);
    if (n >= cap)
        return false;
    memcpy(out, s, n + 1);
    return true;
}

static bool join(char *out, size_t cap, const char *dir, const char *name)
{
    size_t d = strlen(dir), n = strlen(name);
    if (d + 1 + n >= cap)
        return false;
    memcpy(out, dir, d);
    out[d] = '/';
    memcpy(out + d + 1, name, n + 1);
    return true;
}

static bool is_hex_id(const char *s)
{
    size_t n = strlen(s);
    if (n != 40 && n != 64)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!isxdigit((unsigned char)s[i]))
            return false;
    return true;
}

/* A ".git" file (worktrees, submodules) says "gitdir: PATH", PATH possibly
 * relative to the directory holding the file. */
static bool follow_gitfile(const char *dir, const char *file, char *gitdir, size_t cap)
{
    char line[PATH_MAX];
    if (!read_line(file, line, sizeof line) || strncmp(line, "gitdir: ", 8) != 0)
        return false;
    const char *target = line + 8;
    if (target[0] == '/')
        return copy_path(gitdir, cap, target);
    return join(gitdir, cap, dir, target);
}

/* A repository found from a directory: its git directory and the top of its
 * work tree (the directory holding ".git"). */
typedef struct git_repo {
    char gitdir[PATH_MAX];
    char top[PATH_MAX];
} git_repo;

/* Finds the repository of dir or of its nearest parent that has one. */
static bool find_repo(const char *start, git_repo *repo)
{
    char dotgit[PATH_MAX];
    if (!copy_path(repo->top, sizeof repo->top, start))
        return false;
    for (;;) {
        struct stat st;
        if (join(dotgit, sizeof dotgit, repo->top, ".git") && stat(dotgit, &st) == 0) {
            if (S_ISDIR(st.st_mode))
                return copy_path(repo->gitdir, sizeof repo->gitdir, dotgit);
            if (S_ISREG(st.st_mode))
                return follow_gitfile(repo->top, dotgit, repo->gitdir, sizeof repo->gitdir);
        }
        char *slash = strrchr(repo->top, '/');
        if (!slash || slash == repo->top)
            return false; /* "/" itself is not searched: no repository lives there */
        *slash = '\0';
    }
}

/* Linked worktrees keep branches in the main repository, named by "commondir". */
static void find_common_dir(const char *gitdir, char *common, size_t cap)
{
    char path[PATH_MAX], line[PATH_MAX];
    copy_path(common, cap, gitdir);
    if (!join(path, sizeof path, gitdir, "commondir") || !read_line(path, line, sizeof line))
        return;
    if (line[0] == '/')
        copy_path(common, cap, line);
    else
        join(common, cap, gitdir, line);
}

/* "<hex> <refname>" lines; '#' starts the header, '^' a peeled tag. */
static bool packed_ref(const char *common, const char *ref, char *out, size_t cap)
{
    char path[PATH_MAX], line[PATH_MAX + 128];
    if (!join(path, sizeof path, common, "packed-refs"))
        return false;
    FILE *f = fopen(path, "r");
    if (!f)
        return false;
    bool found = false;
    while (!found && fgets(line, sizeof line, f)) {
        line[strcspn(line, "\r\n")] = '\0';
        char *space = strchr(line, ' ');
        if (line[0] == '#' || line[0] == '^' || !space || strcmp(space + 1, ref) != 0)
            continue;
        *space = '\0';
        found = is_hex_id(line) && copy_path(out, cap, line);
    }
    fclose(f);
    return found;
}

static bool resolve_ref(const char *gitdir, const char *common, const char *ref, int depth,
                        char *out, size_t cap);

/* Reads one ref value: a commit id, or "ref: NAME" to follow. */
static bool resolve_value(const char *gitdir, const char *common, const char *value, int depth,
                          char *out, size_t cap)
{
    if (strncmp(value, "ref: ", 5) == 0)
        return resolve_ref(gitdir, common, value + 5, depth + 1, out, cap);
    return is_hex_id(value) && copy_path(out, cap, value);
}

static bool resolve_ref(const char *gitdir, const char *common, const char *ref, int depth,
                        char *out, size_t cap)
{
    char path[PATH_MAX], value[PATH_MAX];
    if (depth > GIT_MAX_SYMREF_DEPTH || strstr(ref, ".."))
        return false;
    if ((join(path, sizeof path, gitdir, ref) && read_line(path, value, sizeof value)) ||
        (join(path, sizeof path, common, ref) && read_line(path, value, sizeof value)))
        return resolve_value(gitdir, common, value, depth, out, cap);
    return packed_ref(common, ref, out, cap);
}

static bool repo_commit(const git_repo *repo, char out[SOURCE_COMMIT_MAX + 1])
{
    char common[PATH_MAX], head[PATH_MAX], value[PATH_MAX];
    out[0] = '\0';
    find_common_dir(repo->gitdir, common, sizeof common);
    if (!join(head, sizeof head, repo->gitdir, "HEAD") || !read_line(head, value, sizeof value))
        return false;
    if (!resolve_value(repo->gitdir, common, value, 0, out, SOURCE_COMMIT_MAX + 1)) {
        out[0] = '\0'; /* e.g. a branch without commits yet */
        return false;
    }
    return true;
}

bool source_git_commit(const char *dir, char out[SOURCE_COMMIT_MAX + 1])
{
    git_repo repo;
    out[0] = '\0';
    return find_repo(dir, &repo) && repo_commit(&repo, out);
}

/* ---- the dirty flag: git status, without a shell ---- */

/* Starts git with argv, its stdout on a pipe whose read end goes to *out,
 * stdin and stderr on /dev/null, no other descriptor of ours, default
 * SIGPIPE and no blocked signals whatever the calling thread has. */
static pid_t spawn_git(char *const argv[], int *out)
{
    int p[2];
    pid_t pid = -1;
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t at;
    sigset_t none, dfl;
    sigemptyset(&none);
    sigemptyset(&dfl);
    sigaddset(&dfl, SIGPIPE);
    if (pipe2(p, O_CLOEXEC) != 0)
        return -1;
    int rc = posix_spawn_file_actions_init(&fa);
    if (rc == 0 && (rc = posix_spawnattr_init(&at)) != 0)
        posix_spawn_file_actions_destroy(&fa);
    if (rc == 0) {
        /* dup2 first: in a process that closed its stdin or stderr, the pipe
         * may be descriptor 0 or 2, which the opens then replace. */
        rc = posix_spawn_file_actions_adddup2(&fa, p[1], 1);
        rc = rc ? rc : posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
        rc = rc ? rc : posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
#if defined(__GLIBC__) && __GLIBC_PREREQ(2, 34)
        rc = rc ? rc : posix_spawn_file_actions_addclosefrom_np(&fa, 3);
#endif
        rc = rc ? rc : posix_spawnattr_setsigmask(&at, &none);
        rc = rc ? rc : posix_spawnattr_setsigdefault(&at, &dfl);
        rc = rc ? rc
                : posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
        if (rc || posix_spawnp(&pid, "git", &fa, &at, argv, environ) != 0)
            pid = -1; /* git not installed, or no resources */
        posix_spawnattr_destroy(&at);
        posix_spawn_file_actions_destroy(&fa);
    }
    close(p[1]);
    if (pid < 0)
        close(p[0]);
    else
        *out = p[0];
    return pid;
}

/* Reads fd to its end, counting the bytes. False when the deadline comes first. */
static bool drain(int fd, int64_t deadline, size_t *bytes)
{
    char buf[4096];
    for (;;) {
        int64_t left = deadline - clock_mono_ms();
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        if (left <= 0)
            return false;
        int r = poll(&pfd, 1, (int)left);
        if (r < 0 && errno != EINTR)
            return false;
        if (r <= 0)
            continue;
        ssize_t n = read(fd, buf, sizeof buf);
        if (n == 0)
            return true;
        if (n < 0 && errno != EINTR && errno != EAGAIN)
            return false;
        if (n > 0)
            *bytes += (size_t)n;
    }
}

/* The child's exit code; -1 when it did not exit by the deadline (it is
 * killed), was killed, or its status cannot be had (SIGCHLD ignored, or
 * another part of the process reaped it). */
static int reap(pid_t pid, int64_t deadline)
{
    int status;
    for (;;) {
        pid_t r = waitpid(pid, &status, WNOHANG);
        if (r == pid)
            return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
        if (r < 0 && errno != EINTR)
            return -1;
        if (clock_mono_ms() >= deadline) {
            kill(pid, SIGKILL);
            while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
                ;
            return -1;
        }
        nanosleep(&(struct timespec){0, 1000000}, NULL);
    }
}

static source_dirty repo_dirty(const git_repo *repo, int timeout_ms)
{
    /* No optional locks: git status would otherwise refresh the index and
     * could make the user's own git commands fail on index.lock meanwhile. */
    char *argv[] = {"git", "--git-dir", (char *)repo->gitdir, "--work-tree", (char *)repo->top,
                    "--no-optional-locks", "status", "--porcelain", "--untracked-files=no", NULL};
    int64_t deadline = clock_mono_ms() + timeout_ms;
    size_t bytes = 0;
    int fd = -1;
    pid_t pid = spawn_git(argv, &fd);
    if (pid < 0)
        return SOURCE_DIRTY_UNKNOWN;
    bool read_all = drain(fd, deadline, &bytes);
    close(fd);
    int code = reap(pid, read_all ? deadline : 0);
    if (!read_all || code != 0)
        return SOURCE_DIRTY_UNKNOWN;
    return bytes ? SOURCE_DIRTY : SOURCE_CLEAN;
}

source_dirty source_git_dirty(const char *dir, int timeout_ms)
{
    git_repo repo;
    if (!find_repo(dir, &repo))
        return SOURCE_DIRTY_UNKNOWN;
    return repo_dirty(&repo, timeout_ms);
}

/* The last answer of git status, for its repository and commit: a process
 * starting many runs asks git once. */
static struct {
    pthread_mutex_t lock;
    char gitdir[PATH_MAX];
    char commit[SOURCE_COMMIT_MAX + 1];
    source_dirty dirty;
} dirty_cache = {.lock = PTHREAD_MUTEX_INITIALIZER};
static pthread_once_t dirty_cache_fork_guard = PTHREAD_ONCE_INIT;

/* git status runs for up to a second under the lock: a child forked by
 * another thread meanwhile has no thread to release it. It starts with the
 * lock free and the cache empty (the entry may have been half written). */
static void dirty_cache_reset(void)
{
    pthread_mutex_init(&dirty_cache.lock, NULL);
    dirty_cache.gitdir[0] = '\0';
}

static void dirty_cache_guard_fork(void)
{
    pthread_atfork(NULL, NULL, dirty_cache_reset);
}

static source_dirty repo_dirty_once(const git_repo *repo, const char *commit)
{
    pthread_once(&dirty_cache_fork_guard, dirty_cache_guard_fork);
    pthread_mutex_lock(&dirty_cache.lock);
    if (strcmp(dirty_cache.gitdir, repo->gitdir) != 0 || strcmp(dirty_cache.commit, commit) != 0) {
        dirty_cache.dirty = repo_dirty(repo, SOURCE_DIRTY_TIMEOUT_MS);
        copy_path(dirty_cache.gitdir, sizeof dirty_cache.gitdir, repo->gitdir);
        copy_path(dirty_cache.commit, sizeof dirty_cache.commit, commit);
    }
    source_dirty d = dirty_cache.dirty;
    pthread_mutex_unlock(&dirty_cache.lock);
    return d;
}

void source_detect(source_info *out)
{
    char cwd[PATH_MAX];
    git_repo repo;
    source_user(out->user, sizeof out->user);
    source_host(out->host, sizeof out->host);
    out->commit[0] = '\0';
    out->dirty = SOURCE_DIRTY_UNKNOWN;
    if (getcwd(cwd, sizeof cwd) && find_repo(cwd, &repo) && repo_commit(&repo, out->commit))
        out->dirty = repo_dirty_once(&repo, out->commit);
}

size_t source_tags(const source_info *src, cairn_kv out[SOURCE_TAGS_MAX])
{
    size_t n = 0;
    out[n++] = (cairn_kv){"cairn.user", src->user};
    out[n++] = (cairn_kv){"cairn.host", src->host};
    if (src->commit[0]) {
        out[n++] = (cairn_kv){"cairn.git.commit", src->commit};
        if (src->dirty != SOURCE_DIRTY_UNKNOWN)
            out[n++] = (cairn_kv){"cairn.git.dirty", src->dirty == SOURCE_DIRTY ? "true" : "false"};
    }
    return n;
}
