/* Paced write-back of large files (see daemon_writeback.h). */
#include "daemon_writeback.h"

#include <errno.h>
#include <fcntl.h>

/* Without this a file's bytes sit dirty in the page cache until its
 * fdatasync, which then writes them all at once: 1.6 s for 1 GiB on the
 * development VM, during which the daemon answers no one. The bytes waited
 * for were handed to the disk several pieces ago, so the wait is usually
 * nothing; when the disk is slower than the sender it paces the sender.
 * Starting the write-back reports nothing that waiting would not. */
int writeback_pace(int fd, uint64_t from, size_t n)
{
    sync_file_range(fd, (off_t)from, (off_t)n, SYNC_FILE_RANGE_WRITE);
    uint64_t end = from + n;
    if (end <= WRITEBACK_LAG)
        return 0;
    uint64_t settled = end - WRITEBACK_LAG;
    uint64_t start = settled > n ? settled - n : 0;
    if (sync_file_range(fd, (off_t)start, (off_t)(settled - start),
                        SYNC_FILE_RANGE_WAIT_BEFORE | SYNC_FILE_RANGE_WRITE |
                            SYNC_FILE_RANGE_WAIT_AFTER) == 0)
        return 0;
    /* The wait reports a write-back error once for this open file, as an
     * fsync does: the file's fdatasync would then return 0 for bytes that
     * never reached the disk. Only a file the call does not apply to (it
     * waited for nothing) is not an error. */
    return errno == EINVAL || errno == ESPIPE || errno == ENOSYS ? 0 : -1;
}
