/* Path names and small files: the helpers every step of a command uses. */
#include "symlink.h"

#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

char *fmt(const char *f, ...)
{
    char *s;
    va_list ap;
    va_start(ap, f);
    int n = vasprintf(&s, f, ap);
    va_end(ap);
    return n < 0 ? NULL : s;
}

/* A name that is safe as one path component: 1 to NAME_MAX_LEN bytes, no '/',
 * no control character, not starting with '.' (which also excludes "." and
 * ".." and keeps dot names free for the plugin's scratch files). */
int safe_name(const char *s, size_t len)
{
    if (len == 0 || len > NAME_MAX_LEN || s[0] == '.')
        return 0;
    for (size_t i = 0; i < len; i++)
        if (s[i] == '/' || (unsigned char)s[i] < 0x20 || s[i] == 0x7f)
            return 0;
    return 1;
}

/* Makes the renames in dir durable. */
void sync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
}

/* Writes `text` to path through a scratch file and a rename. */
int write_file_atomic(const char *path, const char *text)
{
    char *tmp = fmt("%s.tmp-%ld", path, (long)getpid());
    if (!tmp)
        return -1;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    size_t len = strlen(text);
    int ok = fd >= 0 && write(fd, text, len) == (ssize_t)len && fsync(fd) == 0;
    if (fd >= 0 && close(fd) != 0)
        ok = 0;
    if (ok && rename(tmp, path) != 0)
        ok = 0;
    if (!ok)
        unlink(tmp);
    free(tmp);
    return ok ? 0 : -1;
}

/* Reads a small file whole, NUL-terminated; NULL when it cannot. */
char *read_small_file(const char *path)
{
    FILE *f = fopen(path, "re");
    if (!f)
        return NULL;
    char *buf = calloc(1, 64 * 1024);
    if (buf && fread(buf, 1, 64 * 1024 - 1, f) == 0 && ferror(f)) {
        free(buf);
        buf = NULL;
    }
    fclose(f);
    return buf;
}
