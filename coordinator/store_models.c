/*
 * Registered models and their versions.
 *
 *   models          u64 id -> i64 created | i64 updated | u32 last version |
 *                             name | description | tags (packed map)
 *   model_names     name -> u64 id
 *   model_versions  u64 id + u32 version -> run | i64 created | i64 updated |
 *                             u64 size | sha256 | u8 stage | request id | u8 flags |
 *                             path | creator | description | tags | signature |
 *                             input example
 *   run_models      run id + u64 id + u32 version -> (empty)
 *
 * (strings as u32 length + bytes: store_record.h)
 */
#include "store_models.h"

#include <errno.h>
#include <strings.h>

#include "error.h"
#include "store_record.h"

#define MODEL_KEY 8
#define VERSION_KEY 12
#define RUN_MODEL_KEY (ULID_BYTES + VERSION_KEY)
#define HAS_SIGNATURE 1
#define HAS_INPUT_EXAMPLE 2

static const char *const stage_names[STAGE_COUNT_] = {"None", "Staging", "Production", "Archived"};

const char *model_stage_name(unsigned stage)
{
    return stage < STAGE_COUNT_ ? stage_names[stage] : "Unknown";
}

bool model_stage_parse(msg_str text, model_stage *out)
{
    for (unsigned i = 0; i < STAGE_COUNT_; i++) {
        if (strlen(stage_names[i]) == text.n && strncasecmp(stage_names[i], text.p, text.n) == 0) {
            *out = (model_stage)i;
            return true;
        }
    }
    return false;
}

static cairn_status corrupt(const char *what, cairn_error *err)
{
    return error_set(err, CAIRN_STORAGE_ERROR, "corrupt %s record", what);
}

static void version_key(uint8_t k[VERSION_KEY], uint64_t model_id, uint32_t version)
{
    be64_put(k, model_id);
    be32_put(k + MODEL_KEY, version);
}

/* ---- models ---- */

static cairn_status decode_model(uint64_t id, const MDB_val *v, store_model *out, cairn_error *err)
{
    rec_in in = {v->mv_data, v->mv_size, false};
    out->id = id;
    out->created = (int64_t)rec_get_u64(&in);
    out->updated = (int64_t)rec_get_u64(&in);
    out->last_version = rec_get_u32(&in);
    out->name = rec_get_str(&in);
    out->description = rec_get_str(&in);
    out->tags = rec_get_str(&in);
    return in.bad ? corrupt("model", err) : CAIRN_OK;
}

cairn_status store_model_get(store *s, MDB_txn *txn, uint64_t id, store_model *out,
                             cairn_error *err)
{
    uint8_t kb[MODEL_KEY];
    be64_put(kb, id);
    MDB_val k = {sizeof kb, kb}, v;
    int rc = mdb_get(txn, s->models, &k, &v);
    if (rc == MDB_NOTFOUND)
        return error_set(err, CAIRN_RESOURCE_DOES_NOT_EXIST, "no model with id %llu",
                         (unsigned long long)id);
    return rc ? store_fail(rc, "read model", err) : decode_model(id, &v, out, err);
}

cairn_status store_model_by_name(store *s, MDB_txn *txn, msg_str name, store_model *out,
                                 cairn_error *err)
{
    MDB_val k = {name.n, (void *)name.p}, v;
    int rc = name.n ? mdb_get(txn, s->model_names, &k, &v) : MDB_NOTFOUND;
    if (rc == MDB_NOTFOUND)
        return error_set(err, CAIRN_RESOURCE_DOES_NOT_EXIST, "no model named '%.*s'",
                         (int)(name.n > 250 ? 250 : name.n), name.p);
    if (rc)
        return store_fail(rc, "read model name", err);
    if (v.mv_size != MODEL_KEY)
        return corrupt("model name", err);
    return store_model_get(s, txn, be64_get(v.mv_data), out, err);
}

cairn_status store_model_put(store *s, MDB_txn *txn, const store_model *m, cairn_error *err)
{
    /* Built apart first: m's strings may point into the record being replaced. */
    rec_out o = {0};
    rec_u64(&o, (uint64_t)m->created);
    rec_u64(&o, (uint64_t)m->updated);
    rec_u32(&o, m->last_version);
    rec_str(&o, m->name);
    rec_str(&o, m->description);
    rec_str(&o, m->tags);
    uint8_t kb[MODEL_KEY];
    be64_put(kb, m->id);
    MDB_val k = {sizeof kb, kb}, v = {o.n, o.p};
    int rc = o.failed ? ENOMEM : store_put(s, txn, s->models, &k, &v, 0);
    rec_free(&o);
    return rc ? store_fail(rc, "write model", err) : CAIRN_OK;
}

/* Ids are never reused: the next is one past the last in the tree. */
static cairn_status next_model_id(store *s, MDB_txn *txn, uint64_t *id, cairn_error *err)
{
    MDB_val last = {0, NULL};
    cairn_status st =
        store_range_walk(txn, s->models, NULL, 0, 0, true, store_take_key, &last, err);
    *id = last.mv_size == MODEL_KEY ? be64_get(last.mv_data) + 1 : 1;
    return st;
}

cairn_status store_model_create(store *s, MDB_txn *txn, store_model *m, cairn_error *err)
{
    cairn_status st = next_model_id(s, txn, &m->id, err);
    if (st)
        return st;
    uint8_t idb[MODEL_KEY];
    be64_put(idb, m->id);
    MDB_val nk = {m->name.n, (void *)m->name.p}, nv = {sizeof idb, idb};
    int rc = store_put(s, txn, s->model_names, &nk, &nv, MDB_NOOVERWRITE);
    if (rc == MDB_KEYEXIST)
        return error_set(err, CAIRN_RESOURCE_ALREADY_EXISTS, "model '%.*s' already exists",
                         (int)m->name.n, m->name.p);
    if (rc)
        return store_fail(rc, "write model name", err);
    return store_model_put(s, txn, m, err);
}

static bool visit_name(void *ctx, const MDB_val *key, const MDB_val *value)
{
    store_walk_ctx *w = ctx;
    store_model m;
    (void)key;
    w->st = value->mv_size == MODEL_KEY
                ? store_model_get(w->s, w->txn, be64_get(value->mv_data), &m, w->err)
                : corrupt("model name", w->err);
    return !w->st && ((store_model_visit)w->visit)(w->ctx, &m);
}

cairn_status store_models_walk(store *s, MDB_txn *txn, store_model_visit visit, void *ctx,
                               cairn_error *err)
{
    store_walk_ctx w = {s, txn, (void (*)(void))visit, ctx, CAIRN_OK, err};
    cairn_status st = store_range_walk(txn, s->model_names, NULL, 0, 0, false, visit_name, &w, err);
    return st ? st : w.st;
}

/* ---- versions ---- */

static cairn_status decode_version(uint32_t version, const MDB_val *v, store_model_version *out,
                                   cairn_error *err)
{
    rec_in in = {v->mv_data, v->mv_size, false};
    out->version = version;
    rec_get_bytes(&in, out->run.b, ULID_BYTES);
    out->created = (int64_t)rec_get_u64(&in);
    out->updated = (int64_t)rec_get_u64(&in);
    out->artifact.size = rec_get_u64(&in);
    rec_get_bytes(&in, out->artifact.sha256, 32);
    out->stage = rec_get_u8(&in);
    rec_get_bytes(&in, out->request.b, ULID_BYTES);
    uint8_t flags = rec_get_u8(&in);
    out->has_signature = flags & HAS_SIGNATURE;
    out->has_input_example = flags & HAS_INPUT_EXAMPLE;
    out->path = rec_get_str(&in);
    out->creator = rec_get_str(&in);
    out->description = rec_get_str(&in);
    out->tags = rec_get_str(&in);
    out->signature = rec_get_str(&in);
    out->input_example = rec_get_str(&in);
    return in.bad || out->stage >= STAGE_COUNT_ ? corrupt("model version", err) : CAIRN_OK;
}

cairn_status store_model_version_get(store *s, MDB_txn *txn, const store_model *m, uint32_t version,
                                     store_model_version *out, cairn_error *err)
{
    uint8_t kb[VERSION_KEY];
    version_key(kb, m->id, version);
    MDB_val k = {sizeof kb, kb}, v;
    int rc = mdb_get(txn, s->model_versions, &k, &v);
    if (rc == MDB_NOTFOUND)
        return error_set(err, CAIRN_RESOURCE_DOES_NOT_EXIST, "model '%.*s' has no version %u",
                         (int)m->name.n, m->name.p, version);
    return rc ? store_fail(rc, "read model version", err) : decode_version(version, &v, out, err);
}

static void encode_version(rec_out *o, const store_model_version *v)
{
    rec_bytes(o, v->run.b, ULID_BYTES);
    rec_u64(o, (uint64_t)v->created);
    rec_u64(o, (uint64_t)v->updated);
    rec_u64(o, v->artifact.size);
    rec_bytes(o, v->artifact.sha256, 32);
    rec_u8(o, v->stage);
    rec_bytes(o, v->request.b, ULID_BYTES);
    rec_u8(o,
           (v->has_signature ? HAS_SIGNATURE : 0) | (v->has_input_example ? HAS_INPUT_EXAMPLE : 0));
    rec_str(o, v->path);
    rec_str(o, v->creator);
    rec_str(o, v->description);
    rec_str(o, v->tags);
    rec_str(o, v->signature);
    rec_str(o, v->input_example);
}

static cairn_status index_run(store *s, MDB_txn *txn, uint64_t model_id,
                              const store_model_version *v, cairn_error *err)
{
    uint8_t kb[RUN_MODEL_KEY];
    memcpy(kb, v->run.b, ULID_BYTES);
    version_key(kb + ULID_BYTES, model_id, v->version);
    MDB_val k = {sizeof kb, kb}, e = {0, NULL};
    int rc = store_put(s, txn, s->run_models, &k, &e, 0);
    return rc ? store_fail(rc, "index model version by run", err) : CAIRN_OK;
}

cairn_status store_model_version_put(store *s, MDB_txn *txn, uint64_t model_id,
                                     const store_model_version *v, bool is_new, cairn_error *err)
{
    rec_out o = {0};
    encode_version(&o, v);
    uint8_t kb[VERSION_KEY];
    version_key(kb, model_id, v->version);
    MDB_val k = {sizeof kb, kb}, val = {o.n, o.p};
    unsigned flags = is_new ? MDB_NOOVERWRITE : 0;
    int rc = o.failed ? ENOMEM : store_put(s, txn, s->model_versions, &k, &val, flags);
    rec_free(&o);
    if (rc)
        return store_fail(rc, "write model version", err);
    return is_new ? index_run(s, txn, model_id, v, err) : CAIRN_OK;
}

static bool visit_version(void *ctx, const MDB_val *key, const MDB_val *value)
{
    store_walk_ctx *w = ctx;
    store_model_version v;
    w->st =
        key->mv_size == VERSION_KEY
            ? decode_version(be32_get((const uint8_t *)key->mv_data + MODEL_KEY), value, &v, w->err)
            : corrupt("model version", w->err);
    return !w->st && ((store_version_visit)w->visit)(w->ctx, &v);
}

cairn_status store_model_versions_walk(store *s, MDB_txn *txn, uint64_t model_id, uint32_t since,
                                       store_version_visit visit, void *ctx, cairn_error *err)
{
    uint8_t from[VERSION_KEY];
    version_key(from, model_id, since);
    store_walk_ctx w = {s, txn, (void (*)(void))visit, ctx, CAIRN_OK, err};
    cairn_status st = store_range_walk(txn, s->model_versions, from, sizeof from, MODEL_KEY, false,
                                       visit_version, &w, err);
    return st ? st : w.st;
}

static bool visit_run_model(void *ctx, const MDB_val *key, const MDB_val *value)
{
    store_walk_ctx *w = ctx;
    const uint8_t *p = (const uint8_t *)key->mv_data + ULID_BYTES;
    store_model m;
    (void)value;
    w->st = key->mv_size == RUN_MODEL_KEY ? store_model_get(w->s, w->txn, be64_get(p), &m, w->err)
                                          : corrupt("run model", w->err);
    if (!w->st)
        ((store_run_model_visit)w->visit)(w->ctx, m.name, be32_get(p + MODEL_KEY));
    return !w->st;
}

cairn_status store_model_versions_of_run(store *s, MDB_txn *txn, const ulid *run,
                                         store_run_model_visit visit, void *ctx, cairn_error *err)
{
    store_walk_ctx w = {s, txn, (void (*)(void))visit, ctx, CAIRN_OK, err};
    cairn_status st = store_range_walk(txn, s->run_models, run->b, ULID_BYTES, ULID_BYTES, false,
                                       visit_run_model, &w, err);
    return st ? st : w.st;
}
