/*
 * A structural check of msgpack bytes before msgpack-c unpacks them.
 *
 * msgpack-c allocates an array or map of the announced size before reading its
 * elements, so five hostile bytes announcing 2^32 elements make it ask for
 * ~100 GB. This scan walks the encoding without allocating and refuses any
 * count larger than the bytes left could hold, nesting deeper than a bound,
 * truncation, the reserved byte 0xc1, and trailing bytes after one object.
 */
#ifndef CAIRN_MP_SCAN_H
#define CAIRN_MP_SCAN_H

#include <stdbool.h>
#include <stddef.h>

#define MP_SCAN_MAX_DEPTH 32

/* True when buf holds exactly one well-formed msgpack object. On false, why
 * points to a static description of the fault. */
bool mp_scan(const unsigned char *buf, size_t len, const char **why);

#endif
