/*
 * cairn agent-events: the events agents' plugins and clients reported
 * (event.list), every page, filtered by the coordinator.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "body.h"
#include "client_internal.h"
#include "commands.h"
#include "error.h"
#include "format.h"
#include "mp_json.h"
#include "table.h"

#define PAGE_MAX 10000
#define FIELDS_WIDTH 80

typedef struct events_query {
    const char *type, *source, *agent; /* NULL: no filter */
    uint64_t since;                    /* 0: from the first */
    uint64_t max;                      /* 0: all */
} events_query;

static const opt_spec events_opts[] = {{"--type", true},  {"--source", true}, {"--agent", true},
                                       {"--since", true}, {"--max", true},    {NULL, false}};

/* ---- fetching ---- */

/* One event of a reply as the JSON object docs/cli.md shows, keys in order. */
static json_t *event_json(const msgpack_object *e)
{
    static const char *const keys[] = {"seq", "agent", "source", "type", "time", "fields"};
    json_t *o = json_object();
    for (size_t i = 0; o && i < sizeof keys / sizeof keys[0]; i++) {
        const msgpack_object *v = body_find(e, keys[i]);
        if (!json_put(o, keys[i], v ? mp_to_json(v) : json_null())) {
            json_decref(o);
            return NULL;
        }
    }
    return o;
}

static void pack_filter(msgpack_packer *pk, const char *key, const char *value)
{
    if (value) {
        mp_str(pk, key);
        mp_str(pk, value);
    }
}

/* Asks for one page from since; appends its events to all. *next gets where
 * the next page starts, 0 when the coordinator read its log to the end. */
static cairn_status fetch_page(cairn_client *c, const events_query *q, uint64_t since,
                               uint32_t max, json_t *all, uint64_t *next, cairn_error *err)
{
    const msgpack_object *body, *events;
    uint32_t n = 2 + (q->type != NULL) + (q->source != NULL) + (q->agent != NULL);
    msgpack_packer *pk = client_begin(c, "event.list", n);
    pack_filter(pk, "type", q->type);
    pack_filter(pk, "source", q->source);
    pack_filter(pk, "agent", q->agent);
    mp_str(pk, "since");
    msgpack_pack_uint64(pk, since);
    mp_str(pk, "max");
    msgpack_pack_uint32(pk, max);
    int64_t after = 0;
    cairn_status st = client_call(c, &body, err);
    if (!st)
        st = body_array(body, "events", true, &events, err);
    if (!st)
        st = body_int(body, "next", false, &after, err);
    for (uint32_t i = 0; !st && i < events->via.array.size; i++) {
        json_t *e = event_json(&events->via.array.ptr[i]);
        if (!e || json_array_append_new(all, e) != 0)
            st = error_set(err, CAIRN_OUT_OF_MEMORY, "out of memory");
    }
    *next = after > 0 ? (uint64_t)after : 0;
    return st;
}

/* Every page, or until q->max events. A page may hold no event and still
 * have a next one: the coordinator bounds the events it looks at per page. */
static cairn_status fetch_events(cairn_client *c, const events_query *q, json_t *all,
                                 cairn_error *err)
{
    uint64_t since = q->since ? q->since : 1, next;
    for (;;) {
        size_t have = json_array_size(all);
        if (q->max && have >= q->max)
            return CAIRN_OK;
        uint64_t want = q->max ? q->max - have : PAGE_MAX;
        cairn_status st = fetch_page(c, q, since, want < PAGE_MAX ? (uint32_t)want : PAGE_MAX,
                                     all, &next, err);
        if (st || next <= since) /* 0 at the end; a step back would loop */
            return st;
        since = next;
    }
}

/* ---- output ---- */

static bool add_event_row(table *t, const json_t *e)
{
    char seq[32], time[FMT_TIME_LEN];
    snprintf(seq, sizeof seq, "%" JSON_INTEGER_FORMAT, json_integer_value(json_object_get(e, "seq")));
    const char *agent = json_string_value(json_object_get(e, "agent"));
    char *fields = json_kv_cell(json_object_get(e, "fields"));
    bool ok = fields && table_add(t, (const char *[]){
        seq, fmt_time_ms(json_integer_value(json_object_get(e, "time")), time),
        fmt_agent_short(agent ? agent : ""), json_string_value(json_object_get(e, "source")),
        json_string_value(json_object_get(e, "type")), fields});
    free(fields);
    return ok;
}

static int print_events(const json_t *all)
{
    table *t = table_new(6);
    if (t) {
        table_align_right(t, 0);
        table_max_width(t, 5, FIELDS_WIDTH); /* before the rows: cells are cut when added */
    }
    bool ok = t && table_add(t, (const char *[]){"SEQ", "TIME", "AGENT", "SOURCE", "TYPE", "FIELDS"});
    for (size_t i = 0; ok && i < json_array_size(all); i++)
        ok = add_event_row(t, json_array_get(all, i));
    if (ok)
        table_print(t, stdout, NULL);
    table_free(t);
    return ok ? CLI_OK : cli_print_json(NULL);
}

/* ---- the command ---- */

static const char *read_query(const parsed_args *a, events_query *q, const char **bad)
{
    const char *why = NULL;
    q->type = args_get(a, "--type");
    q->source = args_get(a, "--source");
    q->agent = args_get(a, "--agent");
    if (args_has(a, "--since") && (why = args_uint(args_get(a, "--since"), &q->since)))
        *bad = "--since";
    else if ((why = args_positive_count(a, "--max", &q->max)))
        *bad = "--max";
    else if (q->agent && !cli_is_run_id(q->agent) && (why = "not an agent id (a 26-character ULID)"))
        *bad = "--agent";
    return why;
}

int cmd_agent_events(cli_ctx *ctx, const cli_command *self, int argc, char **argv)
{
    parsed_args a;
    events_query q = {0};
    cairn_error err;
    const char *why, *bad = NULL;
    int rc = cli_parse(ctx, self, argc, argv, events_opts, &a);
    if (rc >= 0)
        return rc;
    json_t *all = json_array();
    cairn_client *c = NULL;
    if (a.n_pos)
        rc = cli_usage_error(self, "unexpected argument '%s'", a.pos[0]);
    else if ((why = read_query(&a, &q, &bad)))
        rc = cli_usage_error(self, "bad %s: %s", bad, why);
    else if (!all)
        rc = cli_print_json(NULL);
    else if (!(c = cli_client(ctx, &err)) || fetch_events(c, &q, all, &err))
        rc = cli_fail(&err);
    else if (ctx->json)
        rc = cli_print_json(json_text(json_incref(all)));
    else
        rc = print_events(all);
    json_decref(all);
    args_free(&a);
    return rc;
}
