/*
 * From queued operations to requests: each encoding gets a fresh message id,
 * and the sender keeps the bytes to resend them unchanged until they are
 * acknowledged.
 */
#ifndef CAIRN_TRACKER_ENCODE_H
#define CAIRN_TRACKER_ENCODE_H

#include "msg.h"
#include "tracker_queue.h"

/* A run.log of metrics stays far below the 16 MiB message limit: at most this
 * many points, and no more points once its body passes TK_MSG_BYTES. */
#define TK_MSG_POINTS 50000
#define TK_MSG_BYTES ((size_t)4 << 20)

/* Where the next request of a METRICS operation starts. */
typedef struct tk_cursor {
    const tk_chunk *chunk; /* NULL: every point is encoded */
    size_t i;
} tk_cursor;

tk_cursor tk_cursor_start(const tk_op *op);

/* Encodes into w, under a new *id, a run.log carrying the points from cur on
 * (at most max_points, and see TK_MSG_BYTES) and moves cur past them.
 * Returns how many it carries. */
size_t tk_encode_metrics(msg_writer *w, ulid *id, const char *from, const ulid *run,
                         tk_cursor *cur, size_t max_points);

/* Encodes a START, PARAMS, TAGS or END operation as its one request. */
void tk_encode_op(msg_writer *w, ulid *id, const char *from, const tk_op *op);

#endif
