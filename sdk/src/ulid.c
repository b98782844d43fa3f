#include "ulid.h"

#include <pthread.h>
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
    /* Reads of more than 256 bytes may come back short (a signal): loop, so
     * that no byte of the pool is left as it was. */
    size_t got = 0;
    while (got < n) {
        ssize_t r = getrandom(p + got, n - got, 0);
        if (r > 0)
            got += (size_t)r;
    }
}

/* Every reply gets a new id: a syscall per id was a visible share of the
 * coordinator's time, and one per 25 ids still was, so each thread draws
 * random bytes for 256 ids at a time. A forked child must not hand out the
 * bytes its parent will also use (same millisecond, same id: the second
 * write would be taken for a resend), so fork empties the pool. */
static _Thread_local uint8_t pool[2560];
static _Thread_local size_t pool_left;
static pthread_once_t fork_guard = PTHREAD_ONCE_INIT;

static void empty_pool(void)
{
    pool_left = 0;
}

static void guard_fork(void)
{
    pthread_atfork(NULL, NULL, empty_pool);
}

static void fill_random(uint8_t *p, size_t n)
{
    pthread_once(&fork_guard, guard_fork);
    if (pool_left < n) {
        getrandom_all(pool, sizeof pool);
        pool_left = sizeof pool;
    }
    memcpy(p, pool + sizeof pool - pool_left, n);
    pool_left -= n;
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

/* The 128 bits are written as 26 five-bit groups from the lowest up; the
 * first character holds only the top 3 bits (26 * 5 = 130). In two 64-bit
 * halves: shifting a 128-bit value 26 times cost more than the rest of a
 * metric write's audit summary. */
void ulid_format(const ulid *id, char text[ULID_TEXT_LEN + 1])
{
    uint64_t hi = 0, lo = 0;
    for (int i = 0; i < 8; i++) {
        hi = (hi << 8) | id->b[i];
        lo = (lo << 8) | id->b[i + 8];
    }
    for (int g = ULID_TEXT_LEN - 1; g > 13; g--, lo >>= 5) /* 12 groups: 60 bits */
        text[g] = crockford[lo & 31];
    text[13] = crockford[(lo & 15) | ((hi & 1) << 4)]; /* 4 bits, then 1 */
    hi >>= 1;
    for (int g = 12; g >= 0; g--, hi >>= 5) /* 13 groups: the last 63 bits */
        text[g] = crockford[hi & 31];
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
    unsigned __int128 v = 0;
    for (int g = 0; g < ULID_TEXT_LEN; g++) {
        int c = decode_char(text[g]);
        if (c < 0)
            return false;
        v = (v << 5) | (unsigned)c;
    }
    for (int i = ULID_BYTES - 1; i >= 0; i--) {
        out->b[i] = (uint8_t)(v & 0xff);
        v >>= 8;
    }
    return true;
}

void ulid_sort_order(const ulid *ids, size_t n, uint32_t *order, uint32_t *tmp)
{
    uint32_t *from = order, *to = tmp;
    for (size_t i = 0; i < n; i++)
        from[i] = (uint32_t)i;
    /* Least significant byte first; each pass is stable, so it keeps the
     * order the later bytes gave. A byte that every id shares, such as the
     * high bytes of their time, needs no pass. */
    for (int byte = ULID_BYTES - 1; byte >= 0 && n > 1; byte--) {
        size_t at[257] = {0};
        for (size_t i = 0; i < n; i++)
            at[ids[from[i]].b[byte] + 1]++;
        if (at[ids[from[0]].b[byte] + 1] == n)
            continue;
        for (int v = 0; v < 256; v++)
            at[v + 1] += at[v];
        for (size_t i = 0; i < n; i++)
            to[at[ids[from[i]].b[byte]]++] = from[i];
        uint32_t *t = from;
        from = to;
        to = t;
    }
    if (from != order)
        memcpy(order, from, n * sizeof *order);
}

bool ulid_is_zero(const ulid *id)
{
    static const ulid zero;
    return memcmp(id->b, zero.b, ULID_BYTES) == 0;
}

