/*
 * Commands for deployers: which plugin takes one, its deadline, and the one
 * answer each command gets (done, refused, or timed out by the host).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "error.h"
#include "kvlog.h"
#include "plugin_host.h"
#include "plugin_isolate.h"

static plugin_instance *find_deployer(plugin_host *h, const cairn_event *cmd, cairn_error *err)
{
    const char *want = NULL;
    size_t want_len = 0;
    event_get_string(cmd, "deployer", &want, &want_len);
    plugin_instance *found = NULL;
    int n = 0;
    for (size_t i = 0; i < h->n_plugins; i++) {
        plugin_instance *p = h->plugins[i];
        if (p->kind != CAIRN_PLUGIN_DEPLOYER)
            continue;
        if (want && (strlen(p->name) != want_len || memcmp(p->name, want, want_len) != 0))
            continue;
        found = p;
        n++;
    }
    if (n == 0 && want)
        error_set(err, CAIRN_RESOURCE_DOES_NOT_EXIST, "no deployer plugin named '%.*s' on this agent",
                  (int)want_len, want);
    else if (n == 0)
        error_set(err, CAIRN_RESOURCE_DOES_NOT_EXIST, "no deployer plugin on this agent");
    else if (n > 1)
        error_set(err, CAIRN_INVALID_PARAMETER_VALUE,
                  "%d deployers on this agent: name one with 'deployer'", n);
    else if (found->status != PLUGIN_RUNNING)
        error_set(err, CAIRN_INVALID_STATE, "deployer '%s' is %s", found->name,
                  plugin_state_name(found->status));
    return n == 1 && found->status == PLUGIN_RUNNING ? found : NULL;
}

static pending_command *find_pending(plugin_host *h, const char *id, size_t *index)
{
    for (size_t i = 0; i < h->n_commands; i++)
        if (strcmp(h->commands[i].id, id) == 0) {
            if (index)
                *index = i;
            return &h->commands[i];
        }
    return NULL;
}

cairn_status plugin_host_command(plugin_host *h, const char *command_id, const cairn_event *cmd,
                                 int64_t deadline_wall_ms, cairn_error *err)
{
    if (strlen(command_id) >= sizeof h->commands->id || find_pending(h, command_id, NULL))
        return error_set(err, CAIRN_INVALID_PARAMETER_VALUE, "command id in use or too long");
    plugin_instance *p = find_deployer(h, cmd, err);
    if (!p)
        return err->status;
    if (h->n_commands == h->cap_commands) {
        size_t cap = h->cap_commands ? h->cap_commands * 2 : 8;
        pending_command *c = realloc(h->commands, cap * sizeof *c);
        if (!c)
            return error_set(err, CAIRN_OUT_OF_MEMORY, "command table");
        h->commands = c;
        h->cap_commands = cap;
    }
    pending_command *c = &h->commands[h->n_commands++];
    snprintf(c->id, sizeof c->id, "%s", command_id);
    c->deployer = p;
    c->deadline_ms = deadline_wall_ms;
    h->stats.commands++;
    kvlog(KVLOG_INFO, "command_start", "plugin=%s command=%s id=%s", p->name, cmd->type, command_id);
    cairn_plugin_result r = p->iso ? isolate_command(p, command_id, cmd, deadline_wall_ms)
                                   : ((const cairn_deployer_ops *)p->lib.desc->ops)
                                         ->on_command(p->state, command_id, cmd, deadline_wall_ms);
    plugin_host_drain(h);
    if (r == CAIRN_PLUGIN_OK)
        return CAIRN_OK;
    /* Refused: no answer may follow; one the plugin sent anyway was the answer. */
    size_t at;
    if (!find_pending(h, command_id, &at))
        return CAIRN_OK;
    h->commands[at] = h->commands[--h->n_commands];
    return error_set(err, CAIRN_INVALID_PARAMETER_VALUE, "deployer '%s' refused the command",
                     p->name);
}

static void answer(plugin_host *h, size_t at, cairn_status code, const char *message,
                   const cairn_event *fields)
{
    pending_command c = h->commands[at];
    h->commands[at] = h->commands[--h->n_commands];
    kvlog(KVLOG_INFO, "command_done", "plugin=%s id=%s code=%s", c.deployer->name, c.id,
          code ? cairn_status_name(code) : "OK");
    if (h->sink.command_done)
        h->sink.command_done(h->sink.ctx, c.id, code, message, fields);
}

void plugin_command_done(plugin_instance *p, const char *command_id, cairn_plugin_result result,
                         const char *message, cairn_event *fields)
{
    plugin_host *h = p->host;
    size_t at;
    pending_command *c = command_id ? find_pending(h, command_id, &at) : NULL;
    if (c && c->deployer == p)
        answer(h, at, result == CAIRN_PLUGIN_OK ? CAIRN_OK : CAIRN_COMMAND_FAILED,
               message ? message : "", fields);
    else
        kvlog(KVLOG_DEBUG, "command_done_ignored", "plugin=%s id=%s", p->name,
              command_id ? command_id : "-");
    event_destroy(fields);
}

void plugin_command_answer(plugin_instance *p, const char *command_id, cairn_status code,
                           const char *message, const cairn_event *fields)
{
    plugin_host *h = p->host;
    size_t at;
    pending_command *c = command_id ? find_pending(h, command_id, &at) : NULL;
    if (c && c->deployer == p)
        answer(h, at, code, message ? message : "", fields);
}

void plugin_commands_fail(plugin_instance *p, const char *why)
{
    plugin_host *h = p->host;
    for (size_t i = h->n_commands; i-- > 0;)
        if (h->commands[i].deployer == p)
            answer(h, i, CAIRN_COMMAND_FAILED, why, NULL);
}

void plugin_command_progress(plugin_instance *p, const char *command_id, const char *message)
{
    pending_command *c = command_id ? find_pending(p->host, command_id, NULL) : NULL;
    if (!c || c->deployer != p)
        return;
    cairn_event *ev = event_create("command.progress", p->name, clock_wall_ms());
    if (!ev)
        return;
    event_set_string(ev, "command", command_id);
    event_set_string(ev, "message", message ? message : "");
    plugin_emit(p, ev);
}

/* Deadlines are the host's to keep: a deployer that never answers still
 * gets its command answered, with a timeout. */
void plugin_host_expire_commands(plugin_host *h, int64_t now_wall)
{
    for (size_t i = h->n_commands; i-- > 0;) {
        if (h->commands[i].deadline_ms > now_wall)
            continue;
        h->stats.command_timeouts++;
        answer(h, i, CAIRN_TIMEOUT, "the deployer did not finish before the deadline", NULL);
    }
}
