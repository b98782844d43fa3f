/* Where a run comes from (sdk/src/source_info.c): the git commit read from
 * .git, the dirty flag from git status, and the reserved tags they make.
 * The repositories are real, made with the git binary in a temporary
 * directory; without git the tests that need it are skipped. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "source_info.h"
#include "test_shell.h"

#define TIMEOUT_MS 10000

typedef struct fixture {
    char base[64];       /* the temporary directory, outside any repository */
    char repo[80];       /* base/repo: a repository with one commit of f.txt */
    char cwd[PATH_MAX];  /* restored after each test */
} fixture;

/* git with an identity of its own, whatever the user's configuration. */
#define GIT "GIT_CONFIG_GLOBAL=/dev/null git -c user.name=t -c user.email=t@example.org -c init.defaultBranch=main"

static void head_of(const char *dir, char out[SOURCE_COMMIT_MAX + 1])
{
    char cmd[PATH_MAX + 64];
    snprintf(cmd, sizeof cmd, "git -C '%s' rev-parse HEAD", dir);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    assert_non_null(fgets(out, SOURCE_COMMIT_MAX + 1, p));
    out[strcspn(out, "\n")] = '\0';
    pclose(p);
}

static int setup(void **state)
{
    if (system("git --version >/dev/null 2>&1") != 0)
        return 0; /* *state stays NULL: each test skips */
    fixture *f = calloc(1, sizeof *f);
    if (!f)
        return -1;
    snprintf(f->base, sizeof f->base, "/tmp/cairn-source-XXXXXX");
    if (!mkdtemp(f->base) || !getcwd(f->cwd, sizeof f->cwd))
        return -1;
    snprintf(f->repo, sizeof f->repo, "%s/repo", f->base);
    sh(GIT " init -q '%s'", f->repo);
    write_file(f->repo, "f.txt", "one\n");
    sh("cd '%s' && " GIT " add f.txt && " GIT " commit -q -m one", f->repo);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    if (!f)
        return 0;
    if (chdir(f->cwd) != 0)
        return -1;
    sh("rm -rf '%s'", f->base);
    free(f);
    return 0;
}

static fixture *need_git(void **state)
{
    if (!*state)
        skip();
    return *state;
}

static void test_commit_is_read_from_dot_git(void **state)
{
    fixture *f = need_git(state);
    char got[SOURCE_COMMIT_MAX + 1], want[SOURCE_COMMIT_MAX + 1], sub[PATH_MAX];
    head_of(f->repo, want);
    assert_true(source_git_commit(f->repo, got));
    assert_string_equal(got, want);
    snprintf(sub, sizeof sub, "%s/a/b", f->repo);
    sh("mkdir -p '%s'", sub);
    assert_true(source_git_commit(sub, got)); /* the parents are searched */
    assert_string_equal(got, want);
    assert_false(source_git_commit(f->base, got));
    assert_string_equal(got, "");
}

static void test_clean_then_modified_tracked_file(void **state)
{
    fixture *f = need_git(state);
    assert_int_equal(source_git_dirty(f->repo, TIMEOUT_MS), SOURCE_CLEAN);
    write_file(f->repo, "untracked.txt", "new\n");
    assert_int_equal(source_git_dirty(f->repo, TIMEOUT_MS), SOURCE_CLEAN);
    write_file(f->repo, "f.txt", "two\n");
    assert_int_equal(source_git_dirty(f->repo, TIMEOUT_MS), SOURCE_DIRTY);
    sh("cd '%s' && " GIT " add f.txt", f->repo); /* staged, not committed */
    assert_int_equal(source_git_dirty(f->repo, TIMEOUT_MS), SOURCE_DIRTY);
}

static void test_outside_a_repository_is_unknown(void **state)
{
    fixture *f = need_git(state);
    assert_int_equal(source_git_dirty(f->base, TIMEOUT_MS), SOURCE_DIRTY_UNKNOWN);
}

/* A linked worktree's ".git" is a file naming its git directory. */
static void test_linked_worktree(void **state)
{
    fixture *f = need_git(state);
    char wt[PATH_MAX], got[SOURCE_COMMIT_MAX + 1], want[SOURCE_COMMIT_MAX + 1];
    snprintf(wt, sizeof wt, "%s/wt", f->base);
    sh("cd '%s' && " GIT " worktree add -q -b side '%s'", f->repo, wt);
    write_file(wt, "g.txt", "side\n");
    sh("cd '%s' && " GIT " add g.txt && " GIT " commit -q -m side", wt);
    head_of(wt, want);
    assert_true(source_git_commit(wt, got));
    assert_string_equal(got, want);
    write_file(f->repo, "f.txt", "main is dirty\n");
    assert_int_equal(source_git_dirty(wt, TIMEOUT_MS), SOURCE_CLEAN);
    write_file(wt, "g.txt", "changed\n");
    assert_int_equal(source_git_dirty(wt, TIMEOUT_MS), SOURCE_DIRTY);
}

static const char *tag(const cairn_kv *kv, size_t n, const char *key)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(kv[i].key, key) == 0)
            return kv[i].value;
    return NULL;
}

static size_t detect_in(const char *dir, source_info *src, cairn_kv tags[SOURCE_TAGS_MAX])
{
    assert_int_equal(chdir(dir), 0);
    source_detect(src);
    return source_tags(src, tags);
}

/* Asked once per commit: a change after the first run of a commit is not
 * seen, a new commit asks again. */
static void test_detected_tags(void **state)
{
    fixture *f = need_git(state);
    source_info src;
    cairn_kv tags[SOURCE_TAGS_MAX];
    char want[SOURCE_COMMIT_MAX + 1];
    head_of(f->repo, want);
    assert_int_equal(detect_in(f->repo, &src, tags), 4);
    assert_non_null(tag(tags, 4, "cairn.user"));
    assert_non_null(tag(tags, 4, "cairn.host"));
    assert_string_equal(tag(tags, 4, "cairn.git.commit"), want);
    assert_string_equal(tag(tags, 4, "cairn.git.dirty"), "false");

    write_file(f->repo, "f.txt", "two\n");
    assert_int_equal(detect_in(f->repo, &src, tags), 4);
    assert_string_equal(tag(tags, 4, "cairn.git.dirty"), "false");

    write_file(f->repo, "h.txt", "three\n");
    sh("cd '%s' && " GIT " add h.txt && " GIT " commit -q -m three", f->repo);
    head_of(f->repo, want);
    assert_int_equal(detect_in(f->repo, &src, tags), 4);
    assert_string_equal(tag(tags, 4, "cairn.git.commit"), want);
    assert_string_equal(tag(tags, 4, "cairn.git.dirty"), "true"); /* f.txt still modified */
}

static void test_no_git_tags_outside_a_repository_or_before_a_commit(void **state)
{
    fixture *f = need_git(state);
    source_info src;
    cairn_kv tags[SOURCE_TAGS_MAX];
    char empty[PATH_MAX];
    assert_int_equal(detect_in(f->base, &src, tags), 2);
    assert_null(tag(tags, 2, "cairn.git.commit"));
    assert_null(tag(tags, 2, "cairn.git.dirty"));
    snprintf(empty, sizeof empty, "%s/empty", f->base);
    sh(GIT " init -q '%s'", empty);
    write_file(empty, "f.txt", "staged\n");
    sh("cd '%s' && " GIT " add f.txt", empty);
    assert_int_equal(detect_in(empty, &src, tags), 2);
}

/* A fake git first on PATH: what it prints and how it exits. */
static void fake_git(fixture *f, const char *body)
{
    char dir[PATH_MAX], script[PATH_MAX + 8], path[PATH_MAX * 2];
    snprintf(dir, sizeof dir, "%s/bin", f->base);
    snprintf(script, sizeof script, "%s/git", dir);
    sh("mkdir -p '%s'", dir);
    write_file(dir, "git", body);
    assert_int_equal(chmod(script, 0755), 0);
    snprintf(path, sizeof path, "%s:%s", dir, getenv("PATH"));
    setenv("PATH", path, 1);
}

static void test_without_git_or_when_it_fails_the_flag_is_unknown(void **state)
{
    fixture *f = need_git(state);
    char *path = strdup(getenv("PATH"));
    setenv("PATH", "/nonexistent", 1);
    assert_int_equal(source_git_dirty(f->repo, TIMEOUT_MS), SOURCE_DIRTY_UNKNOWN);
    setenv("PATH", path, 1);
    fake_git(f, "#!/bin/sh\necho ' M f.txt'\nexit 128\n");
    assert_int_equal(source_git_dirty(f->repo, TIMEOUT_MS), SOURCE_DIRTY_UNKNOWN);
    setenv("PATH", path, 1);
    fake_git(f, "#!/bin/sh\necho ' M f.txt'\n");
    assert_int_equal(source_git_dirty(f->repo, TIMEOUT_MS), SOURCE_DIRTY);
    setenv("PATH", path, 1);
    free(path);
}

/* A git that hangs is killed and reaped at the deadline: no answer, no
 * process left behind. */
static void test_a_hanging_git_is_killed(void **state)
{
    fixture *f = need_git(state);
    char *path = strdup(getenv("PATH")), pidfile[PATH_MAX], body[PATH_MAX + 64];
    snprintf(pidfile, sizeof pidfile, "%s/git.pid", f->base);
    snprintf(body, sizeof body, "#!/bin/sh\necho $$ > '%s'\nexec sleep 60\n", pidfile);
    fake_git(f, body);
    assert_int_equal(source_git_dirty(f->repo, 1000), SOURCE_DIRTY_UNKNOWN);
    setenv("PATH", path, 1);
    free(path);
    FILE *p = fopen(pidfile, "r");
    long pid = 0;
    assert_non_null(p);
    assert_int_equal(fscanf(p, "%ld", &pid), 1);
    fclose(p);
    assert_int_equal(kill((pid_t)pid, 0), -1);
    assert_int_equal(errno, ESRCH);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_commit_is_read_from_dot_git, setup, teardown),
        cmocka_unit_test_setup_teardown(test_clean_then_modified_tracked_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_outside_a_repository_is_unknown, setup, teardown),
        cmocka_unit_test_setup_teardown(test_linked_worktree, setup, teardown),
        cmocka_unit_test_setup_teardown(test_detected_tags, setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_git_tags_outside_a_repository_or_before_a_commit,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_without_git_or_when_it_fails_the_flag_is_unknown,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_a_hanging_git_is_killed, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
