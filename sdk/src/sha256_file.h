/*
 * SHA-256 of a byte stream fed piece by piece (libcrypto's EVP), so that an
 * artifact is hashed while it is read or written, never held whole in memory.
 */
#ifndef CAIRN_SHA256_FILE_H
#define CAIRN_SHA256_FILE_H

#include <stdbool.h>
#include <stddef.h>

#define SHA256_HEX_LEN 64

typedef struct sha256_stream {
    void *md; /* EVP_MD_CTX */
} sha256_stream;

/* False when libcrypto (loaded on first use) is missing, or cannot allocate
 * or initialise the digest. */
bool sha256_begin(sha256_stream *s);
bool sha256_update(sha256_stream *s, const void *p, size_t n);

/* Writes 64 lowercase hex characters and a NUL, and releases the stream. */
bool sha256_finish(sha256_stream *s, char hex[SHA256_HEX_LEN + 1]);

/* Releases a stream without a result (on error paths); safe after finish. */
void sha256_abort(sha256_stream *s);

#endif
