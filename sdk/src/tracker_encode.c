#include "tracker_encode.h"

#include "client_internal.h"

/* A point's encoded size: array header, key (header up to 2 bytes for keys of
 * at most 250), value, step and timestamp (9 bytes each at most). */
#define POINT_OVERHEAD 32

tk_cursor tk_cursor_start(const tk_op *op)
{
    tk_cursor cur = {op->u.metrics.first, 0};
    while (cur.chunk && cur.chunk->n == 0)
        cur.chunk = cur.chunk->next;
    return cur;
}

static void advance(tk_cursor *cur)
{
    if (++cur->i < cur->chunk->n)
        return;
    cur->i = 0;
    do
        cur->chunk = cur->chunk->next;
    while (cur->chunk && cur->chunk->n == 0);
}

/* How many points from cur the next request carries (the array length must
 * be written before its items). */
static size_t count_points(tk_cursor cur, size_t max_points)
{
    size_t n = 0, bytes = 0;
    while (cur.chunk && n < max_points && bytes < TK_MSG_BYTES) {
        bytes += cur.chunk->p[cur.i].key->len + POINT_OVERHEAD;
        n++;
        advance(&cur);
    }
    return n;
}

static void pack_point(msgpack_packer *pk, const tk_point *p)
{
    msgpack_pack_array(pk, 4);
    mp_strn(pk, p->key->s, p->key->len);
    msgpack_pack_double(pk, p->value);
    msgpack_pack_int64(pk, p->step);
    msgpack_pack_int64(pk, p->timestamp);
}

static msgpack_packer *begin(msg_writer *w, ulid *id, const char *type, const char *from,
                             uint32_t entries, const ulid *run)
{
    *id = ulid_new();
    msg_writer_reset(w);
    msg_start_request(w, id, type, from, entries);
    mp_str(&w->pk, "run");
    mp_ulid(&w->pk, run);
    return &w->pk;
}

size_t tk_encode_metrics(msg_writer *w, ulid *id, const char *from, const ulid *run,
                         tk_cursor *cur, size_t max_points)
{
    size_t n = count_points(*cur, max_points ? max_points : 1);
    msgpack_packer *pk = begin(w, id, "run.log", from, 2, run);
    mp_str(pk, "metrics");
    msgpack_pack_array(pk, n);
    for (size_t i = 0; i < n; i++) {
        pack_point(pk, &cur->chunk->p[cur->i]);
        advance(cur);
    }
    return n;
}

static void pack_kv_map(msgpack_packer *pk, const char *field, const cairn_kv *kv, size_t n)
{
    mp_str(pk, field);
    msgpack_pack_map(pk, n);
    for (size_t i = 0; i < n; i++) {
        mp_str(pk, kv[i].key);
        mp_str(pk, kv[i].value);
    }
}

static void encode_start(msg_writer *w, ulid *id, const char *from, const tk_op *op)
{
    uint32_t entries = 3 + (op->u.start.name != NULL) + (op->u.start.n_tags > 0);
    msgpack_packer *pk = begin(w, id, "run.start", from, entries, &op->run);
    mp_str(pk, "experiment");
    mp_str(pk, op->u.start.experiment);
    mp_str(pk, "start_time");
    msgpack_pack_int64(pk, op->u.start.start_time);
    if (op->u.start.name) {
        mp_str(pk, "name");
        mp_str(pk, op->u.start.name);
    }
    if (op->u.start.n_tags)
        pack_kv_map(pk, "tags", op->u.start.tags, op->u.start.n_tags);
}

static void encode_end(msg_writer *w, ulid *id, const char *from, const tk_op *op)
{
    msgpack_packer *pk = begin(w, id, "run.end", from, 3, &op->run);
    mp_str(pk, "status");
    mp_str(pk, op->u.end.status);
    mp_str(pk, "end_time");
    msgpack_pack_int64(pk, op->u.end.end_time);
}

static void encode_dataset(msg_writer *w, ulid *id, const char *from, const tk_op *op)
{
    dataset_log_body b = {op->u.dataset.name, &op->u.dataset.digest, op->u.dataset.source,
                          op->u.dataset.has_run ? &op->run : NULL, op->u.dataset.context};
    *id = ulid_new();
    msg_writer_reset(w);
    msg_start_request(w, id, "dataset.log", from, dataset_log_fields(&b));
    dataset_log_pack(&w->pk, &b);
}

void tk_encode_op(msg_writer *w, ulid *id, const char *from, const tk_op *op)
{
    switch (op->kind) {
    case TK_START:
        encode_start(w, id, from, op);
        break;
    case TK_PARAMS:
    case TK_TAGS:
        pack_kv_map(begin(w, id, "run.log", from, 2, &op->run),
                    op->kind == TK_PARAMS ? "params" : "tags", op->u.kv.kv, op->u.kv.n);
        break;
    case TK_END:
        encode_end(w, id, from, op);
        break;
    case TK_DATASET:
        encode_dataset(w, id, from, op);
        break;
    case TK_METRICS:
    case TK_ARTIFACT:
        break; /* not one request: see tk_encode_metrics and the sender */
    }
}
