#include "artifact_path.h"

#include <string.h>

#include "error.h"
#include "utf8.h"

/* A component "." or ".." would let a path name something outside the run. */
static bool dot_component(const char *p, uint32_t n)
{
    return (n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.');
}

cairn_status artifact_path_check(msg_str path, cairn_error *err)
{
    if (path.n == 0)
        return error_set(err, CAIRN_INVALID_PARAMETER_VALUE, "artifact path must not be empty");
    if (path.n > ARTIFACT_PATH_MAX)
        return error_set(err, CAIRN_LIMIT_EXCEEDED,
                         "artifact path of %u bytes exceeds the limit of %d bytes", path.n,
                         ARTIFACT_PATH_MAX);
    if (path.p[0] == '/')
        return error_set(err, CAIRN_INVALID_PARAMETER_VALUE, "artifact path must be relative");
    /* Listed as a msgpack str and shown in JSON: bytes that are not UTF-8
     * would be listed under a name (U+FFFD in their place) that downloads
     * nothing. */
    utf8_fault fault = utf8_check(path.p, path.n, false);
    if (fault == UTF8_INVALID)
        return error_set(err, CAIRN_INVALID_PARAMETER_VALUE, "artifact path is not valid UTF-8");
    if (fault != UTF8_CLEAN)
        return error_set(err, CAIRN_INVALID_PARAMETER_VALUE,
                         "artifact path must not hold control characters");
    uint32_t start = 0;
    for (uint32_t i = 0; i <= path.n; i++) {
        if (i == path.n || path.p[i] == '/') {
            if (i == start || dot_component(path.p + start, i - start))
                return error_set(err, CAIRN_INVALID_PARAMETER_VALUE,
                                 "artifact path '%.*s' has an empty, '.' or '..' component",
                                 (int)path.n, path.p);
            start = i + 1;
        }
    }
    return CAIRN_OK;
}

const char *path_base_name(const char *path)
{
    const char *slash = strrchr(path, '/');
    return slash ? slash + 1 : path;
}
