/* Datasets in the coordinator's store (coordinator/store_datasets.c) through
 * the dataset.* handlers, on a real LMDB file: versions by content, run
 * links both ways, resends, refusals that leave nothing behind. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <cmocka.h>

#include "store_datasets.h"
#include "store_fixture.h"

#define HASH_A "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define HASH_B "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"

static int setup(void **state)
{
    *state = fixture_new();
    return 0;
}

static int teardown(void **state)
{
    fixture_free(*state);
    return 0;
}

typedef struct log_spec {
    const char *name, *hash;
    int64_t size, files;
    const ulid *run;
    const char *context;
    const ulid *id; /* a resend's id; NULL: a new one */
} log_spec;

static cairn_status log_dataset(fixture *f, const log_spec *l)
{
    uint32_t n = 4 + (l->run != NULL) + (l->context != NULL);
    msgpack_packer *pk = begin(f, "dataset.log", n, l->id);
    pk_str(pk, "name");
    pk_str(pk, l->name);
    pk_str(pk, "hash");
    pk_str(pk, l->hash);
    pk_str(pk, "size");
    msgpack_pack_int64(pk, l->size);
    pk_str(pk, "files");
    msgpack_pack_int64(pk, l->files);
    if (l->run) {
        pk_str(pk, "run");
        mp_ulid(pk, l->run);
    }
    if (l->context) {
        pk_str(pk, "context");
        pk_str(pk, l->context);
    }
    return exec(f);
}

static cairn_status log_plain(fixture *f, const char *name, const char *hash, int64_t size,
                              int64_t files)
{
    return log_dataset(f, &(log_spec){.name = name, .hash = hash, .size = size, .files = files});
}

static cairn_status log_linked(fixture *f, const char *name, const char *hash, int64_t size,
                               int64_t files, const ulid *run, const char *context)
{
    return log_dataset(f,
                       &(log_spec){.name = name,
                                   .hash = hash,
                                   .size = size,
                                   .files = files,
                                   .run = run,
                                   .context = context});
}

static void expect_version(fixture *f, uint64_t version, bool created, bool duplicate)
{
    int64_t v = 0;
    bool n = !created, d = !duplicate;
    assert_int_equal(body_int(f->reply.body, "version", true, &v, NULL), CAIRN_OK);
    assert_int_equal(body_bool(f->reply.body, "new", true, &n, NULL), CAIRN_OK);
    assert_int_equal(body_bool(f->reply.body, "duplicate", true, &d, NULL), CAIRN_OK);
    assert_int_equal(v, version);
    assert_int_equal(n, created);
    assert_int_equal(d, duplicate);
}

static cairn_status read_named(fixture *f, const char *type, const char *name)
{
    msgpack_packer *pk = begin(f, type, name ? 1 : 0, NULL);
    if (name) {
        pk_str(pk, "name");
        pk_str(pk, name);
    }
    return exec(f);
}

static void same_content_same_version(void **state)
{
    fixture *f = *state;
    assert_int_equal(log_plain(f, "iris", HASH_A, 100, 3), CAIRN_OK);
    expect_version(f, 1, true, false);
    assert_int_equal(log_plain(f, "iris", HASH_A, 100, 3), CAIRN_OK);
    expect_version(f, 1, false, false);
    assert_int_equal(log_plain(f, "iris", HASH_B, 120, 4), CAIRN_OK);
    expect_version(f, 2, true, false);
    /* Content is per name: the same bytes are version 1 of another dataset. */
    assert_int_equal(log_plain(f, "mnist", HASH_B, 120, 4), CAIRN_OK);
    expect_version(f, 1, true, false);
    /* Going back to earlier content is that earlier version. */
    assert_int_equal(log_plain(f, "iris", HASH_A, 100, 3), CAIRN_OK);
    expect_version(f, 1, false, false);

    store_dataset d;
    MDB_txn *txn;
    mdb_txn_begin(f->s.env, NULL, MDB_RDONLY, &txn);
    assert_int_equal(store_dataset_get(&f->s, txn, (msg_str){"iris", 4}, &d, NULL), CAIRN_OK);
    assert_int_equal(d.versions, 2);
    mdb_txn_abort(txn);
}

static void resend_answers_the_first_reply(void **state)
{
    fixture *f = *state;
    ulid id = ulid_new();
    uint64_t seq = f->s.next_audit_seq;
    assert_int_equal(
        log_dataset(
            f, &(log_spec){.name = "iris", .hash = HASH_A, .size = 100, .files = 3, .id = &id}),
        CAIRN_OK);
    expect_version(f, 1, true, false);
    assert_int_equal(
        log_dataset(
            f, &(log_spec){.name = "iris", .hash = HASH_A, .size = 100, .files = 3, .id = &id}),
        CAIRN_OK);
    expect_version(f, 1, true, true);
    assert_int_equal(f->s.next_audit_seq, seq + 1); /* one change, one audit entry */
}

typedef struct uses {
    store_dataset_use u[8];
    char names[8][32], contexts[8][32];
    int n;
} uses;

static void collect(void *ctx, const store_dataset_use *u)
{
    uses *c = ctx;
    if (c->n == 8)
        return;
    c->u[c->n] = *u;
    msg_str_copy(u->name, c->names[c->n], sizeof c->names[0]);
    msg_str_copy(u->context, c->contexts[c->n], sizeof c->contexts[0]);
    c->n++;
}

/* The lineage join sees each (dataset version, context) a run used once,
 * with the version's hash, size and file count. */
static void run_links_both_ways(void **state)
{
    fixture *f = *state;
    ulid run = ulid_new(), other = ulid_new();
    assert_int_equal(start_run(f, &run, "e", "r"), CAIRN_OK);
    assert_int_equal(start_run(f, &other, "e", "o"), CAIRN_OK);
    assert_int_equal(log_linked(f, "iris", HASH_A, 100, 3, &run, "training"), CAIRN_OK);
    assert_int_equal(log_linked(f, "iris", HASH_A, 100, 3, &run, "training"), CAIRN_OK);
    assert_int_equal(log_linked(f, "holdout", HASH_B, 7, 1, &run, "test"), CAIRN_OK);
    assert_int_equal(log_linked(f, "iris", HASH_A, 100, 3, &other, "validation"), CAIRN_OK);

    uses got = {.n = 0};
    MDB_txn *txn;
    mdb_txn_begin(f->s.env, NULL, MDB_RDONLY, &txn);
    assert_int_equal(store_datasets_of_run(&f->s, txn, &run, collect, &got, NULL), CAIRN_OK);
    assert_int_equal(got.n, 2);
    assert_string_equal(got.names[0], "holdout");
    assert_string_equal(got.contexts[0], "test");
    assert_string_equal(got.names[1], "iris");
    assert_string_equal(got.contexts[1], "training");
    assert_int_equal(got.u[1].version.version, 1);
    assert_int_equal(got.u[1].version.size, 100);
    assert_int_equal(got.u[1].version.files, 3);
    char hex[65];
    sha256_hex(got.u[1].version.sha256, hex);
    assert_string_equal(hex, HASH_A);

    got.n = 0;
    assert_int_equal(
        store_dataset_version_runs(&f->s, txn, (msg_str){"iris", 4}, 1, collect, &got, NULL),
        CAIRN_OK);
    assert_int_equal(got.n, 2); /* run and other, in id order */
    assert_true(memcmp(got.u[0].run.b, got.u[1].run.b, ULID_BYTES) < 0);
    int mine = memcmp(got.u[0].run.b, run.b, ULID_BYTES) == 0 ? 0 : 1;
    assert_memory_equal(got.u[mine].run.b, run.b, ULID_BYTES);
    assert_memory_equal(got.u[1 - mine].run.b, other.b, ULID_BYTES);
    assert_string_equal(got.contexts[mine], "training");
    assert_string_equal(got.contexts[1 - mine], "validation");
    mdb_txn_abort(txn);
}

static void refusals_leave_nothing(void **state)
{
    fixture *f = *state;
    ulid ghost = ulid_new(), run = ulid_new();
    uint64_t seq = f->s.next_audit_seq;
    assert_int_equal(log_linked(f, "iris", HASH_A, 100, 3, &ghost, "training"),
                     CAIRN_RESOURCE_DOES_NOT_EXIST);
    assert_int_equal(read_named(f, "dataset.get", "iris"), CAIRN_RESOURCE_DOES_NOT_EXIST);
    assert_int_equal(log_plain(f, "iris", "ABC", 100, 3), CAIRN_BAD_MESSAGE);
    assert_int_equal(log_plain(f, "iris", HASH_A, 100, 0), CAIRN_INVALID_PARAMETER_VALUE);
    assert_int_equal(log_plain(f, "iris", HASH_A, -1, 1), CAIRN_INVALID_PARAMETER_VALUE);
    assert_int_equal(log_plain(f, "", HASH_A, 1, 1), CAIRN_INVALID_PARAMETER_VALUE);
    assert_int_equal(log_linked(f, "iris", HASH_A, 1, 1, NULL, "training"),
                     CAIRN_INVALID_PARAMETER_VALUE); /* a context without a run */
    assert_int_equal(start_run(f, &run, "e", "r"), CAIRN_OK);
    assert_int_equal(log_linked(f, "iris", HASH_A, 1, 1, &run, "Training!"),
                     CAIRN_INVALID_PARAMETER_VALUE);
    assert_int_equal(read_named(f, "dataset.get", "iris"), CAIRN_RESOURCE_DOES_NOT_EXIST);
    assert_int_equal(f->s.next_audit_seq, seq + 1); /* the run's start only */

    /* Known content with another size: refused, the version unchanged. */
    assert_int_equal(log_plain(f, "iris", HASH_A, 100, 3), CAIRN_OK);
    assert_int_equal(log_linked(f, "iris", HASH_A, 101, 3, &run, "test"),
                     CAIRN_INVALID_PARAMETER_VALUE);
    uses got = {.n = 0};
    MDB_txn *txn;
    mdb_txn_begin(f->s.env, NULL, MDB_RDONLY, &txn);
    assert_int_equal(store_datasets_of_run(&f->s, txn, &run, collect, &got, NULL), CAIRN_OK);
    assert_int_equal(got.n, 0);
    mdb_txn_abort(txn);
}

/* dataset.get: versions in order, each with its runs and an empty
 * model_versions; dataset.list: one entry per name, the newest version. */
static void reads_show_versions_and_runs(void **state)
{
    fixture *f = *state;
    ulid run = ulid_new();
    assert_int_equal(start_run(f, &run, "e", "r"), CAIRN_OK);
    assert_int_equal(log_plain(f, "iris", HASH_A, 100, 3), CAIRN_OK);
    assert_int_equal(log_linked(f, "iris", HASH_B, 120, 4, &run, "training"), CAIRN_OK);
    assert_int_equal(log_plain(f, "beta", HASH_A, 100, 3), CAIRN_OK);

    assert_int_equal(read_named(f, "dataset.get", "iris"), CAIRN_OK);
    const msgpack_object *d, *versions;
    assert_int_equal(body_map(f->reply.body, "dataset", true, &d, NULL), CAIRN_OK);
    assert_int_equal(body_array(d, "versions", true, &versions, NULL), CAIRN_OK);
    assert_int_equal(versions->via.array.size, 2);
    const msgpack_object *v2 = &versions->via.array.ptr[1], *runs, *models;
    msg_str hash, context;
    int64_t number;
    assert_int_equal(body_int(v2, "version", true, &number, NULL), CAIRN_OK);
    assert_int_equal(number, 2);
    assert_int_equal(body_str(v2, "hash", true, &hash, NULL), CAIRN_OK);
    assert_true(msg_str_eq(hash, HASH_B));
    assert_int_equal(body_array(v2, "runs", true, &runs, NULL), CAIRN_OK);
    assert_int_equal(runs->via.array.size, 1);
    assert_int_equal(body_str(&runs->via.array.ptr[0], "context", true, &context, NULL), CAIRN_OK);
    assert_true(msg_str_eq(context, "training"));
    assert_int_equal(body_array(v2, "model_versions", true, &models, NULL), CAIRN_OK);
    assert_int_equal(models->via.array.size, 0);

    assert_int_equal(read_named(f, "dataset.list", NULL), CAIRN_OK);
    const msgpack_object *list;
    msg_str name;
    assert_int_equal(body_array(f->reply.body, "datasets", true, &list, NULL), CAIRN_OK);
    assert_int_equal(list->via.array.size, 2);
    assert_int_equal(body_str(&list->via.array.ptr[0], "name", true, &name, NULL), CAIRN_OK);
    assert_true(msg_str_eq(name, "beta"));
    assert_int_equal(body_int(&list->via.array.ptr[1], "versions", true, &number, NULL), CAIRN_OK);
    assert_int_equal(number, 2);
    assert_int_equal(body_str(&list->via.array.ptr[1], "hash", true, &hash, NULL), CAIRN_OK);
    assert_true(msg_str_eq(hash, HASH_B));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(same_content_same_version, setup, teardown),
        cmocka_unit_test_setup_teardown(resend_answers_the_first_reply, setup, teardown),
        cmocka_unit_test_setup_teardown(run_links_both_ways, setup, teardown),
        cmocka_unit_test_setup_teardown(refusals_leave_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(reads_show_versions_and_runs, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
