/*
 * The daemons' shared config walker: a table's settings land in their fields
 * by kind, groups go to their readers, and anything the table does not name
 * is refused with its file and line.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "daemon_config.h"

typedef struct toy_config {
    char name[8];
    int count;
    uint64_t total;
    size_t bytes;
    size_t map;
    int extras; /* settings seen by the "extra" group's reader */
} toy_config;

static cairn_status count_extras(void *cfg, config_setting_t *group, const char *file,
                                 cairn_error *err)
{
    (void)file;
    (void)err;
    ((toy_config *)cfg)->extras += config_setting_length(group);
    return CAIRN_OK;
}

static const daemon_setting settings[] = {
    DAEMON_STR(toy_config, "name", name),
    DAEMON_NUM(toy_config, DAEMON_INT, "count", count),
    DAEMON_NUM(toy_config, DAEMON_U64, "sizes.total", total),
    DAEMON_NUM(toy_config, DAEMON_SIZE, "sizes.bytes", bytes),
    DAEMON_NUM(toy_config, DAEMON_SIZE_MB, "sizes.map_mb", map),
};
static const daemon_group groups[] = {{"sizes", NULL}, {"extra", count_extras}};

/* Loads text as a config file under table t; err gets the message. */
static cairn_status load(const daemon_config_table *t, toy_config *c, const char *text,
                         cairn_error *err)
{
    char path[] = "/tmp/cairn-daemon-config-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    memset(err, 0, sizeof *err);
    cairn_status st = daemon_config_load(t, c, path, err);
    unlink(path);
    return st;
}

static const daemon_config_table bounded = {DAEMON_ROWS(settings), DAEMON_ROWS(groups)};

/* Asserts that t refuses text with a message that holds `message`. */
static void assert_refused(const daemon_config_table *t, const char *text, const char *message)
{
    toy_config c = {0};
    cairn_error err;
    assert_int_equal(load(t, &c, text, &err), CAIRN_INVALID_PARAMETER_VALUE);
    assert_non_null(strstr(err.message, message));
}

static void test_every_kind_lands_in_its_field(void **state)
{
    (void)state;
    toy_config c = {0};
    cairn_error err;
    assert_int_equal(load(&bounded, &c,
                          "name = \"abc\";\ncount = 1000;\n"
                          "sizes: { total = 5000000000L; bytes = 4096; map_mb = 3; };\n"
                          "extra: { a = 1; b = \"x\"; };\n",
                          &err),
                     CAIRN_OK);
    assert_string_equal(c.name, "abc");
    assert_int_equal(c.count, 1000);
    assert_true(c.total == 5000000000ULL);
    assert_int_equal(c.bytes, 4096);
    assert_int_equal(c.map, (size_t)3 << 20);
    assert_int_equal(c.extras, 2);
}

static void test_unknown_settings_are_refused_with_their_line(void **state)
{
    (void)state;
    assert_refused(&bounded, "name = \"a\";\nnmae = \"b\";\n", ":2: unknown setting 'nmae'");
    assert_refused(&bounded, "sizes: { totl = 1; };\n", ":1: unknown setting 'sizes.totl'");
    assert_refused(&bounded, "other: { a = 1; };\n", ":1: unknown setting 'other'");
    /* groups are top-level only, and a group is no scalar nor a scalar a
     * group: refused as the wrong type of a known setting, not as unknown */
    assert_refused(&bounded, "sizes: { extra: { a = 1; }; };\n",
                   ":1: unknown setting 'sizes.extra'");
    assert_refused(&bounded, "count: { a = 1; };\n", ":1: 'count' must be an integer");
    assert_refused(&bounded, "name: { a = 1; };\n", ":1: 'name' must be a string");
    assert_refused(&bounded, "sizes = 1;\n", ":1: 'sizes' must be a group: sizes: { ... };");
    assert_refused(&bounded, "extra = [1];\n", ":1: 'extra' must be a group");
}

static void test_bad_values_are_refused(void **state)
{
    (void)state;
    assert_refused(&bounded, "name = 1;\n", "'name' must be a string shorter than 8 bytes");
    assert_refused(&bounded, "name = \"12345678\";\n", "'name' must be a string shorter than 8 bytes");
    assert_refused(&bounded, "count = \"1\";\n", "'count' must be an integer");
    assert_refused(&bounded, "count = 1.5;\n", "'count' must be an integer");
    assert_refused(&bounded, "count = -1;\n", "'count' must not be negative");
    assert_refused(&bounded, "sizes: { bytes = -1; };\n", "'sizes.bytes' must not be negative");
}

/* An int above DAEMON_INT_MAX is refused, not wrapped (4294967396 would
 * become 100), as is a size in MiB that would wrap in bytes. */
static void test_default_bounds(void **state)
{
    (void)state;
    toy_config c = {0};
    cairn_error err;
    assert_int_equal(load(&bounded, &c, "count = 1000000000;\n", &err), CAIRN_OK);
    assert_int_equal(c.count, 1000000000);
    assert_refused(&bounded, "count = 1000000001;\n", "'count' is too large");
    assert_refused(&bounded, "count = 4294967396L;\n", "'count' is too large");
    assert_refused(&bounded, "sizes: { map_mb = 9223372036854775807L; };\n",
                   "'sizes.map_mb' is too large");
}

/* libconfig 1.5 reads an integer without an L suffix as 32 bits and wraps
 * it silently: 5000000000 would be 705032704, 4294967396 would be 100 and
 * -4294967295 would be 1. The literal is checked against what was read. */
static void test_a_plain_integer_beyond_32_bits_is_refused_not_wrapped(void **state)
{
    (void)state;
    const char *hint = "write it with an L suffix";
    assert_refused(&bounded, "sizes: { total = 5000000000; };\n", hint);
    assert_refused(&bounded, "count = 4294967396;\n", hint);
    assert_refused(&bounded, "name = \"a\";\ncount=-4294967295;\n", ":2: 'count' is beyond");
    assert_refused(&bounded, "sizes: { bytes = 1; total = 99999999999999999999; };\n", hint);
    assert_refused(&bounded, "sizes: { map_mb = 0x100000001; };\n", hint);
    /* what fits is read as before, however it is written */
    toy_config c = {0};
    cairn_error err;
    assert_int_equal(load(&bounded, &c,
                          "count=1000;\nsizes : { total : 5000000000L; bytes = 0x10;\n"
                          "  map_mb\t=\t7 ; };\n",
                          &err),
                     CAIRN_OK);
    assert_int_equal(c.count, 1000);
    assert_true(c.total == 5000000000ULL);
    assert_int_equal(c.bytes, 16);
    assert_int_equal(c.map, (size_t)7 << 20);
}

static void test_unreadable_and_malformed_files(void **state)
{
    (void)state;
    toy_config c = {0};
    cairn_error err = {0};
    assert_int_equal(daemon_config_load(&bounded, &c, "/nonexistent/cairn.conf", &err),
                     CAIRN_IO_ERROR);
    assert_string_equal(err.message,
                        "cannot read config file /nonexistent/cairn.conf: No such file or directory");
    assert_int_equal(load(&bounded, &c, "name = \n", &err), CAIRN_INVALID_PARAMETER_VALUE);
    assert_non_null(strstr(err.message, ":2: syntax error"));
}

static void test_log_level(void **state)
{
    (void)state;
    cairn_error err = {0};
    assert_int_equal(daemon_config_check_log_level("warn", &err), CAIRN_OK);
    assert_int_equal(daemon_config_check_log_level("loud", &err), CAIRN_INVALID_PARAMETER_VALUE);
    assert_string_equal(err.message, "log_level 'loud' is not one of debug, info, warn, error");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_kind_lands_in_its_field),
        cmocka_unit_test(test_unknown_settings_are_refused_with_their_line),
        cmocka_unit_test(test_bad_values_are_refused),
        cmocka_unit_test(test_default_bounds),
        cmocka_unit_test(test_a_plain_integer_beyond_32_bits_is_refused_not_wrapped),
        cmocka_unit_test(test_unreadable_and_malformed_files),
        cmocka_unit_test(test_log_level),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
