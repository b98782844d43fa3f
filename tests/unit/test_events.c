/* Events: event.emit and event.list through the handlers, and the store's
 * listing bounds, on a real LMDB file. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <cmocka.h>

#include "store_fixture.h"

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

static const char *AGENT_A = "01M8DHWE8PCFDGWMGN5TNG4A16";
static const char *AGENT_B = "01M8DHWE8PRAHGPH9GSGTXYWTD";

/* ---- request builders ---- */

typedef struct ev {
    const char *type;
    const char *source;
    int64_t time;
    int64_t value; /* fields: {"value": value, "name": source} */
} ev;

static void pack_ev(msgpack_packer *pk, const ev *e)
{
    msgpack_pack_map(pk, 4);
    pk_str(pk, "type");
    pk_str(pk, e->type);
    pk_str(pk, "source");
    pk_str(pk, e->source);
    pk_str(pk, "time");
    msgpack_pack_int64(pk, e->time);
    pk_str(pk, "fields");
    msgpack_pack_map(pk, 2);
    pk_str(pk, "value");
    msgpack_pack_int64(pk, e->value);
    pk_str(pk, "name");
    pk_str(pk, e->source);
}

static cairn_status emit(fixture *f, const char *agent, const ev *evs, size_t n, const ulid *id)
{
    msgpack_packer *pk = begin(f, "event.emit", agent ? 2 : 1, id);
    pk_str(pk, "events");
    msgpack_pack_array(pk, (uint32_t)n);
    for (size_t i = 0; i < n; i++)
        pack_ev(pk, &evs[i]);
    if (agent) {
        pk_str(pk, "agent");
        pk_str(pk, agent);
    }
    return exec(f);
}

static cairn_status emit_one(fixture *f, const char *agent, const char *type, const char *source,
                             int64_t value)
{
    ev e = {type, source, 1700000000000 + value, value};
    return emit(f, agent, &e, 1, NULL);
}

typedef struct list_opts {
    const char *type, *source, *agent;
    int64_t since, max;
} list_opts;

static cairn_status list(fixture *f, list_opts o)
{
    uint32_t n = (o.type != NULL) + (o.source != NULL) + (o.agent != NULL) + (o.since != 0) +
                 (o.max != 0);
    msgpack_packer *pk = begin(f, "event.list", n, NULL);
    const char *keys[] = {"type", "source", "agent"};
    const char *values[] = {o.type, o.source, o.agent};
    for (int i = 0; i < 3; i++) {
        if (values[i]) {
            pk_str(pk, keys[i]);
            pk_str(pk, values[i]);
        }
    }
    if (o.since) {
        pk_str(pk, "since");
        msgpack_pack_int64(pk, o.since);
    }
    if (o.max) {
        pk_str(pk, "max");
        msgpack_pack_int64(pk, o.max);
    }
    return exec(f);
}

static const msgpack_object *listed(fixture *f)
{
    const msgpack_object *events = body_find(f->reply.body, "events");
    assert_non_null(events);
    assert_int_equal(events->type, MSGPACK_OBJECT_ARRAY);
    return events;
}

static int64_t int_of(const msgpack_object *map, const char *key)
{
    int64_t v = -1;
    assert_int_equal(body_int(map, key, true, &v, NULL), CAIRN_OK);
    return v;
}

static void assert_str(const msgpack_object *map, const char *key, const char *want)
{
    msg_str s;
    char copy[300];
    assert_int_equal(body_str(map, key, true, &s, NULL), CAIRN_OK);
    msg_str_copy(s, copy, sizeof copy);
    assert_string_equal(copy, want);
}

/* The seqs of the listed events, as "1,2,5". */
static const char *seqs(fixture *f)
{
    static char out[512];
    const msgpack_object *events = listed(f);
    size_t n = 0;
    out[0] = '\0';
    for (uint32_t i = 0; i < events->via.array.size; i++)
        n += (size_t)snprintf(out + n, sizeof out - n, "%s%lld", i ? "," : "",
                              (long long)int_of(&events->via.array.ptr[i], "seq"));
    return out;
}

static const char *reply_mentions(fixture *f, const char *text)
{
    static char copy[600];
    msg_str_copy(f->reply.err_message, copy, sizeof copy);
    return strstr(copy, text);
}

/* ---- tests ---- */

static void emit_then_list_in_order(void **state)
{
    fixture *f = *state;
    ev evs[] = {{"drift.psi", "psi", 1700000000001, 7}, {"prediction", "logger", 1700000000002, 8}};
    assert_int_equal(emit(f, AGENT_A, evs, 2, NULL), CAIRN_OK);
    int64_t count = 0;
    bool dup = true;
    body_int(f->reply.body, "count", true, &count, NULL);
    body_bool(f->reply.body, "duplicate", true, &dup, NULL);
    assert_int_equal(count, 2);
    assert_false(dup);
    assert_int_equal(int_of(f->reply.body, "seq"), 1); /* the audit entry */

    assert_int_equal(list(f, (list_opts){0}), CAIRN_OK);
    const msgpack_object *events = listed(f);
    assert_int_equal(events->via.array.size, 2);
    assert_null(body_find(f->reply.body, "next"));
    const msgpack_object *e = &events->via.array.ptr[1];
    assert_int_equal(e->via.map.size, 6);
    assert_int_equal(int_of(e, "seq"), 2);
    assert_str(e, "agent", AGENT_A);
    assert_str(e, "source", "logger");
    assert_str(e, "type", "prediction");
    assert_int_equal(int_of(e, "time"), 1700000000002);
    const msgpack_object *fields;
    assert_int_equal(body_map(e, "fields", true, &fields, NULL), CAIRN_OK);
    assert_int_equal(int_of(fields, "value"), 8);
    assert_str(fields, "name", "logger");
}

static void fields_keep_any_value(void **state)
{
    fixture *f = *state;
    msgpack_packer *pk = begin(f, "event.emit", 1, NULL);
    pk_str(pk, "events");
    msgpack_pack_array(pk, 1);
    msgpack_pack_map(pk, 4);
    pk_str(pk, "type"), pk_str(pk, "t");
    pk_str(pk, "source"), pk_str(pk, "");
    pk_str(pk, "time"), msgpack_pack_int64(pk, -5);
    pk_str(pk, "fields");
    msgpack_pack_map(pk, 4);
    pk_str(pk, "f"), msgpack_pack_double(pk, 0.25);
    pk_str(pk, "nested"), msgpack_pack_map(pk, 1), msgpack_pack_uint64(pk, 3), msgpack_pack_nil(pk);
    pk_str(pk, "list"), msgpack_pack_array(pk, 2), mp_bool(pk, true), mp_bin(pk, "\x00\x01", 2);
    pk_str(pk, "big"), msgpack_pack_uint64(pk, UINT64_MAX);
    assert_int_equal(exec(f), CAIRN_OK);
    assert_int_equal(list(f, (list_opts){0}), CAIRN_OK);
    const msgpack_object *e = &listed(f)->via.array.ptr[0], *fields;
    assert_str(e, "agent", "");
    assert_int_equal(int_of(e, "time"), -5);
    body_map(e, "fields", true, &fields, NULL);
    double d = 0;
    body_double(fields, "f", true, &d, NULL);
    assert_true(d == 0.25);
    const msgpack_object *nested = body_find(fields, "nested"), *arr = body_find(fields, "list");
    assert_int_equal(nested->via.map.ptr[0].key.via.u64, 3);
    assert_int_equal(nested->via.map.ptr[0].val.type, MSGPACK_OBJECT_NIL);
    assert_int_equal(arr->via.array.ptr[1].type, MSGPACK_OBJECT_BIN);
    assert_int_equal(body_find(fields, "big")->via.u64, UINT64_MAX);
}

static void filters_by_type_source_and_agent(void **state)
{
    fixture *f = *state;
    emit_one(f, AGENT_A, "drift.psi", "psi", 1);
    emit_one(f, AGENT_B, "drift.ks", "ks", 2);
    emit_one(f, NULL, "drift", "psi", 3);
    emit_one(f, AGENT_A, "driftless", "psi", 4);
    emit_one(f, AGENT_B, "prediction", "logger", 5);

    assert_int_equal(list(f, (list_opts){.type = "drift"}), CAIRN_OK);
    assert_string_equal(seqs(f), "3");
    assert_int_equal(list(f, (list_opts){.type = "drift."}), CAIRN_OK);
    assert_string_equal(seqs(f), "1,2");
    assert_int_equal(list(f, (list_opts){.source = "psi"}), CAIRN_OK);
    assert_string_equal(seqs(f), "1,3,4");
    assert_int_equal(list(f, (list_opts){.agent = AGENT_B}), CAIRN_OK);
    assert_string_equal(seqs(f), "2,5");
    /* Agent ids are matched in any letter case. */
    assert_int_equal(list(f, (list_opts){.agent = "01m8dhwe8pcfdgwmgn5tng4a16"}), CAIRN_OK);
    assert_string_equal(seqs(f), "1,4");
    assert_int_equal(list(f, (list_opts){.type = "drift.", .source = "psi", .agent = AGENT_A}),
                     CAIRN_OK);
    assert_string_equal(seqs(f), "1");
    assert_int_equal(list(f, (list_opts){.type = "nothing"}), CAIRN_OK);
    assert_string_equal(seqs(f), "");

    assert_int_equal(list(f, (list_opts){.type = "Drift"}), CAIRN_INVALID_PARAMETER_VALUE);
    assert_int_equal(list(f, (list_opts){.agent = "gpu-1"}), CAIRN_BAD_MESSAGE);
    assert_int_equal(list(f, (list_opts){.max = -1}), CAIRN_INVALID_PARAMETER_VALUE);
}

static void pages_follow_next(void **state)
{
    fixture *f = *state;
    ev evs[25];
    for (int i = 0; i < 25; i++)
        evs[i] = (ev){i % 2 ? "odd" : "even", "s", 1700000000000 + i, i};
    assert_int_equal(emit(f, NULL, evs, 25, NULL), CAIRN_OK);

    assert_int_equal(list(f, (list_opts){.max = 10}), CAIRN_OK);
    assert_string_equal(seqs(f), "1,2,3,4,5,6,7,8,9,10");
    assert_int_equal(int_of(f->reply.body, "next"), 11);
    assert_int_equal(list(f, (list_opts){.since = 21, .max = 5}), CAIRN_OK);
    assert_string_equal(seqs(f), "21,22,23,24,25");
    assert_null(body_find(f->reply.body, "next")); /* the log ends there */
    assert_int_equal(list(f, (list_opts){.since = 26}), CAIRN_OK);
    assert_string_equal(seqs(f), "");

    /* A filtered page: max counts matching events; next is past the last looked at. */
    assert_int_equal(list(f, (list_opts){.type = "odd", .max = 3}), CAIRN_OK);
    assert_string_equal(seqs(f), "2,4,6");
    assert_int_equal(int_of(f->reply.body, "next"), 7);
    assert_int_equal(list(f, (list_opts){.type = "odd", .since = 7, .max = 100}), CAIRN_OK);
    assert_string_equal(seqs(f), "8,10,12,14,16,18,20,22,24");
    assert_null(body_find(f->reply.body, "next"));
}

static void max_is_capped(void **state)
{
    fixture *f = *state;
    enum { N = 1000 };
    static ev evs[N];
    for (int i = 0; i < N; i++)
        evs[i] = (ev){"t", "s", i, i};
    for (int round = 0; round < 11; round++)
        assert_int_equal(emit(f, NULL, evs, N, NULL), CAIRN_OK);
    assert_int_equal(list(f, (list_opts){.max = 50000}), CAIRN_OK);
    assert_int_equal(listed(f)->via.array.size, 10000);
    assert_int_equal(int_of(f->reply.body, "next"), 10001);
    assert_int_equal(list(f, (list_opts){0}), CAIRN_OK); /* default 1000 */
    assert_int_equal(listed(f)->via.array.size, 1000);
}

/* The store's bounds on one page: records looked at, and bytes. */
static void store_pages_are_bounded(void **state)
{
    fixture *f = *state;
    ev evs[20];
    for (int i = 0; i < 20; i++)
        evs[i] = (ev){"t", "s", i, i};
    assert_int_equal(emit(f, NULL, evs, 20, NULL), CAIRN_OK);
    MDB_txn *txn;
    assert_int_equal(mdb_txn_begin(f->s.env, NULL, MDB_RDONLY, &txn), 0);
    msg_writer w;
    msg_writer_init(&w);
    uint64_t next;
    cairn_error err;
    store_event_filter flt = {.type = {"none", 4}, .source = {"", 0}, .agent = {"", 0},
                              .since = 3, .max = 100, .max_scan = 5, .max_bytes = 1 << 20};
    assert_int_equal(store_events_pack(&f->s, txn, &flt, &w.pk, &next, &err), CAIRN_OK);
    assert_int_equal(next, 8); /* looked at 3..7, matched none */
    assert_int_equal((uint8_t)w.sb.data[0], 0x90); /* an empty array */

    msg_writer_reset(&w);
    flt.type = (msg_str){"", 0};
    flt.max_scan = 1000;
    flt.max_bytes = 1; /* the first event fills the page: it still holds one */
    assert_int_equal(store_events_pack(&f->s, txn, &flt, &w.pk, &next, &err), CAIRN_OK);
    assert_int_equal(next, 4);
    assert_int_equal((uint8_t)w.sb.data[0], 0x91);
    msg_writer_destroy(&w);
    mdb_txn_abort(txn);
}

static void bad_entries_write_nothing(void **state)
{
    fixture *f = *state;
    uint64_t audit = f->s.next_audit_seq;
    ev good = {"t", "s", 1, 1};
    ev bad_type[] = {good, good, {"Bad Type", "s", 1, 1}};
    assert_int_equal(emit(f, NULL, bad_type, 3, NULL), CAIRN_BAD_MESSAGE);
    assert_non_null(reply_mentions(f, "events[2]"));
    assert_non_null(reply_mentions(f, "'type'"));

    char long_type[70], long_source[300];
    memset(long_type, 'a', 65), long_type[65] = '\0';
    memset(long_source, 's', 257), long_source[257] = '\0';
    ev too_long[] = {good, {long_type, "s", 1, 1}};
    assert_int_equal(emit(f, NULL, too_long, 2, NULL), CAIRN_LIMIT_EXCEEDED);
    assert_non_null(reply_mentions(f, "events[1]"));
    ev long_src[] = {{"t", long_source, 1, 1}};
    assert_int_equal(emit(f, NULL, long_src, 1, NULL), CAIRN_LIMIT_EXCEEDED);
    assert_non_null(reply_mentions(f, "events[0]: 'source'"));
    ev ctl_src[] = {{"t", "a\nb", 1, 1}};
    assert_int_equal(emit(f, NULL, ctl_src, 1, NULL), CAIRN_BAD_MESSAGE);

    /* Missing and mistyped fields. */
    msgpack_packer *pk = begin(f, "event.emit", 1, NULL);
    pk_str(pk, "events");
    msgpack_pack_array(pk, 2);
    pack_ev(pk, &good);
    msgpack_pack_map(pk, 3);
    pk_str(pk, "type"), pk_str(pk, "t");
    pk_str(pk, "source"), pk_str(pk, "s");
    pk_str(pk, "fields"), msgpack_pack_map(pk, 0);
    assert_int_equal(exec(f), CAIRN_BAD_MESSAGE);
    assert_non_null(reply_mentions(f, "events[1]: missing field 'time'"));
    pk = begin(f, "event.emit", 1, NULL);
    pk_str(pk, "events");
    msgpack_pack_array(pk, 1);
    msgpack_pack_map(pk, 4);
    pk_str(pk, "type"), pk_str(pk, "t");
    pk_str(pk, "source"), pk_str(pk, "s");
    pk_str(pk, "time"), msgpack_pack_int64(pk, 1);
    pk_str(pk, "fields"), msgpack_pack_array(pk, 0);
    assert_int_equal(exec(f), CAIRN_BAD_MESSAGE);
    assert_non_null(reply_mentions(f, "events[0]: field 'fields'"));

    /* Counts and the agent. */
    assert_int_equal(emit(f, NULL, NULL, 0, NULL), CAIRN_BAD_MESSAGE);
    static ev many[1001];
    for (int i = 0; i < 1001; i++)
        many[i] = good;
    assert_int_equal(emit(f, NULL, many, 1001, NULL), CAIRN_LIMIT_EXCEEDED);
    assert_int_equal(emit(f, "not-an-id", &good, 1, NULL), CAIRN_BAD_MESSAGE);
    assert_non_null(reply_mentions(f, "'agent'"));

    assert_int_equal(f->s.next_audit_seq, audit);
    assert_int_equal(list(f, (list_opts){0}), CAIRN_OK);
    assert_string_equal(seqs(f), "");
    assert_int_equal(emit(f, NULL, &good, 1, NULL), CAIRN_OK);
    assert_int_equal(list(f, (list_opts){0}), CAIRN_OK);
    assert_string_equal(seqs(f), "1"); /* no sequence was used up */
}

static void resend_is_applied_once(void **state)
{
    fixture *f = *state;
    ev evs[] = {{"t", "s", 1, 1}, {"t", "s", 2, 2}, {"t", "s", 3, 3}};
    ulid id = ulid_new();
    assert_int_equal(emit(f, NULL, evs, 3, &id), CAIRN_OK);
    int64_t seq = int_of(f->reply.body, "seq");
    assert_int_equal(emit(f, NULL, evs, 3, &id), CAIRN_OK);
    bool dup = false;
    body_bool(f->reply.body, "duplicate", true, &dup, NULL);
    assert_true(dup);
    assert_int_equal(int_of(f->reply.body, "seq"), seq);
    assert_int_equal(int_of(f->reply.body, "count"), 3);
    assert_int_equal(list(f, (list_opts){0}), CAIRN_OK);
    assert_string_equal(seqs(f), "1,2,3");
}

static void audit_entry_summarizes_the_message(void **state)
{
    fixture *f = *state;
    ev evs[] = {{"drift.psi", "psi detector", 1, 1}, {"other", "x", 2, 2}};
    assert_int_equal(emit(f, AGENT_A, evs, 2, NULL), CAIRN_OK);
    msgpack_packer *pk = begin(f, "audit.list", 0, NULL);
    (void)pk;
    assert_int_equal(exec(f), CAIRN_OK);
    const msgpack_object *events = body_find(f->reply.body, "events");
    assert_int_equal(events->via.array.size, 1);
    assert_str(&events->via.array.ptr[0], "type", "event.emit");
    assert_str(&events->via.array.ptr[0], "summary",
               "events=2 type=drift.psi source=\"psi detector\" agent=01M8DHWE8PCFDGWMGN5TNG4A16");
}

static void sequence_survives_a_restart(void **state)
{
    fixture *f = *state;
    emit_one(f, NULL, "t", "s", 1);
    emit_one(f, NULL, "t", "s", 2);
    cairn_error err;
    store_close(&f->s);
    assert_int_equal(store_open(&f->s, f->dir, (size_t)1 << 30, &err), CAIRN_OK);
    emit_one(f, NULL, "t", "s", 3);
    assert_int_equal(list(f, (list_opts){0}), CAIRN_OK);
    assert_string_equal(seqs(f), "1,2,3");
}

/* From an agent's routing id, events are that agent's. */
static void an_agent_emits_as_itself(void **state)
{
    fixture *f = *state;
    char routing[40];
    snprintf(routing, sizeof routing, "agent:%s", AGENT_A);
    zmq_msg_t frame;
    zmq_msg_init_size(&frame, strlen(routing));
    memcpy(zmq_msg_data(&frame), routing, strlen(routing));
    f->r.routing = &frame;
    f->r.n_routing = 1;
    assert_int_equal(emit_one(f, NULL, "t", "s", 1), CAIRN_OK);
    assert_int_equal(emit_one(f, AGENT_B, "t", "s", 2), CAIRN_INVALID_PARAMETER_VALUE);
    assert_non_null(reply_mentions(f, "is not the sender"));
    f->r.routing = NULL;
    f->r.n_routing = 0;
    zmq_msg_close(&frame);
    assert_int_equal(list(f, (list_opts){0}), CAIRN_OK);
    assert_int_equal(listed(f)->via.array.size, 1);
    assert_str(&listed(f)->via.array.ptr[0], "agent", AGENT_A);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(emit_then_list_in_order, setup, teardown),
        cmocka_unit_test_setup_teardown(fields_keep_any_value, setup, teardown),
        cmocka_unit_test_setup_teardown(filters_by_type_source_and_agent, setup, teardown),
        cmocka_unit_test_setup_teardown(pages_follow_next, setup, teardown),
        cmocka_unit_test_setup_teardown(max_is_capped, setup, teardown),
        cmocka_unit_test_setup_teardown(store_pages_are_bounded, setup, teardown),
        cmocka_unit_test_setup_teardown(bad_entries_write_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(resend_is_applied_once, setup, teardown),
        cmocka_unit_test_setup_teardown(audit_entry_summarizes_the_message, setup, teardown),
        cmocka_unit_test_setup_teardown(sequence_survives_a_restart, setup, teardown),
        cmocka_unit_test_setup_teardown(an_agent_emits_as_itself, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
