/* experiment.list, .delete, .restore, .set_tag */
#include <stdio.h>

#include "body.h"
#include "error.h"
#include "handlers.h"
#include "validate.h"

cairn_status handle_experiment_list(request_ctx *r, cairn_error *err)
{
    bool include_deleted = false;
    cairn_status st = body_bool(r->m->body, "include_deleted", false, &include_deleted, err);
    if (st)
        return st;
    store *s = r->store;
    /* Ids run from 1 without gaps, so the count is known before packing. */
    uint32_t n = 0;
    for (uint64_t id = 1; id < s->next_experiment_id; id++) {
        store_experiment e;
        if (store_experiment_get(s, r->txn, id, &e, NULL) == CAIRN_OK && (include_deleted || !e.deleted))
            n++;
    }
    msgpack_packer *pk = reply_begin(r, 1);
    mp_str(pk, "experiments");
    msgpack_pack_array(pk, n);
    for (uint64_t id = 1; id < s->next_experiment_id; id++) {
        store_experiment e;
        if (store_experiment_get(s, r->txn, id, &e, NULL) != CAIRN_OK || (!include_deleted && e.deleted))
            continue;
        if ((st = store_pack_experiment(s, r->txn, &e, pk, err)))
            return st;
    }
    return CAIRN_OK;
}

static cairn_status find_named(request_ctx *r, store_experiment *e, cairn_error *err)
{
    msg_str name;
    cairn_status st = body_str(r->m->body, "name", true, &name, err);
    return st ? st : store_experiment_by_name(r->store, r->txn, name, false, 0, e, err);
}

static cairn_status set_lifecycle(request_ctx *r, bool deleted, cairn_error *err)
{
    store_experiment e;
    cairn_status st = find_named(r, &e, err);
    if (st)
        return st;
    snprintf(r->summary, sizeof r->summary, "experiment=%llu lifecycle=%s",
             (unsigned long long)e.id, deleted ? "deleted" : "active");
    st = store_experiment_set_deleted(r->store, r->txn, e.id, deleted, err);
    r->applied = st == CAIRN_OK;
    return st;
}

cairn_status handle_experiment_delete(request_ctx *r, cairn_error *err)
{
    return set_lifecycle(r, true, err);
}

cairn_status handle_experiment_restore(request_ctx *r, cairn_error *err)
{
    return set_lifecycle(r, false, err);
}

cairn_status handle_experiment_set_tag(request_ctx *r, cairn_error *err)
{
    store_experiment e;
    msg_str key, value;
    cairn_status st = find_named(r, &e, err);
    if (!st)
        st = body_str(r->m->body, "key", true, &key, err);
    if (!st)
        st = body_str(r->m->body, "value", true, &value, err);
    if (!st)
        st = validate_key("tag", key, err);
    if (!st)
        st = validate_value("tag", value, LIMIT_TAG_VALUE, err);
    if (!st)
        st = store_experiment_set_tag(r->store, r->txn, e.id, key, value, err);
    if (st)
        return st;
    snprintf(r->summary, sizeof r->summary, "experiment=%llu tag=%.*s", (unsigned long long)e.id,
             (int)(key.n > 200 ? 200 : key.n), key.p);
    r->applied = true;
    return CAIRN_OK;
}
