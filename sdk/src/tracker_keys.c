#include "tracker_keys.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "validate.h"

#define TK_KEYS_FIRST_CAP 64

/* FNV-1a: keys are short, so a simple byte loop is as fast as anything. */
uint64_t tk_key_hash(const char *key, size_t len)
{
    uint64_t h = 14695981039346656037ull;
    for (size_t i = 0; i < len; i++) {
        h ^= (unsigned char)key[i];
        h *= 1099511628211ull;
    }
    return h;
}

/* The coordinator's rule (validate.h), checked here once per key so that one
 * bad key costs its own points, not the batch they would have shared a
 * request with. */
static cairn_status check_key(const char *key, size_t len)
{
    cairn_error err;
    return validate_key("metric", (msg_str){key, (uint32_t)len}, &err);
}

static size_t find_slot(const tk_keys *keys, const char *key, size_t len, uint64_t hash)
{
    size_t mask = keys->cap - 1, i = (size_t)hash & mask;
    for (;; i = (i + 1) & mask) {
        const tk_key *k = keys->slots[i];
        if (!k || (k->hash == hash && k->len == len && memcmp(k->s, key, len) == 0))
            return i;
    }
}

static bool grow(tk_keys *keys)
{
    size_t cap = keys->cap ? keys->cap * 2 : TK_KEYS_FIRST_CAP;
    tk_key **old = keys->slots;
    size_t old_cap = keys->cap;
    keys->slots = calloc(cap, sizeof *keys->slots);
    if (!keys->slots) {
        keys->slots = old;
        return false;
    }
    keys->cap = cap;
    for (size_t i = 0; i < old_cap; i++)
        if (old[i])
            keys->slots[find_slot(keys, old[i]->s, old[i]->len, old[i]->hash)] = old[i];
    free(old);
    return true;
}

static tk_key *new_key(const char *key, size_t len, uint64_t hash)
{
    tk_key *k = malloc(sizeof *k + len + 1);
    if (!k)
        return NULL;
    k->hash = hash;
    k->len = (uint32_t)len;
    k->status = check_key(key, len);
    memcpy(k->s, key, len);
    k->s[len] = '\0';
    return k;
}

const tk_key *tk_keys_intern(tk_keys *keys, const char *key, size_t len, uint64_t hash)
{
    if (!keys->cap && !grow(keys))
        return NULL;
    size_t i = find_slot(keys, key, len, hash);
    if (keys->slots[i])
        return keys->slots[i];
    if ((keys->count + 1) * 2 > keys->cap) {
        if (!grow(keys))
            return NULL;
        i = find_slot(keys, key, len, hash);
    }
    if (!(keys->slots[i] = new_key(key, len, hash)))
        return NULL;
    keys->count++;
    return keys->slots[i];
}

void tk_keys_free(tk_keys *keys)
{
    for (size_t i = 0; i < keys->cap; i++)
        free(keys->slots[i]);
    free(keys->slots);
    keys->slots = NULL;
    keys->cap = keys->count = 0;
}
