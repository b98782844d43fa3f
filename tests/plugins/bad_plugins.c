/* Test plugins the host must refuse, one per BAD_* define (the build makes
 * one .so of each from this file): a future ABI major, a descriptor smaller
 * than ABI 1.0's, an unknown kind, a failing init, a schema with a default
 * that is not its type. */
#include <cairn/plugin.h>
#include <stddef.h>

static int init(const cairn_host_api *api, cairn_host *h, void **out)
{
    (void)api, (void)h;
    *out = NULL;
#ifdef BAD_INIT
    api->log(h, CAIRN_LOG_ERROR, "bad_config", "this plugin always fails init");
    return -1;
#else
    return 0;
#endif
}

static void fini(void *p) { (void)p; }
static void on_event(void *p, const cairn_event *e) { (void)p, (void)e; }

static const cairn_detector_ops ops = {.size = sizeof ops, .on_event = on_event};
static const cairn_config_key schema[] = {
#ifdef BAD_DEFAULT
    {"limit", CAIRN_CONFIG_INT, "lots", 0, "an int whose default is not one"},
#endif
    {NULL, 0, NULL, 0, NULL}};
static const cairn_plugin_descriptor descriptor = {
#ifdef BAD_SIZE
    .size = offsetof(cairn_plugin_descriptor, init),
#else
    .size = sizeof(cairn_plugin_descriptor),
#endif
#ifdef BAD_ABI
    .abi_major = CAIRN_PLUGIN_ABI_MAJOR + 1,
#else
    .abi_major = CAIRN_PLUGIN_ABI_MAJOR,
#endif
    .abi_minor = 0,
#ifdef BAD_KIND
    .kind = (cairn_plugin_kind)9,
#else
    .kind = CAIRN_PLUGIN_DETECTOR,
#endif
    .name = "bad",
    .version = "0",
    .description = "refused on purpose",
    .config = schema,
    .init = init,
    .fini = fini,
    .ops = &ops,
};
CAIRN_PLUGIN_EXPORT(descriptor)
