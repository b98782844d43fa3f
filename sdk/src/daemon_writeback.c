/* Paced write-back of large files (see daemon_writeback.h). */
#include "daemon_writeback.h"

#include <fcntl.h>

/* Without this a file's bytes sit dirty in the page cache until its
 * fdatasync, which then writes them all at once: 1.6 s for 1 GiB on the
 * development VM, during which the daemon answers no one. The bytes waited
 * for were handed to the disk several pieces ago, so the wait is usually
 * nothing; when the disk is slower than the sender it paces the sender.
 * The results are not checked: a write-back error is reported by the
 * fdatasync that follows. */
void writeback_pace(int fd, uint64_t from, size_t n)
{
    sync_file_range(fd, (off_t)from, (off_t)n, SYNC_FILE_RANGE_WRITE);
    uint64_t end = from + n;
    if (end <= WRITEBACK_LAG)
        return;
    uint64_t settled = end - WRITEBACK_LAG;
    uint64_t start = settled > n ? settled - n : 0;
    sync_file_range(fd, (off_t)start, (off_t)(settled - start),
                    SYNC_FILE_RANGE_WAIT_BEFORE | SYNC_FILE_RANGE_WRITE | SYNC_FILE_RANGE_WAIT_AFTER);
}
