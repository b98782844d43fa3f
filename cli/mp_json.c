#include "mp_json.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "format.h"
#include "utf8.h"

#define REPLACEMENT "\xef\xbf\xbd"

/* ---- msgpack to JSON ---- */

/* jansson refuses bytes that are not UTF-8: each byte that starts no valid
 * sequence becomes U+FFFD. */
static json_t *text(const char *p, size_t n)
{
    json_t *j = json_stringn(p, n);
    size_t len;
    char *fixed = j ? NULL : utf8_repair(p, n, &len);
    if (j || !fixed)
        return j;
    j = json_stringn(fixed, len);
    free(fixed);
    return j;
}

static json_t *hex(const char *p, size_t n)
{
    static const char digits[] = "0123456789abcdef";
    char *s = malloc(n * 2 + 1);
    if (!s)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        s[2 * i] = digits[(unsigned char)p[i] >> 4];
        s[2 * i + 1] = digits[(unsigned char)p[i] & 15];
    }
    json_t *j = json_stringn(s, n * 2);
    free(s);
    return j;
}

static json_t *number(double v)
{
    if (isnan(v))
        return json_string("NaN");
    if (isinf(v))
        return json_string(v > 0 ? "Infinity" : "-Infinity");
    return json_real(v);
}

bool json_put(json_t *obj, const char *key, json_t *value)
{
    if (!obj || !value) {
        json_decref(value);
        return false;
    }
    return json_object_set_new(obj, key, value) == 0;
}

/* A map key as object key: a string as it is (bad UTF-8 repaired), anything
 * else as its compact JSON text. */
static char *key_text(const msgpack_object *k)
{
    json_t *j = mp_to_json(k);
    char *s = NULL;
    if (j && json_is_string(j))
        s = strdup(json_string_value(j));
    else if (j)
        s = json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY);
    json_decref(j);
    return s;
}

static json_t *object(const msgpack_object_map *m)
{
    json_t *o = json_object();
    for (uint32_t i = 0; o && i < m->size; i++) {
        char *k = key_text(&m->ptr[i].key);
        bool ok = k && json_put(o, k, mp_to_json(&m->ptr[i].val));
        free(k);
        if (!ok) {
            json_decref(o);
            return NULL;
        }
    }
    return o;
}

static json_t *array(const msgpack_object_array *a)
{
    json_t *arr = json_array();
    for (uint32_t i = 0; arr && i < a->size; i++) {
        json_t *v = mp_to_json(&a->ptr[i]);
        if (!v || json_array_append_new(arr, v) != 0) {
            json_decref(arr);
            return NULL;
        }
    }
    return arr;
}

json_t *json_str(const char *s)
{
    return s ? text(s, strlen(s)) : json_null();
}

json_t *mp_to_json(const msgpack_object *o)
{
    switch (o->type) {
    case MSGPACK_OBJECT_BOOLEAN:
        return json_boolean(o->via.boolean);
    case MSGPACK_OBJECT_POSITIVE_INTEGER:
        return json_integer(o->via.u64 > INT64_MAX ? INT64_MAX : (json_int_t)o->via.u64);
    case MSGPACK_OBJECT_NEGATIVE_INTEGER:
        return json_integer(o->via.i64);
    case MSGPACK_OBJECT_FLOAT32:
    case MSGPACK_OBJECT_FLOAT64:
        return number(o->via.f64);
    case MSGPACK_OBJECT_STR:
        return text(o->via.str.ptr, o->via.str.size);
    case MSGPACK_OBJECT_BIN:
        return hex(o->via.bin.ptr, o->via.bin.size);
    case MSGPACK_OBJECT_EXT:
        return hex(o->via.ext.ptr, o->via.ext.size);
    case MSGPACK_OBJECT_ARRAY:
        return array(&o->via.array);
    case MSGPACK_OBJECT_MAP:
        return object(&o->via.map);
    default:
        return json_null();
    }
}

/* ---- JSON text ---- */

/* Do all reals under j read back exactly when printed with `digits`? */
static bool exact_with(const json_t *j, int digits)
{
    char buf[40];
    const char *key;
    json_t *v;
    size_t i;
    switch (json_typeof(j)) {
    case JSON_REAL:
        snprintf(buf, sizeof buf, "%.*g", digits, json_real_value(j));
        return strtod(buf, NULL) == json_real_value(j);
    case JSON_OBJECT:
        json_object_foreach((json_t *)j, key, v)
            if (!exact_with(v, digits))
                return false;
        return true;
    case JSON_ARRAY:
        json_array_foreach(j, i, v)
            if (!exact_with(v, digits))
                return false;
        return true;
    default:
        return true;
    }
}

char *json_text(json_t *root)
{
    int digits = 15; /* fewer would print 100.0 as 1e+02 */
    while (root && digits < 17 && !exact_with(root, digits))
        digits++;
    char *s = root ? json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER |
                                          JSON_REAL_PRECISION(digits))
                   : NULL;
    json_decref(root);
    return s;
}

/* ---- table cells ---- */

static char *value_cell(const json_t *v)
{
    char num[FMT_NUM_LEN];
    if (json_is_string(v))
        return strdup(json_string_value(v));
    if (json_is_real(v))
        return strdup(fmt_double(json_real_value(v), num));
    return json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY | JSON_PRESERVE_ORDER);
}

char *json_kv_cell(const json_t *obj)
{
    char *cell = strdup(""), *grown;
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)obj, key, v) {
        char *value = value_cell(v);
        if (!cell || !value || asprintf(&grown, "%s%s%s=%s", cell, *cell ? " " : "", key, value) < 0)
            grown = NULL;
        free(cell);
        free(value);
        if (!(cell = grown))
            return NULL;
    }
    return cell;
}
