#include "sdk_server.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "daemon_bind.h"
#include "daemon_data_dir.h"
#include "error.h"
#include "kvlog.h"
#include "router_frames.h"

#define GROUP_MAX_BYTES ((size_t)64 << 20)

/* ---- setup ---- */

/* ipc:///run/cairn/agent.sock needs /run/cairn to exist before the bind. */
static cairn_status make_ipc_dir(const char *endpoint, cairn_error *err)
{
    char dir[PATH_MAX];
    if (strncmp(endpoint, "ipc://", 6) != 0)
        return CAIRN_OK;
    snprintf(dir, sizeof dir, "%s", endpoint + 6);
    char *slash = strrchr(dir, '/');
    if (!slash || slash == dir)
        return CAIRN_OK;
    *slash = '\0';
    return data_dir_make(dir, 0755, err);
}

/* sdk_socket_mode: who may connect to an ipc endpoint is the socket file's
 * permission, which otherwise the agent's umask decides. */
static cairn_status set_socket_mode(const sdk_server *s, cairn_error *err)
{
    int mode = agent_socket_mode(s->cfg);
    if (mode < 0 || strncmp(s->endpoint, "ipc://", 6) != 0)
        return CAIRN_OK;
    if (chmod(s->endpoint + 6, (mode_t)mode) != 0)
        return error_set(err, CAIRN_IO_ERROR, "chmod %s: %s", s->endpoint + 6, strerror(errno));
    return CAIRN_OK;
}

static cairn_status bind_router(sdk_server *s, void *zctx, cairn_error *err)
{
    s->router = zmq_socket(zctx, ZMQ_ROUTER);
    if (!s->router)
        return error_set(err, CAIRN_TRANSPORT_ERROR, "zmq socket: %s", zmq_strerror(errno));
    int one = 1, zero = 0, hwm = 10000;
    /* Frames far beyond the limit are cut off by ZeroMQ before they are read;
     * those up to twice the limit are read and answered MESSAGE_TOO_LARGE. */
    int64_t max_msg = (int64_t)MSG_DEFAULT_LIMIT * 2;
    zmq_setsockopt(s->router, ZMQ_ROUTER_MANDATORY, &one, sizeof one);
    zmq_setsockopt(s->router, ZMQ_LINGER, &zero, sizeof zero);
    zmq_setsockopt(s->router, ZMQ_SNDHWM, &hwm, sizeof hwm);
    zmq_setsockopt(s->router, ZMQ_RCVHWM, &hwm, sizeof hwm);
    zmq_setsockopt(s->router, ZMQ_MAXMSGSIZE, &max_msg, sizeof max_msg);
    cairn_status st = make_ipc_dir(s->cfg->sdk_endpoint, err);
    if (st)
        return st;
    st = daemon_bind(s->router, s->cfg->sdk_endpoint, err);
    if (st)
        return st;
    size_t len = sizeof s->endpoint;
    zmq_getsockopt(s->router, ZMQ_LAST_ENDPOINT, s->endpoint, &len);
    return set_socket_mode(s, err);
}

cairn_status sdk_server_open(sdk_server *s, void *zctx, const agent_config *cfg, const char *from,
                             spool *sp, uploads *up, cairn_error *err)
{
    memset(s, 0, sizeof *s);
    s->cfg = cfg;
    s->from = from;
    s->spool = sp;
    s->uploads = up;
    msg_decoder_init(&s->dec, MSG_DEFAULT_LIMIT);
    msg_writer_init(&s->replies);
    msg_writer_init(&s->scratch);
    s->group = calloc(SDK_MAX_GROUP, sizeof *s->group);
    s->recent = calloc(SDK_RECENT_IDS, sizeof *s->recent);
    if (!s->group || !s->recent)
        return error_set(err, CAIRN_OUT_OF_MEMORY, "request group");
    return bind_router(s, zctx, err);
}

void sdk_server_set_relay(sdk_server *s, relay *r)
{
    s->relay = r;
}

void sdk_server_close(sdk_server *s)
{
    if (!s->cfg)
        return; /* never opened */
    if (s->router)
        zmq_close(s->router);
    s->router = NULL;
    msg_decoder_destroy(&s->dec);
    msg_writer_destroy(&s->replies);
    msg_writer_destroy(&s->scratch);
    free(s->group);
    free(s->recent);
    s->group = NULL;
    s->recent = NULL;
}

/* ---- receiving ---- */

static void request_release(sdk_request *r)
{
    router_frames_close(r->frames, &r->n_frames);
}

/* ---- handling ---- */

/* Relayed to the coordinator and answered from there: the reads, and the
 * registry's changes, whose answer (a version number, the holder after a
 * rollback) only the coordinator has. Those are durable when answered, as
 * straight to the coordinator, but need it to be reachable. */
static bool is_read(msg_str type)
{
    static const char *const reads[] = {
        "ping",         "run.get",     "run.search",  "metric.history", "experiment.list",
        "audit.list",   "artifact.get", "blob.get",   "event.list",     "dataset.list",
        "dataset.get"};
    for (size_t i = 0; i < sizeof reads / sizeof reads[0]; i++)
        if (msg_str_eq(type, reads[i]))
            return true;
    static const char registry[] = "model.";
    return type.n > sizeof registry - 1 && memcmp(type.p, registry, sizeof registry - 1) == 0;
}

static void handle_read(sdk_server *s, sdk_request *r, const msg *m, const zmq_msg_t *payload,
                        int64_t now)
{
    cairn_error err = {0};
    cairn_status st = relay_forward(s->relay, r->frames, r->n_frames - 1, m,
                                    zmq_msg_data((zmq_msg_t *)payload),
                                    zmq_msg_size((zmq_msg_t *)payload), now, &err);
    if (st) {
        sdk_reply_error(s, r, st, err.message);
        return;
    }
    r->disp = SDK_RELAYED;
}

static void handle_one(sdk_server *s, sdk_group *g, sdk_request *r, int64_t now)
{
    zmq_msg_t *payload = &r->frames[r->n_frames - 1];
    cairn_error err = {0};
    msg m;
    cairn_status st = CAIRN_OK;
    if (r->too_many_frames) {
        memset(&m, 0, sizeof m);
        st = error_set(&err, CAIRN_BAD_MESSAGE, "a message of more than %d frames",
                       SDK_MAX_FRAMES - 1);
    } else {
        st = msg_decode(&s->dec, zmq_msg_data(payload), zmq_msg_size(payload), &m, &err);
    }
    r->has_id = m.has_id;
    r->id = m.id;
    r->artifact = false;
    msg_str_copy(st ? (msg_str){"error", 5} : m.type, r->type, sizeof r->type);
    if (!st && m.kind != MSG_REQUEST)
        st = error_set(&err, CAIRN_BAD_MESSAGE, "a reply sent to the agent");
    if (!st && !sdk_is_write(m.type) && !is_read(m.type))
        st = error_set(&err, CAIRN_UNKNOWN_TYPE, "unknown message type '%s'", r->type);
    if (st) {
        s->stats.refused++;
        sdk_reply_error(s, r, st, err.message);
    } else if (is_read(m.type)) {
        handle_read(s, r, &m, payload, now);
    } else {
        sdk_handle_write(s, g, r, &m, payload, now);
    }
}

static void commit_group(sdk_server *s, sdk_group *g, int n)
{
    cairn_error err = {0};
    if (!g->open)
        return;
    g->open = false;
    if (spool_commit(s->spool, &g->txn, &err) == CAIRN_OK) {
        s->stats.commits++;
        return;
    }
    s->stats.failed_commits++;
    char q[600];
    kvlog(KVLOG_ERROR, "spool_commit_failed", "code=%s message=%s", cairn_status_name(err.status),
          kvlog_quote(q, sizeof q, err.message));
    sdk_fail_spooled(s, n, err.status, err.message);
}

static void send_replies(sdk_server *s, int n)
{
    for (int i = 0; i < n; i++) {
        sdk_request *r = &s->group[i];
        bool ok = true;
        if (r->disp != SDK_RELAYED) {
            for (int f = 0; f < r->n_frames - 1 && ok; f++)
                ok = zmq_msg_send(&r->frames[f], s->router, ZMQ_SNDMORE | ZMQ_DONTWAIT) >= 0;
            if (ok)
                ok = zmq_send(s->router, s->replies.sb.data + r->reply_off, r->reply_len,
                              ZMQ_DONTWAIT) >= 0;
        }
        /* A peer that left loses this reply; its resend is answered from the
         * recent ids. */
        if (!ok)
            s->stats.reply_drops++;
        request_release(r);
    }
}

/* Shows the observer the writes this group spooled, after their commit. */
static void observe(sdk_server *s, int n)
{
    for (int i = 0; i < n; i++) {
        sdk_request *r = &s->group[i];
        if (r->disp != SDK_SPOOLED || r->artifact || !s->observer.wants(s->observer.ctx, r->type))
            continue;
        zmq_msg_t *payload = &r->frames[r->n_frames - 1];
        msg m;
        if (msg_decode(&s->dec, zmq_msg_data(payload), zmq_msg_size(payload), &m, NULL) == CAIRN_OK)
            s->observer.spooled(s->observer.ctx, &m);
    }
}

void sdk_server_serve(sdk_server *s, int64_t now)
{
    int n = 0;
    size_t bytes = 0;
    while (n < SDK_MAX_GROUP && bytes < GROUP_MAX_BYTES) {
        sdk_request *r = &s->group[n];
        if (!router_receive(s->router, r->frames, SDK_MAX_FRAMES, &r->n_frames,
                            &r->too_many_frames))
            break;
        bytes += zmq_msg_size(&r->frames[r->n_frames - 1]), n++;
    }
    if (n == 0)
        return;
    msg_writer_reset(&s->replies);
    sdk_group g = {0};
    for (int i = 0; i < n; i++)
        handle_one(s, &g, &s->group[i], now);
    commit_group(s, &g, n);
    sdk_reply_spooled(s, n);
    if (s->observer.wants)
        observe(s, n);
    s->stats.requests += (uint64_t)n;
    msg_decoder_trim(&s->dec); /* nothing decoded is used past here */
    send_replies(s, n);
}
