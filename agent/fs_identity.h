/*
 * File operations done by the agent on behalf of a plugin that runs as
 * another user (plugins.user): a blob fetched into a path the plugin names
 * is created and renamed with that user's permissions, so a plugin cannot
 * make the agent, root, write where the plugin itself may not.
 *
 * The file-system ids (setfsuid, setfsgid) and, through the raw system call,
 * the supplementary groups are per thread on Linux: only the calling thread,
 * for the duration of the operation, acts as the user.
 */
#ifndef CAIRN_AGENT_FS_IDENTITY_H
#define CAIRN_AGENT_FS_IDENTITY_H

#include <stdbool.h>
#include <sys/types.h>

typedef struct fs_identity {
    bool other; /* false: the agent's own identity, nothing to change */
    uid_t uid;
    gid_t gid;
} fs_identity;

#define FS_IDENTITY_MAX_GROUPS 256

typedef struct fs_saved {
    gid_t groups[FS_IDENTITY_MAX_GROUPS];
    int n;
    uid_t uid;
    gid_t gid;
} fs_saved;

/* Acts as id from here; false (errno set) when the switch did not take, and
 * then nothing changed. */
bool fs_identity_enter(const fs_identity *id, fs_saved *saved);
/* Back to the agent's own identity. */
void fs_identity_leave(const fs_identity *id, const fs_saved *saved);

#endif
