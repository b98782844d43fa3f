/* Test notifier: `deliver` answers from the `results` list in turn ("ok",
 * "retry", "error"; the last one repeats), counting each, after `delay_ms`
 * (a slow endpoint). */
#include <cairn/plugin.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct state {
    const cairn_host_api *api;
    cairn_host *h;
    size_t calls;
    int64_t delay_ms;
} state;

static cairn_plugin_result deliver(void *p, const cairn_event *alert)
{
    state *s = p;
    size_t n = s->api->config_list_count(s->h, "results");
    const char *r = n ? s->api->config_list_item(s->h, "results", s->calls < n ? s->calls : n - 1)
                      : "ok";
    (void)alert;
    if (s->delay_ms > 0) {
        struct timespec d = {s->delay_ms / 1000, (long)(s->delay_ms % 1000) * 1000000};
        while (nanosleep(&d, &d) != 0)
            ;
    }
    s->calls++;
    s->api->counter_add(s->h, r, 1);
    return strcmp(r, "ok") == 0 ? CAIRN_PLUGIN_OK
           : strcmp(r, "retry") == 0 ? CAIRN_PLUGIN_RETRY
                                     : CAIRN_PLUGIN_ERROR;
}

static int init(const cairn_host_api *api, cairn_host *h, void **out)
{
    state *s = calloc(1, sizeof *s);
    if (!s)
        return -1;
    s->api = api;
    s->h = h;
    api->config_int(h, "delay_ms", &s->delay_ms);
    api->subscribe(h, "alert");
    *out = s;
    return 0;
}

static void fini(void *p) { free(p); }

static const cairn_notifier_ops ops = {.size = sizeof ops, .deliver = deliver};
static const cairn_config_key schema[] = {
    {"results", CAIRN_CONFIG_STRING_LIST, NULL, 0, "what each delivery returns"},
    {"delay_ms", CAIRN_CONFIG_INT, "0", 0, "milliseconds each delivery takes"},
    {NULL, 0, NULL, 0, NULL}};
static const cairn_plugin_descriptor descriptor = {
    CAIRN_PLUGIN_ABI,
    .kind = CAIRN_PLUGIN_NOTIFIER,
    .name = "flaky-notifier",
    .version = "1.0",
    .description = "a notifier that fails on demand (test plugin)",
    .config = schema,
    .init = init,
    .fini = fini,
    .ops = &ops,
};
CAIRN_PLUGIN_EXPORT(descriptor)
