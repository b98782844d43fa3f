/*
 * The connection and the one request path: build, send, wait for the reply
 * whose `re` is our id, resend the same bytes until the deadline.
 */
#include "client_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "body.h"
#include "error.h"
#include "keepalive.h"
#include "source_info.h"

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t client_now_ms(void)
{
    return msg_now_ns() / 1000000;
}

cairn_status client_run_id(const char *text, ulid *out, cairn_error *err)
{
    if (!ulid_parse(text, out))
        return error_set(err, CAIRN_INVALID_PARAMETER_VALUE,
                         "invalid run id '%s' (expected a 26-character ULID)", text ? text : "");
    return CAIRN_OK;
}

/* ---- connection ---- */

static const char *resolve_endpoint(const char *endpoint)
{
    const char *env = getenv("CAIRN_COORDINATOR");
    if (endpoint && *endpoint)
        return endpoint;
    return (env && *env) ? env : CAIRN_DEFAULT_COORDINATOR;
}

/* Copies s into dst, cut to cap - 1 bytes (the protocol caps `from`). */
static void copy_cut(char *dst, size_t cap, const char *s)
{
    size_t n = strlen(s);
    if (n >= cap)
        n = cap - 1;
    memcpy(dst, s, n);
    dst[n] = '\0';
}

static void default_from(char *from, size_t cap)
{
    char user[SOURCE_NAME_MAX], host[SOURCE_NAME_MAX], all[2 * SOURCE_NAME_MAX + 8];
    source_user(user, sizeof user);
    source_host(host, sizeof host);
    snprintf(all, sizeof all, "sdk:%s@%s", user, host);
    copy_cut(from, cap, all);
}

/* Socket options only take effect on pipes made after they are set, so they
 * are applied before connecting. */
static void tune_socket(void *sock, const client_tuning *tuning)
{
    int immediate = 1;
    if (tuning->immediate)
        zmq_setsockopt(sock, ZMQ_IMMEDIATE, &immediate, sizeof immediate);
    if (tuning->sndhwm > 0)
        zmq_setsockopt(sock, ZMQ_SNDHWM, &tuning->sndhwm, sizeof tuning->sndhwm);
}

/* A DEALER connected to c->endpoint with c's options, in *sock. */
static cairn_status connect_socket(cairn_client *c, void **sock, cairn_error *err)
{
    int linger = 0;
    *sock = zmq_socket(c->zctx, ZMQ_DEALER);
    if (!*sock)
        return error_set(err, CAIRN_TRANSPORT_ERROR, "zmq_socket: %s", zmq_strerror(errno));
    zmq_setsockopt(*sock, ZMQ_LINGER, &linger, sizeof linger);
    /* A tracker's resends go into the same connection: one to a vanished
     * coordinator must be made again, not waited on for 15 minutes. */
    keepalive_set(*sock, KEEPALIVE_DEFAULT_MS);
    tune_socket(*sock, &c->tuning);
    if (zmq_connect(*sock, c->endpoint) != 0)
        return error_set(err, CAIRN_INVALID_PARAMETER_VALUE, "invalid coordinator endpoint '%s': %s",
                         c->endpoint, zmq_strerror(errno));
    return CAIRN_OK;
}

static cairn_status open_socket(cairn_client *c, const client_tuning *tuning, cairn_error *err)
{
    if (tuning)
        c->tuning = *tuning;
    c->zctx = zmq_ctx_new();
    if (!c->zctx)
        return error_set(err, CAIRN_TRANSPORT_ERROR, "zmq_ctx_new: %s", zmq_strerror(errno));
    return connect_socket(c, &c->sock, err);
}

cairn_status client_reconnect(cairn_client *c, cairn_error *err)
{
    void *sock = NULL;
    cairn_status st = connect_socket(c, &sock, err);
    if (st) {
        if (sock)
            zmq_close(sock);
        return st;
    }
    zmq_close(c->sock); /* linger 0: what it still queued is dropped */
    c->sock = sock;
    return CAIRN_OK;
}

cairn_client *cairn_client_open(const char *endpoint, cairn_error *err)
{
    return client_open_tuned(resolve_endpoint(endpoint), NULL, err);
}

cairn_client *client_open_tuned(const char *endpoint, const client_tuning *tuning,
                                cairn_error *err)
{
    error_clear(err);
    cairn_client *c = calloc(1, sizeof *c);
    if (!c) {
        error_set(err, CAIRN_OUT_OF_MEMORY, "out of memory");
        return NULL;
    }
    c->timeout_ms = CLIENT_DEFAULT_TIMEOUT_MS;
    c->interrupt_fd = -1;
    c->retry_ms = CLIENT_DEFAULT_RETRY_MS;
    default_from(c->from, sizeof c->from);
    msg_writer_init(&c->w);
    msg_decoder_init(&c->dec, CLIENT_REPLY_LIMIT);
    zmq_msg_init(&c->reply);
    c->endpoint = strdup(endpoint);
    if (!c->endpoint) {
        error_set(err, CAIRN_OUT_OF_MEMORY, "out of memory");
        cairn_client_close(c);
        return NULL;
    }
    if (open_socket(c, tuning, err) != CAIRN_OK) {
        cairn_client_close(c);
        return NULL;
    }
    return c;
}

void cairn_client_close(cairn_client *c)
{
    if (!c)
        return;
    if (c->sock)
        zmq_close(c->sock);
    if (c->zctx)
        zmq_ctx_term(c->zctx);
    zmq_msg_close(&c->reply);
    msg_decoder_destroy(&c->dec);
    msg_writer_destroy(&c->w);
    free(c->endpoint);
    free(c);
}

void cairn_client_set_timeout(cairn_client *c, int timeout_ms)
{
    if (c)
        c->timeout_ms = timeout_ms > 0 ? timeout_ms : CLIENT_DEFAULT_TIMEOUT_MS;
}

void cairn_client_set_retry(cairn_client *c, int retry_ms)
{
    if (c)
        c->retry_ms = retry_ms > 0 ? retry_ms : CLIENT_DEFAULT_RETRY_MS;
}

void cairn_client_set_from(cairn_client *c, const char *from)
{
    if (!c)
        return;
    if (from && *from)
        copy_cut(c->from, sizeof c->from, from);
    else
        default_from(c->from, sizeof c->from);
}

/* ---- the request path ---- */

msgpack_packer *client_begin(cairn_client *c, const char *type, uint32_t body_entries)
{
    c->req_id = ulid_new();
    msg_writer_reset(&c->w);
    msg_start_request(&c->w, &c->req_id, type, c->from, body_entries);
    return &c->w.pk;
}

/* One request on the wire: its encoded bytes and the id its reply carries in `re`. */
typedef struct wire_request {
    const void *bytes;
    size_t len;
    const ulid *id;
    int timeout_ms;
    bool fail_unsent; /* return at once when the first send finds no connection */
} wire_request;

/* Queues the request; *queued tells whether a connection took it. A full
 * queue (EAGAIN) is not an error: the next resend tries again. */
static cairn_status send_request(cairn_client *c, const wire_request *r, bool *queued,
                                 cairn_error *err)
{
    *queued = zmq_send(c->sock, r->bytes, r->len, ZMQ_DONTWAIT) >= 0;
    if (*queued || errno == EAGAIN)
        return CAIRN_OK;
    return error_set(err, CAIRN_TRANSPORT_ERROR, "send to %s: %s", c->endpoint, zmq_strerror(errno));
}

/* Receives one message into c->reply, keeping only its last frame (the
 * envelope; a peer that adds a delimiter frame is tolerated). */
static bool recv_reply(cairn_client *c)
{
    for (;;) {
        zmq_msg_t part;
        zmq_msg_init(&part);
        if (zmq_msg_recv(&part, c->sock, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&part);
            return false;
        }
        bool more = zmq_msg_more(&part);
        zmq_msg_move(&c->reply, &part);
        zmq_msg_close(&part);
        if (!more)
            return true;
    }
}

/* Decodes the message received last into *m; BAD_MESSAGE when malformed. */
static cairn_status decode_reply(cairn_client *c, msg *m, cairn_error *err)
{
    cairn_error derr;
    if (msg_decode(&c->dec, zmq_msg_data(&c->reply), zmq_msg_size(&c->reply), m, &derr))
        return error_set(err, CAIRN_BAD_MESSAGE, "malformed reply from %s: %s", c->endpoint,
                         derr.message);
    return CAIRN_OK;
}

/* An error reply as the caller's status and message. */
static cairn_status reply_refusal(const msg *m, cairn_error *err)
{
    cairn_status code = m->err_status == CAIRN_OK ? CAIRN_INTERNAL_ERROR : m->err_status;
    return error_set(err, code, "%.*s", (int)m->err_message.n, m->err_message.p);
}

/* A zero `re` means the coordinator could not read the request's id. */
static bool unattributed(const msg *m)
{
    return m->kind == MSG_REPLY_ERROR && ulid_is_zero(&m->re);
}

/* Looks at one received message: 1 when it answers request `id` (status in
 * *st), 0 when it is a stale reply to an earlier request. */
static int match_reply(cairn_client *c, const ulid *id, const msgpack_object **body,
                       cairn_status *st, cairn_error *err)
{
    msg m;
    if ((*st = decode_reply(c, &m, err)))
        return 1;
    if (m.kind == MSG_REQUEST)
        return 0;
    if (memcmp(m.re.b, id->b, ULID_BYTES) != 0 && !unattributed(&m))
        return 0;
    if (m.kind == MSG_REPLY_ERROR) {
        *st = reply_refusal(&m, err);
        return 1;
    }
    *body = m.body;
    *st = CAIRN_OK;
    return 1;
}

/* The first sending found no connection ready (ZMQ_IMMEDIATE): the caller,
 * which resends for a long time, backs off rather than waits out a reply. */
static cairn_status no_connection(const cairn_client *c, cairn_error *err)
{
    return error_set(err, CAIRN_TRANSPORT_ERROR, "no connection to %s could take the request",
                     c->endpoint);
}

static cairn_status timed_out(cairn_client *c, int timeout_ms, cairn_error *err)
{
    return error_set(err, CAIRN_TIMEOUT, "coordinator at %s did not answer within %d ms",
                     c->endpoint, timeout_ms);
}

/* Drains what arrived; 1 with *st set when the reply to `id` was among it. */
static int drain_replies(cairn_client *c, const ulid *id, const msgpack_object **body,
                         cairn_status *st, cairn_error *err)
{
    while (recv_reply(c)) {
        if (match_reply(c, id, body, st, err))
            return 1;
    }
    return 0;
}

void client_set_interrupt(cairn_client *c, int fd)
{
    c->interrupt_fd = fd;
}

/* Waits up to ms for the socket to have a reply (*ready); an error on a poll
 * failure or an interrupt. */
static cairn_status wait_readable(cairn_client *c, int64_t ms, bool *ready, cairn_error *err)
{
    zmq_pollitem_t items[2] = {{.socket = c->sock, .events = ZMQ_POLLIN},
                               {.fd = c->interrupt_fd, .events = ZMQ_POLLIN}};
    int rc = zmq_poll(items, c->interrupt_fd >= 0 ? 2 : 1, (long)ms);
    *ready = false;
    if (rc < 0 && errno != EINTR)
        return error_set(err, CAIRN_TRANSPORT_ERROR, "poll: %s", zmq_strerror(errno));
    if (rc > 0 && c->interrupt_fd >= 0 && (items[1].revents & ZMQ_POLLIN))
        return error_set(err, CAIRN_TIMEOUT, "interrupted while waiting for %s", c->endpoint);
    *ready = rc > 0 && (items[0].revents & ZMQ_POLLIN);
    return CAIRN_OK;
}

/* Sends r, resending the same bytes every retry interval, until its reply or
 * r->timeout_ms. */
static cairn_status call_wire(cairn_client *c, const wire_request *r, const msgpack_object **body,
                              cairn_error *err)
{
    int64_t now = mono_ms(), deadline = now + r->timeout_ms, next_send = now;
    bool first = true, queued;
    cairn_status st = CAIRN_OK;
    error_clear(err);
    for (;;) {
        now = mono_ms();
        if (now >= deadline)
            return timed_out(c, r->timeout_ms, err);
        if (now >= next_send) {
            if ((st = send_request(c, r, &queued, err)) != CAIRN_OK)
                return st;
            if (first && !queued && r->fail_unsent)
                return no_connection(c, err);
            first = false;
            next_send = now + c->retry_ms;
        }
        int64_t wake = next_send < deadline ? next_send : deadline;
        bool ready;
        if ((st = wait_readable(c, wake - now, &ready, err)) != CAIRN_OK)
            return st;
        if (ready && drain_replies(c, r->id, body, &st, err))
            return st;
    }
}

cairn_status client_call(cairn_client *c, const msgpack_object **body, cairn_error *err)
{
    wire_request r = {c->w.sb.data, c->w.sb.size, &c->req_id, c->timeout_ms, false};
    return call_wire(c, &r, body, err);
}

cairn_status client_call_prebuilt(cairn_client *c, const void *bytes, size_t len, const ulid *id,
                                  int timeout_ms, const msgpack_object **body, cairn_error *err)
{
    wire_request r = {bytes, len, id, timeout_ms > 0 ? timeout_ms : c->timeout_ms, true};
    return call_wire(c, &r, body, err);
}

/* ---- several requests in flight ---- */

/* Marks the item a received reply answers; 0 when it answers none of them
 * (a stale reply), -1 when it cannot be told which (see client_call_batch). */
static int match_batch_reply(cairn_client *c, client_batch_item *items, int n, cairn_error *err)
{
    msg m;
    if (decode_reply(c, &m, err))
        return -1;
    if (m.kind == MSG_REQUEST)
        return 0;
    if (unattributed(&m)) {
        error_set(err, CAIRN_BAD_MESSAGE, "%.*s", (int)m.err_message.n, m.err_message.p);
        return -1;
    }
    for (int i = 0; i < n; i++) {
        client_batch_item *it = &items[i];
        if (it->answered || memcmp(m.re.b, it->id->b, ULID_BYTES) != 0)
            continue;
        it->answered = true;
        it->status = m.kind == MSG_REPLY_ERROR ? reply_refusal(&m, &it->err) : CAIRN_OK;
        return 1;
    }
    return 0;
}

/* How soon an item no connection took (ZeroMQ's queue was at its high-water
 * mark) is offered again, rather than at the next resend of them all. */
#define BATCH_REQUEUE_MS 2

/* Sends the unanswered items, or only those no connection took yet when
 * `all` is false; *unsent counts those left so. */
static cairn_status send_unanswered(cairn_client *c, client_batch_item *items, int n, bool all,
                                    int *unsent, cairn_error *err)
{
    *unsent = 0;
    for (int i = 0; i < n; i++) {
        client_batch_item *it = &items[i];
        if (it->answered || (!all && it->queued))
            continue;
        wire_request r = {it->bytes, it->len, it->id, 0, true};
        cairn_status st = send_request(c, &r, &it->queued, err);
        if (st)
            return st;
        *unsent += !it->queued;
    }
    return CAIRN_OK;
}

static int count_unanswered(const client_batch_item *items, int n)
{
    int left = 0;
    for (int i = 0; i < n; i++)
        left += !items[i].answered;
    return left;
}

cairn_status client_call_batch(cairn_client *c, client_batch_item *items, int n, int timeout_ms,
                               cairn_error *err)
{
    int wait = timeout_ms > 0 ? timeout_ms : c->timeout_ms;
    int64_t now = mono_ms(), deadline = now + wait, next_send = now, next_requeue = INT64_MAX;
    int left = count_unanswered(items, n), unsent = 0;
    bool first = true;
    error_clear(err);
    while (left > 0) {
        now = mono_ms();
        if (now >= deadline)
            return timed_out(c, wait, err);
        bool all = now >= next_send;
        if (all || (unsent > 0 && now >= next_requeue)) {
            cairn_status st = send_unanswered(c, items, n, all, &unsent, err);
            if (st)
                return st;
            if (first && unsent == left) /* none taken, as client_call_prebuilt's */
                return no_connection(c, err);
            first = false;
            if (all)
                next_send = now + c->retry_ms;
            next_requeue = now + BATCH_REQUEUE_MS;
        }
        int64_t wake = unsent > 0 && next_requeue < next_send ? next_requeue : next_send;
        wake = wake < deadline ? wake : deadline;
        bool ready;
        cairn_status st = wait_readable(c, wake - now, &ready, err);
        if (st)
            return st;
        while (ready && left > 0 && recv_reply(c)) {
            int matched = match_batch_reply(c, items, n, err);
            if (matched < 0)
                return CAIRN_BAD_MESSAGE;
            left -= matched;
        }
    }
    return CAIRN_OK;
}

/* ---- ping ---- */

cairn_status cairn_ping(cairn_client *client, char *version, size_t cap, cairn_error *err)
{
    const msgpack_object *body;
    msg_str v = {"", 0};
    if (!client)
        return error_set(err, CAIRN_INVALID_PARAMETER_VALUE, "no client");
    client_begin(client, "ping", 0);
    cairn_status st = client_call(client, &body, err);
    if (st == CAIRN_OK)
        st = body_str(body, "version", true, &v, err);
    if (st == CAIRN_OK && version)
        msg_str_copy(v, version, cap);
    return st;
}
