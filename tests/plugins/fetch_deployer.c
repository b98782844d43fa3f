/* A deployer that fetches the command's sha256 into the path its config names
 * (`dest`), and answers with its uid and the fetch's outcome. */
#include <cairn/plugin.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const cairn_config_key config[] = {
    {.key = "dest", .type = CAIRN_CONFIG_STRING, .required = 1, .doc = "where the blob goes"},
    {.key = NULL}};

typedef struct fetch_deployer {
    const cairn_host_api *api;
    cairn_host *host;
    const char *dest;
    char command[64];
} fetch_deployer;

static int init(const cairn_host_api *api, cairn_host *host, void **state)
{
    fetch_deployer *d = calloc(1, sizeof *d);
    if (!d)
        return -1;
    d->api = api;
    d->host = host;
    api->config_string(host, "dest", &d->dest);
    *state = d;
    return 0;
}

static void fini(void *state)
{
    free(state);
}

static void fetched(void *arg, int status, const char *error)
{
    fetch_deployer *d = arg;
    char message[300];
    snprintf(message, sizeof message, "uid=%d status=%d error=%s", (int)getuid(), status,
             error ? error : "-");
    d->api->command_done(d->host, d->command, status ? CAIRN_PLUGIN_ERROR : CAIRN_PLUGIN_OK,
                         message, NULL);
}

static cairn_plugin_result on_command(void *state, const char *id, const cairn_event *command,
                                      int64_t deadline_ms)
{
    fetch_deployer *d = state;
    const char *sha;
    size_t n;
    char hex[65];
    (void)deadline_ms;
    snprintf(d->command, sizeof d->command, "%s", id);
    if (d->api->event_get_string(command, "sha256", &sha, &n) || n != 64)
        return CAIRN_PLUGIN_ERROR;
    memcpy(hex, sha, 64);
    hex[64] = '\0';
    return d->api->fetch_blob(d->host, hex, d->dest, fetched, d) ? CAIRN_PLUGIN_ERROR
                                                                  : CAIRN_PLUGIN_OK;
}

static const cairn_deployer_ops ops = {.size = sizeof ops, .on_command = on_command};

static const cairn_plugin_descriptor descriptor = {
    CAIRN_PLUGIN_ABI,
    .kind = CAIRN_PLUGIN_DEPLOYER,
    .name = "fetch-deployer",
    .version = "1",
    .description = "fetches a blob into a configured path",
    .config = config,
    .init = init,
    .fini = fini,
    .ops = &ops,
};

CAIRN_PLUGIN_EXPORT(descriptor)
