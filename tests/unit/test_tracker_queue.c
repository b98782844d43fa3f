/*
 * cairn_tracker's queue without a server: coalescing, order, limits, key
 * interning and splitting into requests (sdk/src/tracker_queue.c,
 * sdk/src/tracker_encode.c).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <string.h>

#include "body.h"
#include "msg.h"
#include "tracker_encode.h"
#include "tracker_queue.h"

static ulid run_a(void)
{
    ulid u;
    assert_true(ulid_parse("01HZY3ZQ5W8X9V6T4R2P0N1M3K", &u));
    return u;
}

static ulid run_b(void)
{
    ulid u;
    assert_true(ulid_parse("01HZY3ZQ5W8X9V6T4R2P0N1M3M", &u));
    return u;
}

static void push(tk_queue *q, const ulid *run, const char *key, double value, int64_t step)
{
    tk_point p = {.value = value, .step = step, .timestamp = 1000 + step};
    p.key = tkq_intern(q, key, strlen(key), tk_key_hash(key, strlen(key)));
    assert_non_null(p.key);
    assert_int_equal(tkq_room(q, 1), CAIRN_OK);
    assert_int_equal(tkq_push_point(q, run, &p), CAIRN_OK);
}

static void release_all(tk_queue *q, tk_op *op)
{
    while (op) {
        tk_op *next = op->next;
        tkq_release(q, op);
        op = next;
    }
}

static void test_coalescing_and_order(void **state)
{
    (void)state;
    tk_queue q;
    ulid a = run_a(), b = run_b();
    cairn_kv param = {"lr", "0.1"};
    tkq_init(&q, 100);
    push(&q, &a, "loss", 1, 0);
    push(&q, &a, "acc", 2, 0);
    push(&q, &a, "loss", 3, 1);
    assert_int_equal(tkq_push_op(&q, tk_op_kv(TK_PARAMS, &a, &param, 1)), CAIRN_OK);
    push(&q, &a, "loss", 4, 2);
    push(&q, &b, "loss", 5, 0);
    assert_int_equal(q.items, 6);
    assert_int_equal(tkq_last_seq(&q), 4);

    tk_op *ops = tkq_take(&q);
    const tk_kind kinds[] = {TK_METRICS, TK_PARAMS, TK_METRICS, TK_METRICS};
    const size_t items[] = {3, 1, 1, 1};
    size_t i = 0;
    for (tk_op *op = ops; op; op = op->next, i++) {
        assert_true(i < 4);
        assert_int_equal(op->kind, kinds[i]);
        assert_int_equal(op->items, items[i]);
        assert_int_equal(op->seq, i + 1);
    }
    assert_int_equal(i, 4);
    assert_memory_equal(ops->next->next->next->run.b, b.b, ULID_BYTES);
    /* The three points of the first operation, in call order. */
    const tk_chunk *c = ops->u.metrics.first;
    assert_int_equal(c->n, 3);
    assert_string_equal(c->p[0].key->s, "loss");
    assert_string_equal(c->p[1].key->s, "acc");
    assert_true(c->p[2].value == 3 && c->p[2].step == 1);

    /* Taken operations are closed: the next point starts a new one. */
    assert_int_equal(q.waiting_items, 0);
    push(&q, &b, "loss", 6, 1);
    assert_non_null(q.head);
    assert_int_equal(q.head->seq, 5);
    assert_int_equal(q.items, 7);
    release_all(&q, ops);
    tkq_destroy(&q);
}

static ulid run_n(int n)
{
    ulid u = run_a();
    u.b[14] = (uint8_t)(n >> 8);
    u.b[15] = (uint8_t)n;
    return u;
}

/* The kinds and item counts of the operations, in queue order. */
static void assert_ops(const tk_op *op, const tk_kind *kinds, const size_t *items, size_t n)
{
    size_t i = 0;
    for (; op; op = op->next, i++) {
        assert_true(i < n);
        assert_int_equal(op->kind, kinds[i]);
        assert_int_equal(op->items, items[i]);
    }
    assert_int_equal(i, n);
}

/* A sweep steps its runs in turn: each run's points still share one
 * operation (one request), not one operation and one chunk per point. */
static void test_runs_logged_in_turn_share_operations(void **state)
{
    (void)state;
    tk_queue q;
    ulid a = run_a(), b = run_b();
    tkq_init(&q, 10000);
    for (int i = 0; i < 1000; i++)
        push(&q, i % 2 ? &b : &a, "loss", i, i / 2);
    tk_op *ops = tkq_take(&q);
    assert_ops(ops, (tk_kind[]){TK_METRICS, TK_METRICS}, (size_t[]){500, 500}, 2);
    for (const tk_op *op = ops; op; op = op->next) {
        int i = op == ops ? 0 : 1;
        for (const tk_chunk *c = op->u.metrics.first; c; c = c->next)
            for (size_t j = 0; j < c->n; j++, i += 2)
                assert_true(c->p[j].value == i && c->p[j].step == i / 2);
        assert_int_equal(i, 1000 + (op == ops ? 0 : 1));
    }
    release_all(&q, ops);

    /* Many runs: the table grows and keeps them apart. */
    for (int step = 0; step < 5; step++)
        for (int r = 0; r < 300; r++) {
            ulid u = run_n(r);
            push(&q, &u, "loss", r, step);
        }
    ops = tkq_take(&q);
    int n = 0;
    for (const tk_op *op = ops; op; op = op->next, n++) {
        assert_int_equal(op->items, 5);
        assert_memory_equal(op->run.b, run_n(n).b, ULID_BYTES);
    }
    assert_int_equal(n, 300);
    release_all(&q, ops);
    tkq_destroy(&q);
}

/* A run's points never pass anything else queued for that run, and the
 * sender's take closes every operation. */
static void test_points_stay_behind_their_runs_other_operations(void **state)
{
    (void)state;
    tk_queue q;
    ulid a = run_a(), b = run_b();
    cairn_kv tag = {"team", "x"};
    cairn_dataset_digest digest = {0};
    tkq_init(&q, 100);
    push(&q, &a, "loss", 1, 0);
    push(&q, &b, "loss", 2, 0);
    assert_int_equal(tkq_push_op(&q, tk_op_kv(TK_TAGS, &a, &tag, 1)), CAIRN_OK);
    push(&q, &a, "loss", 3, 1); /* after the tags: a new operation */
    push(&q, &b, "loss", 4, 1); /* joins b's first */
    assert_int_equal(tkq_push_op(&q, tk_op_end(&b, "FINISHED", 5)), CAIRN_OK);
    push(&q, &b, "loss", 6, 2); /* after b's end: a new operation */
    /* A dataset version of no run holds no run's points back. */
    assert_int_equal(tkq_push_op(&q, tk_op_dataset(NULL, "d", &digest, NULL, NULL)), CAIRN_OK);
    push(&q, &a, "loss", 7, 2);
    const tk_kind kinds[] = {TK_METRICS, TK_METRICS, TK_TAGS, TK_METRICS, TK_END, TK_METRICS,
                             TK_DATASET};
    const size_t items[] = {1, 2, 1, 2, 1, 1, 1};
    tk_op *ops = tkq_take(&q);
    assert_ops(ops, kinds, items, 7);
    const tk_chunk *c = ops->next->next->next->u.metrics.first;
    assert_true(c->p[0].value == 3 && c->p[1].value == 7);
    /* What was taken is closed to later points. */
    push(&q, &a, "loss", 8, 3);
    assert_ptr_equal(q.head, q.tail);
    assert_int_equal(q.head->seq, 8);
    release_all(&q, ops);
    release_all(&q, tkq_take(&q));
    tkq_destroy(&q);
}

static void test_chunks_keep_order(void **state)
{
    (void)state;
    tk_queue q;
    ulid a = run_a();
    tkq_init(&q, 10000);
    for (int i = 0; i < 3000; i++)
        push(&q, &a, i % 2 ? "odd" : "even", i, i);
    tk_op *op = tkq_take(&q);
    assert_null(op->next);
    assert_int_equal(op->items, 3000);
    int i = 0;
    for (const tk_chunk *c = op->u.metrics.first; c; c = c->next)
        for (size_t j = 0; j < c->n; j++, i++)
            assert_true(c->p[j].value == i && c->p[j].step == i);
    assert_int_equal(i, 3000);
    /* Released chunks are reused, not freed and allocated again. */
    tkq_release(&q, op);
    assert_int_equal(q.n_spare, 3);
    push(&q, &a, "loss", 0, 0);
    assert_int_equal(q.n_spare, 2);
    release_all(&q, tkq_take(&q));
    tkq_destroy(&q);
}

static void test_room_and_backpressure(void **state)
{
    (void)state;
    tk_queue q;
    ulid a = run_a();
    cairn_kv param = {"lr", "0.1"};
    tkq_init(&q, 5);
    for (int i = 0; i < 5; i++)
        push(&q, &a, "loss", i, i);
    assert_int_equal(tkq_room(&q, 1), CAIRN_BACKPRESSURE);
    assert_int_equal(tkq_room(&q, 6), CAIRN_LIMIT_EXCEEDED);
    tk_op *op = tk_op_kv(TK_PARAMS, &a, &param, 1);
    assert_int_equal(tkq_push_op(&q, op), CAIRN_BACKPRESSURE);
    assert_int_equal(tkq_last_seq(&q), 1); /* nothing queued */
    tk_op *taken = tkq_take(&q);
    /* Taken but not acknowledged still counts: the sender may have to resend it. */
    assert_int_equal(tkq_room(&q, 1), CAIRN_BACKPRESSURE);
    tkq_acked(&q, 2);
    assert_int_equal(tkq_room(&q, 2), CAIRN_OK);
    assert_int_equal(tkq_room(&q, 3), CAIRN_BACKPRESSURE);
    assert_int_equal(tkq_push_op(&q, op), CAIRN_OK);
    release_all(&q, taken);
    tkq_destroy(&q);
}

static void test_key_interning(void **state)
{
    (void)state;
    tk_keys keys = {0};
    char buf[32], long_key[300];
    const tk_key *first[200];
    for (int i = 0; i < 200; i++) { /* enough to grow the table twice */
        snprintf(buf, sizeof buf, "metric/%d", i);
        first[i] = tk_keys_intern(&keys, buf, strlen(buf), tk_key_hash(buf, strlen(buf)));
        assert_non_null(first[i]);
        assert_int_equal(first[i]->status, CAIRN_OK);
    }
    assert_int_equal(keys.count, 200);
    for (int i = 0; i < 200; i++) { /* same text from another buffer: same key */
        snprintf(buf, sizeof buf, "metric/%d", i);
        assert_ptr_equal(tk_keys_intern(&keys, buf, strlen(buf), tk_key_hash(buf, strlen(buf))),
                         first[i]);
        assert_string_equal(first[i]->s, buf);
    }
    assert_int_equal(keys.count, 200);
    const tk_key *bad = tk_keys_intern(&keys, "a\tb", 3, tk_key_hash("a\tb", 3));
    assert_int_equal(bad->status, CAIRN_INVALID_PARAMETER_VALUE);
    assert_int_equal(tk_keys_intern(&keys, "", 0, tk_key_hash("", 0))->status,
                     CAIRN_INVALID_PARAMETER_VALUE);
    memset(long_key, 'k', sizeof long_key);
    assert_int_equal(tk_keys_intern(&keys, long_key, 251, tk_key_hash(long_key, 251))->status,
                     CAIRN_LIMIT_EXCEEDED);
    assert_int_equal(tk_keys_intern(&keys, long_key, 250, tk_key_hash(long_key, 250))->status,
                     CAIRN_OK);
    tk_keys_free(&keys);
}

/* Decodes an encoded run.log and returns its metrics array. */
static const msgpack_object *decoded_metrics(msg_decoder *d, const msg_writer *w, msg *m)
{
    const msgpack_object *metrics = NULL;
    assert_int_equal(msg_decode(d, w->sb.data, w->sb.size, m, NULL), CAIRN_OK);
    assert_true(msg_str_eq(m->type, "run.log"));
    assert_int_equal(body_array(m->body, "metrics", true, &metrics, NULL), CAIRN_OK);
    return metrics;
}

static void test_split_into_requests(void **state)
{
    (void)state;
    tk_queue q;
    ulid a = run_a(), ids[4];
    msg_writer w;
    msg_decoder d;
    msg m;
    tkq_init(&q, 200000);
    for (int i = 0; i < 120001; i++)
        push(&q, &a, "loss", i, i);
    tk_op *op = tkq_take(&q);
    tk_cursor cur = tk_cursor_start(op);
    msg_writer_init(&w);
    msg_decoder_init(&d, 0);
    const size_t expect[] = {TK_MSG_POINTS, TK_MSG_POINTS, 20001};
    int64_t next = 0;
    for (int r = 0; r < 3; r++) {
        assert_non_null(cur.chunk);
        size_t n = tk_encode_metrics(&w, &ids[r], "test", &a, &cur, TK_MSG_POINTS);
        assert_int_equal(n, expect[r]);
        const msgpack_object *metrics = decoded_metrics(&d, &w, &m);
        assert_memory_equal(m.id.b, ids[r].b, ULID_BYTES);
        assert_int_equal(metrics->via.array.size, expect[r]);
        for (uint32_t i = 0; i < metrics->via.array.size; i++, next++) {
            const msgpack_object *p = metrics->via.array.ptr[i].via.array.ptr;
            assert_true(p[1].via.f64 == (double)next);
            assert_int_equal(p[2].via.i64, next);
        }
    }
    assert_null(cur.chunk);
    assert_int_equal(next, 120001);
    assert_memory_not_equal(ids[0].b, ids[1].b, ULID_BYTES);
    release_all(&q, op);

    /* Long keys: the byte budget, not the point count, ends a request. */
    char key[251];
    memset(key, 'k', 250);
    key[250] = '\0';
    for (int i = 0; i < 20000; i++)
        push(&q, &a, key, i, i);
    op = tkq_take(&q);
    cur = tk_cursor_start(op);
    size_t n = tk_encode_metrics(&w, &ids[3], "test", &a, &cur, TK_MSG_POINTS);
    assert_true(n < 20000 && n > 1000);
    assert_true(w.sb.size < TK_MSG_BYTES + 4096);
    release_all(&q, op);
    msg_decoder_destroy(&d);
    msg_writer_destroy(&w);
    tkq_destroy(&q);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_coalescing_and_order),
        cmocka_unit_test(test_runs_logged_in_turn_share_operations),
        cmocka_unit_test(test_points_stay_behind_their_runs_other_operations),
        cmocka_unit_test(test_chunks_keep_order),
        cmocka_unit_test(test_room_and_backpressure),
        cmocka_unit_test(test_key_interning),
        cmocka_unit_test(test_split_into_requests),
    };
    return cmocka_run_group_tests_name("tracker queue", tests, NULL, NULL);
}
