/*
 * The spool entry of a completed artifact upload: which file in
 * DATA_DIR/uploads holds it, and what the coordinator must record. The id and
 * from are those of the SDK's last chunk, so the coordinator's dedup applies
 * the upload once however often the agent resends it.
 */
#ifndef CAIRN_AGENT_ARTIFACT_REF_H
#define CAIRN_AGENT_ARTIFACT_REF_H

#include <stdint.h>

#include "msg.h"
#include "sha256_file.h"
#include "uploads.h"

typedef struct artifact_ref {
    ulid id;
    char from[257];
    ulid run;
    char path[UPLOADS_MAX_PATH + 1];
    uint64_t size;
    char sha256[SHA256_HEX_LEN + 1];
    char file[ULID_TEXT_LEN + 1]; /* name in DATA_DIR/uploads */
} artifact_ref;

/* Writes the reference as one msgpack map into w (after what w holds). */
void artifact_ref_pack(msg_writer *w, const artifact_ref *r);

/* Reads a reference back; CAIRN_BAD_MESSAGE when it is not one. */
cairn_status artifact_ref_parse(const void *data, size_t len, artifact_ref *out, cairn_error *err);

#endif
