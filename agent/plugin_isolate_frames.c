/* What an isolated plugin's child tells the agent (see plugin_wire.h):
 * ready, failed, emit, done, fetch, subscribe, pong. */
#include <stdlib.h>
#include <string.h>

#include "body.h"
#include "clock.h"
#include "kvlog.h"
#include "msg.h"
#include "plugin_isolate_internal.h"


static void on_ready(isolated *iso, const msgpack_object *info)
{
    plugin_instance *p = iso->p;
    int64_t kind = 0;
    msg_str version = {"", 0};
    const msgpack_object *subs = NULL;
    body_int(info, "kind", false, &kind, NULL);
    body_str(info, "version", false, &version, NULL);
    body_array(info, "subscriptions", false, &subs, NULL);
    p->kind = (cairn_plugin_kind)kind;
    msg_str_copy(version, p->version, sizeof p->version);
    p->n_subs = 0;
    for (uint32_t i = 0; subs && i < subs->via.array.size; i++) {
        msg_str t;
        if (obj_str(&subs->via.array.ptr[i], &t) && p->n_subs < PLUGIN_MAX_SUBSCRIPTIONS)
            msg_str_copy(t, p->subs[p->n_subs++], sizeof p->subs[0]);
    }
    iso->ready = true;
    iso->last_pong = clock_mono_ms();
    p->status = PLUGIN_RUNNING;
    p->error[0] = '\0';
    if (p->restarts)
        kvlog(KVLOG_INFO, "plugin_restarted", "plugin=%s restarts=%u", p->name, p->restarts);
}

static void on_emit(isolated *iso, const msgpack_object *event)
{
    cairn_event view;
    if (!wire_event_view(event, &view))
        return;
    cairn_event *copy = event_clone(&view);
    if (copy)
        plugin_emit(iso->p, copy);
}

static void on_done(isolated *iso, const msgpack_object *a, uint32_t n)
{
    msg_str id, message = {"", 0};
    int64_t code = CAIRN_COMMAND_FAILED;
    if (n < 4 || !obj_str(&a[0], &id) || !obj_int(&a[1], &code))
        return;
    obj_str(&a[2], &message);
    char id_text[64], text[1024];
    msg_str_copy(id, id_text, sizeof id_text);
    msg_str_copy(message, text, sizeof text);
    cairn_event fields;
    bool has_fields = a[3].type == MSGPACK_OBJECT_MAP;
    if (has_fields)
        event_view(&fields, "result", 6, iso->p->name, strlen(iso->p->name), 0, &a[3]);
    if (code < 0 || code >= CAIRN_STATUS_COUNT_)
        code = CAIRN_COMMAND_FAILED;
    plugin_command_answer(iso->p, id_text, (cairn_status)code, text, has_fields ? &fields : NULL);
}

typedef struct fetch_for_child {
    isolated *iso;
    uint64_t id;
    pid_t pid; /* the child that asked: a restarted one never hears of it */
} fetch_for_child;

static void fetched(void *arg, int status, const char *error)
{
    fetch_for_child *f = arg;
    isolated *iso = f->iso;
    if (iso->pid == f->pid) {
        msgpack_packer *pk = wire_begin(&iso->w, "fetched", 3);
        msgpack_pack_uint64(pk, f->id);
        msgpack_pack_int(pk, status);
        mp_str(pk, error ? error : "");
        isolate_sent(iso);
    }
    free(f);
}

static void on_fetch(isolated *iso, const msgpack_object *a, uint32_t n)
{
    plugin_host *h = iso->p->host;
    msg_str sha, dest;
    fetch_for_child *f = calloc(1, sizeof *f);
    char sha_text[80], dest_text[PATH_MAX];
    if (!f || n < 3 || !obj_int(&a[0], (int64_t *)&f->id) || !obj_str(&a[1], &sha) ||
        !obj_str(&a[2], &dest)) {
        free(f);
        return;
    }
    f->iso = iso;
    f->pid = iso->pid;
    msg_str_copy(sha, sha_text, sizeof sha_text);
    msg_str_copy(dest, dest_text, sizeof dest_text);
    if (!h->sink.fetch || h->sink.fetch(h->sink.ctx, iso->p, sha_text, dest_text, fetched, f) != 0)
        fetched(f, -1, "the fetch could not start");
}

static void on_pong(isolated *iso, const msgpack_object *a, uint32_t n)
{
    plugin_instance *p = iso->p;
    iso->last_pong = clock_mono_ms();
    if (n < 2 || a[1].type != MSGPACK_OBJECT_MAP)
        return;
    /* The child's counters are the truth: copied, not added. */
    p->n_counters = 0;
    for (uint32_t i = 0; i < a[1].via.map.size && p->n_counters < PLUGIN_MAX_COUNTERS; i++) {
        msg_str name;
        int64_t v;
        if (!obj_str(&a[1].via.map.ptr[i].key, &name) || !obj_int(&a[1].via.map.ptr[i].val, &v))
            continue;
        plugin_counter *c = &p->counters[p->n_counters++];
        msg_str_copy(name, c->name, sizeof c->name);
        c->value = (uint64_t)v;
    }
}

void isolate_on_frame(isolated *iso, const char *verb, msgpack_object *a, uint32_t n)
{
    if (strcmp(verb, "ready") == 0 && n >= 1)
        on_ready(iso, &a[0]);
    else if (strcmp(verb, "failed") == 0 && n >= 1) {
        msg_str why = {"", 0};
        obj_str(&a[0], &why);
        msg_str_copy(why, iso->p->error, sizeof iso->p->error);
    } else if (strcmp(verb, "emit") == 0 && n >= 1)
        on_emit(iso, &a[0]);
    else if (strcmp(verb, "done") == 0)
        on_done(iso, a, n);
    else if (strcmp(verb, "fetch") == 0)
        on_fetch(iso, a, n);
    else if (strcmp(verb, "subscribe") == 0 && n >= 1) {
        msg_str t;
        char type[EVENT_TYPE_MAX + 1];
        if (obj_str(&a[0], &t) && iso->p->n_subs < PLUGIN_MAX_SUBSCRIPTIONS) {
            msg_str_copy(t, type, sizeof type);
            memcpy(iso->p->subs[iso->p->n_subs++], type, sizeof type);
        }
    } else if (strcmp(verb, "pong") == 0)
        on_pong(iso, a, n);
}
