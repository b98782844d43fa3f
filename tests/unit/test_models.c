/* The model registry's store through its request handlers, on a real LMDB file. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <cmocka.h>

#include "store_fixture.h"
#include "store_models.h"

static int64_t reply_int(fixture *f, const char *key)
{
    int64_t v = -1;
    assert_int_equal(body_int(f->reply.body, key, true, &v, NULL), CAIRN_OK);
    return v;
}

/* ---- requests ---- */

static cairn_status upload(fixture *f, const ulid *run, const char *path, const char *data)
{
    ulid up = ulid_new();
    msgpack_packer *pk = begin(f, "artifact.put", 6, NULL);
    pk_str(pk, "upload"), mp_ulid(pk, &up);
    pk_str(pk, "run"), mp_ulid(pk, run);
    pk_str(pk, "path"), pk_str(pk, path);
    pk_str(pk, "offset"), msgpack_pack_uint64(pk, 0);
    pk_str(pk, "data"), mp_bin(pk, data, strlen(data));
    pk_str(pk, "last"), mp_bool(pk, true);
    return exec(f);
}

/* A run with artifact model.bin holding content. */
static ulid run_with_model(fixture *f, const char *content)
{
    ulid run = ulid_new();
    assert_int_equal(start_run(f, &run, "train", ""), CAIRN_OK);
    assert_int_equal(upload(f, &run, "model.bin", content), CAIRN_OK);
    return run;
}

static cairn_status register_as(fixture *f, const char *name, const ulid *run, const char *path,
                                bool create_new, const ulid *id)
{
    msgpack_packer *pk = begin(f, "model.register", 4, id);
    pk_str(pk, "name"), pk_str(pk, name);
    pk_str(pk, "run"), mp_ulid(pk, run);
    pk_str(pk, "artifact"), pk_str(pk, path);
    pk_str(pk, "new"), mp_bool(pk, create_new);
    return exec(f);
}

static int64_t register_one(fixture *f, const char *name)
{
    ulid run = run_with_model(f, name);
    assert_int_equal(register_as(f, name, &run, "model.bin", false, NULL), CAIRN_OK);
    return reply_int(f, "version");
}

static cairn_status set_stage(fixture *f, const char *name, int version, const char *stage,
                              bool archive)
{
    msgpack_packer *pk = begin(f, "model.stage", 4, NULL);
    pk_str(pk, "name"), pk_str(pk, name);
    pk_str(pk, "version"), msgpack_pack_int(pk, version);
    pk_str(pk, "stage"), pk_str(pk, stage);
    pk_str(pk, "archive_existing"), mp_bool(pk, archive);
    return exec(f);
}

static cairn_status set_alias(fixture *f, const char *name, const char *alias, int version)
{
    msgpack_packer *pk = begin(f, "model.alias", 3, NULL);
    pk_str(pk, "name"), pk_str(pk, name);
    pk_str(pk, "alias"), pk_str(pk, alias);
    pk_str(pk, "version"), msgpack_pack_int(pk, version);
    return exec(f);
}

static cairn_status unalias(fixture *f, const char *name, const char *alias)
{
    msgpack_packer *pk = begin(f, "model.unalias", 2, NULL);
    pk_str(pk, "name"), pk_str(pk, name);
    pk_str(pk, "alias"), pk_str(pk, alias);
    return exec(f);
}

/* pointer: "alias" or "stage"; to 0: the previous holder. */
static cairn_status rollback(fixture *f, const char *name, const char *pointer, const char *value,
                             int to, const ulid *id)
{
    msgpack_packer *pk = begin(f, "model.rollback", to ? 3 : 2, id);
    pk_str(pk, "name"), pk_str(pk, name);
    pk_str(pk, pointer), pk_str(pk, value);
    if (to)
        pk_str(pk, "to"), msgpack_pack_int(pk, to);
    return exec(f);
}

/* The version a reference selects (key: "version", "alias" or "stage"), or -1. */
static int64_t resolve(fixture *f, const char *name, const char *key, const char *value)
{
    msgpack_packer *pk = begin(f, "model.version.get", 2, NULL);
    pk_str(pk, "name"), pk_str(pk, name);
    pk_str(pk, key);
    if (strcmp(key, "version") == 0)
        msgpack_pack_int(pk, atoi(value));
    else
        pk_str(pk, value);
    if (exec(f) != CAIRN_OK)
        return -1;
    int64_t v = -1;
    body_int(body_find(f->reply.body, "version"), "version", true, &v, NULL);
    return v;
}

static const char *stage_of(fixture *f, const char *name, int version)
{
    static char stage[32];
    char text[16];
    snprintf(text, sizeof text, "%d", version);
    assert_true(resolve(f, name, "version", text) == version);
    msg_str s;
    body_str(body_find(f->reply.body, "version"), "stage", true, &s, NULL);
    msg_str_copy(s, stage, sizeof stage);
    return stage;
}

static const msgpack_object *history(fixture *f, const char *name)
{
    msgpack_packer *pk = begin(f, "model.history", 1, NULL);
    pk_str(pk, "name"), pk_str(pk, name);
    assert_int_equal(exec(f), CAIRN_OK);
    return body_find(f->reply.body, "events");
}

/* ---- registering ---- */

static void versions_are_numbered_per_model(void **state)
{
    fixture *f = *state;
    assert_int_equal(register_one(f, "churn"), 1);
    assert_int_equal(register_one(f, "churn"), 2);
    assert_int_equal(register_one(f, "fraud"), 1);
    assert_int_equal(register_one(f, "churn"), 3);

    msgpack_packer *pk = begin(f, "model.versions", 3, NULL);
    pk_str(pk, "name"), pk_str(pk, "churn");
    pk_str(pk, "since"), msgpack_pack_int(pk, 2);
    pk_str(pk, "max"), msgpack_pack_int(pk, 1);
    assert_int_equal(exec(f), CAIRN_OK);
    const msgpack_object *list = body_find(f->reply.body, "versions");
    assert_int_equal(list->via.array.size, 1);
    assert_int_equal(reply_int(f, "next"), 3);

    pk = begin(f, "model.list", 0, NULL);
    assert_int_equal(exec(f), CAIRN_OK);
    list = body_find(f->reply.body, "models");
    assert_int_equal(list->via.array.size, 2);
    msg_str first;
    body_str(&list->via.array.ptr[0], "name", true, &first, NULL);
    assert_true(msg_str_eq(first, "churn"));
}

static void version_keeps_the_artifact_hash(void **state)
{
    fixture *f = *state;
    ulid run = run_with_model(f, "weights v1");
    assert_int_equal(register_as(f, "churn", &run, "model.bin", false, NULL), CAIRN_OK);
    /* The run's path is overwritten later: the version keeps what it registered. */
    assert_int_equal(upload(f, &run, "model.bin", "weights v2"), CAIRN_OK);
    assert_int_equal(resolve(f, "churn", "version", "1"), 1);
    const msgpack_object *art = body_find(body_find(f->reply.body, "version"), "artifact");
    int64_t size = 0;
    body_int(art, "size", true, &size, NULL);
    assert_int_equal(size, strlen("weights v1"));
    msg_str sha;
    body_str(art, "sha256", true, &sha, NULL);
    /* sha256("weights v1") */
    assert_true(
        msg_str_eq(sha, "13e35c44395f6cade670c076230362267c5288989d3498e207877d62b859a6d8"));
}

static void register_refusals_name_the_problem(void **state)
{
    fixture *f = *state;
    ulid run = run_with_model(f, "m"), nowhere = ulid_new();
    assert_int_equal(register_as(f, "churn", &nowhere, "model.bin", false, NULL),
                     CAIRN_RESOURCE_DOES_NOT_EXIST);
    assert_non_null(fixture_reply_mentions(f, "no run with id"));
    assert_int_equal(register_as(f, "churn", &run, "other.bin", false, NULL),
                     CAIRN_RESOURCE_DOES_NOT_EXIST);
    assert_non_null(fixture_reply_mentions(f, "has no artifact 'other.bin'"));
    assert_int_equal(register_as(f, "a/b", &run, "model.bin", false, NULL),
                     CAIRN_INVALID_PARAMETER_VALUE);
    assert_int_equal(register_as(f, "churn", &run, "model.bin", true, NULL), CAIRN_OK);
    assert_int_equal(register_as(f, "churn", &run, "model.bin", true, NULL),
                     CAIRN_RESOURCE_ALREADY_EXISTS);
    assert_non_null(fixture_reply_mentions(f, "model 'churn' already exists"));
    /* Refused requests wrote nothing: still one version. */
    msgpack_packer *pk = begin(f, "model.get", 1, NULL);
    pk_str(pk, "name"), pk_str(pk, "churn");
    assert_int_equal(exec(f), CAIRN_OK);
    int64_t latest = 0;
    body_int(body_find(f->reply.body, "model"), "latest_version", true, &latest, NULL);
    assert_int_equal(latest, 1);
}

static void register_resend_answers_its_version(void **state)
{
    fixture *f = *state;
    ulid run = run_with_model(f, "m"), id = ulid_new();
    assert_int_equal(register_as(f, "churn", &run, "model.bin", false, &id), CAIRN_OK);
    assert_int_equal(register_one(f, "churn"), 2);
    assert_int_equal(register_as(f, "churn", &run, "model.bin", false, &id), CAIRN_OK);
    bool dup = false;
    body_bool(f->reply.body, "duplicate", true, &dup, NULL);
    assert_true(dup);
    assert_int_equal(reply_int(f, "version"), 1);
}

static void visit_run_model(void *ctx, msg_str name, uint32_t version)
{
    char *out = ctx;
    size_t n = strlen(out);
    snprintf(out + n, 256 - n, "%.*s/%u ", (int)name.n, name.p, version);
}

static void versions_are_found_by_run(void **state)
{
    fixture *f = *state;
    ulid run = run_with_model(f, "m");
    assert_int_equal(register_as(f, "churn", &run, "model.bin", false, NULL), CAIRN_OK);
    register_one(f, "churn");
    assert_int_equal(register_as(f, "fraud", &run, "model.bin", false, NULL), CAIRN_OK);
    MDB_txn *txn;
    assert_int_equal(mdb_txn_begin(f->s.env, NULL, MDB_RDONLY, &txn), 0);
    char found[256] = "";
    assert_int_equal(store_model_versions_of_run(&f->s, txn, &run, visit_run_model, found, NULL),
                     CAIRN_OK);
    mdb_txn_abort(txn);
    assert_string_equal(found, "churn/1 fraud/1 ");
}

/* ---- references ---- */

static void references_resolve(void **state)
{
    fixture *f = *state;
    for (int i = 0; i < 3; i++)
        register_one(f, "churn");
    assert_int_equal(set_stage(f, "churn", 1, "production", false), CAIRN_OK);
    assert_int_equal(set_stage(f, "churn", 2, "PRODUCTION", false), CAIRN_OK);
    assert_int_equal(set_alias(f, "churn", "champion", 1), CAIRN_OK);
    assert_int_equal(resolve(f, "churn", "version", "3"), 3);
    assert_int_equal(resolve(f, "churn", "alias", "champion"), 1);
    assert_int_equal(resolve(f, "churn", "stage", "Production"), 2);
    assert_int_equal(resolve(f, "churn", "stage", "none"), 3);
    assert_int_equal(resolve(f, "churn", "stage", "Staging"), -1);
    assert_non_null(fixture_reply_mentions(f, "no version of model 'churn' is in stage Staging"));
    assert_int_equal(resolve(f, "churn", "alias", "nope"), -1);
    assert_non_null(fixture_reply_mentions(f, "has no alias 'nope'"));
    assert_int_equal(resolve(f, "churn", "version", "9"), -1);
    assert_non_null(fixture_reply_mentions(f, "has no version 9"));
    assert_int_equal(resolve(f, "churn", "stage", "Prod"), -1);
    assert_int_equal(f->reply.err_status, CAIRN_INVALID_PARAMETER_VALUE);
    assert_int_equal(resolve(f, "nope", "version", "1"), -1);
    assert_non_null(fixture_reply_mentions(f, "no model named 'nope'"));
}

/* ---- stages, aliases, history ---- */

static void archive_existing_moves_the_others(void **state)
{
    fixture *f = *state;
    for (int i = 0; i < 3; i++)
        register_one(f, "churn");
    assert_int_equal(set_stage(f, "churn", 1, "Production", false), CAIRN_OK);
    assert_int_equal(set_stage(f, "churn", 2, "Production", false), CAIRN_OK);
    assert_int_equal(set_stage(f, "churn", 3, "Production", true), CAIRN_OK);
    assert_string_equal(stage_of(f, "churn", 1), "Archived");
    assert_string_equal(stage_of(f, "churn", 2), "Archived");
    assert_string_equal(stage_of(f, "churn", 3), "Production");
    assert_int_equal(set_stage(f, "churn", 1, "Archived", true), CAIRN_INVALID_PARAMETER_VALUE);
    assert_int_equal(set_stage(f, "churn", 1, "Gone", false), CAIRN_INVALID_PARAMETER_VALUE);
    assert_non_null(fixture_reply_mentions(f, "unknown stage 'Gone'"));
    /* 3 moves, 2 archived alongside the last */
    assert_int_equal(history(f, "churn")->via.array.size, 5);
}

static void aliases_move_and_are_kept_in_history(void **state)
{
    fixture *f = *state;
    register_one(f, "churn");
    register_one(f, "churn");
    assert_int_equal(set_alias(f, "churn", "champion", 1), CAIRN_OK);
    assert_int_equal(set_alias(f, "churn", "champion", 2), CAIRN_OK);
    assert_int_equal(set_alias(f, "churn", "champion", 2), CAIRN_OK); /* unchanged: no event */
    assert_int_equal(set_alias(f, "churn", "champion", 7), CAIRN_RESOURCE_DOES_NOT_EXIST);
    assert_non_null(fixture_reply_mentions(f, "has no version 7"));
    assert_int_equal(set_alias(f, "churn", "bad alias", 1), CAIRN_INVALID_PARAMETER_VALUE);
    assert_int_equal(unalias(f, "churn", "champion"), CAIRN_OK);
    assert_int_equal(unalias(f, "churn", "champion"), CAIRN_RESOURCE_DOES_NOT_EXIST);
    const msgpack_object *events = history(f, "churn");
    assert_int_equal(events->via.array.size, 3);
    int64_t from = -1, to = -1;
    body_int(&events->via.array.ptr[1], "from", true, &from, NULL);
    body_int(&events->via.array.ptr[1], "to", true, &to, NULL);
    assert_int_equal(from, 1);
    assert_int_equal(to, 2);
    assert_int_equal(body_find(&events->via.array.ptr[2], "to")->type, MSGPACK_OBJECT_NIL);
    msg_str actor;
    body_str(&events->via.array.ptr[0], "actor", true, &actor, NULL);
    assert_true(msg_str_eq(actor, "test"));
}

/* ---- rollback ---- */

static int64_t rolled_to(fixture *f)
{
    return reply_int(f, "version");
}

static void alias_rollback_walks_back(void **state)
{
    fixture *f = *state;
    for (int i = 1; i <= 3; i++) {
        register_one(f, "churn");
        assert_int_equal(set_alias(f, "churn", "champion", i), CAIRN_OK);
    }
    assert_int_equal(rollback(f, "churn", "alias", "champion", 0, NULL), CAIRN_OK);
    assert_int_equal(rolled_to(f), 2);
    assert_int_equal(reply_int(f, "previous"), 3);
    assert_int_equal(rollback(f, "churn", "alias", "champion", 0, NULL), CAIRN_OK);
    assert_int_equal(rolled_to(f), 1);
    assert_int_equal(rollback(f, "churn", "alias", "champion", 0, NULL), CAIRN_INVALID_STATE);
    assert_non_null(fixture_reply_mentions(f, "named no version before version 1"));
    assert_int_equal(resolve(f, "churn", "alias", "champion"), 1);
    /* --to: a change like any other, which a later rollback takes back. */
    assert_int_equal(rollback(f, "churn", "alias", "champion", 3, NULL), CAIRN_OK);
    assert_int_equal(rolled_to(f), 3);
    assert_int_equal(rollback(f, "churn", "alias", "champion", 0, NULL), CAIRN_OK);
    assert_int_equal(rolled_to(f), 1);
    const msgpack_object *events = history(f, "churn");
    int64_t undoes = 0;
    body_int(&events->via.array.ptr[3], "undoes", true, &undoes, NULL);
    assert_int_equal(undoes, 3); /* the first rollback undid the third promotion */
}

/* An alias that went back and forth: rollbacks retrace the holders in the
 * order they held it, and stop at the first. */
static void alias_rollback_retraces_a_cycle(void **state)
{
    fixture *f = *state;
    for (int i = 0; i < 3; i++)
        register_one(f, "churn");
    int order[] = {1, 2, 1, 3};
    for (int i = 0; i < 4; i++)
        assert_int_equal(set_alias(f, "churn", "champion", order[i]), CAIRN_OK);
    int expect[] = {1, 2, 1};
    for (int i = 0; i < 3; i++) {
        assert_int_equal(rollback(f, "churn", "alias", "champion", 0, NULL), CAIRN_OK);
        assert_int_equal(rolled_to(f), expect[i]);
    }
    assert_int_equal(rollback(f, "churn", "alias", "champion", 0, NULL), CAIRN_INVALID_STATE);
}

static void stage_rollback_restores_the_archived(void **state)
{
    fixture *f = *state;
    for (int i = 1; i <= 3; i++) {
        register_one(f, "churn");
        assert_int_equal(set_stage(f, "churn", i, "Staging", false), CAIRN_OK);
        assert_int_equal(set_stage(f, "churn", i, "Production", true), CAIRN_OK);
    }
    assert_int_equal(rollback(f, "churn", "stage", "production", 0, NULL), CAIRN_OK);
    assert_int_equal(rolled_to(f), 2);
    assert_string_equal(stage_of(f, "churn", 3), "Staging"); /* where it was before */
    assert_string_equal(stage_of(f, "churn", 2), "Production");
    assert_int_equal(rollback(f, "churn", "stage", "Production", 0, NULL), CAIRN_OK);
    assert_int_equal(rolled_to(f), 1);
    assert_string_equal(stage_of(f, "churn", 2), "Staging");
    assert_int_equal(rollback(f, "churn", "stage", "Production", 0, NULL), CAIRN_INVALID_STATE);
    assert_non_null(fixture_reply_mentions(f, "version 1 is the first to hold Production"));
    assert_string_equal(stage_of(f, "churn", 1), "Production");
    /* --to archives the others; a rollback then takes that back. */
    assert_int_equal(rollback(f, "churn", "stage", "Production", 3, NULL), CAIRN_OK);
    assert_int_equal(rolled_to(f), 3);
    assert_string_equal(stage_of(f, "churn", 1), "Archived");
    assert_int_equal(rollback(f, "churn", "stage", "Production", 0, NULL), CAIRN_OK);
    assert_int_equal(rolled_to(f), 1);
    assert_string_equal(stage_of(f, "churn", 3), "Staging");
}

static void rollback_refusals(void **state)
{
    fixture *f = *state;
    register_one(f, "churn");
    assert_int_equal(rollback(f, "churn", "alias", "champion", 0, NULL), CAIRN_INVALID_STATE);
    assert_non_null(fixture_reply_mentions(f, "is not set"));
    assert_int_equal(rollback(f, "churn", "stage", "Production", 0, NULL), CAIRN_INVALID_STATE);
    assert_int_equal(rollback(f, "churn", "stage", "None", 0, NULL), CAIRN_INVALID_PARAMETER_VALUE);
    assert_int_equal(rollback(f, "churn", "alias", "champion", 4, NULL),
                     CAIRN_RESOURCE_DOES_NOT_EXIST);
    msgpack_packer *pk = begin(f, "model.rollback", 1, NULL);
    pk_str(pk, "name"), pk_str(pk, "churn");
    assert_int_equal(exec(f), CAIRN_BAD_MESSAGE);
    assert_int_equal(history(f, "churn")->via.array.size, 0);
}

static void rollback_resend_is_applied_once(void **state)
{
    fixture *f = *state;
    for (int i = 1; i <= 3; i++) {
        register_one(f, "churn");
        assert_int_equal(set_alias(f, "churn", "champion", i), CAIRN_OK);
    }
    ulid id = ulid_new();
    assert_int_equal(rollback(f, "churn", "alias", "champion", 0, &id), CAIRN_OK);
    assert_int_equal(rollback(f, "churn", "alias", "champion", 0, &id), CAIRN_OK);
    assert_int_equal(rolled_to(f), 2);
    assert_int_equal(resolve(f, "churn", "alias", "champion"), 2);
    assert_int_equal(history(f, "churn")->via.array.size, 4);
}

/* ---- untrusted bodies ---- */

static cairn_status register_with(fixture *f, const ulid *run, const char *field,
                                  const char *json_like)
{
    msgpack_packer *pk = begin(f, "model.register", 4, NULL);
    pk_str(pk, "name"), pk_str(pk, "churn");
    pk_str(pk, "run"), mp_ulid(pk, run);
    pk_str(pk, "artifact"), pk_str(pk, "model.bin");
    pk_str(pk, field);
    /* the shapes a signature must not have */
    if (strcmp(json_like, "inputs-not-array") == 0) {
        msgpack_pack_map(pk, 1);
        pk_str(pk, "inputs"), pk_str(pk, "age");
    } else if (strcmp(json_like, "column-not-map") == 0) {
        msgpack_pack_map(pk, 1);
        pk_str(pk, "inputs"), msgpack_pack_array(pk, 1), msgpack_pack_int(pk, 1);
    } else if (strcmp(json_like, "extra-key") == 0) {
        msgpack_pack_map(pk, 2);
        pk_str(pk, "inputs"), msgpack_pack_array(pk, 0);
        pk_str(pk, "notes"), pk_str(pk, "x");
    } else { /* tags with a number */
        msgpack_pack_map(pk, 1);
        pk_str(pk, "k"), msgpack_pack_int(pk, 1);
    }
    return exec(f);
}

/* Malformed or oversized fields are refused as what they are: never as a
 * store error, which would abort every write of the request's group. */
static void untrusted_bodies_are_refused(void **state)
{
    fixture *f = *state;
    ulid run = run_with_model(f, "m");
    assert_int_equal(register_with(f, &run, "signature", "inputs-not-array"), CAIRN_BAD_MESSAGE);
    assert_int_equal(register_with(f, &run, "signature", "column-not-map"), CAIRN_BAD_MESSAGE);
    assert_int_equal(register_with(f, &run, "signature", "extra-key"), CAIRN_BAD_MESSAGE);
    assert_int_equal(register_with(f, &run, "tags", "number"), CAIRN_BAD_MESSAGE);
    char path[901], name[601];
    memset(path, 'p', 900), path[900] = '\0';
    memset(name, 'n', 600), name[600] = '\0';
    assert_int_equal(register_as(f, "churn", &run, path, false, NULL), CAIRN_LIMIT_EXCEEDED);
    assert_int_equal(set_stage(f, name, 1, "Staging", false), CAIRN_RESOURCE_DOES_NOT_EXIST);
    register_one(f, "churn");
    assert_int_equal(set_stage(f, "churn", -1, "Staging", false), CAIRN_INVALID_PARAMETER_VALUE);
    assert_int_equal(resolve(f, "churn", "alias", name), -1);
    assert_int_equal(f->reply.err_status, CAIRN_RESOURCE_DOES_NOT_EXIST);
    msgpack_packer *pk = begin(f, "model.version.get", 3, NULL);
    pk_str(pk, "name"), pk_str(pk, "churn");
    pk_str(pk, "version"), msgpack_pack_int(pk, 1);
    pk_str(pk, "alias"), pk_str(pk, "champion");
    assert_int_equal(exec(f), CAIRN_BAD_MESSAGE);
    assert_int_equal(history(f, "churn")->via.array.size, 0);
}

/* ---- lineage ---- */

static void lineage_holds_run_events_and_datasets(void **state)
{
    fixture *f = *state;
    ulid run = run_with_model(f, "m");
    assert_int_equal(register_as(f, "churn", &run, "model.bin", false, NULL), CAIRN_OK);
    register_one(f, "churn");
    assert_int_equal(set_stage(f, "churn", 1, "Production", false), CAIRN_OK);
    assert_int_equal(set_alias(f, "churn", "champion", 2), CAIRN_OK);
    assert_int_equal(set_alias(f, "churn", "champion", 1), CAIRN_OK);
    msgpack_packer *pk = begin(f, "model.lineage", 2, NULL);
    pk_str(pk, "name"), pk_str(pk, "churn");
    pk_str(pk, "alias"), pk_str(pk, "champion");
    assert_int_equal(exec(f), CAIRN_OK);
    const msgpack_object *b = f->reply.body;
    int64_t v = 0;
    body_int(body_find(b, "version"), "version", true, &v, NULL);
    assert_int_equal(v, 1);
    const msgpack_object *r = body_find(b, "run");
    assert_non_null(r);
    assert_non_null(body_find(r, "params"));
    assert_int_equal(body_find(b, "datasets")->via.array.size, 0);
    /* version 1's: its stage change and the alias coming to it (not the one to 2) */
    assert_int_equal(body_find(b, "events")->via.array.size, 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        FIXTURE_TEST(versions_are_numbered_per_model),
        FIXTURE_TEST(version_keeps_the_artifact_hash),
        FIXTURE_TEST(register_refusals_name_the_problem),
        FIXTURE_TEST(register_resend_answers_its_version),
        FIXTURE_TEST(versions_are_found_by_run),
        FIXTURE_TEST(references_resolve),
        FIXTURE_TEST(archive_existing_moves_the_others),
        FIXTURE_TEST(aliases_move_and_are_kept_in_history),
        FIXTURE_TEST(alias_rollback_walks_back),
        FIXTURE_TEST(alias_rollback_retraces_a_cycle),
        FIXTURE_TEST(stage_rollback_restores_the_archived),
        FIXTURE_TEST(rollback_refusals),
        FIXTURE_TEST(rollback_resend_is_applied_once),
        FIXTURE_TEST(untrusted_bodies_are_refused),
        FIXTURE_TEST(lineage_holds_run_events_and_datasets),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
