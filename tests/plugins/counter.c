/* Test detector: counts the events it subscribed to (config `subscribe`),
 * and emits `seen` with the running count and the value of `field` every
 * `every` events. Used by the host's unit tests and the agent's integration
 * tests. */
#include <cairn/plugin.h>
#include <stdio.h>
#include <stdlib.h>

typedef struct state {
    const cairn_host_api *api;
    cairn_host *h;
    const char *field;
    int64_t every, seen;
} state;

static int init(const cairn_host_api *api, cairn_host *h, void **out)
{
    state *s = calloc(1, sizeof *s);
    if (!s)
        return -1;
    s->api = api;
    s->h = h;
    api->config_string(h, "field", &s->field);
    api->config_int(h, "every", &s->every);
    for (size_t i = 0; i < api->config_list_count(h, "subscribe"); i++)
        api->subscribe(h, api->config_list_item(h, "subscribe", i));
    *out = s;
    return 0;
}

static void fini(void *p) { free(p); }

static void on_event(void *p, const cairn_event *ev)
{
    state *s = p;
    s->api->counter_add(s->h, "events", 1);
    if (++s->seen % s->every)
        return;
    cairn_event *out = s->api->event_new(s->h, "seen");
    s->api->event_set_int(out, "count", s->seen);
    s->api->event_set_string(out, "of", s->api->event_type(ev));
    double v;
    if (s->api->event_get_float(ev, s->field, &v) == 0)
        s->api->event_set_float(out, "value", v);
    s->api->emit(s->h, out);
}

static const cairn_detector_ops ops = {.size = sizeof ops, .on_event = on_event};
static const cairn_config_key schema[] = {
    {"subscribe", CAIRN_CONFIG_STRING_LIST, "[\"*\"]", 0, "event types to count"},
    {"field", CAIRN_CONFIG_STRING, "value", 0, "a numeric field copied into `seen`"},
    {"every", CAIRN_CONFIG_INT, "1", 0, "emit `seen` every N events"},
    {NULL, 0, NULL, 0, NULL}};
static const cairn_plugin_descriptor descriptor = {
    CAIRN_PLUGIN_ABI,
    .kind = CAIRN_PLUGIN_DETECTOR,
    .name = "counter",
    .version = "1.0",
    .description = "counts events (test plugin)",
    .config = schema,
    .init = init,
    .fini = fini,
    .ops = &ops,
};
CAIRN_PLUGIN_EXPORT(descriptor)
