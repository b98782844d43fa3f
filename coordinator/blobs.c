#include "blobs.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "error.h"

/* artifact_path_check admits no path the shared upload code refuses. */
_Static_assert(LIMIT_ARTIFACT_PATH == UPLOAD_MAX_PATH, "artifact path limits differ");

static int make_dir(const char *path)
{
    return (mkdir(path, 0750) == 0 || errno == EEXIST) ? 0 : -1;
}

static void empty_tmp(const char *tmp)
{
    DIR *d = opendir(tmp);
    if (!d)
        return;
    struct dirent *e;
    char path[PATH_MAX];
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        if (snprintf(path, sizeof path, "%s/%s", tmp, e->d_name) < (int)sizeof path)
            unlink(path);
    }
    closedir(d);
}

static void blob_path(const blobs *b, const uint8_t sha[32], char *out, size_t cap, char *dir,
                      size_t dir_cap)
{
    char hex[65];
    sha256_hex(sha, hex);
    /* b->dir leaves room for "/ab/" and 62 hex digits: no truncation. */
    if (snprintf(dir, dir_cap, "%s/%.2s", b->dir, hex) >= (int)dir_cap ||
        snprintf(out, cap, "%s/%s", dir, hex + 2) >= (int)cap)
        out[0] = '\0';
}

static cairn_status fsync_dir(const char *dir, cairn_error *err)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return upload_io_fail(err, "open", dir);
    int rc = fsync(fd);
    close(fd);
    return rc ? upload_io_fail(err, "fsync", dir) : CAIRN_OK;
}

/* Puts the upload, durable already (daemon_uploads.c), under its hash: rename,
 * then fsync the directories. When that content is stored already, the upload
 * replaces it all the same: its bytes were just hashed, while the stored file
 * may have been damaged on disk since, and renaming over it is what repairs
 * it (readers open the blob per range, and the content is the same). Both
 * directories are synced either way: the name an earlier upload gave may
 * never have reached the disk if its fsync failed. */
static cairn_status place(void *owner, blob_upload *u, const char *hex, void *done_out,
                          cairn_error *err)
{
    blobs *b = owner;
    store_artifact *done = done_out;
    if (!sha256_parse((msg_str){hex, SHA256_HEX_LEN}, done->sha256))
        return error_set(err, CAIRN_INTERNAL_ERROR, "sha256 of %s", u->tmp_path);
    done->size = u->received;
    char dir[PATH_MAX], path[PATH_MAX];
    blob_path(b, done->sha256, path, sizeof path, dir, sizeof dir);
    if (make_dir(dir))
        return upload_io_fail(err, "create", dir);
    if (rename(u->tmp_path, path) != 0)
        return upload_io_fail(err, "rename", path);
    upload_end(u, false);
    cairn_status s = fsync_dir(dir, err);
    return s ? s : fsync_dir(b->dir, err);
}

static const upload_rules rules = {.max_uploads = BLOBS_MAX_UPLOADS,
                                   .place = place,
                                   .daemon = "coordinator",
                                   .suffix = "",
                                   .errors_name_file = true};

cairn_status blobs_open(blobs *b, const char *data_dir, cairn_error *err)
{
    memset(b, 0, sizeof *b);
    b->table = (upload_table){&rules, b->uploads, b->tmp_dir, b};
    upload_table_init(&b->table);
    snprintf(b->dir, sizeof b->dir, "%s/blobs", data_dir);
    snprintf(b->tmp_dir, sizeof b->tmp_dir, "%s/tmp", b->dir);
    if (make_dir(b->dir) || make_dir(b->tmp_dir))
        return upload_io_fail(err, "create", b->dir);
    empty_tmp(b->tmp_dir);
    return CAIRN_OK;
}

void blobs_close(blobs *b)
{
    upload_table_close(&b->table);
}

cairn_status blobs_put_chunk(blobs *b, const blob_chunk *c, int64_t now_ms, uint64_t *received,
                             bool *finished, store_artifact *done, cairn_error *err)
{
    return upload_table_put(&b->table, c, now_ms, received, finished, done, err);
}

void blobs_drop(blobs *b, const ulid *upload, const ulid *run, msg_str path)
{
    blob_upload *u = upload_table_find(&b->table, upload);
    if (u && memcmp(u->run.b, run->b, ULID_BYTES) == 0 && msg_str_eq(path, u->path))
        upload_end(u, true);
}

int blobs_expire(blobs *b, int64_t now_ms, int64_t idle_ms)
{
    return upload_table_expire(&b->table, now_ms, idle_ms);
}

cairn_status blobs_size(blobs *b, const uint8_t sha[32], uint64_t *size, cairn_error *err)
{
    char dir[PATH_MAX], path[PATH_MAX], hex[65];
    struct stat st;
    blob_path(b, sha, path, sizeof path, dir, sizeof dir);
    int rc = stat(path, &st);
    if (rc == 0 && S_ISREG(st.st_mode)) {
        *size = (uint64_t)st.st_size;
        return CAIRN_OK;
    }
    if (rc != 0 && errno != ENOENT && errno != ENOTDIR)
        return upload_io_fail(err, "stat", path);
    sha256_hex(sha, hex);
    return error_set(err, CAIRN_RESOURCE_DOES_NOT_EXIST, "no blob with sha256 %s", hex);
}

cairn_status blobs_read(blobs *b, const uint8_t sha[32], uint64_t offset, void *buf, size_t max,
                        size_t *n, cairn_error *err)
{
    char dir[PATH_MAX], path[PATH_MAX];
    blob_path(b, sha, path, sizeof path, dir, sizeof dir);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return upload_io_fail(err, "open blob", path);
    *n = 0;
    while (*n < max) {
        ssize_t r = pread(fd, (char *)buf + *n, max - *n, (off_t)(offset + *n));
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            if (r < 0) {
                close(fd);
                return upload_io_fail(err, "read blob", path);
            }
            break;
        }
        *n += (size_t)r;
    }
    close(fd);
    return CAIRN_OK;
}
