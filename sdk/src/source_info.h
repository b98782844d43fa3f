/*
 * Where a run comes from: the user, the host, the git commit of the working
 * directory and whether its work tree has uncommitted changes. The commit is
 * read from the .git directory directly, so that it works where the git
 * binary is not installed; only the dirty flag needs git (one `git status`
 * per process and commit, bounded in time).
 */
#ifndef CAIRN_SOURCE_INFO_H
#define CAIRN_SOURCE_INFO_H

#include <stdbool.h>
#include <stddef.h>

#include "cairn/client.h"

#define SOURCE_NAME_MAX 256
#define SOURCE_COMMIT_MAX 64 /* hex of a SHA-256 repository; SHA-1 ones use 40 */
#define SOURCE_TAGS_MAX 4
#define SOURCE_DIRTY_TIMEOUT_MS 1000 /* the longest a run start waits for git status */

typedef enum source_dirty {
    SOURCE_DIRTY_UNKNOWN = -1, /* no commit, no git, git failed or took too long */
    SOURCE_CLEAN = 0,
    SOURCE_DIRTY = 1,
} source_dirty;

typedef struct source_info {
    char user[SOURCE_NAME_MAX];
    char host[SOURCE_NAME_MAX];
    char commit[SOURCE_COMMIT_MAX + 1]; /* empty when not in a repository with commits */
    source_dirty dirty;                 /* known only with a commit */
} source_info;

/* The login name (passwd entry of the real uid, else $USER, else "unknown"). */
void source_user(char *buf, size_t cap);

/* The host name (else "unknown"). */
void source_host(char *buf, size_t cap);

/* The commit HEAD points at in the repository holding dir (a path; its parents
 * are searched for .git). False when there is none. */
bool source_git_commit(const char *dir, char out[SOURCE_COMMIT_MAX + 1]);

/* Whether tracked files of the work tree holding dir differ from HEAD (staged
 * or not; untracked files do not count), from `git status --porcelain
 * --untracked-files=no` run without a shell, waited for at most timeout_ms
 * (then killed). Unknown outside a work tree, without git, or when git fails. */
source_dirty source_git_dirty(const char *dir, int timeout_ms);

/* All of the above for the current working directory. The dirty flag is
 * asked of git once per process and commit: later runs on the same commit
 * reuse the answer. */
void source_detect(source_info *out);

/* The reserved tags of src: cairn.user, cairn.host, and with a commit
 * cairn.git.commit and, when known, cairn.git.dirty ("true" or "false").
 * Values point into src or at static strings. Returns how many. */
size_t source_tags(const source_info *src, cairn_kv out[SOURCE_TAGS_MAX]);

#endif
