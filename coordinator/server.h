/*
 * The coordinator's event loop: one ROUTER socket, requests handled in
 * groups that share one LMDB transaction (group commit), replies sent only
 * after that transaction is on disk.
 */
#ifndef CAIRN_SERVER_H
#define CAIRN_SERVER_H

#include <stdint.h>
#include <zmq.h>

#include "agents.h"
#include "blobs.h"
#include "config.h"
#include "dispatch.h"
#include "fanout.h"
#include "msg.h"
#include "store.h"

#define SERVER_MAX_FRAMES 8

typedef struct server_stats {
    uint64_t requests;
    uint64_t writes;      /* applied state changes */
    uint64_t duplicates;  /* resends answered from the dedup record */
    uint64_t rejected;    /* malformed, unknown or refused */
    uint64_t commits;
    uint64_t failed_commits;
    uint64_t aborted_groups; /* write transactions given up halfway: a storage error,
                              * memory, or a handler that refused after writing */
    uint64_t reply_drops; /* the peer was gone or its queue full */
    uint64_t max_group;   /* most requests in one commit */
    uint64_t agent_replies; /* replies from agents (fan-out results) */
} server_stats;

/* A request of the current group, kept until its reply is sent. */
typedef struct pending {
    zmq_msg_t frames[SERVER_MAX_FRAMES]; /* routing frames, then the payload */
    int n_frames;
    bool too_many_frames; /* frames[1] is empty: answered with an error */
    size_t reply_off, reply_len;
    bool in_write_txn;
    ulid id;
    bool has_id;
    char type[65];
} pending;

typedef struct server {
    coord_config cfg;
    void *zmq;
    void *router;
    int signal_fd;
    int lock_fd;        /* DATA_DIR/lock, held while serving */
    char endpoint[256]; /* the bound endpoint, with the port the kernel chose */
    store store;
    blobs blobs;
    request_ctx rctx;
    msg_decoder decoder;
    msg_writer replies;
    pending *group;
    /* The requests handled in the open transaction: the group, or the part
     * of it that follows the replies already sent (serve_batch). */
    pending *batch;
    server_stats stats;
    int64_t next_stats_ms, next_expire_ms, next_prune_ms;
    agent_table agents;
    fanout_table fanouts;
    int64_t next_sweep_mono, next_persist_mono; /* agents: down timer, periodic record */
} server;

cairn_status server_open(server *s, const coord_config *cfg, cairn_error *err);
/* Serves until SIGTERM or SIGINT. */
cairn_status server_run(server *s, cairn_error *err);
void server_close(server *s);

#endif
