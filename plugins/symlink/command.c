/* A command from its arrival to its answer: checking its fields, keeping it
 * in flight, answering it. */
#include "symlink.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Copies the string field `name` of a command into out, checking it is a safe
 * name. Returns NULL, or why not. */
const char *command_name(struct deployer *d, const cairn_event *cmd, const char *name,
                         char out[NAME_MAX_LEN + 1])
{
    const char *s;
    size_t len;
    if (d->api->event_get_string(cmd, name, &s, &len) != 0)
        return "missing";
    if (!safe_name(s, len))
        return "not a safe name (1-128 bytes, no '/', no control character, not starting with '.')";
    memcpy(out, s, len);
    out[len] = '\0';
    return NULL;
}

int command_sha256(struct deployer *d, const cairn_event *cmd, char out[65])
{
    const char *s;
    size_t len;
    if (d->api->event_get_string(cmd, "sha256", &s, &len) != 0 || len != 64)
        return -1;
    for (size_t i = 0; i < 64; i++) {
        if (!isxdigit((unsigned char)s[i]))
            return -1;
        out[i] = (char)tolower((unsigned char)s[i]);
    }
    out[64] = '\0';
    return 0;
}

void op_free(struct op *op)
{
    if (op->fetch_path)
        unlink(op->fetch_path);
    free(op->fetch_path);
    free(op->id);
    free(op->model_dir);
    free(op->prev_target);
    free(op->prev_version);
    free(op);
}

static void op_unlink(struct op *op)
{
    for (struct op **p = &op->d->ops; *p; p = &(*p)->next) {
        if (*p == op) {
            *p = op->next;
            return;
        }
    }
}

char *op_file_path(const struct op *op)
{
    return fmt("%s/" VERSIONS_PREFIX "%s/%s", op->model_dir, op->version, op->d->file_name);
}

/* Answers the command, with the result fields on success, and forgets it. */
void op_finish(struct op *op, cairn_plugin_result result, const char *message)
{
    struct deployer *d = op->d;
    const cairn_host_api *api = d->api;
    cairn_event *fields = NULL;
    if (result == CAIRN_PLUGIN_OK && (fields = api->event_new(d->host, "result")) != NULL) {
        char *path = op_file_path(op);
        api->event_set_string(fields, "model", op->model);
        api->event_set_string(fields, "version", op->version);
        api->event_set_string(fields, "path", path ? path : "");
        api->event_set_string(fields, "previous", op->prev_version ? op->prev_version : "");
        free(path);
    }
    api->log(d->host, result == CAIRN_PLUGIN_OK ? CAIRN_LOG_INFO : CAIRN_LOG_WARN,
             op->rollback ? "rollback" : "deploy", message);
    api->counter_add(d->host, result == CAIRN_PLUGIN_OK ? "succeeded" : "failed", 1);
    api->command_done(d->host, op->id, result, message, fields);
    op_unlink(op);
    op_free(op);
}

void op_fail(struct op *op, const char *f, ...) __attribute__((format(printf, 2, 3)));

void op_fail(struct op *op, const char *f, ...)
{
    char message[512];
    va_list ap;
    va_start(ap, f);
    vsnprintf(message, sizeof(message), f, ap);
    va_end(ap);
    op_finish(op, CAIRN_PLUGIN_ERROR, message);
}

static int model_busy(const struct deployer *d, const char *model)
{
    for (const struct op *o = d->ops; o; o = o->next)
        if (strcmp(o->model, model) == 0)
            return 1;
    return 0;
}

/* Every command is accepted and answered through command_done, so that the
 * reply always carries the reason of a failure. */
cairn_plugin_result deployer_on_command(void *state, const char *command_id,
                                        const cairn_event *command, int64_t deadline_ms)
{
    struct deployer *d = state;
    struct op *op = calloc(1, sizeof(*op));
    if (!op || !(op->id = strdup(command_id))) {
        free(op);
        d->api->log(d->host, CAIRN_LOG_ERROR, "command_refused", "out of memory");
        return CAIRN_PLUGIN_ERROR;
    }
    op->d = d;
    op->deadline_ms = deadline_ms;
    op->pidfd = -1;
    const char *type = d->api->event_type(command);
    op->rollback = strcmp(type, "rollback") == 0;
    const char *why = command_name(d, command, "model", op->model);
    if (!op->rollback && strcmp(type, "deploy") != 0) {
        op_fail(op, "unknown command %s (this deployer knows deploy and rollback)", type);
    } else if (why) {
        op_fail(op, "model: %s", why);
    } else if (model_busy(d, op->model)) {
        op_finish(op, CAIRN_PLUGIN_RETRY, "another command for this model is in progress");
    } else if (!(op->model_dir = fmt("%s/%s", d->root, op->model)) ||
               current_read(op->model_dir, &op->prev_target, &op->prev_version) != 0) {
        op_fail(op, "cannot read %s/current: %s", op->model, strerror(errno));
    } else {
        op->next = d->ops;
        d->ops = op;
        if (op->rollback)
            rollback_start(op);
        else
            deploy_start(op, command);
    }
    return CAIRN_PLUGIN_OK;
}
