/*
 * cairn_tracker's public API with nothing listening: backpressure, argument
 * checks and how the endpoint is chosen.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "tracker_fixture.h"

/* A well-formed run id no receiver has heard of. */
#define SOME_RUN "01HZY3ZQ5W8X9V6T4R2P0N1M3K"

/* A tracker pointed at an endpoint in scratch directory s where nothing listens. */
static cairn_tracker *tracker_without_server(scratch *s, size_t max_queued)
{
    scratch_make(s);
    return open_tracker(s->endpoint, max_queued);
}

static void test_backpressure_without_server(void **state)
{
    (void)state;
    scratch s;
    cairn_error err;
    char id[CAIRN_ID_TEXT_LEN + 1];
    cairn_kv param = {"lr", "0.1"};
    cairn_metric two[2] = {{"a", 1, 0, 0}, {"b", 2, 0, 0}};
    cairn_run_start_opts ro = {.experiment = "exp"};
    cairn_tracker *t = tracker_without_server(&s, 10);
    assert_int_equal(cairn_tracker_start_run(t, &ro, id, &err), CAIRN_OK);
    for (int i = 0; i < 8; i++)
        assert_int_equal(cairn_tracker_log_metric(t, id, "loss", i, i), CAIRN_OK);
    assert_int_equal(cairn_tracker_log_metrics(t, id, two, 2), CAIRN_BACKPRESSURE);
    assert_int_equal(cairn_tracker_log_metric(t, id, "loss", 8, 8), CAIRN_OK);
    assert_int_equal(cairn_tracker_log_metric(t, id, "loss", 9, 9), CAIRN_BACKPRESSURE);
    assert_int_equal(cairn_tracker_log_params(t, id, &param, 1), CAIRN_BACKPRESSURE);
    assert_int_equal(cairn_tracker_end_run(t, id, "FINISHED", 0, &err), CAIRN_BACKPRESSURE);
    cairn_metric many[11];
    for (int i = 0; i < 11; i++)
        many[i] = (cairn_metric){"x", i, i, 0};
    assert_int_equal(cairn_tracker_log_metrics(t, id, many, 11), CAIRN_LIMIT_EXCEEDED);
    assert_int_equal(cairn_tracker_flush(t, 100, &err), CAIRN_TIMEOUT);
    assert_int_equal(cairn_tracker_close(t, 50, &err), CAIRN_TIMEOUT);
    scratch_remove(&s);
}

static void test_arguments_checked(void **state)
{
    (void)state;
    scratch s;
    cairn_error err;
    cairn_tracker *t = tracker_without_server(&s, 0);
    const char *run = SOME_RUN;
    assert_int_equal(cairn_tracker_log_metric(t, NULL, "k", 1, 1), CAIRN_INVALID_PARAMETER_VALUE);
    assert_int_equal(cairn_tracker_log_metric(t, "not-a-run", "k", 1, 1),
                     CAIRN_INVALID_PARAMETER_VALUE);
    assert_int_equal(cairn_tracker_log_metric(t, run, NULL, 1, 1), CAIRN_INVALID_PARAMETER_VALUE);
    assert_int_equal(cairn_tracker_log_metric(NULL, run, "k", 1, 1), CAIRN_INVALID_PARAMETER_VALUE);
    assert_int_equal(cairn_tracker_end_run(t, run, "DONE", 0, &err), CAIRN_INVALID_PARAMETER_VALUE);
    assert_int_equal(cairn_tracker_start_run(t, NULL, NULL, &err), CAIRN_INVALID_PARAMETER_VALUE);
    assert_int_equal(cairn_tracker_log_params(t, run, NULL, 0), CAIRN_OK); /* nothing to queue */
    /* Keys the receiver would refuse are kept as a refusal, not queued. */
    assert_int_equal(cairn_tracker_log_metric(t, run, "bad\tkey", 1, 1), CAIRN_OK);
    assert_int_equal(cairn_tracker_flush(t, 0, &err), CAIRN_INVALID_PARAMETER_VALUE);
    assert_non_null(strstr(err.message, "bad\tkey"));
    assert_int_equal(cairn_tracker_flush(t, 0, &err), CAIRN_OK); /* reported once */
    char long_key[300];
    memset(long_key, 'k', sizeof long_key - 1);
    long_key[sizeof long_key - 1] = '\0';
    assert_int_equal(cairn_tracker_log_metric(t, run, long_key, 1, 1), CAIRN_OK);
    assert_int_equal(cairn_tracker_log_metric(t, run, "", 1, 1), CAIRN_OK);
    assert_int_equal(cairn_tracker_flush(t, 0, &err), CAIRN_LIMIT_EXCEEDED); /* the first one */
    assert_int_equal(cairn_tracker_flush(t, 0, &err), CAIRN_OK);
    assert_int_equal(cairn_tracker_close(t, 0, &err), CAIRN_OK);
    scratch_remove(&s);
}

static void test_local_refusals_name_the_run_and_key(void **state)
{
    (void)state;
    scratch s;
    cairn_error err;
    cairn_tracker *t = tracker_without_server(&s, 0);
    const char *run = SOME_RUN;
    static char config[7000];
    memset(config, 'x', sizeof config - 1);
    /* A process logging to many runs must learn which run and which of the
     * call's params was refused, as a receiver's refusal would say. */
    cairn_kv params[] = {{"lr", "0.1"}, {"config", config}};
    assert_int_equal(cairn_tracker_log_params(t, run, params, 2), CAIRN_OK);
    assert_int_equal(cairn_tracker_flush(t, 0, &err), CAIRN_LIMIT_EXCEEDED);
    assert_non_null(strstr(err.message, run));
    assert_non_null(strstr(err.message, "'config'"));
    assert_non_null(strstr(err.message, "6999 bytes"));
    cairn_kv tag = {"team", "\xff"}; /* not UTF-8 */
    assert_int_equal(cairn_tracker_set_tags(t, run, &tag, 1), CAIRN_OK);
    assert_int_equal(cairn_tracker_flush(t, 0, &err), CAIRN_INVALID_PARAMETER_VALUE);
    assert_non_null(strstr(err.message, run));
    assert_non_null(strstr(err.message, "'team'"));
    assert_int_equal(cairn_tracker_log_metric(t, run, "bad!", 1, 1), CAIRN_OK);
    assert_int_equal(cairn_tracker_flush(t, 0, &err), CAIRN_INVALID_PARAMETER_VALUE);
    assert_non_null(strstr(err.message, run));
    assert_int_equal(cairn_tracker_close(t, 0, &err), CAIRN_OK);
    scratch_remove(&s);
}

static void test_endpoint_resolution(void **state)
{
    (void)state;
    cairn_error err;
    unsetenv("CAIRN_AGENT");
    unsetenv("CAIRN_COORDINATOR");
    cairn_tracker *t = cairn_tracker_open(NULL, &err);
    assert_string_equal(cairn_tracker_endpoint(t), CAIRN_DEFAULT_AGENT);
    cairn_tracker_close(t, 0, NULL);
    setenv("CAIRN_COORDINATOR", "tcp://127.0.0.1:1", 1);
    t = cairn_tracker_open(NULL, &err);
    assert_string_equal(cairn_tracker_endpoint(t), "tcp://127.0.0.1:1");
    cairn_tracker_close(t, 0, NULL);
    setenv("CAIRN_AGENT", "tcp://127.0.0.1:2", 1);
    t = cairn_tracker_open(NULL, &err);
    assert_string_equal(cairn_tracker_endpoint(t), "tcp://127.0.0.1:2");
    cairn_tracker_close(t, 0, NULL);
    cairn_tracker_opts o = {.endpoint = "tcp://127.0.0.1:3"};
    t = cairn_tracker_open(&o, &err);
    assert_string_equal(cairn_tracker_endpoint(t), "tcp://127.0.0.1:3");
    cairn_tracker_close(t, 0, NULL);
    unsetenv("CAIRN_AGENT");
    unsetenv("CAIRN_COORDINATOR");
    o.endpoint = "nonsense";
    assert_null(cairn_tracker_open(&o, &err));
    assert_int_equal(err.status, CAIRN_INVALID_PARAMETER_VALUE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_backpressure_without_server),
        cmocka_unit_test(test_arguments_checked),
        cmocka_unit_test(test_local_refusals_name_the_run_and_key),
        cmocka_unit_test(test_endpoint_resolution),
    };
    return cmocka_run_group_tests_name("tracker offline", tests, NULL, NULL);
}
