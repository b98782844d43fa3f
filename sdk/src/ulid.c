#include "ulid.h"

#include <string.h>
#include <sys/random.h>
#include <time.h>

static const char crockford[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void getrandom_all(uint8_t *p, size_t n)
{
    /* getrandom never returns short reads of <= 256 bytes once the pool is
     * initialised; loop anyway so an EINTR cannot leave zeros. */
    size_t got = 0;
    while (got < n) {
        ssize_t r = getrandom(p + got, n - got, 0);
        if (r > 0)
            got += (size_t)r;
    }
}

/* Every reply gets a new id: a syscall per id was a visible share of the
 * coordinator's time, so each thread draws random bytes 25 ids at a time. */
static void fill_random(uint8_t *p, size_t n)
{
    static _Thread_local uint8_t pool[250];
    static _Thread_local size_t left;
    if (left < n) {
        getrandom_all(pool, sizeof pool);
        left = sizeof pool;
    }
    memcpy(p, pool + sizeof pool - left, n);
    left -= n;
}

ulid ulid_new(void)
{
    ulid id;
    uint64_t ms = now_ms();
    for (int i = 5; i >= 0; i--) {
        id.b[i] = (uint8_t)(ms & 0xff);
        ms >>= 8;
    }
    fill_random(id.b + 6, 10);
    return id;
}

uint64_t ulid_time_ms(const ulid *id)
{
    uint64_t ms = 0;
    for (int i = 0; i < 6; i++)
        ms = (ms << 8) | id->b[i];
    return ms;
}

/* The 128 bits are written as 26 five-bit groups, the first group holding
 * only the top 3 bits (26 * 5 = 130). */
static unsigned bits_at(const ulid *id, int group)
{
    int first_bit = group * 5 - 2; /* bit index from the top; may be negative */
    unsigned v = 0;
    for (int k = 0; k < 5; k++) {
        int bit = first_bit + k;
        v <<= 1;
        if (bit >= 0)
            v |= (id->b[bit / 8] >> (7 - bit % 8)) & 1u;
    }
    return v;
}

void ulid_format(const ulid *id, char text[ULID_TEXT_LEN + 1])
{
    for (int g = 0; g < ULID_TEXT_LEN; g++)
        text[g] = crockford[bits_at(id, g)];
    text[ULID_TEXT_LEN] = '\0';
}

static int decode_char(char c)
{
    if (c >= 'a' && c <= 'z')
        c = (char)(c - 'a' + 'A');
    const char *p = c ? strchr(crockford, c) : NULL;
    return p ? (int)(p - crockford) : -1;
}

bool ulid_parse(const char *text, ulid *out)
{
    if (!text || strlen(text) != ULID_TEXT_LEN)
        return false;
    /* The first character carries 3 bits: anything above '7' overflows. */
    int first = decode_char(text[0]);
    if (first < 0 || first > 7)
        return false;
    memset(out->b, 0, sizeof out->b);
    for (int g = 0; g < ULID_TEXT_LEN; g++) {
        int v = decode_char(text[g]);
        if (v < 0)
            return false;
        for (int k = 0; k < 5; k++) {
            int bit = g * 5 - 2 + k;
            if (bit >= 0 && ((v >> (4 - k)) & 1))
                out->b[bit / 8] |= (uint8_t)(1u << (7 - bit % 8));
        }
    }
    return true;
}
