/* Events to and from JSON, for cairn-plugin-check (an author's harness). */
#ifndef CAIRN_AGENT_PLUGIN_JSON_H
#define CAIRN_AGENT_PLUGIN_JSON_H

#include <jansson.h>

#include "cairn/status.h"
#include "plugin_event.h"

/* {"type": T, other keys: fields} as an event from `source`, time now. */
cairn_event *event_from_json(const char *text, const char *source, cairn_error *err);
/* A msgpack value as JSON (binary as a hex string); a new reference. */
json_t *msgpack_to_json(const msgpack_object *o);

#endif
