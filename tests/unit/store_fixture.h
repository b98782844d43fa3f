/*
 * A real coordinator store in a temporary directory, driven through the same
 * decode -> dispatch -> commit path the server uses, without the network.
 */
#ifndef CAIRN_TEST_STORE_FIXTURE_H
#define CAIRN_TEST_STORE_FIXTURE_H

#include <stdlib.h>
#include <string.h>

#include "blobs.h"
#include "body.h"
#include "dispatch.h"
#include "msg.h"
#include "store.h"

typedef struct fixture {
    char dir[64];
    store s;
    blobs b;
    request_ctx r;
    msg_decoder req_dec, rep_dec;
    msg_writer req, out;
    ulid last_id;
    msg reply;
    int64_t now_ms; /* the clock requests are applied at; 0: 1700000000000 */
} fixture;

static inline fixture *fixture_new(void)
{
    fixture *f = calloc(1, sizeof *f);
    strcpy(f->dir, "/tmp/cairn-test-XXXXXX");
    if (!mkdtemp(f->dir))
        abort();
    cairn_error err;
    if (store_open(&f->s, f->dir, (size_t)1 << 30, &err) || blobs_open(&f->b, f->dir, &err))
        abort();
    dispatch_init(&f->r, &f->s, &f->b, "coordinator");
    msg_decoder_init(&f->req_dec, 0);
    msg_decoder_init(&f->rep_dec, 0);
    msg_writer_init(&f->req);
    msg_writer_init(&f->out);
    return f;
}

static inline void fixture_free(fixture *f)
{
    dispatch_destroy(&f->r);
    blobs_close(&f->b);
    store_close(&f->s);
    msg_decoder_destroy(&f->req_dec);
    msg_decoder_destroy(&f->rep_dec);
    msg_writer_destroy(&f->req);
    msg_writer_destroy(&f->out);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", f->dir);
    if (system(cmd) != 0)
        abort();
    free(f);
}

/* cmocka's setup and teardown of a test with a fresh fixture as its state. */
static inline int fixture_setup(void **state)
{
    *state = fixture_new();
    return 0;
}

static inline int fixture_teardown(void **state)
{
    fixture_free(*state);
    return 0;
}

/* A cmocka test run on a fresh fixture (cmocka.h is included by the test). */
#define FIXTURE_TEST(fn) cmocka_unit_test_setup_teardown(fn, fixture_setup, fixture_teardown)

/* The error reply's message holds text (it is not NUL-terminated on the wire). */
static inline const char *fixture_reply_mentions(fixture *f, const char *text)
{
    static char copy[600];
    msg_str_copy(f->reply.err_message, copy, sizeof copy);
    return strstr(copy, text);
}

/* Starts a request with a new id (or the given one, for resends). */
static inline msgpack_packer *begin(fixture *f, const char *type, uint32_t fields, const ulid *id)
{
    msg_writer_reset(&f->req);
    f->last_id = id ? *id : ulid_new();
    msg_start_request(&f->req, &f->last_id, type, "test", fields);
    return &f->req.pk;
}

/* Handles the request in its own transaction, commits, decodes the reply
 * into f->reply. Returns the reply's status (CAIRN_OK for an ok reply). */
static inline cairn_status exec(fixture *f)
{
    msg m;
    cairn_error err = {0};
    if (msg_decode(&f->req_dec, f->req.sb.data, f->req.sb.size, &m, &err))
        return err.status;
    const handler *h = handler_find(m.type);
    if (!h)
        return CAIRN_UNKNOWN_TYPE;
    MDB_txn *txn;
    if (mdb_txn_begin(f->s.env, NULL, 0, &txn))
        abort();
    msg_writer_reset(&f->out);
    uint64_t seq = f->s.next_audit_seq;
    cairn_status st = dispatch(&f->r, h, &m, txn, &f->out, f->now_ms ? f->now_ms : 1700000000000,
                               &err);
    if (!st && (st = dispatch_flush(&f->r, txn, &err))) { /* as the server: nothing commits */
        msg_writer_reset(&f->out);
        msg_error_reply(&f->out, &m.id, m.type, "coordinator", st, err.message);
    }
    if (dispatch_must_abort(st)) {
        dispatch_discard(&f->r);
        mdb_txn_abort(txn);
        f->s.next_audit_seq = seq;
    } else if (mdb_txn_commit(txn)) {
        abort();
    }
    if (msg_decode(&f->rep_dec, f->out.sb.data, f->out.sb.size, &f->reply, &err))
        abort();
    return f->reply.kind == MSG_REPLY_OK ? CAIRN_OK : f->reply.err_status;
}

static inline void pk_str(msgpack_packer *pk, const char *s)
{
    mp_str(pk, s);
}

/* ---- common requests ---- */

static inline cairn_status start_run(fixture *f, const ulid *run, const char *experiment,
                                     const char *name)
{
    msgpack_packer *pk = begin(f, "run.start", 3, NULL);
    pk_str(pk, "run");
    mp_ulid(pk, run);
    pk_str(pk, "experiment");
    pk_str(pk, experiment);
    pk_str(pk, "name");
    pk_str(pk, name);
    return exec(f);
}

/* A metric point to log: the request carries timestamp 1000 + its index. */
typedef struct point_spec {
    const char *key;
    double value;
    int64_t step;
} point_spec;

static inline void pack_points(msgpack_packer *pk, const point_spec *p, size_t n)
{
    pk_str(pk, "metrics");
    msgpack_pack_array(pk, (uint32_t)n);
    for (size_t i = 0; i < n; i++) {
        msgpack_pack_array(pk, 4);
        pk_str(pk, p[i].key);
        msgpack_pack_double(pk, p[i].value);
        msgpack_pack_int64(pk, p[i].step);
        msgpack_pack_int64(pk, 1000 + (int64_t)i);
    }
}

/* Points [offset, offset + max) of the key's history, read through metric.history. */
static inline size_t metric_history(fixture *f, const ulid *run, const char *key, uint64_t offset,
                                    size_t max, store_point *out)
{
    msgpack_packer *pk = begin(f, "metric.history", 4, NULL);
    pk_str(pk, "run");
    mp_ulid(pk, run);
    pk_str(pk, "key");
    pk_str(pk, key);
    pk_str(pk, "offset");
    msgpack_pack_uint64(pk, offset);
    pk_str(pk, "max");
    msgpack_pack_uint64(pk, max);
    assert_int_equal(exec(f), CAIRN_OK);
    const msgpack_object *pts = body_find(f->reply.body, "points");
    assert_non_null(pts);
    for (uint32_t i = 0; i < pts->via.array.size; i++) {
        const msgpack_object *a = pts->via.array.ptr[i].via.array.ptr;
        obj_int(&a[0], &out[i].step);
        obj_double(&a[1], &out[i].value);
        obj_int(&a[2], &out[i].timestamp);
    }
    return pts->via.array.size;
}

#endif
