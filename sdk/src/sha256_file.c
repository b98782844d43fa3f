#include "sha256_file.h"

#include <openssl/evp.h>

bool sha256_begin(sha256_stream *s)
{
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    s->md = md;
    if (!md)
        return false;
    if (EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1) {
        sha256_abort(s);
        return false;
    }
    return true;
}

bool sha256_update(sha256_stream *s, const void *p, size_t n)
{
    return n == 0 || EVP_DigestUpdate(s->md, p, n) == 1;
}

bool sha256_finish(sha256_stream *s, char hex[SHA256_HEX_LEN + 1])
{
    static const char digits[] = "0123456789abcdef";
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    bool ok = EVP_DigestFinal_ex(s->md, digest, &len) == 1 && len * 2 == SHA256_HEX_LEN;
    sha256_abort(s);
    if (!ok)
        return false;
    for (unsigned int i = 0; i < len; i++) {
        hex[2 * i] = digits[digest[i] >> 4];
        hex[2 * i + 1] = digits[digest[i] & 0xf];
    }
    hex[SHA256_HEX_LEN] = '\0';
    return true;
}

void sha256_abort(sha256_stream *s)
{
    EVP_MD_CTX_free(s->md);
    s->md = NULL;
}
