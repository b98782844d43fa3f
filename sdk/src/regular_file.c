#include "regular_file.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "error.h"

cairn_status regular_file_open(const char *path, int *fd, cairn_error *err)
{
    struct stat st;
    /* O_NONBLOCK: opening a FIFO would otherwise wait for a writer; for a
     * regular file it changes nothing. */
    *fd = open(path, O_RDONLY | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
    if (*fd < 0)
        return error_set(err, CAIRN_IO_ERROR, "cannot open %s: %s", path, strerror(errno));
    if (fstat(*fd, &st) == 0 && S_ISREG(st.st_mode)) {
        posix_fadvise(*fd, 0, 0, POSIX_FADV_SEQUENTIAL);
        return CAIRN_OK;
    }
    close(*fd);
    *fd = -1;
    return error_set(err, CAIRN_INVALID_PARAMETER_VALUE, "%s is not a regular file", path);
}
