/* agent.hello, agent.heartbeat, agent.list and fanout. */
#include <string.h>

#include "agents.h"
#include "body.h"
#include "error.h"
#include "fanout.h"
#include "handlers.h"
#include "validate.h"

/* ---- checking what an agent announces ---- */

/* The sender must be the agent it speaks for: its ROUTER routing id is how
 * commands reach it, so a hello under another id would take that agent's
 * commands, or announce an agent nobody can reach. */
static cairn_status check_sender(request_ctx *r, const ulid *id, cairn_error *err)
{
    char want[AGENT_ROUTING_LEN + 1];
    agents_routing_of(id, want);
    zmq_msg_t *f = r->n_routing > 0 ? &r->routing[0] : NULL;
    size_t n = f ? zmq_msg_size(f) : 0;
    if (n == AGENT_ROUTING_LEN && memcmp(zmq_msg_data(f), want, n) == 0)
        return CAIRN_OK;
    return error_set(err, CAIRN_INVALID_PARAMETER_VALUE,
                     "the sender's routing id is not '%s': an agent's DEALER must use "
                     "routing id \"agent:\" followed by its id",
                     want);
}

static cairn_status check_labels(const msgpack_object *labels, cairn_error *err)
{
    if (!labels)
        return CAIRN_OK;
    if (labels->via.map.size > AGENT_MAX_LABELS)
        return error_set(err, CAIRN_LIMIT_EXCEEDED, "more than %d labels", AGENT_MAX_LABELS);
    for (uint32_t i = 0; i < labels->via.map.size; i++) {
        msg_str k, v;
        if (!obj_str(&labels->via.map.ptr[i].key, &k) || !obj_str(&labels->via.map.ptr[i].val, &v))
            return error_set(err, CAIRN_BAD_MESSAGE, "'labels' must map strings to strings");
        if (!selector_key_ok(k.p, k.n))
            return error_set(err, CAIRN_INVALID_PARAMETER_VALUE,
                             "label key '%.*s' must be 1 to %d letters, digits, '_', '-', '.' or '/'",
                             (int)(k.n > 200 ? 200 : k.n), k.p, SELECTOR_MAX_KEY);
        cairn_status st = validate_text("label value", v, AGENT_MAX_LABEL_VALUE, err);
        if (st)
            return st;
        for (uint32_t j = 0; j < i; j++) {
            msg_str other;
            obj_str(&labels->via.map.ptr[j].key, &other);
            if (msg_str_same(other, k))
                return error_set(err, CAIRN_INVALID_PARAMETER_VALUE, "label '%.*s' is given twice",
                                 (int)k.n, k.p);
        }
    }
    return CAIRN_OK;
}

static cairn_status check_plugins(const msgpack_object *plugins, cairn_error *err)
{
    if (!plugins)
        return CAIRN_OK;
    if (plugins->via.array.size > AGENT_MAX_PLUGINS)
        return error_set(err, CAIRN_LIMIT_EXCEEDED, "more than %d plugins", AGENT_MAX_PLUGINS);
    for (uint32_t i = 0; i < plugins->via.array.size; i++) {
        msg_str p;
        if (!obj_str(&plugins->via.array.ptr[i], &p))
            return error_set(err, CAIRN_BAD_MESSAGE, "'plugins' must be an array of strings");
        cairn_status st = validate_text("plugin name", p, AGENT_MAX_PLUGIN, err);
        if (st)
            return st;
    }
    return CAIRN_OK;
}

static cairn_status read_depth(const msgpack_object *body, uint64_t *out, cairn_error *err)
{
    int64_t depth = 0;
    cairn_status st = body_int(body, "spool_depth", false, &depth, err);
    if (!st && depth < 0)
        st = error_set(err, CAIRN_INVALID_PARAMETER_VALUE, "'spool_depth' must not be negative");
    *out = (uint64_t)depth;
    return st;
}

static cairn_status read_hello(request_ctx *r, agent_hello *h, cairn_error *err)
{
    const msgpack_object *b = r->m->body;
    h->version = (msg_str){"", 0};
    h->labels = h->plugins = NULL;
    cairn_status st = body_ulid(b, "agent", true, &h->id, err);
    if (!st)
        st = body_str(b, "host", true, &h->host, err);
    if (!st)
        st = body_map(b, "labels", false, &h->labels, err);
    if (!st)
        st = body_str(b, "version", false, &h->version, err);
    if (!st)
        st = body_array(b, "plugins", false, &h->plugins, err);
    if (!st)
        st = read_depth(b, &h->spool_depth, err);
    if (!st && h->host.n == 0)
        st = error_set(err, CAIRN_INVALID_PARAMETER_VALUE, "'host' must not be empty");
    if (!st)
        st = validate_text("host", h->host, AGENT_MAX_HOST, err);
    if (!st)
        st = validate_text("version", h->version, AGENT_MAX_VERSION, err);
    if (!st)
        st = check_labels(h->labels, err);
    return st ? st : check_plugins(h->plugins, err);
}

/* ---- agent.hello, agent.heartbeat, agent.list ---- */

cairn_status handle_agent_hello(request_ctx *r, cairn_error *err)
{
    agent_hello h;
    agent *a;
    cairn_status st = read_hello(r, &h, err);
    if (!st)
        st = check_sender(r, &h.id, err);
    if (!st)
        st = agents_hello(r->agents, &h, r->now_ms, r->mono_ms, &a, err);
    if (!st)
        st = agents_store(r->agents, a, r->store, r->txn, err);
    if (st)
        return st;
    r->applied = true;
    msgpack_packer *pk = reply_begin(r, 2);
    mp_str(pk, "heartbeat_ms");
    msgpack_pack_uint32(pk, (uint32_t)r->agents->heartbeat_ms);
    /* The agent refuses, at its door, writes it could never hand over. */
    mp_str(pk, "max_message_bytes");
    msgpack_pack_uint64(pk, r->max_message_bytes);
    return CAIRN_OK;
}

/* The server has already marked the agent seen (any message does); the
 * heartbeat adds its spool depth. */
cairn_status handle_agent_heartbeat(request_ctx *r, cairn_error *err)
{
    ulid id;
    uint64_t depth;
    cairn_status st = body_ulid(r->m->body, "agent", true, &id, err);
    if (!st)
        st = read_depth(r->m->body, &depth, err);
    if (!st)
        st = check_sender(r, &id, err);
    if (st)
        return st;
    agent *a = agents_find(r->agents, &id);
    if (!a) {
        char text[ULID_TEXT_LEN + 1];
        ulid_format(&id, text);
        return error_set(err, CAIRN_RESOURCE_DOES_NOT_EXIST,
                         "unknown agent %s: send agent.hello first", text);
    }
    if (body_find(r->m->body, "spool_depth") && a->spool_depth != depth) {
        a->spool_depth = depth;
        a->dirty = true;
    }
    reply_begin(r, 0);
    return CAIRN_OK;
}

cairn_status handle_agent_list(request_ctx *r, cairn_error *err)
{
    agent_table *t = r->agents;
    uint32_t *order = request_scratch(r, (t->n ? t->n : 1) * sizeof *order);
    if (!order)
        return error_set(err, CAIRN_OUT_OF_MEMORY, "no memory to list %u agents", t->n);
    agents_sorted(t, order);
    msgpack_packer *pk = reply_begin(r, 1);
    mp_str(pk, "agents");
    msgpack_pack_array(pk, t->n);
    for (uint32_t i = 0; i < t->n; i++)
        agents_pack(&t->items[order[i]], pk);
    return CAIRN_OK;
}

/* ---- fanout ---- */

static cairn_status check_command(msg_str c, cairn_error *err)
{
    if (!validate_token(c, 64))
        return error_set(err, CAIRN_INVALID_PARAMETER_VALUE,
                         "command '%.*s' must be 1 to 64 of a-z, 0-9, '.', '_' and '-'",
                         (int)(c.n > 64 ? 64 : c.n), c.p);
    return CAIRN_OK;
}

static cairn_status read_fanout(request_ctx *r, fanout_request *q, selector *sel,
                                cairn_error *err)
{
    const msgpack_object *b = r->m->body;
    q->selector_text = (msg_str){"", 0};
    q->args = NULL;
    q->timeout_ms = 0;
    cairn_status st = body_str(b, "selector", false, &q->selector_text, err);
    if (!st)
        st = body_str(b, "command", true, &q->command, err);
    if (!st)
        st = body_map(b, "args", false, &q->args, err);
    if (!st)
        st = body_int(b, "timeout_ms", false, &q->timeout_ms, err);
    if (!st)
        st = check_command(q->command, err);
    if (!st && (q->timeout_ms < 0 || q->timeout_ms > FANOUT_MAX_TIMEOUT_MS))
        st = error_set(err, CAIRN_INVALID_PARAMETER_VALUE,
                       "'timeout_ms' must be between 1 and %d (0 or none: %d)",
                       FANOUT_MAX_TIMEOUT_MS, FANOUT_DEFAULT_TIMEOUT_MS);
    if (!st)
        st = selector_parse(sel, q->selector_text.p, q->selector_text.n, err);
    if (q->timeout_ms == 0)
        q->timeout_ms = FANOUT_DEFAULT_TIMEOUT_MS;
    q->id = &r->m->id;
    q->from = r->m->from;
    q->routing = r->routing;
    q->n_routing = r->n_routing;
    q->sel = sel;
    return st;
}

/* A resend of a finished fan-out gets its recorded results; one of a fan-out
 * in progress gets nothing now (that fan-out answers it). */
static cairn_status answer_resend(request_ctx *r, bool *answered, cairn_error *err)
{
    MDB_val rec;
    *answered = true;
    if (fanout_in_progress(r->fanouts, &r->m->id)) {
        r->deferred = true;
        return CAIRN_OK;
    }
    cairn_status st = store_command_get(r->store, r->txn, &r->m->id, &rec, err);
    if (st == CAIRN_RESOURCE_DOES_NOT_EXIST) {
        *answered = false;
        return CAIRN_OK;
    }
    if (st)
        return st;
    msgpack_packer *pk = reply_begin(r, 1);
    mp_str(pk, "results");
    if (!fanout_pack_stored(&rec, pk))
        return error_set(err, CAIRN_STORAGE_ERROR, "the record of this fan-out is damaged");
    return CAIRN_OK;
}

cairn_status handle_fanout(request_ctx *r, cairn_error *err)
{
    fanout_request q;
    selector sel;
    bool answered;
    cairn_status st = read_fanout(r, &q, &sel, err);
    if (!st)
        st = answer_resend(r, &answered, err);
    if (st || answered)
        return st;
    st = fanout_start(r->fanouts, &q, r->now_ms, r->mono_ms, err);
    if (!st)
        r->deferred = true;
    return st;
}
