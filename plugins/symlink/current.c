/* The `current` link: what the server loads. */
#include "symlink.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Reads where current points: the raw target and the version it names. */
int current_read(const char *model_dir, char **target, char **version)
{
    char *link = fmt("%s/current", model_dir);
    char buf[4096];
    ssize_t n = link ? readlink(link, buf, sizeof(buf) - 1) : -1;
    free(link);
    *target = NULL;
    *version = NULL;
    if (n < 0)
        return errno == ENOENT ? 0 : -1;
    buf[n] = '\0';
    size_t plen = strlen(VERSIONS_PREFIX);
    *target = strdup(buf);
    *version = strdup(strncmp(buf, VERSIONS_PREFIX, plen) == 0 ? buf + plen : buf);
    return *target && *version ? 0 : -1;
}

/* Points current at target (NULL: removes current), atomically. */
int current_switch(struct deployer *d, const char *model_dir, const char *target)
{
    char *link = fmt("%s/current", model_dir);
    char *tmp = fmt("%s/.current.tmp-%ld-%u", model_dir, (long)getpid(), ++d->seq);
    int rc = -1, err = ENOMEM;
    if (link && tmp) {
        if (!target)
            rc = unlink(link) == 0 || errno == ENOENT ? 0 : -1;
        else if (symlink(target, tmp) == 0 && rename(tmp, link) == 0)
            rc = 0;
        err = errno;
        if (rc != 0)
            unlink(tmp);
        sync_dir(model_dir);
    }
    free(link);
    free(tmp);
    errno = err; /* the reason of a failure, for the caller's message */
    return rc;
}
