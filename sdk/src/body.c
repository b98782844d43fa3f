#include "body.h"

#include <string.h>

#include "error.h"

const msgpack_object *body_find(const msgpack_object *map, const char *key)
{
    if (!map || map->type != MSGPACK_OBJECT_MAP)
        return NULL;
    size_t n = strlen(key);
    for (uint32_t i = 0; i < map->via.map.size; i++) {
        const msgpack_object *k = &map->via.map.ptr[i].key;
        if (k->type == MSGPACK_OBJECT_STR && k->via.str.size == n &&
            memcmp(k->via.str.ptr, key, n) == 0)
            return &map->via.map.ptr[i].val;
    }
    return NULL;
}

bool obj_int(const msgpack_object *o, int64_t *out)
{
    if (o->type == MSGPACK_OBJECT_POSITIVE_INTEGER && o->via.u64 <= INT64_MAX) {
        *out = (int64_t)o->via.u64;
        return true;
    }
    if (o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER) {
        *out = o->via.i64;
        return true;
    }
    return false;
}

bool obj_double(const msgpack_object *o, double *out)
{
    switch (o->type) {
    case MSGPACK_OBJECT_FLOAT32:
    case MSGPACK_OBJECT_FLOAT64:
        *out = o->via.f64;
        return true;
    case MSGPACK_OBJECT_POSITIVE_INTEGER:
        *out = (double)o->via.u64;
        return true;
    case MSGPACK_OBJECT_NEGATIVE_INTEGER:
        *out = (double)o->via.i64;
        return true;
    default:
        return false;
    }
}

bool obj_str(const msgpack_object *o, msg_str *out)
{
    if (o->type != MSGPACK_OBJECT_STR)
        return false;
    out->p = o->via.str.ptr;
    out->n = o->via.str.size;
    return true;
}

/* Finds key; reports a missing required field. *o is NULL when absent. */
static cairn_status lookup(const msgpack_object *map, const char *key, bool required,
                           const msgpack_object **o, cairn_error *err)
{
    *o = body_find(map, key);
    if (!*o && required)
        return error_set(err, CAIRN_BAD_MESSAGE, "missing field '%s'", key);
    return CAIRN_OK;
}

static cairn_status wrong_type(const char *key, const char *expected, cairn_error *err)
{
    return error_set(err, CAIRN_BAD_MESSAGE, "field '%s' must be %s", key, expected);
}

cairn_status body_str(const msgpack_object *map, const char *key, bool required, msg_str *out,
                      cairn_error *err)
{
    const msgpack_object *o;
    cairn_status st = lookup(map, key, required, &o, err);
    if (st || !o)
        return st;
    return obj_str(o, out) ? CAIRN_OK : wrong_type(key, "a string", err);
}

cairn_status body_bin(const msgpack_object *map, const char *key, bool required, msg_str *out,
                      cairn_error *err)
{
    const msgpack_object *o;
    cairn_status st = lookup(map, key, required, &o, err);
    if (st || !o)
        return st;
    if (o->type != MSGPACK_OBJECT_BIN)
        return wrong_type(key, "bin", err);
    out->p = o->via.bin.ptr;
    out->n = o->via.bin.size;
    return CAIRN_OK;
}

cairn_status body_ulid(const msgpack_object *map, const char *key, bool required, ulid *out,
                       cairn_error *err)
{
    const msgpack_object *o;
    cairn_status st = lookup(map, key, required, &o, err);
    if (st || !o)
        return st;
    if (o->type != MSGPACK_OBJECT_BIN || o->via.bin.size != ULID_BYTES)
        return wrong_type(key, "a 16-byte id (bin)", err);
    memcpy(out->b, o->via.bin.ptr, ULID_BYTES);
    return CAIRN_OK;
}

cairn_status body_int(const msgpack_object *map, const char *key, bool required, int64_t *out,
                      cairn_error *err)
{
    const msgpack_object *o;
    cairn_status st = lookup(map, key, required, &o, err);
    if (st || !o)
        return st;
    return obj_int(o, out) ? CAIRN_OK : wrong_type(key, "an integer", err);
}

cairn_status body_double(const msgpack_object *map, const char *key, bool required, double *out,
                         cairn_error *err)
{
    const msgpack_object *o;
    cairn_status st = lookup(map, key, required, &o, err);
    if (st || !o)
        return st;
    return obj_double(o, out) ? CAIRN_OK : wrong_type(key, "a number", err);
}

cairn_status body_bool(const msgpack_object *map, const char *key, bool required, bool *out,
                       cairn_error *err)
{
    const msgpack_object *o;
    cairn_status st = lookup(map, key, required, &o, err);
    if (st || !o)
        return st;
    if (o->type != MSGPACK_OBJECT_BOOLEAN)
        return wrong_type(key, "a boolean", err);
    *out = o->via.boolean;
    return CAIRN_OK;
}

static cairn_status body_typed(const msgpack_object *map, const char *key, bool required,
                               msgpack_object_type type, const char *type_name,
                               const msgpack_object **out, cairn_error *err)
{
    const msgpack_object *o;
    cairn_status st = lookup(map, key, required, &o, err);
    if (st || !o)
        return st;
    if (o->type != type)
        return wrong_type(key, type_name, err);
    *out = o;
    return CAIRN_OK;
}

cairn_status body_map(const msgpack_object *map, const char *key, bool required,
                      const msgpack_object **out, cairn_error *err)
{
    return body_typed(map, key, required, MSGPACK_OBJECT_MAP, "a map", out, err);
}

cairn_status body_array(const msgpack_object *map, const char *key, bool required,
                        const msgpack_object **out, cairn_error *err)
{
    return body_typed(map, key, required, MSGPACK_OBJECT_ARRAY, "an array", out, err);
}
