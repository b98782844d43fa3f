#include "fs_identity.h"

#include <errno.h>
#include <sys/fsuid.h>
#include <sys/syscall.h>
#include <unistd.h>

/* glibc's setgroups changes every thread; the system call, this one only. */
static int thread_setgroups(int n, const gid_t *groups)
{
    return (int)syscall(SYS_setgroups, (size_t)n, groups);
}

bool fs_identity_enter(const fs_identity *id, fs_saved *saved)
{
    if (!id->other)
        return true;
    saved->n = getgroups(FS_IDENTITY_MAX_GROUPS, saved->groups);
    if (saved->n < 0)
        return false;
    saved->uid = (uid_t)setfsuid((uid_t)-1);
    saved->gid = (gid_t)setfsgid((gid_t)-1);
    if (thread_setgroups(0, NULL) != 0)
        return false;
    setfsgid(id->gid);
    setfsuid(id->uid);
    /* Each call returns the id before it: asking again tells what holds. */
    if ((uid_t)setfsuid(id->uid) != id->uid || (gid_t)setfsgid(id->gid) != id->gid) {
        fs_identity_leave(id, saved);
        errno = EPERM;
        return false;
    }
    return true;
}

void fs_identity_leave(const fs_identity *id, const fs_saved *saved)
{
    if (!id->other)
        return;
    setfsuid(saved->uid);
    setfsgid(saved->gid);
    thread_setgroups(saved->n, saved->groups);
}
