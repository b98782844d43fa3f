/*
 * Reading one request from a ROUTER socket: the frames ZeroMQ put before the
 * payload (the peer's routing id, and a REQ socket's empty delimiter), then
 * the payload, which is the last frame. Replies go back with the same
 * leading frames.
 */
#ifndef CAIRN_ROUTER_FRAMES_H
#define CAIRN_ROUTER_FRAMES_H

#include <stdbool.h>
#include <zmq.h>

/* Reads one multipart message into frames[0..max) without waiting for its
 * first frame. Returns false when none was queued. A message of more than
 * max frames keeps only its routing id, followed by an empty payload, and
 * sets *too_many, so that its sender can be answered with an error. */
bool router_receive(void *router, zmq_msg_t *frames, int max, int *n_frames, bool *too_many);

/* Closes frames[0..*n_frames) and sets *n_frames to 0. */
void router_frames_close(zmq_msg_t *frames, int *n_frames);

#endif
