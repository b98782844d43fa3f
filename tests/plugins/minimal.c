/* Test tracker built the way an older ABI 1 plugin would be: its ops are
 * nothing but their size (no `flush`), its descriptor exactly 1.0's size.
 * The host must read no field past what the sizes say. */
#include <cairn/plugin.h>

static int init(const cairn_host_api *api, cairn_host *h, void **out)
{
    /* A plugin checks for host functions newer than its own ABI. */
    *out = NULL;
    return CAIRN_HOST_HAS(api, fetch_blob) && api->state_dir(h) ? 0 : -1;
}

static void fini(void *p) { (void)p; }

static const uint32_t ops_size_only = sizeof(uint32_t);
static const cairn_plugin_descriptor descriptor = {
    CAIRN_PLUGIN_ABI,
    .kind = CAIRN_PLUGIN_TRACKER,
    .name = "minimal",
    .version = "1.0",
    .description = "ops of the smallest size (test plugin)",
    .config = NULL,
    .init = init,
    .fini = fini,
    .ops = &ops_size_only,
};
CAIRN_PLUGIN_EXPORT(descriptor)
