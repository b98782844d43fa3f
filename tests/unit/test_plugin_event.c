/* Plugin events and plugin configuration (agent/plugin_event.c,
 * agent/plugin_config.c): building, reading by path, schema checks. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <libconfig.h>
#include <math.h>
#include <string.h>

#include "msg.h"
#include "plugin_config.h"
#include "plugin_event.h"

static void built_fields_read_back_by_type(void **state)
{
    (void)state;
    cairn_event *ev = event_create("prediction", "test", 42);
    assert_non_null(ev);
    assert_int_equal(event_set_string(ev, "model", "churn"), 0);
    assert_int_equal(event_set_int(ev, "version", -3), 0);
    assert_int_equal(event_set_float(ev, "latency_ms", 12.5), 0);
    assert_int_equal(event_set_bool(ev, "ok", 1), 0);
    const char *s;
    size_t n;
    int64_t i;
    double d;
    int b;
    assert_int_equal(event_get_string(ev, "model", &s, &n), 0);
    assert_int_equal(n, 5);
    assert_memory_equal(s, "churn", 5);
    assert_int_equal(event_get_int(ev, "version", &i), 0);
    assert_int_equal(i, -3);
    assert_int_equal(event_get_float(ev, "version", &d), 0); /* an int reads as a float */
    assert_true(d == -3.0);
    assert_int_equal(event_get_float(ev, "latency_ms", &d), 0);
    assert_true(d == 12.5);
    assert_int_equal(event_get_bool(ev, "ok", &b), 0);
    assert_int_equal(b, 1);
    assert_int_equal(event_get_int(ev, "model", &i), -1); /* another type */
    assert_int_equal(event_get_int(ev, "absent", &i), -1);
    assert_int_equal(event_field_type(ev, "latency_ms"), CAIRN_FIELD_FLOAT);
    assert_int_equal(event_field_type(ev, "absent"), CAIRN_FIELD_NONE);
    assert_string_equal(event_type_of(ev), "prediction");
    assert_int_equal(event_time_of(ev), 42);
    event_destroy(ev);
}

static void a_field_set_twice_keeps_the_last_value(void **state)
{
    (void)state;
    cairn_event *ev = event_create("x", "test", 0);
    for (int k = 0; k < 100; k++)
        event_set_int(ev, "n", k);
    event_set_string(ev, "n", "last");
    assert_int_equal(event_count(ev, ""), 1);
    const char *s;
    size_t n;
    assert_int_equal(event_get_string(ev, "n", &s, &n), 0);
    assert_memory_equal(s, "last", 4);
    assert_false(ev->invalid);
    event_destroy(ev);
}

static void bad_names_and_types_are_refused(void **state)
{
    (void)state;
    assert_null(event_create("Bad Type", "test", 0));
    assert_null(event_create("", "test", 0));
    cairn_event *ev = event_create("ok", "test", 0);
    assert_int_equal(event_set_int(ev, "a.b", 1), -1); /* unreachable by path */
    assert_int_equal(event_set_int(ev, "c", 2), 0);
    /* The field is refused, not the event: the others still go. */
    assert_false(ev->invalid);
    assert_int_equal(event_count(ev, ""), 1);
    event_destroy(ev);
    ev = event_create("ok", "test", 0);
    char name[16];
    for (int k = 0; k < EVENT_FIELDS_MAX; k++) {
        snprintf(name, sizeof name, "f%d", k & 0xfff);
        assert_int_equal(event_set_int(ev, name, k), 0);
    }
    assert_int_equal(event_set_int(ev, "one_more", 1), -1);
    assert_false(ev->invalid);
    assert_int_equal(event_count(ev, ""), EVENT_FIELDS_MAX);
    event_destroy(ev);
}

/* {"metrics": [["auc", 0.91, 3]], "model": {"name": "rf"}} as a decoded view. */
static void paths_reach_nested_maps_and_arrays(void **state)
{
    (void)state;
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 2);
    mp_str(&pk, "metrics");
    msgpack_pack_array(&pk, 1);
    msgpack_pack_array(&pk, 3);
    mp_str(&pk, "auc");
    msgpack_pack_double(&pk, 0.91);
    msgpack_pack_int(&pk, 3);
    mp_str(&pk, "model");
    msgpack_pack_map(&pk, 1);
    mp_str(&pk, "name");
    mp_str(&pk, "rf");
    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    assert_int_equal(msgpack_unpack_next(&u, sb.data, sb.size, NULL), MSGPACK_UNPACK_SUCCESS);
    cairn_event ev;
    event_view(&ev, "run.log", 7, "sdk:me@host", 11, 7, &u.data);
    double d;
    int64_t i;
    const char *s;
    size_t n;
    assert_int_equal(event_get_float(&ev, "metrics.0.1", &d), 0);
    assert_true(fabs(d - 0.91) < 1e-12);
    assert_int_equal(event_get_int(&ev, "metrics.0.2", &i), 0);
    assert_int_equal(i, 3);
    assert_int_equal(event_get_string(&ev, "model.name", &s, &n), 0);
    assert_memory_equal(s, "rf", 2);
    assert_int_equal(event_count(&ev, "metrics"), 1);
    assert_int_equal(event_count(&ev, "metrics.0"), 3);
    assert_int_equal(event_count(&ev, "model"), 1);
    assert_int_equal(event_get_float(&ev, "metrics.1.1", &d), -1); /* past the end */
    assert_int_equal(event_get_float(&ev, "metrics.x.1", &d), -1);
    assert_int_equal(event_get_float(&ev, "metrics.0.1.", &d), -1);
    assert_string_equal(event_source_of(&ev), "sdk:me@host");
    /* A clone owns its copy: the buffer can go. */
    cairn_event *copy = event_clone(&ev);
    msgpack_unpacked_destroy(&u);
    memset(sb.data, 0, sb.size);
    msgpack_sbuffer_destroy(&sb);
    assert_int_equal(event_get_string(copy, "model.name", &s, &n), 0);
    assert_memory_equal(s, "rf", 2);
    event_destroy(copy);
}

static void subscriptions_match_exact_prefix_and_all(void **state)
{
    (void)state;
    assert_true(event_type_matches("alert", "alert"));
    assert_false(event_type_matches("alert", "alerts"));
    assert_true(event_type_matches("run.", "run.log"));
    assert_false(event_type_matches("run.", "runs"));
    assert_true(event_type_matches("*", "anything"));
}

/* ---- configuration ---- */

static const cairn_config_key schema[] = {
    {"path", CAIRN_CONFIG_STRING, NULL, 1, "the file to read"},
    {"poll_ms", CAIRN_CONFIG_INT, "500", 0, "how often"},
    {"ratio", CAIRN_CONFIG_FLOAT, "0.5", 0, "a ratio"},
    {"verbose", CAIRN_CONFIG_BOOL, "false", 0, "more logs"},
    {"headers", CAIRN_CONFIG_STRING_LIST, "[\"a: b\"]", 0, "headers"},
    {NULL, 0, NULL, 0, NULL}};

static cairn_status resolve_text(const char *text, plugin_settings *out, cairn_error *err)
{
    config_t cf;
    config_init(&cf);
    assert_int_equal(config_read_string(&cf, text), CONFIG_TRUE);
    plugin_settings given;
    assert_int_equal(plugin_settings_read(config_root_setting(&cf), &given, err), CAIRN_OK);
    config_destroy(&cf);
    cairn_status st = plugin_config_resolve(schema, &given, out, err);
    plugin_settings_free(&given);
    return st;
}

static void config_is_checked_and_completed_with_defaults(void **state)
{
    (void)state;
    plugin_settings out;
    cairn_error err = {0};
    assert_int_equal(resolve_text("path = \"/x\"; ratio = 2;", &out, &err), CAIRN_OK);
    const plugin_setting *s = plugin_settings_find(&out, "poll_ms");
    assert_non_null(s);
    assert_int_equal(s->kind, SETTING_INT);
    assert_int_equal(s->i, 500);
    s = plugin_settings_find(&out, "ratio");
    assert_int_equal(s->kind, SETTING_FLOAT); /* an int given for a float */
    assert_true(s->f == 2.0);
    s = plugin_settings_find(&out, "headers");
    assert_int_equal(s->n_list, 1);
    assert_string_equal(s->list[0], "a: b");
    assert_false(plugin_settings_find(&out, "verbose")->b);
    plugin_settings_free(&out);
}

static void config_faults_name_the_key(void **state)
{
    (void)state;
    plugin_settings out;
    cairn_error err = {0};
    assert_int_equal(resolve_text("path = \"/x\"; pol_ms = 1;", &out, &err),
                     CAIRN_INVALID_PARAMETER_VALUE);
    assert_non_null(strstr(err.message, "unknown config key 'pol_ms'"));
    assert_int_equal(resolve_text("path = \"/x\"; poll_ms = \"fast\";", &out, &err),
                     CAIRN_INVALID_PARAMETER_VALUE);
    assert_non_null(strstr(err.message, "'poll_ms' must be of type int"));
    assert_int_equal(resolve_text("poll_ms = 1;", &out, &err), CAIRN_INVALID_PARAMETER_VALUE);
    assert_non_null(strstr(err.message, "missing required config key 'path'"));
    assert_int_equal(resolve_text("path = \"/x\"; headers = [1, 2];", &out, &err),
                     CAIRN_INVALID_PARAMETER_VALUE);
    assert_non_null(strstr(err.message, "'headers' must be of type string list"));
}

static void bad_schemas_are_refused(void **state)
{
    (void)state;
    cairn_error err = {0};
    const cairn_config_key twice[] = {{"a", CAIRN_CONFIG_INT, NULL, 0, NULL},
                                      {"a", CAIRN_CONFIG_INT, NULL, 0, NULL},
                                      {NULL, 0, NULL, 0, NULL}};
    assert_int_equal(plugin_schema_check(twice, &err), CAIRN_INVALID_PARAMETER_VALUE);
    assert_non_null(strstr(err.message, "declared twice"));
    const cairn_config_key bad_default[] = {{"a", CAIRN_CONFIG_BOOL, "maybe", 0, NULL},
                                            {NULL, 0, NULL, 0, NULL}};
    assert_int_equal(plugin_schema_check(bad_default, &err), CAIRN_INVALID_PARAMETER_VALUE);
    assert_non_null(strstr(err.message, "default for 'a'"));
    const cairn_config_key bad_type[] = {{"a", (cairn_config_type)42, NULL, 0, NULL},
                                         {NULL, 0, NULL, 0, NULL}};
    assert_int_equal(plugin_schema_check(bad_type, &err), CAIRN_INVALID_PARAMETER_VALUE);
    assert_int_equal(plugin_schema_check(schema, &err), CAIRN_OK);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(built_fields_read_back_by_type),
        cmocka_unit_test(a_field_set_twice_keeps_the_last_value),
        cmocka_unit_test(bad_names_and_types_are_refused),
        cmocka_unit_test(paths_reach_nested_maps_and_arrays),
        cmocka_unit_test(subscriptions_match_exact_prefix_and_all),
        cmocka_unit_test(config_is_checked_and_completed_with_defaults),
        cmocka_unit_test(config_faults_name_the_key),
        cmocka_unit_test(bad_schemas_are_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
