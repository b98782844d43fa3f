/* Opening a file the SDK will read whole (an artifact, a dataset's file). */
#ifndef CAIRN_REGULAR_FILE_H
#define CAIRN_REGULAR_FILE_H

#include "cairn/status.h"

/* Opens path for reading into *fd, or refuses it with INVALID_PARAMETER_VALUE
 * when it is not a regular file (a directory, a FIFO, a device). The open does
 * not block: a FIFO must not hang the thread that would read it (the tracker's
 * sender, for one). */
cairn_status regular_file_open(const char *path, int *fd, cairn_error *err);

#endif
