/* Filling a cairn_error in one call, so that failing paths stay one line. */
#ifndef CAIRN_ERROR_INTERNAL_H
#define CAIRN_ERROR_INTERNAL_H

#include "cairn/status.h"

/* Sets err (when not NULL) and returns status, so callers can write
 * `return error_set(err, CAIRN_IO_ERROR, "open %s: %s", path, strerror(errno));` */
cairn_status error_set(cairn_error *err, cairn_status status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Clears err to CAIRN_OK with an empty message. */
void error_clear(cairn_error *err);

#endif
