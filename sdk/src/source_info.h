/*
 * Where a run comes from: the user, the host, and the git commit of the
 * working directory. Read from the system and from the .git directory
 * directly, so that logging a run never spawns a process and works where
 * the git binary is not installed.
 */
#ifndef CAIRN_SOURCE_INFO_H
#define CAIRN_SOURCE_INFO_H

#include <stdbool.h>
#include <stddef.h>

#define SOURCE_NAME_MAX 256
#define SOURCE_COMMIT_MAX 64 /* hex of a SHA-256 repository; SHA-1 ones use 40 */

typedef struct source_info {
    char user[SOURCE_NAME_MAX];
    char host[SOURCE_NAME_MAX];
    char commit[SOURCE_COMMIT_MAX + 1]; /* empty when not in a repository with commits */
} source_info;

/* The login name (passwd entry of the real uid, else $USER, else "unknown"). */
void source_user(char *buf, size_t cap);

/* The host name (else "unknown"). */
void source_host(char *buf, size_t cap);

/* The commit HEAD points at in the repository holding dir (a path; its parents
 * are searched for .git). False when there is none. */
bool source_git_commit(const char *dir, char out[SOURCE_COMMIT_MAX + 1]);

/* All of the above for the current working directory. */
void source_detect(source_info *out);

#endif
