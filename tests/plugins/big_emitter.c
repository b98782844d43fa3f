/* A detector that answers each "tick" with `count` "big" events, each holding
 * a string of `bytes` bytes, and counts what emit answered. */
#include <cairn/plugin.h>
#include <stdlib.h>
#include <string.h>

static const cairn_config_key config[] = {
    {.key = "bytes", .type = CAIRN_CONFIG_INT, .default_value = "2000000", .doc = "string size"},
    {.key = "count", .type = CAIRN_CONFIG_INT, .default_value = "1", .doc = "events a tick"},
    {.key = NULL}};

typedef struct big_emitter {
    const cairn_host_api *api;
    cairn_host *host;
    int64_t bytes, count;
} big_emitter;

static int init(const cairn_host_api *api, cairn_host *host, void **state)
{
    big_emitter *b = calloc(1, sizeof *b);
    if (!b)
        return -1;
    b->api = api;
    b->host = host;
    api->config_int(host, "bytes", &b->bytes);
    api->config_int(host, "count", &b->count);
    api->subscribe(host, "tick");
    *state = b;
    return 0;
}

static void fini(void *state)
{
    free(state);
}

static void on_event(void *state, const cairn_event *tick)
{
    big_emitter *b = state;
    (void)tick;
    char *text = malloc((size_t)b->bytes + 1);
    if (!text)
        return;
    memset(text, 'x', (size_t)b->bytes);
    text[b->bytes] = '\0';
    for (int64_t i = 0; i < b->count; i++) {
        cairn_event *e = b->api->event_new(b->host, "big");
        b->api->event_set_string(e, "blob", text);
        b->api->event_set_int(e, "n", i);
        int rc = b->api->emit(b->host, e);
        b->api->counter_add(b->host, rc == 0 ? "emitted" : "refused", 1);
    }
    free(text);
}

static const cairn_detector_ops ops = {.size = sizeof ops, .on_event = on_event};

static const cairn_plugin_descriptor descriptor = {
    CAIRN_PLUGIN_ABI,
    .kind = CAIRN_PLUGIN_DETECTOR,
    .name = "big-emitter",
    .version = "1",
    .description = "emits large events on each tick",
    .config = config,
    .init = init,
    .fini = fini,
    .ops = &ops,
};

CAIRN_PLUGIN_EXPORT(descriptor)
