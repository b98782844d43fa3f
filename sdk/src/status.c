#include "cairn/status.h"

#include <string.h>

static const char *const status_names[CAIRN_STATUS_COUNT_] = {
    [CAIRN_OK] = "OK",
    [CAIRN_INVALID_PARAMETER_VALUE] = "INVALID_PARAMETER_VALUE",
    [CAIRN_RESOURCE_DOES_NOT_EXIST] = "RESOURCE_DOES_NOT_EXIST",
    [CAIRN_RESOURCE_ALREADY_EXISTS] = "RESOURCE_ALREADY_EXISTS",
    [CAIRN_LIMIT_EXCEEDED] = "LIMIT_EXCEEDED",
    [CAIRN_BAD_MESSAGE] = "BAD_MESSAGE",
    [CAIRN_MESSAGE_TOO_LARGE] = "MESSAGE_TOO_LARGE",
    [CAIRN_UNSUPPORTED_VERSION] = "UNSUPPORTED_VERSION",
    [CAIRN_UNKNOWN_TYPE] = "UNKNOWN_TYPE",
    [CAIRN_STORAGE_ERROR] = "STORAGE_ERROR",
    [CAIRN_TIMEOUT] = "TIMEOUT",
    [CAIRN_TRANSPORT_ERROR] = "TRANSPORT_ERROR",
    [CAIRN_OUT_OF_MEMORY] = "OUT_OF_MEMORY",
    [CAIRN_IO_ERROR] = "IO_ERROR",
    [CAIRN_INTERNAL_ERROR] = "INTERNAL_ERROR",
    [CAIRN_INVALID_STATE] = "INVALID_STATE",
    [CAIRN_BACKPRESSURE] = "BACKPRESSURE",
    [CAIRN_COMMAND_FAILED] = "COMMAND_FAILED",
};

const char *cairn_status_name(cairn_status status)
{
    if ((unsigned)status >= CAIRN_STATUS_COUNT_)
        return "INTERNAL_ERROR";
    return status_names[status];
}

cairn_status cairn_status_from_name(const char *name, unsigned long len)
{
    for (int i = 0; i < CAIRN_STATUS_COUNT_; i++) {
        if (strlen(status_names[i]) == len && memcmp(status_names[i], name, len) == 0)
            return (cairn_status)i;
    }
    return CAIRN_INTERNAL_ERROR;
}
