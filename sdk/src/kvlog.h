/*
 * Logging as journald likes it: one line per event on stderr,
 *   ts=2026-11-27T10:00:00.123Z level=info event=listening endpoint=tcp://...
 * Free text goes through kvlog_quote so a value never breaks the line apart.
 */
#ifndef CAIRN_KVLOG_H
#define CAIRN_KVLOG_H

#include <stddef.h>

typedef enum kvlog_level { KVLOG_DEBUG, KVLOG_INFO, KVLOG_WARN, KVLOG_ERROR } kvlog_level;

/* Lines below this level are dropped (default KVLOG_INFO). */
void kvlog_set_level(kvlog_level level);
kvlog_level kvlog_get_level(void);
/* Parses "debug", "info", "warn", "error"; returns -1 for anything else. */
int kvlog_parse_level(const char *name);

/* fmt holds further key=value pairs (may be NULL). */
void kvlog(kvlog_level level, const char *event, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Writes s as a double-quoted value with \" \\ \n escaped into buf; returns buf. */
const char *kvlog_quote(char *buf, size_t cap, const char *s);
/* s itself when it is safe bare (not empty; no space, quote, backslash, '='
 * or control character), else kvlog_quote's form in buf: for paths and
 * endpoints, which are almost always bare but may hold anything. */
const char *kvlog_value(char *buf, size_t cap, const char *s);

#endif
