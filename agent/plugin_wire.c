/* Frames between the agent and an isolated plugin (see plugin_wire.h). */
#include "plugin_wire.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "body.h"
#include "msg.h"

void wire_init(wire *w, int fd)
{
    memset(w, 0, sizeof *w);
    w->fd = fd;
    msgpack_sbuffer_init(&w->out);
    msgpack_sbuffer_init(&w->frame);
    msgpack_packer_init(&w->pk, &w->frame, msgpack_sbuffer_write);
    msgpack_unpacked_init(&w->msg);
}

void wire_destroy(wire *w)
{
    if (w->fd >= 0)
        close(w->fd);
    w->fd = -1;
    msgpack_sbuffer_destroy(&w->out);
    msgpack_sbuffer_destroy(&w->frame);
    msgpack_unpacked_destroy(&w->msg);
    free(w->in);
    w->in = NULL;
}

msgpack_packer *wire_begin(wire *w, const char *verb, uint32_t n_args)
{
    msgpack_sbuffer_clear(&w->frame);
    msgpack_pack_array(&w->pk, n_args + 1);
    mp_str(&w->pk, verb);
    return &w->pk;
}

bool wire_pending(const wire *w) { return w->out.size > w->out_off; }

int wire_flush(wire *w)
{
    while (wire_pending(w)) {
        ssize_t n = write(w->fd, w->out.data + w->out_off, w->out.size - w->out_off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return 0;
        if (n <= 0)
            return -1;
        w->out_off += (size_t)n;
    }
    msgpack_sbuffer_clear(&w->out);
    w->out_off = 0;
    return 0;
}

int wire_end(wire *w)
{
    if (w->fd < 0 || w->out.size - w->out_off + w->frame.size > WIRE_MAX_PENDING)
        return -1;
    unsigned char len[4] = {(unsigned char)(w->frame.size >> 24), (unsigned char)(w->frame.size >> 16),
                            (unsigned char)(w->frame.size >> 8), (unsigned char)w->frame.size};
    msgpack_sbuffer_write(&w->out, (const char *)len, 4);
    msgpack_sbuffer_write(&w->out, w->frame.data, w->frame.size);
    /* Small frames wait for the loop's POLLOUT, or for 64 KiB of company:
     * one write for many events. */
    return w->out.size - w->out_off >= WIRE_BATCH_BYTES ? wire_flush(w) : 0;
}

int wire_read(wire *w)
{
    if (w->in_off && w->in_off == w->in_len)
        w->in_off = w->in_len = 0;
    for (;;) {
        if (w->in_cap - w->in_len < 65536) {
            /* Move what is left to the front before growing. */
            if (w->in_off) {
                memmove(w->in, w->in + w->in_off, w->in_len - w->in_off);
                w->in_len -= w->in_off;
                w->in_off = 0;
            }
            size_t cap = w->in_cap ? w->in_cap * 2 : 131072;
            if (cap > 2 * WIRE_MAX_FRAME + 131072)
                return w->in_cap - w->in_len > 0 ? 0 : -1;
            char *p = realloc(w->in, cap);
            if (!p)
                return -1;
            w->in = p;
            w->in_cap = cap;
        }
        ssize_t n = read(w->fd, w->in + w->in_len, w->in_cap - w->in_len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return 0;
        if (n <= 0)
            return -1;
        w->in_len += (size_t)n;
    }
}

bool wire_next(wire *w, msgpack_object **args, uint32_t *n_args, char *verb, size_t verb_cap)
{
    size_t avail = w->in_len - w->in_off;
    if (avail < 4)
        return false;
    const unsigned char *p = (const unsigned char *)w->in + w->in_off;
    size_t len = (size_t)p[0] << 24 | (size_t)p[1] << 16 | (size_t)p[2] << 8 | p[3];
    if (len > WIRE_MAX_FRAME || avail < 4 + len)
        return false;
    w->in_off += 4 + len;
    if (msgpack_unpack_next(&w->msg, (const char *)p + 4, len, NULL) != MSGPACK_UNPACK_SUCCESS)
        return false;
    msgpack_object *o = &w->msg.data;
    msg_str v;
    if (o->type != MSGPACK_OBJECT_ARRAY || o->via.array.size < 1 || !obj_str(o->via.array.ptr, &v))
        return false;
    msg_str_copy(v, verb, verb_cap);
    *args = o->via.array.ptr + 1;
    *n_args = o->via.array.size - 1;
    return true;
}

/* key -> [line, value]: the line keeps messages about the file exact. */
void wire_pack_settings(msgpack_packer *pk, const plugin_settings *s)
{
    msgpack_pack_map(pk, s->n);
    for (size_t i = 0; i < s->n; i++) {
        const plugin_setting *v = &s->v[i];
        mp_str(pk, v->key);
        msgpack_pack_array(pk, 2);
        msgpack_pack_int(pk, v->line);
        switch (v->kind) {
        case SETTING_STRING: mp_str(pk, v->str); break;
        case SETTING_INT: msgpack_pack_int64(pk, v->i); break;
        case SETTING_FLOAT: msgpack_pack_double(pk, v->f); break;
        case SETTING_BOOL: mp_bool(pk, v->b); break;
        case SETTING_STRING_LIST:
            msgpack_pack_array(pk, v->n_list);
            for (size_t k = 0; k < v->n_list; k++)
                mp_str(pk, v->list[k]);
            break;
        default: msgpack_pack_nil(pk); break;
        }
    }
}

static char *dup_str(const msgpack_object *o)
{
    msg_str s;
    if (!obj_str(o, &s))
        return NULL;
    char *p = malloc(s.n + 1);
    if (p)
        msg_str_copy(s, p, s.n + 1);
    return p;
}

static bool read_setting(const msgpack_object_kv *kv, plugin_setting *v)
{
    const msgpack_object *pair = &kv->val;
    int64_t line = 0;
    if (pair->type != MSGPACK_OBJECT_ARRAY || pair->via.array.size != 2 ||
        !obj_int(&pair->via.array.ptr[0], &line) || !(v->key = dup_str(&kv->key)))
        return false;
    v->line = (int)line;
    const msgpack_object *o = &pair->via.array.ptr[1];
    switch (o->type) {
    case MSGPACK_OBJECT_STR: v->kind = SETTING_STRING; return (v->str = dup_str(o)) != NULL;
    case MSGPACK_OBJECT_POSITIVE_INTEGER:
    case MSGPACK_OBJECT_NEGATIVE_INTEGER: v->kind = SETTING_INT; return obj_int(o, &v->i);
    case MSGPACK_OBJECT_FLOAT32:
    case MSGPACK_OBJECT_FLOAT64: v->kind = SETTING_FLOAT; v->f = o->via.f64; return true;
    case MSGPACK_OBJECT_BOOLEAN: v->kind = SETTING_BOOL; v->b = o->via.boolean; return true;
    case MSGPACK_OBJECT_ARRAY:
        v->kind = SETTING_STRING_LIST;
        v->list = calloc(o->via.array.size + 1, sizeof *v->list);
        for (uint32_t i = 0; v->list && i < o->via.array.size; i++)
            if (!(v->list[v->n_list++] = dup_str(&o->via.array.ptr[i])))
                return false;
        return v->list != NULL;
    default: v->kind = SETTING_OTHER; return true;
    }
}

bool wire_read_settings(const msgpack_object *o, plugin_settings *out)
{
    memset(out, 0, sizeof *out);
    if (o->type != MSGPACK_OBJECT_MAP)
        return false;
    out->v = calloc(o->via.map.size + 1, sizeof *out->v);
    if (!out->v)
        return false;
    for (uint32_t i = 0; i < o->via.map.size; i++) {
        out->n++;
        if (!read_setting(&o->via.map.ptr[i], &out->v[i])) {
            plugin_settings_free(out);
            return false;
        }
    }
    return true;
}

bool wire_event_view(const msgpack_object *o, cairn_event *ev)
{
    msg_str type, source = {"", 0};
    int64_t time = 0;
    const msgpack_object *fields = NULL;
    if (body_str(o, "type", true, &type, NULL) || !event_type_valid(type.p, type.n))
        return false;
    body_str(o, "source", false, &source, NULL);
    body_int(o, "time", false, &time, NULL);
    body_map(o, "fields", false, &fields, NULL);
    event_view(ev, type.p, type.n, source.p, source.n, time, fields);
    return true;
}
