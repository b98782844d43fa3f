#include "relay.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "kvlog.h"

cairn_status relay_open(relay *r, void *zctx, const char *coordinator, void *router,
                        int timeout_ms, const char *from, cairn_error *err)
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
     * in the queue and is delivered on reconnect, within its deadline. */
    r->dealer = zmq_socket(zctx, ZMQ_DEALER);
    int zero = 0;
    if (!r->dealer)
        return error_set(err, CAIRN_TRANSPORT_ERROR, "zmq socket: %s", zmq_strerror(errno));
    zmq_setsockopt(r->dealer, ZMQ_LINGER, &zero, sizeof zero);
    if (zmq_connect(r->dealer, coordinator) != 0)
        return error_set(err, CAIRN_INVALID_PARAMETER_VALUE, "coordinator endpoint '%s': %s",
                         coordinator, zmq_strerror(errno));
    return CAIRN_OK;
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
    r->dealer = NULL;
    msg_decoder_destroy(&r->dec);
    msg_writer_destroy(&r->w);
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
    if (zmq_send(r->dealer, payload, len, ZMQ_DONTWAIT) < 0)
        return error_set(err, CAIRN_BACKPRESSURE, "cannot queue the read for the coordinator: %s",
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

void relay_receive(relay *r)
{
    for (;;) {
        zmq_msg_t frame;
        zmq_msg_init(&frame);
        if (zmq_msg_recv(&frame, r->dealer, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&frame);
            return;
        }
        if (!zmq_msg_more(&frame))
            relay_one(r, &frame);
        zmq_msg_close(&frame);
    }
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
        msg_error_reply(&r->w, &s->id, (msg_str){s->type, (uint32_t)strlen(s->type)}, r->from,
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
