/*
 * SHA-256 through libcrypto's EVP interface, with libcrypto loaded on the
 * first hash rather than at start: most of an agent's life is spent idle,
 * and the library's pages (about 1.4 MiB resident) are only needed while an
 * artifact or a fetched blob is hashed.
 */
#include "sha256_file.h"

#include <dlfcn.h>
#include <openssl/evp.h>
#include <pthread.h>

/* The EVP functions used, resolved once from libcrypto.so.3. */
static struct {
    EVP_MD_CTX *(*ctx_new)(void);
    void (*ctx_free)(EVP_MD_CTX *);
    const EVP_MD *(*sha256)(void);
    int (*init)(EVP_MD_CTX *, const EVP_MD *, ENGINE *);
    int (*update)(EVP_MD_CTX *, const void *, size_t);
    int (*final)(EVP_MD_CTX *, unsigned char *, unsigned int *);
    bool loaded;
} evp;

static pthread_once_t evp_once = PTHREAD_ONCE_INIT;

#define RESOLVE(field, name) (*(void **)&evp.field = dlsym(lib, name)) != NULL

static void load_evp(void)
{
    void *lib = dlopen("libcrypto.so.3", RTLD_NOW | RTLD_LOCAL);
    if (!lib)
        return;
    evp.loaded = RESOLVE(ctx_new, "EVP_MD_CTX_new") && RESOLVE(ctx_free, "EVP_MD_CTX_free") &&
                 RESOLVE(sha256, "EVP_sha256") && RESOLVE(init, "EVP_DigestInit_ex") &&
                 RESOLVE(update, "EVP_DigestUpdate") && RESOLVE(final, "EVP_DigestFinal_ex");
}

bool sha256_begin(sha256_stream *s)
{
    s->md = NULL;
    pthread_once(&evp_once, load_evp);
    if (!evp.loaded)
        return false;
    EVP_MD_CTX *md = evp.ctx_new();
    s->md = md;
    if (!md)
        return false;
    if (evp.init(md, evp.sha256(), NULL) != 1) {
        sha256_abort(s);
        return false;
    }
    return true;
}

bool sha256_update(sha256_stream *s, const void *p, size_t n)
{
    return n == 0 || evp.update(s->md, p, n) == 1;
}

bool sha256_finish(sha256_stream *s, char hex[SHA256_HEX_LEN + 1])
{
    static const char digits[] = "0123456789abcdef";
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    bool ok = evp.final(s->md, digest, &len) == 1 && len * 2 == SHA256_HEX_LEN;
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
    if (s->md)
        evp.ctx_free(s->md);
    s->md = NULL;
}
