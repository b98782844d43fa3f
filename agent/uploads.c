#include "uploads.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "data_dir.h"
#include "error.h"

static cairn_status io_fail(cairn_error *err, const char *what, const char *path)
{
    cairn_status st = errno == ENOSPC ? CAIRN_STORAGE_ERROR : CAIRN_IO_ERROR;
    return error_set(err, st, "%s %s: %s", what, path, strerror(errno));
}

static bool ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

static void remove_parts(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    char path[PATH_MAX];
    while (d && (e = readdir(d)) != NULL)
        if (e->d_name[0] != '.' && ends_with(e->d_name, ".part") &&
            snprintf(path, sizeof path, "%s/%s", dir, e->d_name) < (int)sizeof path)
            unlink(path);
    if (d)
        closedir(d);
}

cairn_status uploads_open(uploads *u, const char *data_dir, cairn_error *err)
{
    memset(u, 0, sizeof *u);
    for (int i = 0; i < UPLOADS_MAX; i++)
        u->slots[i].fd = -1;
    if (snprintf(u->dir, sizeof u->dir, "%s/uploads", data_dir) >= (int)sizeof u->dir)
        return error_set(err, CAIRN_INVALID_PARAMETER_VALUE, "data directory path too long");
    cairn_status st = data_dir_make(u->dir, 0750, err);
    if (!st)
        remove_parts(u->dir);
    return st;
}

static void part_path(const uploads *u, const ulid *id, char *out, size_t cap)
{
    char text[ULID_TEXT_LEN + 1];
    ulid_format(id, text);
    snprintf(out, cap, "%s/%s.part", u->dir, text);
}

static void slot_end(uploads *u, upload_slot *s, bool remove_file)
{
    char path[PATH_MAX];
    if (s->fd >= 0)
        close(s->fd);
    if (remove_file) {
        part_path(u, &s->id, path, sizeof path);
        unlink(path);
    }
    sha256_abort(&s->sha);
    memset(s, 0, sizeof *s);
    s->fd = -1;
}

void uploads_close(uploads *u)
{
    for (int i = 0; i < UPLOADS_MAX; i++)
        if (u->slots[i].active)
            slot_end(u, &u->slots[i], true);
}

uint64_t uploads_pending_bytes(const uploads *u)
{
    uint64_t n = 0;
    for (int i = 0; i < UPLOADS_MAX; i++)
        if (u->slots[i].active)
            n += u->slots[i].received;
    return n;
}

static upload_slot *find_slot(uploads *u, const ulid *id)
{
    for (int i = 0; i < UPLOADS_MAX; i++)
        if (u->slots[i].active && memcmp(u->slots[i].id.b, id->b, ULID_BYTES) == 0)
            return &u->slots[i];
    return NULL;
}

static cairn_status begin_upload(uploads *u, const upload_chunk *c, upload_slot **out,
                                 cairn_error *err)
{
    char path[PATH_MAX];
    upload_slot *s = NULL;
    for (int i = 0; i < UPLOADS_MAX && !s; i++)
        if (!u->slots[i].active)
            s = &u->slots[i];
    if (!s)
        return error_set(err, CAIRN_BACKPRESSURE, "%d uploads already in progress; retry later",
                         UPLOADS_MAX);
    if (c->path.n == 0 || c->path.n > UPLOADS_MAX_PATH)
        return error_set(err, CAIRN_LIMIT_EXCEEDED, "artifact path must be 1 to %d bytes",
                         UPLOADS_MAX_PATH);
    part_path(u, c->upload, path, sizeof path);
    s->fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
    if (s->fd < 0)
        return io_fail(err, "create", path);
    s->active = true;
    s->id = *c->upload;
    if (!sha256_begin(&s->sha)) {
        slot_end(u, s, true);
        return error_set(err, CAIRN_OUT_OF_MEMORY, "sha256 context");
    }
    s->run = *c->run;
    msg_str_copy(c->path, s->path, sizeof s->path);
    *out = s;
    return CAIRN_OK;
}

static cairn_status check_fits(const upload_slot *s, const upload_chunk *c, cairn_error *err)
{
    if (memcmp(s->run.b, c->run->b, ULID_BYTES) != 0 || !msg_str_eq(c->path, s->path))
        return error_set(err, CAIRN_INVALID_STATE,
                         "upload belongs to another run or path; start a new upload id");
    if (c->offset != s->received)
        return error_set(err, CAIRN_INVALID_STATE, "chunk at offset %llu, expected offset %llu",
                         (unsigned long long)c->offset, (unsigned long long)s->received);
    return CAIRN_OK;
}

static cairn_status write_all(int fd, const char *p, size_t n, cairn_error *err)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return io_fail(err, "write", "upload");
        p += w;
        n -= (size_t)w;
    }
    return CAIRN_OK;
}

/* Content first, then the name, then the directory: once the spool refers to
 * the file, it is whole on disk. */
static cairn_status finish(uploads *u, upload_slot *s, upload_done *done, cairn_error *err)
{
    char part[PATH_MAX], final[PATH_MAX];
    if (fdatasync(s->fd) != 0)
        return io_fail(err, "fsync", "upload");
    if (!sha256_finish(&s->sha, done->sha256))
        return error_set(err, CAIRN_INTERNAL_ERROR, "sha256 failed");
    done->size = s->received;
    /* A fresh name, not the upload id: a client reusing an upload id must not
     * overwrite a file that is still waiting in the spool. */
    ulid name = ulid_new();
    ulid_format(&name, done->name);
    part_path(u, &s->id, part, sizeof part);
    uploads_file(u, done->name, final, sizeof final);
    if (rename(part, final) != 0)
        return io_fail(err, "rename", final);
    slot_end(u, s, false);
    return data_dir_sync(u->dir, err);
}

cairn_status uploads_put(uploads *u, const upload_chunk *c, int64_t now_ms, uint64_t *received,
                         bool *finished, upload_done *done, cairn_error *err)
{
    *finished = false;
    if (c->data.n > UPLOADS_MAX_CHUNK)
        return error_set(err, CAIRN_LIMIT_EXCEEDED, "chunk of %u bytes exceeds %zu bytes",
                         c->data.n, UPLOADS_MAX_CHUNK);
    upload_slot *s = find_slot(u, c->upload);
    if (s && !c->last && memcmp(s->last_chunk.b, c->message->b, ULID_BYTES) == 0) {
        *received = s->received; /* a resend of the chunk just written */
        return CAIRN_OK;
    }
    cairn_status st;
    if (!s && c->offset != 0)
        return error_set(err, CAIRN_INVALID_STATE,
                         "unknown upload (expired or agent restarted): expected offset 0");
    if (!s && (st = begin_upload(u, c, &s, err)))
        return st;
    if ((st = check_fits(s, c, err)))
        return st;
    if ((st = write_all(s->fd, c->data.p, c->data.n, err)) ||
        !sha256_update(&s->sha, c->data.p, c->data.n)) {
        slot_end(u, s, true);
        return st ? st : error_set(err, CAIRN_INTERNAL_ERROR, "sha256 update failed");
    }
    s->received += c->data.n;
    s->last_chunk = *c->message;
    s->last_active_ms = now_ms;
    *received = s->received;
    if (!c->last)
        return CAIRN_OK;
    if ((st = finish(u, s, done, err)) != CAIRN_OK) {
        if (s->active)
            slot_end(u, s, true);
        return st;
    }
    *finished = true;
    return CAIRN_OK;
}

void uploads_file(const uploads *u, const char *name, char *out, size_t cap)
{
    snprintf(out, cap, "%s/%s", u->dir, name);
}

void uploads_remove(uploads *u, const char *name)
{
    char path[PATH_MAX];
    uploads_file(u, name, path, sizeof path);
    unlink(path);
}

int uploads_remove_orphans(uploads *u, bool (*referenced)(const char *name, void *ctx), void *ctx)
{
    DIR *d = opendir(u->dir);
    struct dirent *e;
    int n = 0;
    while (d && (e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.' || ends_with(e->d_name, ".part") || referenced(e->d_name, ctx))
            continue;
        uploads_remove(u, e->d_name);
        n++;
    }
    if (d)
        closedir(d);
    return n;
}

int uploads_expire(uploads *u, int64_t now_ms)
{
    int n = 0;
    for (int i = 0; i < UPLOADS_MAX; i++) {
        upload_slot *s = &u->slots[i];
        if (s->active && now_ms - s->last_active_ms > UPLOADS_IDLE_MS) {
            slot_end(u, s, true);
            n++;
        }
    }
    return n;
}

int64_t uploads_next_expiry(const uploads *u)
{
    int64_t next = 0;
    for (int i = 0; i < UPLOADS_MAX; i++) {
        const upload_slot *s = &u->slots[i];
        if (s->active && (next == 0 || s->last_active_ms + UPLOADS_IDLE_MS < next))
            next = s->last_active_ms + UPLOADS_IDLE_MS + 1;
    }
    return next;
}
