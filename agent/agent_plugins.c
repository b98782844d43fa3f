/* The agent's plugins wired to the process (see agent_plugins.h). */
#include "agent_plugins.h"

#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "body.h"
#include "clock.h"
#include "error.h"
#include "kvlog.h"

#define COMMAND_DEFAULT_MS 60000 /* a command that names no deadline */
#define COMMAND_MAX_MS 600000    /* the longest fan-out the coordinator waits for */

/* ---- the outbox: emitted events into the spool ---- */

void agent_plugins_flush(agent_plugins *ap)
{
    if (!ap->outbox_count)
        return;
    ulid id = ulid_new();
    msg_writer *w = &ap->w;
    msg_writer_reset(w);
    msg_start_request(w, &id, "event.emit", ap->from, 2);
    mp_str(&w->pk, "agent");
    mp_str(&w->pk, ap->agent_id);
    mp_str(&w->pk, "events");
    msgpack_pack_array(&w->pk, ap->outbox_count);
    msgpack_sbuffer_write(&w->sb, ap->outbox.data, ap->outbox.size);
    spool_txn t;
    uint64_t seq;
    cairn_error err = {0};
    cairn_status st = spool_begin(ap->spool, &t, &err);
    if (!st && (st = spool_append(ap->spool, &t, SPOOL_MESSAGE, w->sb.data, w->sb.size, 0, &seq,
                                  &err)) != CAIRN_OK)
        spool_abort(&t);
    if (!st)
        st = spool_commit(ap->spool, &t, &err);
    if (st) {
        ap->spool_failures += ap->outbox_count;
        char q[600];
        kvlog(KVLOG_ERROR, "plugin_events_lost", "count=%u code=%s message=%s", ap->outbox_count,
              cairn_status_name(st), kvlog_quote(q, sizeof q, err.message));
    } else {
        ap->events_spooled += ap->outbox_count;
    }
    msgpack_sbuffer_clear(&ap->outbox);
    ap->outbox_count = 0;
}

/* The event just packed at `at` goes into a batch of its own: the others
 * are spooled first, so that one message never outgrows the limit. */
static bool start_new_batch(agent_plugins *ap, size_t at)
{
    size_t n = ap->outbox.size - at;
    char *event = malloc(n);
    if (!event)
        return false;
    memcpy(event, ap->outbox.data + at, n);
    ap->outbox.size = at;
    agent_plugins_flush(ap);
    msgpack_sbuffer_write(&ap->outbox, event, n);
    free(event);
    return true;
}

static int sink_spool(void *ctx, const cairn_event *ev)
{
    agent_plugins *ap = ctx;
    size_t before = ap->outbox.size;
    /* The most bytes of events one event.emit may carry. */
    size_t max = presence_payload_max(ap->fwd->presence, OUTBOX_MAX_BYTES);
    event_pack(&ap->outbox_pk, ev);
    size_t bytes = ap->outbox.size - before;
    uint64_t used = ap->spool->bytes + ap->outbox.size;
    if (bytes > max || used > ap->cfg->spool_max_bytes) {
        ap->outbox.size = before; /* take it back out */
        return bytes > max ? -2 : -1;
    }
    if (ap->outbox.size > max && ap->outbox_count > 0 && !start_new_batch(ap, before)) {
        ap->outbox.size = before;
        return -1;
    }
    if (++ap->outbox_count == OUTBOX_MAX_EVENTS || ap->outbox.size >= max)
        agent_plugins_flush(ap);
    return 0;
}

/* Asked at emit with the bytes of the events queued so far (an upper bound
 * of what they pack into): the test sink_spool makes when it spools them. */
static bool sink_room(void *ctx, size_t bytes)
{
    agent_plugins *ap = ctx;
    return ap->spool->bytes + ap->outbox.size + bytes <= ap->cfg->spool_max_bytes;
}

/* ---- commands ---- */

static void send_reply(agent_plugins *ap)
{
    if (!ap->fwd->dealer || zmq_send(ap->fwd->dealer, ap->w.sb.data, ap->w.sb.size, ZMQ_DONTWAIT) < 0)
        kvlog(KVLOG_WARN, "command_reply_not_sent", "reason=no_room_or_connection");
}

/* The entries of a reply body: the deployer's fields, then its message. */
static void pack_fields(msgpack_packer *pk, const cairn_event *fields, const char *message)
{
    uint32_t n = fields ? fields->fields.via.map.size : 0;
    bool has_message = message && *message && !event_lookup(fields, "message");
    for (uint32_t i = 0; i < n; i++) {
        msgpack_pack_object(pk, fields->fields.via.map.ptr[i].key);
        msgpack_pack_object(pk, fields->fields.via.map.ptr[i].val);
    }
    if (has_message) {
        mp_str(pk, "message");
        mp_str(pk, message);
    }
}

static void sink_command_done(void *ctx, const char *command_id, cairn_status code,
                              const char *message, const cairn_event *fields)
{
    agent_plugins *ap = ctx;
    ulid re;
    if (!ulid_parse(command_id, &re))
        return;
    msg_writer *w = &ap->w;
    msg_writer_reset(w);
    msg_str type = {"command", 7};
    if (code) {
        msg_error_reply(w, &re, type, ap->from, code, message);
    } else {
        uint32_t n = (fields ? fields->fields.via.map.size : 0) +
                     (message && *message && !event_lookup(fields, "message") ? 1 : 0);
        msg_start_reply(w, &re, type, ap->from, n);
        pack_fields(&w->pk, fields, message);
    }
    send_reply(ap);
}

static int sink_fetch(void *ctx, plugin_instance *p, const char *sha256, const char *dest,
                      cairn_fetch_fn fn, void *arg)
{
    agent_plugins *ap = ctx;
    /* A plugin running as plugins.user gets the files it asks for made with
     * its own permissions, never the agent's. */
    const plugin_host *h = p->host;
    fs_identity as = {p->isolated && h->drop_privileges, h->child_uid, h->child_gid};
    return fetcher_start(&ap->fetch, p, &as, sha256, dest, fn, arg);
}

static void pack_counters(msgpack_packer *pk, const plugin_instance *p)
{
    msgpack_pack_map(pk, (size_t)p->n_counters);
    for (int i = 0; i < p->n_counters; i++) {
        mp_str(pk, p->counters[i].name);
        msgpack_pack_uint64(pk, p->counters[i].value);
    }
}

static void pack_plugin(msgpack_packer *pk, const plugin_instance *p)
{
    msgpack_pack_map(pk, p->error[0] ? 8 : 7);
    mp_str(pk, "name");
    mp_str(pk, p->name);
    mp_str(pk, "kind");
    mp_str(pk, plugin_kind_name(p->kind));
    mp_str(pk, "version");
    mp_str(pk, p->version);
    mp_str(pk, "state");
    mp_str(pk, plugin_state_name(p->status));
    mp_str(pk, "isolated");
    mp_bool(pk, p->isolated);
    mp_str(pk, "restarts");
    msgpack_pack_uint32(pk, p->restarts);
    mp_str(pk, "counters");
    pack_counters(pk, p);
    if (p->error[0]) {
        mp_str(pk, "error");
        mp_str(pk, p->error);
    }
}

static void reply_plugins(agent_plugins *ap, const msg *m, msg_writer *w)
{
    msg_start_reply(w, &m->id, m->type, ap->from, 1);
    mp_str(&w->pk, "plugins");
    msgpack_pack_array(&w->pk, ap->host.n_plugins);
    for (size_t i = 0; i < ap->host.n_plugins; i++)
        pack_plugin(&w->pk, ap->host.plugins[i]);
}

/* The coordinator's deadline is on its clock, which may be set apart from
 * ours by more than a command's time: kept as it was, a deploy was answered
 * TIMEOUT at once by an agent ahead of it (or let run on long after by one
 * behind). What counts is the time the command had left when it was sent:
 * the deadline less the envelope's ts, both on the coordinator's clock,
 * counted from now on ours. */
static int64_t local_deadline(const msg *m, int64_t deadline)
{
    int64_t now = clock_wall_ms();
    if (deadline <= 0)
        return now + COMMAND_DEFAULT_MS;
    int64_t left = deadline - m->ts / 1000000;
    return now + (left < 0 ? 0 : left > COMMAND_MAX_MS ? COMMAND_MAX_MS : left);
}

static command_outcome on_command(void *ctx, const msg *m, msg_writer *w)
{
    agent_plugins *ap = ctx;
    msg_str name = {"", 0};
    const msgpack_object *args = NULL;
    int64_t deadline = 0;
    body_str(m->body, "command", false, &name, NULL);
    msg_writer_reset(w);
    if (msg_str_eq(name, "plugins")) {
        reply_plugins(ap, m, w);
        return COMMAND_REPLIED;
    }
    if (!event_type_valid(name.p, name.n))
        return COMMAND_UNKNOWN;
    body_map(m->body, "args", false, &args, NULL);
    if (body_int(m->body, "deadline", false, &deadline, NULL))
        deadline = 0;
    deadline = local_deadline(m, deadline);
    cairn_event cmd;
    event_view(&cmd, name.p, name.n, "coordinator", 11, clock_wall_ms(), args);
    char id[ULID_TEXT_LEN + 1];
    ulid_format(&m->id, id);
    cairn_error err = {0};
    if (plugin_host_command(&ap->host, id, &cmd, deadline, &err) == CAIRN_OK)
        return COMMAND_DEFERRED;
    msg_error_reply(w, &m->id, m->type, ap->from, err.status, err.message);
    return COMMAND_REPLIED;
}

static void pack_plugin_names(void *ctx, msgpack_packer *pk)
{
    agent_plugins *ap = ctx;
    msgpack_pack_array(pk, ap->host.n_plugins);
    for (size_t i = 0; i < ap->host.n_plugins; i++)
        mp_str(pk, ap->host.plugins[i]->name);
}

presence_hooks agent_plugins_presence_hooks(agent_plugins *ap)
{
    return (presence_hooks){ap, on_command, pack_plugin_names};
}

/* ---- SDK writes to subscribers ---- */

static bool observer_wants(void *ctx, const char *type)
{
    agent_plugins *ap = ctx;
    return plugin_host_wants(&ap->host, type);
}

static void observer_spooled(void *ctx, const msg *m)
{
    agent_plugins *ap = ctx;
    cairn_event ev;
    event_view(&ev, m->type.p, m->type.n, m->from.p, m->from.n, m->ts / 1000000, m->body);
    plugin_host_route(&ap->host, &ev, NULL);
    plugin_host_drain(&ap->host);
}

sdk_observer agent_plugins_observer(agent_plugins *ap)
{
    return (sdk_observer){ap, observer_wants, observer_spooled};
}

/* ---- lifecycle and the loop ---- */

/* plugins.user: isolated children drop to it, when there is root to drop. */
static cairn_status set_child_user(plugin_host *h, const agent_config *cfg, cairn_error *err)
{
    h->watchdog_ms = cfg->plugin_watchdog_ms;
    if (!cfg->plugin_user[0] || geteuid() != 0)
        return CAIRN_OK;
    struct passwd *pw = getpwnam(cfg->plugin_user);
    if (!pw)
        return error_set(err, CAIRN_INVALID_PARAMETER_VALUE, "plugins.user '%s' is not a user",
                         cfg->plugin_user);
    if (pw->pw_uid == 0)
        return error_set(err, CAIRN_INVALID_PARAMETER_VALUE, "plugins.user '%s' is root",
                         cfg->plugin_user);
    h->drop_privileges = true;
    h->child_uid = pw->pw_uid;
    h->child_gid = pw->pw_gid;
    return CAIRN_OK;
}

cairn_status agent_plugins_open(agent_plugins *ap, void *zctx, const agent_config *cfg, spool *sp,
                                forwarder *fwd, const char *from, const char *agent_id,
                                cairn_error *err)
{
    memset(ap, 0, sizeof *ap);
    ap->cfg = cfg;
    ap->spool = sp;
    ap->fwd = fwd;
    ap->from = from;
    ap->agent_id = agent_id;
    msgpack_sbuffer_init(&ap->outbox);
    msgpack_packer_init(&ap->outbox_pk, &ap->outbox, msgpack_sbuffer_write);
    msg_writer_init(&ap->w);
    ap->open = true;
    char root[PATH_MAX];
    snprintf(root, sizeof root, "%s/plugins", cfg->data_dir);
    char *const *dirs;
    size_t n_dirs = agent_plugin_dirs(cfg, &dirs);
    plugin_sink sink = {ap, sink_spool, sink_command_done, sink_fetch, NULL, sink_room};
    cairn_status st =
        fetcher_open(&ap->fetch, zctx, cfg->coordinator, cfg->coordinator_silence_ms, from, err);
    if (!st)
        st = plugin_host_init(&ap->host, root, dirs, n_dirs, cfg->notify_max_attempts, &sink, err);
    if (!st)
        st = set_child_user(&ap->host, cfg, err);
    for (size_t i = 0; !st && i < cfg->n_plugins; i++) {
        cairn_error e = {0};
        if (plugin_host_load(&ap->host, &cfg->plugins[i], &e) && cfg->plugins_required)
            st = error_set(err, e.status, "%s (plugins.required is set)", e.message);
    }
    agent_plugins_flush(ap);
    return st;
}

void agent_plugins_close(agent_plugins *ap)
{
    if (!ap->open)
        return;
    if (ap->host.queue)
        plugin_host_close(&ap->host); /* drains: the last events reach the outbox */
    agent_plugins_flush(ap);
    fetcher_close(&ap->fetch);
    msgpack_sbuffer_destroy(&ap->outbox);
    msg_writer_destroy(&ap->w);
    ap->open = false;
}

int agent_plugins_poll_items(agent_plugins *ap, zmq_pollitem_t *items, int cap)
{
    if (cap < 1)
        return 0;
    items[0] = (zmq_pollitem_t){ap->fetch.dealer, 0, ZMQ_POLLIN, 0};
    return 1 + plugin_host_poll_items(&ap->host, items + 1, cap - 1);
}

void agent_plugins_dispatch(agent_plugins *ap, const zmq_pollitem_t *items, int n)
{
    if (n > 0 && (items[0].revents & ZMQ_POLLIN))
        fetcher_receive(&ap->fetch);
    if (n > 1)
        plugin_host_dispatch(&ap->host, items + 1, n - 1);
}

void agent_plugins_timers(agent_plugins *ap, int64_t now)
{
    fetcher_expire(&ap->fetch, now);
    plugin_host_run_timers(&ap->host, now);
}

int64_t agent_plugins_next_deadline(const agent_plugins *ap)
{
    return clock_earliest(plugin_host_next_deadline(&ap->host), fetcher_next_deadline(&ap->fetch));
}
