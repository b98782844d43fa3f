/*
 * Forwarding the spool to the coordinator.
 *
 * One DEALER whose routing id is "agent:<26-character id>" sends spool
 * entries oldest first, with their original bytes, pipelined: up to
 * FWD_WINDOW messages or FWD_WINDOW_BYTES in flight. Acknowledged entries are
 * deleted, refused ones moved to the rejected list, in one LMDB transaction
 * per poll round.
 *
 * Order. The coordinator applies what one connection carries in order, so
 * the only way to reorder is to lose a message and send a later one after it.
 * The socket has ZMQ_IMMEDIATE, which drops what was queued for a connection
 * when it breaks instead of carrying it over to the next one; a monitor tells
 * us the connection broke, and everything unacknowledged is then sent again,
 * oldest first, once the connection is back. An artifact is uploaded alone,
 * after everything before it was acknowledged and before anything after it.
 *
 * Resends. No reply for FWD_REPLY_TIMEOUT_MS, STORAGE_ERROR or BACKPRESSURE
 * from the coordinator: everything unacknowledged is sent again with the same
 * bytes (the coordinator's dedup applies each id once), after a capped
 * exponential backoff with jitter, so a fleet of agents does not storm a
 * restarted coordinator. Any other error is a refusal: the entry goes to the
 * rejected list, is logged (event=spool_rejected) and counted, and the
 * entries after it go on.
 */
#ifndef CAIRN_AGENT_FORWARDER_H
#define CAIRN_AGENT_FORWARDER_H

#include <stdbool.h>
#include <stdint.h>

#include "artifact_ref.h"
#include "backoff.h"
#include "config.h"
#include "msg.h"
#include "presence.h"
#include "spool.h"
#include "uploads.h"

#define FWD_WINDOW 64
#define FWD_WINDOW_BYTES ((size_t)8 << 20)
#define FWD_REPLY_TIMEOUT_MS 3000
#define FWD_CHUNK ((size_t)1 << 20)

typedef struct fwd_slot {
    uint64_t seq;
    ulid id;
    uint32_t bytes;
    bool sent;
    bool done; /* acknowledged or refused: removed at the end of the round */
    char type[65];
} fwd_slot;

/* The artifact being uploaded, when the spool's next entry is one. */
typedef struct fwd_upload {
    bool active;
    uint64_t seq;
    artifact_ref ref;
    ulid upload;       /* new for every attempt */
    uint64_t offset;   /* bytes the coordinator has of this attempt */
    size_t sending;    /* bytes of the chunk in flight */
    ulid chunk_id;
    bool in_flight;
    int fd;
    unsigned char *buf;
} fwd_upload;

typedef struct fwd_stats {
    uint64_t forwarded;
    uint64_t rejected;
    uint64_t resends;
    uint64_t disconnects;
    uint64_t stray_replies;
} fwd_stats;

typedef struct forwarder {
    void *dealer;
    void *monitor;
    const agent_config *cfg;
    spool *spool;
    uploads *uploads;
    presence *presence;
    const char *from;
    fwd_slot ring[FWD_WINDOW];
    int head, count;
    size_t inflight_bytes;
    uint64_t next_seq;      /* the first spool sequence not in the ring */
    bool connected;
    bool ever_connected;
    bool blocked;           /* a send found no room: wait for POLLOUT */
    int64_t resume_at;      /* backoff: nothing is sent before */
    int64_t reply_deadline; /* 0 when nothing is in flight */
    int64_t unreachable_since;  /* not connected since (0: connected, or not yet noted) */
    int64_t next_unreachable_log;
    backoff backoff;
    fwd_upload up;
    msg_decoder dec;
    msg_writer w;
    /* outcomes of the current round */
    uint64_t acked[FWD_WINDOW + 1];
    int n_acked;
    spool_refusal refused[FWD_WINDOW + 1];
    int n_refused;
    char remove_file[ULID_TEXT_LEN + 1]; /* an uploaded artifact's file */
    fwd_stats stats;
} forwarder;

cairn_status forwarder_open(forwarder *f, void *zctx, const agent_config *cfg,
                            const char *routing_id, const char *from, spool *sp, uploads *up,
                            presence *pr, cairn_error *err);
void forwarder_close(forwarder *f);

/* Sends what the window, the connection and the backoff allow. */
void forwarder_pump(forwarder *f, int64_t now);
/* Connection events from the monitor socket. */
void forwarder_monitor(forwarder *f, int64_t now);
/* Replies and commands from the coordinator, then the round's outcomes. */
void forwarder_receive(forwarder *f, int64_t now);
/* Reply timeouts. */
void forwarder_timers(forwarder *f, int64_t now);
/* When forwarder_timers or forwarder_pump next has something to do (0: never). */
int64_t forwarder_next_deadline(const forwarder *f, int64_t now);
/* Whether everything spooled has been acknowledged. */
bool forwarder_idle(const forwarder *f);

/* ---- internal to forwarder.c and forward_upload.c ---- */

void fwd_refuse(forwarder *f, uint64_t seq, const char *type, const ulid *id, cairn_status code,
                const char *message);
void fwd_acked(forwarder *f, uint64_t seq);
void fwd_transient(forwarder *f, cairn_status code, const char *message, int64_t now);
bool fwd_is_transient(cairn_status code);
void fwd_sent(forwarder *f, int64_t now);
/* The size of an artifact chunk: FWD_CHUNK, or less under a small coordinator limit. */
size_t fwd_chunk_bytes(const forwarder *f);

void upload_start(forwarder *f, const spool_entry *e, int64_t now);
void upload_pump(forwarder *f, int64_t now);
void upload_on_reply(forwarder *f, const msg *m, int64_t now);
void upload_restart(forwarder *f);
void upload_stop(forwarder *f);

#endif
