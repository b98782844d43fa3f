/* Checking that text is UTF-8, as a msgpack str must be. */
#ifndef CAIRN_UTF8_H
#define CAIRN_UTF8_H

#include <stdbool.h>
#include <stddef.h>

/* Length of the valid UTF-8 sequence at p (at most n bytes), or 0. */
size_t utf8_seq(const unsigned char *p, size_t n);

typedef enum utf8_fault {
    UTF8_CLEAN = 0,
    UTF8_INVALID,  /* not UTF-8 */
    UTF8_CONTROL,  /* a control character (0x00-0x1f, 0x7f) */
    UTF8_NUL,      /* a NUL byte */
} utf8_fault;

/* The first fault of n bytes at p: any control character when controls is
 * false, else only NUL (text such as a description may hold line breaks). */
utf8_fault utf8_check(const char *p, size_t n, bool controls);

/* A copy of the n bytes at p, NUL-terminated, with every byte that starts no
 * valid sequence replaced by U+FFFD (the rules jansson applies: no overlongs,
 * surrogates or values past U+10FFFF); its length in *out_n when not NULL.
 * NULL when out of memory. */
char *utf8_repair(const char *p, size_t n, size_t *out_n);

#endif
