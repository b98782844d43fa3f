#include "forwarder.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <zmq.h>

#include "clock.h"
#include "error.h"
#include "keepalive.h"
#include "kvlog.h"

#define MONITOR_ENDPOINT "inproc://cairn-agent-forwarder-monitor"
#define UNREACHABLE_FIRST_MS 10000
#define UNREACHABLE_EVERY_MS 60000

/* ---- setup ---- */

static cairn_status open_dealer(forwarder *f, void *zctx, const char *routing_id,
                                cairn_error *err)
{
    f->dealer = zmq_socket(zctx, ZMQ_DEALER);
    if (!f->dealer)
        return error_set(err, CAIRN_TRANSPORT_ERROR, "zmq socket: %s", zmq_strerror(errno));
    int one = 1, zero = 0, hwm = 10000;
    int ivl = f->cfg->backoff_initial_ms, ivl_max = f->cfg->backoff_max_ms;
    zmq_setsockopt(f->dealer, ZMQ_ROUTING_ID, routing_id, strlen(routing_id));
    zmq_setsockopt(f->dealer, ZMQ_IMMEDIATE, &one, sizeof one);
    zmq_setsockopt(f->dealer, ZMQ_LINGER, &zero, sizeof zero);
    zmq_setsockopt(f->dealer, ZMQ_SNDHWM, &hwm, sizeof hwm);
    zmq_setsockopt(f->dealer, ZMQ_RCVHWM, &hwm, sizeof hwm);
    /* ZeroMQ's own reconnect backoff (with its jitter) spreads the fleet's
     * reconnections; ours spreads the resends after them. */
    zmq_setsockopt(f->dealer, ZMQ_RECONNECT_IVL, &ivl, sizeof ivl);
    zmq_setsockopt(f->dealer, ZMQ_RECONNECT_IVL_MAX, &ivl_max, sizeof ivl_max);
    keepalive_set(f->dealer, f->cfg->coordinator_silence_ms);
    if (zmq_socket_monitor(f->dealer, MONITOR_ENDPOINT,
                           ZMQ_EVENT_HANDSHAKE_SUCCEEDED | ZMQ_EVENT_DISCONNECTED) != 0)
        return error_set(err, CAIRN_TRANSPORT_ERROR, "monitor: %s", zmq_strerror(errno));
    f->monitor = zmq_socket(zctx, ZMQ_PAIR);
    if (!f->monitor || zmq_setsockopt(f->monitor, ZMQ_LINGER, &zero, sizeof zero) != 0 ||
        zmq_connect(f->monitor, MONITOR_ENDPOINT) != 0)
        return error_set(err, CAIRN_TRANSPORT_ERROR, "monitor: %s", zmq_strerror(errno));
    if (zmq_connect(f->dealer, f->cfg->coordinator) != 0)
        return error_set(err, CAIRN_INVALID_PARAMETER_VALUE, "coordinator endpoint '%s': %s",
                         f->cfg->coordinator, zmq_strerror(errno));
    return CAIRN_OK;
}

cairn_status forwarder_open(forwarder *f, void *zctx, const agent_config *cfg,
                            const char *routing_id, const char *from, spool *sp, uploads *up,
                            presence *pr, cairn_error *err)
{
    memset(f, 0, sizeof *f);
    f->cfg = cfg;
    f->spool = sp;
    f->uploads = up;
    f->presence = pr;
    f->from = from;
    f->up.fd = -1;
    backoff_init(&f->backoff, cfg->backoff_initial_ms, cfg->backoff_max_ms);
    msg_decoder_init(&f->dec, 0);
    msg_writer_init(&f->w);
    return open_dealer(f, zctx, routing_id, err);
}

void forwarder_close(forwarder *f)
{
    if (!f->cfg)
        return; /* never opened */
    upload_stop(f);
    if (f->dealer) {
        zmq_socket_monitor(f->dealer, NULL, 0);
        zmq_close(f->dealer);
    }
    if (f->monitor)
        zmq_close(f->monitor);
    f->dealer = f->monitor = NULL;
    msg_decoder_destroy(&f->dec);
    msg_writer_destroy(&f->w);
}

/* ---- the window ---- */

static fwd_slot *slot_at(forwarder *f, int i)
{
    return &f->ring[(f->head + i) % FWD_WINDOW];
}

static fwd_slot *find_slot(forwarder *f, const ulid *id)
{
    for (int i = 0; i < f->count; i++) {
        fwd_slot *s = slot_at(f, i);
        if (memcmp(s->id.b, id->b, ULID_BYTES) == 0)
            return s;
    }
    return NULL;
}

static bool in_flight(const forwarder *f)
{
    for (int i = 0; i < f->count; i++) {
        const fwd_slot *s = &f->ring[(f->head + i) % FWD_WINDOW];
        if (s->sent && !s->done)
            return true;
    }
    return f->up.active && f->up.in_flight;
}

/* Everything unacknowledged is to be sent again: the connection broke, or no
 * reply came, or the coordinator could not take it. */
static void rewind_window(forwarder *f)
{
    for (int i = 0; i < f->count; i++)
        slot_at(f, i)->sent = false;
    if (f->up.active)
        upload_restart(f);
    f->reply_deadline = 0;
}

static bool send_bytes(forwarder *f, const void *p, size_t n)
{
    if (zmq_send(f->dealer, p, n, ZMQ_DONTWAIT) >= 0)
        return true;
    f->blocked = true; /* no connection or no room: POLLOUT tells when */
    return false;
}

void fwd_sent(forwarder *f, int64_t now)
{
    if (f->reply_deadline == 0)
        f->reply_deadline = now + FWD_REPLY_TIMEOUT_MS;
}

/* Spooled before the coordinator's limit was known, or under a larger one
 * (it may have been lowered since): sending it would only get the connection
 * closed, again and again. Refused with a reason in why; false when it fits. */
static bool over_coordinator_limit(const forwarder *f, size_t len, char *why, size_t cap)
{
    uint64_t limit = f->presence->coordinator_max_message;
    if (!limit || len <= limit)
        return false;
    snprintf(why, cap, "%zu bytes, over the coordinator's limits.max_message_bytes (%llu)", len,
             (unsigned long long)limit);
    return true;
}

static void resend_unsent(forwarder *f, int64_t now)
{
    for (int i = 0; i < f->count && !f->blocked; i++) {
        fwd_slot *s = slot_at(f, i);
        spool_entry e;
        char why[160];
        if (s->sent || s->done)
            continue;
        if (!spool_get(f->spool, s->seq, &e)) {
            s->done = true; /* gone (acknowledged in an earlier life) */
            continue;
        }
        if (over_coordinator_limit(f, e.len, why, sizeof why) && f->n_refused < FWD_WINDOW) {
            s->done = true;
            fwd_refuse(f, s->seq, s->type, &s->id, CAIRN_MESSAGE_TOO_LARGE, why);
            continue;
        }
        if (send_bytes(f, e.data, e.len)) {
            s->sent = true;
            fwd_sent(f, now);
        }
    }
}

/* Adds entry e to the window and sends it; false when it could not be sent. */
static bool send_new(forwarder *f, const spool_entry *e, int64_t now)
{
    msg m;
    cairn_error err = {0};
    if (msg_decode(&f->dec, e->data, e->len, &m, &err) != CAIRN_OK) {
        fwd_refuse(f, e->seq, "?", NULL, err.status, err.message);
        return true;
    }
    char why[160];
    if (over_coordinator_limit(f, e->len, why, sizeof why)) {
        char type[65];
        msg_str_copy(m.type, type, sizeof type);
        fwd_refuse(f, e->seq, type, &m.id, CAIRN_MESSAGE_TOO_LARGE, why);
        return true;
    }
    if (!send_bytes(f, e->data, e->len))
        return false;
    fwd_slot *s = slot_at(f, f->count++);
    memset(s, 0, sizeof *s);
    s->seq = e->seq;
    s->id = m.id;
    s->bytes = (uint32_t)e->len;
    s->sent = true;
    msg_str_copy(m.type, s->type, sizeof s->type);
    f->inflight_bytes += e->len;
    fwd_sent(f, now);
    return true;
}

size_t fwd_chunk_bytes(const forwarder *f)
{
    /* An upload chunk and its envelope must fit the coordinator's limit. */
    return presence_payload_max(f->presence, FWD_CHUNK);
}

static void fill_window(forwarder *f, int64_t now)
{
    while (!f->blocked && f->count < FWD_WINDOW && f->n_refused < FWD_WINDOW &&
           f->next_seq < f->spool->next_seq) {
        spool_entry e;
        if (!spool_next(f->spool, f->next_seq, &e)) {
            f->next_seq = f->spool->next_seq;
            break;
        }
        if (e.kind == SPOOL_ARTIFACT) {
            /* Alone, in order: after everything before it is acknowledged. */
            if (f->count == 0)
                upload_start(f, &e, now);
            break;
        }
        if (f->count > 0 && f->inflight_bytes + e.len > FWD_WINDOW_BYTES)
            break;
        if (e.kind != SPOOL_MESSAGE)
            fwd_refuse(f, e.seq, "?", NULL, CAIRN_INTERNAL_ERROR, "unknown spool entry kind");
        else if (!send_new(f, &e, now))
            break;
        f->next_seq = e.seq + 1;
    }
}

static void apply_outcomes(forwarder *f, int64_t now);

void forwarder_pump(forwarder *f, int64_t now)
{
    /* Not before the hello is answered: it says how large a message the
     * coordinator takes, and a larger one must go to the rejected list, not
     * to a coordinator that would answer it with no id (or close the
     * connection), for ever. */
    if (!f->connected || f->blocked || now < f->resume_at || !presence_settled(f->presence, now))
        return;
    if (!f->up.active) {
        cairn_error err = {0};
        if (spool_read_begin(f->spool, &err) != CAIRN_OK) {
            char q[600];
            kvlog(KVLOG_ERROR, "spool_read_failed", "message=%s",
                  kvlog_quote(q, sizeof q, err.message));
            return;
        }
        resend_unsent(f, now);
        fill_window(f, now);
        spool_read_end(f->spool);
    }
    if (f->up.active)
        upload_pump(f, now);
    apply_outcomes(f, now);
}

/* ---- outcomes ---- */

void fwd_acked(forwarder *f, uint64_t seq)
{
    f->acked[f->n_acked++] = seq;
    backoff_reset(&f->backoff);
}

void fwd_refuse(forwarder *f, uint64_t seq, const char *type, const ulid *id, cairn_status code,
                const char *message)
{
    char idtext[ULID_TEXT_LEN + 1] = "-", q[600];
    if (id)
        ulid_format(id, idtext);
    spool_refusal *r = &f->refused[f->n_refused++];
    r->seq = seq;
    r->code = code;
    snprintf(r->message, sizeof r->message, "%s", message);
    kvlog(KVLOG_WARN, "spool_rejected", "seq=%llu type=%s id=%s code=%s message=%s",
          (unsigned long long)seq, type, idtext, cairn_status_name(code),
          kvlog_quote(q, sizeof q, message));
}

bool fwd_is_transient(cairn_status code)
{
    return code == CAIRN_TIMEOUT || code == CAIRN_BACKPRESSURE || code == CAIRN_STORAGE_ERROR ||
           code == CAIRN_OUT_OF_MEMORY || code == CAIRN_TRANSPORT_ERROR;
}

void fwd_transient(forwarder *f, cairn_status code, const char *message, int64_t now)
{
    if (f->resume_at > now)
        return; /* already backing off: the rest of this burst says the same */
    int wait = backoff_fail(&f->backoff);
    char q[600];
    kvlog(KVLOG_WARN, "coordinator_busy", "code=%s message=%s retry_in_ms=%d",
          cairn_status_name(code), kvlog_quote(q, sizeof q, message), wait);
    rewind_window(f);
    f->resume_at = now + wait;
}

static void pop_done(forwarder *f)
{
    while (f->count > 0 && slot_at(f, 0)->done) {
        f->inflight_bytes -= slot_at(f, 0)->bytes;
        f->head = (f->head + 1) % FWD_WINDOW;
        f->count--;
    }
    if (!in_flight(f))
        f->reply_deadline = 0;
}

/* The round's outcomes could not be written (a full disk): the entries they
 * were about are still spooled, and so is an uploaded artifact's file.
 * Everything from the oldest of them is sent again after a backoff; the
 * coordinator answers a resend from its dedup record, and refuses again what
 * it refused. */
static void forget_round(forwarder *f, int64_t now)
{
    uint64_t from = f->next_seq;
    for (int i = 0; i < f->n_acked; i++)
        from = f->acked[i] < from ? f->acked[i] : from;
    for (int i = 0; i < f->n_refused; i++)
        from = f->refused[i].seq < from ? f->refused[i].seq : from;
    for (int i = 0; i < f->count; i++)
        from = slot_at(f, i)->seq < from ? slot_at(f, i)->seq : from;
    if (f->up.active)
        from = f->up.seq < from ? f->up.seq : from;
    upload_stop(f);
    f->head = f->count = 0;
    f->inflight_bytes = 0;
    f->next_seq = from;
    f->remove_file[0] = '\0';
    f->reply_deadline = 0;
    int wait = backoff_fail(&f->backoff);
    f->resume_at = now + wait;
    f->stats.resends++;
    kvlog(KVLOG_WARN, "resend", "reason=spool_update_failed from_seq=%llu retry_in_ms=%d",
          (unsigned long long)from, wait);
}

static void apply_outcomes(forwarder *f, int64_t now)
{
    if (f->n_acked + f->n_refused == 0)
        return;
    spool_outcomes o = {f->acked, f->n_acked, f->refused, f->n_refused,
                        {f->cfg->spool_max_rejected, agent_rejected_bytes_max(f->cfg)}};
    cairn_error err = {0};
    spool_applied done;
    cairn_status st = spool_apply(f->spool, &o, &done, &err);
    /* Counted once written: the entries of a forgotten round come back. */
    f->stats.forwarded += (uint64_t)done.acked;
    f->stats.rejected += (uint64_t)done.refused;
    if (done.pruned > 0)
        kvlog(KVLOG_WARN, "rejected_pruned", "count=%ld kept=%llu kept_bytes=%llu", done.pruned,
              (unsigned long long)f->spool->rejected_count,
              (unsigned long long)f->spool->rejected_bytes);
    if (st) {
        char q[600];
        kvlog(KVLOG_ERROR, "spool_update_failed", "code=%s message=%s", cairn_status_name(st),
              kvlog_quote(q, sizeof q, err.message));
        forget_round(f, now);
    } else if (f->remove_file[0]) {
        uploads_remove(f->uploads, f->remove_file);
    }
    f->remove_file[0] = '\0';
    f->n_acked = f->n_refused = 0;
    pop_done(f);
}

/* ---- replies ---- */

static void on_slot_reply(forwarder *f, fwd_slot *s, const msg *m, int64_t now)
{
    if (s->done)
        return; /* the answer to a resend */
    if (m->kind == MSG_REPLY_OK) {
        s->done = true;
        fwd_acked(f, s->seq);
    } else if (fwd_is_transient(m->err_status)) {
        char why[512];
        msg_str_copy(m->err_message, why, sizeof why);
        fwd_transient(f, m->err_status, why, now);
    } else {
        char why[512];
        msg_str_copy(m->err_message, why, sizeof why);
        s->done = true;
        fwd_refuse(f, s->seq, s->type, &s->id, m->err_status, why);
    }
    f->reply_deadline = now + FWD_REPLY_TIMEOUT_MS;
}

static void unknown_request(forwarder *f, const msg *m)
{
    char why[128], type[65];
    msg_str_copy(m->type, type, sizeof type);
    snprintf(why, sizeof why, "the agent does not take '%s' requests", type);
    msg_writer_reset(&f->w);
    msg_error_reply(&f->w, &m->id, m->type, f->from, CAIRN_UNKNOWN_TYPE, why);
    zmq_send(f->dealer, f->w.sb.data, f->w.sb.size, ZMQ_DONTWAIT);
}

static void dispatch(forwarder *f, zmq_msg_t *frame, int64_t now)
{
    msg m;
    if (msg_decode(&f->dec, zmq_msg_data(frame), zmq_msg_size(frame), &m, NULL) != CAIRN_OK) {
        f->stats.stray_replies++;
        return;
    }
    fwd_slot *s;
    if (m.kind == MSG_REQUEST && msg_str_eq(m.type, "command"))
        presence_command(f->presence, f->dealer, &m);
    else if (m.kind == MSG_REQUEST)
        unknown_request(f, &m);
    else if (presence_take_reply(f->presence, &m))
        return;
    else if (f->up.active && memcmp(m.re.b, f->up.chunk_id.b, ULID_BYTES) == 0)
        upload_on_reply(f, &m, now);
    else if ((s = find_slot(f, &m.re)) != NULL)
        on_slot_reply(f, s, &m, now);
    else
        f->stats.stray_replies++;
}

void forwarder_receive(forwarder *f, int64_t now)
{
    for (;;) {
        zmq_msg_t frame;
        zmq_msg_init(&frame);
        if (zmq_msg_recv(&frame, f->dealer, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&frame);
            break;
        }
        if (!zmq_msg_more(&frame))
            dispatch(f, &frame, now);
        zmq_msg_close(&frame);
    }
    apply_outcomes(f, now);
}

/* ---- connection and timers ---- */

static void on_event(forwarder *f, uint16_t event, int64_t now)
{
    if (event == ZMQ_EVENT_HANDSHAKE_SUCCEEDED && !f->connected) {
        f->connected = true;
        f->blocked = false;
        char q[2 * PATH_MAX];
        kvlog(KVLOG_INFO, "connected", "coordinator=%s depth=%llu",
              kvlog_value(q, sizeof q, f->cfg->coordinator), (unsigned long long)f->spool->depth);
        presence_connected(f->presence, now);
        if (!presence_tick(f->presence, f->dealer, f->spool->depth, now))
            f->blocked = true;
        /* After an outage every agent comes back at once: start at a random
         * point of the current backoff step. */
        f->resume_at = f->ever_connected ? now + backoff_spread(&f->backoff) : now;
        f->ever_connected = true;
        f->unreachable_since = 0;
    } else if (event == ZMQ_EVENT_DISCONNECTED && f->connected) {
        f->connected = false;
        f->stats.disconnects++;
        char q[2 * PATH_MAX];
        kvlog(KVLOG_WARN, "disconnected", "coordinator=%s unacknowledged=%d",
              kvlog_value(q, sizeof q, f->cfg->coordinator), f->count);
        presence_disconnected(f->presence);
        rewind_window(f);
        backoff_fail(&f->backoff);
    }
}

void forwarder_monitor(forwarder *f, int64_t now)
{
    for (;;) {
        zmq_msg_t frame;
        zmq_msg_init(&frame);
        if (zmq_msg_recv(&frame, f->monitor, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&frame);
            return;
        }
        uint16_t event = 0;
        bool first = zmq_msg_size(&frame) == 6;
        if (first)
            memcpy(&event, zmq_msg_data(&frame), sizeof event);
        while (zmq_msg_more(&frame)) { /* the endpoint frame */
            zmq_msg_close(&frame);
            zmq_msg_init(&frame);
            if (zmq_msg_recv(&frame, f->monitor, 0) < 0)
                break;
        }
        zmq_msg_close(&frame);
        if (first)
            on_event(f, event, now);
    }
}

/* A coordinator that cannot be reached (a wrong host or port, a firewall, its
 * host down) shows no error anywhere else: writes are still spooled and
 * acknowledged. So the log says it, soon and then now and then. */
static void note_unreachable(forwarder *f, int64_t now)
{
    if (f->connected)
        return;
    if (f->unreachable_since == 0) { /* the start, or a disconnect since the last turn */
        f->unreachable_since = now;
        f->next_unreachable_log = now + UNREACHABLE_FIRST_MS;
    }
    if (now < f->next_unreachable_log)
        return;
    char q[2 * PATH_MAX];
    kvlog(KVLOG_WARN, "not_connected", "coordinator=%s for_s=%lld depth=%llu",
          kvlog_value(q, sizeof q, f->cfg->coordinator),
          (long long)((now - f->unreachable_since) / 1000), (unsigned long long)f->spool->depth);
    f->next_unreachable_log = now + UNREACHABLE_EVERY_MS;
}

void forwarder_timers(forwarder *f, int64_t now)
{
    note_unreachable(f, now);
    if (!f->blocked && !presence_tick(f->presence, f->dealer, f->spool->depth, now))
        f->blocked = true;
    if (f->reply_deadline == 0 || now < f->reply_deadline)
        return;
    f->reply_deadline = 0;
    if (!in_flight(f))
        return;
    int wait = backoff_fail(&f->backoff);
    f->stats.resends++;
    kvlog(KVLOG_WARN, "resend", "reason=no_reply unacknowledged=%d retry_in_ms=%d",
          f->count + (f->up.active ? 1 : 0), wait);
    rewind_window(f);
    f->resume_at = now + wait;
}

static bool has_work(const forwarder *f)
{
    if (f->up.active)
        return !f->up.in_flight;
    for (int i = 0; i < f->count; i++)
        if (!f->ring[(f->head + i) % FWD_WINDOW].sent)
            return true;
    return f->count < FWD_WINDOW && f->next_seq < f->spool->next_seq;
}

int64_t forwarder_next_deadline(const forwarder *f, int64_t now)
{
    int64_t next = f->reply_deadline;
    /* While blocked, POLLOUT wakes the loop; a due heartbeat must not spin it. */
    if (!f->blocked)
        next = clock_earliest(next, presence_next_deadline(f->presence));
    if (f->connected && !f->blocked && f->resume_at > now && has_work(f))
        next = clock_earliest(next, f->resume_at);
    if (f->connected && !presence_settled(f->presence, now) && has_work(f))
        next = clock_earliest(next, f->presence->hello_wait_until);
    if (!f->connected && f->unreachable_since)
        next = clock_earliest(next, f->next_unreachable_log);
    return next;
}

bool forwarder_idle(const forwarder *f)
{
    return f->spool->depth == 0 && f->count == 0 && !f->up.active;
}
