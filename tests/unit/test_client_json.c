/*
 * libcairn's --json shapes (the public contract in docs/cli.md) and the
 * decoding of reply bodies into the structs they are printed from.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <jansson.h>
#include <math.h>
#include <msgpack.h>
#include <stdlib.h>
#include <string.h>

#include "cairn/client.h"
#include "client_internal.h"
#include "msg.h"
#include "mp_json.h"

#define SHA_A "a3f1c2d4e5b60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90"
#define RUN_ID "01HZY3ZQ5W8X9V6T4R2P0N1M3K"

/* ---- a run built by hand, freed by cairn_run_free ---- */

static cairn_kv *kvs(size_t n, const char *const *pairs)
{
    cairn_kv *kv = calloc(n, sizeof *kv);
    for (size_t i = 0; i < n; i++) {
        kv[i].key = strdup(pairs[2 * i]);
        kv[i].value = strdup(pairs[2 * i + 1]);
    }
    return kv;
}

static cairn_run *make_run(void)
{
    static const char *const params[] = {"lr", "0.1", "model", "rf"};
    static const char *const tags[] = {"team", "ml"};
    cairn_run *r = calloc(1, sizeof *r);
    strcpy(r->id, RUN_ID);
    r->experiment = strdup("exp");
    r->experiment_id = 7;
    r->name = strdup("baseline");
    r->status = strdup("RUNNING");
    r->start_time = 1700000000000;
    r->params = kvs(2, params);
    r->n_params = 2;
    r->tags = kvs(1, tags);
    r->n_tags = 1;
    r->metrics = calloc(4, sizeof *r->metrics);
    r->n_metrics = 4;
    r->metrics[0] = (cairn_metric){strdup("acc"), 0.5, 3, 1700000000500};
    r->metrics[1] = (cairn_metric){strdup("big"), INFINITY, 0, 1};
    r->metrics[2] = (cairn_metric){strdup("loss"), NAN, 1, 2};
    r->metrics[3] = (cairn_metric){strdup("low"), -INFINITY, 2, 3};
    r->artifacts = calloc(1, sizeof *r->artifacts);
    r->n_artifacts = 1;
    r->artifacts[0].path = strdup("model.bin");
    r->artifacts[0].size = 1024;
    strcpy(r->artifacts[0].sha256, SHA_A);
    return r;
}

static const char expected_run[] =
    "{\n"
    "  \"id\": \"" RUN_ID "\",\n"
    "  \"experiment\": \"exp\",\n"
    "  \"name\": \"baseline\",\n"
    "  \"status\": \"RUNNING\",\n"
    "  \"start_time\": 1700000000000,\n"
    "  \"end_time\": null,\n"
    "  \"params\": {\n"
    "    \"lr\": \"0.1\",\n"
    "    \"model\": \"rf\"\n"
    "  },\n"
    "  \"metrics\": {\n"
    "    \"acc\": 0.5,\n"
    "    \"big\": \"Infinity\",\n"
    "    \"loss\": \"NaN\",\n"
    "    \"low\": \"-Infinity\"\n"
    "  },\n"
    "  \"tags\": {\n"
    "    \"team\": \"ml\"\n"
    "  },\n"
    "  \"artifacts\": [\n"
    "    {\n"
    "      \"path\": \"model.bin\",\n"
    "      \"size\": 1024,\n"
    "      \"sha256\": \"" SHA_A "\"\n"
    "    }\n"
    "  ]\n"
    "}";

static void test_run_shape_exact(void **state)
{
    (void)state;
    cairn_run *r = make_run();
    char *json = cairn_run_to_json(r);
    assert_non_null(json);
    assert_string_equal(json, expected_run);
    free(json);
    cairn_run_free(r);
}

static void test_run_end_time_and_empty_maps(void **state)
{
    (void)state;
    cairn_run *r = calloc(1, sizeof *r);
    strcpy(r->id, RUN_ID);
    r->experiment = strdup("e");
    r->name = strdup("");
    r->status = strdup("FINISHED");
    r->start_time = 1;
    r->end_time = 1700000001234;
    char *json = cairn_run_to_json(r);
    json_t *j = json_loads(json, 0, NULL);
    assert_non_null(j);
    assert_int_equal(json_integer_value(json_object_get(j, "end_time")), 1700000001234);
    assert_true(json_is_object(json_object_get(j, "params")));
    assert_int_equal(json_object_size(json_object_get(j, "metrics")), 0);
    assert_true(json_is_array(json_object_get(j, "artifacts")));
    assert_int_equal(json_array_size(json_object_get(j, "artifacts")), 0);
    json_decref(j);
    free(json);
    cairn_run_free(r);
}

/* Doubles are written so that they read back to the same bits. */
static void test_metric_values_round_trip(void **state)
{
    (void)state;
    static const double values[] = {0.1, 1.0 / 3, 1e-300, -2.5e17, 123456789.123456789, 0.0};
    cairn_run *r = make_run();
    for (size_t i = 0; i < sizeof values / sizeof values[0]; i++) {
        r->metrics[0].value = values[i];
        char *json = cairn_run_to_json(r);
        json_t *j = json_loads(json, 0, NULL);
        json_t *acc = json_object_get(json_object_get(j, "metrics"), "acc");
        assert_true(json_is_real(acc));
        assert_memory_equal(&values[i], &(double){json_real_value(acc)}, sizeof(double));
        json_decref(j);
        free(json);
    }
    cairn_run_free(r);
}

/* Digits are as few as every value of the document allows, never fewer. */
static void test_metric_values_short_when_exact(void **state)
{
    (void)state;
    cairn_history h = {.points = (cairn_point[]){{0, 0.9, 1}, {1, 100, 2}, {2, 1e-300, 3}},
                       .count = 3};
    char *json = cairn_history_to_json(&h);
    assert_non_null(strstr(json, "\"value\": 0.9,"));
    assert_non_null(strstr(json, "\"value\": 100.0,"));
    assert_non_null(strstr(json, "\"value\": 1e-300,"));
    free(json);
    h.points[1].value = 1.0 / 3; /* needs 16 digits: the whole document gets them */
    json = cairn_history_to_json(&h);
    assert_non_null(strstr(json, "\"value\": 0.9,"));
    assert_non_null(strstr(json, "\"value\": 0.3333333333333333,"));
    free(json);
}

static void test_bad_utf8_is_repaired(void **state)
{
    (void)state;
    cairn_run *r = make_run();
    free(r->name);
    r->name = strdup("caf\xe9 \xc0\xaf ok");  /* latin-1 byte and an overlong '/' */
    free((char *)r->tags[0].key);
    r->tags[0].key = strdup("k\xff");
    char *json = cairn_run_to_json(r);
    assert_non_null(json);
    json_t *j = json_loads(json, 0, NULL);
    assert_non_null(j);
    assert_string_equal(json_string_value(json_object_get(j, "name")),
                        "caf\xef\xbf\xbd \xef\xbf\xbd\xef\xbf\xbd ok");
    assert_string_equal(json_string_value(json_object_get(json_object_get(j, "tags"), "k\xef\xbf\xbd")),
                        "ml");
    json_decref(j);
    free(json);
    cairn_run_free(r);
}

/* The CLI's msgpack-to-JSON (events' fields, agents' replies) repairs the
 * same way, byte by byte, whatever is around the bad bytes. */
static void test_mp_json_repairs_each_bad_byte(void **state)
{
    (void)state;
    static const struct {
        const char *in, *out;
    } cases[] = {
        {"ok \xc3\xa9", "ok \xc3\xa9"},                             /* valid: as it is */
        {"\xc0\xaf", "\xef\xbf\xbd\xef\xbf\xbd"},                     /* overlong '/' */
        {"a\xed\xa0\x80z", "a\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbdz"}, /* a surrogate */
        {"end\xe2\x82", "end\xef\xbf\xbd\xef\xbf\xbd"},               /* cut short */
        {"\xf5\x80\x80\x80", "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"}, /* past U+10FFFF */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        msgpack_object o = {.type = MSGPACK_OBJECT_STR};
        o.via.str.ptr = cases[i].in;
        o.via.str.size = (uint32_t)strlen(cases[i].in);
        json_t *j = mp_to_json(&o);
        assert_non_null(j);
        assert_string_equal(json_string_value(j), cases[i].out);
        json_decref(j);
        j = json_str(cases[i].in);
        assert_string_equal(json_string_value(j), cases[i].out);
        json_decref(j);
    }
}

static void test_run_list_shape(void **state)
{
    (void)state;
    cairn_run_list *list = calloc(1, sizeof *list);
    char *json = cairn_run_list_to_json(list);
    assert_string_equal(json, "[]");
    free(json);

    cairn_run *a = make_run(), *b = make_run();
    list->runs = calloc(2, sizeof *list->runs);
    list->runs[0] = *a;
    list->runs[1] = *b;
    list->count = 2;
    list->next_page_token = strdup("tok");
    free(a); /* their contents now belong to the list */
    free(b);
    json = cairn_run_list_to_json(list);
    json_t *j = json_loads(json, 0, NULL);
    assert_true(json_is_array(j));
    assert_int_equal(json_array_size(j), 2);
    assert_string_equal(json_string_value(json_object_get(json_array_get(j, 1), "id")), RUN_ID);
    /* Array items carry the run shape, indented one level more. */
    assert_non_null(strstr(json, "[\n  {\n    \"id\": "));
    json_decref(j);
    free(json);
    cairn_run_list_free(list);
}

static void test_history_shape(void **state)
{
    (void)state;
    cairn_history *h = calloc(1, sizeof *h);
    h->points = calloc(2, sizeof *h->points);
    h->points[0] = (cairn_point){0, 1.5, 1700000000000};
    h->points[1] = (cairn_point){1, NAN, 1700000000001};
    h->count = 2;
    h->total = 2;
    char *json = cairn_history_to_json(h);
    assert_string_equal(json, "[\n"
                              "  {\n"
                              "    \"step\": 0,\n"
                              "    \"value\": 1.5,\n"
                              "    \"timestamp\": 1700000000000\n"
                              "  },\n"
                              "  {\n"
                              "    \"step\": 1,\n"
                              "    \"value\": \"NaN\",\n"
                              "    \"timestamp\": 1700000000001\n"
                              "  }\n"
                              "]");
    free(json);
    cairn_history_free(h);
}

static void test_experiments_shape(void **state)
{
    (void)state;
    static const char *const tags[] = {"owner", "ana"};
    cairn_experiment_list *l = calloc(1, sizeof *l);
    l->items = calloc(1, sizeof *l->items);
    l->count = 1;
    l->items[0] = (cairn_experiment){3, strdup("mnist"), strdup("active"), 1700000000000,
                                     kvs(1, tags), 1};
    char *json = cairn_experiment_list_to_json(l);
    assert_string_equal(json, "[\n"
                              "  {\n"
                              "    \"id\": 3,\n"
                              "    \"name\": \"mnist\",\n"
                              "    \"lifecycle\": \"active\",\n"
                              "    \"created\": 1700000000000,\n"
                              "    \"tags\": {\n"
                              "      \"owner\": \"ana\"\n"
                              "    }\n"
                              "  }\n"
                              "]");
    free(json);
    cairn_experiment_list_free(l);
}

static void test_events_shape(void **state)
{
    (void)state;
    cairn_audit_entry_list *l = calloc(1, sizeof *l);
    l->items = calloc(1, sizeof *l->items);
    l->count = 1;
    l->items[0].seq = 42;
    l->items[0].ts = 1700000000000;
    strcpy(l->items[0].id, RUN_ID);
    l->items[0].type = strdup("run.start");
    l->items[0].from = strdup("cli:ana@box");
    l->items[0].summary = strdup("run " RUN_ID " started");
    char *json = cairn_audit_entry_list_to_json(l);
    assert_string_equal(json, "[\n"
                              "  {\n"
                              "    \"seq\": 42,\n"
                              "    \"ts\": 1700000000000,\n"
                              "    \"id\": \"" RUN_ID "\",\n"
                              "    \"type\": \"run.start\",\n"
                              "    \"from\": \"cli:ana@box\",\n"
                              "    \"summary\": \"run " RUN_ID " started\"\n"
                              "  }\n"
                              "]");
    free(json);
    cairn_audit_entry_list_free(l);
}

static void test_free_null(void **state)
{
    (void)state;
    cairn_run_free(NULL);
    cairn_run_list_free(NULL);
    cairn_history_free(NULL);
    cairn_experiment_list_free(NULL);
    cairn_audit_entry_list_free(NULL);
    assert_null(cairn_run_to_json(NULL));
}

/* ---- decoding RUN objects from msgpack ---- */

typedef struct packed {
    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_zone zone;
    msgpack_object obj;
} packed;

static void packed_init(packed *p)
{
    msgpack_sbuffer_init(&p->sb);
    msgpack_packer_init(&p->pk, &p->sb, msgpack_sbuffer_write);
    msgpack_zone_init(&p->zone, 1024);
}

static const msgpack_object *packed_obj(packed *p)
{
    size_t off = 0;
    assert_int_equal(msgpack_unpack(p->sb.data, p->sb.size, &off, &p->zone, &p->obj),
                     MSGPACK_UNPACK_SUCCESS);
    return &p->obj;
}

static void packed_destroy(packed *p)
{
    msgpack_zone_destroy(&p->zone);
    msgpack_sbuffer_destroy(&p->sb);
}

/* Which field of the RUN to spoil. */
enum spoil { SPOIL_NONE, SPOIL_ID, SPOIL_METRIC, SPOIL_ARTIFACT, SPOIL_TAG_VALUE, SPOIL_END_TIME };

static void pack_run(msgpack_packer *pk, enum spoil spoil)
{
    ulid id;
    assert_true(ulid_parse(RUN_ID, &id));
    msgpack_pack_map(pk, 11);
    mp_str(pk, "id");
    if (spoil == SPOIL_ID)
        mp_str(pk, RUN_ID);
    else
        mp_ulid(pk, &id);
    mp_str(pk, "experiment");
    mp_str(pk, "exp");
    mp_str(pk, "experiment_id");
    msgpack_pack_uint64(pk, 7);
    mp_str(pk, "name");
    mp_str(pk, "baseline");
    mp_str(pk, "status");
    mp_str(pk, "RUNNING");
    mp_str(pk, "start_time");
    msgpack_pack_int64(pk, 1700000000000);
    mp_str(pk, "end_time");
    if (spoil == SPOIL_END_TIME)
        mp_str(pk, "soon");
    else
        msgpack_pack_nil(pk);
    mp_str(pk, "params"); /* unsorted on purpose */
    msgpack_pack_map(pk, 2);
    mp_str(pk, "model");
    mp_str(pk, "rf");
    mp_str(pk, "lr");
    mp_str(pk, "0.1");
    mp_str(pk, "metrics");
    msgpack_pack_map(pk, 4);
    mp_str(pk, "loss");
    msgpack_pack_array(pk, 3);
    msgpack_pack_double(pk, NAN);
    msgpack_pack_int64(pk, 1);
    msgpack_pack_int64(pk, 2);
    mp_str(pk, "acc");
    msgpack_pack_array(pk, 3);
    msgpack_pack_double(pk, 0.5);
    msgpack_pack_int64(pk, 3);
    msgpack_pack_int64(pk, 1700000000500);
    mp_str(pk, "low");
    msgpack_pack_array(pk, 3);
    msgpack_pack_double(pk, -INFINITY);
    msgpack_pack_int64(pk, 2);
    msgpack_pack_int64(pk, 3);
    mp_str(pk, "big");
    msgpack_pack_array(pk, spoil == SPOIL_METRIC ? 2 : 3);
    msgpack_pack_double(pk, INFINITY);
    msgpack_pack_int64(pk, 0);
    if (spoil != SPOIL_METRIC)
        msgpack_pack_int64(pk, 1);
    mp_str(pk, "tags");
    msgpack_pack_map(pk, 1);
    mp_str(pk, "team");
    if (spoil == SPOIL_TAG_VALUE)
        msgpack_pack_int64(pk, 5);
    else
        mp_str(pk, "ml");
    mp_str(pk, "artifacts");
    msgpack_pack_array(pk, 2);
    msgpack_pack_array(pk, 3);
    mp_str(pk, "z.txt");
    msgpack_pack_uint64(pk, 3);
    mp_str(pk, spoil == SPOIL_ARTIFACT ? "short" : SHA_A);
    msgpack_pack_array(pk, 3);
    mp_str(pk, "model.bin");
    msgpack_pack_uint64(pk, 1024);
    mp_str(pk, SHA_A);
}

static void test_decode_run_sorted_and_printed(void **state)
{
    (void)state;
    packed p;
    cairn_run run;
    cairn_error err;
    packed_init(&p);
    pack_run(&p.pk, SPOIL_NONE);
    assert_int_equal(decode_run(packed_obj(&p), &run, &err), CAIRN_OK);
    assert_string_equal(run.id, RUN_ID);
    assert_int_equal(run.experiment_id, 7);
    assert_int_equal(run.end_time, 0);
    assert_string_equal(run.params[0].key, "lr");
    assert_string_equal(run.metrics[0].key, "acc");
    assert_string_equal(run.metrics[3].key, "low");
    assert_string_equal(run.artifacts[0].path, "model.bin");
    assert_string_equal(run.artifacts[1].path, "z.txt");

    /* Decoded and printed, it matches the hand-built run but for the second artifact. */
    run.n_artifacts = 1;
    char *json = cairn_run_to_json(&run);
    assert_string_equal(json, expected_run);
    run.n_artifacts = 2;
    free(json);
    run_clear(&run);
    packed_destroy(&p);
}

static void test_decode_run_refuses_wrong_types(void **state)
{
    (void)state;
    static const enum spoil spoils[] = {SPOIL_ID, SPOIL_METRIC, SPOIL_ARTIFACT, SPOIL_TAG_VALUE,
                                        SPOIL_END_TIME};
    static const char *const named[] = {"'id'", "'metrics'", "'artifacts'", "'tags'", "'end_time'"};
    for (size_t i = 0; i < sizeof spoils / sizeof spoils[0]; i++) {
        packed p;
        cairn_run run;
        cairn_error err;
        packed_init(&p);
        pack_run(&p.pk, spoils[i]);
        assert_int_equal(decode_run(packed_obj(&p), &run, &err), CAIRN_BAD_MESSAGE);
        assert_non_null(strstr(err.message, named[i]));
        assert_null(run.experiment); /* emptied: nothing to free, nothing leaked */
        assert_int_equal(run.n_params, 0);
        packed_destroy(&p);
    }
}

static void test_decode_lists_refuse_wrong_types(void **state)
{
    (void)state;
    packed p;
    cairn_error err;
    cairn_history h;
    cairn_audit_entry_list ev;
    cairn_experiment_list ex;
    packed_init(&p);
    msgpack_pack_map(&p.pk, 3);
    mp_str(&p.pk, "points");
    msgpack_pack_array(&p.pk, 1);
    msgpack_pack_array(&p.pk, 3);
    msgpack_pack_int64(&p.pk, 0);
    mp_str(&p.pk, "one"); /* a value that is not a number */
    msgpack_pack_int64(&p.pk, 1);
    mp_str(&p.pk, "events");
    msgpack_pack_array(&p.pk, 1);
    msgpack_pack_map(&p.pk, 1);
    mp_str(&p.pk, "seq");
    msgpack_pack_int64(&p.pk, -1);
    mp_str(&p.pk, "experiments");
    msgpack_pack_array(&p.pk, 1);
    msgpack_pack_map(&p.pk, 2);
    mp_str(&p.pk, "id");
    msgpack_pack_uint64(&p.pk, 1);
    mp_str(&p.pk, "name");
    msgpack_pack_nil(&p.pk);
    const msgpack_object *body = packed_obj(&p);
    assert_int_equal(decode_history(body, &h, &err), CAIRN_BAD_MESSAGE);
    assert_int_equal(decode_events(body, &ev, &err), CAIRN_BAD_MESSAGE);
    assert_int_equal(decode_experiments(body, &ex, &err), CAIRN_BAD_MESSAGE);
    assert_non_null(strstr(err.message, "name"));
    packed_destroy(&p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_run_shape_exact),
        cmocka_unit_test(test_run_end_time_and_empty_maps),
        cmocka_unit_test(test_metric_values_round_trip),
        cmocka_unit_test(test_metric_values_short_when_exact),
        cmocka_unit_test(test_bad_utf8_is_repaired),
        cmocka_unit_test(test_mp_json_repairs_each_bad_byte),
        cmocka_unit_test(test_run_list_shape),
        cmocka_unit_test(test_history_shape),
        cmocka_unit_test(test_experiments_shape),
        cmocka_unit_test(test_events_shape),
        cmocka_unit_test(test_free_null),
        cmocka_unit_test(test_decode_run_sorted_and_printed),
        cmocka_unit_test(test_decode_run_refuses_wrong_types),
        cmocka_unit_test(test_decode_lists_refuse_wrong_types),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
