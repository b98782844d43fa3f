/*
 * Writing a large file in a daemon's one thread without a long fdatasync at
 * its end: each piece's write-back to the disk starts as it is written.
 */
#ifndef CAIRN_DAEMON_WRITEBACK_H
#define CAIRN_DAEMON_WRITEBACK_H

#include <stddef.h>
#include <stdint.h>

/* How far behind the newest byte a file's write-back may lag. */
#define WRITEBACK_LAG ((uint64_t)8 << 20)

/* After writing n bytes at offset `from` of fd, in a file written from its
 * start in order: starts their write-back and waits for that of the bytes
 * WRITEBACK_LAG behind them. Makes nothing durable (the file's fdatasync at
 * the end does). Returns -1 with errno when the disk refused bytes of the
 * file: the error is reported here, and no longer by the fdatasync, so the
 * file must be given up. */
int writeback_pace(int fd, uint64_t from, size_t n);

#endif
