/* dataset.log, dataset.list, dataset.get: dataset versions by content hash,
 * and the runs that used them. */
#include <stdio.h>
#include <string.h>

#include "body.h"
#include "error.h"
#include "handlers.h"
#include "kvlog.h"
#include "store_datasets.h"
#include "validate.h"

/* ---- dataset.log ---- */

typedef struct log_req {
    msg_str name, source, context;
    uint8_t sha256[32];
    int64_t size, files;
    bool has_run;
    store_run run;
} log_req;

static cairn_status read_hash(const msgpack_object *b, uint8_t sha256[32], cairn_error *err)
{
    msg_str hex;
    cairn_status st = body_str(b, "hash", true, &hex, err);
    if (!st && !sha256_parse(hex, sha256))
        st = error_set(err, CAIRN_BAD_MESSAGE, "'hash' must be 64 lowercase hex digits (a sha256)");
    return st;
}

static cairn_status check_values(const log_req *q, cairn_error *err)
{
    cairn_status st = validate_name("dataset", q->name, true, err);
    if (!st && q->size < 0)
        st = error_set(err, CAIRN_INVALID_PARAMETER_VALUE, "'size' must not be negative");
    if (!st && q->files < 1)
        st = error_set(err, CAIRN_INVALID_PARAMETER_VALUE, "'files' must be at least 1");
    if (!st)
        st = validate_text("'source'", q->source, DATASET_MAX_SOURCE, err);
    if (!st && q->context.n)
        st = validate_dataset_context(q->context, err);
    if (!st && q->context.n && !q->has_run)
        st = error_set(err, CAIRN_INVALID_PARAMETER_VALUE,
                       "'context' is the use a run made: it needs 'run'");
    return st;
}

static cairn_status read_log(request_ctx *r, log_req *q, cairn_error *err)
{
    const msgpack_object *b = r->m->body;
    q->source = q->context = (msg_str){"", 0};
    q->has_run = body_find(b, "run") != NULL;
    cairn_status st = body_str(b, "name", true, &q->name, err);
    if (!st)
        st = read_hash(b, q->sha256, err);
    if (!st)
        st = body_int(b, "size", true, &q->size, err);
    if (!st)
        st = body_int(b, "files", true, &q->files, err);
    if (!st)
        st = body_str(b, "source", false, &q->source, err);
    if (!st)
        st = body_str(b, "context", false, &q->context, err);
    if (!st)
        st = check_values(q, err);
    if (!st && q->has_run)
        st = read_run(r, &q->run, err);
    return st;
}

/* The version holding the content, made when it is new. Same content, other
 * size or count: the sender's hashing is broken, or the hash collided. */
static cairn_status find_or_add(request_ctx *r, const log_req *q, uint64_t *version, bool *created,
                                cairn_error *err)
{
    store_dataset_version v;
    cairn_status st = store_dataset_find_hash(r->store, r->txn, q->name, q->sha256, version, NULL);
    *created = st == CAIRN_RESOURCE_DOES_NOT_EXIST;
    if (!*created) {
        st = st ? st : store_dataset_version_get(r->store, r->txn, q->name, *version, &v, err);
        if (!st && (v.size != (uint64_t)q->size || v.files != (uint64_t)q->files))
            st = error_set(err, CAIRN_INVALID_PARAMETER_VALUE,
                           "version %llu of dataset '%.*s' has this hash with %llu bytes in %llu "
                           "files, not %lld in %lld",
                           (unsigned long long)*version, (int)q->name.n, q->name.p,
                           (unsigned long long)v.size, (unsigned long long)v.files,
                           (long long)q->size, (long long)q->files);
        return st;
    }
    v = (store_dataset_version){.size = (uint64_t)q->size,
                                .files = (uint64_t)q->files,
                                .created = r->now_ms,
                                .message = r->m->id,
                                .source = q->source};
    memcpy(v.sha256, q->sha256, 32);
    st = store_dataset_add_version(r->store, r->txn, q->name, &v, err);
    *version = v.version;
    return st;
}

static void reply_version(request_ctx *r, uint64_t version, bool created)
{
    msgpack_packer *pk = reply_extra(r);
    mp_str(pk, "version");
    msgpack_pack_uint64(pk, version);
    pk = reply_extra(r);
    mp_str(pk, "new");
    mp_bool(pk, created);
}

static void summarize(request_ctx *r, const log_req *q, uint64_t version, bool created)
{
    char name[101], quoted[210], hex[65], run[ULID_TEXT_LEN + 1];
    msg_str_copy(q->name, name, sizeof name);
    sha256_hex(q->sha256, hex);
    int n = snprintf(r->summary, sizeof r->summary, "dataset=%s version=%llu new=%s sha256=%.12s",
                     kvlog_quote(quoted, sizeof quoted, name), (unsigned long long)version,
                     created ? "true" : "false", hex);
    if (!q->has_run || n < 0 || (size_t)n >= sizeof r->summary)
        return;
    ulid_format(&q->run.id, run);
    snprintf(r->summary + n, sizeof r->summary - (size_t)n, " run=%s context=%.*s", run,
             (int)q->context.n, q->context.p);
}

cairn_status handle_dataset_log(request_ctx *r, cairn_error *err)
{
    log_req q;
    uint64_t version;
    bool created, linked;
    cairn_status st = read_log(r, &q, err);
    if (!st)
        st = find_or_add(r, &q, &version, &created, err);
    if (!st && q.has_run)
        st = store_dataset_link(r->store, r->txn, &q.run.id, q.name, version, q.context, r->now_ms,
                                &linked, err);
    if (st)
        return st;
    reply_version(r, version, created);
    summarize(r, &q, version, created);
    r->applied = true;
    return CAIRN_OK;
}

/* A resend: the version is the one the first request got, and it is `new`
 * when that request made it. */
cairn_status handle_dataset_log_duplicate(request_ctx *r, cairn_error *err)
{
    msg_str name;
    uint8_t sha256[32];
    uint64_t version;
    store_dataset_version v;
    cairn_status st = body_str(r->m->body, "name", true, &name, err);
    if (!st)
        st = read_hash(r->m->body, sha256, err);
    if (!st)
        st = store_dataset_find_hash(r->store, r->txn, name, sha256, &version, err);
    if (!st)
        st = store_dataset_version_get(r->store, r->txn, name, version, &v, err);
    if (!st)
        reply_version(r, version, memcmp(v.message.b, r->m->id.b, ULID_BYTES) == 0);
    return st;
}

/* ---- reads ---- */

static void pack_version_fields(msgpack_packer *pk, const store_dataset_version *v)
{
    char hex[65];
    sha256_hex(v->sha256, hex);
    mp_str(pk, "version");
    msgpack_pack_uint64(pk, v->version);
    mp_str(pk, "hash");
    mp_str(pk, hex);
    mp_str(pk, "size");
    msgpack_pack_uint64(pk, v->size);
    mp_str(pk, "files");
    msgpack_pack_uint64(pk, v->files);
    mp_str(pk, "created");
    msgpack_pack_int64(pk, v->created);
}

static void pack_dataset_fields(msgpack_packer *pk, const store_dataset *d)
{
    mp_str(pk, "name");
    mp_msgstr(pk, d->name);
    mp_str(pk, "created");
    msgpack_pack_int64(pk, d->created);
    mp_str(pk, "updated");
    msgpack_pack_int64(pk, d->updated);
}

typedef struct list_walk {
    request_ctx *r;
    msgpack_packer *pk;
    uint32_t n;
    cairn_status st;
    cairn_error *err;
} list_walk;

/* One dataset: its fields and its newest version's. */
static void pack_listed(void *ctx, const store_dataset *d)
{
    list_walk *w = ctx;
    store_dataset_version v;
    if (w->st)
        return;
    w->st = store_dataset_version_get(w->r->store, w->r->txn, d->name, d->versions, &v, w->err);
    if (w->st)
        return;
    char hex[65];
    sha256_hex(v.sha256, hex);
    msgpack_pack_map(w->pk, 7);
    pack_dataset_fields(w->pk, d);
    mp_str(w->pk, "versions");
    msgpack_pack_uint64(w->pk, d->versions);
    mp_str(w->pk, "hash");
    mp_str(w->pk, hex);
    mp_str(w->pk, "size");
    msgpack_pack_uint64(w->pk, v.size);
    mp_str(w->pk, "files");
    msgpack_pack_uint64(w->pk, v.files);
    w->n++;
}

cairn_status handle_dataset_list(request_ctx *r, cairn_error *err)
{
    msgpack_packer *pk = reply_begin(r, 1);
    mp_str(pk, "datasets");
    list_walk w = {.r = r, .pk = pk, .err = err};
    size_t at = store_counted_begin(pk);
    cairn_status st = store_datasets_walk(r->store, r->txn, pack_listed, &w, err);
    store_counted_end(pk, at, false, w.n);
    return st ? st : w.st;
}

static void pack_use(void *ctx, const store_dataset_use *u)
{
    list_walk *w = ctx;
    msgpack_pack_map(w->pk, 3);
    mp_str(w->pk, "run");
    mp_ulid(w->pk, &u->run);
    mp_str(w->pk, "context");
    mp_msgstr(w->pk, u->context);
    mp_str(w->pk, "linked");
    msgpack_pack_int64(w->pk, u->linked);
    w->n++;
}

static cairn_status pack_version(request_ctx *r, msgpack_packer *pk, msg_str name, uint64_t version,
                                 cairn_error *err)
{
    store_dataset_version v;
    cairn_status st = store_dataset_version_get(r->store, r->txn, name, version, &v, err);
    if (st)
        return st;
    msgpack_pack_map(pk, 8);
    pack_version_fields(pk, &v);
    mp_str(pk, "source");
    mp_msgstr(pk, v.source);
    mp_str(pk, "runs");
    list_walk w = {.r = r, .pk = pk, .err = err};
    size_t at = store_counted_begin(pk);
    st = store_dataset_version_runs(r->store, r->txn, name, version, pack_use, &w, err);
    store_counted_end(pk, at, false, w.n);
    mp_str(pk, "model_versions");
    return st ? st : store_pack_dataset_model_versions(r->store, r->txn, name, version, pk, err);
}

cairn_status handle_dataset_get(request_ctx *r, cairn_error *err)
{
    msg_str name;
    store_dataset d;
    cairn_status st = body_str(r->m->body, "name", true, &name, err);
    if (!st)
        st = validate_name("dataset", name, true, err);
    if (!st)
        st = store_dataset_get(r->store, r->txn, name, &d, err);
    if (st)
        return st;
    msgpack_packer *pk = reply_begin(r, 1);
    mp_str(pk, "dataset");
    msgpack_pack_map(pk, 4);
    pack_dataset_fields(pk, &d);
    mp_str(pk, "versions");
    msgpack_pack_array(pk, (uint32_t)d.versions);
    for (uint64_t v = 1; !st && v <= d.versions; v++)
        st = pack_version(r, pk, d.name, v, err);
    return st;
}
