/*
 * model.lineage: how a model version was made, in one answer read in one
 * transaction: the version, its run (params, latest metrics, tags with the
 * source: user, host, git commit and dirty flag; artifacts), the datasets the
 * run used, and every stage and alias event of the version.
 */
#include "error.h"
#include "handlers.h"
#include "model_ops.h"

typedef struct events_ctx {
    msgpack_packer *pk;
    uint32_t n;
} events_ctx;

static bool pack_version_event(void *ctx, const store_model_event *e)
{
    events_ctx *c = ctx;
    store_pack_model_event(c->pk, e);
    c->n++;
    return true;
}

static cairn_status pack_events(request_ctx *r, const store_model *m, uint32_t version,
                                msgpack_packer *pk, cairn_error *err)
{
    events_ctx c = {pk, 0};
    size_t at = store_counted_begin(pk);
    cairn_status st = store_model_version_events(r->store, r->txn, m->id, version, false,
                                                 pack_version_event, &c, err);
    store_counted_end(pk, at, false, c.n);
    return st;
}

/* The dataset versions the run used, with their hashes and contexts. */
static cairn_status pack_datasets(request_ctx *r, const store_run *run, msgpack_packer *pk,
                                  cairn_error *err)
{
    (void)r, (void)run, (void)err;
    /* The dataset join goes here: one entry per store_datasets_of_run() use
     * of run->id (name, version, sha256, size, files, context), in the same
     * transaction. Until datasets are in, the run used none. */
    msgpack_pack_array(pk, 0);
    return CAIRN_OK;
}

cairn_status handle_model_lineage(request_ctx *r, cairn_error *err)
{
    store_model m;
    store_model_version v;
    store_run run;
    model_aliases aliases;
    cairn_status st = model_read(r, &m, err);
    if (!st)
        st = model_resolve(r, &m, &v, err);
    if (!st)
        st = store_run_get(r->store, r->txn, &v.run, &run, err);
    if (!st)
        st = model_aliases_load(r->store, r->txn, m.id, &aliases, err);
    if (st)
        return st;
    msgpack_packer *pk = reply_begin(r, 4);
    mp_str(pk, "version");
    store_pack_model_version(pk, m.name, &v, &aliases);
    model_aliases_free(&aliases);
    mp_str(pk, "run");
    st = store_pack_run(r->store, r->txn, &run, pk, err);
    if (!st) {
        mp_str(pk, "datasets");
        st = pack_datasets(r, &run, pk, err);
    }
    if (!st) {
        mp_str(pk, "events");
        st = pack_events(r, &m, v.version, pk, err);
    }
    return st;
}
