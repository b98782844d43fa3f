/* The history: the versions deployed, oldest first, one a line. Rollback
 * reads it to find the version before the current one. */
#include "symlink.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Reads the newest HISTORY_KEEP names of the history into out. */
size_t history_read(const char *model_dir, char (*out)[NAME_MAX_LEN + 1])
{
    char *path = fmt("%s/history", model_dir);
    char *text = path ? read_small_file(path) : NULL;
    free(path);
    size_t n = 0;
    for (char *save = NULL, *line = text ? strtok_r(text, "\n", &save) : NULL; line;
         line = strtok_r(NULL, "\n", &save)) {
        if (!safe_name(line, strlen(line)))
            continue;
        if (n == HISTORY_KEEP) { /* keep the newest */
            memmove(out, out + 1, (HISTORY_KEEP - 1) * sizeof(*out));
            n--;
        }
        snprintf(out[n++], NAME_MAX_LEN + 1, "%s", line);
    }
    free(text);
    return n;
}

int history_write(const char *model_dir, char (*names)[NAME_MAX_LEN + 1], size_t n)
{
    size_t first = n > HISTORY_KEEP ? n - HISTORY_KEEP : 0;
    char *text = calloc(HISTORY_KEEP, NAME_MAX_LEN + 2);
    char *path = fmt("%s/history", model_dir);
    int rc = -1;
    if (text && path) {
        size_t at = 0;
        for (size_t i = first; i < n; i++)
            at += (size_t)sprintf(text + at, "%s\n", names[i]);
        rc = write_file_atomic(path, text);
    }
    free(text);
    free(path);
    return rc;
}
