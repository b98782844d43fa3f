/* The in-memory table of agents, and their records in the store. */
#include "agents.h"

#include <stdlib.h>
#include <string.h>

#include "body.h"
#include "error.h"
#include "fnv1a.h"
#include "kvlog.h"

void agents_init(agent_table *t, int heartbeat_ms)
{
    memset(t, 0, sizeof *t);
    t->heartbeat_ms = heartbeat_ms;
    msg_writer_init(&t->w);
}

void agents_destroy(agent_table *t)
{
    for (uint32_t i = 0; i < t->n; i++)
        free(t->items[i].strings);
    free(t->items);
    free(t->slots);
    msg_writer_destroy(&t->w);
    memset(t, 0, sizeof *t);
}

/* ---- lookup ----
 * By routing id: every message from an agent is looked up by the routing
 * frame it came with, so that path compares bytes and parses nothing. */

/* The last characters of a ULID's text are random: they spread well. */
static uint32_t slot_of(const agent_table *t, const char *routing)
{
    return fnv1a(FNV1A_START, routing + AGENT_ROUTING_LEN - 8, 8) & (t->n_slots - 1);
}

static void slot_insert(agent_table *t, uint32_t index)
{
    uint32_t j = slot_of(t, t->items[index].routing);
    while (t->slots[j])
        j = (j + 1) & (t->n_slots - 1);
    t->slots[j] = index + 1;
}

agent *agents_by_routing(agent_table *t, const void *routing, size_t len)
{
    if (t->n_slots == 0 || len != AGENT_ROUTING_LEN)
        return NULL;
    for (uint32_t j = slot_of(t, routing); t->slots[j]; j = (j + 1) & (t->n_slots - 1)) {
        agent *a = &t->items[t->slots[j] - 1];
        if (memcmp(a->routing, routing, AGENT_ROUTING_LEN) == 0)
            return a;
    }
    return NULL;
}

void agents_routing_of(const ulid *id, char routing[AGENT_ROUTING_LEN + 1])
{
    memcpy(routing, AGENT_ROUTING_PREFIX, 6);
    ulid_format(id, routing + 6);
}

agent *agents_find(agent_table *t, const ulid *id)
{
    char routing[AGENT_ROUTING_LEN + 1];
    agents_routing_of(id, routing);
    return agents_by_routing(t, routing, AGENT_ROUTING_LEN);
}

/* Room for one more agent, keeping the slots at most half full. */
static bool grow(agent_table *t)
{
    if (t->n == t->cap) {
        uint32_t cap = t->cap ? t->cap * 2 : 64;
        agent *items = realloc(t->items, cap * sizeof *items);
        if (!items)
            return false;
        t->items = items;
        t->cap = cap;
    }
    if (2 * (t->n + 1) <= t->n_slots)
        return true;
    uint32_t n_slots = t->n_slots ? t->n_slots * 2 : 128;
    uint32_t *slots = calloc(n_slots, sizeof *slots);
    if (!slots)
        return false;
    free(t->slots);
    t->slots = slots;
    t->n_slots = n_slots;
    for (uint32_t i = 0; i < t->n; i++)
        slot_insert(t, i);
    return true;
}

/* ---- what an agent announced ---- */

static int label_order(const void *a, const void *b)
{
    return strcmp(((const selector_label *)a)->key, ((const selector_label *)b)->key);
}

/* Copies a message string to *p and moves *p past its NUL. */
static const char *put_str(char **p, const char *s, size_t n)
{
    char *start = *p;
    memcpy(start, s, n);
    start[n] = '\0';
    *p += n + 1;
    return start;
}

static size_t announced_size(const agent_hello *h, uint32_t n_labels, uint32_t n_plugins)
{
    size_t size = n_labels * sizeof(selector_label) + n_plugins * sizeof(char *);
    size += h->host.n + 1 + h->version.n + 1;
    for (uint32_t i = 0; i < n_labels; i++)
        size += h->labels->via.map.ptr[i].key.via.str.size + 1 +
                h->labels->via.map.ptr[i].val.via.str.size + 1;
    for (uint32_t i = 0; i < n_plugins; i++)
        size += h->plugins->via.array.ptr[i].via.str.size + 1;
    return size;
}

/* Sets a's host, version, labels and plugins to copies of h's, in one
 * allocation: arrays first (aligned), then the characters. */
static cairn_status set_announced(agent *a, const agent_hello *h, cairn_error *err)
{
    uint32_t n_labels = h->labels ? h->labels->via.map.size : 0;
    uint32_t n_plugins = h->plugins ? h->plugins->via.array.size : 0;
    void *block = malloc(announced_size(h, n_labels, n_plugins));
    if (!block)
        return error_set(err, CAIRN_OUT_OF_MEMORY, "no memory for agent");
    selector_label *labels = block;
    const char **plugins = (const char **)(labels + n_labels);
    char *p = (char *)(plugins + n_plugins);
    for (uint32_t i = 0; i < n_labels; i++) {
        const msgpack_object_kv *kv = &h->labels->via.map.ptr[i];
        labels[i].key = put_str(&p, kv->key.via.str.ptr, kv->key.via.str.size);
        labels[i].value = put_str(&p, kv->val.via.str.ptr, kv->val.via.str.size);
    }
    qsort(labels, n_labels, sizeof *labels, label_order);
    for (uint32_t i = 0; i < n_plugins; i++)
        plugins[i] = put_str(&p, h->plugins->via.array.ptr[i].via.str.ptr,
                             h->plugins->via.array.ptr[i].via.str.size);
    a->strings = block;
    a->labels = labels;
    a->n_labels = n_labels;
    a->plugins = plugins;
    a->n_plugins = n_plugins;
    a->host = put_str(&p, h->host.p, h->host.n);
    a->version = put_str(&p, h->version.p, h->version.n);
    return CAIRN_OK;
}

static void log_status(const agent *a)
{
    char q[AGENT_MAX_HOST * 2 + 8];
    kvlog(KVLOG_INFO, a->up ? "agent_up" : "agent_down", "id=%.26s host=%s", a->routing + 6,
          kvlog_quote(q, sizeof q, a->host));
}

static void set_status(agent_table *t, agent *a, bool up)
{
    if (a->up == up)
        return;
    a->up = up;
    if (!a->status_dirty)
        t->n_status_dirty++;
    a->status_dirty = true;
    log_status(a);
}

static agent *add(agent_table *t, const ulid *id)
{
    if (!grow(t))
        return NULL;
    agent *a = &t->items[t->n];
    memset(a, 0, sizeof *a);
    a->id = *id;
    agents_routing_of(id, a->routing);
    slot_insert(t, t->n++);
    return a;
}

/* Creates or updates the agent's announced fields (a new agent starts
 * down). The copies are made first, so a failure leaves the table as it was. */
static cairn_status upsert(agent_table *t, const agent_hello *h, agent **out, cairn_error *err)
{
    agent fresh = {0};
    cairn_status st = set_announced(&fresh, h, err);
    if (st)
        return st;
    agent *a = agents_find(t, &h->id);
    if (!a && !(a = add(t, &h->id))) {
        free(fresh.strings);
        return error_set(err, CAIRN_OUT_OF_MEMORY, "no memory for agent");
    }
    free(a->strings);
    a->strings = fresh.strings;
    a->host = fresh.host;
    a->version = fresh.version;
    a->labels = fresh.labels;
    a->n_labels = fresh.n_labels;
    a->plugins = fresh.plugins;
    a->n_plugins = fresh.n_plugins;
    a->spool_depth = h->spool_depth;
    *out = a;
    return CAIRN_OK;
}

cairn_status agents_hello(agent_table *t, const agent_hello *h, int64_t wall_ms, int64_t mono_ms,
                          agent **out, cairn_error *err)
{
    cairn_status st = upsert(t, h, out, err);
    if (!st) /* for a new agent, its first change: to up */
        agents_seen(t, *out, wall_ms, mono_ms);
    return st;
}

void agents_seen(agent_table *t, agent *a, int64_t wall_ms, int64_t mono_ms)
{
    a->last_seen_ms = wall_ms;
    a->heard_mono_ms = mono_ms;
    a->dirty = true;
    set_status(t, a, true);
}

void agents_sweep(agent_table *t, int64_t mono_ms)
{
    int64_t silence = (int64_t)AGENTS_DOWN_AFTER * t->heartbeat_ms;
    for (uint32_t i = 0; i < t->n; i++) {
        agent *a = &t->items[i];
        if (a->up && mono_ms - a->heard_mono_ms >= silence)
            set_status(t, a, false);
    }
}

int agents_sweep_every_ms(const agent_table *t)
{
    int every = t->heartbeat_ms / 4;
    return every < 5 ? 5 : every;
}

/* ---- records ----
 * msgpack map {host, labels, version, plugins, last_seen, status, spool_depth}:
 * named fields, so later versions can add some without a schema change. */

/* The "labels" field, shared by the stored record and the agent.list entry. */
static void pack_labels(const agent *a, msgpack_packer *pk)
{
    mp_str(pk, "labels");
    msgpack_pack_map(pk, a->n_labels);
    for (uint32_t i = 0; i < a->n_labels; i++) {
        mp_str(pk, a->labels[i].key);
        mp_str(pk, a->labels[i].value);
    }
}

static void pack_record(const agent *a, msgpack_packer *pk)
{
    msgpack_pack_map(pk, 7);
    mp_str(pk, "host");
    mp_str(pk, a->host);
    pack_labels(a, pk);
    mp_str(pk, "version");
    mp_str(pk, a->version);
    mp_str(pk, "plugins");
    msgpack_pack_array(pk, a->n_plugins);
    for (uint32_t i = 0; i < a->n_plugins; i++)
        mp_str(pk, a->plugins[i]);
    mp_str(pk, "last_seen");
    msgpack_pack_int64(pk, a->last_seen_ms);
    mp_str(pk, "status");
    mp_str(pk, a->up ? "up" : "down");
    mp_str(pk, "spool_depth");
    msgpack_pack_uint64(pk, a->spool_depth);
}

cairn_status agents_store(agent_table *t, agent *a, store *s, MDB_txn *txn, cairn_error *err)
{
    msg_writer_reset(&t->w);
    pack_record(a, &t->w.pk);
    cairn_status st = store_agent_put(s, txn, &a->id, t->w.sb.data, t->w.sb.size, err);
    if (st)
        return st;
    if (a->status_dirty)
        t->n_status_dirty--;
    a->status_dirty = a->dirty = false;
    return CAIRN_OK;
}

cairn_status agents_persist(agent_table *t, store *s, MDB_txn *txn, bool all_dirty,
                            cairn_error *err)
{
    for (uint32_t i = 0; i < t->n; i++) {
        agent *a = &t->items[i];
        if (!a->status_dirty && !(all_dirty && a->dirty))
            continue;
        cairn_status st = agents_store(t, a, s, txn, err);
        if (st)
            return st;
    }
    return CAIRN_OK;
}

/* Status changes that did not reach the disk wait for the next periodic
 * write rather than being retried at once against a failing store. */
void agents_persist_failed(agent_table *t)
{
    for (uint32_t i = 0; i < t->n; i++)
        t->items[i].dirty = true;
}

/* The objects of a stored record, type-checked: a damaged record is skipped,
 * not trusted. */
static bool read_record(const msgpack_object *o, agent_hello *h, int64_t *last_seen, bool *up)
{
    msg_str status = {"down", 4};
    int64_t depth = 0;
    *last_seen = 0;
    bool ok = o->type == MSGPACK_OBJECT_MAP && !body_str(o, "host", true, &h->host, NULL) &&
              !body_str(o, "version", true, &h->version, NULL) &&
              !body_map(o, "labels", true, &h->labels, NULL) &&
              !body_array(o, "plugins", true, &h->plugins, NULL) &&
              !body_int(o, "last_seen", false, last_seen, NULL) &&
              !body_str(o, "status", false, &status, NULL) &&
              !body_int(o, "spool_depth", false, &depth, NULL);
    for (uint32_t i = 0; ok && i < h->labels->via.map.size; i++)
        ok = h->labels->via.map.ptr[i].key.type == MSGPACK_OBJECT_STR &&
             h->labels->via.map.ptr[i].val.type == MSGPACK_OBJECT_STR;
    for (uint32_t i = 0; ok && i < h->plugins->via.array.size; i++)
        ok = h->plugins->via.array.ptr[i].type == MSGPACK_OBJECT_STR;
    *up = msg_str_eq(status, "up");
    h->spool_depth = depth > 0 ? (uint64_t)depth : 0;
    return ok;
}

typedef struct load_ctx {
    agent_table *t;
    int64_t mono_ms;
    cairn_status st;
    cairn_error *err;
    msgpack_zone zone;
} load_ctx;

static void load_one(void *ctx, const ulid *id, const void *rec, size_t len)
{
    load_ctx *l = ctx;
    msgpack_object o;
    size_t off = 0;
    agent_hello h = {.id = *id};
    int64_t last_seen;
    bool up;
    agent *a;
    if (l->st)
        return;
    msgpack_zone_clear(&l->zone);
    if (msgpack_unpack(rec, len, &off, &l->zone, &o) != MSGPACK_UNPACK_SUCCESS ||
        !read_record(&o, &h, &last_seen, &up)) {
        char text[ULID_TEXT_LEN + 1];
        ulid_format(id, text);
        kvlog(KVLOG_WARN, "agent_record_damaged", "id=%s", text);
        return;
    }
    l->st = upsert(l->t, &h, &a, l->err);
    if (l->st)
        return;
    a->up = up;
    a->last_seen_ms = last_seen;
    a->heard_mono_ms = l->mono_ms;
}

cairn_status agents_load(agent_table *t, store *s, MDB_txn *txn, int64_t mono_ms,
                         cairn_error *err)
{
    load_ctx l = {.t = t, .mono_ms = mono_ms, .st = CAIRN_OK, .err = err};
    msgpack_zone_init(&l.zone, 2048);
    cairn_status st = store_agents_walk(s, txn, load_one, &l, err);
    msgpack_zone_destroy(&l.zone);
    if (!st)
        st = l.st;
    if (!st)
        kvlog(KVLOG_INFO, "agents_loaded", "count=%u", t->n);
    return st;
}

/* ---- listing ---- */

static int host_order(const void *a, const void *b, void *table)
{
    const agent_table *t = table;
    const agent *x = &t->items[*(const uint32_t *)a];
    const agent *y = &t->items[*(const uint32_t *)b];
    int c = strcmp(x->host, y->host);
    return c ? c : memcmp(x->id.b, y->id.b, ULID_BYTES);
}

void agents_sorted(const agent_table *t, uint32_t *order)
{
    for (uint32_t i = 0; i < t->n; i++)
        order[i] = i;
    qsort_r(order, t->n, sizeof *order, host_order, (void *)t);
}

void agents_pack(const agent *a, msgpack_packer *pk)
{
    msgpack_pack_map(pk, 7);
    mp_str(pk, "id");
    mp_strn(pk, a->routing + 6, ULID_TEXT_LEN);
    mp_str(pk, "host");
    mp_str(pk, a->host);
    pack_labels(a, pk);
    mp_str(pk, "version");
    mp_str(pk, a->version);
    mp_str(pk, "status");
    mp_str(pk, a->up ? "up" : "down");
    mp_str(pk, "last_seen");
    msgpack_pack_int64(pk, a->last_seen_ms);
    mp_str(pk, "spool_depth");
    msgpack_pack_uint64(pk, a->spool_depth);
}
