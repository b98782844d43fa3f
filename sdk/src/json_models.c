/*
 * The --json shapes of `cairn models ...` and `cairn lineage` (docs/cli.md is
 * their contract), built with json_out.c's pieces so that strings, integers
 * and the run's metric values print as everywhere else.
 */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "cairn/client.h"
#include "json_out.h"

static json_t *version_or_null(uint64_t v)
{
    return v ? json_out_uint(v) : json_null();
}

static json_t *text_or_null(const char *s)
{
    return s ? json_out_str(s) : json_null();
}

static json_t *release(json_t *o, bool ok)
{
    if (ok)
        return o;
    json_decref(o);
    return NULL;
}

/* ---- MODEL ---- */

static json_t *model_aliases(const cairn_model *m)
{
    json_t *o = json_object();
    bool ok = o != NULL;
    for (size_t i = 0; ok && i < m->n_aliases; i++)
        ok = json_out_put(o, m->aliases[i].alias, json_out_uint(m->aliases[i].version));
    return release(o, ok);
}

static json_t *model_stages(const cairn_model *m)
{
    const struct {
        const char *name;
        uint64_t version;
    } stages[] = {
        {"Staging", m->staging}, {"Production", m->production}, {"Archived", m->archived}};
    json_t *o = json_object();
    bool ok = o != NULL;
    for (size_t i = 0; ok && i < sizeof stages / sizeof stages[0]; i++)
        if (stages[i].version)
            ok = json_out_put(o, stages[i].name, json_out_uint(stages[i].version));
    return release(o, ok);
}

static json_t *model_object(const void *item)
{
    const cairn_model *m = item;
    json_t *o = json_object();
    bool ok = json_out_put(o, "name", json_out_str(m->name)) &&
              json_out_put(o, "description", json_out_str(m->description)) &&
              json_out_put(o, "created", json_out_int(m->created)) &&
              json_out_put(o, "updated", json_out_int(m->updated)) &&
              json_out_put(o, "latest_version", version_or_null(m->latest_version)) &&
              json_out_put(o, "aliases", model_aliases(m)) &&
              json_out_put(o, "stages", model_stages(m)) &&
              json_out_put(o, "tags", json_out_kv(m->tags, m->n_tags));
    return release(o, ok);
}

char *cairn_model_to_json(const cairn_model *model)
{
    return model ? json_out_dump(model_object(model)) : NULL;
}

char *cairn_model_list_to_json(const cairn_model_list *list)
{
    static const cairn_model_list empty;
    if (!list)
        list = &empty;
    return json_out_dump(
        json_out_array(list->items, list->count, sizeof *list->items, model_object));
}

/* ---- VERSION ---- */

static json_t *string_object(const void *item)
{
    return json_out_str(*(const char *const *)item);
}

static json_t *column_object(const void *item)
{
    const cairn_column *c = item;
    json_t *o = json_object();
    bool ok = json_out_put(o, "name", json_out_str(c->name)) &&
              json_out_put(o, "type", json_out_str(c->type));
    return release(o, ok);
}

static json_t *signature_object(const cairn_signature *s)
{
    if (!s)
        return json_null();
    json_t *o = json_object();
    bool ok =
        json_out_put(o, "inputs",
                     json_out_array(s->inputs, s->n_inputs, sizeof *s->inputs, column_object)) &&
        json_out_put(o, "output", text_or_null(s->output));
    return release(o, ok);
}

static json_t *artifact_object(const cairn_artifact *a)
{
    json_t *o = json_object();
    bool ok = json_out_put(o, "path", json_out_str(a->path)) &&
              json_out_put(o, "size", json_out_uint(a->size)) &&
              json_out_put(o, "sha256", json_out_str(a->sha256));
    return release(o, ok);
}

static json_t *version_object(const void *item)
{
    const cairn_model_version *v = item;
    json_t *o = json_object();
    bool ok =
        json_out_put(o, "name", json_out_str(v->name)) &&
        json_out_put(o, "version", json_out_uint(v->version)) &&
        json_out_put(o, "stage", json_out_str(v->stage)) &&
        json_out_put(o, "aliases",
                     json_out_array(v->aliases, v->n_aliases, sizeof *v->aliases, string_object)) &&
        json_out_put(o, "run", json_out_str(v->run_id)) &&
        json_out_put(o, "artifact", artifact_object(&v->artifact)) &&
        json_out_put(o, "description", json_out_str(v->description)) &&
        json_out_put(o, "tags", json_out_kv(v->tags, v->n_tags)) &&
        json_out_put(o, "signature", signature_object(v->signature)) &&
        json_out_put(o, "input_example", text_or_null(v->input_example)) &&
        json_out_put(o, "creator", json_out_str(v->creator)) &&
        json_out_put(o, "created", json_out_int(v->created)) &&
        json_out_put(o, "updated", json_out_int(v->updated));
    return release(o, ok);
}

char *cairn_model_version_to_json(const cairn_model_version *version)
{
    return version ? json_out_dump(version_object(version)) : NULL;
}

char *cairn_model_version_list_to_json(const cairn_model_version_list *list)
{
    static const cairn_model_version_list empty;
    if (!list)
        list = &empty;
    return json_out_dump(
        json_out_array(list->items, list->count, sizeof *list->items, version_object));
}

/* ---- EVENT ---- */

static bool put_change(json_t *o, const cairn_model_event *e)
{
    if (e->alias)
        return json_out_put(o, "alias", json_out_str(e->alias)) &&
               json_out_put(o, "from", version_or_null(e->from_version)) &&
               json_out_put(o, "to", version_or_null(e->to_version));
    return json_out_put(o, "version", json_out_uint(e->version)) &&
           json_out_put(o, "from", json_out_str(e->from_stage)) &&
           json_out_put(o, "to", json_out_str(e->to_stage));
}

static json_t *event_object(const void *item)
{
    const cairn_model_event *e = item;
    json_t *o = json_object();
    bool ok = json_out_put(o, "seq", json_out_uint(e->seq)) &&
              json_out_put(o, "time", json_out_int(e->time)) &&
              json_out_put(o, "actor", json_out_str(e->actor)) &&
              json_out_put(o, "request", json_out_str(e->request)) &&
              json_out_put(o, "kind", json_out_str(e->kind)) && put_change(o, e) &&
              json_out_put(o, "rollback", json_boolean(e->rollback)) &&
              json_out_put(o, "undoes", version_or_null(e->undoes)) &&
              json_out_put(o, "reason", json_out_str(e->reason));
    return release(o, ok);
}

char *cairn_model_event_list_to_json(const cairn_model_event_list *list)
{
    static const cairn_model_event_list empty;
    if (!list)
        list = &empty;
    return json_out_dump(
        json_out_array(list->items, list->count, sizeof *list->items, event_object));
}

/* ---- lineage ---- */

static const char *run_tag(const cairn_run *r, const char *key)
{
    for (size_t i = 0; i < r->n_tags; i++)
        if (strcmp(r->tags[i].key, key) == 0)
            return r->tags[i].value;
    return NULL;
}

/* The cairn.git.dirty tag as a boolean: null when it is missing or says
 * neither "true" nor "false" (a --tag may give it any value). */
static json_t *dirty_or_null(const char *dirty)
{
    if (dirty && strcmp(dirty, "true") == 0)
        return json_true();
    if (dirty && strcmp(dirty, "false") == 0)
        return json_false();
    return json_null();
}

/* Where the run came from, as the SDK and the CLI tag it (docs/sdk.md). */
static json_t *source_object(const cairn_run *r)
{
    json_t *o = json_object();
    bool ok = json_out_put(o, "user", text_or_null(run_tag(r, "cairn.user"))) &&
              json_out_put(o, "host", text_or_null(run_tag(r, "cairn.host"))) &&
              json_out_put(o, "git_commit", text_or_null(run_tag(r, "cairn.git.commit"))) &&
              json_out_put(o, "git_dirty", dirty_or_null(run_tag(r, "cairn.git.dirty")));
    return release(o, ok);
}

static json_t *dataset_object(const void *item)
{
    const cairn_lineage_dataset *d = item;
    json_t *o = json_object();
    bool ok = json_out_put(o, "name", json_out_str(d->name)) &&
              json_out_put(o, "version", json_out_uint(d->version)) &&
              json_out_put(o, "hash", json_out_str(d->hash)) &&
              json_out_put(o, "size", json_out_uint(d->size)) &&
              json_out_put(o, "files", json_out_uint(d->files)) &&
              json_out_put(o, "source", json_out_str(d->source)) &&
              json_out_put(o, "context", json_out_str(d->context));
    return release(o, ok);
}

char *cairn_lineage_to_json(const cairn_lineage *lineage)
{
    if (!lineage)
        return NULL;
    json_t *o = json_object();
    bool ok = json_out_put(o, "version", version_object(&lineage->version)) &&
              json_out_put(o, "run", json_out_run(&lineage->run)) &&
              json_out_put(o, "source", source_object(&lineage->run)) &&
              json_out_put(o, "datasets",
                           json_out_array(lineage->datasets, lineage->n_datasets,
                                          sizeof *lineage->datasets, dataset_object)) &&
              json_out_put(o, "events",
                           json_out_array(lineage->events, lineage->n_events,
                                          sizeof *lineage->events, event_object));
    return json_out_dump_run(release(o, ok), &lineage->run);
}
