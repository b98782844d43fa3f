#include "kvlog.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static kvlog_level min_level = KVLOG_INFO;
static const char *const level_names[] = {"debug", "info", "warn", "error"};

void kvlog_set_level(kvlog_level level)
{
    min_level = level;
}

kvlog_level kvlog_get_level(void) { return min_level; }

int kvlog_parse_level(const char *name)
{
    for (int i = 0; i < 4; i++)
        if (strcmp(name, level_names[i]) == 0)
            return i;
    return -1;
}

void kvlog(kvlog_level level, const char *event, const char *fmt, ...)
{
    if (level < min_level)
        return;
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    char line[2048];
    int n = snprintf(line, sizeof line, "ts=%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ level=%s event=%s",
                     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
                     tm.tm_sec, ts.tv_nsec / 1000000, level_names[level], event);
    if (fmt && n > 0 && (size_t)n < sizeof line - 1) {
        line[n++] = ' ';
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(line + n, sizeof line - (size_t)n, fmt, ap);
        va_end(ap);
    }
    /* One fputs per line: concurrent writers never interleave within a line. */
    size_t len = strlen(line);
    if (len < sizeof line - 1) {
        line[len] = '\n';
        line[len + 1] = '\0';
    } else {
        line[sizeof line - 2] = '\n';
    }
    fputs(line, stderr);
}

const char *kvlog_value(char *buf, size_t cap, const char *s)
{
    if (!s || !*s)
        return kvlog_quote(buf, cap, "");
    for (const unsigned char *c = (const unsigned char *)s; *c; c++)
        if (*c <= ' ' || *c == '"' || *c == '\\' || *c == '=' || *c == 0x7f)
            return kvlog_quote(buf, cap, s);
    return s;
}

const char *kvlog_quote(char *buf, size_t cap, const char *s)
{
    size_t o = 0;
    if (cap < 3)
        return "\"\"";
    buf[o++] = '"';
    while (s && *s) {
        unsigned char u = (unsigned char)*s;
        bool escaped = u == '"' || u == '\\' || u == '\n' || u == '\r' || u == '\t';
        /* A character is copied whole or not at all: cut in two, it would
         * read as U+FFFD. Only continuation bytes go with a lead byte, so a
         * quote after a broken sequence is still escaped. Room is kept for
         * the closing quote and the NUL. */
        size_t want = u < 0xC0 ? 1 : u < 0xE0 ? 2 : u < 0xF0 ? 3 : 4, n = 1;
        while (!escaped && n < want && ((unsigned char)s[n] & 0xC0) == 0x80)
            n++;
        if (o + (escaped ? 2 : n) + 2 > cap)
            break;
        if (escaped) {
            buf[o++] = '\\';
            buf[o++] = u == '\n' ? 'n' : u == '\r' ? 'r' : u == '\t' ? 't' : (char)u;
            s++;
            continue;
        }
        for (size_t k = 0; k < n; k++)
            buf[o++] = *s++;
    }
    buf[o++] = '"';
    buf[o] = '\0';
    return buf;
}
