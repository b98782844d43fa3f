/* Rollback: switch back to the newest version of the history that is not
 * current, if it is still installed. */
#include "symlink.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* Rolls back to the newest version of the history that is not current. */
void rollback_start(struct op *op)
{
    if (!op->prev_version) {
        op_fail(op, "model %s has no current version", op->model);
        return;
    }
    char(*hist)[NAME_MAX_LEN + 1] = calloc(HISTORY_KEEP + 2, sizeof(*hist));
    size_t n = hist ? history_read(op->model_dir, hist) : 0;
    while (n > 0 && strcmp(hist[n - 1], op->prev_version) == 0)
        n--;
    if (n > 0)
        snprintf(op->version, sizeof(op->version), "%s", hist[n - 1]);
    free(hist);
    if (n == 0) {
        op_fail(op, "no version of %s before %s to roll back to", op->model, op->prev_version);
        return;
    }
    char *dir = fmt("%s/" VERSIONS_PREFIX "%s", op->model_dir, op->version);
    struct stat st;
    int present = dir && stat(dir, &st) == 0 && S_ISDIR(st.st_mode);
    free(dir);
    if (!present) {
        op_fail(op, VERSIONS_PREFIX "%s is no longer installed", op->version);
        return;
    }
    op_switch(op);
}
