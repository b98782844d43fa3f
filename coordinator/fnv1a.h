/*
 * FNV-1a, the hash of the coordinator's in-memory tables (agents by routing
 * id, a request's metric keys, held metric series): short byte strings,
 * spread well enough for open addressing, no state to set up.
 */
#ifndef CAIRN_FNV1A_H
#define CAIRN_FNV1A_H

#include <stddef.h>
#include <stdint.h>

#define FNV1A_START 2166136261u

/* Hash h continued over n bytes at p: start from FNV1A_START. */
static inline uint32_t fnv1a(uint32_t h, const void *p, size_t n)
{
    const uint8_t *b = p;
    for (size_t i = 0; i < n; i++)
        h = (h ^ b[i]) * 16777619u;
    return h;
}

#endif
