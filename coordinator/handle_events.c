/* event.emit and event.list: what agents' plugins and clients report. */
#include <stdio.h>
#include <string.h>

#include "agents.h"
#include "body.h"
#include "error.h"
#include "handlers.h"
#include "kvlog.h"
#include "validate.h"

#define EMIT_MAX 1000
#define LIST_DEFAULT 1000
#define LIST_MAX 10000
/* A filter matching nothing must not make one request walk the whole tree:
 * a page looks at this many records at most, and says where to go on. */
#define LIST_SCAN_MAX 100000
#define LIST_MAX_BYTES ((size_t)16 << 20)

/* Prefixes err's message with the entry it is about: "events[3]: ...". */
static cairn_status at_entry(cairn_error *err, cairn_status st, uint32_t i)
{
    char why[sizeof err->message];
    memcpy(why, err->message, sizeof why);
    return error_set(err, st, "events[%u]: %s", i, why);
}

/* ---- the agent an event is about ---- */

/* The id text in its canonical (upper-case) spelling, into out. */
static cairn_status read_agent_id(msg_str text, char out[ULID_TEXT_LEN + 1], cairn_error *err)
{
    ulid id;
    char copy[ULID_TEXT_LEN + 1];
    msg_str_copy(text, copy, sizeof copy);
    if (text.n != ULID_TEXT_LEN || !ulid_parse(copy, &id))
        return error_set(err, CAIRN_BAD_MESSAGE, "'agent' must be a 26-character agent id, not '%.*s'",
                         (int)(text.n > 64 ? 64 : text.n), text.p);
    ulid_format(&id, out);
    return CAIRN_OK;
}

/* An agent speaks only for itself: from an agent's routing id, `agent` must
 * be that agent (and is taken from it when absent). Other senders (the SDK,
 * tools) may name any agent or none. */
static cairn_status check_agent(request_ctx *r, char agent[ULID_TEXT_LEN + 1], cairn_error *err)
{
    zmq_msg_t *f = r->n_routing > 0 ? &r->routing[0] : NULL;
    const char *rid = f ? zmq_msg_data(f) : NULL;
    if (!f || zmq_msg_size(f) != AGENT_ROUTING_LEN || memcmp(rid, AGENT_ROUTING_PREFIX, 6) != 0)
        return CAIRN_OK;
    if (!agent[0]) {
        memcpy(agent, rid + 6, ULID_TEXT_LEN);
        agent[ULID_TEXT_LEN] = '\0';
    } else if (memcmp(agent, rid + 6, ULID_TEXT_LEN) != 0) {
        return error_set(err, CAIRN_INVALID_PARAMETER_VALUE,
                         "'agent' %s is not the sender: an agent emits events as itself (%.*s)",
                         agent, ULID_TEXT_LEN, rid + 6);
    }
    return CAIRN_OK;
}

/* ---- event.emit ---- */

typedef struct emit_req {
    const msgpack_object *events;
    char agent[ULID_TEXT_LEN + 1]; /* "" when none */
    store_event *items;            /* in r's scratch */
    msg_writer fields;             /* every event's fields, packed one after the other */
} emit_req;

static cairn_status read_type(const msgpack_object *o, msg_str *type, cairn_error *err)
{
    cairn_status st = body_str(o, "type", true, type, err);
    if (!st && type->n > STORE_EVENT_MAX_TYPE)
        return error_set(err, CAIRN_LIMIT_EXCEEDED, "'type' of %u bytes exceeds the limit of %d",
                         type->n, STORE_EVENT_MAX_TYPE);
    if (!st && !validate_token(*type, STORE_EVENT_MAX_TYPE))
        return error_set(err, CAIRN_BAD_MESSAGE,
                         "'type' '%.*s' must be 1 to 64 of a-z, 0-9, '.', '_' and '-'",
                         (int)type->n, type->p);
    return st;
}

/* One entry, checked; its fields are packed at the end of q->fields. */
static cairn_status read_entry(emit_req *q, uint32_t i, cairn_error *err)
{
    const msgpack_object *o = &q->events->via.array.ptr[i], *fields;
    store_event *e = &q->items[i];
    if (o->type != MSGPACK_OBJECT_MAP)
        return error_set(err, CAIRN_BAD_MESSAGE, "events[%u] must be a map", i);
    cairn_status st = read_type(o, &e->type, err);
    if (!st)
        st = body_str(o, "source", true, &e->source, err);
    if (!st)
        st = body_int(o, "time", true, &e->time, err);
    if (!st)
        st = body_map(o, "fields", true, &fields, err);
    if (!st) {
        cairn_status bad = validate_text("'source'", e->source, STORE_EVENT_MAX_SOURCE, err);
        st = bad == CAIRN_INVALID_PARAMETER_VALUE ? CAIRN_BAD_MESSAGE : bad;
    }
    for (uint32_t k = 0; !st && k < fields->via.map.size; k++)
        if (fields->via.map.ptr[k].key.type != MSGPACK_OBJECT_STR)
            st = error_set(err, CAIRN_BAD_MESSAGE, "'fields' keys must be strings");
    if (st)
        return at_entry(err, st, i);
    e->agent = msg_str_of(q->agent);
    /* The offset for now: the buffer may still move as it grows. */
    e->fields = (msg_str){(const char *)(uintptr_t)q->fields.sb.size, 0};
    msgpack_pack_object(&q->fields.pk, *fields);
    e->fields.n = (uint32_t)(q->fields.sb.size - (uintptr_t)e->fields.p);
    return CAIRN_OK;
}

static cairn_status read_emit(request_ctx *r, emit_req *q, cairn_error *err)
{
    const msgpack_object *b = r->m->body;
    msg_str agent = {"", 0};
    cairn_status st = body_array(b, "events", true, &q->events, err);
    if (!st)
        st = body_str(b, "agent", false, &agent, err);
    if (!st && agent.n)
        st = read_agent_id(agent, q->agent, err);
    if (!st)
        st = check_agent(r, q->agent, err);
    if (st)
        return st;
    uint32_t n = q->events->via.array.size;
    if (n == 0)
        return error_set(err, CAIRN_BAD_MESSAGE, "'events' must hold at least one event");
    if (n > EMIT_MAX)
        return error_set(err, CAIRN_LIMIT_EXCEEDED, "%u events exceed the limit of %d a message",
                         n, EMIT_MAX);
    if (!(q->items = request_scratch(r, n * sizeof *q->items)))
        return error_set(err, CAIRN_OUT_OF_MEMORY, "no memory for %u events", n);
    for (uint32_t i = 0; !st && i < n; i++)
        st = read_entry(q, i, err);
    for (uint32_t i = 0; !st && i < n; i++) /* the buffer has stopped moving */
        q->items[i].fields.p = q->fields.sb.data + (uintptr_t)q->items[i].fields.p;
    return st;
}

static void summarize(request_ctx *r, const emit_req *q)
{
    char source[61], quoted[130];
    const store_event *e = &q->items[0];
    msg_str_copy(e->source, source, sizeof source);
    int n = snprintf(r->summary, sizeof r->summary, "events=%u type=%.*s source=%s",
                     q->events->via.array.size, (int)e->type.n, e->type.p,
                     kvlog_quote(quoted, sizeof quoted, source));
    if (q->agent[0] && n > 0 && (size_t)n < sizeof r->summary)
        snprintf(r->summary + n, sizeof r->summary - (size_t)n, " agent=%s", q->agent);
}

static void reply_count(request_ctx *r, uint32_t n)
{
    msgpack_packer *pk = reply_extra(r);
    mp_str(pk, "count");
    msgpack_pack_uint32(pk, n);
}

cairn_status handle_event_emit(request_ctx *r, cairn_error *err)
{
    emit_req q = {.agent = ""};
    uint64_t first;
    msg_writer_init(&q.fields);
    cairn_status st = read_emit(r, &q, err);
    if (!st)
        st = store_events_append(r->store, r->txn, q.items, q.events->via.array.size, &first, err);
    if (!st) {
        summarize(r, &q);
        reply_count(r, q.events->via.array.size);
        r->applied = true;
    }
    msg_writer_destroy(&q.fields);
    return st;
}

cairn_status handle_event_emit_duplicate(request_ctx *r, cairn_error *err)
{
    const msgpack_object *events;
    cairn_status st = body_array(r->m->body, "events", true, &events, err);
    if (!st)
        reply_count(r, events->via.array.size);
    return st;
}

/* ---- event.list ---- */

static cairn_status read_list(request_ctx *r, store_event_filter *f, char agent[ULID_TEXT_LEN + 1],
                              cairn_error *err)
{
    const msgpack_object *b = r->m->body;
    int64_t since = 1, max;
    msg_str agent_text = {"", 0};
    cairn_status st = body_str(b, "type", false, &f->type, err);
    if (!st)
        st = body_str(b, "source", false, &f->source, err);
    if (!st)
        st = body_str(b, "agent", false, &agent_text, err);
    if (!st)
        st = body_int(b, "since", false, &since, err);
    if (!st)
        st = read_count(r, "max", LIST_DEFAULT, LIST_MAX, &max, err);
    if (!st && agent_text.n && !(st = read_agent_id(agent_text, agent, err)))
        f->agent = (msg_str){agent, ULID_TEXT_LEN};
    if (!st && f->type.n && !validate_token(f->type, STORE_EVENT_MAX_TYPE))
        st = error_set(err, CAIRN_INVALID_PARAMETER_VALUE,
                       "'type' '%.*s' must be 1 to 64 of a-z, 0-9, '.', '_' and '-' "
                       "(ending in '.': a prefix)",
                       (int)(f->type.n > 64 ? 64 : f->type.n), f->type.p);
    f->since = since > 1 ? (uint64_t)since : 1;
    f->max = (uint32_t)max;
    f->max_scan = LIST_SCAN_MAX;
    f->max_bytes = LIST_MAX_BYTES;
    return st;
}

cairn_status handle_event_list(request_ctx *r, cairn_error *err)
{
    store_event_filter f = {.type = {"", 0}, .source = {"", 0}, .agent = {"", 0}};
    char agent[ULID_TEXT_LEN + 1];
    uint64_t next;
    cairn_status st = read_list(r, &f, agent, err);
    if (st)
        return st;
    /* Two fields at most: `next` is known only once the events are packed.
     * msg_start_reply ends with the body's map header, a fixmap of 2. */
    msgpack_packer *pk = reply_begin(r, 2);
    size_t map_at = r->out->sb.size - 1;
    mp_str(pk, "events");
    st = store_events_pack(r->store, r->txn, &f, pk, &next, err);
    if (st)
        return st;
    if (next) {
        mp_str(pk, "next");
        msgpack_pack_uint64(pk, next);
    } else {
        r->out->sb.data[map_at] = (char)0x81; /* the body map: one field after all */
    }
    return CAIRN_OK;
}
