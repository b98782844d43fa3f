/*
 * The metric keys a tracker has seen, each stored once. A queued point holds
 * a pointer to its interned key, so logging a point never copies or allocates
 * its key, and the sender reads keys without taking the queue's lock (an
 * interned key never changes and lives until the tracker is closed).
 */
#ifndef CAIRN_TRACKER_KEYS_H
#define CAIRN_TRACKER_KEYS_H

#include <stddef.h>
#include <stdint.h>

#include "cairn/status.h"


typedef struct tk_key {
    uint64_t hash;
    cairn_status status; /* CAIRN_OK, or why the receiver would refuse this key */
    uint32_t len;
    char s[];            /* NUL-terminated */
} tk_key;

typedef struct tk_keys {
    tk_key **slots; /* open addressing; capacity a power of two, at most half full */
    size_t cap;
    size_t count;
} tk_keys;

/* The hash tk_keys_intern expects: computed by the caller before it takes the
 * queue's lock, to keep the locked section short. */
uint64_t tk_key_hash(const char *key, size_t len);

/* The interned copy of key (len bytes, hash from tk_key_hash), made on first
 * sight and checked then against the protocol's key rules (its status).
 * NULL only when out of memory. */
const tk_key *tk_keys_intern(tk_keys *keys, const char *key, size_t len, uint64_t hash);

void tk_keys_free(tk_keys *keys);

#endif
