/*
 * The chunk rules the agent and the coordinator share: chunks append at the
 * offset received so far while the digest is computed, a resend of the chunk
 * just written is answered without writing it twice, and everything else is
 * refused in each daemon's own words.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "daemon_uploads.h"

/* When set, a wait for write-back fails with it, as the kernel's does when
 * the disk refused the bytes. That error is reported once per open file: the
 * fdatasync that follows returns 0. */
static int writeback_error;

int sync_file_range(int fd, off_t offset, off_t nbytes, unsigned int flags)
{
    if (writeback_error && (flags & SYNC_FILE_RANGE_WAIT_AFTER)) {
        errno = writeback_error;
        return -1;
    }
    return (int)syscall(SYS_sync_file_range, fd, offset, nbytes, flags);
}

#define SLOTS 2
#define HELLO_SHA "b94d27b9934d3e08a52e52d7da7dabfac484efe37a5380ee9088f7ace2efcde9"

typedef struct fixture {
    char dir[64];
    upload_slot slots[SLOTS];
    upload_table t;
    ulid message, upload, run;
    cairn_error err;
    uint64_t received;
    bool finished;
    char done[SHA256_HEX_LEN + 1]; /* the digest a placed upload had */
    const char *sent_sha;          /* the sender's digest on a last chunk ("": none) */
} fixture;

/* Keeps the digest and drops the file, as a daemon would move it. */
static cairn_status keep_digest(void *owner, upload_slot *s, const char *hex, void *done,
                                cairn_error *err)
{
    (void)owner;
    (void)err;
    memcpy(done, hex, SHA256_HEX_LEN + 1);
    upload_end(s, true);
    return CAIRN_OK;
}

static const upload_rules agent_rules = {SLOTS, keep_digest, "agent", ".part", false};
static const upload_rules coordinator_rules = {SLOTS, keep_digest, "coordinator", "", true};

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    assert_non_null(f);
    strcpy(f->dir, "/tmp/cairn-uploads-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    f->t = (upload_table){&agent_rules, f->slots, f->dir, NULL};
    upload_table_init(&f->t);
    f->upload = ulid_new();
    f->run = ulid_new();
    f->sent_sha = "";
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    upload_table_close(&f->t);
    assert_int_equal(rmdir(f->dir), 0); /* no temp file is left behind */
    free(f);
    return 0;
}

/* Puts data at offset as message f->message of f's upload, at time now_ms. */
static cairn_status put_at(fixture *f, const char *data, uint64_t offset, bool last, int64_t now_ms)
{
    upload_chunk c = {&f->message, &f->upload, &f->run, {"a/b.txt", 7}, offset,
                      {data, (uint32_t)strlen(data)}, last, msg_str_of(f->sent_sha)};
    memset(&f->err, 0, sizeof f->err);
    return upload_table_put(&f->t, &c, now_ms, &f->received, &f->finished, f->done, &f->err);
}

/* The same at time 1000. */
static cairn_status put_as(fixture *f, const char *data, uint64_t offset, bool last)
{
    return put_at(f, data, offset, last, 1000);
}

/* The same as a new message. */
static cairn_status put(fixture *f, const char *data, uint64_t offset, bool last)
{
    f->message = ulid_new();
    return put_as(f, data, offset, last);
}

/* Asserts that a put returned want, with the message. */
static void assert_refused(const fixture *f, cairn_status got, cairn_status want,
                           const char *message)
{
    assert_int_equal(got, want);
    assert_string_equal(f->err.message, message);
}

static off_t file_size(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? st.st_size : -1;
}

static void test_chunks_append_and_seal_to_their_digest(void **state)
{
    fixture *f = *state;
    assert_int_equal(put(f, "hello ", 0, false), CAIRN_OK);
    assert_int_equal(file_size(f->slots[0].tmp_path), 6);
    assert_non_null(strstr(f->slots[0].tmp_path, ".part"));
    assert_false(f->finished);
    assert_int_equal(put(f, "world", 6, true), CAIRN_OK);
    assert_int_equal(f->received, 11);
    assert_true(f->finished);
    assert_string_equal(f->done, HELLO_SHA);
    assert_false(f->slots[0].active);
}

static void test_a_resend_is_answered_without_writing(void **state)
{
    fixture *f = *state;
    assert_int_equal(put(f, "hello", 0, false), CAIRN_OK);
    assert_int_equal(put_as(f, "hello", 0, false), CAIRN_OK);
    assert_int_equal(f->received, 5);
    assert_int_equal(file_size(f->slots[0].tmp_path), 5);
}

/* A last chunk naming another digest than the bytes received places
 * nothing, and the upload goes with its temp file (teardown checks). */
static void test_a_digest_other_than_the_senders_is_refused(void **state)
{
    fixture *f = *state;
    assert_int_equal(put(f, "hello ", 0, false), CAIRN_OK);
    f->sent_sha = "0000000000000000000000000000000000000000000000000000000000000000";
    assert_refused(f, put(f, "world", 6, true), CAIRN_INVALID_PARAMETER_VALUE,
                   "the 11 bytes received have sha256 " HELLO_SHA ", not "
                   "0000000000000000000000000000000000000000000000000000000000000000 as sent: "
                   "upload discarded");
    assert_false(f->finished);
    assert_false(f->slots[0].active);
    f->upload = ulid_new();
    f->sent_sha = HELLO_SHA;
    assert_int_equal(put(f, "hello world", 0, true), CAIRN_OK);
    assert_string_equal(f->done, HELLO_SHA);
}

/* An upload goes on at the offset it reached, for the run it began with. */
static void test_misplaced_chunks_are_refused(void **state)
{
    fixture *f = *state;
    assert_int_equal(put(f, "hello", 0, false), CAIRN_OK);
    assert_refused(f, put(f, "x", 3, false), CAIRN_INVALID_STATE,
                   "chunk at offset 3, expected offset 5");
    f->run = ulid_new();
    assert_refused(f, put(f, "x", 5, false), CAIRN_INVALID_STATE,
                   "upload belongs to another run or path; start a new upload id");
}

static void test_an_unknown_upload_names_the_daemon(void **state)
{
    fixture *f = *state;
    assert_refused(f, put(f, "x", 4, false), CAIRN_INVALID_STATE,
                   "unknown upload (expired or agent restarted): expected offset 0");
    f->t.rules = &coordinator_rules;
    assert_refused(f, put(f, "x", 4, false), CAIRN_INVALID_STATE,
                   "unknown upload (expired or coordinator restarted): expected offset 0");
}

static void test_limits_are_refused(void **state)
{
    fixture *f = *state;
    char *big = malloc(UPLOAD_MAX_CHUNK + 2);
    assert_non_null(big);
    memset(big, 'x', UPLOAD_MAX_CHUNK + 1);
    big[UPLOAD_MAX_CHUNK + 1] = '\0';
    assert_int_equal(put(f, big, 0, false), CAIRN_LIMIT_EXCEEDED);
    free(big);
    for (int i = 0; i < SLOTS; i++) {
        f->upload = ulid_new();
        assert_int_equal(put(f, "x", 0, false), CAIRN_OK);
    }
    f->upload = ulid_new();
    assert_refused(f, put(f, "x", 0, false), CAIRN_BACKPRESSURE,
                   "2 uploads already in progress; retry later");
}

/* A full table: the upload idle longest gives up its slot once it has been
 * idle a minute (its sender gone), not only when uploads expire. */
static void test_a_full_table_takes_back_an_abandoned_upload(void **state)
{
    fixture *f = *state;
    f->t.rules = &coordinator_rules;
    char first[PATH_MAX];
    for (int i = 0; i < SLOTS; i++) {
        f->upload = ulid_new();
        f->message = ulid_new();
        assert_int_equal(put_at(f, "x", 0, false, 1000 + i), CAIRN_OK);
    }
    strcpy(first, f->slots[0].tmp_path);
    f->upload = ulid_new();
    f->message = ulid_new();
    assert_refused(f, put_at(f, "x", 0, false, 1000 + 60000), CAIRN_BACKPRESSURE,
                   "2 uploads already in progress; retry later");
    assert_int_equal(put_at(f, "x", 0, false, 1000 + 60001), CAIRN_OK);
    assert_int_equal(file_size(first), -1); /* the abandoned one's file is gone */
    assert_true(f->slots[1].active);        /* the other stays */
}

static void test_idle_uploads_expire(void **state)
{
    fixture *f = *state;
    f->t.rules = &coordinator_rules;
    assert_int_equal(put(f, "hello", 0, false), CAIRN_OK);
    char path[PATH_MAX];
    strcpy(path, f->slots[0].tmp_path);
    assert_null(strstr(path, ".part"));
    assert_int_equal(upload_table_expire(&f->t, 1500, 1000), 0);
    assert_int_equal(upload_table_expire(&f->t, 2001, 1000), 1);
    assert_int_equal(file_size(path), -1);
}

/* A write-back error seen while pacing fails the upload: the fdatasync at its
 * end would not see it again, and the lost bytes would be placed. */
static void test_a_write_back_error_fails_the_upload(void **state)
{
    fixture *f = *state;
    f->t.rules = &coordinator_rules;
    char *chunk = malloc(UPLOAD_MAX_CHUNK + 1);
    assert_non_null(chunk);
    memset(chunk, 'x', UPLOAD_MAX_CHUNK);
    chunk[UPLOAD_MAX_CHUNK] = '\0';
    writeback_error = ENOSPC;
    cairn_status st = CAIRN_OK;
    uint64_t offset = 0;
    for (int i = 0; i < 4 && !st; i++, offset += UPLOAD_MAX_CHUNK)
        st = put(f, chunk, offset, i == 3);
    writeback_error = 0;
    free(chunk);
    assert_int_equal(st, CAIRN_STORAGE_ERROR);
    assert_non_null(strstr(f->err.message, "No space left on device"));
    assert_false(f->finished);
    assert_false(f->slots[0].active); /* and its file is gone (teardown checks) */
}

static void test_a_table_never_set_closes(void **state)
{
    (void)state;
    upload_table never = {0};
    upload_table_close(&never);
}

/* Every test gets a fresh directory and table. */
#define FRESH(test) cmocka_unit_test_setup_teardown(test, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        FRESH(test_chunks_append_and_seal_to_their_digest),
        FRESH(test_a_resend_is_answered_without_writing),
        FRESH(test_a_digest_other_than_the_senders_is_refused),
        FRESH(test_misplaced_chunks_are_refused),
        FRESH(test_an_unknown_upload_names_the_daemon),
        FRESH(test_limits_are_refused),
        FRESH(test_a_full_table_takes_back_an_abandoned_upload),
        FRESH(test_idle_uploads_expire),
        FRESH(test_a_write_back_error_fails_the_upload),
        cmocka_unit_test(test_a_table_never_set_closes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
