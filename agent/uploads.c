#include "uploads.h"

#include <dirent.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "daemon_data_dir.h"
#include "error.h"

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

/* The name, then the directory, after the content (daemon_uploads.c): once
 * the spool refers to the file, it is whole on disk. */
static cairn_status place(void *owner, upload_slot *s, const char *hex, void *done_out,
                          cairn_error *err)
{
    uploads *u = owner;
    upload_done *done = done_out;
    char final[PATH_MAX];
    memcpy(done->sha256, hex, sizeof done->sha256);
    done->size = s->received;
    /* A fresh name, not the upload id: a client reusing an upload id must not
     * overwrite a file that is still waiting in the spool. */
    ulid name = ulid_new();
    ulid_format(&name, done->name);
    uploads_file(u, done->name, final, sizeof final);
    if (rename(s->tmp_path, final) != 0)
        return upload_io_fail(err, "rename", final);
    upload_end(s, false);
    return data_dir_sync(u->dir, err);
}

static const upload_rules rules = {.max_uploads = UPLOADS_MAX,
                                   .place = place,
                                   .daemon = "agent",
                                   .suffix = ".part",
                                   .errors_name_file = false};

cairn_status uploads_open(uploads *u, const char *data_dir, cairn_error *err)
{
    memset(u, 0, sizeof *u);
    u->table = (upload_table){&rules, u->slots, u->dir, u};
    upload_table_init(&u->table);
    if (snprintf(u->dir, sizeof u->dir, "%s/uploads", data_dir) >= (int)sizeof u->dir)
        return error_set(err, CAIRN_INVALID_PARAMETER_VALUE, "data directory path too long");
    cairn_status st = data_dir_make(u->dir, 0750, err);
    if (!st)
        remove_parts(u->dir);
    return st;
}

void uploads_close(uploads *u)
{
    upload_table_close(&u->table);
}

uint64_t uploads_pending_bytes(const uploads *u)
{
    uint64_t n = 0;
    for (int i = 0; i < UPLOADS_MAX; i++)
        if (u->slots[i].active)
            n += u->slots[i].received;
    return n;
}

uint64_t uploads_received(const uploads *u, const ulid *id)
{
    const upload_slot *s = upload_table_find(&u->table, id);
    return s ? s->received : 0;
}

void uploads_drop(uploads *u, const ulid *id)
{
    upload_slot *s = upload_table_find(&u->table, id);
    if (s)
        upload_end(s, true);
}

cairn_status uploads_put(uploads *u, const upload_chunk *c, int64_t now_ms, uint64_t *received,
                         bool *finished, upload_done *done, cairn_error *err)
{
    return upload_table_put(&u->table, c, now_ms, received, finished, done, err);
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
    return upload_table_expire(&u->table, now_ms, UPLOADS_IDLE_MS);
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
