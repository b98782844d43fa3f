/* The step deploy and rollback share: pointing current at the version, then
 * recording it in the history once the reload (if any) has succeeded. */
#include "symlink.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The switch stands: record it in the history and answer. */
void op_succeeded(struct op *op)
{
    char(*hist)[NAME_MAX_LEN + 1] = calloc(HISTORY_KEEP + 2, sizeof(*hist));
    size_t n = hist ? history_read(op->model_dir, hist) : 0;
    if (hist && op->rollback) {
        while (n > 0 && strcmp(hist[n - 1], op->prev_version) == 0)
            n--;
    } else if (hist) {
        /* A link set up by hand before the first deploy is remembered too. */
        if (n == 0 && op->prev_version && safe_name(op->prev_version, strlen(op->prev_version)))
            snprintf(hist[n++], NAME_MAX_LEN + 1, "%s", op->prev_version);
        snprintf(hist[n++], NAME_MAX_LEN + 1, "%s", op->version);
    }
    if (!hist || history_write(op->model_dir, hist, n) != 0)
        op->d->api->log(op->d->host, CAIRN_LOG_WARN, "history_failed", op->model_dir);
    free(hist);
    char message[512];
    snprintf(message, sizeof(message), "%s %s is current (previous: %s)", op->model, op->version,
             op->prev_version && op->prev_version[0] ? op->prev_version : "none");
    op_finish(op, CAIRN_PLUGIN_OK, message);
}

/* Points current at op->version and reloads. */
void op_switch(struct op *op)
{
    struct deployer *d = op->d;
    if (op->deadline_ms > 0 && d->api->now_wall_ms(d->host) > op->deadline_ms) {
        op_fail(op, "the deadline passed before the switch; current left at %s",
                op->prev_version ? op->prev_version : "none");
        return;
    }
    if (op->prev_version && strcmp(op->prev_version, op->version) == 0) {
        op_finish(op, CAIRN_PLUGIN_OK, "already current: nothing to switch or reload");
        return;
    }
    char *target = fmt(VERSIONS_PREFIX "%s", op->version);
    int rc = target ? current_switch(d, op->model_dir, target) : -1;
    free(target);
    if (rc != 0) {
        op_fail(op, "cannot switch current to %s: %s", op->version, strerror(errno));
        return;
    }
    char message[256];
    snprintf(message, sizeof(message), "current -> " VERSIONS_PREFIX "%s", op->version);
    d->api->command_progress(d->host, op->id, message);
    if (!d->reload_command) {
        op_succeeded(op);
        return;
    }
    d->api->command_progress(d->host, op->id, "running the reload command");
    if (reload_start(op) != 0) {
        char why[128];
        snprintf(why, sizeof(why), "cannot start /bin/sh: %s", strerror(errno));
        reload_ended(op, why);
    }
}
