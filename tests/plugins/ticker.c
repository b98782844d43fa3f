/* Test tracker: emits events of type `type` (default "tick") {n} every
 * `interval_ms`, `count` times (0: forever), counting `ticks` and the
 * emits the host `refused`. */
#include <cairn/plugin.h>
#include <stdlib.h>

typedef struct state {
    const cairn_host_api *api;
    cairn_host *h;
    int64_t count, n;
    uint64_t timer;
    const char *type;
} state;

static void tick(void *p)
{
    state *s = p;
    cairn_event *ev = s->api->event_new(s->h, s->type);
    s->api->event_set_int(ev, "n", ++s->n);
    if (s->api->emit(s->h, ev) != 0)
        s->api->counter_add(s->h, "refused", 1);
    s->api->counter_add(s->h, "ticks", 1);
    if (s->count && s->n >= s->count)
        s->api->timer_cancel(s->h, s->timer);
}

static int init(const cairn_host_api *api, cairn_host *h, void **out)
{
    state *s = calloc(1, sizeof *s);
    int64_t interval = 0;
    if (!s)
        return -1;
    s->api = api;
    s->h = h;
    api->config_int(h, "interval_ms", &interval);
    api->config_int(h, "count", &s->count);
    api->config_string(h, "type", &s->type);
    s->timer = api->timer_add(h, (uint64_t)interval, (uint64_t)interval, tick, s);
    *out = s;
    return s->timer ? 0 : -1;
}

static void fini(void *p) { free(p); }

static const cairn_tracker_ops ops = {.size = sizeof ops};
static const cairn_config_key schema[] = {
    {"interval_ms", CAIRN_CONFIG_INT, "100", 0, "milliseconds between ticks"},
    {"count", CAIRN_CONFIG_INT, "0", 0, "ticks to emit; 0: forever"},
    {"type", CAIRN_CONFIG_STRING, "tick", 0, "the events' type"},
    {NULL, 0, NULL, 0, NULL}};
static const cairn_plugin_descriptor descriptor = {
    CAIRN_PLUGIN_ABI,
    .kind = CAIRN_PLUGIN_TRACKER,
    .name = "ticker",
    .version = "1.0",
    .description = "emits tick events (test plugin)",
    .config = schema,
    .init = init,
    .fini = fini,
    .ops = &ops,
};
CAIRN_PLUGIN_EXPORT(descriptor)
