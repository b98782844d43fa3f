/*
 * Artifact content, stored once per sha256 under DATA_DIR/blobs/ab/abcd...
 *
 * Uploads arrive in chunks and are written to blobs/tmp/ while the digest is
 * computed; the last chunk fsyncs the file, renames it to its hash (over the
 * file of that content if it is stored already) and fsyncs the directory, so
 * that by the time the store records the artifact its bytes are on disk. The
 * chunks are taken by the rules the agent takes its uploads by
 * (daemon_uploads.c).
 */
#ifndef CAIRN_BLOBS_H
#define CAIRN_BLOBS_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>

#include "daemon_uploads.h"
#include "store.h"

#define BLOBS_MAX_UPLOADS 64

typedef upload_slot blob_upload;
typedef upload_chunk blob_chunk;

typedef struct blobs {
    char dir[PATH_MAX - 80];
    char tmp_dir[PATH_MAX - 64]; /* dir/tmp: uploads not finished yet */
    blob_upload uploads[BLOBS_MAX_UPLOADS];
    upload_table table; /* the shared code's view of uploads and tmp_dir, set by blobs_open */
} blobs;

/* Creates DATA_DIR/blobs and blobs/tmp, and empties tmp of uploads a previous
 * process left unfinished. */
cairn_status blobs_open(blobs *b, const char *data_dir, cairn_error *err);
void blobs_close(blobs *b);

/* Writes one chunk. *received gets the bytes held so far. When c->last and the
 * upload is complete, *done is filled and true is stored in *finished. */
cairn_status blobs_put_chunk(blobs *b, const blob_chunk *c, int64_t now_ms, uint64_t *received,
                             bool *finished, store_artifact *done, cairn_error *err);

/* Ends the upload of this id, removing its temp file, when it is one for
 * that run and path; nothing otherwise. */
void blobs_drop(blobs *b, const ulid *upload, const ulid *run, msg_str path);

/* Discards uploads idle for longer than idle_ms; returns how many. */
int blobs_expire(blobs *b, int64_t now_ms, int64_t idle_ms);

/* The size of the blob stored under this hash; RESOURCE_DOES_NOT_EXIST when
 * there is none. */
cairn_status blobs_size(blobs *b, const uint8_t sha[32], uint64_t *size, cairn_error *err);

/* Reads up to max bytes at offset of the blob; *n gets the count. */
cairn_status blobs_read(blobs *b, const uint8_t sha[32], uint64_t offset, void *buf, size_t max,
                        size_t *n, cairn_error *err);

#endif
