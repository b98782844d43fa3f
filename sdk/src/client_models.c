/*
 * The model registry from libcairn: each call packs one request, waits for
 * its reply and decodes it into a struct the caller owns
 * (client_models_decode.c). Version references ("churn@champion") are
 * parsed here (model_ref.c) into the protocol's selector fields.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "artifact_path.h"
#include "body.h"
#include "client_internal.h"
#include "client_models.h"
#include "error.h"
#include "model_ref.h"

static cairn_status bad_args(const char *what, cairn_error *err)
{
    return error_set(err, CAIRN_INVALID_PARAMETER_VALUE,
                     "%s: missing client, argument or result pointer", what);
}

static cairn_status oom(cairn_error *err)
{
    return error_set(err, CAIRN_OUT_OF_MEMORY, "out of memory");
}

static bool given(const char *s)
{
    return s && *s;
}

static void pack_text(msgpack_packer *pk, const char *key, const char *value)
{
    mp_str(pk, key);
    mp_str(pk, value);
}

static void pack_kvs(msgpack_packer *pk, const char *key, const cairn_kv *kv, size_t n)
{
    mp_str(pk, key);
    msgpack_pack_map(pk, n);
    for (size_t i = 0; i < n; i++) {
        mp_str(pk, kv[i].key);
        mp_str(pk, kv[i].value);
    }
}

static cairn_status check_kvs(const cairn_kv *kv, size_t n, cairn_error *err)
{
    for (size_t i = 0; i < n; i++)
        if (!kv || !kv[i].key || !kv[i].value)
            return error_set(err, CAIRN_INVALID_PARAMETER_VALUE, "tags[%zu] is NULL", i);
    return CAIRN_OK;
}

/* ---- writes ---- */

cairn_status cairn_model_create(cairn_client *client, const char *name, const char *description,
                                const cairn_kv *tags, size_t n_tags, cairn_error *err)
{
    const msgpack_object *body;
    if (!client || !name)
        return bad_args("model.create", err);
    cairn_status st = check_kvs(tags, n_tags, err);
    if (st)
        return st;
    msgpack_packer *pk =
        client_begin(client, "model.create", 1 + given(description) + (n_tags > 0));
    pack_text(pk, "name", name);
    if (given(description))
        pack_text(pk, "description", description);
    if (n_tags)
        pack_kvs(pk, "tags", tags, n_tags);
    return client_call(client, &body, err);
}

static cairn_status check_signature(const cairn_signature *s, cairn_error *err)
{
    for (size_t i = 0; s && i < s->n_inputs; i++)
        if (!s->inputs || !s->inputs[i].name || !s->inputs[i].type)
            return error_set(err, CAIRN_INVALID_PARAMETER_VALUE,
                             "signature input %zu has no name or type", i);
    return CAIRN_OK;
}

static void pack_signature(msgpack_packer *pk, const cairn_signature *s)
{
    mp_str(pk, "signature");
    msgpack_pack_map(pk, s->output ? 2 : 1);
    mp_str(pk, "inputs");
    msgpack_pack_array(pk, s->n_inputs);
    for (size_t i = 0; i < s->n_inputs; i++) {
        msgpack_pack_map(pk, 2);
        pack_text(pk, "name", s->inputs[i].name);
        pack_text(pk, "type", s->inputs[i].type);
    }
    if (s->output)
        pack_text(pk, "output", s->output);
}

static void pack_register(cairn_client *c, const cairn_register_opts *o, const ulid *run)
{
    uint32_t n = 4 + given(o->description) + (o->n_tags > 0) + (o->signature != NULL) +
                 (o->input_example != NULL);
    msgpack_packer *pk = client_begin(c, "model.register", n);
    pack_text(pk, "name", o->name);
    mp_str(pk, "run");
    mp_ulid(pk, run);
    pack_text(pk, "artifact", o->artifact_path);
    mp_str(pk, "new");
    mp_bool(pk, o->create_new != 0);
    if (given(o->description))
        pack_text(pk, "description", o->description);
    if (o->n_tags)
        pack_kvs(pk, "tags", o->tags, o->n_tags);
    if (o->signature)
        pack_signature(pk, o->signature);
    if (o->input_example)
        pack_text(pk, "input_example", o->input_example);
}

cairn_status cairn_model_register(cairn_client *client, const cairn_register_opts *opts,
                                  uint64_t *version, cairn_error *err)
{
    const msgpack_object *body;
    ulid run;
    uint64_t v = 0;
    if (!client || !opts || !opts->name || !opts->artifact_path)
        return bad_args("model.register (name, run and artifact path are required)", err);
    cairn_status st = client_run_id(opts->run_id, &run, err);
    if (!st)
        st = check_kvs(opts->tags, opts->n_tags, err);
    if (!st)
        st = check_signature(opts->signature, err);
    if (st)
        return st;
    pack_register(client, opts, &run);
    st = client_call(client, &body, err);
    if (!st)
        st = decode_count(body, "version", true, &v, err);
    if (!st && version)
        *version = v;
    return st;
}

static cairn_status send_stage(cairn_client *c, const char *name, uint64_t version,
                               const char *stage, int archive, const char *reason, cairn_error *err)
{
    const msgpack_object *body;
    msgpack_packer *pk = client_begin(c, "model.stage", 4 + given(reason));
    pack_text(pk, "name", name);
    mp_str(pk, "version");
    msgpack_pack_uint64(pk, version);
    pack_text(pk, "stage", stage);
    mp_str(pk, "archive_existing");
    mp_bool(pk, archive != 0);
    if (given(reason))
        pack_text(pk, "reason", reason);
    return client_call(c, &body, err);
}

cairn_status cairn_model_set_stage(cairn_client *client, const char *name, uint64_t version,
                                   const char *stage, int archive_existing, const char *reason,
                                   cairn_error *err)
{
    if (!client || !name || !stage)
        return bad_args("model.stage", err);
    return send_stage(client, name, version, stage, archive_existing, reason, err);
}

/* model.alias with a version, model.unalias without (version 0). */
static cairn_status send_alias(cairn_client *c, const char *name, const char *alias,
                               uint64_t version, const char *reason, cairn_error *err)
{
    const msgpack_object *body;
    msgpack_packer *pk = client_begin(c, version ? "model.alias" : "model.unalias",
                                      2 + (version > 0) + given(reason));
    pack_text(pk, "name", name);
    pack_text(pk, "alias", alias);
    client_pack_count(pk, "version", version);
    if (given(reason))
        pack_text(pk, "reason", reason);
    return client_call(c, &body, err);
}

cairn_status cairn_model_set_alias(cairn_client *client, const char *name, const char *alias,
                                   uint64_t version, const char *reason, cairn_error *err)
{
    if (!client || !name || !alias)
        return bad_args("model.alias", err);
    if (!version)
        return error_set(err, CAIRN_INVALID_PARAMETER_VALUE, "an alias names a version from 1");
    return send_alias(client, name, alias, version, reason, err);
}

cairn_status cairn_model_delete_alias(cairn_client *client, const char *name, const char *alias,
                                      const char *reason, cairn_error *err)
{
    if (!client || !name || !alias)
        return bad_args("model.unalias", err);
    return send_alias(client, name, alias, 0, reason, err);
}

cairn_status cairn_model_rollback(cairn_client *client, const cairn_rollback_opts *opts,
                                  uint64_t *version, uint64_t *previous, cairn_error *err)
{
    const msgpack_object *body;
    uint64_t after = 0, before = 0;
    if (!client || !opts || !opts->name)
        return bad_args("model.rollback", err);
    if (!opts->alias == !opts->stage)
        return error_set(err, CAIRN_INVALID_PARAMETER_VALUE,
                         "model.rollback: give exactly one of alias and stage");
    msgpack_packer *pk =
        client_begin(client, "model.rollback", 2 + (opts->to > 0) + given(opts->reason));
    pack_text(pk, "name", opts->name);
    pack_text(pk, opts->alias ? "alias" : "stage", opts->alias ? opts->alias : opts->stage);
    if (opts->to) {
        mp_str(pk, "to");
        msgpack_pack_uint64(pk, opts->to);
    }
    if (given(opts->reason))
        pack_text(pk, "reason", opts->reason);
    cairn_status st = client_call(client, &body, err);
    if (!st)
        st = decode_count(body, "version", false, &after, err);
    if (!st)
        st = decode_count(body, "previous", false, &before, err);
    if (!st && version)
        *version = after;
    if (!st && previous)
        *previous = before;
    return st;
}

/* ---- reads ---- */

static cairn_status models_body(const msgpack_object *body, void *out, cairn_error *err)
{
    return decode_models(body, out, err);
}

cairn_status cairn_models_list(cairn_client *client, cairn_model_list **out, cairn_error *err)
{
    if (!client || !out)
        return bad_args("model.list", err);
    *out = NULL;
    client_begin(client, "model.list", 0);
    return client_call_into(client, sizeof **out, models_body, (void **)out, err);
}

static cairn_status model_body(const msgpack_object *body, void *out, cairn_error *err)
{
    return decode_model(body_find(body, "model"), out, err);
}

cairn_status cairn_model_get(cairn_client *client, const char *name, cairn_model **out,
                             cairn_error *err)
{
    if (!client || !name || !out)
        return bad_args("model.get", err);
    *out = NULL;
    pack_text(client_begin(client, "model.get", 1), "name", name);
    return client_call_into(client, sizeof **out, model_body, (void **)out, err);
}

/* One page of a model's list (versions or history): name, since, max. */
static void pack_page(cairn_client *c, const char *type, const char *name, uint64_t since,
                      size_t max)
{
    msgpack_packer *pk = client_begin(c, type, 1 + (since > 0) + (max > 0));
    pack_text(pk, "name", name);
    client_pack_count(pk, "since", since);
    client_pack_count(pk, "max", max);
}

static cairn_status versions_body(const msgpack_object *body, void *out, cairn_error *err)
{
    return decode_model_versions(body, out, err);
}

cairn_status cairn_model_versions(cairn_client *client, const char *name, uint64_t since,
                                  size_t max, cairn_model_version_list **out, cairn_error *err)
{
    if (!client || !name || !out)
        return bad_args("model.versions", err);
    *out = NULL;
    pack_page(client, "model.versions", name, since, max);
    return client_call_into(client, sizeof **out, versions_body, (void **)out, err);
}

static cairn_status events_body(const msgpack_object *body, void *out, cairn_error *err)
{
    return decode_model_events(body, out, err);
}

cairn_status cairn_model_history(cairn_client *client, const char *name, uint64_t since, size_t max,
                                 cairn_model_event_list **out, cairn_error *err)
{
    if (!client || !name || !out)
        return bad_args("model.history", err);
    *out = NULL;
    pack_page(client, "model.history", name, since, max);
    return client_call_into(client, sizeof **out, events_body, (void **)out, err);
}

/* A request whose body is a version reference: name and its selector. */
static cairn_status begin_ref(cairn_client *c, const char *type, const char *ref, cairn_error *err)
{
    model_ref r;
    cairn_status st = model_ref_parse(ref, &r, err);
    if (st)
        return st;
    model_ref_pack(client_begin(c, type, 2), &r);
    model_ref_free(&r);
    return CAIRN_OK;
}

static cairn_status version_body(const msgpack_object *body, void *out, cairn_error *err)
{
    const msgpack_object *v;
    cairn_status st = body_map(body, "version", true, &v, err);
    return st ? st : decode_model_version(v, out, err);
}

cairn_status cairn_model_version_get(cairn_client *client, const char *ref,
                                     cairn_model_version **out, cairn_error *err)
{
    if (!client || !out)
        return bad_args("model.version.get", err);
    *out = NULL;
    cairn_status st = begin_ref(client, "model.version.get", ref, err);
    return st ? st : client_call_into(client, sizeof **out, version_body, (void **)out, err);
}

static cairn_status lineage_body(const msgpack_object *body, void *out, cairn_error *err)
{
    return decode_lineage(body, out, err);
}

cairn_status cairn_model_lineage(cairn_client *client, const char *ref, cairn_lineage **out,
                                 cairn_error *err)
{
    if (!client || !out)
        return bad_args("model.lineage", err);
    *out = NULL;
    cairn_status st = begin_ref(client, "model.lineage", ref, err);
    return st ? st : client_call_into(client, sizeof **out, lineage_body, (void **)out, err);
}

/* ---- downloads ---- */

/* mkdir -p: every missing directory of path. */
static cairn_status make_dirs(const char *path, cairn_error *err)
{
    char *copy = strdup(path);
    if (!copy)
        return oom(err);
    cairn_status st = CAIRN_OK;
    for (char *p = copy + 1; !st; p++) {
        bool end = *p == '\0';
        if (*p != '/' && !end)
            continue;
        *p = '\0';
        if (mkdir(copy, 0777) != 0 && errno != EEXIST)
            st = error_set(err, CAIRN_IO_ERROR, "create directory %s: %s", copy, strerror(errno));
        if (end)
            break;
        *p = '/';
    }
    free(copy);
    return st;
}

cairn_status cairn_model_version_download(cairn_client *client, const cairn_model_version *version,
                                          const char *dest_dir, char *path, size_t cap,
                                          cairn_error *err)
{
    if (!client || !version || !version->artifact.path || !given(dest_dir))
        return bad_args("model download (a version and a directory)", err);
    const char *base = path_base_name(version->artifact.path);
    size_t n = strlen(dest_dir) + strlen(base) + 2;
    char *file = malloc(n);
    if (!file)
        return oom(err);
    snprintf(file, n, "%s/%s", dest_dir, base);
    cairn_status st = make_dirs(dest_dir, err);
    if (!st)
        st = client_blob_download(client, version->artifact.sha256, file, err);
    if (!st && path && cap)
        snprintf(path, cap, "%s", file);
    free(file);
    return st;
}

cairn_status cairn_model_download(cairn_client *client, const char *ref, const char *dest_dir,
                                  char *path, size_t cap, cairn_error *err)
{
    cairn_model_version *v = NULL;
    cairn_status st = cairn_model_version_get(client, ref, &v, err);
    if (!st)
        st = cairn_model_version_download(client, v, dest_dir, path, cap, err);
    cairn_model_version_free(v);
    return st;
}
