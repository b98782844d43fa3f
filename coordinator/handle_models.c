/* model.create, model.register, model.list, model.get, model.versions, model.version.get */
#include <stdio.h>
#include <string.h>

#include "artifact_path.h"
#include "body.h"
#include "error.h"
#include "handlers.h"
#include "model_ops.h"
#include "validate.h"

#define VERSIONS_DEFAULT 1000
#define VERSIONS_MAX 10000

/* Packs a checked str -> str map as stored (an empty map stores no bytes). */
static void pack_tags(msgpack_packer *pk, const msgpack_object *tags)
{
    if (tags && tags->via.map.size)
        msgpack_pack_object(pk, *tags);
}

static cairn_status read_description(request_ctx *r, msg_str *out, cairn_error *err)
{
    *out = (msg_str){"", 0};
    cairn_status st = body_str(r->m->body, "description", false, out, err);
    return st ? st : validate_value("description", *out, MODEL_MAX_DESCRIPTION, err);
}

/* The tags are stored as the map that was sent: a key in it twice would be
 * kept twice (and printed twice). */
static cairn_status check_unique_tags(request_ctx *r, const msgpack_object *tags, cairn_error *err)
{
    uint32_t n = tags ? tags->via.map.size : 0;
    if (n < 2)
        return CAIRN_OK;
    request_name *keys = request_sorted_names(r, tags, true, n);
    if (!keys)
        return error_set(err, CAIRN_OUT_OF_MEMORY, "no memory for %u tags", n);
    for (uint32_t i = 1; i < n; i++)
        if (msg_str_same(keys[i - 1].name, keys[i].name))
            return error_set(err, CAIRN_INVALID_PARAMETER_VALUE, "tag '%.*s' is given twice",
                             (int)keys[i].name.n, keys[i].name.p);
    return CAIRN_OK;
}

static cairn_status read_tags(request_ctx *r, const msgpack_object **tags, cairn_error *err)
{
    *tags = NULL;
    cairn_status st = body_map(r->m->body, "tags", false, tags, err);
    if (!st)
        st = read_kv_map(*tags, "tag", LIMIT_TAG_VALUE, err);
    return st ? st : check_unique_tags(r, *tags, err);
}

/* ---- model.create ---- */

cairn_status handle_model_create(request_ctx *r, cairn_error *err)
{
    store_model m = {.created = r->now_ms, .updated = r->now_ms};
    const msgpack_object *tags;
    msg_writer w;
    cairn_status st = model_read_name(r, &m.name, err);
    if (!st)
        st = read_description(r, &m.description, err);
    if (!st)
        st = read_tags(r, &tags, err);
    if (st)
        return st;
    msg_writer_init(&w);
    pack_tags(&w.pk, tags);
    m.tags = (msg_str){w.sb.data, (uint32_t)w.sb.size};
    st = store_model_create(r->store, r->txn, &m, err);
    msg_writer_destroy(&w);
    if (st)
        return st;
    char q[80];
    snprintf(r->summary, sizeof r->summary, "model=%s id=%llu", model_quote(q, m.name),
             (unsigned long long)m.id);
    r->applied = true;
    return CAIRN_OK;
}

/* ---- model.register ---- */

typedef struct register_req {
    msg_str name, path, description, input_example;
    store_run run;
    store_artifact artifact;
    bool create_new, has_example;
    const msgpack_object *tags, *signature;
} register_req;

/* One input column of a signature: {name, type}. */
static cairn_status check_column(const msgpack_object *o, uint32_t i, cairn_error *err)
{
    msg_str name, type;
    cairn_status st = o->type == MSGPACK_OBJECT_MAP && o->via.map.size == 2
                          ? CAIRN_OK
                          : error_set(err, CAIRN_BAD_MESSAGE,
                                      "signature inputs[%u] must be a map {name, type}", i);
    if (!st)
        st = body_str(o, "name", true, &name, err);
    if (!st)
        st = body_str(o, "type", true, &type, err);
    if (!st && (name.n == 0 || type.n == 0))
        st = error_set(err, CAIRN_INVALID_PARAMETER_VALUE,
                       "signature inputs[%u]: name and type must not be empty", i);
    if (!st)
        st = validate_text("signature column name", name, LIMIT_KEY, err);
    if (!st)
        st = validate_text("signature column type", type, MODEL_MAX_TYPE, err);
    return st;
}

/* {inputs: [{name, type}...], output: str?}: nothing else, so that what is
 * stored has one shape. */
static cairn_status check_signature(const msgpack_object *sig, cairn_error *err)
{
    const msgpack_object *inputs;
    msg_str output = {"", 0};
    uint32_t known = 1 + (body_find(sig, "output") != NULL);
    cairn_status st = body_array(sig, "inputs", true, &inputs, err);
    if (!st)
        st = body_str(sig, "output", false, &output, err);
    if (!st && sig->via.map.size != known)
        st = error_set(err, CAIRN_BAD_MESSAGE, "a signature holds only 'inputs' and 'output'");
    if (!st && inputs->via.array.size > MODEL_MAX_COLUMNS)
        st = error_set(err, CAIRN_LIMIT_EXCEEDED,
                       "a signature of %u columns exceeds the limit of %d", inputs->via.array.size,
                       MODEL_MAX_COLUMNS);
    for (uint32_t i = 0; !st && i < inputs->via.array.size; i++)
        st = check_column(&inputs->via.array.ptr[i], i, err);
    return st ? st : validate_text("signature output type", output, MODEL_MAX_TYPE, err);
}

static cairn_status read_artifact_of_run(request_ctx *r, register_req *q, cairn_error *err)
{
    cairn_status st = read_run(r, &q->run, err);
    if (!st)
        st = body_str(r->m->body, "artifact", true, &q->path, err);
    if (!st)
        st = artifact_path_check(q->path, err);
    if (st)
        return st;
    st = store_artifact_get(r->store, r->txn, &q->run.id, q->path, &q->artifact, err);
    if (st == CAIRN_RESOURCE_DOES_NOT_EXIST) {
        char id[ULID_TEXT_LEN + 1];
        ulid_format(&q->run.id, id);
        return error_set(err, st, "run %s has no artifact '%.*s'", id, (int)q->path.n, q->path.p);
    }
    return st;
}

static cairn_status read_register(request_ctx *r, register_req *q, cairn_error *err)
{
    const msgpack_object *b = r->m->body;
    q->create_new = false;
    q->input_example = (msg_str){"", 0};
    q->signature = NULL;
    cairn_status st = model_read_name(r, &q->name, err);
    if (!st)
        st = read_artifact_of_run(r, q, err);
    if (!st)
        st = body_bool(b, "new", false, &q->create_new, err);
    if (!st)
        st = read_description(r, &q->description, err);
    if (!st)
        st = read_tags(r, &q->tags, err);
    if (!st)
        st = body_map(b, "signature", false, &q->signature, err);
    if (!st && q->signature)
        st = check_signature(q->signature, err);
    if (!st)
        st = body_str(b, "input_example", false, &q->input_example, err);
    q->has_example = body_find(b, "input_example") != NULL;
    return st ? st
              : validate_value("input example", q->input_example, MODEL_MAX_INPUT_EXAMPLE, err);
}

/* The model to add a version to, created on first use. */
static cairn_status model_for_register(request_ctx *r, const register_req *q, store_model *m,
                                       cairn_error *err)
{
    cairn_status st = store_model_by_name(r->store, r->txn, q->name, m, err);
    if (!st && q->create_new)
        return error_set(
            err, CAIRN_RESOURCE_ALREADY_EXISTS,
            "model '%.*s' already exists (registering with 'new' refuses an existing name)",
            (int)q->name.n, q->name.p);
    if (st != CAIRN_RESOURCE_DOES_NOT_EXIST)
        return st;
    *m = (store_model){.name = q->name, .created = r->now_ms, .updated = r->now_ms};
    return store_model_create(r->store, r->txn, m, err);
}

/* The signature in its one stored shape: {inputs: [{name, type}...], output: str or nil}. */
static void pack_signature(msgpack_packer *pk, const msgpack_object *sig)
{
    const msgpack_object *inputs = body_find(sig, "inputs"), *output = body_find(sig, "output");
    msgpack_pack_map(pk, 2);
    mp_str(pk, "inputs");
    msgpack_pack_array(pk, inputs->via.array.size);
    for (uint32_t i = 0; i < inputs->via.array.size; i++) {
        const msgpack_object *col = &inputs->via.array.ptr[i];
        msgpack_pack_map(pk, 2);
        mp_str(pk, "name");
        msgpack_pack_object(pk, *body_find(col, "name"));
        mp_str(pk, "type");
        msgpack_pack_object(pk, *body_find(col, "type"));
    }
    mp_str(pk, "output");
    if (output)
        msgpack_pack_object(pk, *output);
    else
        msgpack_pack_nil(pk);
}

static cairn_status add_version(request_ctx *r, const register_req *q, store_model *m,
                                uint32_t *number, cairn_error *err)
{
    msg_writer tags, sig;
    msg_writer_init(&tags);
    msg_writer_init(&sig);
    pack_tags(&tags.pk, q->tags);
    if (q->signature)
        pack_signature(&sig.pk, q->signature);
    store_model_version v = {.version = m->last_version + 1,
                             .run = q->run.id,
                             .created = r->now_ms,
                             .updated = r->now_ms,
                             .artifact = q->artifact,
                             .stage = STAGE_NONE,
                             .request = r->m->id,
                             .path = q->path,
                             .creator = r->m->from,
                             .description = q->description,
                             .tags = {tags.sb.data, (uint32_t)tags.sb.size},
                             .signature = {sig.sb.data, (uint32_t)sig.sb.size},
                             .input_example = q->input_example,
                             .has_signature = q->signature != NULL,
                             .has_input_example = q->has_example};
    cairn_status st = store_model_version_put(r->store, r->txn, m->id, &v, true, err);
    msg_writer_destroy(&tags);
    msg_writer_destroy(&sig);
    if (st)
        return st;
    *number = v.version;
    m->last_version = v.version;
    return model_touch(r, m, err);
}

static void reply_version(request_ctx *r, uint32_t version)
{
    msgpack_packer *pk = reply_extra(r);
    mp_str(pk, "version");
    msgpack_pack_uint32(pk, version);
}

cairn_status handle_model_register(request_ctx *r, cairn_error *err)
{
    register_req q;
    store_model m;
    uint32_t version;
    char name[80], path[80], run[ULID_TEXT_LEN + 1], hex[65];
    cairn_status st = read_register(r, &q, err);
    if (st)
        return st;
    model_quote(name, q.name); /* before writing: m's strings may move */
    st = model_for_register(r, &q, &m, err);
    if (!st)
        st = add_version(r, &q, &m, &version, err);
    if (st)
        return st;
    reply_version(r, version);
    ulid_format(&q.run.id, run);
    sha256_hex(q.artifact.sha256, hex);
    snprintf(r->summary, sizeof r->summary, "model=%s version=%u run=%s artifact=%s sha256=%.16s",
             name, version, run, model_quote(path, q.path), hex);
    r->applied = true;
    return CAIRN_OK;
}

/* A resend: the version this message made carries its id. */
cairn_status handle_model_register_duplicate(request_ctx *r, cairn_error *err)
{
    store_model m;
    store_model_version v;
    cairn_status st = model_read(r, &m, err);
    for (uint32_t n = m.last_version; !st && n >= 1; n--) {
        st = store_model_version_get(r->store, r->txn, &m, n, &v, err);
        if (!st && memcmp(v.request.b, r->m->id.b, ULID_BYTES) == 0) {
            reply_version(r, n);
            return CAIRN_OK;
        }
    }
    return st ? st
              : error_set(err, CAIRN_INVALID_STATE, "the version this request made is not found");
}

/* ---- reads ---- */

typedef struct list_ctx {
    request_ctx *r;
    uint32_t n;
    cairn_status st;
    cairn_error *err;
} list_ctx;

static bool pack_listed(void *ctx, const store_model *m)
{
    list_ctx *c = ctx;
    c->st = store_pack_model(c->r->store, c->r->txn, m, &c->r->out->pk, c->err);
    c->n++;
    return c->st == CAIRN_OK;
}

cairn_status handle_model_list(request_ctx *r, cairn_error *err)
{
    msgpack_packer *pk = reply_begin(r, 1);
    mp_str(pk, "models");
    list_ctx c = {r, 0, CAIRN_OK, err};
    size_t at = store_counted_begin(pk);
    cairn_status st = store_models_walk(r->store, r->txn, pack_listed, &c, err);
    store_counted_end(pk, at, false, c.n);
    return st ? st : c.st;
}

cairn_status handle_model_get(request_ctx *r, cairn_error *err)
{
    store_model m;
    cairn_status st = model_read(r, &m, err);
    if (st)
        return st;
    msgpack_packer *pk = reply_begin(r, 1);
    mp_str(pk, "model");
    return store_pack_model(r->store, r->txn, &m, pk, err);
}

/* A page of versions ends past this many bytes too, after at least one
 * version: one can carry megabytes of tags, and a page of them could pass
 * what a client accepts in a reply (256 MiB for libcairn). */
#define VERSIONS_PAGE_BYTES ((size_t)16 << 20)

typedef struct versions_ctx {
    msg_writer w; /* the page's versions, before the reply's header says how many */
    msg_str name;
    const model_aliases *aliases;
    uint32_t left, packed;
    bool full; /* ended by VERSIONS_PAGE_BYTES */
} versions_ctx;

static bool pack_listed_version(void *ctx, const store_model_version *v)
{
    versions_ctx *c = ctx;
    store_pack_model_version(&c->w.pk, c->name, v, c->aliases);
    c->packed++;
    c->full = c->w.sb.size >= VERSIONS_PAGE_BYTES;
    return --c->left > 0 && !c->full;
}

/* The reply: `versions` (what the walk packed) and, when more remain, `next`. */
static void reply_versions(request_ctx *r, const versions_ctx *c, uint32_t first, uint64_t avail)
{
    bool more = avail > c->packed;
    msgpack_packer *pk = reply_begin(r, more ? 2 : 1);
    mp_str(pk, "versions");
    msgpack_pack_array(pk, c->packed);
    pk->callback(pk->data, c->w.sb.data, c->w.sb.size);
    if (more) {
        mp_str(pk, "next");
        msgpack_pack_uint32(pk, first + c->packed);
    }
}

/* Versions are numbered from 1 without gaps (none is ever deleted), so a
 * page's size and the next page's start are known before the walk. */
cairn_status handle_model_versions(request_ctx *r, cairn_error *err)
{
    store_model m;
    int64_t since = 1, max;
    model_aliases aliases;
    cairn_status st = model_read(r, &m, err);
    if (!st)
        st = body_int(r->m->body, "since", false, &since, err);
    if (!st)
        st = read_count(r, "max", VERSIONS_DEFAULT, VERSIONS_MAX, &max, err);
    if (!st)
        st = model_aliases_load(r->store, r->txn, m.id, &aliases, err);
    if (st)
        return st;
    uint32_t first = since < 1 ? 1 : since > UINT32_MAX ? UINT32_MAX : (uint32_t)since;
    uint64_t avail = first <= m.last_version ? (uint64_t)m.last_version - first + 1 : 0;
    uint32_t n = avail < (uint64_t)max ? (uint32_t)avail : (uint32_t)max;
    versions_ctx c = {.name = m.name, .aliases = &aliases, .left = n};
    msg_writer_init(&c.w);
    if (n)
        st = store_model_versions_walk(r->store, r->txn, m.id, first, pack_listed_version, &c, err);
    if (!st && c.left && !c.full)
        st = error_set(err, CAIRN_STORAGE_ERROR, "model '%.*s' is missing versions", (int)m.name.n,
                       m.name.p);
    if (!st)
        reply_versions(r, &c, first, avail);
    msg_writer_destroy(&c.w);
    model_aliases_free(&aliases);
    return st;
}

cairn_status handle_model_version_get(request_ctx *r, cairn_error *err)
{
    store_model m;
    store_model_version v;
    model_aliases aliases;
    cairn_status st = model_read(r, &m, err);
    if (!st)
        st = model_resolve(r, &m, &v, err);
    if (!st)
        st = model_aliases_load(r->store, r->txn, m.id, &aliases, err);
    if (st)
        return st;
    msgpack_packer *pk = reply_begin(r, 1);
    mp_str(pk, "version");
    store_pack_model_version(pk, m.name, &v, &aliases);
    model_aliases_free(&aliases);
    return CAIRN_OK;
}
