#include "relay.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "keepalive.h"
#include "kvlog.h"

static cairn_status open_dealer(void **sock, void *zctx, const char *coordinator, bool immediate,
                                int silence_ms, cairn_error *err)
{
    int zero = 0, one = 1;
    *sock = zmq_socket(zctx, ZMQ_DEALER);
    if (!*sock)
        return error_set(err, CAIRN_TRANSPORT_ERROR, "zmq socket: %s", zmq_strerror(errno));
    zmq_setsockopt(*sock, ZMQ_LINGER, &zero, sizeof zero);
    if (immediate)
        zmq_setsockopt(*sock, ZMQ_IMMEDIATE, &one, sizeof one);
    keepalive_set(*sock, silence_ms);
    if (zmq_connect(*sock, coordinator) != 0)
        return error_set(err, CAIRN_INVALID_PARAMETER_VALUE, "coordinator endpoint '%s': %s",
                         coordinator, zmq_strerror(errno));
    return CAIRN_OK;
}

cairn_status relay_open(relay *r, void *zctx, const char *coordinator, void *router,
                        int timeout_ms, int silence_ms, const char *from, cairn_error *err)
{
    memset(r, 0, sizeof *r);
    r->router = router;
    r->timeout_ms = timeout_ms;
    r->from = from;
    msg_decoder_init(&r->dec, 0);
    msg_writer_init(&r->w);
    r->slots = calloc(RELAY_MAX_PENDING, sizeof *r->slots);
    if (!r->slots)
        return error_set(err, CAIRN_OUT_OF_MEMORY, "relay table");
    /* Without ZMQ_IMMEDIATE, a read sent while the coordinator restarts waits
     * in the queue and is delivered on reconnect, within its deadline. A
     * registry change must not: answered TIMEOUT, it would still be applied
     * when the coordinator came back, minutes later. Its socket queues only
     * on a live connection, and a send finding none is refused at once. */
    cairn_status st = open_dealer(&r->dealer, zctx, coordinator, false, silence_ms, err);
    return st ? st : open_dealer(&r->changes, zctx, coordinator, true, silence_ms, err);
}

static void slot_release(relay *r, relay_slot *s)
{
    for (int i = 0; i < s->n_route; i++)
        zmq_msg_close(&s->route[i]);
    s->n_route = 0;
    s->used = false;
    r->used--;
}

void relay_close(relay *r)
{
    if (!r->from)
        return; /* never opened */
    for (int i = 0; r->slots && i < RELAY_MAX_PENDING; i++)
        if (r->slots[i].used)
            slot_release(r, &r->slots[i]);
    free(r->slots);
    r->slots = NULL;
    if (r->dealer)
        zmq_close(r->dealer);
    if (r->changes)
        zmq_close(r->changes);
    r->dealer = r->changes = NULL;
    msg_decoder_destroy(&r->dec);
    msg_writer_destroy(&r->w);
}

/* model.* requests other than the registry's reads. */
static bool is_registry_change(msg_str type)
{
    static const char *const reads[] = {"model.list",        "model.get",     "model.versions",
                                        "model.version.get", "model.history", "model.lineage"};
    if (type.n < 6 || memcmp(type.p, "model.", 6) != 0)
        return false;
    for (size_t i = 0; i < sizeof reads / sizeof reads[0]; i++)
        if (msg_str_eq(type, reads[i]))
            return false;
    return true;
}

static relay_slot *find(relay *r, const ulid *id)
{
    for (int i = 0; i < RELAY_MAX_PENDING; i++)
        if (r->slots[i].used && memcmp(r->slots[i].id.b, id->b, ULID_BYTES) == 0)
            return &r->slots[i];
    return NULL;
}

static relay_slot *free_slot(relay *r)
{
    for (int i = 0; i < RELAY_MAX_PENDING; i++)
        if (!r->slots[i].used)
            return &r->slots[i];
    return NULL;
}

cairn_status relay_forward(relay *r, zmq_msg_t *route, int n_route, const msg *m,
                           const void *payload, size_t len, int64_t now, cairn_error *err)
{
    if (n_route > RELAY_MAX_ROUTE)
        return error_set(err, CAIRN_BAD_MESSAGE, "too many routing frames");
    /* A client resends a request it has no answer to: send it again (reads are
     * harmless to repeat) but keep one slot and its first deadline. */
    relay_slot *s = find(r, &m->id);
    bool resend = s != NULL;
    if (!s && !(s = free_slot(r)))
        return error_set(err, CAIRN_BACKPRESSURE, "%d reads already waiting for the coordinator",
                         RELAY_MAX_PENDING);
    bool change = is_registry_change(m->type);
    if (zmq_send(change ? r->changes : r->dealer, payload, len, ZMQ_DONTWAIT) < 0)
        return change ? error_set(err, CAIRN_TRANSPORT_ERROR,
                                  "the coordinator is not connected: the change was not sent "
                                  "(registry changes are relayed, not spooled)")
                      : error_set(err, CAIRN_BACKPRESSURE,
                                  "cannot queue the read for the coordinator: %s",
                                  zmq_strerror(errno));
    if (resend) {
        for (int i = 0; i < s->n_route; i++)
            zmq_msg_close(&s->route[i]);
    } else {
        s->used = true;
        r->used++;
        s->id = m->id;
        s->deadline = now + r->timeout_ms;
        msg_str_copy(m->type, s->type, sizeof s->type);
    }
    for (int i = 0; i < n_route; i++) {
        zmq_msg_init(&s->route[i]);
        zmq_msg_move(&s->route[i], &route[i]);
    }
    s->n_route = n_route;
    r->relayed += !resend;
    return CAIRN_OK;
}

/* Sends the slot's routing frames and then payload to the SDK peer. */
static void answer(relay *r, relay_slot *s, zmq_msg_t *payload)
{
    bool ok = true;
    for (int i = 0; i < s->n_route && ok; i++)
        ok = zmq_msg_send(&s->route[i], r->router, ZMQ_SNDMORE | ZMQ_DONTWAIT) >= 0;
    if (ok)
        ok = zmq_msg_send(payload, r->router, ZMQ_DONTWAIT) >= 0;
    if (!ok)
        r->reply_drops++; /* the peer left; its resend will be asked again */
    slot_release(r, s);
}

static void relay_one(relay *r, zmq_msg_t *frame)
{
    msg m;
    if (msg_decode(&r->dec, zmq_msg_data(frame), zmq_msg_size(frame), &m, NULL) != CAIRN_OK ||
        m.kind == MSG_REQUEST) {
        r->stray_replies++;
        return;
    }
    relay_slot *s = find(r, &m.re);
    if (!s) {
        r->stray_replies++; /* the answer to a resend, or after a timeout */
        return;
    }
    answer(r, s, frame);
}

static void receive_from(relay *r, void *sock)
{
    for (;;) {
        zmq_msg_t frame;
        zmq_msg_init(&frame);
        if (zmq_msg_recv(&frame, sock, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&frame);
            return;
        }
        if (!zmq_msg_more(&frame))
            relay_one(r, &frame);
        zmq_msg_close(&frame);
    }
}

void relay_receive(relay *r)
{
    receive_from(r, r->dealer);
    receive_from(r, r->changes);
}

void relay_expire(relay *r, int64_t now)
{
    for (int i = 0; i < RELAY_MAX_PENDING && r->used; i++) {
        relay_slot *s = &r->slots[i];
        if (!s->used || now < s->deadline)
            continue;
        char why[128];
        snprintf(why, sizeof why, "the coordinator did not answer within %d ms", r->timeout_ms);
        msg_writer_reset(&r->w);
        msg_error_reply(&r->w, &s->id, msg_str_of(s->type), r->from,
                        CAIRN_TIMEOUT, why);
        zmq_msg_t payload;
        zmq_msg_init_size(&payload, r->w.sb.size);
        memcpy(zmq_msg_data(&payload), r->w.sb.data, r->w.sb.size);
        r->timeouts++;
        answer(r, s, &payload);
        zmq_msg_close(&payload);
    }
}

int64_t relay_next_deadline(const relay *r)
{
    int64_t next = 0;
    for (int i = 0; i < RELAY_MAX_PENDING && r->used; i++)
        if (r->slots[i].used && (next == 0 || r->slots[i].deadline < next))
            next = r->slots[i].deadline;
    return next;
}
