/*
 * Label selectors: which agents a fan-out reaches.
 *
 *   role=serving,model=churn    host=gpu-*    env!=dev
 *
 * Comma-separated clauses that must all hold. Each is KEY=VALUE or
 * KEY!=VALUE; VALUE may hold fnmatch globs (`*`, `?`, `[...]`). The key
 * `host` matches the agent's hostname, any other key one of its labels. An
 * agent without the label fails `=` and passes `!=`. An empty selector (or
 * one of blanks only) matches every agent. Spaces around keys and values are
 * ignored. docs/protocol.md ("Selectors") is the contract.
 */
#ifndef CAIRN_SELECTOR_H
#define CAIRN_SELECTOR_H

#include <stdbool.h>
#include <stddef.h>

#include "cairn/status.h"

#define SELECTOR_MAX_BYTES 1024
#define SELECTOR_MAX_CLAUSES 32
#define SELECTOR_MAX_KEY 128

/* An agent's label, as the matcher sees it: NUL-terminated strings. */
typedef struct selector_label {
    const char *key;
    const char *value;
} selector_label;

typedef struct selector_clause {
    const char *key;     /* points into the selector's buffer */
    const char *pattern;
    bool negate;         /* != */
    bool is_host;
} selector_clause;

typedef struct selector {
    selector_clause clauses[SELECTOR_MAX_CLAUSES];
    size_t n;
    char buf[SELECTOR_MAX_BYTES + 1]; /* the text, cut into NUL-terminated parts */
} selector;

/* Parses len bytes of text. Returns CAIRN_OK, or CAIRN_INVALID_PARAMETER_VALUE
 * (or CAIRN_LIMIT_EXCEEDED for a selector over the limits) with a message that
 * quotes the offending clause. */
cairn_status selector_parse(selector *s, const char *text, size_t len, cairn_error *err);

bool selector_match(const selector *s, const char *host, const selector_label *labels,
                    size_t n_labels);

/* True for a key selectors and labels may use: 1..SELECTOR_MAX_KEY bytes of
 * letters, digits, '_', '-', '.' and '/'. */
bool selector_key_ok(const char *key, size_t len);

#endif
