#include "utf8.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

size_t utf8_seq(const unsigned char *p, size_t n)
{
    static const uint32_t min[5] = {0, 0, 0x80, 0x800, 0x10000};
    size_t len = p[0] < 0x80   ? 1
                 : p[0] < 0xc2 ? 0
                 : p[0] < 0xe0 ? 2
                 : p[0] < 0xf0 ? 3
                 : p[0] < 0xf5 ? 4
                               : 0;
    if (len == 0 || len > n)
        return 0;
    if (len == 1)
        return 1;
    uint32_t v = p[0] & (0x7f >> len);
    for (size_t i = 1; i < len; i++) {
        if ((p[i] & 0xc0) != 0x80)
            return 0;
        v = (v << 6) | (p[i] & 0x3f);
    }
    return v < min[len] || v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff) ? 0 : len;
}

utf8_fault utf8_check(const char *text, size_t n, bool controls)
{
    const unsigned char *p = (const unsigned char *)text;
    for (size_t i = 0; i < n;) {
        if (p[i] < 0x80) { /* the common case: ASCII, a byte at a time */
            if (p[i] == 0)
                return UTF8_NUL;
            if (!controls && (p[i] < 0x20 || p[i] == 0x7f))
                return UTF8_CONTROL;
            i++;
            continue;
        }
        size_t len = utf8_seq(p + i, n - i);
        if (len == 0)
            return UTF8_INVALID;
        i += len;
    }
    return UTF8_CLEAN;
}

char *utf8_repair(const char *text, size_t n, size_t *out_n)
{
    char *out = malloc(n * 3 + 1), *o = out;
    if (!out)
        return NULL;
    const unsigned char *p = (const unsigned char *)text;
    for (size_t i = 0; i < n;) {
        size_t len = utf8_seq(p + i, n - i);
        if (len) {
            memcpy(o, p + i, len);
            o += len;
            i += len;
        } else {
            memcpy(o, "\xef\xbf\xbd", 3);
            o += 3;
            i++;
        }
    }
    *o = '\0';
    if (out_n)
        *out_n = (size_t)(o - out);
    return out;
}
