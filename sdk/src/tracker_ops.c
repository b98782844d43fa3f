/*
 * Operations own copies of what the caller passed, since the caller's strings
 * may be gone long before the sender encodes them.
 */
#include <stdlib.h>
#include <string.h>

#include "tracker_queue.h"

static tk_op *new_op(tk_kind kind, const ulid *run, size_t items)
{
    tk_op *op = calloc(1, sizeof *op);
    if (op) {
        op->kind = kind;
        op->run = *run;
        op->items = items;
    }
    return op;
}

static bool dup_str(const char *s, char **out)
{
    *out = s ? strdup(s) : NULL;
    return !s || *out;
}

static void free_kvs(cairn_kv *kv, size_t n)
{
    for (size_t i = 0; kv && i < n; i++) {
        free((char *)kv[i].key);
        free((char *)kv[i].value);
    }
    free(kv);
}

/* Appends copies of src to dst (room for them made by the caller). */
static bool copy_kvs(cairn_kv *dst, size_t *n, const cairn_kv *src, size_t n_src)
{
    for (size_t i = 0; i < n_src; i++) {
        char *k = strdup(src[i].key), *v = strdup(src[i].value);
        if (!k || !v) {
            free(k);
            free(v);
            return false;
        }
        dst[*n] = (cairn_kv){k, v};
        (*n)++;
    }
    return true;
}

static bool has_key(const cairn_kv *kv, size_t n, const char *key)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(kv[i].key, key) == 0)
            return true;
    return false;
}

/* The caller's tags, then the detected ones the caller did not set: the
 * caller's win (as cairn_run_start does). */
static bool merge_tags(tk_op *op, const cairn_run_start_opts *o, const cairn_kv *detected,
                       size_t n_detected)
{
    size_t cap = o->n_tags + n_detected;
    if (cap == 0)
        return true;
    cairn_kv *tags = op->u.start.tags = calloc(cap, sizeof *tags);
    if (!tags)
        return false;
    bool ok = copy_kvs(tags, &op->u.start.n_tags, o->tags, o->n_tags);
    for (size_t i = 0; ok && i < n_detected; i++)
        if (!has_key(o->tags, o->n_tags, detected[i].key))
            ok = copy_kvs(tags, &op->u.start.n_tags, &detected[i], 1);
    return ok;
}

tk_op *tk_op_start(const ulid *run, const cairn_run_start_opts *opts, const cairn_kv *detected,
                   size_t n_detected, int64_t start_time)
{
    tk_op *op = new_op(TK_START, run, 1);
    if (!op)
        return NULL;
    op->u.start.start_time = start_time;
    if (!dup_str(opts->experiment, &op->u.start.experiment) ||
        !dup_str(opts->name, &op->u.start.name) || !merge_tags(op, opts, detected, n_detected)) {
        tk_op_free(op);
        return NULL;
    }
    return op;
}

tk_op *tk_op_kv(tk_kind kind, const ulid *run, const cairn_kv *kv, size_t n)
{
    tk_op *op = new_op(kind, run, n);
    if (!op)
        return NULL;
    op->u.kv.kv = calloc(n ? n : 1, sizeof *op->u.kv.kv);
    if (!op->u.kv.kv || !copy_kvs(op->u.kv.kv, &op->u.kv.n, kv, n)) {
        tk_op_free(op);
        return NULL;
    }
    return op;
}

tk_op *tk_op_end(const ulid *run, const char *status, int64_t end_time)
{
    tk_op *op = new_op(TK_END, run, 1);
    if (op) {
        op->u.end.status = status;
        op->u.end.end_time = end_time;
    }
    return op;
}

tk_op *tk_op_artifact(const ulid *run, const char *local_file, const char *path)
{
    tk_op *op = new_op(TK_ARTIFACT, run, 1);
    if (!op)
        return NULL;
    if (!dup_str(local_file, &op->u.artifact.local_file) ||
        !dup_str(path, &op->u.artifact.path)) {
        tk_op_free(op);
        return NULL;
    }
    return op;
}

tk_op *tk_op_dataset(const ulid *run, const char *name, const cairn_dataset_digest *digest,
                     const char *source, const char *context)
{
    static const ulid none;
    tk_op *op = new_op(TK_DATASET, run ? run : &none, 1);
    if (!op)
        return NULL;
    op->u.dataset.digest = *digest;
    op->u.dataset.has_run = run != NULL;
    if (!dup_str(name, &op->u.dataset.name) || !dup_str(source, &op->u.dataset.source) ||
        !dup_str(context, &op->u.dataset.context)) {
        tk_op_free(op);
        return NULL;
    }
    return op;
}

static void free_chunks(tk_chunk *c)
{
    while (c) {
        tk_chunk *next = c->next;
        free(c);
        c = next;
    }
}

void tk_op_free(tk_op *op)
{
    if (!op)
        return;
    switch (op->kind) {
    case TK_START:
        free(op->u.start.experiment);
        free(op->u.start.name);
        free_kvs(op->u.start.tags, op->u.start.n_tags);
        break;
    case TK_METRICS:
        free_chunks(op->u.metrics.first);
        break;
    case TK_PARAMS:
    case TK_TAGS:
        free_kvs(op->u.kv.kv, op->u.kv.n);
        break;
    case TK_ARTIFACT:
        free(op->u.artifact.local_file);
        free(op->u.artifact.path);
        break;
    case TK_DATASET:
        free(op->u.dataset.name);
        free(op->u.dataset.source);
        free(op->u.dataset.context);
        break;
    case TK_END:
        break;
    }
    free(op);
}
