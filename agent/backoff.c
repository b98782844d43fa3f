#include "backoff.h"

#include <sys/random.h>

void backoff_init(backoff *b, int initial_ms, int max_ms)
{
    b->initial_ms = initial_ms > 0 ? initial_ms : 1;
    b->max_ms = max_ms >= b->initial_ms ? max_ms : b->initial_ms;
    b->failures = 0;
    if (getrandom(&b->rng, sizeof b->rng, 0) != (ssize_t)sizeof b->rng || b->rng == 0)
        b->rng = 0x9e3779b97f4a7c15ull ^ (uint64_t)(uintptr_t)b;
}

/* xorshift64: jitter needs spread, not secrecy. */
static uint64_t next_random(backoff *b)
{
    uint64_t x = b->rng;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    b->rng = x;
    return x;
}

static int current_step(const backoff *b)
{
    int64_t step = b->initial_ms;
    for (int i = 0; i < b->failures && step < b->max_ms; i++)
        step *= 2;
    return step > b->max_ms ? b->max_ms : (int)step;
}

int backoff_fail(backoff *b)
{
    int step = current_step(b);
    if (b->failures < 64)
        b->failures++;
    int half = step / 2;
    return half + (int)(next_random(b) % (uint64_t)(step - half + 1));
}

int backoff_spread(backoff *b)
{
    return (int)(next_random(b) % (uint64_t)(current_step(b) + 1));
}

void backoff_reset(backoff *b)
{
    b->failures = 0;
}
