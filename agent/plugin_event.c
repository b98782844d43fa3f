/* Events as plugins see them (see plugin_event.h). */
#include "plugin_event.h"

#include <stdlib.h>
#include <string.h>

#include "body.h"
#include "msg.h"

bool event_type_valid(const char *type, size_t len)
{
    if (len == 0 || len > EVENT_TYPE_MAX)
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = type[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-'))
            return false;
    }
    return true;
}

bool event_type_matches(const char *subscription, const char *type)
{
    size_t n = strlen(subscription);
    if (n == 1 && subscription[0] == '*')
        return true;
    if (n > 0 && subscription[n - 1] == '.')
        return strncmp(subscription, type, n) == 0;
    return strcmp(subscription, type) == 0;
}

static void copy_text(char *dst, size_t cap, const char *src, size_t len)
{
    if (len >= cap)
        len = cap - 1;
    memcpy(dst, src, len);
    dst[len] = '\0';
}

cairn_event *event_create(const char *type, const char *source, int64_t time_ms)
{
    if (!type || !event_type_valid(type, strlen(type)))
        return NULL;
    cairn_event *ev = calloc(1, sizeof *ev);
    if (!ev)
        return NULL;
    ev->zone = msgpack_zone_new(512);
    if (!ev->zone) {
        free(ev);
        return NULL;
    }
    copy_text(ev->type, sizeof ev->type, type, strlen(type));
    copy_text(ev->source, sizeof ev->source, source, strlen(source));
    ev->time_ms = time_ms;
    ev->fields.type = MSGPACK_OBJECT_MAP;
    return ev;
}

void event_destroy(cairn_event *ev)
{
    if (!ev)
        return;
    if (ev->zone)
        msgpack_zone_free(ev->zone);
    free(ev);
}

void event_view(cairn_event *ev, const char *type, size_t type_len, const char *source,
                size_t source_len, int64_t time_ms, const msgpack_object *fields)
{
    memset(ev, 0, sizeof *ev);
    copy_text(ev->type, sizeof ev->type, type, type_len);
    copy_text(ev->source, sizeof ev->source, source, source_len);
    ev->time_ms = time_ms;
    if (fields && fields->type == MSGPACK_OBJECT_MAP)
        ev->fields = *fields;
    else
        ev->fields.type = MSGPACK_OBJECT_MAP;
}

/* ---- deep copy into a zone ---- */

static bool copy_object(msgpack_zone *z, const msgpack_object *src, msgpack_object *dst);

static bool copy_bytes(msgpack_zone *z, const char *src, uint32_t n, const char **dst)
{
    char *p = n ? msgpack_zone_malloc(z, n) : NULL;
    if (n && !p)
        return false;
    if (n)
        memcpy(p, src, n);
    *dst = p;
    return true;
}

static bool copy_object(msgpack_zone *z, const msgpack_object *src, msgpack_object *dst)
{
    *dst = *src;
    switch (src->type) {
    case MSGPACK_OBJECT_STR:
        return copy_bytes(z, src->via.str.ptr, src->via.str.size, &dst->via.str.ptr);
    case MSGPACK_OBJECT_BIN:
        return copy_bytes(z, src->via.bin.ptr, src->via.bin.size, &dst->via.bin.ptr);
    case MSGPACK_OBJECT_ARRAY: {
        uint32_t n = src->via.array.size;
        dst->via.array.ptr = n ? msgpack_zone_malloc(z, n * sizeof(msgpack_object)) : NULL;
        if (n && !dst->via.array.ptr)
            return false;
        for (uint32_t i = 0; i < n; i++)
            if (!copy_object(z, &src->via.array.ptr[i], &dst->via.array.ptr[i]))
                return false;
        return true;
    }
    case MSGPACK_OBJECT_MAP: {
        uint32_t n = src->via.map.size;
        dst->via.map.ptr = n ? msgpack_zone_malloc(z, n * sizeof(msgpack_object_kv)) : NULL;
        if (n && !dst->via.map.ptr)
            return false;
        for (uint32_t i = 0; i < n; i++)
            if (!copy_object(z, &src->via.map.ptr[i].key, &dst->via.map.ptr[i].key) ||
                !copy_object(z, &src->via.map.ptr[i].val, &dst->via.map.ptr[i].val))
                return false;
        return true;
    }
    case MSGPACK_OBJECT_EXT:
        return copy_bytes(z, src->via.ext.ptr, src->via.ext.size, &dst->via.ext.ptr);
    default:
        return true;
    }
}

cairn_event *event_clone(const cairn_event *src)
{
    cairn_event *ev = calloc(1, sizeof *ev);
    if (!ev)
        return NULL;
    *ev = *src;
    ev->zone = msgpack_zone_new(512);
    if (!ev->zone || !copy_object(ev->zone, &src->fields, &ev->fields)) {
        event_destroy(ev);
        return NULL;
    }
    ev->cap = ev->fields.via.map.size;
    return ev;
}

/* ---- size ---- */

/* At least the bytes o packs into (headers counted at their largest). */
static size_t object_size(const msgpack_object *o)
{
    size_t n = 9;
    if (o->type == MSGPACK_OBJECT_STR || o->type == MSGPACK_OBJECT_BIN)
        n += o->via.str.size;
    else if (o->type == MSGPACK_OBJECT_ARRAY)
        for (uint32_t i = 0; i < o->via.array.size; i++)
            n += object_size(&o->via.array.ptr[i]);
    else if (o->type == MSGPACK_OBJECT_MAP)
        for (uint32_t i = 0; i < o->via.map.size; i++)
            n += object_size(&o->via.map.ptr[i].key) + object_size(&o->via.map.ptr[i].val);
    return n;
}

size_t event_size(const cairn_event *ev)
{
    return 64 + strlen(ev->type) + strlen(ev->source) + object_size(&ev->fields);
}

/* ---- building ---- */

static bool name_valid(const char *name)
{
    size_t n = name ? strlen(name) : 0;
    if (n == 0 || n > EVENT_TYPE_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = name[i];
        if (c == '.' || (unsigned char)c < 0x20)
            return false; /* a dot would make the field unreachable by path */
    }
    return true;
}

/* The value slot for `name`, added when new. NULL for a name no field can
 * have, or past EVENT_FIELDS_MAX: that field is refused and the event stays
 * as it was (a JSON line with one dotted key keeps its other fields). Only
 * running out of memory, half way through, spoils the event. */
static msgpack_object *slot(cairn_event *ev, const char *name)
{
    if (!ev || !ev->zone || !name_valid(name))
        return NULL;
    msgpack_object_map *m = &ev->fields.via.map;
    size_t n = strlen(name);
    for (uint32_t i = 0; i < m->size; i++)
        if (m->ptr[i].key.via.str.size == n && memcmp(m->ptr[i].key.via.str.ptr, name, n) == 0)
            return &m->ptr[i].val;
    if (m->size == EVENT_FIELDS_MAX)
        return NULL;
    if (m->size == ev->cap) {
        /* The zone frees nothing before the event goes, so growth doubles. */
        uint32_t cap = ev->cap ? ev->cap * 2 : 8;
        msgpack_object_kv *p = msgpack_zone_malloc(ev->zone, cap * sizeof *p);
        if (!p) {
            ev->invalid = true;
            return NULL;
        }
        if (m->size)
            memcpy(p, m->ptr, m->size * sizeof *p);
        m->ptr = p;
        ev->cap = cap;
    }
    msgpack_object_kv *kv = &m->ptr[m->size];
    kv->key.type = MSGPACK_OBJECT_STR;
    kv->key.via.str.size = (uint32_t)n;
    if (!copy_bytes(ev->zone, name, (uint32_t)n, &kv->key.via.str.ptr)) {
        ev->invalid = true;
        return NULL;
    }
    m->size++;
    return &kv->val;
}

int event_set_string(cairn_event *ev, const char *name, const char *value)
{
    msgpack_object *v = slot(ev, name);
    if (!v)
        return -1;
    size_t n = value ? strlen(value) : 0;
    v->type = MSGPACK_OBJECT_STR;
    v->via.str.size = (uint32_t)n;
    if (n > UINT32_MAX || !copy_bytes(ev->zone, value, (uint32_t)n, &v->via.str.ptr)) {
        v->type = MSGPACK_OBJECT_NIL;
        ev->invalid = true;
        return -1;
    }
    return 0;
}

int event_set_int(cairn_event *ev, const char *name, int64_t value)
{
    msgpack_object *v = slot(ev, name);
    if (!v)
        return -1;
    v->type = value < 0 ? MSGPACK_OBJECT_NEGATIVE_INTEGER : MSGPACK_OBJECT_POSITIVE_INTEGER;
    if (value < 0)
        v->via.i64 = value;
    else
        v->via.u64 = (uint64_t)value;
    return 0;
}

int event_set_float(cairn_event *ev, const char *name, double value)
{
    msgpack_object *v = slot(ev, name);
    if (!v)
        return -1;
    v->type = MSGPACK_OBJECT_FLOAT64;
    v->via.f64 = value;
    return 0;
}

int event_set_bool(cairn_event *ev, const char *name, int value)
{
    msgpack_object *v = slot(ev, name);
    if (!v)
        return -1;
    v->type = MSGPACK_OBJECT_BOOLEAN;
    v->via.boolean = value != 0;
    return 0;
}

/* ---- reading ---- */

static const msgpack_object *step(const msgpack_object *o, const char *seg, size_t n)
{
    if (o->type == MSGPACK_OBJECT_MAP) {
        for (uint32_t i = 0; i < o->via.map.size; i++) {
            const msgpack_object *k = &o->via.map.ptr[i].key;
            if (k->type == MSGPACK_OBJECT_STR && k->via.str.size == n &&
                memcmp(k->via.str.ptr, seg, n) == 0)
                return &o->via.map.ptr[i].val;
        }
        return NULL;
    }
    if (o->type != MSGPACK_OBJECT_ARRAY || n == 0 || n > 9)
        return NULL;
    uint32_t index = 0;
    for (size_t i = 0; i < n; i++) {
        if (seg[i] < '0' || seg[i] > '9')
            return NULL;
        index = index * 10 + (uint32_t)(seg[i] - '0');
    }
    return index < o->via.array.size ? &o->via.array.ptr[index] : NULL;
}

const msgpack_object *event_lookup(const cairn_event *ev, const char *path)
{
    if (!ev || !path || !*path)
        return NULL;
    const msgpack_object *o = &ev->fields;
    while (o) {
        const char *dot = strchr(path, '.');
        size_t n = dot ? (size_t)(dot - path) : strlen(path);
        o = step(o, path, n);
        if (!dot)
            return o;
        path = dot + 1;
    }
    return NULL;
}

const char *event_type_of(const cairn_event *ev) { return ev ? ev->type : ""; }
int64_t event_time_of(const cairn_event *ev) { return ev ? ev->time_ms : 0; }
const char *event_source_of(const cairn_event *ev) { return ev ? ev->source : ""; }

cairn_field_type event_field_type(const cairn_event *ev, const char *path)
{
    const msgpack_object *o = event_lookup(ev, path);
    if (!o)
        return CAIRN_FIELD_NONE;
    switch (o->type) {
    case MSGPACK_OBJECT_NIL: return CAIRN_FIELD_NIL;
    case MSGPACK_OBJECT_BOOLEAN: return CAIRN_FIELD_BOOL;
    case MSGPACK_OBJECT_POSITIVE_INTEGER:
    case MSGPACK_OBJECT_NEGATIVE_INTEGER: return CAIRN_FIELD_INT;
    case MSGPACK_OBJECT_FLOAT32:
    case MSGPACK_OBJECT_FLOAT64: return CAIRN_FIELD_FLOAT;
    case MSGPACK_OBJECT_STR: return CAIRN_FIELD_STRING;
    case MSGPACK_OBJECT_BIN: return CAIRN_FIELD_BINARY;
    case MSGPACK_OBJECT_ARRAY: return CAIRN_FIELD_ARRAY;
    case MSGPACK_OBJECT_MAP: return CAIRN_FIELD_MAP;
    default: return CAIRN_FIELD_NONE;
    }
}

int event_get_string(const cairn_event *ev, const char *path, const char **value, size_t *len)
{
    const msgpack_object *o = event_lookup(ev, path);
    if (!o || o->type != MSGPACK_OBJECT_STR)
        return -1;
    *value = o->via.str.ptr;
    *len = o->via.str.size;
    return 0;
}

int event_get_int(const cairn_event *ev, const char *path, int64_t *value)
{
    const msgpack_object *o = event_lookup(ev, path);
    return o && obj_int(o, value) ? 0 : -1;
}

int event_get_float(const cairn_event *ev, const char *path, double *value)
{
    const msgpack_object *o = event_lookup(ev, path);
    return o && obj_double(o, value) ? 0 : -1;
}

int event_get_bool(const cairn_event *ev, const char *path, int *value)
{
    const msgpack_object *o = event_lookup(ev, path);
    if (!o || o->type != MSGPACK_OBJECT_BOOLEAN)
        return -1;
    *value = o->via.boolean;
    return 0;
}

size_t event_count(const cairn_event *ev, const char *path)
{
    const msgpack_object *o = path && *path ? event_lookup(ev, path) : (ev ? &ev->fields : NULL);
    if (!o)
        return 0;
    if (o->type == MSGPACK_OBJECT_ARRAY)
        return o->via.array.size;
    return o->type == MSGPACK_OBJECT_MAP ? o->via.map.size : 0;
}

void event_pack(msgpack_packer *pk, const cairn_event *ev)
{
    msgpack_pack_map(pk, 4);
    mp_str(pk, "type");
    mp_str(pk, ev->type);
    mp_str(pk, "source");
    mp_str(pk, ev->source);
    mp_str(pk, "time");
    msgpack_pack_int64(pk, ev->time_ms);
    mp_str(pk, "fields");
    msgpack_pack_object(pk, ev->fields);
}
