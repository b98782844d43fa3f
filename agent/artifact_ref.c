#include "artifact_ref.h"

#include <string.h>

#include "body.h"
#include "error.h"

void artifact_ref_pack(msg_writer *w, const artifact_ref *r)
{
    msgpack_packer *pk = &w->pk;
    msgpack_pack_map(pk, 7);
    mp_str(pk, "id");
    mp_ulid(pk, &r->id);
    mp_str(pk, "from");
    mp_str(pk, r->from);
    mp_str(pk, "run");
    mp_ulid(pk, &r->run);
    mp_str(pk, "path");
    mp_str(pk, r->path);
    mp_str(pk, "size");
    msgpack_pack_uint64(pk, r->size);
    mp_str(pk, "sha256");
    mp_str(pk, r->sha256);
    mp_str(pk, "file");
    mp_str(pk, r->file);
}

static cairn_status read_fields(const msgpack_object *o, artifact_ref *out, cairn_error *err)
{
    msg_str from, path, sha, file;
    int64_t size;
    cairn_status st = body_ulid(o, "id", true, &out->id, err);
    if (!st)
        st = body_str(o, "from", true, &from, err);
    if (!st)
        st = body_ulid(o, "run", true, &out->run, err);
    if (!st)
        st = body_str(o, "path", true, &path, err);
    if (!st)
        st = body_int(o, "size", true, &size, err);
    if (!st)
        st = body_str(o, "sha256", true, &sha, err);
    if (!st)
        st = body_str(o, "file", true, &file, err);
    if (st)
        return st;
    if (size < 0 || sha.n != SHA256_HEX_LEN || file.n != ULID_TEXT_LEN)
        return error_set(err, CAIRN_BAD_MESSAGE, "malformed artifact reference");
    msg_str_copy(from, out->from, sizeof out->from);
    msg_str_copy(path, out->path, sizeof out->path);
    msg_str_copy(sha, out->sha256, sizeof out->sha256);
    msg_str_copy(file, out->file, sizeof out->file);
    out->size = (uint64_t)size;
    return CAIRN_OK;
}

cairn_status artifact_ref_parse(const void *data, size_t len, artifact_ref *out, cairn_error *err)
{
    msgpack_zone zone;
    msgpack_object o;
    size_t off = 0;
    memset(out, 0, sizeof *out);
    msgpack_zone_init(&zone, 2048);
    cairn_status st = CAIRN_OK;
    if (msgpack_unpack(data, len, &off, &zone, &o) != MSGPACK_UNPACK_SUCCESS ||
        o.type != MSGPACK_OBJECT_MAP)
        st = error_set(err, CAIRN_BAD_MESSAGE, "malformed artifact reference");
    if (!st)
        st = read_fields(&o, out, err);
    msgpack_zone_destroy(&zone);
    return st;
}
