/* The content hash of a dataset (sdk/src/dataset_hash.c), checked against
 * coreutils (sha256sum over `find | sort`, run through a shell: another
 * implementation), a case worked by hand, and the cases it must refuse. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "dataset_hash.h"
#include "test_shell.h"

static const dataset_progress NO_PROGRESS = {.fd = -1, .min_bytes = 0};

typedef struct fixture {
    char dir[64]; /* a temporary directory; the dataset is dir/d */
    char data[80];
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    strcpy(f->dir, "/tmp/cairn-dshash-XXXXXX");
    if (!mkdtemp(f->dir))
        return -1;
    snprintf(f->data, sizeof f->data, "%s/d", f->dir);
    mkdir(f->data, 0755);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    sh("chmod -R u+rwx '%s'; rm -rf '%s'", f->dir, f->dir);
    free(f);
    return 0;
}

/* The first word a shell command prints (a hash). */
static void shell_hash(char out[65], const char *fmt, ...)
{
    char cmd[4 * PATH_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    assert_int_equal(fscanf(p, "%64s", out), 1);
    assert_int_equal(pclose(p), 0);
}

/* The recipe docs/sdk.md gives for recomputing a directory's hash. */
static void coreutils_dir_hash(const char *dir, char out[65])
{
    shell_hash(out,
               "cd '%s' && find . -xtype f -printf '%%P\\0' | LC_ALL=C sort -z | "
               "xargs -0 -r sha256sum -- | sha256sum",
               dir);
}

static cairn_status hash(const char *path, cairn_dataset_digest *d, cairn_error *err)
{
    return dataset_hash(path, &NO_PROGRESS, d, err);
}

static void file_is_its_sha256(void **state)
{
    fixture *f = *state;
    char path[PATH_MAX], want[65];
    cairn_dataset_digest d;
    cairn_error err;
    write_file(f->data, "train.csv", "a,b\n1,2\n");
    snprintf(path, sizeof path, "%s/train.csv", f->data);
    assert_int_equal(hash(path, &d, &err), CAIRN_OK);
    shell_hash(want, "sha256sum '%s'", path);
    assert_string_equal(d.hash, want);
    assert_int_equal(d.size, 8);
    assert_int_equal(d.files, 1);
}

/* Names whose order differs between a per-directory walk and a sort of the
 * whole paths ("a.txt" < "a/b" bytewise), a space, UTF-8, an empty file. */
static void directory_matches_coreutils(void **state)
{
    fixture *f = *state;
    char want[65];
    cairn_dataset_digest d;
    cairn_error err;
    sh("mkdir -p '%s/a/deeper' '%s/B'", f->data, f->data);
    write_file(f->data, "a.txt", "one\n");
    write_file(f->data, "a/b", "two\n");
    write_file(f->data, "a/deeper/c d", "three\n");
    write_file(f->data, "B/\xc3\xa9t\xc3\xa9.bin", "four");
    write_file(f->data, "empty", "");
    assert_int_equal(hash(f->data, &d, &err), CAIRN_OK);
    coreutils_dir_hash(f->data, want);
    assert_string_equal(d.hash, want);
    assert_int_equal(d.files, 5);
    assert_int_equal(d.size, 4 + 4 + 6 + 4);

    /* An empty directory adds no content; a changed byte changes the hash. */
    char before[65];
    strcpy(before, d.hash);
    sh("mkdir -p '%s/nothing/here'", f->data);
    assert_int_equal(hash(f->data, &d, &err), CAIRN_OK);
    assert_string_equal(d.hash, before);
    write_file(f->data, "a/b", "twO\n");
    assert_int_equal(hash(f->data, &d, &err), CAIRN_OK);
    assert_string_not_equal(d.hash, before);
    coreutils_dir_hash(f->data, want);
    assert_string_equal(d.hash, want);
}

/* One empty file x: sha256("e3b0...b855  x\n"), worked out apart. */
static void small_case_by_hand(void **state)
{
    fixture *f = *state;
    cairn_dataset_digest d;
    cairn_error err;
    write_file(f->data, "x", "");
    assert_int_equal(hash(f->data, &d, &err), CAIRN_OK);
    assert_string_equal(d.hash, "f12c9c548b94d5f1ffd46d951f3b28929b80f9476a3834d55cf01f51f3a5d4f4");
    assert_int_equal(d.files, 1);
    assert_int_equal(d.size, 0);
}

/* A symlink to a file is that file's content under the link's name. */
static void symlink_to_file_is_followed(void **state)
{
    fixture *f = *state;
    char copy[PATH_MAX], want[65];
    cairn_dataset_digest linked, copied;
    cairn_error err;
    write_file(f->dir, "outside.txt", "shared\n");
    sh("ln -s ../outside.txt '%s/link.txt'", f->data);
    assert_int_equal(hash(f->data, &linked, &err), CAIRN_OK);
    coreutils_dir_hash(f->data, want);
    assert_string_equal(linked.hash, want);
    snprintf(copy, sizeof copy, "%s/copy", f->dir);
    mkdir(copy, 0755);
    write_file(copy, "link.txt", "shared\n");
    assert_int_equal(hash(copy, &copied, &err), CAIRN_OK);
    assert_string_equal(linked.hash, copied.hash);
}

/* Each case is made by a shell command in the fixture's directory, around a
 * dataset d holding the file a; hashing d must fail naming the entry. */
static const struct refusal {
    const char *make;
    cairn_status status;
    const char *mention;
} refusals[] = {
    {"mkdir real && ln -s ../real d/loop", CAIRN_INVALID_PARAMETER_VALUE,
     "/loop: a symlink to a directory"},
    {"ln -s nowhere d/gone", CAIRN_IO_ERROR, "/gone: a symlink to nothing"},
    /* A FIFO would block a read for ever: refused, and the call returns. */
    {"mkfifo d/pipe", CAIRN_INVALID_PARAMETER_VALUE, "/pipe: a special file"},
    {"touch \"d/two$(printf '\\nlines')\"", CAIRN_INVALID_PARAMETER_VALUE,
     "a name holding a newline"},
    {"rm d/a && mkdir -p d/only/dirs", CAIRN_INVALID_PARAMETER_VALUE, "holds no files"},
    /* Opens, then cannot be read (EIO from /proc/self/mem at offset 0). */
    {"ln -s /proc/self/mem d/mem", CAIRN_IO_ERROR, "/mem:"},
};

static void refusals_name_the_entry(void **state)
{
    fixture *f = *state;
    for (size_t i = 0; i < sizeof refusals / sizeof refusals[0]; i++) {
        const struct refusal *r = &refusals[i];
        cairn_dataset_digest d;
        cairn_error err = {0};
        sh("cd '%s' && rm -rf d real && mkdir d && echo 1 > d/a && %s", f->dir, r->make);
        assert_int_equal(hash(f->data, &d, &err), r->status);
        if (!strstr(err.message, r->mention))
            fail_msg("%s: message '%s' does not mention '%s'", r->make, err.message, r->mention);
        assert_string_equal(d.hash, "");
    }
}

static void paths_that_are_not_data(void **state)
{
    fixture *f = *state;
    char fifo[PATH_MAX];
    cairn_dataset_digest d;
    cairn_error err;
    snprintf(fifo, sizeof fifo, "%s/pipe", f->dir);
    assert_int_equal(mkfifo(fifo, 0600), 0);
    assert_int_equal(hash(fifo, &d, &err), CAIRN_INVALID_PARAMETER_VALUE);
    assert_int_equal(hash("/nonexistent/cairn", &d, &err), CAIRN_IO_ERROR);
}

/* Hashes path as a user without access (root reads anything, so the check
 * runs in a child that gave root up): true when it failed with an I/O error
 * whose message holds mention. */
static bool refused_without_access(const char *path, const char *mention)
{
    int status;
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        cairn_dataset_digest d;
        cairn_error err;
        if (geteuid() == 0 && (setgid(65534) != 0 || setuid(65534) != 0))
            _exit(10);
        cairn_status st = hash(path, &d, &err);
        _exit(st == CAIRN_IO_ERROR && strstr(err.message, mention) ? 0 : 11);
    }
    assert_int_equal(waitpid(pid, &status, 0), pid);
    return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

static void unreadable_file_and_directory_are_refused(void **state)
{
    fixture *f = *state;
    write_file(f->data, "open.txt", "1");
    write_file(f->data, "secret.txt", "2");
    sh("chmod 755 '%s' && chmod 000 '%s/secret.txt'", f->dir, f->data);
    assert_true(refused_without_access(f->data, "secret.txt: Permission denied"));
    /* The directory itself unreadable: its name in the error. */
    sh("cd '%s' && chmod 644 secret.txt && mkdir closed && echo x > closed/f && chmod 000 closed",
       f->data);
    assert_true(refused_without_access(f->data, "/closed: Permission denied"));
}

static long max_rss_kib(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss;
}

/* 768 MiB of holes: streamed through a fixed buffer, the process's peak
 * memory does not grow by anything like the file's size. */
static void large_sparse_file_streams(void **state)
{
    fixture *f = *state;
    char path[PATH_MAX], want[65];
    const off_t size = (off_t)768 << 20;
    snprintf(path, sizeof path, "%s/sparse.bin", f->dir);
    int fd = open(path, O_CREAT | O_WRONLY | O_TRUNC, 0644);
    assert_true(fd >= 0);
    assert_int_equal(ftruncate(fd, size - 1), 0);
    assert_int_equal(pwrite(fd, "!", 1, size - 1), 1); /* the last byte is data */
    close(fd);
    long before = max_rss_kib();
    cairn_dataset_digest d;
    cairn_error err;
    assert_int_equal(hash(path, &d, &err), CAIRN_OK);
    long grew_mib = (max_rss_kib() - before) / 1024;
    if (grew_mib > 64)
        fail_msg("peak memory grew by %ld MiB hashing a %lld MiB file", grew_mib,
                 (long long)(size >> 20));
    assert_int_equal(d.size, (uint64_t)size);
    shell_hash(want, "sha256sum '%s'", path);
    assert_string_equal(d.hash, want);
}

/* The progress line: written in place (\r) to the given descriptor when the
 * input is large enough, ended by a newline; nothing below the threshold. */
static void progress_line_only_over_the_threshold(void **state)
{
    fixture *f = *state;
    int p[2];
    char buf[4096];
    cairn_dataset_digest d;
    cairn_error err;
    write_file(f->data, "a", "0123456789");
    write_file(f->data, "b", "0123456789");
    assert_int_equal(pipe(p), 0);
    fcntl(p[0], F_SETFL, O_NONBLOCK);
    dataset_progress big = {.fd = p[1], .min_bytes = 20};
    assert_int_equal(dataset_hash(f->data, &big, &d, &err), CAIRN_OK);
    ssize_t n = read(p[0], buf, sizeof buf - 1);
    assert_true(n > 0);
    buf[n] = '\0';
    assert_non_null(strstr(buf, "\rhashing: "));
    assert_non_null(strstr(buf, "(100%), 2 of 2 files"));
    assert_int_equal(buf[n - 1], '\n');

    dataset_progress small = {.fd = p[1], .min_bytes = 21};
    assert_int_equal(dataset_hash(f->data, &small, &d, &err), CAIRN_OK);
    errno = 0;
    assert_int_equal(read(p[0], buf, sizeof buf), -1);
    assert_int_equal(errno, EAGAIN);
    close(p[0]);
    close(p[1]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(file_is_its_sha256, setup, teardown),
        cmocka_unit_test_setup_teardown(directory_matches_coreutils, setup, teardown),
        cmocka_unit_test_setup_teardown(small_case_by_hand, setup, teardown),
        cmocka_unit_test_setup_teardown(symlink_to_file_is_followed, setup, teardown),
        cmocka_unit_test_setup_teardown(refusals_name_the_entry, setup, teardown),
        cmocka_unit_test_setup_teardown(paths_that_are_not_data, setup, teardown),
        cmocka_unit_test_setup_teardown(unreadable_file_and_directory_are_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(large_sparse_file_streams, setup, teardown),
        cmocka_unit_test_setup_teardown(progress_line_only_over_the_threshold, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
