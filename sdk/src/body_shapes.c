#include "body_shapes.h"

#include "body.h"
#include "error.h"
#include "utf8.h"

cairn_status body_metric_point(const msgpack_object *o, msg_str *key, double *value,
                               int64_t *step, int64_t *timestamp, cairn_error *err)
{
    if (o->type != MSGPACK_OBJECT_ARRAY || o->via.array.size != 4)
        return error_set(err, CAIRN_BAD_MESSAGE, "each metric must be [key, value, step, timestamp]");
    const msgpack_object *f = o->via.array.ptr;
    if (!obj_str(&f[0], key) || !obj_double(&f[1], value) || !obj_int(&f[2], step) ||
        !obj_int(&f[3], timestamp))
        return error_set(err, CAIRN_BAD_MESSAGE,
                         "each metric must be [key str, value number, step int, timestamp int]");
    return CAIRN_OK;
}

static cairn_status utf8_text(msg_str s, const char *what, cairn_error *err)
{
    if (utf8_check(s.p, s.n, true) == UTF8_INVALID)
        return error_set(err, CAIRN_INVALID_PARAMETER_VALUE, "%s is not valid UTF-8", what);
    return CAIRN_OK;
}

static cairn_status str_map(const msgpack_object *b, const char *field, const char *what,
                            cairn_error *err)
{
    const msgpack_object *map = body_find(b, field);
    if (!map || map->type == MSGPACK_OBJECT_NIL)
        return CAIRN_OK;
    if (map->type != MSGPACK_OBJECT_MAP)
        return error_set(err, CAIRN_BAD_MESSAGE, "'%s' must be a map", field);
    cairn_status st = CAIRN_OK;
    for (uint32_t i = 0; !st && i < map->via.map.size; i++) {
        msg_str k, v;
        if (!obj_str(&map->via.map.ptr[i].key, &k) || !obj_str(&map->via.map.ptr[i].val, &v))
            return error_set(err, CAIRN_BAD_MESSAGE, "%ss must map strings to strings", what);
        st = utf8_text(k, what, err);
        if (!st)
            st = utf8_text(v, what, err);
    }
    return st;
}

static cairn_status metrics(const msgpack_object *b, cairn_error *err)
{
    const msgpack_object *arr = body_find(b, "metrics");
    if (!arr || arr->type == MSGPACK_OBJECT_NIL)
        return CAIRN_OK;
    if (arr->type != MSGPACK_OBJECT_ARRAY)
        return error_set(err, CAIRN_BAD_MESSAGE, "'metrics' must be an array");
    cairn_status st = CAIRN_OK;
    for (uint32_t i = 0; !st && i < arr->via.array.size; i++) {
        msg_str key;
        double value;
        int64_t step, ts;
        st = body_metric_point(&arr->via.array.ptr[i], &key, &value, &step, &ts, err);
        if (!st)
            st = utf8_text(key, "metric key", err);
    }
    return st;
}

static cairn_status deleted_tags(const msgpack_object *b, cairn_error *err)
{
    const msgpack_object *arr = body_find(b, "delete_tags");
    if (!arr || arr->type == MSGPACK_OBJECT_NIL)
        return CAIRN_OK;
    if (arr->type != MSGPACK_OBJECT_ARRAY)
        return error_set(err, CAIRN_BAD_MESSAGE, "delete_tags must be an array of strings");
    cairn_status st = CAIRN_OK;
    for (uint32_t i = 0; !st && i < arr->via.array.size; i++) {
        msg_str k;
        if (!obj_str(&arr->via.array.ptr[i], &k))
            return error_set(err, CAIRN_BAD_MESSAGE, "delete_tags must be an array of strings");
        st = utf8_text(k, "tag key", err);
    }
    return st;
}

cairn_status body_run_log_shape(const msgpack_object *body, cairn_error *err)
{
    cairn_status st = str_map(body, "params", "param", err);
    if (!st)
        st = str_map(body, "tags", "tag", err);
    if (!st)
        st = metrics(body, err);
    return st ? st : deleted_tags(body, err);
}
