#include "source_info.h"

#include <ctype.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

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

/* Finds the git directory for dir or its nearest parent that has one. */
static bool find_git_dir(const char *start, char *gitdir, size_t cap)
{
    char dir[PATH_MAX], dotgit[PATH_MAX];
    if (!copy_path(dir, sizeof dir, start))
        return false;
    for (;;) {
        struct stat st;
        if (join(dotgit, sizeof dotgit, dir, ".git") && stat(dotgit, &st) == 0) {
            if (S_ISDIR(st.st_mode))
                return copy_path(gitdir, cap, dotgit);
            if (S_ISREG(st.st_mode))
                return follow_gitfile(dir, dotgit, gitdir, cap);
        }
        char *slash = strrchr(dir, '/');
        if (!slash || slash == dir)
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

bool source_git_commit(const char *dir, char out[SOURCE_COMMIT_MAX + 1])
{
    char gitdir[PATH_MAX], common[PATH_MAX], head[PATH_MAX], value[PATH_MAX];
    out[0] = '\0';
    if (!find_git_dir(dir, gitdir, sizeof gitdir))
        return false;
    find_common_dir(gitdir, common, sizeof common);
    if (!join(head, sizeof head, gitdir, "HEAD") || !read_line(head, value, sizeof value))
        return false;
    if (!resolve_value(gitdir, common, value, 0, out, SOURCE_COMMIT_MAX + 1)) {
        out[0] = '\0'; /* e.g. a branch without commits yet */
        return false;
    }
    return true;
}

void source_detect(source_info *out)
{
    char cwd[PATH_MAX];
    source_user(out->user, sizeof out->user);
    source_host(out->host, sizeof out->host);
    out->commit[0] = '\0';
    if (getcwd(cwd, sizeof cwd))
        source_git_commit(cwd, out->commit);
}
