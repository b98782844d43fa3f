#include "daemon_data_dir.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "error.h"

cairn_status data_dir_make(const char *path, unsigned mode, cairn_error *err)
{
    char p[PATH_MAX];
    if (snprintf(p, sizeof p, "%s", path) >= (int)sizeof p)
        return error_set(err, CAIRN_INVALID_PARAMETER_VALUE, "path too long: %s", path);
    for (char *s = p + 1; *s; s++) {
        if (*s != '/')
            continue;
        *s = '\0';
        if (mkdir(p, (mode_t)mode) != 0 && errno != EEXIST)
            return error_set(err, CAIRN_IO_ERROR, "create %s: %s", p, strerror(errno));
        *s = '/';
    }
    if (mkdir(p, (mode_t)mode) != 0 && errno != EEXIST)
        return error_set(err, CAIRN_IO_ERROR, "create %s: %s", p, strerror(errno));
    return CAIRN_OK;
}

cairn_status data_dir_lock(const char *dir, const char *daemon, int *lock_fd, cairn_error *err)
{
    char path[PATH_MAX];
    *lock_fd = -1;
    cairn_status st = data_dir_make(dir, 0750, err);
    if (st)
        return st;
    snprintf(path, sizeof path, "%s/lock", dir);
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0640);
    if (fd < 0)
        return error_set(err, CAIRN_IO_ERROR, "open %s: %s", path, strerror(errno));
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        int e = errno;
        close(fd);
        if (e == EWOULDBLOCK)
            return error_set(err, CAIRN_INVALID_STATE,
                             "another %s is running on data directory %s", daemon, dir);
        return error_set(err, CAIRN_IO_ERROR, "lock %s: %s", path, strerror(e));
    }
    *lock_fd = fd;
    return CAIRN_OK;
}

cairn_status data_dir_sync(const char *dir, cairn_error *err)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return error_set(err, CAIRN_IO_ERROR, "open %s: %s", dir, strerror(errno));
    int rc = fsync(fd);
    int e = errno;
    close(fd);
    return rc ? error_set(err, CAIRN_IO_ERROR, "fsync %s: %s", dir, strerror(e)) : CAIRN_OK;
}
