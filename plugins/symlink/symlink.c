/* The plugin: its configuration, init/fini and descriptor. The layout and
 * the way a command runs are described in symlink.h. */
#include "symlink.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>

static const cairn_config_key deployer_config[] = {
    {.key = "root",
     .type = CAIRN_CONFIG_STRING,
     .required = 1,
     .doc = "existing absolute directory holding <model>/versions/ and <model>/current"},
    {.key = "reload_command",
     .type = CAIRN_CONFIG_STRING,
     .doc = "run with /bin/sh -c after each switch (env CAIRN_MODEL, CAIRN_VERSION, CAIRN_PATH)"},
    {.key = "reload_timeout_ms",
     .type = CAIRN_CONFIG_INT,
     .default_value = "30000",
     .doc = "a reload command still running after this is killed and the switch undone"},
    {.key = "file_name",
     .type = CAIRN_CONFIG_STRING,
     .default_value = "model",
     .doc = "name of the artifact inside versions/<version>/"},
    {.key = NULL},
};

static int deployer_configure(struct deployer *d)
{
    const cairn_host_api *api = d->api;
    cairn_host *h = d->host;
    struct stat st;
    const char *why = NULL;
    if (api->config_string(h, "root", &d->root) != 0 || d->root[0] != '/')
        why = "root must be an absolute directory path";
    else if (stat(d->root, &st) != 0 || !S_ISDIR(st.st_mode))
        why = "root must be an existing directory";
    else if (api->config_string(h, "file_name", &d->file_name) != 0 ||
             !safe_name(d->file_name, strlen(d->file_name)))
        why = "file_name must be a plain file name (no '/', not starting with '.')";
    else if (api->config_int(h, "reload_timeout_ms", &d->reload_timeout_ms) != 0 ||
             d->reload_timeout_ms < 1 || d->reload_timeout_ms > 3600000)
        why = "reload_timeout_ms must be 1 to 3600000";
    if (why) {
        api->log(h, CAIRN_LOG_ERROR, "bad_config", why);
        return -1;
    }
    if (api->config_string(h, "reload_command", &d->reload_command) != 0 || !d->reload_command[0])
        d->reload_command = NULL;
    return 0;
}

static int deployer_init(const cairn_host_api *api, cairn_host *host, void **state)
{
    struct deployer *d = calloc(1, sizeof(*d));
    if (!d) {
        api->log(host, CAIRN_LOG_ERROR, "init_failed", "out of memory");
        return -1;
    }
    d->api = api;
    d->host = host;
    if (deployer_configure(d) != 0) {
        free(d);
        return -1;
    }
    *state = d;
    return 0;
}

/* Stopping in the middle of a reload undoes its switch: the command was
 * never answered ok, so the previous version stays the live one. */
static void deployer_fini(void *state)
{
    struct deployer *d = state;
    while (d->ops) {
        struct op *op = d->ops;
        d->ops = op->next;
        if (op->pid > 0) {
            kill(-op->pid, SIGKILL);
            while (waitpid(op->pid, NULL, 0) < 0 && errno == EINTR)
                ;
            current_switch(d, op->model_dir, op->prev_target);
        }
        if (op->pidfd >= 0)
            close(op->pidfd);
        op_free(op);
    }
    free(d);
}

static const cairn_deployer_ops deployer_ops = {
    .size = sizeof(cairn_deployer_ops),
    .on_command = deployer_on_command,
};

static const cairn_plugin_descriptor deployer_descriptor = {
    CAIRN_PLUGIN_ABI,
    .kind = CAIRN_PLUGIN_DEPLOYER,
    .name = "symlink",
    .version = "1.0.0",
    .description = "installs model versions side by side and switches a `current` symlink",
    .config = deployer_config,
    .init = deployer_init,
    .fini = deployer_fini,
    .ops = &deployer_ops,
};

CAIRN_PLUGIN_EXPORT(deployer_descriptor)
