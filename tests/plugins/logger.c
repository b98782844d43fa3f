/* Test tracker: at init, logs `detail` at warn level under the event name
 * `event`, whatever the two hold (a plugin may pass anything). */
#include <cairn/plugin.h>

static int init(const cairn_host_api *api, cairn_host *h, void **out)
{
    const char *event = NULL, *detail = NULL;
    api->config_string(h, "event", &event);
    api->config_string(h, "detail", &detail);
    api->log(h, CAIRN_LOG_WARN, event, detail);
    *out = NULL;
    return 0;
}

static void fini(void *p) { (void)p; }

static const cairn_tracker_ops ops = {.size = sizeof ops};
static const cairn_config_key schema[] = {
    {"event", CAIRN_CONFIG_STRING, "said", 0, "the event name logged"},
    {"detail", CAIRN_CONFIG_STRING, "", 0, "the detail logged"},
    {NULL, 0, NULL, 0, NULL}};
static const cairn_plugin_descriptor descriptor = {
    CAIRN_PLUGIN_ABI,
    .kind = CAIRN_PLUGIN_TRACKER,
    .name = "logger",
    .version = "1.0",
    .description = "logs one line at init (test plugin)",
    .config = schema,
    .init = init,
    .fini = fini,
    .ops = &ops,
};
CAIRN_PLUGIN_EXPORT(descriptor)
