/*
 * ULIDs: 128-bit ids, 48 bits of unix milliseconds then 80 random bits, so
 * that ids made later sort later and LMDB keys built from them append.
 * Text form: 26 characters of Crockford base32, as in the ULID spec.
 */
#ifndef CAIRN_ULID_H
#define CAIRN_ULID_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ULID_BYTES 16
#define ULID_TEXT_LEN 26

typedef struct ulid {
    uint8_t b[ULID_BYTES];
} ulid;

/* A new id for the current time; random bits from getrandom(2). */
ulid ulid_new(void);

/* Writes 26 characters and a NUL into text (27 bytes). */
void ulid_format(const ulid *id, char text[ULID_TEXT_LEN + 1]);

/* Parses 26 Crockford base32 characters (case-insensitive); false if not a ULID. */
bool ulid_parse(const char *text, ulid *out);
/* All zero bytes: what a reply's re says when a request's id could not be read. */
bool ulid_is_zero(const ulid *id);

/* Milliseconds since the epoch carried in the id. */
uint64_t ulid_time_ms(const ulid *id);

/* Fills order[0..n) with the indexes of ids in increasing id order (byte-wise,
 * as memcmp and LMDB compare them); equal ids keep their order. tmp: room for
 * n indexes. A radix sort: linear in n, and much cheaper than comparisons. */
void ulid_sort_order(const ulid *ids, size_t n, uint32_t *order, uint32_t *tmp);

#endif
