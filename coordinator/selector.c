/* Parsing and matching label selectors (see selector.h). */
#include "selector.h"

#include <fnmatch.h>
#include <string.h>

#include "error.h"

bool selector_key_ok(const char *key, size_t len)
{
    if (len == 0 || len > SELECTOR_MAX_KEY)
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = key[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '_' || c == '-' || c == '.' || c == '/';
        if (!ok)
            return false;
    }
    return true;
}

/* Cuts blanks from both ends of [*p, *p + *n), in place. */
static void trim(char **p, size_t *n)
{
    while (*n && (**p == ' ' || **p == '\t'))
        (*p)++, (*n)--;
    while (*n && ((*p)[*n - 1] == ' ' || (*p)[*n - 1] == '\t'))
        (*n)--;
}

static bool blank(const char *p, size_t n)
{
    char *q = (char *)p;
    trim(&q, &n);
    return n == 0;
}

/* One clause, [p, p + n) inside s->buf: NUL-terminates its key and value there. */
static cairn_status parse_clause(selector *s, char *p, size_t n, cairn_error *err)
{
    trim(&p, &n);
    if (n == 0)
        return error_set(err, CAIRN_INVALID_PARAMETER_VALUE,
                         "selector has an empty clause (clauses are KEY=VALUE or KEY!=VALUE, "
                         "separated by ',')");
    char *eq = memchr(p, '=', n);
    if (!eq)
        return error_set(err, CAIRN_INVALID_PARAMETER_VALUE,
                         "selector clause '%.*s' has no '=' or '!=' (expected KEY=VALUE or "
                         "KEY!=VALUE)", (int)n, p);
    bool negate = eq > p && eq[-1] == '!';
    char *key = p, *value = eq + 1;
    size_t key_n = (size_t)(eq - p) - negate, value_n = n - (size_t)(value - p);
    trim(&key, &key_n);
    trim(&value, &value_n);
    if (!selector_key_ok(key, key_n))
        return error_set(err, CAIRN_INVALID_PARAMETER_VALUE,
                         "selector clause '%.*s': the key must be 1 to %d letters, digits, '_', "
                         "'-', '.' or '/'", (int)n, p, SELECTOR_MAX_KEY);
    for (size_t i = 0; i < value_n; i++)
        if ((unsigned char)value[i] < 0x20 || value[i] == 0x7f)
            return error_set(err, CAIRN_INVALID_PARAMETER_VALUE,
                             "selector clause '%.*s': the value holds a control character",
                             (int)n, p);
    if (s->n == SELECTOR_MAX_CLAUSES)
        return error_set(err, CAIRN_LIMIT_EXCEEDED, "selector has more than %d clauses",
                         SELECTOR_MAX_CLAUSES);
    key[key_n] = '\0';
    value[value_n] = '\0';
    s->clauses[s->n++] = (selector_clause){key, value, negate, strcmp(key, "host") == 0};
    return CAIRN_OK;
}

cairn_status selector_parse(selector *s, const char *text, size_t len, cairn_error *err)
{
    s->n = 0;
    s->buf[0] = '\0';
    if (len == 0)
        return CAIRN_OK; /* every agent */
    if (len > SELECTOR_MAX_BYTES)
        return error_set(err, CAIRN_LIMIT_EXCEEDED,
                         "selector of %zu bytes exceeds the limit of %d bytes", len,
                         SELECTOR_MAX_BYTES);
    if (memchr(text, '\0', len))
        return error_set(err, CAIRN_INVALID_PARAMETER_VALUE, "selector holds a NUL byte");
    memcpy(s->buf, text, len);
    s->buf[len] = '\0';
    if (blank(s->buf, len))
        return CAIRN_OK; /* every agent */
    char *p = s->buf, *end = s->buf + len;
    for (;;) {
        char *comma = memchr(p, ',', (size_t)(end - p));
        char *stop = comma ? comma : end;
        cairn_status st = parse_clause(s, p, (size_t)(stop - p), err);
        if (st)
            return st;
        if (!comma)
            return CAIRN_OK;
        p = comma + 1;
    }
}

static const char *label_value(const char *key, const selector_label *labels, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(labels[i].key, key) == 0)
            return labels[i].value;
    return NULL;
}

bool selector_match(const selector *s, const char *host, const selector_label *labels,
                    size_t n_labels)
{
    for (size_t i = 0; i < s->n; i++) {
        const selector_clause *c = &s->clauses[i];
        const char *value = c->is_host ? host : label_value(c->key, labels, n_labels);
        bool equal = value && fnmatch(c->pattern, value, 0) == 0;
        if (equal == c->negate)
            return false;
    }
    return true;
}
