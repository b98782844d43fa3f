/*
 * Capped exponential backoff with jitter. Every agent of a fleet waits a
 * different, growing time after a failure, so a restarted coordinator is not
 * met by all of them resending at the same instant.
 */
#ifndef CAIRN_AGENT_BACKOFF_H
#define CAIRN_AGENT_BACKOFF_H

#include <stdint.h>

typedef struct backoff {
    int initial_ms;
    int max_ms;
    int failures; /* consecutive, since the last success */
    uint64_t rng;
} backoff;

void backoff_init(backoff *b, int initial_ms, int max_ms);

/* Records a failure and returns how long to wait before the next attempt:
 * initial * 2^failures capped at max, of which a random half ("equal jitter"). */
int backoff_fail(backoff *b);

/* A random wait in [0, the current step]: for spreading a reconnect. */
int backoff_spread(backoff *b);

void backoff_reset(backoff *b);

#endif
