/* Fan-outs in progress: sending commands, matching replies, deadlines,
 * the record and the reply (see fanout.h). */
#include "fanout.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "error.h"
#include "kvlog.h"

enum { PENDING, RESULT_OK, RESULT_ERROR, RESULT_TIMEOUT };
static const char *const result_names[] = {"pending", "ok", "error", "timeout"};

typedef struct fanout_target {
    uint32_t agent;      /* index in the agent table */
    uint8_t result;
    bool error_owned;
    int64_t sent_us;     /* monotonic */
    double rtt_ms;
    const char *error;   /* NULL for ok, and for a timeout (its text is made when packed) */
    uint32_t reply_at, reply_len; /* an ok reply's body in the fan-out's replies; len 0: none */
} fanout_target;

typedef struct fanout {
    struct fanout *next;
    ulid id;             /* the requester's message id */
    ulid base;           /* command ids: this, with the target's index in the last 4 bytes */
    zmq_msg_t routing[FANOUT_MAX_ROUTING];
    int n_routing;
    char from[257];
    char selector[SELECTOR_MAX_BYTES + 1];
    char command[65];
    msgpack_sbuffer args; /* the args map, packed once for every command */
    int64_t timeout_ms, deadline_mono, deadline_wall;
    int64_t started_us, sent_us, answered_us; /* for the log: where the time went */
    fanout_target *targets;
    uint32_t n, n_pending;
    uint32_t counts[4];  /* by result */
    msg_writer replies;  /* the bodies of the agents' ok replies, one after the other */
    msg_writer results;  /* the packed results array, once finished */
} fanout;

static int64_t mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

void fanout_init(fanout_table *ft, void *router, agent_table *agents)
{
    memset(ft, 0, sizeof *ft);
    ft->router = router;
    ft->agents = agents;
    msg_writer_init(&ft->w);
}

static void free_fanout(fanout *f)
{
    if (!f)
        return;
    for (int i = 0; i < f->n_routing; i++)
        zmq_msg_close(&f->routing[i]);
    for (uint32_t i = 0; f->targets && i < f->n; i++)
        if (f->targets[i].error_owned)
            free((char *)f->targets[i].error);
    free(f->targets);
    msgpack_sbuffer_destroy(&f->args);
    msg_writer_destroy(&f->replies);
    msg_writer_destroy(&f->results);
    free(f);
}

void fanout_destroy(fanout_table *ft)
{
    while (ft->head) {
        fanout *f = ft->head;
        ft->head = f->next;
        free_fanout(f);
    }
    ft->n = 0;
    msg_writer_destroy(&ft->w);
}

/* ---- starting ---- */

static cairn_status select_targets(agent_table *t, fanout *f, const selector *sel,
                                   cairn_error *err)
{
    uint32_t n = 0;
    for (uint32_t i = 0; i < t->n; i++)
        n += selector_match(sel, t->items[i].host, t->items[i].labels, t->items[i].n_labels);
    f->targets = calloc(n ? n : 1, sizeof *f->targets);
    if (!f->targets)
        return error_set(err, CAIRN_OUT_OF_MEMORY, "no memory for a fan-out to %u agents", n);
    for (uint32_t i = 0; i < t->n; i++)
        if (selector_match(sel, t->items[i].host, t->items[i].labels, t->items[i].n_labels))
            f->targets[f->n++].agent = i;
    f->n_pending = f->n;
    return CAIRN_OK;
}

static cairn_status copy_request(fanout *f, const fanout_request *q, cairn_error *err)
{
    f->id = *q->id;
    msg_str_copy(q->from, f->from, sizeof f->from);
    msg_str_copy(q->selector_text, f->selector, sizeof f->selector);
    msg_str_copy(q->command, f->command, sizeof f->command);
    msgpack_sbuffer_init(&f->args);
    msg_writer_init(&f->replies);
    msg_writer_init(&f->results);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &f->args, msgpack_sbuffer_write);
    if (q->args)
        msgpack_pack_object(&pk, *q->args);
    else
        msgpack_pack_map(&pk, 0);
    for (; f->n_routing < q->n_routing; f->n_routing++) {
        zmq_msg_init(&f->routing[f->n_routing]);
        if (zmq_msg_copy(&f->routing[f->n_routing], &q->routing[f->n_routing]) != 0)
            return error_set(err, CAIRN_INTERNAL_ERROR, "copy routing frame: %s",
                             zmq_strerror(errno));
    }
    return CAIRN_OK;
}

static void finish(fanout *f, fanout_target *t, int result, double rtt_ms, const char *error,
                   bool owned)
{
    t->result = (uint8_t)result;
    t->rtt_ms = rtt_ms;
    t->error = error;
    t->error_owned = owned;
    f->counts[result]++;
    if (--f->n_pending == 0)
        f->answered_us = mono_us();
}

static ulid command_id(const fanout *f, uint32_t index)
{
    ulid id = f->base;
    be32_put(id.b + 12, index);
    return id;
}

/* The command as sent to target 0; *id_at gets where its id lies, so each
 * other target's copy differs only in the last 4 bytes there (its index):
 * thousands of commands cost one encoding. */
static void pack_command(fanout_table *ft, const fanout *f, size_t *id_at)
{
    ulid id = command_id(f, 0);
    msg_writer *w = &ft->w;
    msg_writer_reset(w);
    msg_start_request(w, &id, "command", "coordinator", 3);
    mp_str(&w->pk, "command");
    mp_str(&w->pk, f->command);
    mp_str(&w->pk, "args");
    msgpack_sbuffer_write(&w->sb, f->args.data, f->args.size);
    mp_str(&w->pk, "deadline");
    msgpack_pack_int64(&w->pk, f->deadline_wall);
    const char *at = memmem(w->sb.data, w->sb.size, id.b, ULID_BYTES);
    *id_at = (size_t)(at - w->sb.data); /* the envelope holds the id: found */
}

static void send_command(fanout_table *ft, fanout *f, uint32_t index, size_t id_at)
{
    fanout_target *t = &f->targets[index];
    const agent *a = &ft->agents->items[t->agent];
    msg_writer *w = &ft->w;
    be32_put((uint8_t *)w->sb.data + id_at + 12, index);
    t->sent_us = mono_us();
    /* ZMQ_ROUTER_MANDATORY: an agent not connected fails the first frame at
     * once (EHOSTUNREACH) instead of the message vanishing. */
    if (zmq_send(ft->router, a->routing, AGENT_ROUTING_LEN, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0 ||
        zmq_send(ft->router, w->sb.data, w->sb.size, ZMQ_DONTWAIT) < 0) {
        finish(f, t, RESULT_ERROR, 0,
               errno == EHOSTUNREACH ? "not connected" : "the agent's send queue is full", false);
        return;
    }
    ft->stats.commands++;
}

static void send_all(fanout_table *ft, fanout *f)
{
    size_t id_at;
    pack_command(ft, f, &id_at);
    for (uint32_t i = 0; i < f->n; i++) {
        if (ft->agents->items[f->targets[i].agent].up)
            send_command(ft, f, i, id_at);
        else /* not heard from lately: not tried (docs/protocol.md, Agents) */
            finish(f, &f->targets[i], RESULT_TIMEOUT, 0, "agent is down", false);
    }
}

cairn_status fanout_start(fanout_table *ft, const fanout_request *q, int64_t wall_ms,
                          int64_t mono_ms, cairn_error *err)
{
    if (ft->n >= FANOUT_MAX_PENDING)
        return error_set(err, CAIRN_LIMIT_EXCEEDED,
                         "%d fan-outs are in progress, the most allowed: retry when one has "
                         "finished", FANOUT_MAX_PENDING);
    if (q->n_routing > FANOUT_MAX_ROUTING)
        return error_set(err, CAIRN_BAD_MESSAGE, "too many routing frames");
    fanout *f = calloc(1, sizeof *f);
    if (!f)
        return error_set(err, CAIRN_OUT_OF_MEMORY, "no memory for a fan-out");
    cairn_status st = copy_request(f, q, err);
    if (!st)
        st = select_targets(ft->agents, f, q->sel, err);
    if (st) {
        free_fanout(f);
        return st;
    }
    f->base = ulid_new();
    f->timeout_ms = q->timeout_ms;
    f->deadline_mono = mono_ms + q->timeout_ms;
    f->deadline_wall = wall_ms + q->timeout_ms;
    f->started_us = mono_us();
    f->next = ft->head;
    ft->head = f;
    ft->n++;
    ft->stats.started++;
    send_all(ft, f);
    f->sent_us = f->answered_us = mono_us();
    return CAIRN_OK;
}

bool fanout_in_progress(const fanout_table *ft, const ulid *id)
{
    for (const fanout *f = ft->head; f; f = f->next)
        if (memcmp(f->id.b, id->b, ULID_BYTES) == 0)
            return true;
    return false;
}

/* ---- replies and deadlines ---- */

/* Keeps the body of an ok reply for the results. A body over the limit is
 * not kept: the result says so. */
static const char *keep_reply(fanout *f, fanout_target *t, const msg *m, bool *owned)
{
    size_t at = f->replies.sb.size;
    msgpack_pack_object(&f->replies.pk, *m->body);
    size_t len = f->replies.sb.size - at;
    *owned = false;
    if (len <= FANOUT_MAX_REPLY_BYTES) {
        t->reply_at = (uint32_t)at;
        t->reply_len = (uint32_t)len;
        return NULL;
    }
    f->replies.sb.size = at;
    char *s = NULL;
    if (asprintf(&s, "the reply of %zu bytes exceeds the limit of %d bytes", len,
                 FANOUT_MAX_REPLY_BYTES) < 0)
        return "the reply exceeds the size limit";
    *owned = true;
    return s;
}

static char *error_text(const msg *m)
{
    char *s = NULL;
    int n = m->err_message.n > 400 ? 400 : (int)m->err_message.n;
    if (asprintf(&s, "%s: %.*s", cairn_status_name(m->err_status), n, m->err_message.p) < 0)
        return NULL;
    return s;
}

bool fanout_on_reply(fanout_table *ft, const agent *a, const msg *m)
{
    /* An agent the coordinator does not know answers no fan-out of its own. */
    uint32_t agent_index = a ? (uint32_t)(a - ft->agents->items) : 0;
    for (fanout *f = a ? ft->head : NULL; f; f = f->next) {
        if (memcmp(m->re.b, f->base.b, 12) != 0)
            continue;
        uint32_t i = be32_get(m->re.b + 12);
        /* Only the agent the command went to may answer it. */
        if (i >= f->n || f->targets[i].agent != agent_index || f->targets[i].result != PENDING)
            break;
        fanout_target *t = &f->targets[i];
        double rtt = (double)(mono_us() - t->sent_us) / 1000.0;
        if (m->kind == MSG_REPLY_OK) {
            bool owned;
            const char *too_large = keep_reply(f, t, m, &owned);
            finish(f, t, too_large ? RESULT_ERROR : RESULT_OK, rtt, too_large, owned);
        } else {
            char *e = error_text(m);
            finish(f, t, RESULT_ERROR, rtt, e ? e : "out of memory", e != NULL);
        }
        return true;
    }
    ft->stats.late_replies++;
    return false;
}

void fanout_expire(fanout_table *ft, int64_t mono_ms)
{
    for (fanout *f = ft->head; f; f = f->next) {
        if (f->n_pending == 0 || mono_ms < f->deadline_mono)
            continue;
        for (uint32_t i = 0; i < f->n; i++)
            if (f->targets[i].result == PENDING)
                finish(f, &f->targets[i], RESULT_TIMEOUT, (double)f->timeout_ms, NULL, false);
    }
}

long fanout_wake_in(const fanout_table *ft, int64_t mono_ms)
{
    long wake = -1;
    for (const fanout *f = ft->head; f; f = f->next) {
        if (f->n_pending == 0)
            return 0; /* finished: to be recorded now */
        long in = f->deadline_mono > mono_ms ? (long)(f->deadline_mono - mono_ms) : 0;
        if (wake < 0 || in < wake)
            wake = in;
    }
    return wake;
}

bool fanout_any_done(const fanout_table *ft)
{
    for (const fanout *f = ft->head; f; f = f->next)
        if (f->n_pending == 0)
            return true;
    return false;
}

/* ---- the record and the reply ---- */

static int by_host(const void *a, const void *b, void *table)
{
    const agent_table *t = table;
    const agent *x = &t->items[((const fanout_target *)a)->agent];
    const agent *y = &t->items[((const fanout_target *)b)->agent];
    int c = strcmp(x->host, y->host);
    return c ? c : memcmp(x->id.b, y->id.b, ULID_BYTES);
}

static void pack_target(const fanout *f, const fanout_target *t, const agent *a,
                        msgpack_packer *pk)
{
    char timeout[64];
    const char *error = t->error;
    if (t->result == RESULT_TIMEOUT && !error) {
        snprintf(timeout, sizeof timeout, "no reply within %lld ms", (long long)f->timeout_ms);
        error = timeout;
    }
    msgpack_pack_map(pk, 4 + (error != NULL) + (t->reply_len > 0));
    mp_str(pk, "agent");
    mp_strn(pk, a->routing + 6, ULID_TEXT_LEN);
    mp_str(pk, "host");
    mp_str(pk, a->host);
    mp_str(pk, "result");
    mp_str(pk, result_names[t->result]);
    mp_str(pk, "rtt_ms");
    /* Microseconds are all a round trip can resolve; fewer digits read better. */
    msgpack_pack_double(pk, (double)(int64_t)(t->rtt_ms * 1000 + 0.5) / 1000);
    if (error) {
        mp_str(pk, "error");
        mp_str(pk, error);
    }
    if (t->reply_len) {
        mp_str(pk, "reply");
        pk->callback(pk->data, f->replies.sb.data + t->reply_at, t->reply_len);
    }
}

/* The results array, ordered by host: packed once, for the record and the reply. */
static void pack_results(fanout_table *ft, fanout *f)
{
    qsort_r(f->targets, f->n, sizeof *f->targets, by_host, ft->agents);
    msgpack_packer *pk = &f->results.pk;
    msgpack_pack_array(pk, f->n);
    for (uint32_t i = 0; i < f->n; i++)
        pack_target(f, &f->targets[i], &ft->agents->items[f->targets[i].agent], pk);
}

static void summarize(const fanout *f, char *out, size_t cap)
{
    int head = snprintf(out, cap, "command=%s agents=%u ok=%u error=%u timeout=%u selector=",
                        f->command, f->n, f->counts[RESULT_OK], f->counts[RESULT_ERROR],
                        f->counts[RESULT_TIMEOUT]);
    /* Quoted into the room left: a long selector is cut inside its quotes
     * (whole in the commands record), not through them. */
    if (head >= 0 && (size_t)head + 3 <= cap)
        kvlog_quote(out + head, cap - (size_t)head, f->selector);
}

/* commands record: msgpack [ts_ms, from, selector, command, results]. */
static cairn_status record(fanout_table *ft, fanout *f, store *s, MDB_txn *txn, int64_t wall_ms,
                           cairn_error *err)
{
    if (f->results.sb.size == 0)
        pack_results(ft, f);
    msgpack_packer *pk = &ft->w.pk;
    msg_writer_reset(&ft->w);
    msgpack_pack_array(pk, 5);
    msgpack_pack_int64(pk, wall_ms);
    mp_str(pk, f->from);
    mp_str(pk, f->selector);
    mp_str(pk, f->command);
    msgpack_sbuffer_write(&ft->w.sb, f->results.sb.data, f->results.sb.size);
    cairn_status st = store_command_put(s, txn, &f->id, ft->w.sb.data, ft->w.sb.size, err);
    if (st)
        return st;
    char summary[256];
    summarize(f, summary, sizeof summary);
    audit_entry e = {wall_ms, &f->id, {"fanout", 6}, msg_str_of(f->from), summary};
    uint64_t seq;
    st = store_audit_append(s, txn, &e, &seq, err);
    /* Every audit entry's id is an applied id (store_dedup.c relies on it). */
    return st ? st : store_dedup_record(s, txn, &f->id, seq, err);
}

cairn_status fanout_record_done(fanout_table *ft, store *s, MDB_txn *txn, int64_t wall_ms,
                                cairn_error *err)
{
    for (fanout *f = ft->head; f; f = f->next) {
        if (f->n_pending)
            continue;
        cairn_status st = record(ft, f, s, txn, wall_ms, err);
        if (st)
            return st;
    }
    return CAIRN_OK;
}

static bool send_reply(fanout_table *ft, fanout *f, bool committed, const char *why)
{
    msg_writer *w = &ft->w;
    msg_str type = {"fanout", 6};
    msg_writer_reset(w);
    if (committed) {
        msg_start_reply(w, &f->id, type, "coordinator", 1);
        mp_str(&w->pk, "results");
        msgpack_sbuffer_write(&w->sb, f->results.sb.data, f->results.sb.size);
    } else {
        msg_error_reply(w, &f->id, type, "coordinator", CAIRN_STORAGE_ERROR, why);
    }
    bool ok = true;
    for (int i = 0; i < f->n_routing && ok; i++)
        ok = zmq_msg_send(&f->routing[i], ft->router, ZMQ_SNDMORE | ZMQ_DONTWAIT) >= 0;
    return ok && zmq_send(ft->router, w->sb.data, w->sb.size, ZMQ_DONTWAIT) >= 0;
}

/* ms: the whole fan-out; sent_ms: until every command was handed to ZeroMQ;
 * answered_ms: until the last result; the rest is the record's commit. */
static void log_done(const fanout *f, bool sent)
{
    char summary[256], id[ULID_TEXT_LEN + 1];
    summarize(f, summary, sizeof summary);
    ulid_format(&f->id, id);
    kvlog(KVLOG_INFO, "fanout_done", "id=%s %s ms=%.3f sent_ms=%.3f answered_ms=%.3f reply=%s", id,
          summary, (double)(mono_us() - f->started_us) / 1000.0,
          (double)(f->sent_us - f->started_us) / 1000.0,
          (double)(f->answered_us - f->started_us) / 1000.0, sent ? "sent" : "dropped");
}

void fanout_reply_done(fanout_table *ft, bool committed, const char *why)
{
    fanout **pp = &ft->head;
    while (*pp) {
        fanout *f = *pp;
        if (f->n_pending) {
            pp = &f->next;
            continue;
        }
        /* A requester that left loses the reply; a resend of the same id is
         * answered from the record. */
        log_done(f, send_reply(ft, f, committed, why));
        *pp = f->next;
        ft->n--;
        free_fanout(f);
    }
}

bool fanout_pack_stored(const MDB_val *rec, msgpack_packer *pk)
{
    msgpack_zone zone;
    msgpack_object o;
    size_t off = 0;
    msgpack_zone_init(&zone, 4096);
    bool ok = msgpack_unpack(rec->mv_data, rec->mv_size, &off, &zone, &o) == MSGPACK_UNPACK_SUCCESS &&
              o.type == MSGPACK_OBJECT_ARRAY && o.via.array.size == 5 &&
              o.via.array.ptr[4].type == MSGPACK_OBJECT_ARRAY;
    if (ok)
        msgpack_pack_object(pk, o.via.array.ptr[4]);
    msgpack_zone_destroy(&zone);
    return ok;
}
