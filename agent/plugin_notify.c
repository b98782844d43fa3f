/*
 * Notifier deliveries. A delivery that returns RETRY is copied into the
 * notifier's bounded queue and tried again after 1 s, doubling to 60 s, until
 * plugins.notify_max_attempts; ERROR gives up at once. When the queue is full
 * the oldest waiting alert is dropped: logged and counted, never silently.
 */
#include <stdlib.h>

#include "clock.h"
#include "kvlog.h"
#include "plugin_host.h"

#define RETRY_FIRST_MS 1000
#define RETRY_MAX_MS 60000

static int64_t backoff_ms(int attempts)
{
    int64_t d = RETRY_FIRST_MS;
    for (int i = 1; i < attempts && d < RETRY_MAX_MS; i++)
        d *= 2;
    return d < RETRY_MAX_MS ? d : RETRY_MAX_MS;
}

static cairn_plugin_result call_deliver(plugin_instance *p, const cairn_event *ev)
{
    const cairn_notifier_ops *ops = p->lib.desc->ops;
    cairn_plugin_result r = ops->deliver(p->state, ev);
    plugin_host *h = p->host;
    if (h->sink.delivered)
        h->sink.delivered(h->sink.ctx, p, ev, r);
    return r;
}

static void give_up(plugin_instance *p, const cairn_event *ev, int attempts, const char *why)
{
    p->host->stats.delivery_failed++;
    kvlog(KVLOG_WARN, "notify_failed", "plugin=%s type=%s source=%s attempts=%d reason=%s", p->name,
          ev->type, ev->source, attempts, why);
}

static void enqueue(plugin_instance *p, const cairn_event *ev, int attempts, int64_t now)
{
    plugin_host *h = p->host;
    if (!p->retries) {
        p->retries = calloc(NOTIFY_QUEUE_MAX, sizeof *p->retries);
        if (!p->retries) {
            give_up(p, ev, attempts, "no_memory");
            return;
        }
    }
    if (p->retry_count == NOTIFY_QUEUE_MAX) {
        notify_retry *old = &p->retries[p->retry_head];
        h->stats.delivery_dropped++;
        kvlog(KVLOG_WARN, "notify_dropped", "plugin=%s type=%s reason=retry_queue_full", p->name,
              old->ev->type);
        event_destroy(old->ev);
        p->retry_head = (p->retry_head + 1) % NOTIFY_QUEUE_MAX;
        p->retry_count--;
    }
    cairn_event *copy = event_clone(ev);
    if (!copy) {
        give_up(p, ev, attempts, "no_memory");
        return;
    }
    int at = (p->retry_head + p->retry_count) % NOTIFY_QUEUE_MAX;
    p->retries[at] = (notify_retry){copy, now + backoff_ms(attempts), attempts};
    p->retry_count++;
    h->stats.retried++;
}

static void after_attempt(plugin_instance *p, const cairn_event *ev, cairn_plugin_result r,
                          int attempts, int64_t now)
{
    plugin_host *h = p->host;
    if (r == CAIRN_PLUGIN_OK)
        h->stats.delivered++;
    else if (r == CAIRN_PLUGIN_RETRY && attempts < h->notify_max_attempts)
        enqueue(p, ev, attempts, now);
    else
        give_up(p, ev, attempts, r == CAIRN_PLUGIN_RETRY ? "attempts_exhausted" : "error");
}

void plugin_deliver(plugin_instance *p, const cairn_event *ev)
{
    /* Alerts wait behind earlier ones still being retried: order is kept. */
    if (p->retry_count) {
        enqueue(p, ev, 0, clock_mono_ms());
        p->host->stats.retried--; /* waiting its turn is not a retry */
        return;
    }
    after_attempt(p, ev, call_deliver(p, ev), 1, clock_mono_ms());
}

/* Only the head of the queue is tried: it keeps its place while it is
 * retried, so alerts reach the endpoint in the order they were raised. */
void plugin_retry_due(plugin_instance *p, int64_t now)
{
    plugin_host *h = p->host;
    while (p->retry_count && p->status == PLUGIN_RUNNING) {
        notify_retry *r = &p->retries[p->retry_head];
        if (r->due_ms > now)
            return;
        cairn_plugin_result res = call_deliver(p, r->ev);
        r->attempts++;
        if (res == CAIRN_PLUGIN_RETRY && r->attempts < h->notify_max_attempts) {
            r->due_ms = now + backoff_ms(r->attempts);
            h->stats.retried++;
            return;
        }
        if (res == CAIRN_PLUGIN_OK)
            h->stats.delivered++;
        else
            give_up(p, r->ev, r->attempts, res == CAIRN_PLUGIN_RETRY ? "attempts_exhausted" : "error");
        event_destroy(r->ev);
        p->retry_head = (p->retry_head + 1) % NOTIFY_QUEUE_MAX;
        p->retry_count--;
        if (p->retry_count)
            p->retries[p->retry_head].due_ms = now; /* the next one goes now */
    }
}

int64_t plugin_retry_next(const plugin_instance *p)
{
    return p->retry_count ? p->retries[p->retry_head].due_ms : INT64_MAX;
}

void plugin_retry_clear(plugin_instance *p)
{
    for (int i = 0; i < p->retry_count; i++)
        event_destroy(p->retries[(p->retry_head + i) % NOTIFY_QUEUE_MAX].ev);
    free(p->retries);
    p->retries = NULL;
    p->retry_head = p->retry_count = 0;
}
