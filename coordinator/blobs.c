#include "blobs.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "error.h"

static cairn_status io_fail(cairn_error *err, const char *what, const char *path)
{
    cairn_status st = errno == ENOSPC ? CAIRN_STORAGE_ERROR : CAIRN_IO_ERROR;
    return error_set(err, st, "%s %s: %s", what, path, strerror(errno));
}

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

cairn_status blobs_open(blobs *b, const char *data_dir, cairn_error *err)
{
    memset(b, 0, sizeof *b);
    char tmp[PATH_MAX];
    snprintf(b->dir, sizeof b->dir, "%s/blobs", data_dir);
    snprintf(tmp, sizeof tmp, "%s/tmp", b->dir);
    if (make_dir(b->dir) || make_dir(tmp))
        return io_fail(err, "create", b->dir);
    empty_tmp(tmp);
    return CAIRN_OK;
}

static void upload_end(blob_upload *u, bool remove_file)
{
    if (u->fd >= 0)
        close(u->fd);
    if (remove_file)
        unlink(u->tmp_path);
    sha256_abort(&u->sha);
    memset(u, 0, sizeof *u);
    u->fd = -1;
}

void blobs_close(blobs *b)
{
    for (int i = 0; i < BLOBS_MAX_UPLOADS; i++)
        if (b->uploads[i].active)
            upload_end(&b->uploads[i], true);
}

static blob_upload *find_upload(blobs *b, const ulid *id)
{
    for (int i = 0; i < BLOBS_MAX_UPLOADS; i++)
        if (b->uploads[i].active && memcmp(b->uploads[i].id.b, id->b, ULID_BYTES) == 0)
            return &b->uploads[i];
    return NULL;
}

static cairn_status begin_upload(blobs *b, const blob_chunk *c, blob_upload **out,
                                 cairn_error *err)
{
    blob_upload *u = NULL;
    for (int i = 0; i < BLOBS_MAX_UPLOADS && !u; i++)
        if (!b->uploads[i].active)
            u = &b->uploads[i];
    if (!u)
        return error_set(err, CAIRN_BACKPRESSURE, "%d uploads already in progress; retry later",
                         BLOBS_MAX_UPLOADS);
    char idtext[ULID_TEXT_LEN + 1];
    ulid_format(c->upload, idtext);
    snprintf(u->tmp_path, sizeof u->tmp_path, "%s/tmp/%s", b->dir, idtext);
    u->fd = open(u->tmp_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
    if (u->fd < 0)
        return io_fail(err, "create", u->tmp_path);
    if (!sha256_begin(&u->sha)) {
        upload_end(u, true);
        return error_set(err, CAIRN_OUT_OF_MEMORY, "sha256 context");
    }
    u->active = true;
    u->id = *c->upload;
    u->run = *c->run;
    msg_str_copy(c->path, u->path, sizeof u->path);
    *out = u;
    return CAIRN_OK;
}

static cairn_status write_all(int fd, const char *p, size_t n, const char *path, cairn_error *err)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return io_fail(err, "write", path);
        p += w;
        n -= (size_t)w;
    }
    return CAIRN_OK;
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
        return io_fail(err, "open", dir);
    int rc = fsync(fd);
    close(fd);
    return rc ? io_fail(err, "fsync", dir) : CAIRN_OK;
}

/* Makes the upload durable under its hash: fsync, rename, fsync the directory. */
static cairn_status finish_upload(blobs *b, blob_upload *u, store_artifact *done,
                                  cairn_error *err)
{
    char hex[SHA256_HEX_LEN + 1];
    if (fdatasync(u->fd) != 0)
        return io_fail(err, "fsync", u->tmp_path);
    if (!sha256_finish(&u->sha, hex) || !sha256_parse((msg_str){hex, SHA256_HEX_LEN}, done->sha256))
        return error_set(err, CAIRN_INTERNAL_ERROR, "sha256 of %s", u->tmp_path);
    done->size = u->received;
    char dir[PATH_MAX], path[PATH_MAX];
    blob_path(b, done->sha256, path, sizeof path, dir, sizeof dir);
    if (make_dir(dir))
        return io_fail(err, "create", dir);
    struct stat st;
    if (stat(path, &st) == 0 && (uint64_t)st.st_size == done->size) {
        upload_end(u, true); /* this content is stored already */
        return CAIRN_OK;
    }
    if (rename(u->tmp_path, path) != 0)
        return io_fail(err, "rename", path);
    upload_end(u, false);
    cairn_status s = fsync_dir(dir, err);
    return s ? s : fsync_dir(b->dir, err);
}

static cairn_status check_chunk_fits(blob_upload *u, const blob_chunk *c, cairn_error *err)
{
    if (memcmp(u->run.b, c->run->b, ULID_BYTES) != 0 || !msg_str_eq(c->path, u->path))
        return error_set(err, CAIRN_INVALID_STATE,
                         "upload belongs to another run or path; start a new upload id");
    if (c->offset != u->received)
        return error_set(err, CAIRN_INVALID_STATE, "chunk at offset %llu, expected offset %llu",
                         (unsigned long long)c->offset, (unsigned long long)u->received);
    return CAIRN_OK;
}

cairn_status blobs_put_chunk(blobs *b, const blob_chunk *c, int64_t now_ms, uint64_t *received,
                             bool *finished, store_artifact *done, cairn_error *err)
{
    *finished = false;
    if (c->data.n > BLOBS_MAX_CHUNK)
        return error_set(err, CAIRN_LIMIT_EXCEEDED, "chunk of %u bytes exceeds %zu bytes",
                         c->data.n, BLOBS_MAX_CHUNK);
    blob_upload *u = find_upload(b, c->upload);
    if (u && memcmp(u->last_chunk.b, c->message->b, ULID_BYTES) == 0 && !c->last) {
        *received = u->received; /* a resend of the chunk just written */
        return CAIRN_OK;
    }
    cairn_status st;
    if (!u && c->offset != 0)
        return error_set(err, CAIRN_INVALID_STATE,
                         "unknown upload (expired or coordinator restarted): expected offset 0");
    if (!u && (st = begin_upload(b, c, &u, err)))
        return st;
    if ((st = check_chunk_fits(u, c, err)))
        return st;
    if ((st = write_all(u->fd, c->data.p, c->data.n, u->tmp_path, err))) {
        upload_end(u, true);
        return st;
    }
    if (!sha256_update(&u->sha, c->data.p, c->data.n)) {
        upload_end(u, true);
        return error_set(err, CAIRN_INTERNAL_ERROR, "sha256 of %s", u->tmp_path);
    }
    u->received += c->data.n;
    u->last_chunk = *c->message;
    u->last_active_ms = now_ms;
    *received = u->received;
    if (!c->last)
        return CAIRN_OK;
    st = finish_upload(b, u, done, err);
    if (st) {
        if (u->active)
            upload_end(u, true);
        return st;
    }
    *finished = true;
    return CAIRN_OK;
}

int blobs_expire(blobs *b, int64_t now_ms, int64_t idle_ms)
{
    int n = 0;
    for (int i = 0; i < BLOBS_MAX_UPLOADS; i++) {
        if (b->uploads[i].active && now_ms - b->uploads[i].last_active_ms > idle_ms) {
            upload_end(&b->uploads[i], true);
            n++;
        }
    }
    return n;
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
        return io_fail(err, "stat", path);
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
        return io_fail(err, "open blob", path);
    *n = 0;
    while (*n < max) {
        ssize_t r = pread(fd, (char *)buf + *n, max - *n, (off_t)(offset + *n));
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            if (r < 0) {
                close(fd);
                return io_fail(err, "read blob", path);
            }
            break;
        }
        *n += (size_t)r;
    }
    close(fd);
    return CAIRN_OK;
}
