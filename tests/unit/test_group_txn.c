/*
 * Many requests in one transaction, as the server's group commit handles
 * them: what handlers keep across requests (held metric points, runs known
 * to exist) must leave exactly the store that handling and committing them
 * one by one leaves, and nothing of an aborted transaction.
 */
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <cmocka.h>

#include "error.h"
#include "metric_hold.h"
#include "store_fixture.h"

/* ---- one transaction for several requests, as a server group ---- */

static MDB_txn *group_begin(fixture *f)
{
    MDB_txn *txn;
    assert_int_equal(mdb_txn_begin(f->s.env, NULL, 0, &txn), 0);
    return txn;
}

/* Handles the request built in f->req inside txn; decodes its reply. */
static cairn_status group_exec(fixture *f, MDB_txn *txn)
{
    msg m;
    cairn_error err = {0};
    assert_int_equal(msg_decode(&f->req_dec, f->req.sb.data, f->req.sb.size, &m, &err), CAIRN_OK);
    const handler *h = handler_find(m.type);
    assert_non_null(h);
    msg_writer_reset(&f->out);
    cairn_status st = dispatch(&f->r, h, &m, txn, &f->out, 1700000000000, &err);
    assert_int_equal(msg_decode(&f->rep_dec, f->out.sb.data, f->out.sb.size, &f->reply, &err),
                     CAIRN_OK);
    return st;
}

/* A started run (committed on its own), then a group's transaction. */
static MDB_txn *group_with_run(fixture *f, ulid *run)
{
    *run = ulid_new();
    assert_int_equal(start_run(f, run, "e", "r"), CAIRN_OK);
    return group_begin(f);
}

static void group_commit(fixture *f, MDB_txn *txn)
{
    cairn_error err;
    assert_int_equal(dispatch_flush(&f->r, txn, &err), CAIRN_OK);
    assert_int_equal(mdb_txn_commit(txn), 0);
}

/* One run.log request of points, handled in txn. */
static void log_in_group(fixture *f, MDB_txn *txn, const ulid *run, const point_spec *p, size_t n)
{
    msgpack_packer *pk = begin(f, "run.log", 2, NULL);
    pk_str(pk, "run");
    mp_ulid(pk, run);
    pack_points(pk, p, n);
    assert_int_equal(group_exec(f, txn), CAIRN_OK);
}

static void log_point(fixture *f, MDB_txn *txn, const ulid *run, const char *key, double value,
                      int64_t step)
{
    point_spec p = {key, value, step};
    log_in_group(f, txn, run, &p, 1);
}

/* One request of n points of key, values first, first + 1, ... */
static void log_many(fixture *f, MDB_txn *txn, const ulid *run, const char *key, int first, int n)
{
    point_spec p[METRIC_HOLD_MAX_POINTS + 1];
    assert_true((size_t)n <= sizeof p / sizeof p[0]);
    for (int i = 0; i < n; i++)
        p[i] = (point_spec){key, first + i, first + i};
    log_in_group(f, txn, run, p, (size_t)n);
}

/* The values of the key's whole history, read in their own transaction. */
static size_t history_values(fixture *f, const ulid *run, const char *key, double *out, size_t max)
{
    static store_point points[1000];
    size_t n = metric_history(f, run, key, 0, max, points);
    for (size_t i = 0; i < n; i++)
        out[i] = points[i].value;
    return n;
}

/* The latest value of key in the run.get reply in f->reply ([value, step, ts]). */
static double latest_in_reply(fixture *f, const char *key)
{
    const msgpack_object *metrics = body_find(body_find(f->reply.body, "run"), "metrics");
    const msgpack_object *latest = metrics ? body_find(metrics, key) : NULL;
    assert_non_null(latest);
    assert_int_equal(latest->type, MSGPACK_OBJECT_ARRAY);
    double v = NAN;
    assert_true(obj_double(&latest->via.array.ptr[0], &v));
    return v;
}

/* ---- tests ---- */

/* Two runs, two keys each, interleaved single points: each series keeps its
 * order, whatever the interleaving. */
static void interleaved_series_keep_their_order(void **state)
{
    fixture *f = *state;
    ulid a = ulid_new(), b = ulid_new();
    start_run(f, &a, "e", "a");
    start_run(f, &b, "e", "b");
    MDB_txn *txn = group_begin(f);
    for (int i = 0; i < 300; i++) { /* crosses a full chunk (170 points) */
        log_point(f, txn, &a, "loss", i, i);
        log_point(f, txn, &b, "loss", 1000 + i, i);
        log_point(f, txn, &a, "acc", 2000 + i, i);
        log_point(f, txn, &b, "acc", 3000 + i, i);
    }
    assert_false(metric_hold_empty(&f->r.held));
    group_commit(f, txn);
    assert_true(metric_hold_empty(&f->r.held));
    static double got[400];
    const struct { const ulid *run; const char *key; double base; } series[] = {
        {&a, "loss", 0}, {&b, "loss", 1000}, {&a, "acc", 2000}, {&b, "acc", 3000}};
    for (size_t s = 0; s < 4; s++) {
        assert_int_equal(history_values(f, series[s].run, series[s].key, got, 400), 300);
        for (int i = 0; i < 300; i++)
            assert_true(got[i] == series[s].base + i);
    }
}

/* A read in the same group sees the points logged before it. */
static void a_read_in_the_group_sees_held_points(void **state)
{
    fixture *f = *state;
    ulid run;
    MDB_txn *txn = group_with_run(f, &run);
    log_point(f, txn, &run, "loss", 0.5, 1);
    log_point(f, txn, &run, "loss", 0.25, 2);
    msgpack_packer *pk = begin(f, "run.get", 1, NULL);
    pk_str(pk, "run");
    mp_ulid(pk, &run);
    assert_int_equal(group_exec(f, txn), CAIRN_OK);
    assert_true(latest_in_reply(f, "loss") == 0.25);
    assert_true(metric_hold_empty(&f->r.held));
    group_commit(f, txn);
}

/* A batch too big to hold appends at once, after the held points of its
 * series, which were logged first. */
static void a_large_batch_follows_held_points(void **state)
{
    fixture *f = *state;
    ulid run;
    MDB_txn *txn = group_with_run(f, &run);
    log_point(f, txn, &run, "loss", 0, 0);
    log_point(f, txn, &run, "loss", 1, 1);
    log_many(f, txn, &run, "loss", 2, METRIC_HOLD_MAX_POINTS + 1);
    log_point(f, txn, &run, "loss", METRIC_HOLD_MAX_POINTS + 3, METRIC_HOLD_MAX_POINTS + 3);
    group_commit(f, txn);
    double got[100];
    size_t n = history_values(f, &run, "loss", got, 100);
    assert_int_equal(n, METRIC_HOLD_MAX_POINTS + 4);
    for (size_t i = 0; i < n; i++)
        assert_true(got[i] == (double)i);
}

/* An aborted group leaves no held point behind for the next one. */
static void an_aborted_group_forgets_held_points(void **state)
{
    fixture *f = *state;
    ulid run;
    MDB_txn *txn = group_with_run(f, &run);
    log_point(f, txn, &run, "loss", 9, 1);
    dispatch_discard(&f->r);
    mdb_txn_abort(txn);
    txn = group_begin(f);
    log_point(f, txn, &run, "loss", 7, 2);
    group_commit(f, txn);
    double got[4];
    assert_int_equal(history_values(f, &run, "loss", got, 4), 1);
    assert_true(got[0] == 7);
}

/* A run created in a transaction that aborted is not known to exist after. */
static void a_run_of_an_aborted_group_is_forgotten(void **state)
{
    fixture *f = *state;
    ulid run = ulid_new();
    MDB_txn *txn = group_begin(f);
    msgpack_packer *pk = begin(f, "run.start", 2, NULL);
    pk_str(pk, "run");
    mp_ulid(pk, &run);
    pk_str(pk, "experiment");
    pk_str(pk, "e");
    assert_int_equal(group_exec(f, txn), CAIRN_OK);
    log_point(f, txn, &run, "loss", 1, 1);
    dispatch_discard(&f->r);
    mdb_txn_abort(txn);
    txn = group_begin(f);
    pk = begin(f, "run.log", 2, NULL);
    pk_str(pk, "run");
    mp_ulid(pk, &run);
    pk_str(pk, "metrics");
    msgpack_pack_array(pk, 0);
    assert_int_equal(group_exec(f, txn), CAIRN_RESOURCE_DOES_NOT_EXIST);
    group_commit(f, txn);
}

/* One run.log with params, tags and tags to delete, handled in txn. */
static cairn_status log_kv_in_group(fixture *f, MDB_txn *txn, const ulid *run, const char *param,
                                    const char *tag, const char *const *deletes, int n_deletes)
{
    msgpack_packer *pk = begin(f, "run.log", 4, NULL);
    pk_str(pk, "run");
    mp_ulid(pk, run);
    pk_str(pk, "params");
    msgpack_pack_map(pk, param ? 1 : 0);
    if (param) {
        pk_str(pk, param);
        pk_str(pk, "1");
    }
    pk_str(pk, "tags");
    msgpack_pack_map(pk, 1);
    pk_str(pk, tag);
    pk_str(pk, "x");
    pk_str(pk, "delete_tags");
    msgpack_pack_array(pk, (uint32_t)n_deletes);
    for (int i = 0; i < n_deletes; i++)
        pk_str(pk, deletes[i]);
    return group_exec(f, txn);
}

static bool has_kv(fixture *f, MDB_dbi dbi, const ulid *run, const char *key)
{
    MDB_txn *txn;
    assert_int_equal(mdb_txn_begin(f->s.env, NULL, MDB_RDONLY, &txn), 0);
    msg_str v;
    bool have = store_kv_get(&f->s, txn, dbi, run, (msg_str){key, (uint32_t)strlen(key)}, &v,
                             NULL) == CAIRN_OK;
    mdb_txn_abort(txn);
    return have;
}

/* A request refused in a group whose other writes commit leaves nothing:
 * naming a tag twice in delete_tags was found only by the second delete,
 * after the params, the tags and the first delete were written. */
static void a_refused_request_leaves_nothing_in_a_committed_group(void **state)
{
    fixture *f = *state;
    ulid run;
    MDB_txn *txn = group_with_run(f, &run);
    assert_int_equal(log_kv_in_group(f, txn, &run, NULL, "t", NULL, 0), CAIRN_OK);
    const char *twice[] = {"t", "t"};
    assert_int_equal(log_kv_in_group(f, txn, &run, "p", "t2", twice, 2),
                     CAIRN_INVALID_PARAMETER_VALUE);
    log_point(f, txn, &run, "loss", 1, 1); /* the group goes on and commits */
    group_commit(f, txn);
    assert_true(has_kv(f, f->s.tags, &run, "t"));
    assert_false(has_kv(f, f->s.tags, &run, "t2"));
    assert_false(has_kv(f, f->s.params, &run, "p"));
}

/* Names no experiment or model can have (empty, or longer than an LMDB
 * key) are refused as such, not as storage errors: a storage error aborts
 * the group, and the write before them with it. */
static void impossible_names_are_not_storage_errors(void **state)
{
    fixture *f = *state;
    ulid run;
    MDB_txn *txn = group_with_run(f, &run);
    assert_int_equal(log_kv_in_group(f, txn, &run, "p", "t", NULL, 0), CAIRN_OK);
    char long_name[600];
    memset(long_name, 'n', sizeof long_name - 1);
    long_name[sizeof long_name - 1] = '\0';
    const char *searched[] = {"", long_name};
    for (int i = 0; i < 2; i++) {
        msgpack_packer *pk = begin(f, "run.search", 1, NULL);
        pk_str(pk, "experiment");
        pk_str(pk, searched[i]);
        assert_int_equal(group_exec(f, txn), CAIRN_RESOURCE_DOES_NOT_EXIST);
        pk = begin(f, "experiment.set_tag", 3, NULL);
        pk_str(pk, "name");
        pk_str(pk, searched[i]);
        pk_str(pk, "key");
        pk_str(pk, "k");
        pk_str(pk, "value");
        pk_str(pk, "v");
        cairn_status st = group_exec(f, txn);
        assert_true(st == CAIRN_RESOURCE_DOES_NOT_EXIST || st == CAIRN_INVALID_PARAMETER_VALUE);
    }
    msgpack_packer *pk = begin(f, "model.get", 1, NULL);
    pk_str(pk, "name");
    pk_str(pk, long_name);
    cairn_status st = group_exec(f, txn);
    assert_true(st == CAIRN_RESOURCE_DOES_NOT_EXIST || st == CAIRN_INVALID_PARAMETER_VALUE);
    group_commit(f, txn);
    assert_true(has_kv(f, f->s.params, &run, "p"));
}

/* Should a handler still refuse a request after writing part of it, its
 * group's transaction must not commit: dispatch turns the refusal into an
 * INTERNAL_ERROR, which aborts the group (server.c). */
static ulid half_written_run;

static cairn_status writes_then_refuses(request_ctx *r, cairn_error *err)
{
    cairn_status st = store_kv_put(r->store, r->txn, r->store->tags, &half_written_run,
                                   (msg_str){"half", 4}, (msg_str){"written", 7}, err);
    return st ? st : error_set(err, CAIRN_INVALID_PARAMETER_VALUE, "refused after writing");
}

static void a_refusal_after_a_write_aborts_the_group(void **state)
{
    fixture *f = *state;
    ulid run;
    MDB_txn *txn = group_with_run(f, &run);
    half_written_run = run;
    msgpack_packer *pk = begin(f, "run.log", 1, NULL);
    pk_str(pk, "run");
    mp_ulid(pk, &run);
    msg m;
    cairn_error err = {0};
    assert_int_equal(msg_decode(&f->req_dec, f->req.sb.data, f->req.sb.size, &m, &err), CAIRN_OK);
    handler broken = {"run.log", true, writes_then_refuses, NULL, false, false};
    msg_writer_reset(&f->out);
    assert_int_equal(dispatch(&f->r, &broken, &m, txn, &f->out, 1700000000000, &err),
                     CAIRN_INTERNAL_ERROR);
    assert_non_null(strstr(err.message, "refused after writing"));
    mdb_txn_abort(txn);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        FIXTURE_TEST(interleaved_series_keep_their_order),
        FIXTURE_TEST(a_read_in_the_group_sees_held_points),
        FIXTURE_TEST(a_large_batch_follows_held_points),
        FIXTURE_TEST(an_aborted_group_forgets_held_points),
        FIXTURE_TEST(a_run_of_an_aborted_group_is_forgotten),
        FIXTURE_TEST(a_refused_request_leaves_nothing_in_a_committed_group),
        FIXTURE_TEST(a_refusal_after_a_write_aborts_the_group),
        FIXTURE_TEST(impossible_names_are_not_storage_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
