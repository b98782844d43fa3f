/*
 * Artifact upload and download, streamed in 1 MiB chunks and hashed on the
 * way through, so that files larger than memory work and a corrupted transfer
 * is caught by comparing sha256 at both ends.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "artifact_path.h"
#include "body.h"
#include "client_internal.h"
#include "error.h"
#include "regular_file.h"
#include "sha256_file.h"

#define ARTIFACT_CHUNK ((size_t)1 << 20)

static cairn_status io_error(cairn_error *err, const char *what, const char *path)
{
    return error_set(err, CAIRN_IO_ERROR, "%s %s: %s", what, path, strerror(errno));
}

static cairn_status no_memory(cairn_error *err)
{
    return error_set(err, CAIRN_OUT_OF_MEMORY, "out of memory");
}

/* ======== upload ======== */

#define UPLOAD_RESTARTS 3 /* from the first byte, after the coordinator lost it */

typedef struct upload {
    cairn_client *c;
    ulid id;               /* the upload: one for all chunks of the file */
    ulid run;
    const char *path;      /* the artifact path */
    const char *file;      /* the local file */
    int fd;
    unsigned char *buf;
    bool has_carry;        /* one byte read ahead to learn whether a chunk is the last */
    unsigned char carry;
    uint64_t offset;
    sha256_stream sha;
    char hex[SHA256_HEX_LEN + 1]; /* the file's sha256, once its last chunk is read */
} upload;

static cairn_status read_full(upload *u, size_t *n, cairn_error *err)
{
    while (*n < ARTIFACT_CHUNK) {
        ssize_t r = read(u->fd, u->buf + *n, ARTIFACT_CHUNK - *n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return io_error(err, "read", u->file);
        if (r == 0)
            break;
        *n += (size_t)r;
    }
    return CAIRN_OK;
}

/* Reads the next chunk into u->buf; *last when the file ends with it. */
static cairn_status read_chunk(upload *u, size_t *n, bool *last, cairn_error *err)
{
    *n = 0;
    if (u->has_carry) {
        u->buf[(*n)++] = u->carry;
        u->has_carry = false;
    }
    cairn_status st = read_full(u, n, err);
    *last = *n < ARTIFACT_CHUNK;
    while (!st && !*last) {
        ssize_t r = read(u->fd, &u->carry, 1);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return io_error(err, "read", u->file);
        u->has_carry = r == 1;
        *last = r == 0;
        break;
    }
    return st;
}

/* Where in which artifact: the three fields artifact.put and artifact.get share. */
static void pack_position(msgpack_packer *pk, const ulid *run, const char *path, uint64_t offset)
{
    mp_str(pk, "run");
    mp_ulid(pk, run);
    mp_str(pk, "path");
    mp_str(pk, path);
    mp_str(pk, "offset");
    msgpack_pack_uint64(pk, offset);
}

static void pack_chunk(upload *u, size_t n, bool last)
{
    msgpack_packer *pk = client_begin(u->c, "artifact.put", last ? 7 : 6);
    mp_str(pk, "upload");
    mp_ulid(pk, &u->id);
    pack_position(pk, &u->run, u->path, u->offset);
    mp_str(pk, "data");
    mp_bin(pk, u->buf, n);
    mp_str(pk, "last");
    if (last)
        msgpack_pack_true(pk);
    else
        msgpack_pack_false(pk);
    if (last) { /* the receiver stores nothing whose digest differs */
        mp_str(pk, "sha256");
        mp_str(pk, u->hex);
    }
}

/* The offset an INVALID_STATE refusal says the coordinator expects. */
static bool expected_offset(const cairn_error *err, uint64_t *expected)
{
    const char *p = err ? strstr(err->message, "expected offset ") : NULL;
    if (!p || err->status != CAIRN_INVALID_STATE)
        return false;
    char *stop;
    errno = 0;
    unsigned long long v = strtoull(p + strlen("expected offset "), &stop, 10);
    *expected = v;
    return errno == 0 && stop != p + strlen("expected offset ");
}

/* A resent chunk whose first send was applied (its reply lost) is refused
 * with "expected offset N": when N is the end of this very chunk, it is in. */
static bool already_received(const cairn_error *err, uint64_t end)
{
    uint64_t expected;
    return expected_offset(err, &expected) && expected == end;
}

/* The coordinator lost the upload (it restarted, or the upload expired)
 * and expects it from the start. */
static bool upload_lost(const upload *u, const cairn_error *err)
{
    uint64_t expected;
    return u->offset > 0 && expected_offset(err, &expected) && expected == 0;
}

/* Back to the file's first byte, under a new upload id. */
static cairn_status upload_rewind(upload *u, cairn_error *err)
{
    if (lseek(u->fd, 0, SEEK_SET) != 0)
        return io_error(err, "seek", u->file);
    sha256_abort(&u->sha);
    if (!sha256_begin(&u->sha))
        return error_set(err, CAIRN_INTERNAL_ERROR, "sha256 initialisation failed");
    u->has_carry = false;
    u->offset = 0;
    u->id = ulid_new();
    error_clear(err);
    return CAIRN_OK;
}

static cairn_status send_chunk(upload *u, size_t n, bool last, const msgpack_object **body,
                               cairn_error *err)
{
    pack_chunk(u, n, last);
    cairn_status st = client_call(u->c, body, err);
    if (st == CAIRN_INVALID_STATE && !last && already_received(err, u->offset + n)) {
        error_clear(err);
        st = CAIRN_OK;
    }
    if (!st)
        u->offset += n;
    return st;
}

/* The coordinator's size and sha256 of what it stored must be ours. */
static cairn_status check_stored(upload *u, const msgpack_object *body, const char *local_hex,
                                 cairn_artifact *out, cairn_error *err)
{
    msg_str sha;
    int64_t size;
    cairn_status st = body_str(body, "sha256", true, &sha, err);
    if (!st)
        st = body_int(body, "size", true, &size, err);
    if (st)
        return st;
    if (!msg_str_eq(sha, local_hex) || (uint64_t)size != u->offset)
        return error_set(err, CAIRN_IO_ERROR,
                         "upload of %s: coordinator stored %" PRId64 " bytes with sha256 %.*s, "
                         "sent %" PRIu64 " bytes with sha256 %s",
                         u->file, size, (int)sha.n, sha.p, u->offset, local_hex);
    if (out) {
        out->path = u->path;
        out->size = u->offset;
        memcpy(out->sha256, local_hex, sizeof out->sha256);
    }
    return CAIRN_OK;
}

static cairn_status upload_chunks(upload *u, cairn_artifact *out, cairn_error *err)
{
    const msgpack_object *body = NULL;
    bool last = false;
    cairn_status st = CAIRN_OK;
    int restarts = 0;
    while (!st && !last) {
        size_t n;
        st = read_chunk(u, &n, &last, err);
        if (!st && !sha256_update(&u->sha, u->buf, n))
            st = error_set(err, CAIRN_INTERNAL_ERROR, "sha256 update failed");
        if (!st && last && !sha256_finish(&u->sha, u->hex)) /* sent with the last chunk */
            st = error_set(err, CAIRN_INTERNAL_ERROR, "sha256 failed");
        if (!st)
            st = send_chunk(u, n, last, &body, err);
        if (st && upload_lost(u, err) && restarts++ < UPLOAD_RESTARTS) {
            st = upload_rewind(u, err);
            last = false;
        }
    }
    return st ? st : check_stored(u, body, u->hex, out, err);
}

static cairn_status upload_open(upload *u, cairn_error *err)
{
    /* Not a FIFO above all: its open would hang the tracker's sender. */
    cairn_status st = regular_file_open(u->file, &u->fd, err);
    if (st)
        return st;
    u->buf = malloc(ARTIFACT_CHUNK);
    if (!u->buf)
        return no_memory(err);
    if (!sha256_begin(&u->sha))
        return error_set(err, CAIRN_INTERNAL_ERROR, "sha256 initialisation failed");
    return CAIRN_OK;
}

cairn_status cairn_artifact_upload(cairn_client *client, const char *run_id,
                                   const char *local_file, const char *artifact_path,
                                   cairn_artifact *out, cairn_error *err)
{
    upload u = {.c = client, .file = local_file, .path = artifact_path, .fd = -1};
    if (!client || !local_file)
        return error_set(err, CAIRN_INVALID_PARAMETER_VALUE, "artifact upload needs a client and a file");
    if (!u.path)
        u.path = path_base_name(local_file);
    if (!*u.path)
        return error_set(err, CAIRN_INVALID_PARAMETER_VALUE, "no artifact path for '%s'", local_file);
    u.id = ulid_new();
    cairn_status st = artifact_path_check((msg_str){u.path, (uint32_t)strnlen(u.path, 4096)}, err);
    if (!st)
        st = client_run_id(run_id, &u.run, err);
    if (!st)
        st = upload_open(&u, err);
    if (!st)
        st = upload_chunks(&u, out, err);
    sha256_abort(&u.sha);
    free(u.buf);
    if (u.fd >= 0)
        close(u.fd);
    return st;
}

/* ======== download ======== */

/* The temporary file of the download in progress, for a signal handler. */
static char interrupted_tmp[PATH_MAX];
static volatile sig_atomic_t interrupted_tmp_set;

void client_download_interrupted(void)
{
    if (interrupted_tmp_set)
        unlink(interrupted_tmp);
}

static void note_tmp(const char *tmp)
{
    interrupted_tmp_set = 0;
    if (tmp && strlen(tmp) < sizeof interrupted_tmp) {
        strcpy(interrupted_tmp, tmp);
        interrupted_tmp_set = 1;
    }
}

typedef struct download {
    cairn_client *c;
    ulid run;
    const char *blob;      /* when set: the blob of this sha256 (blob.get), not an artifact */
    const char *path;      /* the artifact path, or the blob's hash: what messages name */
    const char *file;
    char *resolved;        /* the target, when file is a symbolic link */
    char *tmp;             /* file.part-XXXXXX */
    bool direct;           /* file is a device or a pipe: written straight into */
    int fd;
    uint64_t got;
    uint64_t size;         /* the whole file, from the first reply */
    bool sized;            /* size (and, for an artifact, sha) are the first reply's */
    char sha[SHA256_HEX_LEN + 1];
    sha256_stream hash;
} download;

static cairn_status write_all(download *d, const char *p, size_t n, cairn_error *err)
{
    while (n > 0) {
        ssize_t w = write(d->fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return io_error(err, "write", d->direct ? d->file : d->tmp);
        p += w;
        n -= (size_t)w;
    }
    return CAIRN_OK;
}

static void pack_get(download *d)
{
    msgpack_packer *pk;
    if (d->blob) {
        pk = client_begin(d->c, "blob.get", 3);
        mp_str(pk, "sha256");
        mp_str(pk, d->blob);
        mp_str(pk, "offset");
        msgpack_pack_uint64(pk, d->got);
    } else {
        pk = client_begin(d->c, "artifact.get", 4);
        pack_position(pk, &d->run, d->path, d->got);
    }
    mp_str(pk, "max");
    msgpack_pack_uint64(pk, ARTIFACT_CHUNK);
}

/* Every range must describe the same stored file as the first one did. */
static cairn_status check_range(download *d, msg_str sha, int64_t size, msg_str data,
                                cairn_error *err)
{
    if (sha.n != SHA256_HEX_LEN || size < 0)
        return error_set(err, CAIRN_BAD_MESSAGE, "artifact.get reply with a malformed size or sha256");
    if (!d->sized) {
        if (d->sha[0] == '\0')
            msg_str_copy(sha, d->sha, sizeof d->sha);
        d->size = (uint64_t)size;
        d->sized = true;
    }
    if (!msg_str_eq(sha, d->sha) || (uint64_t)size != d->size)
        return error_set(err, CAIRN_INVALID_STATE, "artifact %s changed during the download", d->path);
    if (d->got + data.n > d->size)
        return error_set(err, CAIRN_BAD_MESSAGE, "artifact.get sent more than the file's %" PRIu64 " bytes",
                         d->size);
    return CAIRN_OK;
}

/* Fetches and writes one range; *eof when it was the last. */
static cairn_status fetch_range(download *d, bool *eof, cairn_error *err)
{
    const msgpack_object *body;
    msg_str data = {"", 0}, sha = {"", 0};
    int64_t size = 0;
    pack_get(d);
    cairn_status st = client_call(d->c, &body, err);
    if (!st)
        st = body_bin(body, "data", true, &data, err);
    if (!st)
        st = body_int(body, "size", true, &size, err);
    if (!st && d->blob) /* blob.get: the hash is what was asked for */
        sha = msg_str_of(d->blob);
    else if (!st)
        st = body_str(body, "sha256", true, &sha, err);
    if (!st)
        st = body_bool(body, "eof", true, eof, err);
    if (!st)
        st = check_range(d, sha, size, data, err);
    if (!st && data.n == 0 && !*eof)
        st = error_set(err, CAIRN_BAD_MESSAGE, "artifact.get sent an empty range before the end");
    if (!st)
        st = write_all(d, data.p, data.n, err);
    if (!st && !sha256_update(&d->hash, data.p, data.n))
        st = error_set(err, CAIRN_INTERNAL_ERROR, "sha256 update failed");
    d->got += data.n;
    return st;
}

static cairn_status verify_download(download *d, cairn_error *err)
{
    char hex[SHA256_HEX_LEN + 1];
    if (d->got != d->size)
        return error_set(err, CAIRN_IO_ERROR, "artifact %s: got %" PRIu64 " of %" PRIu64 " bytes",
                         d->path, d->got, d->size);
    if (!sha256_finish(&d->hash, hex))
        return error_set(err, CAIRN_INTERNAL_ERROR, "sha256 failed");
    if (strcmp(hex, d->sha) != 0)
        return error_set(err, CAIRN_IO_ERROR, "artifact %s: downloaded sha256 %s, stored %s",
                         d->path, hex, d->sha);
    return CAIRN_OK;
}

/* mkstemp makes 0600 files; give the result the mode a plain create would
 * have (0666 less the umask), read without changing the process's umask. */
static mode_t created_file_mode(void)
{
    unsigned mask = 022;
    char line[128];
    FILE *f = fopen("/proc/self/status", "r");
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "Umask: %o", &mask) == 1)
            break;
    if (f)
        fclose(f);
    return (mode_t)(0666 & ~mask);
}

static void fsync_parent_dir(const char *file)
{
    char *dir = strdup(file);
    if (!dir)
        return;
    char *slash = strrchr(dir, '/');
    const char *name = slash ? (slash == dir ? "/" : (*slash = '\0', dir)) : ".";
    int fd = open(name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
    free(dir);
}

/* Durable content first, then the name: a crash leaves the old file or the new. */
static cairn_status commit_download(download *d, cairn_error *err)
{
    if (d->direct) {
        int rc = close(d->fd);
        d->fd = -1;
        return rc != 0 ? io_error(err, "close", d->file) : CAIRN_OK;
    }
    if (fchmod(d->fd, created_file_mode()) != 0 || fsync(d->fd) != 0)
        return io_error(err, "sync", d->tmp);
    int rc = close(d->fd);
    d->fd = -1;
    if (rc != 0)
        return io_error(err, "close", d->tmp);
    if (rename(d->tmp, d->file) != 0)
        return io_error(err, "rename to", d->file);
    note_tmp(NULL);
    fsync_parent_dir(d->file);
    return CAIRN_OK;
}

static cairn_status begin_hash(download *d, cairn_error *err)
{
    if (!sha256_begin(&d->hash))
        return error_set(err, CAIRN_INTERNAL_ERROR, "sha256 initialisation failed");
    return CAIRN_OK;
}

static bool is_device_or_pipe(const char *file)
{
    struct stat st;
    return stat(file, &st) == 0 && (S_ISCHR(st.st_mode) || S_ISFIFO(st.st_mode));
}

/* A character device or a pipe (/dev/stdout, /dev/null, a FIFO) is written
 * straight into: renaming a file over it would replace the device itself.
 * It is opened by the name given, links and all: /dev/stdout of a pipeline
 * links to "pipe:[N]", which names no file realpath could resolve.
 * Otherwise a symbolic link is followed: the file it names is replaced, not
 * the link. */
static cairn_status open_destination(download *d, cairn_error *err)
{
    struct stat st;
    if (is_device_or_pipe(d->file)) {
        d->fd = open(d->file, O_WRONLY | O_CLOEXEC);
        if (d->fd < 0)
            return io_error(err, "open", d->file);
        d->direct = true;
        return CAIRN_OK;
    }
    if (lstat(d->file, &st) == 0 && S_ISLNK(st.st_mode)) {
        d->resolved = realpath(d->file, NULL);
        if (!d->resolved)
            return io_error(err, "follow the link", d->file);
        d->file = d->resolved;
    }
    if (stat(d->file, &st) != 0 || S_ISREG(st.st_mode))
        return CAIRN_OK;
    return error_set(err, CAIRN_IO_ERROR, "%s is not a regular file, a device or a pipe", d->file);
}

static cairn_status download_open(download *d, cairn_error *err)
{
    cairn_status st = open_destination(d, err);
    if (st || d->direct)
        return st ? st : begin_hash(d, err);
    size_t n = strlen(d->file) + sizeof ".part-XXXXXX";
    d->tmp = malloc(n);
    if (!d->tmp)
        return no_memory(err);
    snprintf(d->tmp, n, "%s.part-XXXXXX", d->file);
    d->fd = mkstemp(d->tmp);
    if (d->fd >= 0)
        note_tmp(d->tmp);
    if (d->fd < 0) {
        cairn_status st = io_error(err, "create", d->tmp);
        free(d->tmp);
        d->tmp = NULL;
        return st;
    }
    return begin_hash(d, err);
}

static void download_cleanup(download *d, cairn_status st)
{
    sha256_abort(&d->hash);
    if (d->fd >= 0)
        close(d->fd);
    if (st && d->tmp)
        unlink(d->tmp);
    if (d->tmp)
        note_tmp(NULL);
    free(d->tmp);
    free(d->resolved);
}

/* Ranges into a temporary file, checked, then renamed into place. */
static cairn_status download_to_file(download *d, cairn_status st, cairn_error *err)
{
    bool eof = false;
    if (!st)
        st = download_open(d, err);
    while (!st && !eof)
        st = fetch_range(d, &eof, err);
    if (!st)
        st = verify_download(d, err);
    if (!st)
        st = commit_download(d, err);
    download_cleanup(d, st);
    return st;
}

cairn_status client_artifact_download_sized(cairn_client *c, const char *run_id,
                                            const char *artifact_path, const char *local_file,
                                            uint64_t *size, cairn_error *err)
{
    download d = {.c = c, .path = artifact_path, .file = local_file, .fd = -1};
    if (!c || !artifact_path || !local_file || !*local_file)
        return error_set(err, CAIRN_INVALID_PARAMETER_VALUE,
                         "artifact download needs a client, an artifact path and a file");
    cairn_status st = download_to_file(&d, client_run_id(run_id, &d.run, err), err);
    if (!st && size)
        *size = d.got;
    return st;
}

cairn_status cairn_artifact_download(cairn_client *client, const char *run_id,
                                     const char *artifact_path, const char *local_file,
                                     cairn_error *err)
{
    return client_artifact_download_sized(client, run_id, artifact_path, local_file, NULL, err);
}

cairn_status client_blob_download(cairn_client *c, const char *sha256, const char *local_file,
                                  cairn_error *err)
{
    download d = {.c = c, .blob = sha256, .path = sha256, .file = local_file, .fd = -1};
    if (!sha256 || strlen(sha256) != SHA256_HEX_LEN)
        return error_set(err, CAIRN_INVALID_PARAMETER_VALUE, "a blob is named by 64 hex digits");
    memcpy(d.sha, sha256, sizeof d.sha);
    return download_to_file(&d, CAIRN_OK, err);
}
