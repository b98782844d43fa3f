/*
 * Artifact content, stored once per sha256 under DATA_DIR/blobs/ab/abcd...
 *
 * Uploads arrive in chunks and are written to blobs/tmp/ while the digest is
 * computed; the last chunk fsyncs the file, renames it to its hash (dropping
 * it if that content is already stored) and fsyncs the directory, so that by
 * the time the store records the artifact its bytes are on disk.
 */
#ifndef CAIRN_BLOBS_H
#define CAIRN_BLOBS_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>

#include "msg.h"
#include "sha256_file.h"
#include "store.h"

#define BLOBS_MAX_UPLOADS 64
#define BLOBS_MAX_CHUNK ((size_t)4 << 20)

typedef struct blob_upload {
    bool active;
    ulid id;
    ulid run;
    char path[LIMIT_ARTIFACT_PATH + 1];
    ulid last_chunk; /* message id of the last chunk written, to answer its resend */
    int fd;
    uint64_t received;
    sha256_stream sha;
    int64_t last_active_ms;
    char tmp_path[PATH_MAX];
} blob_upload;

typedef struct blobs {
    char dir[PATH_MAX - 80];
    blob_upload uploads[BLOBS_MAX_UPLOADS];
} blobs;

typedef struct blob_chunk {
    const ulid *message; /* the chunk's message id */
    const ulid *upload;
    const ulid *run;
    msg_str path;
    uint64_t offset;
    msg_str data;
    bool last;
} blob_chunk;

/* Creates DATA_DIR/blobs and blobs/tmp, and empties tmp of uploads a previous
 * process left unfinished. */
cairn_status blobs_open(blobs *b, const char *data_dir, cairn_error *err);
void blobs_close(blobs *b);

/* Writes one chunk. *received gets the bytes held so far. When c->last and the
 * upload is complete, *done is filled and true is stored in *finished. */
cairn_status blobs_put_chunk(blobs *b, const blob_chunk *c, int64_t now_ms, uint64_t *received,
                             bool *finished, store_artifact *done, cairn_error *err);

/* Discards uploads idle for longer than idle_ms; returns how many. */
int blobs_expire(blobs *b, int64_t now_ms, int64_t idle_ms);

/* The size of the blob stored under this hash; RESOURCE_DOES_NOT_EXIST when
 * there is none. */
cairn_status blobs_size(blobs *b, const uint8_t sha[32], uint64_t *size, cairn_error *err);

/* Reads up to max bytes at offset of the blob; *n gets the count. */
cairn_status blobs_read(blobs *b, const uint8_t sha[32], uint64_t offset, void *buf, size_t max,
                        size_t *n, cairn_error *err);

#endif
