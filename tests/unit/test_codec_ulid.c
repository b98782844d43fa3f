/* ULIDs (sdk/src/ulid.c): their text form, parsing and time order. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "codec_fixture.h"

static void test_ulid_format_known_values(void **state)
{
    (void)state;
    char text[ULID_TEXT_LEN + 1];
    ulid id = {{0}};
    ulid_format(&id, text);
    assert_string_equal(text, "00000000000000000000000000");
    memset(id.b, 0xff, sizeof id.b);
    ulid_format(&id, text);
    assert_string_equal(text, "7ZZZZZZZZZZZZZZZZZZZZZZZZZ");

    /* the ULID spec's example time, 1469918176385 ms, is "01ARYZ6S41" */
    uint64_t ms = 1469918176385;
    memset(id.b, 0, sizeof id.b);
    for (int i = 5; i >= 0; i--, ms >>= 8)
        id.b[i] = (uint8_t)(ms & 0xff);
    ulid_format(&id, text);
    assert_string_equal(text, "01ARYZ6S410000000000000000");
    assert_true(ulid_time_ms(&id) == 1469918176385);

    ulid parsed;
    assert_true(ulid_parse("01ARYZ6S41TSV4RRFFQ69G5FAV", &parsed));
    assert_true(ulid_time_ms(&parsed) == 1469918176385);
    ulid_format(&parsed, text);
    assert_string_equal(text, "01ARYZ6S41TSV4RRFFQ69G5FAV");
}

static void test_ulid_round_trip(void **state)
{
    (void)state;
    char text[ULID_TEXT_LEN + 1];
    for (int k = 0; k < 2000; k++) {
        ulid id;
        if (k < 256) {
            id = ulid_pattern((uint8_t)k);
        } else if (k < 256 + 128) {
            memset(id.b, 0, sizeof id.b); /* one bit set: every bit position */
            int bit = k - 256;
            id.b[bit / 8] = (uint8_t)(0x80u >> (bit % 8));
        } else {
            id = ulid_new();
        }
        ulid_format(&id, text);
        assert_int_equal(strlen(text), ULID_TEXT_LEN);
        assert_true(text[0] >= '0' && text[0] <= '7');
        ulid back;
        memset(back.b, 0xa5, sizeof back.b);
        assert_true(ulid_parse(text, &back));
        assert_true(ulid_eq(&id, &back));
    }
}

static void test_ulid_parse_case_insensitive(void **state)
{
    (void)state;
    ulid upper, lower, mixed;
    assert_true(ulid_parse("01ARYZ6S41TSV4RRFFQ69G5FAV", &upper));
    assert_true(ulid_parse("01aryz6s41tsv4rrffq69g5fav", &lower));
    assert_true(ulid_parse("01aRyZ6s41TsV4rRfFq69G5fAv", &mixed));
    assert_true(ulid_eq(&upper, &lower));
    assert_true(ulid_eq(&upper, &mixed));
    ulid top;
    assert_true(ulid_parse("7zzzzzzzzzzzzzzzzzzzzzzzzz", &top));
    for (int i = 0; i < ULID_BYTES; i++)
        assert_int_equal(top.b[i], 0xff);
}

static void test_ulid_parse_rejects(void **state)
{
    (void)state;
    ulid out;
    const char *bad[] = {
        "",
        "01ARYZ6S41TSV4RRFFQ69G5FA",   /* 25 */
        "01ARYZ6S41TSV4RRFFQ69G5FAVX", /* 27 */
        "01ARYZ6S41TSV4RRFFQ69G5FA!",
        "01ARYZ6S41TSV4RRFFQ69G5FA ",
        " 1ARYZ6S41TSV4RRFFQ69G5FAV",
        "01ARYZ6S41TSV4RRFFQ69G5FAU",  /* U is not in the alphabet */
        "01ARYZ6S41TSV4RRFFQ69G5FAI",  /* nor I, L, O */
        "01ARYZ6S41TSV4RRFFQ69G5FAL",
        "01ARYZ6S41TSV4RRFFQ69G5FAO",
        "01ARYZ6S41TSV4RRFFQ69G5FA-",
        "01ARYZ6S41TSV4RRFFQ69G5FA\xc3",
        "80000000000000000000000000",  /* first char carries 3 bits: > 7 overflows */
        "Z0000000000000000000000000",
        "z0000000000000000000000000",
        "8ZZZZZZZZZZZZZZZZZZZZZZZZZ",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (ulid_parse(bad[i], &out)) {
            print_error("accepted '%s'\n", bad[i]);
            fail();
        }
    }
    assert_false(ulid_parse(NULL, &out));
    /* an embedded NUL shortens the string */
    char nul[] = "01ARYZ6S41TSV4RRFFQ69G5FAV";
    nul[10] = '\0';
    assert_false(ulid_parse(nul, &out));
    assert_true(ulid_parse("70000000000000000000000000", &out));
    assert_int_equal(out.b[0], 0xe0);
}

static uint64_t realtime_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void test_ulid_new_time_ordered(void **state)
{
    (void)state;
    uint64_t before = realtime_ms();
    ulid prev = ulid_new();
    uint64_t after = realtime_ms();
    assert_true(ulid_time_ms(&prev) >= before && ulid_time_ms(&prev) <= after);
    char prev_text[ULID_TEXT_LEN + 1], text[ULID_TEXT_LEN + 1];
    ulid_format(&prev, prev_text);
    for (int k = 0; k < 20; k++) {
        struct timespec pause = {0, 2 * 1000 * 1000};
        nanosleep(&pause, NULL);
        ulid next = ulid_new();
        assert_true(ulid_time_ms(&next) > ulid_time_ms(&prev));
        assert_true(memcmp(prev.b, next.b, ULID_BYTES) < 0);
        ulid_format(&next, text);
        assert_true(strcmp(prev_text, text) < 0); /* text sorts the same way */
        prev = next;
        memcpy(prev_text, text, sizeof text);
    }
    /* the random part is random: two ids of the same millisecond differ */
    ulid a = ulid_new(), b = ulid_new();
    assert_false(ulid_eq(&a, &b));
}

/* The sort the dedup index's bulk write relies on: same order as memcmp,
 * stable for equal ids, with ids that share their leading bytes (one
 * millisecond) and ids that differ only in their first or last byte. */
static const ulid *sort_ids;

static int by_index(const void *a, const void *b)
{
    uint32_t i = *(const uint32_t *)a, j = *(const uint32_t *)b;
    int c = memcmp(sort_ids[i].b, sort_ids[j].b, ULID_BYTES);
    return c ? c : (i > j) - (i < j);
}

static void test_ulid_sort_order(void **state)
{
    (void)state;
    enum { N = 3000 };
    static ulid ids[N];
    static uint32_t order[N], tmp[N], expect[N];
    unsigned seed = 7;
    for (int i = 0; i < N; i++) {
        ids[i] = ulid_new();
        seed = seed * 1103515245u + 12345u;
        if (i % 5 == 0) /* a millisecond apart or the same one */
            memcpy(ids[i].b, ids[(seed >> 8) % (unsigned)(i + 1)].b, 6);
        if (i % 7 == 0) /* the same id again */
            ids[i] = ids[(seed >> 4) % (unsigned)(i + 1)];
        if (i % 11 == 0)
            ids[i].b[seed % 2 ? 0 : ULID_BYTES - 1] ^= (uint8_t)(seed >> 16);
    }
    for (size_t n = 0; n <= N; n = n ? n * 3 : 1) {
        sort_ids = ids;
        for (uint32_t i = 0; i < n; i++)
            expect[i] = i;
        qsort(expect, n, sizeof expect[0], by_index);
        ulid_sort_order(ids, n, order, tmp);
        assert_memory_equal(order, expect, n * sizeof order[0]);
    }
}

/* Ids are drawn from a pool of random bytes: after a fork, parent and child
 * must not both take the same next bytes (in the same millisecond, two
 * writes would share an id, and the second would be taken for a resend). */
static void test_ulid_new_differs_across_fork(void **state)
{
    (void)state;
    ulid_new(); /* the pool now holds bytes for more ids */
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    pid_t child = fork();
    assert_true(child >= 0);
    if (child == 0) {
        ulid id = ulid_new();
        _exit(write(fds[1], id.b + 6, 10) == 10 ? 0 : 1);
    }
    ulid mine = ulid_new();
    uint8_t theirs[10];
    assert_int_equal(read(fds[0], theirs, sizeof theirs), (ssize_t)sizeof theirs);
    int status;
    assert_int_equal(waitpid(child, &status, 0), child);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    assert_memory_not_equal(mine.b + 6, theirs, sizeof theirs);
    close(fds[0]);
    close(fds[1]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ulid_format_known_values),
        cmocka_unit_test(test_ulid_round_trip),
        cmocka_unit_test(test_ulid_parse_case_insensitive),
        cmocka_unit_test(test_ulid_parse_rejects),
        cmocka_unit_test(test_ulid_new_time_ordered),
        cmocka_unit_test(test_ulid_new_differs_across_fork),
        cmocka_unit_test(test_ulid_sort_order),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
