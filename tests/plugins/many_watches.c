/* Test tracker: watches `fds` eventfds, each made readable at init, and
 * `after_ms` later emits "watched" {accepted, fired}: how many watches the
 * host took and how many of them it said were ready. Every watch accepted
 * should fire. */
#include <cairn/plugin.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <unistd.h>

typedef struct state {
    const cairn_host_api *api;
    cairn_host *h;
    int *fds;
    int64_t n, accepted, fired;
} state;

static void ready(void *arg, int fd, unsigned events)
{
    state *s = arg;
    uint64_t v;
    (void)events;
    /* Read once, an eventfd is not ready again: the watch stays in place,
     * as a plugin's watches do, and fires once. */
    if (read(fd, &v, sizeof v) == (ssize_t)sizeof v)
        s->fired++;
}

static void report(void *arg)
{
    state *s = arg;
    cairn_event *ev = s->api->event_new(s->h, "watched");
    s->api->event_set_int(ev, "accepted", s->accepted);
    s->api->event_set_int(ev, "fired", s->fired);
    s->api->emit(s->h, ev);
}

static int init(const cairn_host_api *api, cairn_host *h, void **out)
{
    state *s = calloc(1, sizeof *s);
    int64_t after = 500;
    if (!s)
        return -1;
    s->api = api;
    s->h = h;
    api->config_int(h, "fds", &s->n);
    api->config_int(h, "after_ms", &after);
    s->fds = calloc((size_t)s->n + 1, sizeof *s->fds);
    for (int64_t i = 0; s->fds && i < s->n; i++) {
        uint64_t one = 1;
        s->fds[i] = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
        if (s->fds[i] >= 0 && write(s->fds[i], &one, sizeof one) == (ssize_t)sizeof one &&
            api->watch_fd(h, s->fds[i], CAIRN_FD_READ, ready, s) == 0)
            s->accepted++;
    }
    api->timer_add(h, (uint64_t)after, 0, report, s);
    *out = s;
    return s->fds ? 0 : -1;
}

static void fini(void *p)
{
    state *s = p;
    for (int64_t i = 0; i < s->n; i++)
        if (s->fds[i] >= 0)
            close(s->fds[i]);
    free(s->fds);
    free(s);
}

static const cairn_tracker_ops ops = {.size = sizeof ops};
static const cairn_config_key schema[] = {
    {"fds", CAIRN_CONFIG_INT, "100", 0, "eventfds to watch"},
    {"after_ms", CAIRN_CONFIG_INT, "500", 0, "when to report how many fired"},
    {NULL, 0, NULL, 0, NULL}};
static const cairn_plugin_descriptor descriptor = {
    CAIRN_PLUGIN_ABI,
    .kind = CAIRN_PLUGIN_TRACKER,
    .name = "many-watches",
    .version = "1.0",
    .description = "watches many descriptors (test plugin)",
    .config = schema,
    .init = init,
    .fini = fini,
    .ops = &ops,
};
CAIRN_PLUGIN_EXPORT(descriptor)
