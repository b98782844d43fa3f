#include "error.h"

#include <stdarg.h>
#include <stdio.h>

cairn_status error_set(cairn_error *err, cairn_status status, const char *fmt, ...)
{
    if (!err)
        return status;
    err->status = status;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->message, sizeof err->message, fmt, ap);
    va_end(ap);
    return status;
}

void error_clear(cairn_error *err)
{
    if (!err)
        return;
    err->status = CAIRN_OK;
    err->message[0] = '\0';
}
