/*
 * The shapes of write bodies (types, not the coordinator's value rules),
 * checked where a body is first read: by the agent before it spools a write,
 * so that one which can never be applied is refused at once instead of being
 * acknowledged and rejected later, and by the coordinator. Each refusal is
 * BAD_MESSAGE (INVALID_PARAMETER_VALUE for text that is not UTF-8).
 */
#ifndef CAIRN_BODY_SHAPES_H
#define CAIRN_BODY_SHAPES_H

#include <msgpack.h>

#include "msg.h"

/* A metric point: [key str, value number, step int, timestamp int]. */
cairn_status body_metric_point(const msgpack_object *o, msg_str *key, double *value,
                               int64_t *step, int64_t *timestamp, cairn_error *err);

/* run.log's params, metrics, tags and delete_tags, where present: each of
 * its shape, every string UTF-8. */
cairn_status body_run_log_shape(const msgpack_object *body, cairn_error *err);

#endif
