/* Test detector that misbehaves on demand, for isolation: on an event of
 * type "crash" it aborts, on "hang" it never returns, on "echo" it emits
 * "echoed" {n}. At init it emits "started" {uid, pid}, so a test can see
 * which user runs it and that it was restarted. */
#include <cairn/plugin.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct state {
    const cairn_host_api *api;
    cairn_host *h;
    int64_t echoed;
} state;

static void started(void *p)
{
    state *s = p;
    cairn_event *ev = s->api->event_new(s->h, "started");
    s->api->event_set_int(ev, "uid", (int64_t)getuid());
    s->api->event_set_int(ev, "pid", (int64_t)getpid());
    s->api->emit(s->h, ev);
}

static int init(const cairn_host_api *api, cairn_host *h, void **out)
{
    state *s = calloc(1, sizeof *s);
    if (!s)
        return -1;
    s->api = api;
    s->h = h;
    api->subscribe(h, "crash");
    api->subscribe(h, "hang");
    api->subscribe(h, "echo");
    api->timer_add(h, 0, 0, started, s);
    *out = s;
    return 0;
}

static void fini(void *p) { free(p); }

static void on_event(void *p, const cairn_event *ev)
{
    state *s = p;
    const char *type = s->api->event_type(ev);
    if (strcmp(type, "crash") == 0)
        abort();
    if (strcmp(type, "hang") == 0)
        for (;;)
            pause();
    cairn_event *out = s->api->event_new(s->h, "echoed");
    s->api->event_set_int(out, "n", ++s->echoed);
    s->api->counter_add(s->h, "echoed", 1);
    s->api->emit(s->h, out);
}

static const cairn_detector_ops ops = {.size = sizeof ops, .on_event = on_event};
static const cairn_plugin_descriptor descriptor = {
    CAIRN_PLUGIN_ABI,
    .kind = CAIRN_PLUGIN_DETECTOR,
    .name = "misbehave",
    .version = "1.0",
    .description = "crashes or hangs on demand (test plugin)",
    .config = NULL,
    .init = init,
    .fini = fini,
    .ops = &ops,
};
CAIRN_PLUGIN_EXPORT(descriptor)
