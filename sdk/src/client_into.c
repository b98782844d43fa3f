/*
 * The end every read of a struct shares: send, allocate, decode, and free
 * again when the body does not decode, so that no caller gets half a result.
 */
#include <stdlib.h>

#include "client_internal.h"
#include "error.h"

cairn_status client_call_into(cairn_client *c, size_t size, body_decoder decode, void **out,
                              cairn_error *err)
{
    const msgpack_object *body;
    cairn_status st = client_call(c, &body, err);
    if (st)
        return st;
    void *p = calloc(1, size);
    if (!p)
        return error_set(err, CAIRN_OUT_OF_MEMORY, "out of memory");
    if ((st = decode(body, p, err))) {
        free(p);
        return st;
    }
    *out = p;
    return CAIRN_OK;
}
