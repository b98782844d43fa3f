/*
 * Plugins' timers and watched descriptors. Few plugins set few timers, so a
 * plain array scanned for the earliest is enough; a timer cancelled or a
 * watch removed from inside a callback is handled by ids, not pointers.
 */
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "plugin_host.h"
#include "plugin_isolate.h"

#define MAX_TIMERS 4096

/* Delays and periods past ~24 days are held at that: a plugin's UINT64_MAX
 * means "not for a long time", and cast to the clock's int64 unclamped it
 * would wrap negative and fire on every turn of the loop. */
static uint64_t clamp_ms(uint64_t ms) { return ms > INT32_MAX ? INT32_MAX : ms; }

static int timer_add(plugin_instance *p, uint64_t after_ms, uint64_t every_ms, cairn_timer_fn fn,
                     void *arg, uint64_t *id, bool internal)
{
    plugin_host *h = p->host;
    if (!fn || h->n_timers == MAX_TIMERS)
        return -1;
    if (h->n_timers == h->cap_timers) {
        size_t cap = h->cap_timers ? h->cap_timers * 2 : 16;
        plugin_timer *t = realloc(h->timers, cap * sizeof *t);
        if (!t)
            return -1;
        h->timers = t;
        h->cap_timers = cap;
    }
    plugin_timer *t = &h->timers[h->n_timers++];
    *t = (plugin_timer){.id = ++h->next_timer_id, .owner = p, .internal = internal,
                        .every_ms = clamp_ms(every_ms), .fn = fn, .arg = arg};
    t->due_ms = clock_mono_ms() + (int64_t)clamp_ms(after_ms);
    *id = t->id;
    return 0;
}

int plugin_timer_add(plugin_instance *p, uint64_t after_ms, uint64_t every_ms, cairn_timer_fn fn,
                     void *arg, uint64_t *id)
{
    return timer_add(p, after_ms, every_ms, fn, arg, id, false);
}

int plugin_timer_add_internal(plugin_instance *p, uint64_t after_ms, uint64_t every_ms,
                              cairn_timer_fn fn, void *arg, uint64_t *id)
{
    return timer_add(p, after_ms, every_ms, fn, arg, id, true);
}

static void remove_timer_at(plugin_host *h, size_t i)
{
    h->timers[i] = h->timers[--h->n_timers];
}

void plugin_timer_cancel(plugin_instance *p, uint64_t id)
{
    plugin_host *h = p->host;
    for (size_t i = 0; i < h->n_timers; i++)
        if (h->timers[i].id == id && h->timers[i].owner == p) {
            remove_timer_at(h, i);
            return;
        }
}

static int watch_fd(plugin_instance *p, int fd, unsigned events, cairn_fd_fn fn, void *arg,
                    bool internal)
{
    plugin_host *h = p->host;
    if (fd < 0 || !fn || !(events & (CAIRN_FD_READ | CAIRN_FD_WRITE)))
        return -1;
    for (size_t i = 0; i < h->n_watches; i++)
        if (h->watches[i].fd == fd) {
            if (h->watches[i].owner != p)
                return -1; /* another plugin's descriptor */
            h->watches[i] = (plugin_watch){fd, events, p, internal, fn, arg};
            return 0;
        }
    if (h->n_watches == PLUGIN_MAX_WATCHES)
        return -1;
    if (h->n_watches == h->cap_watches) {
        size_t cap = h->cap_watches ? h->cap_watches * 2 : 8;
        plugin_watch *w = realloc(h->watches, cap * sizeof *w);
        if (!w)
            return -1;
        h->watches = w;
        h->cap_watches = cap;
    }
    h->watches[h->n_watches++] = (plugin_watch){fd, events, p, internal, fn, arg};
    return 0;
}

int plugin_watch_fd(plugin_instance *p, int fd, unsigned events, cairn_fd_fn fn, void *arg)
{
    return watch_fd(p, fd, events, fn, arg, false);
}

int plugin_watch_fd_internal(plugin_instance *p, int fd, unsigned events, cairn_fd_fn fn,
                             void *arg)
{
    return watch_fd(p, fd, events, fn, arg, true);
}

void plugin_unwatch_fd(plugin_instance *p, int fd)
{
    plugin_host *h = p->host;
    for (size_t i = 0; i < h->n_watches; i++)
        if (h->watches[i].fd == fd && h->watches[i].owner == p) {
            h->watches[i] = h->watches[--h->n_watches];
            return;
        }
}

void plugin_forget(plugin_instance *p)
{
    plugin_host *h = p->host;
    for (size_t i = h->n_timers; i-- > 0;)
        if (h->timers[i].owner == p)
            remove_timer_at(h, i);
    for (size_t i = h->n_watches; i-- > 0;)
        if (h->watches[i].owner == p)
            h->watches[i] = h->watches[--h->n_watches];
}

int64_t plugin_host_next_deadline(const plugin_host *h)
{
    int64_t next = INT64_MAX;
    for (size_t i = 0; i < h->n_timers; i++)
        next = clock_earliest(next, h->timers[i].due_ms);
    for (size_t i = 0; i < h->n_plugins; i++)
        next = clock_earliest(next, plugin_retry_next(h->plugins[i]));
    if (h->n_commands)
        next = clock_earliest(next, clock_mono_ms() + 100); /* deadlines are wall clock */
    if (h->q_count)
        next = clock_mono_ms();
    return next;
}

/* Runs each due timer once per call: a timer that is due again at once (a
 * zero period) waits for the next turn instead of starving the loop. */
static void run_due_timers(plugin_host *h, int64_t now)
{
    uint64_t last_id = h->next_timer_id;
    for (size_t i = 0; i < h->n_timers;) {
        plugin_timer *t = &h->timers[i];
        if (t->due_ms > now || t->id > last_id ||
            (!t->internal && t->owner->status != PLUGIN_RUNNING)) {
            i++;
            continue;
        }
        cairn_timer_fn fn = t->fn;
        void *arg = t->arg;
        if (t->every_ms) {
            t->due_ms = now + (int64_t)t->every_ms;
            i++;
        } else {
            remove_timer_at(h, i);
        }
        fn(arg); /* may add or cancel timers: the array may move */
    }
}

void plugin_host_run_timers(plugin_host *h, int64_t now)
{
    run_due_timers(h, now);
    plugin_host_expire_commands(h, clock_wall_ms());
    for (size_t i = 0; i < h->n_plugins; i++)
        plugin_retry_due(h->plugins[i], now);
    plugin_host_drain(h);
}

int plugin_host_poll_items(const plugin_host *h, zmq_pollitem_t *items, int cap)
{
    int n = 0;
    for (size_t i = 0; i < h->n_watches && n < cap; i++) {
        const plugin_watch *w = &h->watches[i];
        if (!w->internal && w->owner->status != PLUGIN_RUNNING)
            continue;
        short ev = (short)(((w->events & CAIRN_FD_READ) ? ZMQ_POLLIN : 0) |
                           ((w->events & CAIRN_FD_WRITE) ? ZMQ_POLLOUT : 0));
        items[n++] = (zmq_pollitem_t){NULL, w->fd, ev, 0};
    }
    return n;
}

void plugin_host_dispatch(plugin_host *h, const zmq_pollitem_t *items, int n)
{
    for (int k = 0; k < n; k++) {
        if (!items[k].revents)
            continue;
        /* Look the watch up again: an earlier callback may have removed it. */
        for (size_t i = 0; i < h->n_watches; i++) {
            plugin_watch w = h->watches[i];
            if (w.fd != items[k].fd)
                continue;
            unsigned ready = ((items[k].revents & ZMQ_POLLIN) ? CAIRN_FD_READ : 0) |
                             ((items[k].revents & ZMQ_POLLOUT) ? CAIRN_FD_WRITE : 0);
            /* An error or hang-up wakes a watch for what it waits on, whose
             * read or write then meets it: as READ, a write-only watch left
             * it unhandled and the poll woke again at once, for ever. */
            if (items[k].revents & ZMQ_POLLERR)
                ready |= w.events & (CAIRN_FD_READ | CAIRN_FD_WRITE);
            if (ready && (w.internal || w.owner->status == PLUGIN_RUNNING))
                w.fn(w.arg, w.fd, ready);
            break;
        }
    }
    plugin_host_drain(h);
    if (isolate_take_held(h))
        plugin_host_drain(h);
}
