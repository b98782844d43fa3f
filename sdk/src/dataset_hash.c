/*
 * Hashing a dataset. A directory is walked first, without reading any file,
 * to collect the relative paths (and sizes, for the progress line) of its
 * files and to refuse what cannot be hashed faithfully; the paths are then
 * sorted bytewise as whole strings (so "a.txt" comes before "a/b", as
 * `LC_ALL=C sort` orders them) and each file is hashed in that order, its
 * line "HEX  RELPATH\n" fed to the directory's hash.
 */
#include "dataset_hash.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "clock.h"
#include "error.h"
#include "regular_file.h"
#include "sha256_file.h"

#define READ_BUFFER ((size_t)1 << 20)
#define PROGRESS_EVERY_MS 100

typedef struct entry {
    char *rel; /* relative path, '/'-separated */
    uint64_t size; /* as stat saw it: for the progress line only */
} entry;

typedef struct walk {
    const char *root;
    entry *items;
    size_t n, cap;
    uint64_t total;
} walk;

typedef struct hasher {
    const dataset_progress *progress;
    bool show; /* the input is large enough for a progress line */
    uint64_t total, done;
    uint64_t files_total, files_done;
    int64_t last_shown; /* monotonic ms */
    char *buf;
} hasher;

/* ---- progress ---- */

static void show_progress(hasher *h, bool final)
{
    int64_t now = clock_mono_ms();
    if (!h->show || (!final && now - h->last_shown < PROGRESS_EVERY_MS))
        return;
    h->last_shown = now;
    char line[160];
    double pct = h->total ? 100.0 * (double)h->done / (double)h->total : 100.0;
    /* \r and "erase to end of line": the line is rewritten in place. */
    int n = snprintf(
        line, sizeof line, "\rhashing: %.1f of %.1f MiB (%.0f%%), %llu of %llu files\033[K%s",
        (double)h->done / 1048576.0, (double)h->total / 1048576.0, pct > 100 ? 100 : pct,
        (unsigned long long)h->files_done, (unsigned long long)h->files_total, final ? "\n" : "");
    if (n > 0 && write(h->progress->fd, line, (size_t)n) < 0) {
        /* A progress line is a courtesy: a terminal gone away stops it, nothing else. */
        h->show = false;
    }
}

/* ---- one file ---- */

static cairn_status io_error(cairn_error *err, const char *what, const char *path)
{
    return error_set(err, CAIRN_IO_ERROR, "cannot %s %s: %s", what, path, strerror(errno));
}

static cairn_status hash_file(hasher *h, const char *path, char hex[SHA256_HEX_LEN + 1],
                              cairn_error *err)
{
    int fd;
    sha256_stream s;
    cairn_status st = regular_file_open(path, &fd, err);
    if (st)
        return st;
    if (!sha256_begin(&s)) {
        close(fd);
        return error_set(err, CAIRN_INTERNAL_ERROR, "cannot hash: libcrypto.so.3 is missing");
    }
    for (;;) {
        ssize_t n = read(fd, h->buf, READ_BUFFER);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            st = io_error(err, "read", path);
            break;
        }
        if (n == 0)
            break;
        if (!sha256_update(&s, h->buf, (size_t)n)) {
            st = error_set(err, CAIRN_INTERNAL_ERROR, "sha256 failed on %s", path);
            break;
        }
        h->done += (uint64_t)n;
        show_progress(h, false);
    }
    close(fd);
    if (!st && !sha256_finish(&s, hex))
        st = error_set(err, CAIRN_INTERNAL_ERROR, "sha256 failed on %s", path);
    sha256_abort(&s);
    return st;
}

/* ---- walking a directory ---- */

static cairn_status add_entry(walk *w, const char *rel, uint64_t size, cairn_error *err)
{
    if (w->n == w->cap) {
        size_t cap = w->cap ? w->cap * 2 : 64;
        entry *items = realloc(w->items, cap * sizeof *items);
        if (!items)
            return error_set(err, CAIRN_OUT_OF_MEMORY, "out of memory listing %s", w->root);
        w->items = items;
        w->cap = cap;
    }
    if (!(w->items[w->n].rel = strdup(rel)))
        return error_set(err, CAIRN_OUT_OF_MEMORY, "out of memory listing %s", w->root);
    w->items[w->n++].size = size;
    w->total += size;
    return CAIRN_OK;
}

static cairn_status walk_dir(walk *w, int dfd, const char *rel, cairn_error *err);

/* What an entry of a directory is: a file to hash, a directory to descend
 * into, or a refusal. A symlink is followed to a regular file only: to a
 * directory it could loop or leave the tree. */
static cairn_status visit(walk *w, int dfd, const char *name, const char *rel, cairn_error *err)
{
    struct stat st;
    if (strchr(name, '\n'))
        return error_set(err, CAIRN_INVALID_PARAMETER_VALUE,
                         "%s/%s: a name holding a newline cannot be hashed", w->root, rel);
    if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) != 0)
        return error_set(err, CAIRN_IO_ERROR, "cannot stat %s/%s: %s", w->root, rel,
                         strerror(errno));
    if (S_ISLNK(st.st_mode)) {
        if (fstatat(dfd, name, &st, 0) != 0)
            return error_set(err, CAIRN_IO_ERROR, "%s/%s: a symlink to nothing (%s)", w->root, rel,
                             strerror(errno));
        if (!S_ISREG(st.st_mode))
            return error_set(err, CAIRN_INVALID_PARAMETER_VALUE,
                             "%s/%s: a symlink to a directory or special file is not followed",
                             w->root, rel);
    }
    if (S_ISREG(st.st_mode))
        return add_entry(w, rel, (uint64_t)st.st_size, err);
    if (!S_ISDIR(st.st_mode))
        return error_set(err, CAIRN_INVALID_PARAMETER_VALUE,
                         "%s/%s: a special file (FIFO, socket or device) cannot be hashed", w->root,
                         rel);
    int sub = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (sub < 0)
        return error_set(err, CAIRN_IO_ERROR, "cannot open directory %s/%s: %s", w->root, rel,
                         strerror(errno));
    return walk_dir(w, sub, rel, err);
}

/* Walks the directory open at dfd (and closes it); rel is its path below the
 * root ("" for the root). */
static cairn_status walk_dir(walk *w, int dfd, const char *rel, cairn_error *err)
{
    DIR *d = fdopendir(dfd);
    if (!d) {
        close(dfd);
        return error_set(err, CAIRN_IO_ERROR, "cannot read directory %s/%s: %s", w->root, rel,
                         strerror(errno));
    }
    cairn_status st = CAIRN_OK;
    struct dirent *e;
    size_t base = strlen(rel);
    char *path = NULL;
    errno = 0;
    while (!st && (e = readdir(d))) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        char *p = realloc(path, base + strlen(e->d_name) + 2);
        if (!p) {
            st = error_set(err, CAIRN_OUT_OF_MEMORY, "out of memory listing %s", w->root);
            break;
        }
        path = p;
        sprintf(path, "%s%s%s", rel, base ? "/" : "", e->d_name);
        st = visit(w, dirfd(d), e->d_name, path, err);
        errno = 0;
    }
    if (!st && errno)
        st = error_set(err, CAIRN_IO_ERROR, "cannot read directory %s/%s: %s", w->root, rel,
                       strerror(errno));
    free(path);
    closedir(d);
    return st;
}

static int by_path(const void *a, const void *b)
{
    return strcmp(((const entry *)a)->rel, ((const entry *)b)->rel); /* unsigned bytes */
}

static void walk_free(walk *w)
{
    for (size_t i = 0; i < w->n; i++)
        free(w->items[i].rel);
    free(w->items);
}

/* ---- the two kinds of input ---- */

static void begin_progress(hasher *h, uint64_t total, uint64_t files)
{
    h->total = total;
    h->files_total = files;
    h->show = h->progress && h->progress->fd >= 0 && total >= h->progress->min_bytes;
    h->last_shown = 0;
    show_progress(h, false);
}

static cairn_status hash_one_file(hasher *h, const char *path, uint64_t size,
                                  cairn_dataset_digest *out, cairn_error *err)
{
    begin_progress(h, size, 1);
    cairn_status st = hash_file(h, path, out->hash, err);
    h->files_done = 1;
    out->size = h->done;
    out->files = 1;
    return st;
}

/* Feeds "HEX  RELPATH\n" of every file, in path order, to the directory's hash. */
static cairn_status hash_entries(hasher *h, const walk *w, sha256_stream *dir, cairn_error *err)
{
    cairn_status st = CAIRN_OK;
    char *full = NULL;
    size_t root_len = strlen(w->root);
    for (size_t i = 0; !st && i < w->n; i++) {
        const char *rel = w->items[i].rel;
        char hex[SHA256_HEX_LEN + 1];
        char *p = realloc(full, root_len + strlen(rel) + 2);
        if (!p) {
            st = error_set(err, CAIRN_OUT_OF_MEMORY, "out of memory");
            break;
        }
        full = p;
        sprintf(full, "%s/%s", w->root, rel);
        st = hash_file(h, full, hex, err);
        if (!st &&
            !(sha256_update(dir, hex, SHA256_HEX_LEN) && sha256_update(dir, "  ", 2) &&
              sha256_update(dir, rel, strlen(rel)) && sha256_update(dir, "\n", 1)))
            st = error_set(err, CAIRN_INTERNAL_ERROR, "sha256 failed");
        h->files_done++;
    }
    free(full);
    return st;
}

static cairn_status hash_directory(hasher *h, const char *path, cairn_dataset_digest *out,
                                   cairn_error *err)
{
    walk w = {.root = path};
    sha256_stream dir = {0};
    int dfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    cairn_status st = dfd < 0 ? io_error(err, "open directory", path) : walk_dir(&w, dfd, "", err);
    if (!st && w.n == 0)
        st = error_set(err, CAIRN_INVALID_PARAMETER_VALUE, "%s holds no files", path);
    if (!st && !sha256_begin(&dir))
        st = error_set(err, CAIRN_INTERNAL_ERROR, "cannot hash: libcrypto.so.3 is missing");
    if (!st) {
        qsort(w.items, w.n, sizeof *w.items, by_path);
        begin_progress(h, w.total, w.n);
        st = hash_entries(h, &w, &dir, err);
    }
    if (!st && !sha256_finish(&dir, out->hash))
        st = error_set(err, CAIRN_INTERNAL_ERROR, "sha256 failed");
    sha256_abort(&dir);
    out->size = h->done;
    out->files = w.n;
    walk_free(&w);
    return st;
}

cairn_status dataset_hash(const char *path, const dataset_progress *progress,
                          cairn_dataset_digest *out, cairn_error *err)
{
    struct stat st;
    if (!path || !*path || !out)
        return error_set(err, CAIRN_INVALID_PARAMETER_VALUE, "dataset hash: no path or no result");
    memset(out, 0, sizeof *out);
    if (stat(path, &st) != 0)
        return io_error(err, "read", path);
    if (!S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode))
        return error_set(err, CAIRN_INVALID_PARAMETER_VALUE,
                         "%s is neither a regular file nor a directory", path);
    hasher h = {.progress = progress, .buf = malloc(READ_BUFFER)};
    if (!h.buf)
        return error_set(err, CAIRN_OUT_OF_MEMORY, "out of memory");
    cairn_status rc = S_ISREG(st.st_mode) ? hash_one_file(&h, path, (uint64_t)st.st_size, out, err)
                                          : hash_directory(&h, path, out, err);
    if (!rc)
        show_progress(&h, true);
    else if (h.show && write(progress->fd, "\n", 1) < 0) {
        /* nothing to do: the error message follows anyway */
    }
    free(h.buf);
    if (rc)
        memset(out, 0, sizeof *out);
    else
        error_clear(err);
    return rc;
}

cairn_status cairn_dataset_hash(const char *path, int progress, cairn_dataset_digest *out,
                                cairn_error *err)
{
    dataset_progress p = {.fd = progress && isatty(STDERR_FILENO) ? STDERR_FILENO : -1,
                          .min_bytes = DATASET_PROGRESS_MIN_BYTES};
    return dataset_hash(path, &p, out, err);
}
