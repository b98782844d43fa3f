#include "keepalive.h"

#include <zmq.h>

void keepalive_set(void *sock, int silence_ms)
{
    if (silence_ms <= 0)
        return;
    /* A ping half-way through, then the other half to hear anything back:
     * a dead connection is closed within silence_ms of its last word. */
    int half = silence_ms / 2 > 0 ? silence_ms / 2 : 1;
    zmq_setsockopt(sock, ZMQ_HEARTBEAT_IVL, &half, sizeof half);
    zmq_setsockopt(sock, ZMQ_HEARTBEAT_TIMEOUT, &half, sizeof half);
}
