/*
 * The model registry's replies (MODEL, VERSION, EVENT, lineage) into the
 * public structs, as strictly as client_decode.c reads runs: a wrongly typed
 * field is CAIRN_BAD_MESSAGE and whatever was built before it is freed.
 */
#include <stdlib.h>
#include <string.h>

#include "body.h"
#include "client_internal.h"
#include "client_models.h"
#include "error.h"

static cairn_status oom(cairn_error *err)
{
    return error_set(err, CAIRN_OUT_OF_MEMORY, "out of memory decoding a reply");
}

static char *dup_str(msg_str s)
{
    char *p = malloc((size_t)s.n + 1);
    if (p) {
        memcpy(p, s.p, s.n);
        p[s.n] = '\0';
    }
    return p;
}

static bool is_nil(const msgpack_object *o)
{
    return !o || o->type == MSGPACK_OBJECT_NIL;
}

/* A uint field that may be nil or absent (0). */
static cairn_status get_version_or_nil(const msgpack_object *map, const char *key, uint64_t *out,
                                       cairn_error *err)
{
    *out = 0;
    return is_nil(body_find(map, key)) ? CAIRN_OK : decode_count(map, key, true, out, err);
}

/* A 16-byte id field as its text. */
static cairn_status get_id(const msgpack_object *map, const char *key,
                           char out[CAIRN_ID_TEXT_LEN + 1], cairn_error *err)
{
    msg_str bin;
    cairn_status st = body_bin(map, key, true, &bin, err);
    if (!st && bin.n != ULID_BYTES)
        st = error_set(err, CAIRN_BAD_MESSAGE, "field '%s' is not a 16-byte id", key);
    if (!st) {
        ulid id;
        memcpy(id.b, bin.p, ULID_BYTES);
        ulid_format(&id, out);
    }
    return st;
}

/* ---- VERSION ---- */

static void signature_free(cairn_signature *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->n_inputs; i++) {
        free((char *)s->inputs[i].name);
        free((char *)s->inputs[i].type);
    }
    free((cairn_column *)s->inputs);
    free((char *)s->output);
    free(s);
}

static cairn_status decode_column(const msgpack_object *o, cairn_column *c, cairn_error *err)
{
    msg_str name, type;
    cairn_status st = body_str(o, "name", true, &name, err);
    if (!st)
        st = body_str(o, "type", true, &type, err);
    if (st)
        return st;
    c->name = dup_str(name);
    c->type = dup_str(type);
    return c->name && c->type ? CAIRN_OK : oom(err);
}

static cairn_status decode_signature(const msgpack_object *o, cairn_signature **out,
                                     cairn_error *err)
{
    const msgpack_object *inputs;
    msg_str output;
    *out = NULL;
    if (is_nil(o))
        return CAIRN_OK;
    if (o->type != MSGPACK_OBJECT_MAP)
        return error_set(err, CAIRN_BAD_MESSAGE, "field 'signature' must be a map or nil");
    cairn_status st = body_array(o, "inputs", true, &inputs, err);
    if (st)
        return st;
    cairn_signature *s = calloc(1, sizeof *s);
    cairn_column *cols = s ? calloc(inputs->via.array.size + 1, sizeof *cols) : NULL;
    if (!cols) {
        free(s);
        return oom(err);
    }
    s->inputs = cols;
    for (uint32_t i = 0; !st && i < inputs->via.array.size; i++, s->n_inputs++)
        st = decode_column(&inputs->via.array.ptr[i], &cols[i], err);
    if (!st && !is_nil(body_find(o, "output")) &&
        !(st = body_str(o, "output", true, &output, err)) && !(s->output = dup_str(output)))
        st = oom(err);
    if (st)
        signature_free(s);
    else
        *out = s;
    return st;
}

static cairn_status decode_aliases(const msgpack_object *o, cairn_model_version *v,
                                   cairn_error *err)
{
    const msgpack_object *arr;
    cairn_status st = body_array(o, "aliases", true, &arr, err);
    if (st)
        return st;
    if (!(v->aliases = calloc(arr->via.array.size + 1, sizeof *v->aliases)))
        return oom(err);
    for (uint32_t i = 0; i < arr->via.array.size; i++) {
        msg_str a;
        if (!obj_str(&arr->via.array.ptr[i], &a))
            return error_set(err, CAIRN_BAD_MESSAGE, "field 'aliases' must hold strings");
        if (!(v->aliases[v->n_aliases++] = dup_str(a)))
            return oom(err);
    }
    return CAIRN_OK;
}

static cairn_status decode_artifact(const msgpack_object *o, cairn_artifact *a, cairn_error *err)
{
    const msgpack_object *map;
    msg_str path, sha;
    cairn_status st = body_map(o, "artifact", true, &map, err);
    if (!st)
        st = body_str(map, "path", true, &path, err);
    if (!st)
        st = decode_count(map, "size", true, &a->size, err);
    if (!st)
        st = body_str(map, "sha256", true, &sha, err);
    if (!st && !decode_is_hex64(sha))
        st = error_set(err, CAIRN_BAD_MESSAGE, "field 'sha256' is not 64 hex digits");
    if (st)
        return st;
    msg_str_copy(sha, a->sha256, sizeof a->sha256);
    return (a->path = dup_str(path)) ? CAIRN_OK : oom(err);
}

static cairn_status decode_example(const msgpack_object *o, char **out, cairn_error *err)
{
    msg_str s;
    const msgpack_object *e = body_find(o, "input_example");
    if (is_nil(e))
        return CAIRN_OK;
    cairn_status st = body_str(o, "input_example", true, &s, err);
    return st ? st : (*out = dup_str(s)) ? CAIRN_OK : oom(err);
}

static cairn_status version_text(const msgpack_object *o, cairn_model_version *v, cairn_error *err)
{
    cairn_status st = decode_text(o, "name", true, &v->name, err);
    if (!st)
        st = decode_count(o, "version", true, &v->version, err);
    if (!st)
        st = decode_text(o, "stage", true, &v->stage, err);
    if (!st)
        st = get_id(o, "run", v->run_id, err);
    if (!st)
        st = decode_text(o, "description", true, &v->description, err);
    if (!st)
        st = decode_text(o, "creator", true, &v->creator, err);
    if (!st)
        st = body_int(o, "created", true, &v->created, err);
    return st ? st : body_int(o, "updated", true, &v->updated, err);
}

void model_version_clear(cairn_model_version *v)
{
    free(v->name);
    free(v->stage);
    for (size_t i = 0; i < v->n_aliases; i++)
        free(v->aliases[i]);
    free(v->aliases);
    free((char *)v->artifact.path);
    free(v->description);
    decode_kvs_free(v->tags, v->n_tags);
    signature_free(v->signature);
    free(v->input_example);
    free(v->creator);
    memset(v, 0, sizeof *v);
}

cairn_status decode_model_version(const msgpack_object *o, cairn_model_version *v, cairn_error *err)
{
    memset(v, 0, sizeof *v);
    cairn_status st = o->type == MSGPACK_OBJECT_MAP
                          ? version_text(o, v, err)
                          : error_set(err, CAIRN_BAD_MESSAGE, "a model version must be a map");
    if (!st)
        st = decode_aliases(o, v, err);
    if (!st)
        st = decode_artifact(o, &v->artifact, err);
    if (!st)
        st = decode_kvs(o, "tags", &v->tags, &v->n_tags, err);
    if (!st)
        st = decode_signature(body_find(o, "signature"), &v->signature, err);
    if (!st)
        st = decode_example(o, &v->input_example, err);
    if (st)
        model_version_clear(v);
    return st;
}

static cairn_status version_entry(const void *elem, const char *field, void *item, cairn_error *err)
{
    (void)field;
    return decode_model_version(elem, item, err);
}

static void version_entry_clear(void *item)
{
    model_version_clear(item);
}

static const item_kind version_kind = {sizeof(cairn_model_version), false, version_entry,
                                       version_entry_clear, NULL};

cairn_status decode_model_versions(const msgpack_object *body, cairn_model_version_list *out,
                                   cairn_error *err)
{
    void *items = NULL;
    memset(out, 0, sizeof *out);
    cairn_status st = decode_list(body, "versions", true, &version_kind, &items, &out->count, err);
    out->items = items;
    if (!st)
        st = get_version_or_nil(body, "next", &out->next, err);
    if (st) {
        decode_list_free(out->items, out->count, &version_kind);
        memset(out, 0, sizeof *out);
    }
    return st;
}

void cairn_model_version_free(cairn_model_version *v)
{
    if (v)
        model_version_clear(v);
    free(v);
}

void cairn_model_version_list_free(cairn_model_version_list *list)
{
    if (!list)
        return;
    decode_list_free(list->items, list->count, &version_kind);
    free(list);
}

/* ---- MODEL ---- */

static void alias_clear(void *item)
{
    free(((cairn_model_alias *)item)->alias);
}

static cairn_status alias_entry(const void *elem, const char *field, void *item, cairn_error *err)
{
    const msgpack_object_kv *kv = elem;
    cairn_model_alias *a = item;
    msg_str name;
    int64_t v;
    if (!obj_str(&kv->key, &name) || !obj_int(&kv->val, &v) || v < 1)
        return error_set(err, CAIRN_BAD_MESSAGE, "field '%s' must map aliases to versions", field);
    a->version = (uint64_t)v;
    return (a->alias = dup_str(name)) ? CAIRN_OK : oom(err);
}

static int cmp_alias(const void *a, const void *b)
{
    return strcmp(((const cairn_model_alias *)a)->alias, ((const cairn_model_alias *)b)->alias);
}

static const item_kind alias_kind = {sizeof(cairn_model_alias), true, alias_entry, alias_clear,
                                     cmp_alias};

static cairn_status decode_stages(const msgpack_object *o, cairn_model *m, cairn_error *err)
{
    const msgpack_object *map;
    cairn_status st = body_map(o, "stages", true, &map, err);
    if (!st)
        st = get_version_or_nil(map, "Staging", &m->staging, err);
    if (!st)
        st = get_version_or_nil(map, "Production", &m->production, err);
    return st ? st : get_version_or_nil(map, "Archived", &m->archived, err);
}

static void model_clear(void *item)
{
    cairn_model *m = item;
    free(m->name);
    free(m->description);
    decode_list_free(m->aliases, m->n_aliases, &alias_kind);
    decode_kvs_free(m->tags, m->n_tags);
    memset(m, 0, sizeof *m);
}

static cairn_status model_entry(const void *elem, const char *field, void *item, cairn_error *err)
{
    const msgpack_object *o = elem;
    cairn_model *m = item;
    void *aliases = NULL;
    (void)field;
    cairn_status st = decode_text(o, "name", true, &m->name, err);
    if (!st)
        st = decode_text(o, "description", true, &m->description, err);
    if (!st)
        st = body_int(o, "created", true, &m->created, err);
    if (!st)
        st = body_int(o, "updated", true, &m->updated, err);
    if (!st)
        st = get_version_or_nil(o, "latest_version", &m->latest_version, err);
    if (!st)
        st = decode_list(o, "aliases", true, &alias_kind, &aliases, &m->n_aliases, err);
    m->aliases = aliases;
    if (!st)
        st = decode_stages(o, m, err);
    if (!st)
        st = decode_kvs(o, "tags", &m->tags, &m->n_tags, err);
    if (st)
        model_clear(m);
    return st;
}

static const item_kind model_kind = {sizeof(cairn_model), false, model_entry, model_clear, NULL};

cairn_status decode_model(const msgpack_object *o, cairn_model *out, cairn_error *err)
{
    memset(out, 0, sizeof *out);
    if (!o || o->type != MSGPACK_OBJECT_MAP)
        return error_set(err, CAIRN_BAD_MESSAGE, "field 'model' must be a map");
    return model_entry(o, "model", out, err);
}

cairn_status decode_models(const msgpack_object *body, cairn_model_list *out, cairn_error *err)
{
    void *items = NULL;
    memset(out, 0, sizeof *out);
    cairn_status st = decode_list(body, "models", true, &model_kind, &items, &out->count, err);
    out->items = items;
    return st;
}

void cairn_model_free(cairn_model *model)
{
    if (model)
        model_clear(model);
    free(model);
}

void cairn_model_list_free(cairn_model_list *list)
{
    if (!list)
        return;
    decode_list_free(list->items, list->count, &model_kind);
    free(list);
}

/* ---- EVENT ---- */

static void event_clear(void *item)
{
    cairn_model_event *e = item;
    free(e->actor);
    free(e->kind);
    free(e->from_stage);
    free(e->to_stage);
    free(e->alias);
    free(e->reason);
    memset(e, 0, sizeof *e);
}

/* The kind's own fields: a version and stages, or an alias and versions. */
static cairn_status event_change(const msgpack_object *o, cairn_model_event *e, cairn_error *err)
{
    if (strcmp(e->kind, "stage") == 0) {
        cairn_status st = decode_count(o, "version", true, &e->version, err);
        if (!st)
            st = decode_text(o, "from", true, &e->from_stage, err);
        return st ? st : decode_text(o, "to", true, &e->to_stage, err);
    }
    if (strcmp(e->kind, "alias") != 0)
        return error_set(err, CAIRN_BAD_MESSAGE, "event kind '%s' is not stage or alias", e->kind);
    cairn_status st = decode_text(o, "alias", true, &e->alias, err);
    if (!st)
        st = get_version_or_nil(o, "from", &e->from_version, err);
    return st ? st : get_version_or_nil(o, "to", &e->to_version, err);
}

static cairn_status event_entry(const void *elem, const char *field, void *item, cairn_error *err)
{
    const msgpack_object *o = elem;
    cairn_model_event *e = item;
    bool rollback = false;
    (void)field;
    cairn_status st = o->type == MSGPACK_OBJECT_MAP
                          ? decode_count(o, "seq", true, &e->seq, err)
                          : error_set(err, CAIRN_BAD_MESSAGE, "an event must be a map");
    if (!st)
        st = body_int(o, "time", true, &e->time, err);
    if (!st)
        st = decode_text(o, "actor", true, &e->actor, err);
    if (!st)
        st = get_id(o, "request", e->request, err);
    if (!st)
        st = decode_text(o, "kind", true, &e->kind, err);
    if (!st)
        st = event_change(o, e, err);
    if (!st)
        st = body_bool(o, "rollback", true, &rollback, err);
    e->rollback = rollback;
    if (!st)
        st = get_version_or_nil(o, "undoes", &e->undoes, err);
    if (!st)
        st = decode_text(o, "reason", true, &e->reason, err);
    if (st)
        event_clear(e);
    return st;
}

static const item_kind event_kind = {sizeof(cairn_model_event), false, event_entry, event_clear,
                                     NULL};

cairn_status decode_model_events(const msgpack_object *body, cairn_model_event_list *out,
                                 cairn_error *err)
{
    void *items = NULL;
    memset(out, 0, sizeof *out);
    cairn_status st = decode_list(body, "events", true, &event_kind, &items, &out->count, err);
    out->items = items;
    if (!st)
        st = get_version_or_nil(body, "next", &out->next, err);
    if (st) {
        decode_list_free(out->items, out->count, &event_kind);
        memset(out, 0, sizeof *out);
    }
    return st;
}

void cairn_model_event_list_free(cairn_model_event_list *list)
{
    if (!list)
        return;
    decode_list_free(list->items, list->count, &event_kind);
    free(list);
}

/* ---- lineage ---- */

static void lineage_dataset_clear(void *item)
{
    cairn_lineage_dataset *d = item;
    free(d->name);
    free(d->source);
    free(d->context);
}

static cairn_status lineage_dataset_entry(const void *elem, const char *field, void *item,
                                          cairn_error *err)
{
    const msgpack_object *o = elem;
    cairn_lineage_dataset *d = item;
    msg_str hash;
    if (o->type != MSGPACK_OBJECT_MAP)
        return error_set(err, CAIRN_BAD_MESSAGE, "field '%s' must hold maps", field);
    cairn_status st = decode_text(o, "name", true, &d->name, err);
    if (!st)
        st = decode_count(o, "version", true, &d->version, err);
    if (!st)
        st = body_str(o, "hash", true, &hash, err);
    if (!st && !decode_is_hex64(hash))
        st = error_set(err, CAIRN_BAD_MESSAGE, "field 'hash' must be 64 hex digits");
    if (!st)
        msg_str_copy(hash, d->hash, sizeof d->hash);
    if (!st)
        st = decode_count(o, "size", true, &d->size, err);
    if (!st)
        st = decode_count(o, "files", true, &d->files, err);
    if (!st)
        st = decode_text(o, "source", false, &d->source, err);
    if (!st)
        st = decode_text(o, "context", false, &d->context, err);
    return st;
}

static const item_kind lineage_dataset_kind = {sizeof(cairn_lineage_dataset), false,
                                               lineage_dataset_entry, lineage_dataset_clear, NULL};

static void lineage_clear(cairn_lineage *l)
{
    model_version_clear(&l->version);
    run_clear(&l->run);
    decode_list_free(l->events, l->n_events, &event_kind);
    decode_list_free(l->datasets, l->n_datasets, &lineage_dataset_kind);
    memset(l, 0, sizeof *l);
}

cairn_status decode_lineage(const msgpack_object *body, cairn_lineage *l, cairn_error *err)
{
    const msgpack_object *version, *run;
    void *events = NULL, *datasets = NULL;
    memset(l, 0, sizeof *l);
    cairn_status st = body_map(body, "version", true, &version, err);
    if (!st)
        st = decode_model_version(version, &l->version, err);
    if (!st)
        st = body_map(body, "run", true, &run, err);
    if (!st)
        st = decode_run(run, &l->run, err);
    if (!st)
        st = decode_list(body, "datasets", true, &lineage_dataset_kind, &datasets,
                         &l->n_datasets, err);
    l->datasets = datasets;
    if (!st)
        st = decode_list(body, "events", true, &event_kind, &events, &l->n_events, err);
    l->events = events;
    if (st)
        lineage_clear(l);
    return st;
}

void cairn_lineage_free(cairn_lineage *lineage)
{
    if (lineage)
        lineage_clear(lineage);
    free(lineage);
}
