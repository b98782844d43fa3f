/*
 * The link between the agent and an isolated plugin's child process: a
 * stream socket of a socketpair carrying frames (a 4-byte big-endian length,
 * then one msgpack array [verb, args...]). Both ends are non-blocking; what
 * cannot be written at once waits in the output buffer, bounded so that a
 * stuck peer costs memory only up to a limit.
 *
 *   agent -> child: init {path, name, state_dir, config, alive_every_ms, ...}, event EVENT,
 *                   command ID EVENT DEADLINE, fetched FETCH_ID STATUS ERROR,
 *                   ping N, stop
 *   child -> agent: ready {kind, version, subscriptions}, failed REASON,
 *                   emit EVENT, done ID CODE MESSAGE FIELDS|nil,
 *                   progress ID MESSAGE, fetch FETCH_ID SHA256 DEST,
 *                   subscribe TYPE, pong N COUNTERS (also unasked, between
 *                   callbacks: N is then the last ping's number, or nil)
 * EVENT is {type, source, time, fields} as in event.emit.
 */
#ifndef CAIRN_AGENT_PLUGIN_WIRE_H
#define CAIRN_AGENT_PLUGIN_WIRE_H

#include <msgpack.h>
#include <stdbool.h>
#include <stddef.h>

#include "plugin_config.h"
#include "plugin_event.h"

#define WIRE_MAX_FRAME ((size_t)64 << 20)
#define WIRE_MAX_PENDING ((size_t)64 << 20) /* unsent bytes before sends are refused */
#define WIRE_BATCH_BYTES ((size_t)64 << 10)  /* written at once when this much waits */

typedef struct wire {
    int fd;
    msgpack_sbuffer out; /* frames not yet written, from out_off */
    size_t out_off;
    char *in;
    size_t in_len, in_cap, in_off;
    msgpack_sbuffer frame; /* the frame being built */
    msgpack_packer pk;
    msgpack_unpacked msg; /* the last frame read */
} wire;

void wire_init(wire *w, int fd);
void wire_destroy(wire *w); /* closes fd */

/* Building a frame: wire_begin(w, verb, n_args), pack n_args with w->pk,
 * wire_end, which queues it (writing once 64 KiB wait); the owner's loop
 * writes the rest when the socket is writable (wire_pending, wire_flush).
 * -1 when the peer is gone or the output is over its bound. */
msgpack_packer *wire_begin(wire *w, const char *verb, uint32_t n_args);
int wire_end(wire *w);
/* Writes what it can; -1 when the peer is gone. */
int wire_flush(wire *w);
bool wire_pending(const wire *w);
/* Reads what is there; -1 on end of stream or error. */
int wire_read(wire *w);
/* The next complete frame as [verb, args...]: *args points at the array's
 * elements after the verb. Valid until the next call. false when none. */
bool wire_next(wire *w, msgpack_object **args, uint32_t *n_args, char *verb, size_t verb_cap);

/* Settings as a map key -> [line, value], and back (into owned settings). */
void wire_pack_settings(msgpack_packer *pk, const plugin_settings *s);
bool wire_read_settings(const msgpack_object *o, plugin_settings *out);
/* An EVENT map as a view (valid while the frame is). */
bool wire_event_view(const msgpack_object *o, cairn_event *ev);

#endif
