/* What tests that work on files share: a shell command, which fails the
 * test naming the command when it fails, and a small file written whole.
 * Include after cmocka.h. */
#ifndef CAIRN_TEST_SHELL_H
#define CAIRN_TEST_SHELL_H

#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

static inline void sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static inline void sh(const char *fmt, ...)
{
    char cmd[4 * PATH_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    if (system(cmd) != 0)
        fail_msg("failed: %s", cmd);
}

static inline void write_file(const char *dir, const char *name, const char *text)
{
    char path[PATH_MAX];
    if (snprintf(path, sizeof path, "%s/%s", dir, name) >= (int)sizeof path)
        fail_msg("path too long: %s/%s", dir, name);
    FILE *out = fopen(path, "w");
    assert_non_null(out);
    fputs(text, out);
    fclose(out);
}

#endif
