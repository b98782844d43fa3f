#include "agent_id.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "daemon_data_dir.h"
#include "error.h"

static cairn_status read_id(const char *path, ulid *out, bool *found, cairn_error *err)
{
    char text[64] = {0};
    *found = false;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0 && errno == ENOENT)
        return CAIRN_OK;
    if (fd < 0)
        return error_set(err, CAIRN_IO_ERROR, "open %s: %s", path, strerror(errno));
    ssize_t n = read(fd, text, sizeof text - 1);
    close(fd);
    if (n >= ULID_TEXT_LEN)
        text[ULID_TEXT_LEN] = '\0';
    if (n < ULID_TEXT_LEN || !ulid_parse(text, out))
        return error_set(err, CAIRN_INVALID_STATE,
                         "%s does not hold an agent id (26-character ULID); remove it to make a "
                         "new identity", path);
    *found = true;
    return CAIRN_OK;
}

static cairn_status write_id(const char *data_dir, const char *path, const ulid *id,
                             cairn_error *err)
{
    char tmp[PATH_MAX], text[ULID_TEXT_LEN + 2];
    ulid_format(id, text);
    text[ULID_TEXT_LEN] = '\n';
    text[ULID_TEXT_LEN + 1] = '\0';
    if (snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp)
        return error_set(err, CAIRN_INVALID_PARAMETER_VALUE, "path too long: %s", path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
    if (fd < 0)
        return error_set(err, CAIRN_IO_ERROR, "create %s: %s", tmp, strerror(errno));
    bool ok = write(fd, text, ULID_TEXT_LEN + 1) == ULID_TEXT_LEN + 1 && fsync(fd) == 0;
    int e = errno;
    close(fd);
    if (!ok || rename(tmp, path) != 0) {
        e = ok ? errno : e;
        unlink(tmp);
        return error_set(err, CAIRN_IO_ERROR, "write %s: %s", path, strerror(e));
    }
    return data_dir_sync(data_dir, err);
}

cairn_status agent_id_load(const char *data_dir, ulid *out, cairn_error *err)
{
    char path[PATH_MAX];
    bool found;
    if (snprintf(path, sizeof path, "%s/agent_id", data_dir) >= (int)sizeof path - 8)
        return error_set(err, CAIRN_INVALID_PARAMETER_VALUE, "data directory path too long");
    cairn_status st = read_id(path, out, &found, err);
    if (st || found)
        return st;
    *out = ulid_new();
    return write_id(data_dir, path, out, err);
}
