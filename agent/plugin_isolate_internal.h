/*
 * Inside isolation (plugin_isolate.c, plugin_isolate_frames.c): the agent's
 * record of one isolated plugin's child and the link to it.
 */
#ifndef CAIRN_AGENT_PLUGIN_ISOLATE_INTERNAL_H
#define CAIRN_AGENT_PLUGIN_ISOLATE_INTERNAL_H

#include <sys/types.h>

#include "plugin_isolate.h"
#include "plugin_wire.h"

typedef struct isolated {
    plugin_instance *p;
    wire w;
    pid_t pid;
    char path[PATH_MAX];
    plugin_settings given; /* the config as written: the child checks it */
    bool ready;
    int64_t started_at, last_pong;
    uint64_t ping_seq;
    uint64_t ping_timer, restart_timer;
    int failures; /* in a row */
    bool held;    /* frames left unread in w: its share of the emit queue was full */
} isolated;

/* Queues the frame being built and asks for POLLOUT while output waits;
 * false when the child is gone or far behind. */
bool isolate_sent(isolated *iso);
/* Handles one frame from the child (plugin_isolate_frames.c). */
void isolate_on_frame(isolated *iso, const char *verb, msgpack_object *a, uint32_t n);

#endif
