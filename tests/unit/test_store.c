/* Store semantics through the request handlers, on a real LMDB file. */
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <cmocka.h>

#include "store_fixture.h"

/* ---- request builders ---- */

static cairn_status log_points(fixture *f, const ulid *run, const point_spec *p, size_t n)
{
    msgpack_packer *pk = begin(f, "run.log", 2, NULL);
    pk_str(pk, "run");
    mp_ulid(pk, run);
    pack_points(pk, p, n);
    return exec(f);
}

static cairn_status log_param(fixture *f, const ulid *run, const char *k, const char *v)
{
    msgpack_packer *pk = begin(f, "run.log", 3, NULL);
    pk_str(pk, "run");
    mp_ulid(pk, run);
    pk_str(pk, "params");
    msgpack_pack_map(pk, 1);
    pk_str(pk, k);
    pk_str(pk, v);
    point_spec p = {"loss", 1.0, 0};
    pack_points(pk, &p, 1);
    return exec(f);
}

static cairn_status log_tag(fixture *f, const ulid *run, const char *k, const char *v)
{
    msgpack_packer *pk = begin(f, "run.log", 2, NULL);
    pk_str(pk, "run");
    mp_ulid(pk, run);
    pk_str(pk, v ? "tags" : "delete_tags");
    if (v) {
        msgpack_pack_map(pk, 1);
        pk_str(pk, k);
        pk_str(pk, v);
    } else {
        msgpack_pack_array(pk, 1);
        pk_str(pk, k);
    }
    return exec(f);
}

static const msgpack_object *get_run(fixture *f, const ulid *run)
{
    msgpack_packer *pk = begin(f, "run.get", 1, NULL);
    pk_str(pk, "run");
    mp_ulid(pk, run);
    assert_int_equal(exec(f), CAIRN_OK);
    return body_find(f->reply.body, "run");
}

static const msgpack_object *map_value(const msgpack_object *map, const char *section,
                                       const char *key)
{
    return body_find(body_find(map, section), key);
}

/* ---- tests ---- */

static void run_start_and_get(void **state)
{
    fixture *f = *state;
    ulid id = ulid_new();
    assert_int_equal(start_run(f, &id, "churn", "rf"), CAIRN_OK);
    const msgpack_object *run = get_run(f, &id);
    msg_str s;
    assert_int_equal(body_str(run, "experiment", true, &s, NULL), CAIRN_OK);
    assert_true(msg_str_eq(s, "churn"));
    assert_int_equal(body_str(run, "status", true, &s, NULL), CAIRN_OK);
    assert_true(msg_str_eq(s, "RUNNING"));
    assert_int_equal(body_find(run, "end_time")->type, MSGPACK_OBJECT_NIL);
    /* The same run id again is refused. */
    assert_int_equal(start_run(f, &id, "churn", "rf"), CAIRN_RESOURCE_ALREADY_EXISTS);
}

static void experiment_created_once(void **state)
{
    fixture *f = *state;
    ulid a = ulid_new(), b = ulid_new();
    assert_int_equal(start_run(f, &a, "exp", ""), CAIRN_OK);
    int64_t id1, id2;
    body_int(f->reply.body, "experiment_id", true, &id1, NULL);
    assert_int_equal(start_run(f, &b, "exp", ""), CAIRN_OK);
    body_int(f->reply.body, "experiment_id", true, &id2, NULL);
    assert_int_equal(id1, id2);
    begin(f, "experiment.list", 0, NULL);
    assert_int_equal(exec(f), CAIRN_OK);
    assert_int_equal(body_find(f->reply.body, "experiments")->via.array.size, 1);
}

static void deleted_experiment_refuses_runs(void **state)
{
    fixture *f = *state;
    ulid a = ulid_new(), b = ulid_new();
    assert_int_equal(start_run(f, &a, "old", ""), CAIRN_OK);
    msgpack_packer *pk = begin(f, "experiment.delete", 1, NULL);
    pk_str(pk, "name");
    pk_str(pk, "old");
    assert_int_equal(exec(f), CAIRN_OK);
    assert_int_equal(start_run(f, &b, "old", ""), CAIRN_INVALID_STATE);
    begin(f, "experiment.list", 0, NULL);
    assert_int_equal(exec(f), CAIRN_OK);
    assert_int_equal(body_find(f->reply.body, "experiments")->via.array.size, 0);
}

static void params_are_immutable(void **state)
{
    fixture *f = *state;
    ulid id = ulid_new();
    start_run(f, &id, "e", "");
    assert_int_equal(log_param(f, &id, "depth", "10"), CAIRN_OK);
    assert_int_equal(log_param(f, &id, "depth", "10"), CAIRN_OK); /* same value: accepted */
    assert_int_equal(log_param(f, &id, "depth", "12"), CAIRN_INVALID_PARAMETER_VALUE);
    assert_non_null(fixture_reply_mentions(f, "immutable"));
    /* Nothing of the refused request was applied: two "loss" points, not three. */
    store_point pts[8];
    assert_int_equal(metric_history(f, &id, "loss", 0, 8, pts), 2);
    msg_str v;
    obj_str(map_value(get_run(f, &id), "params", "depth"), &v);
    assert_true(msg_str_eq(v, "10"));
}

static void history_keeps_logging_order_across_chunks(void **state)
{
    fixture *f = *state;
    ulid id = ulid_new();
    start_run(f, &id, "e", "");
    /* Interleaved keys, single points and a big batch, crossing several chunks. */
    enum { SINGLES = 250, BATCH = 1000 };
    for (int i = 0; i < SINGLES; i++) {
        point_spec p[2] = {{"loss", i, i}, {"acc", -i, i}};
        assert_int_equal(log_points(f, &id, p, 2), CAIRN_OK);
    }
    /* Read back while the latest chunk is only partly written: its points
     * are in the chunk tree, those after it in the key's record. */
    static store_point got[2000];
    assert_int_equal(metric_history(f, &id, "loss", 0, 2000, got), SINGLES);
    for (int i = 0; i < SINGLES; i++)
        assert_true(got[i].value == i && got[i].step == i);
    assert_int_equal(metric_history(f, &id, "acc", 160, 30, got), 30);
    for (int i = 0; i < 30; i++)
        assert_true(got[i].value == -(160 + i));
    static point_spec batch[BATCH];
    for (int i = 0; i < BATCH; i++)
        batch[i] = (point_spec){i % 2 ? "acc" : "loss", SINGLES + i, SINGLES + i};
    assert_int_equal(log_points(f, &id, batch, BATCH), CAIRN_OK);
    size_t n = metric_history(f, &id, "loss", 0, 2000, got);
    assert_int_equal(n, SINGLES + BATCH / 2);
    for (int i = 0; i < SINGLES; i++)
        assert_true(got[i].value == i);
    for (int i = 0; i < BATCH / 2; i++)
        assert_true(got[SINGLES + i].value == SINGLES + 2 * i);
    /* A page from the middle, starting inside a chunk. */
    assert_int_equal(metric_history(f, &id, "loss", 171, 5, got), 5);
    assert_true(got[0].value == 171 && got[4].value == 175);
    assert_int_equal(metric_history(f, &id, "loss", 10000, 5, got), 0);
}

static void latest_is_greatest_step(void **state)
{
    fixture *f = *state;
    ulid id = ulid_new();
    start_run(f, &id, "e", "");
    point_spec p[3] = {{"auc", 0.9, 5}, {"auc", 0.5, 2}, {"auc", 0.7, 5}};
    log_points(f, &id, p, 3);
    const msgpack_object *latest = map_value(get_run(f, &id), "metrics", "auc");
    double v;
    obj_double(&latest->via.array.ptr[0], &v);
    assert_true(v == 0.7); /* step 5 twice: the later timestamp wins */
}

static void nan_and_infinity_are_kept(void **state)
{
    fixture *f = *state;
    ulid id = ulid_new();
    start_run(f, &id, "e", "");
    point_spec p[3] = {{"x", NAN, 0}, {"x", INFINITY, 1}, {"x", -INFINITY, 2}};
    assert_int_equal(log_points(f, &id, p, 3), CAIRN_OK);
    store_point got[3];
    assert_int_equal(metric_history(f, &id, "x", 0, 3, got), 3);
    assert_true(isnan(got[0].value));
    assert_true(isinf(got[1].value) && got[1].value > 0);
    assert_true(isinf(got[2].value) && got[2].value < 0);
}

static void limits_name_themselves(void **state)
{
    fixture *f = *state;
    ulid id = ulid_new();
    start_run(f, &id, "e", "");
    char key[252], value[8002];
    memset(key, 'k', 251);
    key[251] = 0;
    assert_int_equal(log_param(f, &id, key, "v"), CAIRN_LIMIT_EXCEEDED);
    assert_non_null(fixture_reply_mentions(f, "250"));
    memset(value, 'v', 6001);
    value[6001] = 0;
    assert_int_equal(log_param(f, &id, "p", value), CAIRN_LIMIT_EXCEEDED);
    assert_non_null(fixture_reply_mentions(f, "6000"));
    value[6000] = 0;
    assert_int_equal(log_param(f, &id, "p", value), CAIRN_OK);
    memset(value, 'v', 8001);
    value[8001] = 0;
    assert_int_equal(log_tag(f, &id, "t", value), CAIRN_LIMIT_EXCEEDED);
    assert_non_null(fixture_reply_mentions(f, "8000"));
    assert_int_equal(log_tag(f, &id, "bad\nkey", "v"), CAIRN_INVALID_PARAMETER_VALUE);
}

/* A msgpack str is UTF-8: bytes that are not, NUL (which ends a C string in
 * every client) and, in names and keys, control characters are refused. */
static void text_must_be_utf8(void **state)
{
    fixture *f = *state;
    ulid id = ulid_new(), other = ulid_new();
    assert_int_equal(start_run(f, &id, "e", ""), CAIRN_OK);
    assert_int_equal(start_run(f, &other, "bad\x7fname", ""), CAIRN_INVALID_PARAMETER_VALUE);
    assert_non_null(fixture_reply_mentions(f, "control characters"));
    assert_int_equal(start_run(f, &other, "e\xff\xfe", ""), CAIRN_INVALID_PARAMETER_VALUE);
    assert_non_null(fixture_reply_mentions(f, "experiment name is not valid UTF-8"));
    assert_int_equal(log_param(f, &id, "k\xff", "v"), CAIRN_INVALID_PARAMETER_VALUE);
    assert_non_null(fixture_reply_mentions(f, "param key is not valid UTF-8"));
    assert_int_equal(log_tag(f, &id, "t", "\xed\xa0\x80"), CAIRN_INVALID_PARAMETER_VALUE);
    assert_non_null(fixture_reply_mentions(f, "tag value is not valid UTF-8"));
    assert_int_equal(log_param(f, &id, "p", "caf\xc3\xa9 \xe6\x97\xa5"), CAIRN_OK);
    assert_int_equal(log_tag(f, &id, "note", "line one\nline two\ttabbed"), CAIRN_OK);
    assert_int_equal(log_param(f, &id, "\xc3\xa9t\xc3\xa9", "v"), CAIRN_OK);
}

static void resend_is_applied_once(void **state)
{
    fixture *f = *state;
    ulid id = ulid_new();
    start_run(f, &id, "e", "");
    point_spec p = {"loss", 1.5, 1};
    assert_int_equal(log_points(f, &id, &p, 1), CAIRN_OK);
    ulid msg_id = f->last_id;
    int64_t seq1, seq2;
    bool dup = true;
    body_int(f->reply.body, "seq", true, &seq1, NULL);
    body_bool(f->reply.body, "duplicate", true, &dup, NULL);
    assert_false(dup);
    /* The same message id again, as a client resends after a lost reply. */
    msgpack_packer *pk = begin(f, "run.log", 2, &msg_id);
    pk_str(pk, "run");
    mp_ulid(pk, &id);
    pack_points(pk, &p, 1);
    assert_int_equal(exec(f), CAIRN_OK);
    body_int(f->reply.body, "seq", true, &seq2, NULL);
    body_bool(f->reply.body, "duplicate", true, &dup, NULL);
    assert_true(dup);
    assert_int_equal(seq1, seq2);
    store_point got[4];
    assert_int_equal(metric_history(f, &id, "loss", 0, 4, got), 1);
}

/* Closes and reopens the store, as a restart (or a kill -9) would. */
static void reopen(fixture *f)
{
    cairn_error err;
    dispatch_destroy(&f->r);
    store_close(&f->s);
    assert_int_equal(store_open(&f->s, f->dir, (size_t)1 << 30, &err), CAIRN_OK);
    dispatch_init(&f->r, &f->s, &f->b, "coordinator");
}

/* The recent ids go to the dedup tree, as the server's bulk write does. */
static void flush_recent_ids(fixture *f)
{
    MDB_txn *txn;
    assert_int_equal(mdb_txn_begin(f->s.env, NULL, 0, &txn), 0);
    assert_int_equal(store_dedup_flush(&f->s, txn, 0, NULL), CAIRN_OK);
    assert_int_equal(mdb_txn_commit(txn), 0);
    store_dedup_committed(&f->s);
    assert_int_equal(store_dedup_mark(&f->s), 0);
}

/* Sends run.log with message id msg_id again; returns its "duplicate". */
static bool log_again(fixture *f, const ulid *run, const ulid *msg_id, const point_spec *p)
{
    msgpack_packer *pk = begin(f, "run.log", 2, msg_id);
    pk_str(pk, "run");
    mp_ulid(pk, run);
    pack_points(pk, p, 1);
    assert_int_equal(exec(f), CAIRN_OK);
    bool dup = false;
    body_bool(f->reply.body, "duplicate", true, &dup, NULL);
    return dup;
}

static void resend_after_restart(fixture *f, bool bulk_written_first)
{
    ulid id = ulid_new();
    start_run(f, &id, "e", "");
    point_spec p = {"loss", 1.5, 1};
    assert_int_equal(log_points(f, &id, &p, 1), CAIRN_OK);
    ulid msg_id = f->last_id;
    if (bulk_written_first)
        flush_recent_ids(f);
    reopen(f);
    assert_true(log_again(f, &id, &msg_id, &p));
    store_point got[4];
    assert_int_equal(metric_history(f, &id, "loss", 0, 4, got), 1);
}

static size_t prune_dedup(fixture *f, uint64_t cutoff_ms)
{
    MDB_txn *txn;
    assert_int_equal(mdb_txn_begin(f->s.env, NULL, 0, &txn), 0);
    bool more;
    size_t n = store_dedup_prune(&f->s, txn, cutoff_ms, 100, &more);
    assert_int_equal(mdb_txn_commit(txn), 0);
    return n;
}

/* A sender whose clock is days behind (or a request spooled for days): its
 * id is remembered dedup_days after the request was applied, not after the
 * time the id carries. */
static void dedup_kept_from_when_applied(void **state)
{
    fixture *f = *state;
    const uint64_t day = 86400000, applied = 1700000000000; /* exec()'s clock */
    ulid run = ulid_new();
    start_run(f, &run, "e", "");
    ulid late = ulid_new();
    for (int i = 5, ms = 0; i >= 0; i--, ms++) /* its time: 8 days before it is applied */
        late.b[i] = (uint8_t)((applied - 8 * day) >> (8 * ms));
    point_spec p = {"loss", 1.0, 1};
    assert_false(log_again(f, &run, &late, &p));
    flush_recent_ids(f);
    assert_int_equal(prune_dedup(f, applied - 7 * day), 0); /* applied just now */
    assert_true(log_again(f, &run, &late, &p));
    store_point got[4];
    assert_int_equal(metric_history(f, &run, "loss", 0, 4, got), 1);
    assert_int_equal(prune_dedup(f, applied + day), 1); /* a week after: forgotten */
    assert_false(log_again(f, &run, &late, &p));
}

static ulid id_at(uint64_t ms, uint8_t n)
{
    ulid id = ulid_new();
    for (int i = 5, b = 0; i >= 0; i--, b++)
        id.b[i] = (uint8_t)(ms >> (8 * b));
    id.b[15] = n;
    return id;
}

/* Ids passed over (their sender's clock behind, applied recently) must not
 * hide the prunable ones after them, however many there are: each pass goes
 * on where the last one stopped. */
static void dedup_prune_goes_on_past_kept_ids(void **state)
{
    fixture *f = *state;
    const uint64_t day = 86400000, now = 1700000000000;
    ulid run = ulid_new();
    start_run(f, &run, "e", "");
    point_spec p = {"loss", 1.0, 1};
    ulid old[3], late[4];
    f->now_ms = (int64_t)(now - 10 * day); /* applied 10 days ago, ids from a clock ahead */
    for (uint8_t i = 0; i < 3; i++) {
        old[i] = id_at(now - 7 * day - day / 2, i);
        assert_false(log_again(f, &run, &old[i], &p));
    }
    f->now_ms = (int64_t)now; /* applied now, ids from a clock 8 days behind: kept */
    for (uint8_t i = 0; i < 4; i++) {
        late[i] = id_at(now - 8 * day, i);
        assert_false(log_again(f, &run, &late[i], &p));
    }
    flush_recent_ids(f);
    f->s.prune_scan_max = 2;
    size_t pruned = 0;
    bool more = true;
    for (int pass = 0; more && pass < 20; pass++) {
        MDB_txn *txn;
        assert_int_equal(mdb_txn_begin(f->s.env, NULL, 0, &txn), 0);
        pruned += store_dedup_prune(&f->s, txn, now - 7 * day, 100, &more);
        assert_int_equal(mdb_txn_commit(txn), 0);
    }
    assert_false(more);
    assert_int_equal(pruned, 3);
    for (int i = 0; i < 4; i++)
        assert_true(log_again(f, &run, &late[i], &p)); /* still known */
    for (int i = 0; i < 3; i++)
        assert_false(log_again(f, &run, &old[i], &p)); /* forgotten */
}

/* The id was only in memory when the process stopped: it is read back from
 * the audit log at start. */
static void resend_after_restart_from_audit_log(void **state)
{
    resend_after_restart(*state, false);
}

static void resend_after_restart_from_dedup_tree(void **state)
{
    resend_after_restart(*state, true);
}

static void tags_set_overwrite_delete(void **state)
{
    fixture *f = *state;
    ulid id = ulid_new();
    start_run(f, &id, "e", "");
    assert_int_equal(log_tag(f, &id, "team", "a"), CAIRN_OK);
    assert_int_equal(log_tag(f, &id, "team", "b"), CAIRN_OK);
    msg_str v;
    obj_str(map_value(get_run(f, &id), "tags", "team"), &v);
    assert_true(msg_str_eq(v, "b"));
    assert_int_equal(log_tag(f, &id, "team", NULL), CAIRN_OK);
    assert_null(map_value(get_run(f, &id), "tags", "team"));
    assert_int_equal(log_tag(f, &id, "team", NULL), CAIRN_RESOURCE_DOES_NOT_EXIST);
}

static void run_end_sets_status(void **state)
{
    fixture *f = *state;
    ulid id = ulid_new();
    start_run(f, &id, "e", "");
    msgpack_packer *pk = begin(f, "run.end", 3, NULL);
    pk_str(pk, "run");
    mp_ulid(pk, &id);
    pk_str(pk, "status");
    pk_str(pk, "FAILED");
    pk_str(pk, "end_time");
    msgpack_pack_int64(pk, 42);
    assert_int_equal(exec(f), CAIRN_OK);
    const msgpack_object *run = get_run(f, &id);
    msg_str s;
    int64_t end;
    body_str(run, "status", true, &s, NULL);
    body_int(run, "end_time", true, &end, NULL);
    assert_true(msg_str_eq(s, "FAILED"));
    assert_int_equal(end, 42);
    pk = begin(f, "run.end", 2, NULL);
    pk_str(pk, "run");
    mp_ulid(pk, &id);
    pk_str(pk, "status");
    pk_str(pk, "RUNNING");
    assert_int_equal(exec(f), CAIRN_INVALID_PARAMETER_VALUE);
}

static void unknown_run_is_reported(void **state)
{
    fixture *f = *state;
    ulid id = ulid_new();
    point_spec p = {"loss", 1, 1};
    assert_int_equal(log_points(f, &id, &p, 1), CAIRN_RESOURCE_DOES_NOT_EXIST);
}

static void audit_log_records_each_write(void **state)
{
    fixture *f = *state;
    ulid id = ulid_new();
    start_run(f, &id, "e", "");
    log_tag(f, &id, "a", "1");
    log_tag(f, &id, "a", NULL);
    msgpack_packer *pk = begin(f, "audit.list", 1, NULL);
    pk_str(pk, "since");
    msgpack_pack_uint64(pk, 2);
    assert_int_equal(exec(f), CAIRN_OK);
    const msgpack_object *events = body_find(f->reply.body, "events");
    assert_int_equal(events->via.array.size, 2);
    int64_t seq;
    msg_str type;
    body_int(&events->via.array.ptr[0], "seq", true, &seq, NULL);
    body_str(&events->via.array.ptr[0], "type", true, &type, NULL);
    assert_int_equal(seq, 2);
    assert_true(msg_str_eq(type, "run.log"));
    /* The summary names the run and only the counts that are not zero. */
    char idtext[ULID_TEXT_LEN + 1], want[128];
    ulid_format(&id, idtext);
    msg_str summary;
    body_str(&events->via.array.ptr[0], "summary", true, &summary, NULL);
    snprintf(want, sizeof want, "run=%s tags=1", idtext);
    assert_true(msg_str_eq(summary, want));
    body_str(&events->via.array.ptr[1], "summary", true, &summary, NULL);
    snprintf(want, sizeof want, "run=%s deleted_tags=1", idtext);
    assert_true(msg_str_eq(summary, want));
    log_param(f, &id, "depth", "12");
    pk = begin(f, "audit.list", 1, NULL);
    pk_str(pk, "since");
    msgpack_pack_uint64(pk, 4);
    assert_int_equal(exec(f), CAIRN_OK);
    events = body_find(f->reply.body, "events");
    body_str(&events->via.array.ptr[0], "summary", true, &summary, NULL);
    snprintf(want, sizeof want, "run=%s params=1 metrics=1", idtext);
    assert_true(msg_str_eq(summary, want));
}

static void search_filters_and_orders(void **state)
{
    fixture *f = *state;
    ulid ids[5];
    for (int i = 0; i < 5; i++) {
        ids[i] = ulid_new();
        char name[16];
        snprintf(name, sizeof name, "r%d", i);
        start_run(f, &ids[i], "s", name);
        point_spec p = {"auc", 0.5 + 0.1 * i, 1};
        log_points(f, &ids[i], &p, 1);
        log_param(f, &ids[i], "model", i % 2 ? "rf" : "gb");
    }
    msgpack_packer *pk = begin(f, "run.search", 3, NULL);
    pk_str(pk, "experiment");
    pk_str(pk, "s");
    pk_str(pk, "filter");
    pk_str(pk, "metrics.auc > 0.55 and params.model = 'rf'");
    pk_str(pk, "order_by");
    msgpack_pack_array(pk, 1);
    pk_str(pk, "metrics.auc DESC");
    assert_int_equal(exec(f), CAIRN_OK);
    const msgpack_object *runs = body_find(f->reply.body, "runs");
    assert_int_equal(runs->via.array.size, 2);
    msg_str name;
    body_str(&runs->via.array.ptr[0], "name", true, &name, NULL);
    assert_true(msg_str_eq(name, "r3"));
    body_str(&runs->via.array.ptr[1], "name", true, &name, NULL);
    assert_true(msg_str_eq(name, "r1"));

    /* Paging: two runs a page, a token to the next. */
    pk = begin(f, "run.search", 2, NULL);
    pk_str(pk, "experiment");
    pk_str(pk, "s");
    pk_str(pk, "max");
    msgpack_pack_uint64(pk, 2);
    assert_int_equal(exec(f), CAIRN_OK);
    msg_str token;
    assert_int_equal(body_str(f->reply.body, "next_page_token", true, &token, NULL), CAIRN_OK);

    pk = begin(f, "run.search", 2, NULL);
    pk_str(pk, "experiment");
    pk_str(pk, "s");
    pk_str(pk, "filter");
    pk_str(pk, "metrics.auc >");
    assert_int_equal(exec(f), CAIRN_INVALID_PARAMETER_VALUE);

    /* A NUL would end the text early, the rest unread: refused, not cut. */
    static const char with_nul[] = "params.model = 'rf'\0 and garbage";
    pk = begin(f, "run.search", 2, NULL);
    pk_str(pk, "experiment");
    pk_str(pk, "s");
    pk_str(pk, "filter");
    mp_strn(pk, with_nul, sizeof with_nul - 1);
    assert_int_equal(exec(f), CAIRN_INVALID_PARAMETER_VALUE);
    assert_non_null(fixture_reply_mentions(f, "NUL"));

    /* An order_by item over its limit is LIMIT_EXCEEDED, naming it. */
    char long_item[600];
    memset(long_item, ' ', sizeof long_item - 1);
    memcpy(long_item, "metrics.auc", 11);
    long_item[sizeof long_item - 1] = '\0';
    pk = begin(f, "run.search", 2, NULL);
    pk_str(pk, "experiment");
    pk_str(pk, "s");
    pk_str(pk, "order_by");
    msgpack_pack_array(pk, 1);
    pk_str(pk, long_item);
    assert_int_equal(exec(f), CAIRN_LIMIT_EXCEEDED);
    assert_non_null(fixture_reply_mentions(f, "511 bytes"));
}

/* Run ids of the search's runs, in the order of its reply, as text. */
static void search_order(fixture *f, const char *order_by, char out[][ULID_TEXT_LEN + 1], size_t n)
{
    msgpack_packer *pk = begin(f, "run.search", 2, NULL);
    pk_str(pk, "experiment");
    pk_str(pk, "by-id");
    pk_str(pk, "order_by");
    msgpack_pack_array(pk, 1);
    pk_str(pk, order_by);
    assert_int_equal(exec(f), CAIRN_OK);
    const msgpack_object *runs = body_find(f->reply.body, "runs");
    assert_int_equal(runs->via.array.size, n);
    for (size_t i = 0; i < n; i++) {
        msg_str id;
        assert_int_equal(body_bin(&runs->via.array.ptr[i], "id", true, &id, NULL), CAIRN_OK);
        ulid u;
        memcpy(u.b, id.p, ULID_BYTES);
        ulid_format(&u, out[i]);
    }
}

/* Ordering by run_id follows the ids, not the default newest-first: the
 * runs start in id order, so newest first would be the ids reversed. */
static void search_orders_by_run_id(void **state)
{
    fixture *f = *state;
    enum { N = 4 };
    char ids[N][ULID_TEXT_LEN + 1], got[N][ULID_TEXT_LEN + 1];
    for (int i = 0; i < N; i++) {
        ulid id;
        char text[ULID_TEXT_LEN + 1];
        snprintf(text, sizeof text, "01J00000000000000000000%03u", (unsigned)i % 1000u);
        assert_true(ulid_parse(text, &id));
        ulid_format(&id, ids[i]);
        msgpack_packer *pk = begin(f, "run.start", 3, NULL);
        pk_str(pk, "run");
        mp_ulid(pk, &id);
        pk_str(pk, "experiment");
        pk_str(pk, "by-id");
        pk_str(pk, "start_time");
        msgpack_pack_int64(pk, 1000 + i);
        assert_int_equal(exec(f), CAIRN_OK);
    }
    search_order(f, "attributes.run_id ASC", got, N);
    for (int i = 0; i < N; i++)
        assert_string_equal(got[i], ids[i]);
    search_order(f, "attributes.run_id DESC", got, N);
    for (int i = 0; i < N; i++)
        assert_string_equal(got[i], ids[N - 1 - i]);
}

static void unknown_type_and_bad_body(void **state)
{
    fixture *f = *state;
    msgpack_packer *pk = begin(f, "run.log", 1, NULL);
    pk_str(pk, "run");
    pk_str(pk, "not-an-id");
    assert_int_equal(exec(f), CAIRN_BAD_MESSAGE);
    assert_non_null(fixture_reply_mentions(f, "run"));
}

/* ---- blobs by content hash ---- */

static cairn_status upload(fixture *f, const ulid *run, const char *path, const char *data,
                           size_t n)
{
    ulid up = ulid_new();
    msgpack_packer *pk = begin(f, "artifact.put", 6, NULL);
    pk_str(pk, "upload"), mp_ulid(pk, &up);
    pk_str(pk, "run"), mp_ulid(pk, run);
    pk_str(pk, "path"), pk_str(pk, path);
    pk_str(pk, "offset"), msgpack_pack_uint64(pk, 0);
    pk_str(pk, "data"), mp_bin(pk, data, n);
    pk_str(pk, "last"), mp_bool(pk, true);
    return exec(f);
}

static cairn_status blob_get(fixture *f, const char *sha, int64_t offset, int64_t max)
{
    msgpack_packer *pk = begin(f, "blob.get", 3, NULL);
    pk_str(pk, "sha256"), pk_str(pk, sha);
    pk_str(pk, "offset"), msgpack_pack_int64(pk, offset);
    pk_str(pk, "max"), msgpack_pack_int64(pk, max);
    return exec(f);
}

/* A series whose record counts a chunk the tree lacks is a corrupt store:
 * a STORAGE_ERROR, never "not found" (a refusal the request would be blamed
 * for, and one a handler may meet after writing). */
static void a_missing_chunk_is_a_storage_error(void **state)
{
    fixture *f = *state;
    ulid id = ulid_new();
    start_run(f, &id, "e", "");
    for (int i = 0; i < 100; i++) { /* past the inline tail: a partial chunk is written */
        point_spec p = {"loss", i, i};
        assert_int_equal(log_points(f, &id, &p, 1), CAIRN_OK);
    }
    MDB_txn *txn;
    MDB_cursor *c;
    MDB_val k, v;
    assert_int_equal(mdb_txn_begin(f->s.env, NULL, 0, &txn), 0);
    assert_int_equal(mdb_cursor_open(txn, f->s.metric_chunks, &c), 0);
    int deleted = 0;
    while (mdb_cursor_get(c, &k, &v, MDB_FIRST) == 0 && mdb_cursor_del(c, 0) == 0)
        deleted++;
    mdb_cursor_close(c);
    assert_int_equal(mdb_txn_commit(txn), 0);
    assert_true(deleted > 0);
    msgpack_packer *pk = begin(f, "metric.history", 4, NULL);
    pk_str(pk, "run"), mp_ulid(pk, &id);
    pk_str(pk, "key"), pk_str(pk, "loss");
    pk_str(pk, "offset"), msgpack_pack_uint64(pk, 0);
    pk_str(pk, "max"), msgpack_pack_uint64(pk, 10);
    assert_int_equal(exec(f), CAIRN_STORAGE_ERROR);
    for (int i = 100; i < 200; i++) { /* the next chunk write reads the missing one */
        point_spec p = {"loss", i, i};
        cairn_status st = log_points(f, &id, &p, 1);
        assert_true(st == CAIRN_OK || st == CAIRN_STORAGE_ERROR);
        if (st)
            return;
    }
    fail_msg("no write met the missing chunk");
}

/* An artifact's key is its run id and its path: the path limit keeps it
 * within LMDB's 511-byte keys, so a long path is refused up front instead
 * of failing in LMDB as a storage error (which aborts a whole group). */
static void artifact_path_limit_fits_a_key(void **state)
{
    fixture *f = *state;
    ulid run = ulid_new();
    start_run(f, &run, "b", "");
    char path[LIMIT_ARTIFACT_PATH + 2];
    memset(path, 'a', sizeof path - 1);
    path[LIMIT_ARTIFACT_PATH] = '\0';
    assert_int_equal(upload(f, &run, path, "x", 1), CAIRN_OK);
    path[LIMIT_ARTIFACT_PATH] = 'a';
    path[LIMIT_ARTIFACT_PATH + 1] = '\0';
    assert_int_equal(upload(f, &run, path, "x", 1), CAIRN_LIMIT_EXCEEDED);
    assert_non_null(fixture_reply_mentions(f, "limit of 495 bytes"));
}

static void blob_get_reads_ranges_by_hash(void **state)
{
    fixture *f = *state;
    ulid run = ulid_new();
    start_run(f, &run, "b", "");
    const char content[] = "0123456789abcdefghij";
    assert_int_equal(upload(f, &run, "m.bin", content, 20), CAIRN_OK);
    msg_str hash;
    char sha[65];
    body_str(f->reply.body, "sha256", true, &hash, NULL);
    msg_str_copy(hash, sha, sizeof sha);

    assert_int_equal(blob_get(f, sha, 5, 8), CAIRN_OK);
    msg_str data;
    int64_t size = 0;
    bool eof = true;
    body_bin(f->reply.body, "data", true, &data, NULL);
    body_int(f->reply.body, "size", true, &size, NULL);
    body_bool(f->reply.body, "eof", true, &eof, NULL);
    assert_int_equal(data.n, 8);
    assert_memory_equal(data.p, "56789abc", 8);
    assert_int_equal(size, 20);
    assert_false(eof);
    assert_int_equal(f->reply.body->via.map.size, 3); /* data, size, eof: no sha256 */
    assert_int_equal(blob_get(f, sha, 16, 0), CAIRN_OK);
    body_bin(f->reply.body, "data", true, &data, NULL);
    body_bool(f->reply.body, "eof", true, &eof, NULL);
    assert_int_equal(data.n, 4);
    assert_true(eof);
    assert_int_equal(blob_get(f, sha, 25, 0), CAIRN_OK); /* past the end: nothing, eof */
    body_bin(f->reply.body, "data", true, &data, NULL);
    assert_int_equal(data.n, 0);

    char first = sha[0];
    sha[0] = first == 'a' ? 'b' : 'a';
    assert_int_equal(blob_get(f, sha, 0, 0), CAIRN_RESOURCE_DOES_NOT_EXIST);
    assert_non_null(fixture_reply_mentions(f, "no blob with sha256"));
    sha[0] = 'A';
    assert_int_equal(blob_get(f, sha, 0, 0), CAIRN_BAD_MESSAGE);
    assert_int_equal(blob_get(f, "abc", 0, 0), CAIRN_BAD_MESSAGE);
    assert_non_null(fixture_reply_mentions(f, "64 lowercase hex"));
    assert_int_equal(blob_get(f, "../../../../etc/passwd", 0, 0), CAIRN_BAD_MESSAGE);
    sha[0] = first;
    assert_int_equal(blob_get(f, sha, -1, 0), CAIRN_INVALID_PARAMETER_VALUE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        FIXTURE_TEST(run_start_and_get),
        FIXTURE_TEST(experiment_created_once),
        FIXTURE_TEST(deleted_experiment_refuses_runs),
        FIXTURE_TEST(params_are_immutable),
        FIXTURE_TEST(history_keeps_logging_order_across_chunks),
        FIXTURE_TEST(latest_is_greatest_step),
        FIXTURE_TEST(nan_and_infinity_are_kept),
        FIXTURE_TEST(limits_name_themselves),
        FIXTURE_TEST(text_must_be_utf8),
        FIXTURE_TEST(resend_is_applied_once),
        FIXTURE_TEST(resend_after_restart_from_audit_log),
        FIXTURE_TEST(resend_after_restart_from_dedup_tree),
        FIXTURE_TEST(dedup_kept_from_when_applied),
        FIXTURE_TEST(dedup_prune_goes_on_past_kept_ids),
        FIXTURE_TEST(artifact_path_limit_fits_a_key),
        FIXTURE_TEST(a_missing_chunk_is_a_storage_error),
        FIXTURE_TEST(tags_set_overwrite_delete),
        FIXTURE_TEST(run_end_sets_status),
        FIXTURE_TEST(unknown_run_is_reported),
        FIXTURE_TEST(audit_log_records_each_write),
        FIXTURE_TEST(search_filters_and_orders),
        FIXTURE_TEST(search_orders_by_run_id),
        FIXTURE_TEST(unknown_type_and_bad_body),
        FIXTURE_TEST(blob_get_reads_ranges_by_hash),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
