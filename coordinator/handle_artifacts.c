/* artifact.put (chunked upload), artifact.get and blob.get (ranged downloads). */
#include <stdio.h>
#include <string.h>

#include "artifact_path.h"
#include "body.h"
#include "error.h"
#include "handlers.h"
#include "validate.h"

#define GET_MAX ((int64_t)4 << 20)

static void pack_artifact_fields(request_ctx *r, const store_artifact *a)
{
    char hex[65];
    sha256_hex(a->sha256, hex);
    msgpack_packer *pk = reply_extra(r);
    mp_str(pk, "size");
    msgpack_pack_uint64(pk, a->size);
    pk = reply_extra(r);
    mp_str(pk, "sha256");
    mp_strn(pk, hex, 64);
}

static cairn_status read_chunk(request_ctx *r, blob_chunk *c, ulid *upload, store_run *run,
                               cairn_error *err)
{
    const msgpack_object *b = r->m->body;
    int64_t offset;
    c->last = false;
    c->sha256 = (msg_str){"", 0};
    cairn_status st = read_run(r, run, err);
    if (!st)
        st = body_ulid(b, "upload", true, upload, err);
    if (!st)
        st = body_str(b, "path", true, &c->path, err);
    if (!st)
        st = body_int(b, "offset", true, &offset, err);
    if (!st)
        st = body_bin(b, "data", true, &c->data, err);
    if (!st)
        st = body_bool(b, "last", false, &c->last, err);
    if (!st)
        st = body_str(b, "sha256", false, &c->sha256, err);
    if (!st)
        st = artifact_path_check(c->path, err);
    if (st)
        return st;
    if (offset < 0)
        return error_set(err, CAIRN_INVALID_PARAMETER_VALUE, "'offset' must not be negative");
    c->offset = (uint64_t)offset;
    c->message = &r->m->id;
    c->upload = upload;
    c->run = &run->id;
    return CAIRN_OK;
}

cairn_status handle_artifact_put(request_ctx *r, cairn_error *err)
{
    blob_chunk c;
    ulid upload;
    store_run run;
    uint64_t received;
    bool finished;
    store_artifact a;
    cairn_status st = read_chunk(r, &c, &upload, &run, err);
    if (!st)
        st = blobs_put_chunk(r->blobs, &c, r->now_ms, &received, &finished, &a, err);
    if (st)
        return st;
    if (!finished) {
        msgpack_packer *pk = reply_extra(r);
        mp_str(pk, "received");
        msgpack_pack_uint64(pk, received);
        return CAIRN_OK; /* not a change yet: no audit entry, no dedup record */
    }
    st = store_artifact_put(r->store, r->txn, &run.id, c.path, &a, err);
    if (st)
        return st;
    pack_artifact_fields(r, &a);
    char idtext[ULID_TEXT_LEN + 1], hex[65];
    ulid_format(&run.id, idtext);
    sha256_hex(a.sha256, hex);
    snprintf(r->summary, sizeof r->summary, "run=%s path=%.*s size=%llu sha256=%s", idtext,
             (int)(c.path.n > 100 ? 100 : c.path.n), c.path.p, (unsigned long long)a.size, hex);
    r->applied = true;
    return CAIRN_OK;
}

/* The artifact a request names by run and path. */
static cairn_status read_artifact(request_ctx *r, store_artifact *a, cairn_error *err)
{
    store_run run;
    msg_str path;
    cairn_status st = read_run(r, &run, err);
    if (!st)
        st = body_str(r->m->body, "path", true, &path, err);
    return st ? st : store_artifact_get(r->store, r->txn, &run.id, path, a, err);
}

/* size and sha256 as the request's audit summary recorded them
 * ("run=… path=… size=N sha256=HEX": the path, cut at 100 bytes, comes
 * before them, so the last " size=" is the field). */
static bool summary_artifact(const char *summary, store_artifact *a)
{
    const char *sha = store_audit_field(summary, " sha256=", NULL);
    const char *size = sha ? store_audit_field(summary, " size=", sha) : NULL;
    unsigned long long n;
    char hex[65];
    if (!size || sscanf(size, " size=%llu", &n) != 1 ||
        sscanf(sha, " sha256=%64[0-9a-f]", hex) != 1 || strlen(hex) != 64 ||
        !sha256_parse((msg_str){hex, 64}, a->sha256))
        return false;
    a->size = n;
    return true;
}

/* A resent last chunk may close an upload begun again after the reply to its
 * first send was lost (the agent starts over under a new upload id): that
 * upload's bytes are stored already, so its temp file goes now rather than
 * when it expires, up to a whole artifact's size later. */
static void end_resent_upload(request_ctx *r)
{
    const msgpack_object *b = r->m->body;
    ulid upload, run;
    msg_str path;
    if (!body_ulid(b, "upload", true, &upload, NULL) && !body_ulid(b, "run", true, &run, NULL) &&
        !body_str(b, "path", true, &path, NULL))
        blobs_drop(r->blobs, &upload, &run, path);
}

/* A resent last chunk gets what that request stored, even if the path holds
 * other content since: the SDK checks the answer against its own hash. */
cairn_status handle_artifact_put_duplicate(request_ctx *r, cairn_error *err)
{
    store_artifact a;
    char summary[256];
    end_resent_upload(r);
    cairn_status st = store_audit_summary(r->store, r->txn, r->duplicate_of, summary,
                                          sizeof summary, err);
    if (!st && !summary_artifact(summary, &a))
        st = read_artifact(r, &a, err); /* an entry older than its summary's form */
    if (!st)
        pack_artifact_fields(r, &a);
    return st;
}

/* The blob holds fewer bytes than its record says: cut on disk. Served as a
 * short range with eof false, it would leave a client asking for bytes that
 * are not there; an error names the damage and the cure. */
static cairn_status blob_damaged(request_ctx *r, const store_artifact *a, cairn_error *err)
{
    uint64_t held = 0;
    char hex[65];
    cairn_status st = blobs_size(r->blobs, a->sha256, &held, err);
    if (st)
        return st;
    sha256_hex(a->sha256, hex);
    return error_set(err, CAIRN_IO_ERROR,
                     "blob %s holds %llu bytes, its record %llu: damaged on disk; upload the "
                     "file again",
                     hex, (unsigned long long)held, (unsigned long long)a->size);
}

/* A range of a blob's content as the reply body: data, size, the sha256 when
 * with_sha, eof. One reader for artifact.get (by run and path) and blob.get
 * (by content hash). */
static cairn_status reply_range(request_ctx *r, const store_artifact *a, bool with_sha,
                                cairn_error *err)
{
    int64_t offset = 0, max = 0;
    cairn_status st = body_int(r->m->body, "offset", false, &offset, err);
    if (!st)
        st = body_int(r->m->body, "max", false, &max, err);
    if (st)
        return st;
    if (offset < 0 || max < 0)
        return error_set(err, CAIRN_INVALID_PARAMETER_VALUE, "'offset' and 'max' must not be negative");
    if (max == 0 || max > GET_MAX)
        max = GET_MAX;
    void *buf = request_scratch(r, (size_t)max);
    size_t n = 0;
    if (!buf)
        return error_set(err, CAIRN_OUT_OF_MEMORY, "no memory for a %lld-byte range", (long long)max);
    uint64_t left = (uint64_t)offset < a->size ? a->size - (uint64_t)offset : 0;
    size_t want = left < (uint64_t)max ? (size_t)left : (size_t)max;
    if (want && (st = blobs_read(r->blobs, a->sha256, (uint64_t)offset, buf, want, &n, err)))
        return st;
    if (n < want)
        return blob_damaged(r, a, err);
    msgpack_packer *pk = reply_begin(r, with_sha ? 4 : 3);
    mp_str(pk, "data");
    mp_bin(pk, buf, n);
    mp_str(pk, "size");
    msgpack_pack_uint64(pk, a->size);
    if (with_sha) {
        char hex[65];
        sha256_hex(a->sha256, hex);
        mp_str(pk, "sha256");
        mp_strn(pk, hex, 64);
    }
    mp_str(pk, "eof");
    mp_bool(pk, (uint64_t)offset + n >= a->size);
    return CAIRN_OK;
}

cairn_status handle_artifact_get(request_ctx *r, cairn_error *err)
{
    store_artifact a;
    cairn_status st = read_artifact(r, &a, err);
    return st ? st : reply_range(r, &a, true, err);
}

/* How an agent's deployer fetches a model artifact: by its content hash. */
cairn_status handle_blob_get(request_ctx *r, cairn_error *err)
{
    msg_str hex;
    store_artifact a;
    cairn_status st = body_str(r->m->body, "sha256", true, &hex, err);
    if (st)
        return st;
    if (!sha256_parse(hex, a.sha256))
        return error_set(err, CAIRN_BAD_MESSAGE, "'sha256' must be 64 lowercase hex digits, not '%.*s'",
                         (int)(hex.n > 80 ? 80 : hex.n), hex.p);
    st = blobs_size(r->blobs, a.sha256, &a.size, err);
    return st ? st : reply_range(r, &a, false, err);
}
