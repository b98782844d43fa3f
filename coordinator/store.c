#include "store.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#include "error.h"

cairn_status store_fail(int rc, const char *what, cairn_error *err)
{
    if (rc == MDB_NOTFOUND)
        return error_set(err, CAIRN_RESOURCE_DOES_NOT_EXIST, "%s: not found", what);
    if (rc == ENOMEM)
        return error_set(err, CAIRN_OUT_OF_MEMORY, "%s: out of memory", what);
    /* A key built from the request is empty or longer than LMDB's 511 bytes:
     * the request's fault, not the store's. (Should a handler meet it after
     * writing, dispatch.c still aborts the group.) */
    if (rc == MDB_BAD_VALSIZE)
        return error_set(err, CAIRN_INVALID_PARAMETER_VALUE, "%s: a key is empty or too long",
                         what);
    /* Not a fault of the disk or the data: what to change. */
    if (rc == MDB_MAP_FULL)
        return error_set(err, CAIRN_STORAGE_ERROR,
                         "%s: MDB_MAP_FULL: the store is as large as store.map_size_mb allows; "
                         "raise it and restart",
                         what);
    return error_set(err, CAIRN_STORAGE_ERROR, "%s: %s", what, mdb_strerror(rc));
}

void be64_put(uint8_t *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--) {
        p[i] = (uint8_t)(v & 0xff);
        v >>= 8;
    }
}

uint64_t be64_get(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = (v << 8) | p[i];
    return v;
}

void be32_put(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

uint32_t be32_get(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Callers validate lengths (keys <= 250, paths <= 1000) before building keys;
 * the clamp only keeps a missed check from writing past the buffer. */
static void key_append(store_key *k, const void *p, size_t n)
{
    size_t room = sizeof k->b - k->n;
    if (n > room)
        n = room;
    memcpy(k->b + k->n, p, n);
    k->n += n;
}

void key_run(store_key *k, const ulid *run)
{
    k->n = 0;
    key_append(k, run->b, ULID_BYTES);
}

void key_run_str(store_key *k, const ulid *run, const char *s, size_t n)
{
    key_run(k, run);
    key_append(k, s, n);
}

void key_u64(store_key *k, uint64_t v)
{
    be64_put(k->b, v);
    k->n = 8;
}

void key_u64_str(store_key *k, uint64_t v, const char *s, size_t n)
{
    key_u64(k, v);
    key_append(k, s, n);
}

/* The last u64 key of a database plus one: the next sequence to hand out. */
static uint64_t next_u64_key(MDB_txn *txn, MDB_dbi dbi, uint64_t first)
{
    MDB_cursor *c;
    MDB_val k, v;
    uint64_t next = first;
    if (mdb_cursor_open(txn, dbi, &c) != 0)
        return first;
    if (mdb_cursor_get(c, &k, &v, MDB_LAST) == 0 && k.mv_size == 8)
        next = be64_get(k.mv_data) + 1;
    mdb_cursor_close(c);
    return next;
}

static cairn_status check_schema(store *s, MDB_txn *txn, cairn_error *err)
{
    MDB_val k = {6, "schema"}, v;
    uint8_t want[4];
    be32_put(want, STORE_SCHEMA_VERSION);
    int rc = mdb_get(txn, s->meta, &k, &v);
    if (rc == MDB_NOTFOUND) {
        MDB_val nv = {4, want};
        rc = store_put(s, txn, s->meta, &k, &nv, 0);
        return rc ? store_fail(rc, "write schema version", err) : CAIRN_OK;
    }
    if (rc)
        return store_fail(rc, "read schema version", err);
    if (v.mv_size != 4 || memcmp(v.mv_data, want, 4) != 0)
        return error_set(err, CAIRN_STORAGE_ERROR,
                         "store schema version %u is not the supported %d",
                         v.mv_size == 4 ? be32_get(v.mv_data) : 0, STORE_SCHEMA_VERSION);
    return CAIRN_OK;
}

static cairn_status open_dbis(store *s, MDB_txn *txn, cairn_error *err)
{
    struct {
        const char *name;
        MDB_dbi *dbi;
    } dbs[] = {
        {"meta", &s->meta},
        {"experiments", &s->experiments},
        {"experiment_names", &s->experiment_names},
        {"experiment_tags", &s->experiment_tags},
        {"runs", &s->runs},
        {"experiment_runs", &s->experiment_runs},
        {"params", &s->params},
        {"tags", &s->tags},
        {"metrics", &s->metrics},
        {"metric_chunks", &s->metric_chunks},
        {"artifacts", &s->artifacts},
        {"audit", &s->audit},
        {"dedup", &s->dedup},
        {"models", &s->models},
        {"model_names", &s->model_names},
        {"model_versions", &s->model_versions},
        {"model_aliases", &s->model_aliases},
        {"model_stages", &s->model_stages},
        {"model_history", &s->model_history},
        {"model_version_events", &s->model_version_events},
        {"run_models", &s->run_models},
        {"agents", &s->agents},
        {"commands", &s->commands},
        {"events", &s->events},
        {"datasets", &s->datasets},
        {"dataset_versions", &s->dataset_versions},
        {"dataset_hashes", &s->dataset_hashes},
        {"run_datasets", &s->run_datasets},
        {"dataset_runs", &s->dataset_runs},
    };
    for (size_t i = 0; i < sizeof dbs / sizeof dbs[0]; i++) {
        int rc = mdb_dbi_open(txn, dbs[i].name, MDB_CREATE, dbs[i].dbi);
        if (rc)
            return store_fail(rc, dbs[i].name, err);
    }
    return CAIRN_OK;
}

static cairn_status open_env(store *s, const char *dir, size_t map_size, cairn_error *err)
{
    if (mkdir(dir, 0750) != 0 && errno != EEXIST)
        return error_set(err, CAIRN_IO_ERROR, "create data directory %s: %s", dir, strerror(errno));
    int rc = mdb_env_create(&s->env);
    if (rc)
        return store_fail(rc, "create LMDB environment", err);
    mdb_env_set_maxdbs(s->env, 64);
    rc = mdb_env_set_mapsize(s->env, map_size);
    if (!rc)
        rc = mdb_env_open(s->env, dir, 0, 0640);
    if (rc) {
        mdb_env_close(s->env);
        s->env = NULL;
        return error_set(err, CAIRN_STORAGE_ERROR, "open LMDB environment in %s: %s", dir,
                         mdb_strerror(rc));
    }
    return CAIRN_OK;
}

cairn_status store_open(store *s, const char *dir, size_t map_size, cairn_error *err)
{
    memset(s, 0, sizeof *s);
    cairn_status st = open_env(s, dir, map_size, err);
    if (st)
        return st;
    MDB_txn *txn;
    int rc = mdb_txn_begin(s->env, NULL, 0, &txn);
    if (rc) {
        st = store_fail(rc, "begin", err);
        goto fail;
    }
    st = open_dbis(s, txn, err);
    if (!st)
        st = check_schema(s, txn, err);
    if (st) {
        mdb_txn_abort(txn);
        goto fail;
    }
    s->next_audit_seq = next_u64_key(txn, s->audit, 1);
    s->next_experiment_id = next_u64_key(txn, s->experiments, 1);
    st = store_dedup_open(s, txn, err);
    if (st) {
        mdb_txn_abort(txn);
        goto fail;
    }
    rc = mdb_txn_commit(txn);
    if (rc) {
        st = store_fail(rc, "commit", err);
        goto fail;
    }
    return CAIRN_OK;
fail:
    store_close(s);
    return st;
}

void store_close(store *s)
{
    store_dedup_close(s);
    if (s->env)
        mdb_env_close(s->env);
    s->env = NULL;
}
