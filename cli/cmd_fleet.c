/*
 * Commands fanned out to agents whose replies carry a body: `cairn plugins`
 * (what each agent runs) and `cairn deploy` / `cairn rollback` (what its
 * deployer did). The coordinator's `fanout` results are read as they come,
 * with each agent's `reply`, and shown per agent.
 */
#include <ctype.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "body.h"
#include "client_internal.h"
#include "commands.h"
#include "error.h"
#include "format.h"
#include "mp_json.h"
#include "show.h"

#define PLUGINS_TIMEOUT_MS 5000
#define DEPLOY_TIMEOUT_MS 60000

typedef struct fanout_call {
    const char *selector; /* the CLI's spelling: "all" and "*" are every agent */
    const char *command;
    const cairn_kv *args;
    size_t n_args;
    int timeout_ms;       /* the agents' time */
} fanout_call;

/* ---- the fan-out ---- */

/* The results as JSON objects {agent, host, result, rtt_ms, error?, reply?},
 * in the coordinator's order (host, then agent). */
static cairn_status call_fanout(cairn_client *c, const fanout_call *q, json_t *results,
                                cairn_error *err)
{
    const msgpack_object *body, *list;
    msgpack_packer *pk = client_begin(c, "fanout", 4);
    mp_str(pk, "selector");
    mp_str(pk, cli_protocol_selector(q->selector));
    mp_str(pk, "command");
    mp_str(pk, q->command);
    mp_str(pk, "args");
    msgpack_pack_map(pk, (uint32_t)q->n_args);
    for (size_t i = 0; i < q->n_args; i++) {
        mp_str(pk, q->args[i].key);
        mp_str(pk, q->args[i].value);
    }
    mp_str(pk, "timeout_ms");
    msgpack_pack_uint32(pk, (uint32_t)q->timeout_ms);
    /* The coordinator answers once the agents have: their time comes first. */
    int saved = c->timeout_ms;
    int64_t total = (int64_t)c->timeout_ms + q->timeout_ms;
    c->timeout_ms = total > INT_MAX ? INT_MAX : (int)total;
    cairn_status st = client_call(c, &body, err);
    c->timeout_ms = saved;
    if (!st)
        st = body_array(body, "results", true, &list, err);
    for (uint32_t i = 0; !st && i < list->via.array.size; i++) {
        json_t *r = mp_to_json(&list->via.array.ptr[i]);
        if (!json_is_object(r) || json_array_append_new(results, r) != 0)
            st = error_set(err, CAIRN_BAD_MESSAGE, "a fan-out result is not a map");
    }
    return st;
}

static const char *str_of(const json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));
    return s ? s : "";
}

static size_t count_bad(const json_t *results)
{
    size_t bad = 0;
    for (size_t i = 0; i < json_array_size(results); i++)
        bad += strcmp(str_of(json_array_get(results, i), "result"), "ok") != 0;
    return bad;
}

/* Runs the fan-out and shows it, as JSON through shape() or as a table
 * through show() (its exit status); once shown, the exit status is
 * cli_judge_fanout's. */
static int run_fanout(cli_ctx *ctx, const fanout_call *q, json_t *(*shape)(const json_t *result),
                      int (*show)(const json_t *results))
{
    cairn_error err;
    json_t *results = json_array(), *out = json_array();
    cairn_client *c = results && out ? cli_client(ctx, &err) : NULL;
    bool shaped = out != NULL;
    int rc;
    if (!results || !out)
        rc = cli_print_json(NULL);
    else if (!c || call_fanout(c, q, results, &err))
        rc = cli_fail(&err);
    else if (!ctx->json)
        rc = json_array_size(results) == 0 ? CLI_OK : show(results);
    else {
        for (size_t i = 0; shaped && i < json_array_size(results); i++)
            shaped = json_array_append_new(out, shape(json_array_get(results, i))) == 0;
        rc = cli_print_json(shaped ? json_text(json_incref(out)) : NULL);
    }
    if (rc == CLI_OK) /* no agent matched, or one did not answer ok: say so, exit 1 */
        rc = cli_judge_fanout(json_array_size(results), count_bad(results), q->selector);
    json_decref(results);
    json_decref(out);
    return rc;
}

/* Copies key from src to dst when src has it. */
static bool copy_key(json_t *dst, const json_t *src, const char *key)
{
    json_t *v = json_object_get(src, key);
    return !v || json_object_set(dst, key, v) == 0;
}

/* {agent, host, result, [rtt_ms,] error?} of a result. */
static json_t *result_head(const json_t *r, bool with_rtt)
{
    json_t *o = json_object();
    bool ok = o && copy_key(o, r, "agent") && copy_key(o, r, "host") && copy_key(o, r, "result") &&
              (!with_rtt || copy_key(o, r, "rtt_ms")) && copy_key(o, r, "error");
    if (!ok)
        json_decref(o);
    return ok ? o : NULL;
}

static const char *agent_short(const json_t *r)
{
    return fmt_agent_short(str_of(r, "agent"));
}

/* Releases o and fails: the out-of-memory exit of the JSON builders. */
static json_t *drop(json_t *o)
{
    json_decref(o);
    return NULL;
}

/* ---- plugins ---- */

static const char *const plugin_keys[] = {"name",     "kind",     "version", "state",
                                          "isolated", "restarts", "error",   "counters"};

/* A plugin's map with the documented keys first, in their order, then any
 * others the agent added. */
static json_t *plugin_json(const json_t *p)
{
    json_t *o = json_object();
    const char *key;
    json_t *v;
    for (size_t i = 0; o && i < sizeof plugin_keys / sizeof plugin_keys[0]; i++)
        if (!copy_key(o, p, plugin_keys[i]))
            return drop(o);
    json_object_foreach((json_t *)p, key, v)
        if (o && !json_object_get(o, key) && json_object_set(o, key, v) != 0)
            return drop(o);
    return o;
}

static const json_t *plugins_of(const json_t *r)
{
    return json_object_get(json_object_get(r, "reply"), "plugins");
}

static json_t *plugins_result(const json_t *r)
{
    json_t *o = result_head(r, false), *list = json_array();
    const json_t *plugins = plugins_of(r);
    for (size_t i = 0; o && list && i < json_array_size(plugins); i++)
        if (json_array_append_new(list, plugin_json(json_array_get(plugins, i))) != 0)
            list = drop(list);
    return json_put(o, "plugins", list) ? o : drop(o);
}

static bool add_plugin_row(table *t, const json_t *r, const json_t *p)
{
    char restarts[32];
    snprintf(restarts, sizeof restarts, "%" JSON_INTEGER_FORMAT,
             json_integer_value(json_object_get(p, "restarts")));
    char *counters = json_kv_cell(json_object_get(p, "counters"));
    bool ok = counters && table_add(t, (const char *[]){
        str_of(r, "host"), agent_short(r), str_of(p, "name"), str_of(p, "kind"),
        str_of(p, "version"), str_of(p, "state"), restarts, counters, str_of(p, "error")});
    free(counters);
    return ok;
}

/* One row per agent and plugin; an agent without an answer, or without
 * plugins, gets one row saying so. */
static int show_plugins(const json_t *results)
{
    table *t = table_new(9);
    bool ok = t && table_add(t, (const char *[]){"HOST", "AGENT", "PLUGIN", "KIND", "VERSION",
                                                 "STATE", "RESTARTS", "COUNTERS", "ERROR"});
    for (size_t i = 0; ok && i < json_array_size(results); i++) {
        const json_t *r = json_array_get(results, i), *plugins = plugins_of(r);
        bool answered = strcmp(str_of(r, "result"), "ok") == 0;
        for (size_t k = 0; ok && answered && k < json_array_size(plugins); k++)
            ok = add_plugin_row(t, r, json_array_get(plugins, k));
        if (ok && (!answered || json_array_size(plugins) == 0))
            ok = table_add(t, (const char *[]){str_of(r, "host"), agent_short(r), "-", "-", "-",
                                               answered ? "(no plugins)" : str_of(r, "result"),
                                               "-", "", str_of(r, "error")});
    }
    if (t)
        table_align_right(t, 6);
    return cli_print_table(t, ok);
}

static const opt_spec plugins_opts[] = {{"--selector", true}, {"--timeout", true}, {NULL, false}};

/* Reads --timeout (default dflt) and --selector (default every agent). */
static int read_fanout_opts(const cli_command *self, const parsed_args *a, int dflt,
                            fanout_call *q)
{
    const char *timeout = args_get(a, "--timeout"), *bad;
    q->selector = args_get(a, "--selector") ? args_get(a, "--selector") : "all";
    q->timeout_ms = dflt;
    if (timeout && (bad = args_fanout_timeout_ms(timeout, &q->timeout_ms)))
        return cli_usage_error(self, "bad --timeout '%s': %s", timeout, bad);
    return -1;
}

int cmd_plugins(cli_ctx *ctx, const cli_command *self, int argc, char **argv)
{
    parsed_args a;
    fanout_call q = {.command = "plugins"};
    int rc = cli_parse_options(ctx, self, argc, argv, plugins_opts, &a);
    if (rc >= 0)
        return rc;
    if ((rc = read_fanout_opts(self, &a, PLUGINS_TIMEOUT_MS, &q)) < 0)
        rc = run_fanout(ctx, &q, plugins_result, show_plugins);
    args_free(&a);
    return rc;
}

/* ---- deploy and rollback ---- */

static json_t *deploy_result(const json_t *r)
{
    json_t *o = result_head(r, true);
    return !o || copy_key(o, r, "reply") ? o : drop(o);
}

static int show_deploys(const json_t *results)
{
    table *t = table_new(5);
    bool ok = t && table_add(t, (const char *[]){"HOST", "AGENT", "RESULT", "RTT_MS", "DETAIL"});
    for (size_t i = 0; ok && i < json_array_size(results); i++) {
        const json_t *r = json_array_get(results, i), *reply = json_object_get(r, "reply");
        char rtt[32];
        snprintf(rtt, sizeof rtt, "%.3f", json_number_value(json_object_get(r, "rtt_ms")));
        char *detail = reply ? json_kv_cell(reply) : strdup(str_of(r, "error"));
        ok = detail && table_add(t, (const char *[]){str_of(r, "host"), agent_short(r),
                                                     str_of(r, "result"), rtt, detail});
        free(detail);
    }
    if (t)
        table_align_right(t, 3);
    return cli_print_table(t, ok);
}

static const opt_spec deploy_opts[] = {{"--sha256", true},   {"--selector", true},
                                       {"--deployer", true}, {"--timeout", true},
                                       {NULL, false}};
static const opt_spec rollback_opts[] = {{"--selector", true}, {"--deployer", true},
                                         {"--timeout", true},  {NULL, false}};

/* 64 hex digits, lowered in place (blob.get takes lowercase). */
static bool sha256_text(char *s)
{
    size_t n = 0;
    for (; s[n]; n++) {
        if (!isxdigit((unsigned char)s[n]))
            return false;
        s[n] = (char)tolower((unsigned char)s[n]);
    }
    return n == 64;
}

/* deploy and rollback once their own args are in q: --selector is required,
 * --deployer joins the args when given. */
static int send_deploy(cli_ctx *ctx, const cli_command *self, const parsed_args *a,
                       fanout_call *q, cairn_kv *args)
{
    const char *deployer = args_get(a, "--deployer");
    int rc;
    if (!args_get(a, "--selector"))
        return cli_usage_error(self, "--selector is required (all: every agent)");
    if ((rc = read_fanout_opts(self, a, DEPLOY_TIMEOUT_MS, q)) >= 0)
        return rc;
    if (deployer)
        args[q->n_args++] = (cairn_kv){"deployer", deployer};
    return run_fanout(ctx, q, deploy_result, show_deploys);
}

int cmd_deploy(cli_ctx *ctx, const cli_command *self, int argc, char **argv)
{
    parsed_args a;
    cairn_kv args[4];
    fanout_call q = {.command = "deploy", .args = args, .n_args = 3};
    int rc = cli_parse(ctx, self, argc, argv, deploy_opts, &a);
    if (rc >= 0)
        return rc;
    char *sha = (char *)args_get(&a, "--sha256");
    if (a.n_pos != 2)
        rc = cli_usage_error(self, "expected MODEL and VERSION");
    else if (!sha)
        rc = cli_usage_error(self, "--sha256 is required (the artifact's content hash)");
    else if (!sha256_text(sha))
        rc = cli_usage_error(self, "bad --sha256 '%s': expected 64 hex digits", sha);
    else {
        args[0] = (cairn_kv){"model", a.pos[0]};
        args[1] = (cairn_kv){"version", a.pos[1]};
        args[2] = (cairn_kv){"sha256", sha};
        rc = send_deploy(ctx, self, &a, &q, args);
    }
    args_free(&a);
    return rc;
}

int cmd_rollback(cli_ctx *ctx, const cli_command *self, int argc, char **argv)
{
    parsed_args a;
    cairn_kv args[2];
    fanout_call q = {.command = "rollback", .args = args, .n_args = 1};
    int rc = cli_parse(ctx, self, argc, argv, rollback_opts, &a);
    if (rc >= 0)
        return rc;
    if (a.n_pos != 1)
        rc = cli_usage_error(self, "expected MODEL");
    else {
        args[0] = (cairn_kv){"model", a.pos[0]};
        rc = send_deploy(ctx, self, &a, &q, args);
    }
    args_free(&a);
    return rc;
}
