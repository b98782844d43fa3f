/* Test deployer: answers `deploy` with the model and version it was given
 * (after `delay_ms`, 0: at once), refuses `refuse`, never answers `hang`,
 * and fails `fail`. */
#include <cairn/plugin.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct state {
    const cairn_host_api *api;
    cairn_host *h;
    int64_t delay_ms;
    char pending[64];
    char model[128];
} state;

static void answer(void *p)
{
    state *s = p;
    cairn_event *r = s->api->event_new(s->h, "result");
    s->api->event_set_string(r, "model", s->model);
    s->api->command_done(s->h, s->pending, CAIRN_PLUGIN_OK, "deployed", r);
}

static cairn_plugin_result on_command(void *p, const char *id, const cairn_event *cmd,
                                      int64_t deadline)
{
    state *s = p;
    const char *type = s->api->event_type(cmd), *model = "";
    size_t len = 0;
    (void)deadline;
    if (strcmp(type, "refuse") == 0)
        return CAIRN_PLUGIN_ERROR;
    if (strcmp(type, "hang") == 0)
        return CAIRN_PLUGIN_OK;
    if (strcmp(type, "fail") == 0) {
        s->api->command_done(s->h, id, CAIRN_PLUGIN_ERROR, "reload failed", NULL);
        return CAIRN_PLUGIN_OK;
    }
    s->api->event_get_string(cmd, "model", &model, &len);
    snprintf(s->model, sizeof s->model, "%.*s", (int)len, model);
    snprintf(s->pending, sizeof s->pending, "%s", id);
    s->api->command_progress(s->h, id, "starting");
    if (s->delay_ms)
        s->api->timer_add(s->h, (uint64_t)s->delay_ms, 0, answer, s);
    else
        answer(s);
    return CAIRN_PLUGIN_OK;
}

static int init(const cairn_host_api *api, cairn_host *h, void **out)
{
    state *s = calloc(1, sizeof *s);
    if (!s)
        return -1;
    s->api = api;
    s->h = h;
    api->config_int(h, "delay_ms", &s->delay_ms);
    *out = s;
    return 0;
}

static void fini(void *p) { free(p); }

static const cairn_deployer_ops ops = {.size = sizeof ops, .on_command = on_command};
static const cairn_config_key schema[] = {
    {"delay_ms", CAIRN_CONFIG_INT, "0", 0, "answer after this long"}, {NULL, 0, NULL, 0, NULL}};
static const cairn_plugin_descriptor descriptor = {
    CAIRN_PLUGIN_ABI,
    .kind = CAIRN_PLUGIN_DEPLOYER,
    .name = "echo-deployer",
    .version = "1.0",
    .description = "answers deploy commands (test plugin)",
    .config = schema,
    .init = init,
    .fini = fini,
    .ops = &ops,
};
CAIRN_PLUGIN_EXPORT(descriptor)
