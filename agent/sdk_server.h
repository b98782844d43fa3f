/*
 * The SDK side of the agent: a ROUTER on the local endpoint that answers the
 * same messages the coordinator does.
 *
 * Every message already queued is read as one group. Writes (run.start,
 * run.log, run.end, experiment.delete/restore/set_tag, the last chunk of
 * artifact.put) are appended to the spool in ONE transaction, committed, and
 * only then answered {spooled: true, depth}: nothing is acknowledged before it
 * is on disk. Reads are handed to the relay. Malformed input, unknown types
 * and writes over the spool's limit get an error reply and spool nothing.
 */
#ifndef CAIRN_AGENT_SDK_SERVER_H
#define CAIRN_AGENT_SDK_SERVER_H

#include <stdbool.h>
#include <stdint.h>
#include <zmq.h>

#include "config.h"
#include "msg.h"
#include "relay.h"
#include "spool.h"
#include "uploads.h"

#define SDK_MAX_GROUP 256
#define SDK_MAX_FRAMES 8
#define SDK_RECENT_IDS 1024

typedef enum sdk_disposition {
    SDK_REPLY_READY, /* an error or a chunk's progress, packed while handling */
    SDK_SPOOLED,     /* answered after the commit */
    SDK_DUPLICATE,   /* a resend of an id spooled already */
    SDK_RELAYED,     /* the relay answers it */
} sdk_disposition;

typedef struct sdk_request {
    zmq_msg_t frames[SDK_MAX_FRAMES]; /* routing frames, then the payload */
    int n_frames;
    bool too_many_frames; /* frames[1] is empty: answered with an error */
    sdk_disposition disp;
    ulid id;
    bool has_id;
    char type[65];
    size_t reply_off, reply_len;
    bool artifact;   /* a completed upload: done is filled */
    upload_done done;
} sdk_request;

/* Ids spooled lately, so a client's resend after a lost reply is answered
 * without spooling it twice (the coordinator's dedup would make a second copy
 * harmless; this keeps the spool small). */
typedef struct sdk_recent {
    ulid id;
    bool artifact;
    uint64_t size;
    char sha256[SHA256_HEX_LEN + 1];
} sdk_recent;

typedef struct sdk_stats {
    uint64_t requests;
    uint64_t spooled;
    uint64_t duplicates;
    uint64_t refused;      /* malformed, unknown type, bad fields */
    uint64_t backpressure; /* over spool.max_bytes */
    uint64_t commits;
    uint64_t failed_commits;
    uint64_t reply_drops;
} sdk_stats;

/* Someone who wants to see SDK writes once they are spooled (the plugins). */
typedef struct sdk_observer {
    void *ctx;
    bool (*wants)(void *ctx, const char *type);
    void (*spooled)(void *ctx, const msg *m);
} sdk_observer;

typedef struct sdk_server {
    void *router;
    char endpoint[256];
    const agent_config *cfg;
    const char *from;
    spool *spool;
    uploads *uploads;
    relay *relay;
    sdk_request *group;
    msg_decoder dec;
    msg_writer replies;
    msg_writer scratch;
    sdk_recent *recent;
    int recent_next, recent_count;
    sdk_stats stats;
    sdk_observer observer;
    const uint64_t *coordinator_limit; /* the coordinator's max message size; 0: unknown */
} sdk_server;

/* The group being handled: its spool transaction, opened on the first write. */
typedef struct sdk_group {
    spool_txn txn;
    bool open;
    cairn_status failed; /* set when the transaction broke: later writes fail too */
    char why[512];
} sdk_group;

/* Binds the ROUTER (creating an ipc endpoint's directory). relay may be NULL
 * until sdk_server_set_relay. */
cairn_status sdk_server_open(sdk_server *s, void *zctx, const agent_config *cfg, const char *from,
                             spool *sp, uploads *up, cairn_error *err);
void sdk_server_set_relay(sdk_server *s, relay *r);
void sdk_server_close(sdk_server *s);

/* Reads, handles and answers every message queued on the socket. */
void sdk_server_serve(sdk_server *s, int64_t now);

/* ---- sdk_writes.c: handling one request of a group ---- */

/* Spools one write (or artifact chunk) into g, or packs its error reply. */
void sdk_handle_write(sdk_server *s, sdk_group *g, sdk_request *r, const msg *m,
                      const zmq_msg_t *payload, int64_t now);
bool sdk_is_write(msg_str type);
/* Packs an error reply for r into s->replies. */
void sdk_reply_error(sdk_server *s, sdk_request *r, cairn_status st, const char *message);
/* Turns every spooled request of the group up to n into an error (the
 * transaction did not commit) and removes their upload files. */
void sdk_fail_spooled(sdk_server *s, int n, cairn_status st, const char *why);
/* Packs the ok replies of spooled and duplicate requests, after the commit. */
void sdk_reply_spooled(sdk_server *s, int n);

#endif
