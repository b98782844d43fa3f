/*
 * model.lineage: how a model version was made, in one answer read in one
 * transaction: the version, its run (params, latest metrics, tags with the
 * source: user, host, git commit and dirty flag; artifacts), the datasets the
 * run used, and every stage and alias event of the version.
 */
#include "error.h"
#include "handlers.h"
#include "model_ops.h"
#include "store_datasets.h"

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

typedef struct datasets_ctx {
    msgpack_packer *pk;
    uint32_t n;
} datasets_ctx;

static void pack_dataset_use(void *ctx, const store_dataset_use *u)
{
    datasets_ctx *c = ctx;
    char hex[65];
    sha256_hex(u->version.sha256, hex);
    msgpack_pack_map(c->pk, 7);
    mp_str(c->pk, "name");
    mp_msgstr(c->pk, u->name);
    mp_str(c->pk, "version");
    msgpack_pack_uint64(c->pk, u->version.version);
    mp_str(c->pk, "hash");
    mp_str(c->pk, hex);
    mp_str(c->pk, "size");
    msgpack_pack_uint64(c->pk, u->version.size);
    mp_str(c->pk, "files");
    msgpack_pack_uint64(c->pk, u->version.files);
    mp_str(c->pk, "source");
    mp_msgstr(c->pk, u->version.source);
    mp_str(c->pk, "context");
    mp_msgstr(c->pk, u->context);
    c->n++;
}

/* The dataset versions the run used, with their hashes and contexts, read in
 * the same transaction as the rest of the answer. */
static cairn_status pack_datasets(request_ctx *r, const store_run *run, msgpack_packer *pk,
                                  cairn_error *err)
{
    datasets_ctx c = {pk, 0};
    size_t at = store_counted_begin(pk);
    cairn_status st = store_datasets_of_run(r->store, r->txn, &run->id, pack_dataset_use, &c, err);
    store_counted_end(pk, at, false, c.n);
    return st;
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
