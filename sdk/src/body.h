/*
 * Typed lookups in a decoded msgpack map (a message body or a nested map).
 * Each returns CAIRN_OK, or CAIRN_BAD_MESSAGE with a message naming the field
 * and the type it must have. A missing optional field returns CAIRN_OK and
 * leaves *out as it was, so callers set defaults first.
 */
#ifndef CAIRN_BODY_H
#define CAIRN_BODY_H

#include <msgpack.h>
#include <stdbool.h>

#include "msg.h"

const msgpack_object *body_find(const msgpack_object *map, const char *key);

cairn_status body_str(const msgpack_object *map, const char *key, bool required, msg_str *out,
                      cairn_error *err);
cairn_status body_bin(const msgpack_object *map, const char *key, bool required, msg_str *out,
                      cairn_error *err);
cairn_status body_ulid(const msgpack_object *map, const char *key, bool required, ulid *out,
                       cairn_error *err);
cairn_status body_int(const msgpack_object *map, const char *key, bool required, int64_t *out,
                      cairn_error *err);
cairn_status body_double(const msgpack_object *map, const char *key, bool required, double *out,
                         cairn_error *err);
cairn_status body_bool(const msgpack_object *map, const char *key, bool required, bool *out,
                       cairn_error *err);
/* *out points at the map/array object itself. */
cairn_status body_map(const msgpack_object *map, const char *key, bool required,
                      const msgpack_object **out, cairn_error *err);
cairn_status body_array(const msgpack_object *map, const char *key, bool required,
                        const msgpack_object **out, cairn_error *err);

/* Conversions of a single object, shared with callers that walk arrays. */
bool obj_int(const msgpack_object *o, int64_t *out);
bool obj_double(const msgpack_object *o, double *out);
bool obj_str(const msgpack_object *o, msg_str *out);

#endif
