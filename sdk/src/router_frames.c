#include "router_frames.h"

void router_frames_close(zmq_msg_t *frames, int *n_frames)
{
    for (int i = 0; i < *n_frames; i++)
        zmq_msg_close(&frames[i]);
    *n_frames = 0;
}

/* Past max, the rest of the message is read into a scratch frame and let go. */
static bool drain_rest(void *router)
{
    int more = 1;
    while (more) {
        zmq_msg_t f;
        zmq_msg_init(&f);
        if (zmq_msg_recv(&f, router, 0) < 0) {
            zmq_msg_close(&f);
            return false;
        }
        more = zmq_msg_more(&f);
        zmq_msg_close(&f);
    }
    return true;
}

bool router_receive(void *router, zmq_msg_t *frames, int max, int *n_frames, bool *too_many)
{
    *n_frames = 0;
    *too_many = false;
    int more = 1;
    while (more && *n_frames < max) {
        zmq_msg_t *f = &frames[*n_frames];
        zmq_msg_init(f);
        if (zmq_msg_recv(f, router, *n_frames == 0 ? ZMQ_DONTWAIT : 0) < 0) {
            zmq_msg_close(f);
            router_frames_close(frames, n_frames);
            return false;
        }
        ++*n_frames;
        more = zmq_msg_more(f);
    }
    if (!more && *n_frames >= 2)
        return true;
    /* Too many frames (or, which a ROUTER never delivers, no payload): keep
     * the routing id, so the sender learns why nothing was done. */
    if (more)
        drain_rest(router);
    for (int i = 1; i < *n_frames; i++)
        zmq_msg_close(&frames[i]);
    zmq_msg_init(&frames[1]);
    *n_frames = 2;
    *too_many = true;
    return true;
}
