#include "format.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char *fmt_utc(int64_t unix_ms, char buf[FMT_TIME_LEN], int with_ms)
{
    struct tm tm;
    time_t secs = (time_t)(unix_ms / 1000);
    int ms = (int)(unix_ms % 1000);
    if (ms < 0) {
        ms += 1000;
        secs -= 1;
    }
    if (unix_ms == 0 || !gmtime_r(&secs, &tm))
        return "-";
    size_t n = strftime(buf, FMT_TIME_LEN, "%Y-%m-%dT%H:%M:%S", &tm);
    if (with_ms)
        snprintf(buf + n, FMT_TIME_LEN - n, ".%03dZ", ms);
    else
        snprintf(buf + n, FMT_TIME_LEN - n, "Z");
    return buf;
}

const char *fmt_time(int64_t unix_ms, char buf[FMT_TIME_LEN])
{
    return fmt_utc(unix_ms, buf, 0);
}

const char *fmt_time_ms(int64_t unix_ms, char buf[FMT_TIME_LEN])
{
    return fmt_utc(unix_ms, buf, 1);
}

const char *fmt_double(double v, char buf[FMT_NUM_LEN])
{
    if (isnan(v))
        return "NaN";
    if (isinf(v))
        return v > 0 ? "Infinity" : "-Infinity";
    for (int precision = 6; precision <= 17; precision++) {
        snprintf(buf, FMT_NUM_LEN, "%.*g", precision, v);
        if (strtod(buf, NULL) == v)
            break;
    }
    return buf;
}

const char *fmt_size(uint64_t bytes, char buf[FMT_NUM_LEN])
{
    static const char *const units[] = {"KiB", "MiB", "GiB", "TiB", "PiB"};
    if (bytes < 1024) {
        snprintf(buf, FMT_NUM_LEN, "%" PRIu64 " B", bytes);
        return buf;
    }
    double v = (double)bytes / 1024;
    size_t u = 0;
    while (v >= 1024 - 0.05 && u + 1 < sizeof units / sizeof units[0]) { /* never "1024.0 KiB" */
        v /= 1024;
        u++;
    }
    snprintf(buf, FMT_NUM_LEN, "%.1f %s", v, units[u]);
    return buf;
}

char *fmt_kv_list(const cairn_kv *kv, size_t n)
{
    size_t len = 1;
    for (size_t i = 0; i < n; i++)
        len += strlen(kv[i].key) + strlen(kv[i].value) + 3;
    char *s = malloc(len), *p = s;
    for (size_t i = 0; s && i < n; i++)
        p += sprintf(p, "%s%s=%s", i ? ", " : "", kv[i].key, kv[i].value);
    if (s)
        *p = '\0';
    return s;
}

const char *fmt_agent_short(const char *id)
{
    size_t n = strlen(id);
    return n == 0 ? "-" : n > 8 ? id + n - 8 : id;
}
