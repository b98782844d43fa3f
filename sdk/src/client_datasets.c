/*
 * Datasets through a cairn_client: dataset.log, dataset.list, dataset.get,
 * and the body of a dataset.log, which the tracker sends too.
 */
#include <stdlib.h>
#include <string.h>

#include "body.h"
#include "client_internal.h"
#include "error.h"

/* ---- dataset.log ---- */

static bool given(const char *s)
{
    return s && *s;
}

void dataset_log_pack(msgpack_packer *pk, const dataset_log_body *b)
{
    mp_str(pk, "name");
    mp_str(pk, b->name);
    mp_str(pk, "hash");
    mp_str(pk, b->digest->hash);
    mp_str(pk, "size");
    msgpack_pack_uint64(pk, b->digest->size);
    mp_str(pk, "files");
    msgpack_pack_uint64(pk, b->digest->files);
    if (given(b->source)) {
        mp_str(pk, "source");
        mp_str(pk, b->source);
    }
    if (b->run) {
        mp_str(pk, "run");
        mp_ulid(pk, b->run);
    }
    if (given(b->context)) {
        mp_str(pk, "context");
        mp_str(pk, b->context);
    }
}

uint32_t dataset_log_fields(const dataset_log_body *b)
{
    return 4 + given(b->source) + (b->run != NULL) + given(b->context);
}

static cairn_status decode_logged(const msgpack_object *body, cairn_dataset_logged *out,
                                  cairn_error *err)
{
    bool spooled = false, created = false;
    cairn_status st = body_bool(body, "spooled", false, &spooled, err);
    memset(out, 0, sizeof *out);
    out->spooled = spooled;
    if (st || spooled)
        return st;
    st = decode_count(body, "version", true, &out->version, err);
    if (!st)
        st = body_bool(body, "new", true, &created, err);
    out->created = created;
    return st;
}

cairn_status cairn_dataset_log(cairn_client *client, const cairn_dataset_log_opts *opts,
                               cairn_dataset_logged *out, cairn_error *err)
{
    const msgpack_object *body;
    cairn_dataset_logged ignored;
    ulid run;
    if (!client || !opts || !given(opts->name) || !opts->digest)
        return error_set(err, CAIRN_INVALID_PARAMETER_VALUE,
                         "dataset.log needs a client, a name and a digest");
    cairn_status st = given(opts->run_id) ? client_run_id(opts->run_id, &run, err) : CAIRN_OK;
    if (st)
        return st;
    dataset_log_body b = {opts->name, opts->digest, opts->source, given(opts->run_id) ? &run : NULL,
                          opts->context};
    dataset_log_pack(client_begin(client, "dataset.log", dataset_log_fields(&b)), &b);
    st = client_call(client, &body, err);
    return st ? st : decode_logged(body, out ? out : &ignored, err);
}

/* ---- reply decoding ---- */

static cairn_status get_hash(const msgpack_object *o, char hash[65], cairn_error *err)
{
    msg_str s;
    cairn_status st = body_str(o, "hash", true, &s, err);
    if (!st && !decode_is_hex64(s))
        st = error_set(err, CAIRN_BAD_MESSAGE, "field 'hash' must be 64 hex digits");
    if (!st)
        msg_str_copy(s, hash, 65);
    return st;
}

static void use_clear(void *item)
{
    free(((cairn_dataset_use *)item)->context);
}

static cairn_status use_entry(const void *elem, const char *field, void *item, cairn_error *err)
{
    const msgpack_object *o = elem;
    cairn_dataset_use *u = item;
    ulid run;
    if (o->type != MSGPACK_OBJECT_MAP)
        return error_set(err, CAIRN_BAD_MESSAGE, "field '%s' must hold maps", field);
    cairn_status st = body_ulid(o, "run", true, &run, err);
    if (!st)
        ulid_format(&run, u->run);
    if (!st)
        st = decode_text(o, "context", false, &u->context, err);
    if (!st)
        st = body_int(o, "linked", true, &u->linked, err);
    return st;
}

static const item_kind use_kind = {sizeof(cairn_dataset_use), false, use_entry, use_clear, NULL};

static void model_use_clear(void *item)
{
    free(((cairn_dataset_model_use *)item)->model);
}

static cairn_status model_use_entry(const void *elem, const char *field, void *item,
                                    cairn_error *err)
{
    const msgpack_object *o = elem;
    cairn_dataset_model_use *m = item;
    ulid run;
    if (o->type != MSGPACK_OBJECT_MAP)
        return error_set(err, CAIRN_BAD_MESSAGE, "field '%s' must hold maps", field);
    cairn_status st = decode_text(o, "model", true, &m->model, err);
    if (!st)
        st = decode_count(o, "version", true, &m->version, err);
    if (!st)
        st = body_ulid(o, "run", true, &run, err);
    if (!st)
        ulid_format(&run, m->run);
    return st;
}

static const item_kind model_use_kind = {sizeof(cairn_dataset_model_use), false, model_use_entry,
                                         model_use_clear, NULL};

static void version_clear(void *item)
{
    cairn_dataset_version *v = item;
    free(v->source);
    decode_list_free(v->runs, v->n_runs, &use_kind);
    decode_list_free(v->models, v->n_models, &model_use_kind);
}

/* The fields of a version: in dataset.get's versions, and the newest
 * version's in a dataset.list item (which has no source and no runs). */
static cairn_status version_fields(const msgpack_object *o, cairn_dataset_version *v,
                                   cairn_error *err)
{
    void *runs = NULL, *models = NULL;
    cairn_status st = get_hash(o, v->hash, err);
    if (!st)
        st = decode_count(o, "size", true, &v->size, err);
    if (!st)
        st = decode_count(o, "files", true, &v->files, err);
    if (!st)
        st = decode_text(o, "source", false, &v->source, err);
    if (!st)
        st = decode_list(o, "runs", false, &use_kind, &runs, &v->n_runs, err);
    v->runs = runs;
    if (!st)
        st = decode_list(o, "model_versions", false, &model_use_kind, &models, &v->n_models, err);
    v->models = models;
    return st;
}

static cairn_status version_entry(const void *elem, const char *field, void *item, cairn_error *err)
{
    const msgpack_object *o = elem;
    cairn_dataset_version *v = item;
    if (o->type != MSGPACK_OBJECT_MAP)
        return error_set(err, CAIRN_BAD_MESSAGE, "field '%s' must hold maps", field);
    cairn_status st = decode_count(o, "version", true, &v->version, err);
    if (!st)
        st = body_int(o, "created", true, &v->created, err);
    return st ? st : version_fields(o, v, err);
}

static const item_kind version_kind = {sizeof(cairn_dataset_version), false, version_entry,
                                       version_clear, NULL};

static void dataset_clear(void *item)
{
    cairn_dataset *d = item;
    free(d->name);
    decode_list_free(d->versions, d->n_versions, &version_kind);
}

static cairn_status dataset_head(const msgpack_object *o, cairn_dataset *d, cairn_error *err)
{
    if (o->type != MSGPACK_OBJECT_MAP)
        return error_set(err, CAIRN_BAD_MESSAGE, "a dataset must be a map");
    cairn_status st = decode_text(o, "name", true, &d->name, err);
    if (!st)
        st = body_int(o, "created", true, &d->created, err);
    if (!st)
        st = body_int(o, "updated", true, &d->updated, err);
    return st;
}

/* A dataset.list item: the dataset, its number of versions, the newest one's fields. */
static cairn_status listed_entry(const void *elem, const char *field, void *item, cairn_error *err)
{
    (void)field;
    const msgpack_object *o = elem;
    cairn_dataset *d = item;
    cairn_status st = dataset_head(o, d, err);
    if (!st)
        st = decode_count(o, "versions", true, &d->n_total, err);
    if (!st && !(d->versions = calloc(1, sizeof *d->versions)))
        st = error_set(err, CAIRN_OUT_OF_MEMORY, "out of memory");
    if (st)
        return st;
    d->n_versions = 1;
    d->versions->version = d->n_total;
    d->versions->created = d->updated;
    return version_fields(o, d->versions, err);
}

static const item_kind listed_kind = {sizeof(cairn_dataset), false, listed_entry, dataset_clear,
                                      NULL};

static cairn_status decode_dataset(const msgpack_object *o, cairn_dataset *d, cairn_error *err)
{
    void *versions = NULL;
    cairn_status st = dataset_head(o, d, err);
    if (!st)
        st = decode_list(o, "versions", true, &version_kind, &versions, &d->n_versions, err);
    d->versions = versions;
    d->n_total = d->n_versions;
    if (st)
        dataset_clear(d);
    return st;
}

/* ---- reads ---- */

static cairn_status datasets_body(const msgpack_object *body, void *out, cairn_error *err)
{
    cairn_dataset_list *list = out;
    void *items = NULL;
    cairn_status st = decode_list(body, "datasets", true, &listed_kind, &items, &list->count, err);
    list->items = items;
    return st;
}

cairn_status cairn_dataset_list_all(cairn_client *client, cairn_dataset_list **out,
                                    cairn_error *err)
{
    if (!client || !out)
        return error_set(err, CAIRN_INVALID_PARAMETER_VALUE, "dataset.list: no client or result");
    *out = NULL;
    client_begin(client, "dataset.list", 0);
    return client_call_into(client, sizeof **out, datasets_body, (void **)out, err);
}

void cairn_dataset_list_free(cairn_dataset_list *list)
{
    if (!list)
        return;
    decode_list_free(list->items, list->count, &listed_kind);
    free(list);
}

static cairn_status dataset_body(const msgpack_object *body, void *out, cairn_error *err)
{
    const msgpack_object *o;
    cairn_status st = body_map(body, "dataset", true, &o, err);
    return st ? st : decode_dataset(o, out, err);
}

cairn_status cairn_dataset_get(cairn_client *client, const char *name, cairn_dataset **out,
                               cairn_error *err)
{
    if (!client || !out || !name)
        return error_set(err, CAIRN_INVALID_PARAMETER_VALUE,
                         "dataset.get: no client, name or result");
    *out = NULL;
    msgpack_packer *pk = client_begin(client, "dataset.get", 1);
    mp_str(pk, "name");
    mp_str(pk, name);
    return client_call_into(client, sizeof **out, dataset_body, (void **)out, err);
}

void cairn_dataset_free(cairn_dataset *dataset)
{
    if (!dataset)
        return;
    dataset_clear(dataset);
    free(dataset);
}
