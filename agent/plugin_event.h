/*
 * The agent's cairn_event: what plugins read and build through the accessors
 * of cairn/plugin.h. Fields are one msgpack map, either borrowed (a view of a
 * message the agent decoded: an SDK write, a coordinator command) or built
 * field by field in the event's own zone. Reading is the same for both.
 */
#ifndef CAIRN_AGENT_PLUGIN_EVENT_H
#define CAIRN_AGENT_PLUGIN_EVENT_H

#include <msgpack.h>
#include <stdbool.h>
#include <stdint.h>

#include "cairn/plugin.h"

#define EVENT_TYPE_MAX 64
#define EVENT_SOURCE_MAX 256
#define EVENT_FIELDS_MAX 256 /* fields a plugin may set on one event */

struct cairn_event {
    char type[EVENT_TYPE_MAX + 1];
    char source[EVENT_SOURCE_MAX + 1];
    int64_t time_ms;
    msgpack_object fields; /* always a map */
    msgpack_zone *zone;    /* built events: where fields live; NULL for views */
    uint32_t cap;          /* built events: room in fields.via.map.ptr */
    bool invalid;          /* a setter failed: emit refuses the event */
};

/* A new event of `type` from `source`, time now; NULL when out of memory or
 * the type is not [a-z0-9._-]{1,64}. */
cairn_event *event_create(const char *type, const char *source, int64_t time_ms);
/* A deep copy (for a notifier's retry queue); NULL when out of memory. */
cairn_event *event_clone(const cairn_event *ev);
void event_destroy(cairn_event *ev);

/* A view over a decoded map (not copied: it must outlive the view). Type and
 * source are copied, truncated to their limits. */
void event_view(cairn_event *ev, const char *type, size_t type_len, const char *source,
                size_t source_len, int64_t time_ms, const msgpack_object *fields);

bool event_type_valid(const char *type, size_t len);
/* True when type matches a subscription: exact, a prefix ending in '.', or "*". */
bool event_type_matches(const char *subscription, const char *type);

/* The field at a dotted path ("a.b.0"); NULL when absent. */
const msgpack_object *event_lookup(const cairn_event *ev, const char *path);

/* The accessors of cairn_host_api, installed by plugin_host.c. */
int event_set_string(cairn_event *ev, const char *name, const char *value);
int event_set_int(cairn_event *ev, const char *name, int64_t value);
int event_set_float(cairn_event *ev, const char *name, double value);
int event_set_bool(cairn_event *ev, const char *name, int value);
const char *event_type_of(const cairn_event *ev);
int64_t event_time_of(const cairn_event *ev);
const char *event_source_of(const cairn_event *ev);
cairn_field_type event_field_type(const cairn_event *ev, const char *path);
int event_get_string(const cairn_event *ev, const char *path, const char **value, size_t *len);
int event_get_int(const cairn_event *ev, const char *path, int64_t *value);
int event_get_float(const cairn_event *ev, const char *path, double *value);
int event_get_bool(const cairn_event *ev, const char *path, int *value);
size_t event_count(const cairn_event *ev, const char *path);

/* An upper bound of the bytes event_pack makes of ev. */
size_t event_size(const cairn_event *ev);
/* The largest event a plugin may emit: one event.emit carries it whole. */
#define EVENT_MAX_BYTES ((size_t)1 << 20)

/* Packs {type, source, time, fields} as one entry of event.emit's array. */
void event_pack(msgpack_packer *pk, const cairn_event *ev);

#endif
