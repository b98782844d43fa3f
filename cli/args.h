/*
 * Command-line parsing helpers: options of a command (in any order, mixed with
 * positional arguments, repeatable), and the value syntaxes the CLI accepts:
 * durations, counts, KEY=VALUE and KEY=VALUE[@STEP].
 * Parsers return NULL on success, else a short reason for the error message.
 */
#ifndef CAIRN_CLI_ARGS_H
#define CAIRN_CLI_ARGS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cairn/client.h"

typedef struct opt_spec {
    const char *name; /* "--experiment", or a short "-o" */
    bool has_value;
} opt_spec;

typedef struct opt_value {
    const char *name;  /* the spec's name, whatever spelling matched */
    const char *value; /* NULL for a flag */
} opt_value;

typedef struct parsed_args {
    opt_value *opts; /* in command-line order */
    size_t n_opts;
    char **pos;      /* positional arguments */
    size_t n_pos;
    bool json;       /* --json, known to every command */
    bool help;       /* --help or -h */
    int next;        /* with stop_at_positional: index of the first positional */
} parsed_args;

/*
 * Parses argv[0..argc) against specs (terminated by a {NULL} entry).
 * "--name value" and "--name=value" both work; "--" ends the options.
 * With stop_at_positional, parsing stops at the first positional argument
 * (global options before a command). Returns NULL or the reason, written into
 * why (cap bytes).
 */
const char *args_parse(int argc, char **argv, const opt_spec *specs, bool stop_at_positional,
                       parsed_args *out, char *why, size_t cap);
void args_free(parsed_args *a);

/* The value of the last occurrence of option name, or NULL. */
const char *args_get(const parsed_args *a, const char *name);
bool args_has(const parsed_args *a, const char *name);
size_t args_count(const parsed_args *a, const char *name);

/* "500ms", "5s", "2m", "1h" or plain seconds ("5", "0.5"), at least 1 ms. */
const char *args_duration_ms(const char *s, int *ms);
/* A fan-out's --timeout (the agents' time): a duration of at most 10
 * minutes, as the coordinator takes (FANOUT_MAX_TIMEOUT_MS). */
#define ARGS_FANOUT_MAX_MS 600000
const char *args_fanout_timeout_ms(const char *s, int *ms);

/* A decimal count without sign. */
const char *args_uint(const char *s, uint64_t *out);

/* Option name, when given, as a count of at least 1 (such as --max); *out is
 * left as it was when the option is not given. */
const char *args_positive_count(const parsed_args *a, const char *name, uint64_t *out);

/* "KEY=VALUE": split at the first '=' (the value may hold more), key not
 * empty. On success the '=' in arg is replaced by a NUL and out points into arg. */
const char *args_kv(char *arg, cairn_kv *out);

/* "KEY=VALUE[@STEP]": a number (also NaN, inf, -inf) and an optional integer
 * step (default 0); timestamp 0 (now). Splits arg in place like args_kv. */
const char *args_metric(char *arg, cairn_metric *out);

#endif
