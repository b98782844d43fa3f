/* Events to and from JSON (see plugin_json.h). */
#include "plugin_json.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "clock.h"
#include "error.h"
#include "msg.h"

static void pack_json(msgpack_packer *pk, json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT: {
        msgpack_pack_map(pk, (uint32_t)json_object_size(v));
        const char *k;
        json_t *x;
        json_object_foreach(v, k, x) {
            mp_str(pk, k);
            pack_json(pk, x);
        }
        break;
    }
    case JSON_ARRAY: {
        msgpack_pack_array(pk, (uint32_t)json_array_size(v));
        size_t i;
        json_t *x;
        json_array_foreach(v, i, x) pack_json(pk, x);
        break;
    }
    case JSON_STRING: mp_strn(pk, json_string_value(v), json_string_length(v)); break;
    case JSON_INTEGER: msgpack_pack_int64(pk, json_integer_value(v)); break;
    case JSON_REAL: msgpack_pack_double(pk, json_real_value(v)); break;
    case JSON_TRUE: msgpack_pack_true(pk); break;
    case JSON_FALSE: msgpack_pack_false(pk); break;
    default: msgpack_pack_nil(pk); break;
    }
}

cairn_event *event_from_json(const char *text, const char *source, cairn_error *err)
{
    json_error_t je;
    json_t *root = json_loads(text, 0, &je);
    if (!root || !json_is_object(root)) {
        error_set(err, CAIRN_BAD_MESSAGE, "not a JSON object: %s", root ? text : je.text);
        json_decref(root);
        return NULL;
    }
    const char *type = json_string_value(json_object_get(root, "type"));
    cairn_event *ev = type ? event_create(type, source, clock_wall_ms()) : NULL;
    if (!ev) {
        error_set(err, CAIRN_BAD_MESSAGE, "the event needs \"type\": [a-z0-9._-]{1,64}");
        json_decref(root);
        return NULL;
    }
    json_object_del(root, "type");
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    pack_json(&pk, root);
    json_decref(root);
    size_t off = 0;
    msgpack_object fields;
    /* Unpacking refers to the bytes rather than copying strings: the bytes
     * go into the event's own zone first, so the event owns its fields. */
    char *bytes = msgpack_zone_malloc(ev->zone, sb.size);
    if (bytes)
        memcpy(bytes, sb.data, sb.size);
    bool ok = bytes && msgpack_unpack(bytes, sb.size, &off, ev->zone, &fields) ==
                           MSGPACK_UNPACK_SUCCESS;
    msgpack_sbuffer_destroy(&sb);
    if (!ok) {
        error_set(err, CAIRN_BAD_MESSAGE, "cannot convert the event's fields");
        event_destroy(ev);
        return NULL;
    }
    ev->fields = fields;
    ev->cap = fields.via.map.size;
    return ev;
}

static json_t *hex(const char *p, uint32_t n)
{
    char buf[2 * 4096 + 1];
    if (n > 4096)
        n = 4096;
    for (uint32_t i = 0; i < n; i++)
        snprintf(buf + 2 * i, 3, "%02x", (unsigned char)p[i]);
    buf[2 * n] = '\0';
    return json_string(buf);
}

json_t *msgpack_to_json(const msgpack_object *o)
{
    switch (o->type) {
    case MSGPACK_OBJECT_BOOLEAN: return json_boolean(o->via.boolean);
    case MSGPACK_OBJECT_POSITIVE_INTEGER: return json_integer((json_int_t)o->via.u64);
    case MSGPACK_OBJECT_NEGATIVE_INTEGER: return json_integer(o->via.i64);
    case MSGPACK_OBJECT_FLOAT32:
    case MSGPACK_OBJECT_FLOAT64:
        /* JSON has no NaN or infinity: they travel as strings. */
        return isfinite(o->via.f64) ? json_real(o->via.f64)
                                    : json_string(isnan(o->via.f64) ? "NaN"
                                                  : o->via.f64 > 0  ? "Infinity"
                                                                    : "-Infinity");
    case MSGPACK_OBJECT_STR: {
        json_t *s = json_stringn(o->via.str.ptr, o->via.str.size);
        return s ? s : hex(o->via.str.ptr, o->via.str.size); /* not UTF-8 */
    }
    case MSGPACK_OBJECT_BIN: return hex(o->via.bin.ptr, o->via.bin.size);
    case MSGPACK_OBJECT_ARRAY: {
        json_t *a = json_array();
        for (uint32_t i = 0; i < o->via.array.size; i++)
            json_array_append_new(a, msgpack_to_json(&o->via.array.ptr[i]));
        return a;
    }
    case MSGPACK_OBJECT_MAP: {
        json_t *m = json_object();
        for (uint32_t i = 0; i < o->via.map.size; i++) {
            const msgpack_object *k = &o->via.map.ptr[i].key;
            char key[256];
            if (k->type == MSGPACK_OBJECT_STR)
                snprintf(key, sizeof key, "%.*s", (int)k->via.str.size, k->via.str.ptr);
            else
                snprintf(key, sizeof key, "#%u", i);
            json_object_set_new(m, key, msgpack_to_json(&o->via.map.ptr[i].val));
        }
        return m;
    }
    default: return json_null();
    }
}
