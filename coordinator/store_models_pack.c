/* The model registry's maps in replies: MODEL, VERSION, EVENT (docs/protocol.md). */
#include <stdlib.h>

#include "error.h"
#include "store_models.h"

#define PACK_KEY(pk, lit) store_pack_str(pk, lit, sizeof lit - 1)

/* Tags are stored as the map they were sent as; a record without any holds
 * no bytes. */
static void pack_packed_map(msgpack_packer *pk, msg_str packed)
{
    if (packed.n)
        pk->callback(pk->data, packed.p, packed.n);
    else
        msgpack_pack_map(pk, 0);
}

/* ---- aliases ---- */

static void gather_alias(void *ctx, msg_str alias, uint32_t version)
{
    model_aliases *a = ctx;
    if (a->failed)
        return;
    if (a->n == a->cap) {
        size_t cap = a->cap ? a->cap * 2 : 8;
        void *p = realloc(a->items, cap * sizeof *a->items);
        if (!p) {
            a->failed = true;
            return;
        }
        a->items = p;
        a->cap = cap;
    }
    a->items[a->n++] = (struct model_alias_entry){alias, version};
}

cairn_status model_aliases_load(store *s, MDB_txn *txn, uint64_t model_id, model_aliases *out,
                                cairn_error *err)
{
    *out = (model_aliases){0};
    cairn_status st = store_model_aliases_walk(s, txn, model_id, gather_alias, out, err);
    if (!st && out->failed)
        st = error_set(err, CAIRN_OUT_OF_MEMORY, "no memory for the aliases of a model");
    return st;
}

void model_aliases_free(model_aliases *a)
{
    free(a->items);
    *a = (model_aliases){0};
}

/* ---- MODEL ---- */

static void pack_alias_map(msgpack_packer *pk, const model_aliases *a)
{
    msgpack_pack_map(pk, (uint32_t)a->n);
    for (size_t i = 0; i < a->n; i++) {
        store_pack_str(pk, a->items[i].alias.p, a->items[i].alias.n);
        msgpack_pack_uint32(pk, a->items[i].version);
    }
}

static cairn_status pack_stage_map(store *s, MDB_txn *txn, uint64_t model_id, msgpack_packer *pk,
                                   cairn_error *err)
{
    uint32_t holder[STAGE_COUNT_];
    bool found[STAGE_COUNT_] = {false};
    uint32_t n = 0;
    for (unsigned st = STAGE_STAGING; st < STAGE_COUNT_; st++) {
        cairn_status rc = store_model_stage_holder(s, txn, model_id, (model_stage)st, &holder[st],
                                                   &found[st], err);
        if (rc)
            return rc;
        n += found[st];
    }
    msgpack_pack_map(pk, n);
    for (unsigned st = STAGE_STAGING; st < STAGE_COUNT_; st++) {
        if (!found[st])
            continue;
        mp_str(pk, model_stage_name(st));
        msgpack_pack_uint32(pk, holder[st]);
    }
    return CAIRN_OK;
}

cairn_status store_pack_model(store *s, MDB_txn *txn, const store_model *m, msgpack_packer *pk,
                              cairn_error *err)
{
    model_aliases aliases;
    cairn_status st = model_aliases_load(s, txn, m->id, &aliases, err);
    if (st)
        return st;
    msgpack_pack_map(pk, 8);
    PACK_KEY(pk, "name");
    mp_msgstr(pk, m->name);
    PACK_KEY(pk, "description");
    mp_msgstr(pk, m->description);
    PACK_KEY(pk, "created");
    msgpack_pack_int64(pk, m->created);
    PACK_KEY(pk, "updated");
    msgpack_pack_int64(pk, m->updated);
    PACK_KEY(pk, "latest_version");
    if (m->last_version)
        msgpack_pack_uint32(pk, m->last_version);
    else
        msgpack_pack_nil(pk);
    PACK_KEY(pk, "aliases");
    pack_alias_map(pk, &aliases);
    model_aliases_free(&aliases);
    PACK_KEY(pk, "stages");
    st = pack_stage_map(s, txn, m->id, pk, err);
    PACK_KEY(pk, "tags");
    pack_packed_map(pk, m->tags);
    return st;
}

/* ---- VERSION ---- */

static void pack_version_aliases(msgpack_packer *pk, const model_aliases *a, uint32_t version)
{
    uint32_t n = 0;
    for (size_t i = 0; a && i < a->n; i++)
        n += a->items[i].version == version;
    msgpack_pack_array(pk, n);
    for (size_t i = 0; a && i < a->n; i++)
        if (a->items[i].version == version)
            store_pack_str(pk, a->items[i].alias.p, a->items[i].alias.n);
}

static void pack_artifact(msgpack_packer *pk, const store_model_version *v)
{
    char hex[65];
    sha256_hex(v->artifact.sha256, hex);
    msgpack_pack_map(pk, 3);
    PACK_KEY(pk, "path");
    mp_msgstr(pk, v->path);
    PACK_KEY(pk, "size");
    msgpack_pack_uint64(pk, v->artifact.size);
    PACK_KEY(pk, "sha256");
    mp_strn(pk, hex, 64);
}

void store_pack_model_version(msgpack_packer *pk, msg_str model_name, const store_model_version *v,
                              const model_aliases *aliases)
{
    msgpack_pack_map(pk, 13);
    PACK_KEY(pk, "name");
    mp_msgstr(pk, model_name);
    PACK_KEY(pk, "version");
    msgpack_pack_uint32(pk, v->version);
    PACK_KEY(pk, "stage");
    mp_str(pk, model_stage_name(v->stage));
    PACK_KEY(pk, "aliases");
    pack_version_aliases(pk, aliases, v->version);
    PACK_KEY(pk, "run");
    mp_ulid(pk, &v->run);
    PACK_KEY(pk, "artifact");
    pack_artifact(pk, v);
    PACK_KEY(pk, "description");
    mp_msgstr(pk, v->description);
    PACK_KEY(pk, "tags");
    pack_packed_map(pk, v->tags);
    PACK_KEY(pk, "signature");
    if (v->has_signature)
        pk->callback(pk->data, v->signature.p, v->signature.n);
    else
        msgpack_pack_nil(pk);
    PACK_KEY(pk, "input_example");
    if (v->has_input_example)
        mp_msgstr(pk, v->input_example);
    else
        msgpack_pack_nil(pk);
    PACK_KEY(pk, "creator");
    mp_msgstr(pk, v->creator);
    PACK_KEY(pk, "created");
    msgpack_pack_int64(pk, v->created);
    PACK_KEY(pk, "updated");
    msgpack_pack_int64(pk, v->updated);
}

/* ---- EVENT ---- */

static void pack_version_or_nil(msgpack_packer *pk, uint32_t version)
{
    if (version)
        msgpack_pack_uint32(pk, version);
    else
        msgpack_pack_nil(pk);
}

void store_pack_model_event(msgpack_packer *pk, const store_model_event *e)
{
    bool stage = e->kind == EVENT_STAGE;
    msgpack_pack_map(pk, 11);
    PACK_KEY(pk, "seq");
    msgpack_pack_uint64(pk, e->seq);
    PACK_KEY(pk, "time");
    msgpack_pack_int64(pk, e->time);
    PACK_KEY(pk, "actor");
    mp_msgstr(pk, e->actor);
    PACK_KEY(pk, "request");
    mp_ulid(pk, &e->request);
    PACK_KEY(pk, "kind");
    mp_str(pk, stage ? "stage" : "alias");
    if (stage) {
        PACK_KEY(pk, "version");
        msgpack_pack_uint32(pk, e->version);
        PACK_KEY(pk, "from");
        mp_str(pk, model_stage_name(e->from_stage));
        PACK_KEY(pk, "to");
        mp_str(pk, model_stage_name(e->to_stage));
    } else {
        PACK_KEY(pk, "alias");
        mp_msgstr(pk, e->alias);
        PACK_KEY(pk, "from");
        pack_version_or_nil(pk, e->from_version);
        PACK_KEY(pk, "to");
        pack_version_or_nil(pk, e->to_version);
    }
    PACK_KEY(pk, "rollback");
    mp_bool(pk, e->rollback);
    PACK_KEY(pk, "undoes");
    if (e->undoes)
        msgpack_pack_uint64(pk, e->undoes);
    else
        msgpack_pack_nil(pk);
    PACK_KEY(pk, "reason");
    mp_msgstr(pk, e->reason);
}
