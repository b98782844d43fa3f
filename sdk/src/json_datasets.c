/* The --json shapes of `cairn datasets list` and `cairn datasets show`
 * (docs/cli.md is their contract). */
#include <stdlib.h>

#include "cairn/client.h"
#include "json_out.h"

static json_t *use_object(const void *item)
{
    const cairn_dataset_use *u = item;
    json_t *o = json_object();
    if (json_out_put(o, "run", json_out_str(u->run)) &&
        json_out_put(o, "context", json_out_str(u->context)) &&
        json_out_put(o, "linked", json_out_int(u->linked)))
        return o;
    json_decref(o);
    return NULL;
}

static bool content_fields(json_t *o, const cairn_dataset_version *v)
{
    return json_out_put(o, "hash", json_out_str(v->hash)) &&
        json_out_put(o, "size", json_out_uint(v->size)) &&
        json_out_put(o, "files", json_out_uint(v->files));
}

static json_t *model_use_object(const void *item)
{
    const cairn_dataset_model_use *m = item;
    json_t *o = json_object();
    if (json_out_put(o, "model", json_out_str(m->model)) &&
        json_out_put(o, "version", json_out_uint(m->version)) &&
        json_out_put(o, "run", json_out_str(m->run)))
        return o;
    json_decref(o);
    return NULL;
}

/* model_versions: the model versions registered from runs that used this version. */
static json_t *version_object(const void *item)
{
    const cairn_dataset_version *v = item;
    json_t *o = json_object();
    if (json_out_put(o, "version", json_out_uint(v->version)) && content_fields(o, v) &&
        json_out_put(o, "source", json_out_str(v->source)) &&
        json_out_put(o, "created", json_out_int(v->created)) &&
        json_out_put(o, "runs", json_out_array(v->runs, v->n_runs, sizeof *v->runs, use_object)) &&
        json_out_put(o, "model_versions", json_out_array(v->models, v->n_models,
                                                         sizeof *v->models, model_use_object)))
        return o;
    json_decref(o);
    return NULL;
}

/* A listed dataset: its newest version's content. */
static json_t *listed_object(const void *item)
{
    const cairn_dataset *d = item;
    json_t *o = json_object();
    if (d->n_versions == 1 && json_out_put(o, "name", json_out_str(d->name)) &&
        json_out_put(o, "versions", json_out_uint(d->n_total)) &&
        content_fields(o, &d->versions[0]) &&
        json_out_put(o, "created", json_out_int(d->created)) &&
        json_out_put(o, "updated", json_out_int(d->updated)))
        return o;
    json_decref(o);
    return NULL;
}

char *cairn_dataset_list_to_json(const cairn_dataset_list *list)
{
    static const cairn_dataset_list empty;
    if (!list)
        list = &empty;
    return json_out_dump(
        json_out_array(list->items, list->count, sizeof *list->items, listed_object));
}

char *cairn_dataset_to_json(const cairn_dataset *d)
{
    if (!d)
        return NULL;
    json_t *o = json_object();
    if (!(json_out_put(o, "name", json_out_str(d->name)) &&
          json_out_put(o, "created", json_out_int(d->created)) &&
          json_out_put(o, "updated", json_out_int(d->updated)) &&
          json_out_put(
              o, "versions",
              json_out_array(d->versions, d->n_versions, sizeof *d->versions, version_object)))) {
        json_decref(o);
        return NULL;
    }
    return json_out_dump(o);
}
