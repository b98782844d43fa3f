/*
 * What points at model versions: stages (each version has one; the index
 * lists the versions in each stage) and aliases (a name pointing at one
 * version).
 *
 *   model_stages   u64 id + u8 stage + u32 version -> (empty); STAGE_NONE is not indexed
 *   model_aliases  u64 id + alias -> u32 version
 */
#include <string.h>

#include "error.h"
#include "store_models.h"
#include "store_record.h"

#define STAGE_KEY 13
#define ALIAS_KEY_MAX (8 + MODEL_MAX_ALIAS)

static void stage_key(uint8_t k[STAGE_KEY], uint64_t model_id, uint8_t stage, uint32_t version)
{
    be64_put(k, model_id);
    k[8] = stage;
    be32_put(k + 9, version);
}

static cairn_status index_stage(store *s, MDB_txn *txn, uint64_t model_id, uint8_t stage,
                                uint32_t version, bool add, cairn_error *err)
{
    if (stage == STAGE_NONE)
        return CAIRN_OK;
    uint8_t kb[STAGE_KEY];
    stage_key(kb, model_id, stage, version);
    MDB_val k = {sizeof kb, kb}, e = {0, NULL};
    int rc = add ? store_put(s, txn, s->model_stages, &k, &e, 0)
                 : store_del(s, txn, s->model_stages, &k);
    return rc && rc != MDB_NOTFOUND ? store_fail(rc, "index model stage", err) : CAIRN_OK;
}

cairn_status store_model_set_stage(store *s, MDB_txn *txn, uint64_t model_id,
                                   const store_model_version *v, model_stage stage, int64_t now_ms,
                                   cairn_error *err)
{
    store_model_version moved = *v;
    uint8_t old = v->stage;
    moved.stage = (uint8_t)stage;
    moved.updated = now_ms;
    /* The record first: v's strings point into it until it is rewritten. */
    cairn_status st = store_model_version_put(s, txn, model_id, &moved, false, err);
    if (!st)
        st = index_stage(s, txn, model_id, old, v->version, false, err);
    if (!st)
        st = index_stage(s, txn, model_id, (uint8_t)stage, v->version, true, err);
    return st;
}

typedef struct stage_members {
    uint32_t *out;
    size_t max, n;
} stage_members;

static bool collect_member(void *ctx, const MDB_val *key, const MDB_val *value)
{
    stage_members *m = ctx;
    (void)value;
    if (m->n == m->max || key->mv_size != STAGE_KEY)
        return false;
    m->out[m->n++] = be32_get((const uint8_t *)key->mv_data + 9);
    return true;
}

cairn_status store_model_stage_versions(store *s, MDB_txn *txn, uint64_t model_id,
                                        model_stage stage, uint32_t *out, size_t max, size_t *n,
                                        cairn_error *err)
{
    uint8_t from[STAGE_KEY];
    stage_members m = {out, max, 0};
    stage_key(from, model_id, (uint8_t)stage, UINT32_MAX);
    /* Backwards from the stage's highest possible key: highest version first. */
    cairn_status st =
        store_range_walk(txn, s->model_stages, from, sizeof from, 9, true, collect_member, &m, err);
    *n = m.n;
    return st;
}

cairn_status store_model_stage_holder(store *s, MDB_txn *txn, uint64_t model_id, model_stage stage,
                                      uint32_t *version, bool *found, cairn_error *err)
{
    size_t n = 0;
    cairn_status st = stage == STAGE_NONE ? CAIRN_OK
                                          : store_model_stage_versions(s, txn, model_id, stage,
                                                                       version, 1, &n, err);
    *found = n == 1;
    return st;
}

/* ---- aliases ---- */

static size_t alias_key(uint8_t k[ALIAS_KEY_MAX], uint64_t model_id, msg_str alias)
{
    size_t n = alias.n < MODEL_MAX_ALIAS ? alias.n : MODEL_MAX_ALIAS;
    be64_put(k, model_id);
    memcpy(k + 8, alias.p, n);
    return 8 + n;
}

cairn_status store_model_alias_get(store *s, MDB_txn *txn, uint64_t model_id, msg_str alias,
                                   uint32_t *version, cairn_error *err)
{
    uint8_t kb[ALIAS_KEY_MAX];
    MDB_val k = {alias_key(kb, model_id, alias), kb}, v;
    int rc = mdb_get(txn, s->model_aliases, &k, &v);
    *version = 0;
    if (rc == MDB_NOTFOUND)
        return CAIRN_OK;
    if (rc)
        return store_fail(rc, "read model alias", err);
    if (v.mv_size != 4)
        return error_set(err, CAIRN_STORAGE_ERROR, "corrupt model alias record");
    *version = be32_get(v.mv_data);
    return CAIRN_OK;
}

cairn_status store_model_alias_put(store *s, MDB_txn *txn, uint64_t model_id, msg_str alias,
                                   uint32_t version, cairn_error *err)
{
    uint8_t kb[ALIAS_KEY_MAX], vb[4];
    be32_put(vb, version);
    MDB_val k = {alias_key(kb, model_id, alias), kb}, v = {sizeof vb, vb};
    int rc = version ? store_put(s, txn, s->model_aliases, &k, &v, 0)
                     : store_del(s, txn, s->model_aliases, &k);
    return rc && rc != MDB_NOTFOUND ? store_fail(rc, "write model alias", err) : CAIRN_OK;
}

static bool visit_alias(void *ctx, const MDB_val *key, const MDB_val *value)
{
    store_walk_ctx *w = ctx;
    if (value->mv_size == 4 && key->mv_size > 8)
        ((store_alias_visit)w->visit)(
            w->ctx, (msg_str){(const char *)key->mv_data + 8, (uint32_t)(key->mv_size - 8)},
            be32_get(value->mv_data));
    return true;
}

cairn_status store_model_aliases_walk(store *s, MDB_txn *txn, uint64_t model_id,
                                      store_alias_visit visit, void *ctx, cairn_error *err)
{
    uint8_t from[8];
    be64_put(from, model_id);
    store_walk_ctx w = {s, txn, (void (*)(void))visit, ctx, CAIRN_OK, err};
    return store_range_walk(txn, s->model_aliases, from, sizeof from, sizeof from, false,
                            visit_alias, &w, err);
}
