/*
 * agent.list and fanout: the requests, their replies decoded into the public
 * structs, and their JSON shapes (docs/cli.md: `cairn agents --json`,
 * `cairn ping --selector ... --json`).
 */
#include <jansson.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "body.h"
#include "client_internal.h"
#include "error.h"

static cairn_status oom(cairn_error *err)
{
    return error_set(err, CAIRN_OUT_OF_MEMORY, "out of memory decoding a reply");
}

static char *dup_str(msg_str s)
{
    char *p = malloc((size_t)s.n + 1);
    if (p) {
        if (s.n)
            memcpy(p, s.p, s.n);
        p[s.n] = '\0';
    }
    return p;
}

/* A required string field, copied. */
static cairn_status get_str(const msgpack_object *map, const char *key, char **out,
                            cairn_error *err)
{
    msg_str s;
    cairn_status st = body_str(map, key, true, &s, err);
    if (st)
        return st;
    return (*out = dup_str(s)) ? CAIRN_OK : oom(err);
}

/* A 26-character id field. */
static cairn_status get_id(const msgpack_object *map, const char *key, char out[CAIRN_ID_TEXT_LEN + 1],
                           cairn_error *err)
{
    msg_str s;
    cairn_status st = body_str(map, key, true, &s, err);
    if (!st && s.n != CAIRN_ID_TEXT_LEN)
        st = error_set(err, CAIRN_BAD_MESSAGE, "field '%s' is not a 26-character id", key);
    if (!st)
        msg_str_copy(s, out, CAIRN_ID_TEXT_LEN + 1);
    return st;
}

/* Each item of the reply's array `key` through decode into n_items of size
 * bytes (zeroed); *items NULL on failure (clear frees what was made). */
typedef cairn_status (*item_decoder)(const msgpack_object *o, void *item, cairn_error *err);
typedef void (*item_clear)(void *item);

static cairn_status decode_array(const msgpack_object *body, const char *key, size_t size,
                                 item_decoder decode, item_clear clear, void **items,
                                 size_t *count, cairn_error *err)
{
    const msgpack_object *arr;
    *items = NULL;
    *count = 0;
    cairn_status st = body_array(body, key, true, &arr, err);
    if (st)
        return st;
    uint32_t n = arr->via.array.size;
    char *all = calloc(n ? n : 1, size);
    if (!all)
        return oom(err);
    for (uint32_t i = 0; i < n && !st; i++) {
        if (arr->via.array.ptr[i].type != MSGPACK_OBJECT_MAP)
            st = error_set(err, CAIRN_BAD_MESSAGE, "'%s' must be an array of maps", key);
        else
            st = decode(&arr->via.array.ptr[i], all + i * size, err);
    }
    for (uint32_t i = 0; st && i < n; i++)
        clear(all + i * size);
    if (st) {
        free(all);
        return st;
    }
    *items = all;
    *count = n;
    return CAIRN_OK;
}

/* ---- agent.list ---- */

static void agent_clear(void *item)
{
    cairn_agent *a = item;
    for (size_t i = 0; i < a->n_labels; i++) {
        free((char *)a->labels[i].key);
        free((char *)a->labels[i].value);
    }
    free(a->labels);
    free(a->host);
    free(a->version);
    free(a->status);
}

static cairn_status decode_labels(const msgpack_object *o, cairn_agent *a, cairn_error *err)
{
    const msgpack_object *map;
    cairn_status st = body_map(o, "labels", true, &map, err);
    if (st)
        return st;
    a->labels = calloc(map->via.map.size ? map->via.map.size : 1, sizeof *a->labels);
    if (!a->labels)
        return oom(err);
    for (uint32_t i = 0; i < map->via.map.size; i++) {
        msg_str k, v;
        if (!obj_str(&map->via.map.ptr[i].key, &k) || !obj_str(&map->via.map.ptr[i].val, &v))
            return error_set(err, CAIRN_BAD_MESSAGE, "'labels' must map strings to strings");
        a->labels[i].key = dup_str(k);
        a->labels[i].value = dup_str(v);
        a->n_labels++;
        if (!a->labels[i].key || !a->labels[i].value)
            return oom(err);
    }
    return CAIRN_OK;
}

static cairn_status decode_agent(const msgpack_object *o, void *item, cairn_error *err)
{
    cairn_agent *a = item;
    int64_t depth = 0;
    cairn_status st = get_id(o, "id", a->id, err);
    if (!st)
        st = get_str(o, "host", &a->host, err);
    if (!st)
        st = decode_labels(o, a, err);
    if (!st)
        st = get_str(o, "version", &a->version, err);
    if (!st)
        st = get_str(o, "status", &a->status, err);
    if (!st)
        st = body_int(o, "last_seen", true, &a->last_seen, err);
    if (!st)
        st = body_int(o, "spool_depth", false, &depth, err);
    a->spool_depth = depth > 0 ? (uint64_t)depth : 0;
    return st;
}

static cairn_status agents_body(const msgpack_object *body, void *out, cairn_error *err)
{
    cairn_agent_list *list = out;
    return decode_array(body, "agents", sizeof(cairn_agent), decode_agent, agent_clear,
                        (void **)&list->items, &list->count, err);
}

cairn_status cairn_agents_list(cairn_client *client, cairn_agent_list **out, cairn_error *err)
{
    if (!client || !out)
        return error_set(err, CAIRN_INVALID_PARAMETER_VALUE, "agent.list: missing client or result pointer");
    *out = NULL;
    client_begin(client, "agent.list", 0);
    return client_call_into(client, sizeof **out, agents_body, (void **)out, err);
}

void cairn_agent_list_free(cairn_agent_list *list)
{
    if (!list)
        return;
    for (size_t i = 0; i < list->count; i++)
        agent_clear(&list->items[i]);
    free(list->items);
    free(list);
}

/* ---- fanout ---- */

static void result_clear(void *item)
{
    cairn_fanout_result *r = item;
    free(r->host);
    free(r->result);
    free(r->error);
}

static cairn_status decode_result(const msgpack_object *o, void *item, cairn_error *err)
{
    cairn_fanout_result *r = item;
    msg_str e;
    cairn_status st = get_id(o, "agent", r->agent, err);
    if (!st)
        st = get_str(o, "host", &r->host, err);
    if (!st)
        st = get_str(o, "result", &r->result, err);
    if (!st)
        st = body_double(o, "rtt_ms", true, &r->rtt_ms, err);
    if (!st && body_find(o, "error")) {
        st = body_str(o, "error", true, &e, err);
        if (!st && !(r->error = dup_str(e)))
            st = oom(err);
    }
    return st;
}

static void pack_fanout(cairn_client *c, const cairn_fanout_opts *o)
{
    msgpack_packer *pk = client_begin(c, "fanout", 4);
    mp_str(pk, "selector");
    mp_str(pk, o->selector ? o->selector : "");
    mp_str(pk, "command");
    mp_str(pk, o->command);
    mp_str(pk, "args");
    msgpack_pack_map(pk, o->n_args);
    for (size_t i = 0; i < o->n_args; i++) {
        mp_str(pk, o->args[i].key);
        mp_str(pk, o->args[i].value);
    }
    mp_str(pk, "timeout_ms");
    msgpack_pack_uint32(pk, (uint32_t)(o->timeout_ms > 0 ? o->timeout_ms : 5000));
}

static cairn_status results_body(const msgpack_object *body, void *out, cairn_error *err)
{
    cairn_fanout_list *list = out;
    return decode_array(body, "results", sizeof(cairn_fanout_result), decode_result, result_clear,
                        (void **)&list->items, &list->count, err);
}

cairn_status cairn_fanout(cairn_client *client, const cairn_fanout_opts *opts,
                          cairn_fanout_list **out, cairn_error *err)
{
    if (!client || !opts || !opts->command || !out)
        return error_set(err, CAIRN_INVALID_PARAMETER_VALUE,
                         "fanout: missing client, command or result pointer");
    for (size_t i = 0; i < opts->n_args; i++)
        if (!opts->args || !opts->args[i].key || !opts->args[i].value)
            return error_set(err, CAIRN_INVALID_PARAMETER_VALUE, "fanout: args[%zu] is NULL", i);
    *out = NULL;
    pack_fanout(client, opts);
    /* The coordinator answers once the agents have: their time comes first.
     * The sum is taken in 64 bits and capped: two long timeouts overflowed. */
    int saved = client->timeout_ms;
    int64_t wait = (int64_t)saved + (opts->timeout_ms > 0 ? opts->timeout_ms : 5000);
    client->timeout_ms = wait < INT_MAX ? (int)wait : INT_MAX;
    cairn_status st = client_call_into(client, sizeof **out, results_body, (void **)out, err);
    client->timeout_ms = saved;
    return st;
}

void cairn_fanout_list_free(cairn_fanout_list *list)
{
    if (!list)
        return;
    for (size_t i = 0; i < list->count; i++)
        result_clear(&list->items[i]);
    free(list->items);
    free(list);
}

/* ---- JSON ---- */

/* The coordinator checks that what agents announce is UTF-8; an agent's
 * error text is passed on as it came, so a bad byte becomes '?' rather than
 * failing the document. */
static json_t *jstr(const char *s)
{
    json_t *j = json_string(s ? s : "");
    if (j || !s)
        return j;
    char *copy = strdup(s);
    for (char *p = copy; p && *p; p++)
        if ((unsigned char)*p >= 0x80)
            *p = '?';
    j = copy ? json_string(copy) : NULL;
    free(copy);
    return j;
}

static char *dump(json_t *root)
{
    char *s = root ? json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(10))
                   : NULL;
    json_decref(root);
    return s;
}

static json_t *agent_json(const cairn_agent *a)
{
    json_t *o = json_object(), *labels = json_object();
    for (size_t i = 0; labels && i < a->n_labels; i++)
        json_object_set_new(labels, a->labels[i].key, jstr(a->labels[i].value));
    if (!o || !labels) {
        json_decref(o);
        json_decref(labels);
        return NULL;
    }
    json_object_set_new(o, "id", json_string(a->id));
    json_object_set_new(o, "host", jstr(a->host));
    json_object_set_new(o, "labels", labels);
    json_object_set_new(o, "version", jstr(a->version));
    json_object_set_new(o, "status", jstr(a->status));
    json_object_set_new(o, "last_seen", json_integer(a->last_seen));
    json_object_set_new(o, "spool_depth", json_integer((json_int_t)a->spool_depth));
    return o;
}

char *cairn_agent_list_to_json(const cairn_agent_list *list)
{
    json_t *arr = json_array();
    for (size_t i = 0; arr && list && i < list->count; i++) {
        json_t *o = agent_json(&list->items[i]);
        if (!o || json_array_append_new(arr, o) != 0) {
            json_decref(arr);
            return NULL;
        }
    }
    return dump(arr);
}

static json_t *result_json(const cairn_fanout_result *r)
{
    json_t *o = json_object();
    if (!o)
        return NULL;
    json_object_set_new(o, "agent", json_string(r->agent));
    json_object_set_new(o, "host", jstr(r->host));
    json_object_set_new(o, "result", jstr(r->result));
    json_object_set_new(o, "rtt_ms", json_real(r->rtt_ms));
    json_object_set_new(o, "error", r->error ? jstr(r->error) : json_null());
    return o;
}

char *cairn_fanout_list_to_json(const cairn_fanout_list *list)
{
    json_t *arr = json_array();
    for (size_t i = 0; arr && list && i < list->count; i++) {
        json_t *o = result_json(&list->items[i]);
        if (!o || json_array_append_new(arr, o) != 0) {
            json_decref(arr);
            return NULL;
        }
    }
    return dump(arr);
}
