#include "mp_scan.h"

#include <stdint.h>

typedef struct scan {
    const unsigned char *p;
    const unsigned char *end;
    const char *why;
} scan;

static bool fail(scan *s, const char *why)
{
    s->why = why;
    return false;
}

static bool need(scan *s, size_t n)
{
    return (size_t)(s->end - s->p) >= n ? true : fail(s, "truncated message");
}

static uint64_t read_be(const unsigned char *p, int n)
{
    uint64_t v = 0;
    for (int i = 0; i < n; i++)
        v = (v << 8) | p[i];
    return v;
}

/* Skips a header-announced payload of `len` bytes. */
static bool skip_bytes(scan *s, uint64_t len)
{
    if ((uint64_t)(s->end - s->p) < len)
        return fail(s, "truncated message");
    s->p += len;
    return true;
}

/* Reads an n-byte big-endian length, then skips that many payload bytes. */
static bool skip_sized(scan *s, int n, uint64_t extra)
{
    if (!need(s, (size_t)n))
        return false;
    uint64_t len = read_be(s->p, n);
    s->p += n;
    return skip_bytes(s, len + extra);
}

static bool is_container(unsigned char b)
{
    return (b >= 0x80 && b <= 0x9f) || (b >= 0xdc && b <= 0xdf);
}

/* Reads the header of one object. Scalars and strings are consumed whole;
 * for an array or map, *children receives how many objects follow and
 * *container is set (an empty container is still a level of nesting). */
static bool read_header(scan *s, uint64_t *children, bool *container)
{
    *children = 0;
    if (!need(s, 1))
        return false;
    unsigned char b = *s->p++;
    *container = is_container(b);
    if (b <= 0x7f || b >= 0xe0 || (b >= 0xc2 && b <= 0xc3) || b == 0xc0)
        return true;                                 /* fixint, nil, bool */
    if (b >= 0xa0 && b <= 0xbf)
        return skip_bytes(s, b & 0x1f);              /* fixstr */
    if (b >= 0x90 && b <= 0x9f) {
        *children = b & 0x0f;                        /* fixarray */
        return true;
    }
    if (b >= 0x80 && b <= 0x8f) {
        *children = 2u * (b & 0x0f);                 /* fixmap */
        return true;
    }
    switch (b) {
    case 0xc1: return fail(s, "reserved msgpack byte 0xc1");
    case 0xc4: case 0xd9: return skip_sized(s, 1, 0);   /* bin8, str8 */
    case 0xc5: case 0xda: return skip_sized(s, 2, 0);
    case 0xc6: case 0xdb: return skip_sized(s, 4, 0);
    case 0xc7: return skip_sized(s, 1, 1);              /* ext: length, type, data */
    case 0xc8: return skip_sized(s, 2, 1);
    case 0xc9: return skip_sized(s, 4, 1);
    case 0xca: return skip_bytes(s, 4);                 /* float32 */
    case 0xcb: return skip_bytes(s, 8);
    case 0xcc: case 0xd0: return skip_bytes(s, 1);
    case 0xcd: case 0xd1: return skip_bytes(s, 2);
    case 0xce: case 0xd2: return skip_bytes(s, 4);
    case 0xcf: case 0xd3: return skip_bytes(s, 8);
    case 0xd4: return skip_bytes(s, 2);                 /* fixext: type + data */
    case 0xd5: return skip_bytes(s, 3);
    case 0xd6: return skip_bytes(s, 5);
    case 0xd7: return skip_bytes(s, 9);
    case 0xd8: return skip_bytes(s, 17);
    case 0xdc: case 0xdd:
    case 0xde: case 0xdf: {
        int n = (b == 0xdc || b == 0xde) ? 2 : 4;
        if (!need(s, (size_t)n))
            return false;
        *children = read_be(s->p, n) * (b >= 0xde ? 2u : 1u);
        s->p += n;
        return true;
    }
    }
    return fail(s, "unknown msgpack byte");
}

bool mp_scan(const unsigned char *buf, size_t len, const char **why)
{
    scan s = {buf, buf + len, NULL};
    uint64_t pending[MP_SCAN_MAX_DEPTH + 1]; /* objects left at each open level */
    int depth = 0;
    pending[0] = 1;
    while (depth >= 0) {
        if (pending[depth] == 0) {
            depth--;
            continue;
        }
        pending[depth]--;
        uint64_t children;
        bool container;
        if (!read_header(&s, &children, &container))
            goto out;
        /* msgpack-c counts empty containers against its 32-level stack too. */
        if (container && depth == MP_SCAN_MAX_DEPTH) {
            fail(&s, "nesting deeper than 32 levels");
            goto out;
        }
        if (children == 0)
            continue;
        /* Every element takes at least one byte: a larger count is a lie. */
        if (children > (uint64_t)(s.end - s.p)) {
            fail(&s, "array or map count larger than the message");
            goto out;
        }
        pending[++depth] = children;
    }
    if (s.p != s.end)
        fail(&s, "trailing bytes after the message");
out:
    if (why)
        *why = s.why;
    return s.why == NULL;
}
