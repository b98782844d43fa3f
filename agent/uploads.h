/*
 * Artifact uploads from the SDK, assembled in DATA_DIR/uploads.
 *
 * Chunks arrive at increasing offsets, as the coordinator takes them, and are
 * appended to uploads/UPLOAD_ID.part while the sha256 is computed. The last
 * chunk fsyncs the file and renames it to uploads/FILE_ID (a new ULID); the caller then
 * spools a reference to it. Unfinished .part files are removed at start, and
 * uploads idle for longer than UPLOADS_IDLE_MS are discarded.
 *
 * The chunks are taken by the rules coordinator/blobs.c takes them by
 * (daemon_uploads.c: offset check, answering the resend of the chunk just
 * written), without its content addressing: the file only waits here until
 * the coordinator has it.
 */
#ifndef CAIRN_AGENT_UPLOADS_H
#define CAIRN_AGENT_UPLOADS_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>

#include "daemon_uploads.h"

#define UPLOADS_MAX 16
#define UPLOADS_MAX_PATH UPLOAD_MAX_PATH
#define UPLOADS_IDLE_MS (10 * 60 * 1000)

typedef struct uploads {
    char dir[PATH_MAX - 64];
    upload_slot slots[UPLOADS_MAX];
    upload_table table; /* the shared code's view of slots and dir, set by uploads_open */
} uploads;

/* A completed upload: the file uploads/NAME, its size and digest. */
typedef struct upload_done {
    char name[ULID_TEXT_LEN + 1];
    uint64_t size;
    char sha256[SHA256_HEX_LEN + 1];
} upload_done;

/* Creates DATA_DIR/uploads and removes unfinished .part files. */
cairn_status uploads_open(uploads *u, const char *data_dir, cairn_error *err);
void uploads_close(uploads *u);

/* Bytes held by unfinished uploads (they count toward the spool's limit). */
uint64_t uploads_pending_bytes(const uploads *u);

/* Bytes upload id holds so far (0 when there is no such upload). */
uint64_t uploads_received(const uploads *u, const ulid *id);
/* Ends upload id and removes what it held, if there is such an upload. */
void uploads_drop(uploads *u, const ulid *id);

/* Writes one chunk; *received gets the bytes held so far. When c->last, the
 * file is made durable and *done filled, *finished set. */
cairn_status uploads_put(uploads *u, const upload_chunk *c, int64_t now_ms, uint64_t *received,
                         bool *finished, upload_done *done, cairn_error *err);

/* Deletes a completed file (once the coordinator has it, or when spooling its
 * reference failed). */
void uploads_remove(uploads *u, const char *name);

/* The full path of a completed file. */
void uploads_file(const uploads *u, const char *name, char *out, size_t cap);

/* Removes completed files no spool entry refers to (a crash between the
 * rename and the spool's commit leaves one). referenced(name) says whether
 * one does. Returns how many were removed. */
int uploads_remove_orphans(uploads *u, bool (*referenced)(const char *name, void *ctx), void *ctx);

/* Discards uploads idle for longer than UPLOADS_IDLE_MS; returns how many. */
int uploads_expire(uploads *u, int64_t now_ms);
/* The next time an expiry could happen, or 0 when no upload is open. */
int64_t uploads_next_expiry(const uploads *u);

#endif
