/*
 * Artifact uploads assembled from chunks, the same way by the agent (from
 * the SDK, agent/uploads.c) and by the coordinator (from the agents,
 * coordinator/blobs.c): each upload is a temp file named after its upload id,
 * appended to at increasing offsets while its sha256 is computed.
 *
 * The chunk rules both daemons answer by: a chunk goes at the offset received
 * so far; an upload stays bound to the run and path it began with; the resend
 * of the chunk just written is answered without writing it twice; an upload
 * the daemon no longer knows must start again at offset 0; a last chunk
 * naming a sha256 other than that of the bytes received ends the upload
 * without placing anything. Where the finished
 * file goes (a fresh name, a content address) is each daemon's own.
 */
#ifndef CAIRN_DAEMON_UPLOADS_H
#define CAIRN_DAEMON_UPLOADS_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>

#include "msg.h"
#include "artifact_path.h"
#include "sha256_file.h"

#define UPLOAD_MAX_CHUNK ((size_t)4 << 20)
#define UPLOAD_MAX_PATH ARTIFACT_PATH_MAX

typedef struct upload_slot {
    bool active;
    ulid id;
    ulid run;
    char path[UPLOAD_MAX_PATH + 1];
    ulid last_chunk; /* message id of the last chunk written, to answer its resend */
    int fd;
    uint64_t received;
    sha256_stream sha;
    int64_t last_active_ms;
    char tmp_path[PATH_MAX];
} upload_slot;

typedef struct upload_chunk {
    const ulid *message; /* the chunk's message id */
    const ulid *upload;
    const ulid *run;
    msg_str path;
    uint64_t offset;
    msg_str data;
    bool last;
    /* On a last chunk, the sender's sha256 (hex) of the whole content, so
     * that bytes changed on the way (or on the sender's disk while they
     * waited) are refused rather than stored; n == 0 when not sent. */
    msg_str sha256;
} upload_chunk;

/* What differs between the daemons: how many uploads, where a finished one
 * goes, and the words. */
typedef struct upload_rules {
    int max_uploads;
    /* Moves the sealed upload's temp file where it belongs, given its sha256
     * (hex), fills done and ends the slot; on failure the slot may stay. */
    cairn_status (*place)(void *owner, upload_slot *s, const char *hex, void *done,
                          cairn_error *err);
    const char *daemon; /* who forgets its uploads when it restarts */
    const char *suffix; /* of temp file names, after the upload id */
    /* The coordinator's errors name the temp file; the agent's, older, say
     * "upload" and their own words, which its SDK clients already see. */
    bool errors_name_file;
} upload_rules;

/* A daemon's uploads: rules->max_uploads slots, temp files in tmp_dir;
 * owner is what rules->place is given. */
typedef struct upload_table {
    const upload_rules *rules;
    upload_slot *slots;
    const char *tmp_dir;
    void *owner;
} upload_table;

/* A failed file operation: "WHAT PATH: reason", CAIRN_STORAGE_ERROR when the
 * disk is full (a client may retry later), else CAIRN_IO_ERROR. */
cairn_status upload_io_fail(cairn_error *err, const char *what, const char *path);

/* Marks every slot free. */
void upload_table_init(const upload_table *t);
/* Ends every upload, removing its temp file; nothing for a table never set
 * (all zero). */
void upload_table_close(const upload_table *t);

/* Checks one chunk by the rules above and writes it, beginning its upload at
 * offset 0; *received gets the bytes held so far. After the last chunk the
 * file is made durable and placed (rules->place fills done), and *finished
 * set; if that fails, the upload is dropped with its temp file. */
cairn_status upload_table_put(const upload_table *t, const upload_chunk *c, int64_t now_ms,
                              uint64_t *received, bool *finished, void *done, cairn_error *err);

/* Frees the slot, closing its file and removing it if remove_file. */
void upload_end(upload_slot *s, bool remove_file);

/* The slot of upload id, NULL when the daemon holds no such upload. */
upload_slot *upload_table_find(const upload_table *t, const ulid *id);

/* Discards uploads idle for longer than idle_ms; returns how many. */
int upload_table_expire(const upload_table *t, int64_t now_ms, int64_t idle_ms);

#endif
