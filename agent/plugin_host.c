/* Plugins' lifecycle, event routing and deployer commands (see plugin_host.h). */
#include "plugin_host.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "clock.h"
#include "error.h"
#include "kvlog.h"
#include "plugin_isolate.h"

const char *plugin_state_name(plugin_state s)
{
    switch (s) {
    case PLUGIN_RUNNING: return "running";
    case PLUGIN_FAILED: return "failed";
    case PLUGIN_RESTARTING: return "restarting";
    default: return "disabled";
    }
}

cairn_status plugin_host_init(plugin_host *h, const char *state_root, char *const *dirs,
                              size_t n_dirs, int notify_max_attempts, const plugin_sink *sink,
                              cairn_error *err)
{
    memset(h, 0, sizeof *h);
    if (strlen(state_root) >= sizeof h->state_root)
        return error_set(err, CAIRN_INVALID_PARAMETER_VALUE, "plugin state directory path too long");
    snprintf(h->state_root, sizeof h->state_root, "%s", state_root);
    h->dirs = dirs;
    h->n_dirs = n_dirs;
    h->notify_max_attempts = notify_max_attempts > 0 ? notify_max_attempts : 1;
    h->watchdog_ms = 10000;
    ssize_t n = readlink("/proc/self/exe", h->self_exe, sizeof h->self_exe - 1);
    h->self_exe[n > 0 ? n : 0] = '\0';
    /* Held open: an upgrade may replace the file, a restarted child must
     * still be this program (see exec_child). */
    h->self_fd = n > 0 ? open(h->self_exe, O_RDONLY | O_CLOEXEC) : -1;
    h->sink = *sink;
    h->queue = calloc(PLUGIN_QUEUE_MAX, sizeof *h->queue);
    if (!h->queue)
        return error_set(err, CAIRN_OUT_OF_MEMORY, "plugin event queue");
    return CAIRN_OK;
}

void plugin_fail(plugin_instance *p, const char *why)
{
    char q[600];
    p->status = PLUGIN_FAILED;
    snprintf(p->error, sizeof p->error, "%s", why);
    kvlog(KVLOG_ERROR, "plugin_refused", "plugin=%s reason=%s", p->name,
          kvlog_quote(q, sizeof q, why));
}

/* ---- loading ---- */

static cairn_status make_state_dir(plugin_instance *p, const plugin_spec *spec, cairn_error *err)
{
    const char *root = p->host->state_root;
    if (spec->state_dir[0]) {
        snprintf(p->state_dir, sizeof p->state_dir, "%s", spec->state_dir);
    } else {
        if (mkdir(root, 0700) != 0 && errno != EEXIST)
            return error_set(err, CAIRN_IO_ERROR, "%s: %s", root, strerror(errno));
        snprintf(p->state_dir, sizeof p->state_dir, "%s/%s", root, p->name);
    }
    if (mkdir(p->state_dir, 0700) != 0 && errno != EEXIST)
        return error_set(err, CAIRN_IO_ERROR, "%s: %s", p->state_dir, strerror(errno));
    return CAIRN_OK;
}

/* An isolated plugin is opened by its child: the agent itself never runs
 * any of its code, not even its constructors. */
static cairn_status open_plugin(plugin_instance *p, const plugin_spec *spec, cairn_error *err)
{
    plugin_host *h = p->host;
    char path[PATH_MAX];
    cairn_status st = CAIRN_OK;
    if (spec->vetted)
        snprintf(path, sizeof path, "%s", spec->path);
    else
        st = plugin_find(spec->path, h->dirs, h->n_dirs, path, sizeof path, err);
    if (!st && !spec->vetted)
        st = plugin_check_permissions(path, err);
    if (!st && spec->isolate) {
        if (!p->name[0])
            return error_set(err, CAIRN_INVALID_PARAMETER_VALUE, "an isolated plugin needs a name");
        st = make_state_dir(p, spec, err);
        return st ? st : isolate_start(p, path, spec, err);
    }
    if (!st)
        st = plugin_open(path, &p->lib, err);
    if (!st && !p->name[0])
        snprintf(p->name, sizeof p->name, "%s", p->lib.desc->name);
    if (!st) {
        p->kind = p->lib.desc->kind;
        snprintf(p->version, sizeof p->version, "%s", p->lib.desc->version ? p->lib.desc->version : "");
        st = plugin_config_resolve(p->lib.desc->config, &spec->config, &p->config, err);
    }
    if (!st)
        st = make_state_dir(p, spec, err);
    return st;
}

static cairn_status start_plugin(plugin_instance *p, cairn_error *err)
{
    if (p->iso)
        return CAIRN_OK; /* the child ran init */
    p->status = PLUGIN_RUNNING;
    p->error[0] = '\0';
    if (p->lib.desc->init(&plugin_host_api, p, &p->state) != 0) {
        plugin_forget(p);
        return error_set(err, CAIRN_INVALID_STATE, "init failed (see its log lines)");
    }
    p->initialised = true;
    return CAIRN_OK;
}

cairn_status plugin_host_load(plugin_host *h, const plugin_spec *spec, cairn_error *err)
{
    plugin_instance **grown = realloc(h->plugins, (h->n_plugins + 1) * sizeof *grown);
    plugin_instance *p = calloc(1, sizeof *p);
    if (grown)
        h->plugins = grown;
    if (!grown || !p) {
        free(p);
        return error_set(err, CAIRN_OUT_OF_MEMORY, "plugin '%s': out of memory", spec->name);
    }
    p->host = h;
    p->isolated = spec->isolate;
    snprintf(p->name, sizeof p->name, "%s", spec->name);
    h->plugins[h->n_plugins++] = p;
    cairn_error e = {0};
    cairn_status st = open_plugin(p, spec, &e);
    if (!st)
        st = start_plugin(p, &e);
    if (st) {
        plugin_fail(p, e.message);
        return error_set(err, st, "plugin '%s': %s", p->name[0] ? p->name : spec->path, e.message);
    }
    char q[2 * PATH_MAX];
    if (!h->in_child) /* the agent logs it once, for the child too */
        kvlog(KVLOG_INFO, "plugin_loaded", "plugin=%s kind=%s version=%s isolated=%s path=%s",
              p->name, plugin_kind_name(p->kind), p->version[0] ? p->version : "-",
              p->iso ? "true" : "false", kvlog_value(q, sizeof q, spec->path));
    return CAIRN_OK;
}

static void stop_plugin(plugin_instance *p)
{
    if (p->iso)
        isolate_stop(p);
    const cairn_plugin_descriptor *d = p->lib.desc;
    if (p->initialised) {
        if (d->kind == CAIRN_PLUGIN_TRACKER) {
            const cairn_tracker_ops *ops = d->ops;
            if (ops->size >= offsetof(cairn_tracker_ops, flush) + sizeof ops->flush && ops->flush)
                ops->flush(p->state);
        }
        d->fini(p->state);
        p->initialised = false;
    }
    plugin_forget(p);
    plugin_retry_clear(p);
}

/* Stops every plugin first (trackers flush, isolated children send their
 * last events), then spools what they emitted, then unloads them. */
void plugin_host_close(plugin_host *h)
{
    plugin_host_drain(h);
    for (size_t i = 0; i < h->n_plugins; i++) {
        stop_plugin(h->plugins[i]);
        h->plugins[i]->status = PLUGIN_DISABLED;
    }
    plugin_host_drain(h);
    for (size_t i = 0; i < h->n_plugins; i++) {
        plugin_instance *p = h->plugins[i];
        plugin_unload(&p->lib);
        plugin_settings_free(&p->config);
        free(p);
    }
    for (size_t i = 0; i < h->q_count; i++)
        event_destroy(h->queue[(h->q_head + i) % PLUGIN_QUEUE_MAX].ev);
    free(h->plugins);
    free(h->timers);
    free(h->watches);
    free(h->queue);
    free(h->commands);
    if (h->self_fd > 0) /* 0: a host never set up */
        close(h->self_fd);
    memset(h, 0, sizeof *h);
    h->self_fd = -1;
}

/* ---- routing ---- */

static bool subscribed(const plugin_instance *p, const char *type)
{
    for (int i = 0; i < p->n_subs; i++)
        if (event_type_matches(p->subs[i], type))
            return true;
    return false;
}

bool plugin_host_wants(const plugin_host *h, const char *type)
{
    for (size_t i = 0; i < h->n_plugins; i++)
        if (h->plugins[i]->status == PLUGIN_RUNNING && subscribed(h->plugins[i], type))
            return true;
    return false;
}

void plugin_host_route(plugin_host *h, const cairn_event *ev, const plugin_instance *from)
{
    for (size_t i = 0; i < h->n_plugins; i++) {
        plugin_instance *p = h->plugins[i];
        if (p == from || p->status != PLUGIN_RUNNING || !subscribed(p, ev->type))
            continue;
        h->stats.routed++;
        if (p->iso)
            isolate_event(p, ev);
        else if (p->kind == CAIRN_PLUGIN_DETECTOR)
            ((const cairn_detector_ops *)p->lib.desc->ops)->on_event(p->state, ev);
        else if (p->kind == CAIRN_PLUGIN_NOTIFIER)
            plugin_deliver(p, ev);
    }
}

/* A refusal is logged once, when emit starts refusing this plugin's events
 * for that reason, not once an event: a tracker retrying would flood the log. */
static void refuse(plugin_instance *p, const char *reason)
{
    if (p->refusing != reason)
        kvlog(KVLOG_WARN, "plugin_event_refused", "plugin=%s reason=%s", p->name, reason);
    p->refusing = reason;
}

/* The plugins that can emit: running, or an isolated one between restarts
 * (its last frames may still come). Failed and disabled ones take no share. */
static size_t emitters(const plugin_host *h)
{
    size_t n = 0;
    for (size_t i = 0; i < h->n_plugins; i++)
        n += h->plugins[i]->status == PLUGIN_RUNNING || h->plugins[i]->status == PLUGIN_RESTARTING;
    return n;
}

bool plugin_queue_has_room(const plugin_instance *p)
{
    const plugin_host *h = p->host;
    if (h->q_count >= PLUGIN_QUEUE_MAX)
        return false;
    if (p->queued < PLUGIN_QUEUE_MAX / PLUGIN_QUEUE_SHARES) /* within any share: no count */
        return true;
    size_t shares = emitters(h);
    if (shares > PLUGIN_QUEUE_SHARES)
        shares = PLUGIN_QUEUE_SHARES;
    return p->queued < PLUGIN_QUEUE_MAX / (shares > 1 ? shares : 1);
}

/* Whether the spool can take this event after those queued before it. */
static bool spool_has_room(plugin_instance *p, size_t bytes)
{
    plugin_host *h = p->host;
    if (!h->sink.room || h->sink.room(h->sink.ctx, h->q_bytes + bytes))
        return true;
    h->stats.spool_refused++;
    refuse(p, "spool_full");
    return false;
}

int plugin_emit(plugin_instance *p, cairn_event *ev)
{
    plugin_host *h = p->host;
    if (!ev)
        return -1;
    if (ev->invalid || !ev->zone) {
        h->stats.invalid_events++;
        kvlog(KVLOG_WARN, "plugin_event_invalid", "plugin=%s type=%s", p->name, ev->type);
        event_destroy(ev);
        return -1;
    }
    size_t bytes = event_size(ev);
    if (bytes > EVENT_MAX_BYTES) {
        /* Batched with others, it would get the whole batch refused. */
        h->stats.invalid_events++;
        kvlog(KVLOG_WARN, "plugin_event_too_large", "plugin=%s type=%s bytes=%zu limit=%zu",
              p->name, ev->type, bytes, EVENT_MAX_BYTES);
        event_destroy(ev);
        return -1;
    }
    if (!plugin_queue_has_room(p)) {
        h->stats.queue_full++;
        refuse(p, "queue_full");
        event_destroy(ev);
        return -1;
    }
    if (!spool_has_room(p, bytes)) {
        event_destroy(ev);
        return -1;
    }
    p->refusing = NULL;
    p->queued++;
    /* The sender's name is the source, whatever event_new was called with. */
    snprintf(ev->source, sizeof ev->source, "%s", p->name);
    h->queue[(h->q_head + h->q_count++) % PLUGIN_QUEUE_MAX] = (queued_event){ev, p, bytes};
    h->q_bytes += bytes;
    h->stats.emitted++;
    return 0;
}

void plugin_host_drain(plugin_host *h)
{
    while (h->q_count) {
        queued_event q = h->queue[h->q_head];
        h->q_head = (h->q_head + 1) % PLUGIN_QUEUE_MAX;
        h->q_count--;
        h->q_bytes -= q.bytes;
        q.from->queued--;
        plugin_host_route(h, q.ev, q.from);
        int rc = h->sink.spool ? h->sink.spool(h->sink.ctx, q.ev) : 0;
        if (rc != 0) {
            h->stats.spool_refused++;
            kvlog(KVLOG_WARN, "plugin_event_not_spooled", "plugin=%s type=%s reason=%s",
                  q.from->name, q.ev->type, rc == -2 ? "too_large" : "spool_full");
        }
        event_destroy(q.ev);
    }
}
