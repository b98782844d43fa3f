/* Deploy: fetch the artifact, install it as versions/<version>, switch. */
#include "symlink.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Removes the scratch entries (dot names) a crash left in versions/. */
static void remove_scratch(const char *versions_dir)
{
    DIR *dir = opendir(versions_dir);
    if (!dir)
        return;
    int dfd = dirfd(dir);
    struct dirent *e;
    while ((e = readdir(dir)) != NULL) {
        if (e->d_name[0] != '.' || !strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        if (unlinkat(dfd, e->d_name, 0) == 0 || errno != EISDIR)
            continue;
        int sub = openat(dfd, e->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
        DIR *sd = sub >= 0 ? fdopendir(sub) : NULL;
        struct dirent *se;
        while (sd && (se = readdir(sd)) != NULL)
            unlinkat(sub, se->d_name, 0);
        if (sd)
            closedir(sd);
        else if (sub >= 0)
            close(sub);
        unlinkat(dfd, e->d_name, AT_REMOVEDIR);
    }
    closedir(dir);
}

/* 1: versions/<version> holds this sha256; 0: not installed; -1: it holds
 * something else (a version's content never changes under its name). */
static int op_installed(struct op *op)
{
    char *dir = fmt("%s/" VERSIONS_PREFIX "%s", op->model_dir, op->version);
    char *sha = fmt("%s/" VERSIONS_PREFIX "%s/.sha256", op->model_dir, op->version);
    struct stat st;
    int rc = 0;
    if (!dir || !sha) {
        rc = -1;
    } else if (lstat(dir, &st) == 0) {
        char *text = read_small_file(sha);
        rc = text && strncmp(text, op->sha256, 64) == 0 ? 1 : -1;
        free(text);
    }
    free(dir);
    free(sha);
    return rc;
}

/* Builds versions/.<version>.dir-* with the fetched file and its hash, then
 * renames it to versions/<version>. Returns 0, or -1 having failed the op. */
static int op_install(struct op *op)
{
    struct deployer *d = op->d;
    unsigned seq = ++d->seq;
    char *scratch = fmt("%s/" VERSIONS_PREFIX ".%s.dir-%ld-%u", op->model_dir, op->version,
                        (long)getpid(), seq);
    char *file = fmt("%s/%s", scratch ? scratch : "", d->file_name);
    char *sha = fmt("%s/.sha256", scratch ? scratch : "");
    char *final = fmt("%s/" VERSIONS_PREFIX "%s", op->model_dir, op->version);
    char *line = fmt("%s\n", op->sha256);
    const char *step = NULL;
    if (!scratch || !file || !sha || !final || !line)
        step = "out of memory";
    else if (mkdir(scratch, 0755) != 0)
        step = "mkdir";
    else if (rename(op->fetch_path, file) != 0)
        step = "moving the artifact";
    else if (write_file_atomic(sha, line) != 0)
        step = "writing .sha256";
    else if (rename(scratch, final) != 0)
        step = "renaming into place";
    int err = errno;
    if (step && scratch) {
        unlink(file);
        unlink(sha);
        rmdir(scratch);
    }
    free(scratch);
    free(file);
    free(sha);
    free(final);
    free(line);
    if (step) {
        op_fail(op, "cannot install " VERSIONS_PREFIX "%s (%s): %s", op->version, step,
                strerror(err));
        return -1;
    }
    char *versions = fmt("%s/versions", op->model_dir);
    if (versions)
        sync_dir(versions);
    free(versions);
    char message[256];
    snprintf(message, sizeof(message), "installed " VERSIONS_PREFIX "%s", op->version);
    d->api->command_progress(d->host, op->id, message);
    return 0;
}

static void op_fetched(void *arg, int status, const char *error)
{
    struct op *op = arg;
    if (status != 0)
        op_fail(op, "fetching %s failed: %s", op->sha256, error ? error : "no reason given");
    else if (op_install(op) == 0)
        op_switch(op);
}

void deploy_start(struct op *op, const cairn_event *cmd)
{
    struct deployer *d = op->d;
    const char *why = command_name(d, cmd, "version", op->version);
    if (why) {
        op_fail(op, "version: %s", why);
        return;
    }
    if (command_sha256(d, cmd, op->sha256) != 0) {
        op_fail(op, "sha256: missing, or not 64 hex digits");
        return;
    }
    char *versions = fmt("%s/versions", op->model_dir);
    if (!versions || (mkdir(op->model_dir, 0755) != 0 && errno != EEXIST) ||
        (mkdir(versions, 0755) != 0 && errno != EEXIST)) {
        op_fail(op, "cannot create %s: %s", op->model_dir, strerror(errno));
        free(versions);
        return;
    }
    remove_scratch(versions);
    int installed = op_installed(op);
    if (installed != 0) {
        free(versions);
        if (installed < 0) {
            op_fail(op, VERSIONS_PREFIX "%s exists with another sha256 than %s", op->version,
                    op->sha256);
        } else {
            d->api->command_progress(d->host, op->id, "already installed");
            op_switch(op);
        }
        return;
    }
    op->fetch_path = fmt("%s/.%s.tmp-%ld-%u", versions, op->version, (long)getpid(), ++d->seq);
    free(versions);
    if (!op->fetch_path) {
        op_fail(op, "out of memory");
        return;
    }
    char message[128];
    snprintf(message, sizeof(message), "fetching %s", op->sha256);
    d->api->command_progress(d->host, op->id, message);
    /* The host may call op_fetched before fetch_blob returns: op is not
     * touched after a successful start. */
    if (d->api->fetch_blob(d->host, op->sha256, op->fetch_path, op_fetched, op) != 0)
        op_fail(op, "cannot start fetching %s", op->sha256);
}
