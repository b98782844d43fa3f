#include "server.h"

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "daemon_bind.h"
#include "daemon_data_dir.h"
#include "daemon_signals.h"
#include "error.h"
#include "router_frames.h"
#include "kvlog.h"
#include "server_internal.h"

#define GROUP_MAX_BYTES ((size_t)64 << 20)
/* Every request libcairn makes (its largest, a tracker's, is 4 MiB) is read
 * and answered, however low limits.max_message_bytes is set: cut off with its
 * connection, it would be resent for ever instead of sent again smaller. */
#define RECEIVE_FLOOR_BYTES ((int64_t)16 << 20)
/* Replies are packed into one buffer until their commit: past this much, the
 * rest of the group waits for a transaction of its own. Without it, a burst
 * of 1,024 ranged reads (4 MiB each) would build 4 GiB of replies at once. */
#define BATCH_MAX_REPLY_BYTES ((size_t)32 << 20)
/* A reply buffer grown past this is given back once its replies are sent. */
#define REPLIES_KEEP_BYTES ((size_t)1 << 20)
#define EXPIRE_EVERY_MS 60000
#define PRUNE_EVERY_MS 3600000
#define PRUNE_PER_PASS 10000

/* ---- setup ---- */

static cairn_status open_socket(server *s, cairn_error *err)
{
    s->zmq = zmq_ctx_new();
    s->router = s->zmq ? zmq_socket(s->zmq, ZMQ_ROUTER) : NULL;
    if (!s->router)
        return error_set(err, CAIRN_TRANSPORT_ERROR, "zmq socket: %s", zmq_strerror(errno));
    int one = 1, zero = 0, hwm = 100000;
    /* Frames far beyond the limit are cut off by ZeroMQ before they are read,
     * and their connection with them; those up to twice the limit, and at
     * least RECEIVE_FLOOR_BYTES, are read and answered MESSAGE_TOO_LARGE. */
    int64_t max_msg = (int64_t)s->cfg.max_message_bytes * 2;
    if (max_msg < RECEIVE_FLOOR_BYTES)
        max_msg = RECEIVE_FLOOR_BYTES;
    zmq_setsockopt(s->router, ZMQ_ROUTER_MANDATORY, &one, sizeof one);
    /* A reconnecting agent takes its routing id over from its dead connection. */
    zmq_setsockopt(s->router, ZMQ_ROUTER_HANDOVER, &one, sizeof one);
    zmq_setsockopt(s->router, ZMQ_LINGER, &zero, sizeof zero);
    zmq_setsockopt(s->router, ZMQ_SNDHWM, &hwm, sizeof hwm);
    zmq_setsockopt(s->router, ZMQ_RCVHWM, &hwm, sizeof hwm);
    zmq_setsockopt(s->router, ZMQ_MAXMSGSIZE, &max_msg, sizeof max_msg);
    cairn_status st = daemon_bind(s->router, s->cfg.listen, err);
    if (st)
        return st;
    size_t len = sizeof s->endpoint;
    zmq_getsockopt(s->router, ZMQ_LAST_ENDPOINT, s->endpoint, &len);
    return CAIRN_OK;
}

cairn_status server_open(server *s, const coord_config *cfg, cairn_error *err)
{
    memset(s, 0, sizeof *s);
    s->cfg = *cfg;
    s->signal_fd = -1;
    s->lock_fd = -1;
    msg_decoder_init(&s->decoder, cfg->max_message_bytes);
    msg_writer_init(&s->replies);
    agents_init(&s->agents, cfg->heartbeat_ms);
    fanout_init(&s->fanouts, NULL, &s->agents);
    s->group = calloc((size_t)cfg->max_batch, sizeof *s->group);
    if (!s->group)
        return error_set(err, CAIRN_OUT_OF_MEMORY, "request group of %d", cfg->max_batch);
    /* Before the store: a second coordinator must not even read it as its own. */
    cairn_status st = data_dir_lock(cfg->data_dir, "cairn-coordinator", &s->lock_fd, err);
    if (!st)
        st = store_open(&s->store, cfg->data_dir, cfg->map_size, err);
    if (!st)
        st = blobs_open(&s->blobs, cfg->data_dir, err);
    if (!st)
        st = fleet_load(s, err);
    if (st)
        return st;
    dispatch_init(&s->rctx, &s->store, &s->blobs, "coordinator");
    s->rctx.agents = &s->agents;
    s->rctx.max_message_bytes = cfg->max_message_bytes;
    s->rctx.fanouts = &s->fanouts;
    s->signal_fd = daemon_signals_open();
    if (s->signal_fd < 0)
        return error_set(err, CAIRN_INTERNAL_ERROR, "signalfd: %s", strerror(errno));
    st = open_socket(s, err);
    s->fanouts.router = s->router;
    return st;
}

void server_close(server *s)
{
    if (s->router)
        zmq_close(s->router);
    if (s->zmq)
        zmq_ctx_term(s->zmq);
    if (s->signal_fd >= 0)
        close(s->signal_fd);
    dispatch_destroy(&s->rctx);
    fanout_destroy(&s->fanouts);
    agents_destroy(&s->agents);
    blobs_close(&s->blobs);
    store_close(&s->store);
    if (s->lock_fd >= 0)
        close(s->lock_fd); /* last: the store is closed */
    s->lock_fd = -1;
    msg_decoder_destroy(&s->decoder);
    msg_writer_destroy(&s->replies);
    free(s->group);
    s->group = NULL;
}

/* ---- receiving a group ---- */

static void pending_release(pending *p)
{
    router_frames_close(p->frames, &p->n_frames);
}

/* Reads one request without waiting; false when none was queued. */
static bool receive_one(server *s, pending *p)
{
    return router_receive(s->router, p->frames, SERVER_MAX_FRAMES, &p->n_frames,
                          &p->too_many_frames);
}

/* ---- handling a group ---- */

static void log_rejection(const pending *p, const cairn_error *err)
{
    char q[600];
    kvlog(KVLOG_DEBUG, "rejected", "type=%s code=%s message=%s", p->type[0] ? p->type : "-",
          cairn_status_name(err->status), kvlog_quote(q, sizeof q, err->message));
}

/* Unlike a refusal, an aborted group is the store's trouble (a full map, an
 * I/O error, memory): the operator's to see at the default level. */
static void log_aborted(const pending *p, const cairn_error *err)
{
    char q[600];
    kvlog(KVLOG_ERROR, "group_aborted", "type=%s code=%s error=%s", p->type,
          cairn_status_name(err->status), kvlog_quote(q, sizeof q, err->message));
}

static cairn_status run_handler(server *s, group_txn *g, pending *p, const handler *h,
                                const msg *m, int64_t now, cairn_error *err)
{
    request_ctx *r = &s->rctx;
    p->in_write_txn = g->writable;
    r->routing = p->frames;
    r->n_routing = p->n_frames - 1;
    cairn_status st = dispatch(r, h, m, g->txn, &s->replies, now, err);
    if (!st && h->soft && r->applied)
        g->soft_writes = true;
    if (!st && r->duplicate_of) /* answered from its dedup record */
        s->stats.duplicates++;
    if (r->deferred) /* answered later: its reply is not part of this group */
        p->in_write_txn = false;
    return st;
}

static cairn_status too_many_frames(msg *m, cairn_error *err)
{
    memset(m, 0, sizeof *m);
    return error_set(err, CAIRN_BAD_MESSAGE, "a message of more than %d frames",
                     SERVER_MAX_FRAMES - 1);
}

static void handle_one(server *s, group_txn *g, int index, int64_t now)
{
    pending *p = &s->batch[index];
    zmq_msg_t *payload = &p->frames[p->n_frames - 1];
    cairn_error err = {0};
    msg m;
    msg_writer *w = &s->replies;
    p->reply_off = w->sb.size;
    p->reply_len = 0;
    p->in_write_txn = false;
    cairn_status st = p->too_many_frames ? too_many_frames(&m, &err)
                                         : msg_decode(&s->decoder, zmq_msg_data(payload),
                                                      zmq_msg_size(payload), &m, &err);
    p->has_id = m.has_id;
    p->id = m.id;
    msg_str_copy(st ? (msg_str){"error", 5} : m.type, p->type, sizeof p->type);
    agent *a = fleet_note_peer(s, p, now);
    if (!st && m.kind != MSG_REQUEST && fleet_from_agent(p)) {
        fleet_take_reply(s, a, &m);
        return;
    }
    const handler *h = st ? NULL : handler_find(m.type);
    if (!st && !h)
        st = error_set(&err, CAIRN_UNKNOWN_TYPE, "unknown message type '%s'", p->type);
    if (!st && m.kind != MSG_REQUEST)
        st = error_set(&err, CAIRN_BAD_MESSAGE, "a reply sent to the coordinator");
    if (!st)
        st = txn_for(s, g, h->writes || h->soft, &err);
    bool dispatched = false;
    if (st) {
        msg_error_reply(w, p->has_id ? &p->id : NULL, msg_str_of(p->type),
                        "coordinator", st, err.message);
    } else {
        st = run_handler(s, g, p, h, &m, now, &err);
        dispatched = true;
    }
    if (!(dispatched && s->rctx.deferred))
        p->reply_len = w->sb.size - p->reply_off;
    if (st) {
        s->stats.rejected++;
        log_rejection(p, &err);
    }
    /* Only a handler can have written into the transaction: a frame refused
     * while decoding never touched it. */
    if (dispatched && dispatch_must_abort(st) && g->txn && g->writable) {
        /* The transaction may hold half of this request: nothing of it may commit. */
        s->stats.aborted_groups++;
        log_aborted(p, &err);
        txn_abort(s, g);
        fail_write_replies(s, index + 1, err.message);
    }
}

static void send_replies(server *s, int n)
{
    for (int i = 0; i < n; i++) {
        pending *p = &s->batch[i];
        bool ok = true;
        if (p->reply_len == 0) { /* an agent's reply, or a fan-out answered later */
            pending_release(p);
            continue;
        }
        for (int f = 0; f < p->n_frames - 1 && ok; f++)
            ok = zmq_msg_send(&p->frames[f], s->router, ZMQ_SNDMORE | ZMQ_DONTWAIT) >= 0;
        if (ok)
            ok = zmq_send(s->router, s->replies.sb.data + p->reply_off, p->reply_len, ZMQ_DONTWAIT) >= 0;
        /* A peer that left or stopped reading loses this reply; a resend of the
         * same id is answered from the dedup record. */
        if (!ok)
            s->stats.reply_drops++;
        pending_release(p);
    }
}

static void count_writes(server *s, uint64_t audit_before)
{
    s->stats.writes += s->store.next_audit_seq - audit_before;
}

/* The buffer that held a burst of large replies goes back to the system,
 * rather than staying the process's for good. */
static void trim_replies(server *s)
{
    if (s->replies.sb.alloc <= REPLIES_KEEP_BYTES)
        return;
    msg_writer_destroy(&s->replies);
    msg_writer_init(&s->replies);
}

/* Handles the first requests of batch in one transaction, until their
 * replies pass BATCH_MAX_REPLY_BYTES, commits them and sends their replies.
 * Returns how many it handled: at least one. */
static int serve_batch(server *s, pending *batch, int n)
{
    s->batch = batch;
    msg_writer_reset(&s->replies);
    int64_t now = clock_wall_ms();
    s->rctx.mono_ms = clock_mono_ms();
    group_txn g = {.now_ms = now};
    cairn_error err;
    uint64_t audit_before = s->store.next_audit_seq;
    int i = 0;
    do
        handle_one(s, &g, i++, now);
    while (i < n && s->replies.sb.size < BATCH_MAX_REPLY_BYTES);
    commit_group(s, &g, i, &err);
    count_writes(s, audit_before);
    if ((uint64_t)i > s->stats.max_group)
        s->stats.max_group = (uint64_t)i;
    msg_decoder_trim(&s->decoder); /* nothing decoded is used past here */
    send_replies(s, i);
    trim_replies(s);
    return i;
}

static void serve_group(server *s)
{
    int n = 0;
    size_t bytes = 0;
    while (n < s->cfg.max_batch && bytes < GROUP_MAX_BYTES) {
        if (!receive_one(s, &s->group[n]))
            break;
        bytes += zmq_msg_size(&s->group[n].frames[s->group[n].n_frames - 1]), n++;
    }
    for (int done = 0; done < n;)
        done += serve_batch(s, s->group + done, n - done);
    s->stats.requests += (uint64_t)n;
}

/* ---- timers ---- */

static void log_stats(server *s)
{
    MDB_envinfo info;
    MDB_stat st;
    mdb_env_info(s->store.env, &info);
    mdb_env_stat(s->store.env, &st);
    server_stats *t = &s->stats;
    uint32_t up = 0;
    for (uint32_t i = 0; i < s->agents.n; i++)
        up += s->agents.items[i].up;
    const fanout_stats *f = &s->fanouts.stats;
    kvlog(KVLOG_INFO, "stats",
          "requests=%llu writes=%llu duplicates=%llu rejected=%llu commits=%llu "
          "failed_commits=%llu aborted_groups=%llu reply_drops=%llu max_group=%llu "
          "store_bytes=%llu agents=%u agents_up=%u fanouts=%llu commands=%llu "
          "agent_replies=%llu late_replies=%llu",
          (unsigned long long)t->requests, (unsigned long long)t->writes,
          (unsigned long long)t->duplicates, (unsigned long long)t->rejected,
          (unsigned long long)t->commits, (unsigned long long)t->failed_commits,
          (unsigned long long)t->aborted_groups,
          (unsigned long long)t->reply_drops, (unsigned long long)t->max_group,
          (unsigned long long)(info.me_last_pgno + 1) * st.ms_psize, s->agents.n, up,
          (unsigned long long)f->started, (unsigned long long)f->commands,
          (unsigned long long)t->agent_replies, (unsigned long long)f->late_replies);
}

static void prune_dedup(server *s, int64_t now)
{
    MDB_txn *txn;
    if (mdb_txn_begin(s->store.env, NULL, 0, &txn) != 0)
        return;
    uint64_t cutoff = (uint64_t)(now - (int64_t)s->cfg.dedup_days * 86400000);
    bool more;
    size_t n = store_dedup_prune(&s->store, txn, cutoff, PRUNE_PER_PASS, &more);
    bool committed = mdb_txn_commit(txn) == 0;
    if (committed && n > 0)
        kvlog(KVLOG_INFO, "dedup_pruned", "records=%zu", n);
    if (!committed) /* what it deleted is back: the next pass starts over, in an hour */
        more = s->store.prune_from_set = false;
    /* A pass that stopped early: come back soon rather than in an hour. */
    s->next_prune_ms = now + (more ? 1000 : PRUNE_EVERY_MS);
}

/* A quarter of the upload idle time, up to a minute: an abandoned upload
 * holds its slot and its bytes in blobs/tmp at most that much longer. */
static int64_t expire_every_ms(const server *s)
{
    int64_t quarter = (int64_t)s->cfg.upload_idle_s * 1000 / 4;
    return quarter < EXPIRE_EVERY_MS ? quarter : EXPIRE_EVERY_MS;
}

static void run_timers(server *s, int64_t now)
{
    if (now >= s->next_stats_ms) {
        log_stats(s);
        s->next_stats_ms = now + (int64_t)s->cfg.stats_interval_s * 1000;
    }
    if (now >= s->next_expire_ms) {
        int n = blobs_expire(&s->blobs, now, (int64_t)s->cfg.upload_idle_s * 1000);
        if (n)
            kvlog(KVLOG_INFO, "uploads_expired", "count=%d", n);
        s->next_expire_ms = now + expire_every_ms(s);
    }
    if (now >= s->next_prune_ms)
        prune_dedup(s, now);
}

static long next_timer_in(const server *s, int64_t now, int64_t mono)
{
    int64_t next = s->next_stats_ms;
    if (s->next_expire_ms < next)
        next = s->next_expire_ms;
    if (s->next_prune_ms < next)
        next = s->next_prune_ms;
    long in = next > now ? (long)(next - now) : 0;
    long fleet = fleet_wake_in(s, mono);
    return fleet < in ? fleet : in;
}

/* At shutdown the recent ids go to the tree, so the next start need not read
 * them back from the audit log (it would, after a crash). */
static void flush_recent_ids(server *s)
{
    group_txn g = {.now_ms = INT64_MAX};
    cairn_error err;
    if (store_dedup_mark(&s->store) == 0 || txn_for(s, &g, true, &err) != CAIRN_OK)
        return;
    commit_group(s, &g, 0, &err);
}

static bool signalled(server *s)
{
    const char *sig = daemon_signals_stop(s->signal_fd);
    if (!sig)
        return false;
    kvlog(KVLOG_INFO, "stopping", "signal=%s", sig);
    return true;
}

cairn_status server_run(server *s, cairn_error *err)
{
    int64_t now = clock_wall_ms();
    s->next_stats_ms = now + (int64_t)s->cfg.stats_interval_s * 1000;
    s->next_expire_ms = now + expire_every_ms(s);
    s->next_prune_ms = now; /* prune once at start */
    s->next_sweep_mono = clock_mono_ms() + agents_sweep_every_ms(&s->agents);
    s->next_persist_mono = clock_mono_ms() + AGENTS_PERSIST_EVERY_MS;
    char q[2][2 * PATH_MAX];
    kvlog(KVLOG_INFO, "listening", "endpoint=%s data_dir=%s version=%s",
          kvlog_value(q[0], sizeof q[0], s->endpoint),
          kvlog_value(q[1], sizeof q[1], s->cfg.data_dir), CAIRN_VERSION);
    zmq_pollitem_t items[2] = {
        {s->router, 0, ZMQ_POLLIN, 0},
        {NULL, s->signal_fd, ZMQ_POLLIN, 0},
    };
    for (;;) {
        now = clock_wall_ms();
        run_timers(s, now);
        fleet_timers(s, clock_mono_ms());
        int rc = zmq_poll(items, 2, next_timer_in(s, clock_wall_ms(), clock_mono_ms()));
        if (rc < 0 && errno != EINTR)
            return error_set(err, CAIRN_TRANSPORT_ERROR, "zmq_poll: %s", zmq_strerror(errno));
        if (rc > 0 && (items[1].revents & ZMQ_POLLIN) && signalled(s))
            break;
        if (rc > 0 && (items[0].revents & ZMQ_POLLIN))
            serve_group(s);
        fleet_complete_fanouts(s);
    }
    /* Fan-outs in progress are dropped unrecorded: a requester's resend
     * starts its fan-out again on the next start. */
    flush_recent_ids(s);
    fleet_save(s);
    log_stats(s);
    return CAIRN_OK;
}
