#include "presence.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <zmq.h>

#include "body.h"
#include "kvlog.h"

void presence_init(presence *p, const agent_config *cfg, const ulid *agent_id, const char *from)
{
    memset(p, 0, sizeof *p);
    p->cfg = cfg;
    p->agent_id = *agent_id;
    p->from = from;
    p->heartbeat_ms = cfg->heartbeat_ms;
    if (gethostname(p->host, sizeof p->host - 1) != 0)
        strcpy(p->host, "unknown");
    msg_writer_init(&p->w);
}

void presence_destroy(presence *p)
{
    if (!p->cfg)
        return; /* never initialised */
    msg_writer_destroy(&p->w);
}

/* Queues what p->w holds; a full or absent connection skips this one: the
 * next heartbeat carries the same news. */
static bool send_writer(presence *p, void *dealer)
{
    if (zmq_send(dealer, p->w.sb.data, p->w.sb.size, ZMQ_DONTWAIT) >= 0)
        return true;
    kvlog(KVLOG_DEBUG, "presence_not_sent", "error=%s", zmq_strerror(errno));
    return false;
}

static bool send_hello(presence *p, void *dealer, uint64_t depth)
{
    ulid id = ulid_new();
    msg_writer_reset(&p->w);
    msg_start_request(&p->w, &id, "agent.hello", p->from, 6);
    msgpack_packer *pk = &p->w.pk;
    mp_str(pk, "agent");
    mp_ulid(pk, &p->agent_id);
    mp_str(pk, "host");
    mp_str(pk, p->host);
    mp_str(pk, "labels");
    msgpack_pack_map(pk, (size_t)p->cfg->n_labels);
    for (int i = 0; i < p->cfg->n_labels; i++) {
        mp_str(pk, p->cfg->labels[i].key);
        mp_str(pk, p->cfg->labels[i].value);
    }
    mp_str(pk, "version");
    mp_str(pk, CAIRN_VERSION);
    mp_str(pk, "plugins");
    if (p->hooks.pack_plugins)
        p->hooks.pack_plugins(p->hooks.ctx, pk);
    else
        msgpack_pack_array(pk, 0);
    mp_str(pk, "spool_depth");
    msgpack_pack_uint64(pk, depth);
    return send_writer(p, dealer);
}

static void send_heartbeat(presence *p, void *dealer, uint64_t depth)
{
    ulid id = ulid_new();
    msg_writer_reset(&p->w);
    msg_start_request(&p->w, &id, "agent.heartbeat", p->from, 2);
    mp_str(&p->w.pk, "agent");
    mp_ulid(&p->w.pk, &p->agent_id);
    mp_str(&p->w.pk, "spool_depth");
    msgpack_pack_uint64(&p->w.pk, depth);
    send_writer(p, dealer);
}

#define HELLO_WAIT_MS 2000
#define PRESENCE_MIN_HEARTBEAT_MS 10

void presence_connected(presence *p, int64_t now)
{
    p->hello_due = true;
    p->next_heartbeat = now + p->heartbeat_ms;
    p->hello_wait_until = now + HELLO_WAIT_MS;
}

void presence_disconnected(presence *p)
{
    p->hello_due = false;
    p->next_heartbeat = 0;
    p->hello_wait_until = 0;
}

bool presence_settled(const presence *p, int64_t now)
{
    return now >= p->hello_wait_until;
}

size_t presence_payload_max(const presence *p, size_t cap)
{
    uint64_t limit = p->coordinator_max_message;
    if (!limit || limit >= cap + 4096)
        return cap;
    return limit > 8192 ? (size_t)limit - 4096 : 4096;
}

bool presence_tick(presence *p, void *dealer, uint64_t depth, int64_t now)
{
    /* The hello must reach the coordinator before heartbeats make sense, so
     * it is retried until it is queued; a missed heartbeat is simply late. */
    if (p->hello_due && !send_hello(p, dealer, depth))
        return false;
    p->hello_due = false;
    if (p->next_heartbeat == 0 || now < p->next_heartbeat)
        return true;
    send_heartbeat(p, dealer, depth);
    p->next_heartbeat = now + p->heartbeat_ms;
    return true;
}

int64_t presence_next_deadline(const presence *p)
{
    return p->next_heartbeat;
}

/* With the coordinator's reason: the code alone leaves an operator
 * guessing why the agent is missing from `cairn agents`. */
static void log_refusal(const msg *m)
{
    char message[512], q[600];
    msg_str_copy(m->err_message, message, sizeof message);
    kvlog(KVLOG_WARN, "presence_refused", "type=%.*s code=%s message=%s", (int)m->type.n, m->type.p,
          cairn_status_name(m->err_status), kvlog_quote(q, sizeof q, message));
}

bool presence_take_reply(presence *p, const msg *m)
{
    bool hello = msg_str_eq(m->type, "agent.hello");
    if (!hello && !msg_str_eq(m->type, "agent.heartbeat"))
        return false;
    if (hello)
        p->hello_wait_until = 0; /* answered: the limit, if any, is known */
    if (m->kind == MSG_REPLY_ERROR) {
        if (m->err_status == CAIRN_UNKNOWN_TYPE && !p->unsupported_logged)
            kvlog(KVLOG_WARN, "presence_unsupported",
                  "coordinator=%s message=\"the coordinator does not know agent.hello/heartbeat "
                  "yet; forwarding goes on without presence\"",
                  p->cfg->coordinator);
        else if (m->err_status != CAIRN_UNKNOWN_TYPE)
            log_refusal(m);
        /* A coordinator that does not know us (its agents table was lost or
         * never had us) needs the hello again before heartbeats count. */
        if (!hello && m->err_status == CAIRN_RESOURCE_DOES_NOT_EXIST)
            p->hello_due = true;
        p->unsupported_logged |= m->err_status == CAIRN_UNKNOWN_TYPE;
        return true;
    }
    int64_t hb = 0, limit = 0;
    if (hello && body_int(m->body, "max_message_bytes", false, &limit, NULL) == CAIRN_OK &&
        limit > 0 && (uint64_t)limit != p->coordinator_max_message) {
        kvlog(KVLOG_INFO, "coordinator_limit", "max_message_bytes=%lld", (long long)limit);
        p->coordinator_max_message = (uint64_t)limit;
    }
    /* Every interval the coordinator may be set to (agents.heartbeat_ms, 10
     * to 3600000) is kept: it marks down an agent silent for three of its
     * own intervals, whatever the agent's heartbeat_ms. */
    if (hello && body_int(m->body, "heartbeat_ms", false, &hb, NULL) == CAIRN_OK &&
        hb >= PRESENCE_MIN_HEARTBEAT_MS && hb <= 3600000 && hb != p->heartbeat_ms) {
        kvlog(KVLOG_INFO, "heartbeat_interval", "heartbeat_ms=%lld", (long long)hb);
        p->heartbeat_ms = (int)hb;
        /* The heartbeat scheduled with the old interval may be too late for
         * the new one: send one at the next tick and keep the new pace. */
        if (p->next_heartbeat != 0)
            p->next_heartbeat = 1;
    }
    return true;
}

void presence_command(presence *p, void *dealer, const msg *m)
{
    msg_str command = {"", 0};
    char name[65];
    p->commands++;
    msg_writer_reset(&p->w);
    body_str(m->body, "command", false, &command, NULL);
    msg_str_copy(command, name, sizeof name);
    if (msg_str_eq(command, "ping")) {
        msg_start_reply(&p->w, &m->id, m->type, p->from, 2);
        mp_str(&p->w.pk, "host");
        mp_str(&p->w.pk, p->host);
        mp_str(&p->w.pk, "version");
        mp_str(&p->w.pk, CAIRN_VERSION);
    } else if (p->hooks.command) {
        command_outcome o = p->hooks.command(p->hooks.ctx, m, &p->w);
        if (o == COMMAND_DEFERRED)
            return;
        if (o == COMMAND_UNKNOWN) {
            char why[128];
            snprintf(why, sizeof why, "unknown command '%s'", name);
            msg_writer_reset(&p->w);
            msg_error_reply(&p->w, &m->id, m->type, p->from, CAIRN_UNKNOWN_TYPE, why);
        }
    } else {
        char why[128];
        snprintf(why, sizeof why, "unknown command '%s'", name);
        msg_error_reply(&p->w, &m->id, m->type, p->from, CAIRN_UNKNOWN_TYPE, why);
    }
    kvlog(KVLOG_DEBUG, "command", "command=%s", name[0] ? name : "-");
    send_writer(p, dealer);
}
