#include "filter.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"

/* ---- cursor and character classes ------------------------------------- */

/* One pass over the input. Every read checks pos < len, so no input (however
 * malformed) makes the lexer look past the terminating NUL. */
typedef struct cursor {
    const char *text;
    size_t len;
    size_t pos;
    const char *context; /* "filter" or "order_by": starts every message */
    cairn_error *err;
} cursor;

static cursor cursor_start(const char *text, const char *context, cairn_error *err)
{
    return (cursor){.text = text, .len = strlen(text), .context = context, .err = err};
}

static bool at_end(const cursor *c) { return c->pos >= c->len; }
static char peek(const cursor *c) { return at_end(c) ? '\0' : c->text[c->pos]; }

static bool is_space(char ch)
{
    return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r' || ch == '\f' || ch == '\v';
}
static bool is_digit(char ch) { return ch >= '0' && ch <= '9'; }
static bool is_alpha(char ch) { return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z'); }
static bool is_word_char(char ch) { return is_alpha(ch) || is_digit(ch) || ch == '_'; }
static bool is_operator_char(char ch) { return ch == '=' || ch == '!' || ch == '<' || ch == '>'; }
static bool is_key_char(char ch)
{
    return is_word_char(ch) || ch == '-' || ch == '.' || ch == '/' || ch == ':';
}
static bool is_utf8_continuation(char ch) { return ((unsigned char)ch & 0xC0) == 0x80; }

/* Folding by hand rather than tolower(): the result must not depend on the
 * process locale, and ILIKE is documented to fold ASCII only. */
static char ascii_lower(char ch) { return (ch >= 'A' && ch <= 'Z') ? (char)(ch - 'A' + 'a') : ch; }

static bool span_equals_word(const char *s, size_t len, const char *word)
{
    if (strlen(word) != len)
        return false;
    for (size_t i = 0; i < len; i++)
        if (ascii_lower(s[i]) != ascii_lower(word[i]))
            return false;
    return true;
}

static void skip_space(cursor *c)
{
    while (!at_end(c) && is_space(c->text[c->pos]))
        c->pos++;
}

/* Consumes a case-insensitive keyword only when it stands as a whole word,
 * so that "andromeda" is not read as "and" followed by "romeda". */
static bool take_keyword(cursor *c, const char *word)
{
    size_t n = strlen(word);
    if (c->len - c->pos < n || !span_equals_word(c->text + c->pos, n, word))
        return false;
    if (c->pos + n < c->len && is_word_char(c->text[c->pos + n]))
        return false;
    c->pos += n;
    return true;
}

/* ---- error messages ---------------------------------------------------- */

/* Messages quote at most this many bytes of the input, so that a huge filter
 * cannot push the position off the end of cairn_error's message buffer. */
#define QUOTE_MAX 64

/* Printable length of an input span, cut on a UTF-8 character boundary. */
static int quote_len(const char *s, size_t len)
{
    if (len <= QUOTE_MAX)
        return (int)len;
    size_t n = QUOTE_MAX;
    while (n > 0 && is_utf8_continuation(s[n]))
        n--;
    return (int)n;
}

/* People count characters, not bytes: report 1-based UTF-8 characters. */
static size_t char_position(const cursor *c, size_t byte_offset)
{
    size_t chars = 1;
    for (size_t i = 0; i < byte_offset && i < c->len; i++)
        chars += !is_utf8_continuation(c->text[i]);
    return chars;
}

/* Every parse error: "<context>: <what> at character N". */
__attribute__((format(printf, 3, 4)))
static cairn_status fail_at(const cursor *c, size_t byte_offset, const char *fmt, ...)
{
    char what[sizeof c->err->message];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    return error_set(c->err, CAIRN_INVALID_PARAMETER_VALUE, "%s: %s at character %zu",
                     c->context, what, char_position(c, byte_offset));
}

static cairn_status out_of_memory(const cursor *c)
{
    return error_set(c->err, CAIRN_OUT_OF_MEMORY, "%s: out of memory", c->context);
}

/* ---- lexer: quoted text ------------------------------------------------ */

/* Finds the closing quote of the text opening at c->pos; a doubled quote
 * stands for itself, as in SQL ('it''s'). Returns the unescaped length, or
 * SIZE_MAX when the input ends first. */
static size_t quoted_extent(const cursor *c, size_t *close)
{
    char quote = c->text[c->pos];
    size_t unescaped = 0;
    for (size_t i = c->pos + 1; i < c->len; i++, unescaped++) {
        if (c->text[i] != quote)
            continue;
        if (i + 1 < c->len && c->text[i + 1] == quote) {
            i++; /* the pair is one literal quote */
            continue;
        }
        *close = i;
        return unescaped;
    }
    return SIZE_MAX;
}

/* Lexes a quoted key or value into a new NUL-terminated string. */
static cairn_status lex_quoted(cursor *c, const char *what, char **out, size_t *out_len)
{
    size_t close = 0;
    size_t len = quoted_extent(c, &close);
    if (len == SIZE_MAX)
        return fail_at(c, c->pos, "unterminated %s (no closing %c)", what, c->text[c->pos]);
    char *s = malloc(len + 1);
    if (!s)
        return out_of_memory(c);
    char quote = c->text[c->pos];
    size_t n = 0;
    for (size_t i = c->pos + 1; i < close; i++) {
        s[n++] = c->text[i];
        if (c->text[i] == quote)
            i++; /* skip the second quote of a pair */
    }
    s[n] = '\0';
    c->pos = close + 1;
    *out = s;
    *out_len = n;
    return CAIRN_OK;
}

/* ---- lexer: <entity>.<key> --------------------------------------------- */

/* MLflow's spellings (search_utils.py), so that filters copied from MLflow work. */
static const struct {
    const char *name;
    filter_entity entity;
} entity_names[] = {
    {"metrics", FILTER_METRIC},       {"metric", FILTER_METRIC},
    {"params", FILTER_PARAM},         {"param", FILTER_PARAM},
    {"parameters", FILTER_PARAM},     {"parameter", FILTER_PARAM},
    {"tags", FILTER_TAG},             {"tag", FILTER_TAG},
    {"attributes", FILTER_ATTRIBUTE}, {"attribute", FILTER_ATTRIBUTE},
    {"attr", FILTER_ATTRIBUTE},       {"run", FILTER_ATTRIBUTE},
};

/* "run name" and "created" are the names MLflow's UI shows for these columns,
 * and MLflow accepts them in filters too. */
static const struct {
    const char *name;
    filter_attribute attribute;
} attribute_names[] = {
    {"run_id", ATTR_RUN_ID},         {"run_name", ATTR_RUN_NAME}, {"run name", ATTR_RUN_NAME},
    {"status", ATTR_STATUS},         {"start_time", ATTR_START_TIME},
    {"created", ATTR_START_TIME},    {"end_time", ATTR_END_TIME},
};

static const char *attribute_canonical_name(filter_attribute attribute)
{
    switch (attribute) {
    case ATTR_RUN_ID: return "run_id";
    case ATTR_RUN_NAME: return "run_name";
    case ATTR_STATUS: return "status";
    case ATTR_START_TIME: return "start_time";
    case ATTR_END_TIME: return "end_time";
    case ATTR_NONE: break;
    }
    return "";
}

typedef struct field {
    filter_entity entity;
    filter_attribute attribute;
    char *key;    /* owned; for attributes, the canonical attribute name */
    size_t start; /* byte span of the field as written, quoted in messages */
    size_t end;
} field;

/* The two "%.*s" arguments that quote a field as the user wrote it, so the
 * message shows `my metric` in the user's own quoting. */
#define FIELD_TEXT(c, f) quote_len((c)->text + (f)->start, (f)->end - (f)->start), \
                         (c)->text + (f)->start

static cairn_status lex_entity(cursor *c, filter_entity *entity)
{
    size_t start = c->pos;
    while (!at_end(c) && (is_alpha(peek(c)) || peek(c) == '_'))
        c->pos++;
    size_t len = c->pos - start;
    if (len == 0 || peek(c) != '.') {
        for (size_t i = 0; len > 0 && i < sizeof entity_names / sizeof *entity_names; i++)
            if (span_equals_word(c->text + start, len, entity_names[i].name))
                return fail_at(c, c->pos, "expected '.' after '%.*s'", (int)len, c->text + start);
        return fail_at(c, start, "expected '<entity>.<key>' such as metrics.auc");
    }
    for (size_t i = 0; i < sizeof entity_names / sizeof *entity_names; i++) {
        if (span_equals_word(c->text + start, len, entity_names[i].name)) {
            *entity = entity_names[i].entity;
            c->pos++; /* the dot */
            return CAIRN_OK;
        }
    }
    return fail_at(c, start, "unknown entity '%.*s' (use metrics, params, tags or attributes)",
                   quote_len(c->text + start, len), c->text + start);
}

/* An unquoted key runs over [A-Za-z0-9_-./:]; anything else except a
 * comparator or a space means the key needed quotes, which we say, rather
 * than let the comparator check report a confusing half key. */
static cairn_status lex_unquoted_key(cursor *c, size_t field_start, char **key)
{
    size_t start = c->pos;
    while (!at_end(c) && is_key_char(peek(c)))
        c->pos++;
    const char *field_text = c->text + field_start;
    if (c->pos == start)
        return fail_at(c, start, "expected a key after '%.*s'",
                       quote_len(field_text, start - field_start), field_text);
    if (!at_end(c) && !is_space(peek(c)) && !is_operator_char(peek(c)))
        return fail_at(c, c->pos, "unexpected character in key '%.*s' (quote such keys in "
                       "backticks)", quote_len(field_text, c->pos - field_start), field_text);
    *key = strndup(c->text + start, c->pos - start);
    return *key ? CAIRN_OK : out_of_memory(c);
}

static cairn_status lex_key(cursor *c, size_t field_start, char **key)
{
    if (peek(c) != '`' && peek(c) != '"')
        return lex_unquoted_key(c, field_start, key);
    size_t open = c->pos;
    size_t len = 0;
    cairn_status st = lex_quoted(c, "quoted key", key, &len);
    if (st == CAIRN_OK && len == 0) {
        free(*key);
        *key = NULL;
        return fail_at(c, open, "empty key after '%.*s'",
                       quote_len(c->text + field_start, open - field_start), c->text + field_start);
    }
    return st;
}

/* Attributes are a closed set: replace the key by its canonical name. */
static cairn_status resolve_attribute(cursor *c, field *f)
{
    for (size_t i = 0; i < sizeof attribute_names / sizeof *attribute_names; i++) {
        if (span_equals_word(f->key, strlen(f->key), attribute_names[i].name)) {
            f->attribute = attribute_names[i].attribute;
            free(f->key);
            f->key = strdup(attribute_canonical_name(f->attribute));
            return f->key ? CAIRN_OK : out_of_memory(c);
        }
    }
    cairn_status st = fail_at(c, f->start, "unknown attribute '%.*s' (use run_id, run_name, "
                              "status, start_time or end_time)", FIELD_TEXT(c, f));
    free(f->key);
    f->key = NULL;
    return st;
}

/* The one lexer for "<entity>.<key>", shared by filters and order_by. */
static cairn_status lex_field(cursor *c, field *f)
{
    *f = (field){.start = c->pos, .attribute = ATTR_NONE};
    cairn_status st = lex_entity(c, &f->entity);
    if (st == CAIRN_OK)
        st = lex_key(c, f->start, &f->key);
    if (st != CAIRN_OK)
        return st;
    f->end = c->pos;
    return f->entity == FILTER_ATTRIBUTE ? resolve_attribute(c, f) : CAIRN_OK;
}

static bool field_is_numeric(const field *f)
{
    return f->entity == FILTER_METRIC || f->attribute == ATTR_START_TIME ||
           f->attribute == ATTR_END_TIME;
}

/* ---- filter: comparator and value -------------------------------------- */

static const struct {
    const char *text;
    filter_op op;
} comparators[] = {
    /* two-character forms first, so "<=" is not read as "<" then "=" */
    {"<=", OP_LE}, {">=", OP_GE}, {"!=", OP_NE}, {"<", OP_LT}, {">", OP_GT}, {"=", OP_EQ},
};

static bool take_comparator(cursor *c, filter_op *op)
{
    for (size_t i = 0; i < sizeof comparators / sizeof *comparators; i++) {
        size_t n = strlen(comparators[i].text);
        if (c->len - c->pos >= n && memcmp(c->text + c->pos, comparators[i].text, n) == 0) {
            c->pos += n;
            *op = comparators[i].op;
            return true;
        }
    }
    bool ilike = take_keyword(c, "ilike");
    if (!ilike && !take_keyword(c, "like"))
        return false;
    *op = ilike ? OP_ILIKE : OP_LIKE;
    return true;
}

static cairn_status lex_comparator(cursor *c, const field *f, filter_op *op)
{
    size_t start = c->pos;
    if (!take_comparator(c, op))
        return fail_at(c, start, "expected a comparator after '%.*s'", FIELD_TEXT(c, f));
    bool string_op = *op == OP_LIKE || *op == OP_ILIKE;
    bool numeric_op = *op != OP_EQ && *op != OP_NE && !string_op;
    if (field_is_numeric(f) && string_op)
        return fail_at(c, start, "%.*s does not apply to '%.*s', which is a number "
                       "(use = != < <= > >=)", (int)(c->pos - start), c->text + start,
                       FIELD_TEXT(c, f));
    if (!field_is_numeric(f) && numeric_op)
        return fail_at(c, start, "%.*s does not apply to '%.*s', which is a string "
                       "(use = != LIKE ILIKE)", (int)(c->pos - start), c->text + start,
                       FIELD_TEXT(c, f));
    return CAIRN_OK;
}

/* Scans [+-]?(digits[.digits]|.digits)([eE][+-]?digits)? and returns the
 * byte length, 0 if the text there is no number. Hand-written because strtod
 * alone would also take "inf", "nan", hex and leading spaces. */
static size_t number_length(const cursor *c)
{
    const char *s = c->text + c->pos;
    size_t n = c->len - c->pos, i = 0, digits = 0;
    if (i < n && (s[i] == '+' || s[i] == '-'))
        i++;
    for (; i < n && is_digit(s[i]); i++)
        digits++;
    if (i < n && s[i] == '.')
        for (i++; i < n && is_digit(s[i]); i++)
            digits++;
    if (digits == 0)
        return 0;
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        size_t j = i + 1;
        if (j < n && (s[j] == '+' || s[j] == '-'))
            j++;
        if (j < n && is_digit(s[j]))
            for (i = j; i < n && is_digit(s[i]); i++) {}
    }
    return i;
}

/* A number must end at a word boundary: "0.8x", "1e" or "1.2.3" are typos,
 * not a number followed by something else. */
static cairn_status lex_number(cursor *c, const field *f, double *value)
{
    size_t start = c->pos;
    size_t n = number_length(c);
    if (n == 0)
        return fail_at(c, start, "expected a number after '%.*s'", FIELD_TEXT(c, f));
    char next = start + n < c->len ? c->text[start + n] : '\0';
    char *end = NULL;
    /* text is NUL-terminated and the scan above stopped where strtod stops,
     * so strtod reads nothing past the number (end re-checks it). */
    *value = strtod(c->text + start, &end);
    if (is_word_char(next) || next == '.' || end != c->text + start + n)
        return fail_at(c, start, "malformed number for '%.*s'", FIELD_TEXT(c, f));
    c->pos = start + n;
    return CAIRN_OK;
}

static bool at_quote(const cursor *c) { return peek(c) == '\'' || peek(c) == '"'; }

static cairn_status lex_value(cursor *c, const field *f, filter_clause *clause)
{
    if (field_is_numeric(f)) {
        if (at_quote(c))
            return fail_at(c, c->pos, "expected a number for '%.*s', found a quoted string",
                           FIELD_TEXT(c, f));
        clause->is_number = true;
        return lex_number(c, f, &clause->number);
    }
    if (!at_quote(c)) {
        /* MLflow requires quotes here too: a bare 5 would be ambiguous with "5.0" */
        return fail_at(c, c->pos, "expected a quoted string for '%.*s' (quote values of params, "
                       "tags and string attributes: 'text')", FIELD_TEXT(c, f));
    }
    return lex_quoted(c, "string", &clause->string, &clause->string_len);
}

/* ---- filter: clauses --------------------------------------------------- */

static void clause_free(filter_clause *clause)
{
    free(clause->key);
    free(clause->string);
    *clause = (filter_clause){0};
}

static cairn_status parse_clause(cursor *c, filter_clause *clause)
{
    *clause = (filter_clause){0};
    field f;
    cairn_status st = lex_field(c, &f);
    if (st != CAIRN_OK)
        return st;
    clause->entity = f.entity;
    clause->attribute = f.attribute;
    clause->key = f.key;
    skip_space(c);
    st = lex_comparator(c, &f, &clause->op);
    if (st == CAIRN_OK) {
        skip_space(c);
        st = lex_value(c, &f, clause);
    }
    if (st != CAIRN_OK)
        clause_free(clause);
    return st;
}

static cairn_status append_clause(cursor *c, filter *out, filter_clause *clause)
{
    /* grow by doubling: a count of 1, 2, 4... needs no separate capacity field */
    size_t n = out->count;
    if ((n & (n - 1)) == 0) {
        size_t capacity = n ? n * 2 : 1;
        filter_clause *grown = realloc(out->clauses, capacity * sizeof *grown);
        if (!grown) {
            clause_free(clause);
            return out_of_memory(c);
        }
        out->clauses = grown;
    }
    out->clauses[out->count++] = *clause;
    return CAIRN_OK;
}

static cairn_status expect_and(cursor *c)
{
    if (take_keyword(c, "and"))
        return CAIRN_OK;
    if (take_keyword(c, "or"))
        return fail_at(c, c->pos - 2, "'or' is not supported (clauses join with 'and' only)");
    return fail_at(c, c->pos, "expected 'and' or the end of the filter");
}

static cairn_status parse_clauses(cursor *c, filter *out)
{
    for (;;) {
        filter_clause clause;
        cairn_status st = parse_clause(c, &clause);
        if (st == CAIRN_OK)
            st = append_clause(c, out, &clause);
        if (st != CAIRN_OK)
            return st;
        skip_space(c);
        if (at_end(c))
            return CAIRN_OK;
        if ((st = expect_and(c)) != CAIRN_OK)
            return st;
        skip_space(c);
    }
}

cairn_status filter_parse(const char *text, filter *out, cairn_error *err)
{
    *out = (filter){0};
    if (!text)
        return CAIRN_OK;
    cursor c = cursor_start(text, "filter", err);
    skip_space(&c);
    if (at_end(&c))
        return CAIRN_OK;
    cairn_status st = parse_clauses(&c, out);
    if (st != CAIRN_OK)
        filter_free(out);
    return st;
}

void filter_free(filter *f)
{
    if (!f)
        return;
    for (size_t i = 0; i < f->count; i++)
        clause_free(&f->clauses[i]);
    free(f->clauses);
    *f = (filter){0};
}

/* ---- order_by ---------------------------------------------------------- */

cairn_status order_parse(const char *text, order_item *out, cairn_error *err)
{
    *out = (order_item){0};
    cursor c = cursor_start(text ? text : "", "order_by", err);
    skip_space(&c);
    field f;
    cairn_status st = lex_field(&c, &f);
    if (st != CAIRN_OK)
        return st;
    size_t item_end = c.pos; /* quoted in messages: the item up to its last word */
    skip_space(&c);
    bool descending = take_keyword(&c, "desc");
    if (descending || take_keyword(&c, "asc"))
        item_end = c.pos;
    skip_space(&c);
    if (!at_end(&c)) {
        free(f.key);
        return fail_at(&c, c.pos, "expected ASC, DESC or the end after '%.*s'",
                       quote_len(c.text + f.start, item_end - f.start), c.text + f.start);
    }
    *out = (order_item){.entity = f.entity, .attribute = f.attribute, .key = f.key,
                        .descending = descending};
    return CAIRN_OK;
}

void order_item_free(order_item *item)
{
    if (!item)
        return;
    free(item->key);
    *item = (order_item){0};
}

/* ---- matching ---------------------------------------------------------- */

/* Bytes in the UTF-8 character at s: the lead byte's length, counting only
 * continuation bytes actually present, so broken UTF-8 still advances by at
 * least one byte and never past len. */
static size_t utf8_char_len(const char *s, size_t len)
{
    unsigned char lead = (unsigned char)s[0];
    size_t want = lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : lead >= 0xC0 ? 2 : 1;
    size_t n = 1;
    while (n < want && n < len && is_utf8_continuation(s[n]))
        n++;
    return n;
}

static bool bytes_equal(char a, char b, bool case_insensitive)
{
    return case_insensitive ? ascii_lower(a) == ascii_lower(b) : a == b;
}

/* Greedy matching with one restart point (the latest '%'): on a mismatch the
 * latest '%' swallows one more character and matching resumes after it.
 * Earlier '%'s never need revisiting, so the worst case is O(n * m) rather
 * than the exponential cost of naive recursion on '%a%a%a%b'. The restart
 * advances by whole characters so '_' never starts inside a UTF-8 sequence. */
bool like_match(const char *pattern, size_t pattern_len, const char *s, size_t len,
                bool case_insensitive)
{
    return like_match_counted(pattern, pattern_len, s, len, case_insensitive, NULL);
}

bool like_match_counted(const char *pattern, size_t pattern_len, const char *s, size_t len,
                        bool case_insensitive, uint64_t *work)
{
    size_t p = 0, i = 0;
    size_t star_p = SIZE_MAX, star_i = 0;
    uint64_t steps = 0;
    while (i < len) {
        steps++;
        if (p < pattern_len && pattern[p] == '%') {
            star_p = ++p;
            star_i = i;
        } else if (p < pattern_len && pattern[p] == '_') {
            p++;
            i += utf8_char_len(s + i, len - i);
        } else if (p < pattern_len && bytes_equal(pattern[p], s[i], case_insensitive)) {
            p++;
            i++;
        } else if (star_p != SIZE_MAX) {
            star_i += utf8_char_len(s + star_i, len - star_i);
            p = star_p;
            i = star_i;
        } else {
            break;
        }
    }
    if (work)
        *work += steps;
    if (i < len)
        return false;
    while (p < pattern_len && pattern[p] == '%')
        p++;
    return p == pattern_len;
}

static bool compare_numbers(filter_op op, double value, double operand)
{
    /* C's comparisons already give MLflow's NaN rule: only != holds */
    switch (op) {
    case OP_EQ: return value == operand;
    case OP_NE: return value != operand;
    case OP_LT: return value < operand;
    case OP_LE: return value <= operand;
    case OP_GT: return value > operand;
    case OP_GE: return value >= operand;
    case OP_LIKE:
    case OP_ILIKE: break;
    }
    return false;
}

static bool compare_strings(const filter_clause *clause, const char *value, size_t len,
                            uint64_t *like_work)
{
    bool equal = len == clause->string_len && memcmp(value, clause->string, len) == 0;
    switch (clause->op) {
    case OP_EQ: return equal;
    case OP_NE: return !equal;
    case OP_LIKE:
    case OP_ILIKE:
        return like_match_counted(clause->string, clause->string_len, value, len,
                                  clause->op == OP_ILIKE, like_work);
    default: return false;
    }
}

/* A NULL string in the view means the run has no such value: no match. */
static bool compare_view_string(const filter_clause *clause, const filter_run_view *run,
                                const char *value, size_t len)
{
    return value && compare_strings(clause, value, len, run->like_work);
}

static bool attribute_matches(const filter_clause *clause, const filter_run_view *run)
{
    switch (clause->attribute) {
    case ATTR_RUN_ID:
        /* strnlen: the id is 26 characters but need not be NUL-terminated */
        return compare_view_string(clause, run, run->run_id,
                                   run->run_id ? strnlen(run->run_id, 26) : 0);
    case ATTR_RUN_NAME:
        return compare_view_string(clause, run, run->run_name, run->run_name_len);
    case ATTR_STATUS:
        return compare_view_string(clause, run, run->status, run->status ? strlen(run->status) : 0);
    case ATTR_START_TIME:
        return compare_numbers(clause->op, (double)run->start_time, clause->number);
    case ATTR_END_TIME:
        return run->has_end_time &&
               compare_numbers(clause->op, (double)run->end_time, clause->number);
    case ATTR_NONE: break;
    }
    return false;
}

static bool clause_matches(const filter_clause *clause, const filter_run_view *run)
{
    double number;
    const char *value;
    size_t len;
    switch (clause->entity) {
    case FILTER_METRIC:
        return run->metric && run->metric(run->ctx, clause->key, &number) &&
               compare_numbers(clause->op, number, clause->number);
    case FILTER_PARAM:
        return run->param && run->param(run->ctx, clause->key, &value, &len) &&
               compare_view_string(clause, run, value, len);
    case FILTER_TAG:
        return run->tag && run->tag(run->ctx, clause->key, &value, &len) &&
               compare_view_string(clause, run, value, len);
    case FILTER_ATTRIBUTE:
        return attribute_matches(clause, run);
    }
    return false;
}

bool filter_match(const filter *f, const filter_run_view *run)
{
    if (!f)
        return true;
    for (size_t i = 0; i < f->count; i++)
        if (!clause_matches(&f->clauses[i], run))
            return false;
    return true;
}
