#include "table.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <wchar.h>

#include "utf8.h"

#define ELLIPSIS "\xe2\x80\xa6"

struct table {
    size_t ncols;
    char ***rows;
    size_t n_rows;
    size_t cap_rows;
    bool *right;
    size_t *max_width; /* 0: no limit */
};

table *table_new(size_t ncols)
{
    table *t = calloc(1, sizeof *t);
    if (!t)
        return NULL;
    t->ncols = ncols;
    t->right = calloc(ncols ? ncols : 1, sizeof *t->right);
    t->max_width = calloc(ncols ? ncols : 1, sizeof *t->max_width);
    if (!t->right || !t->max_width) {
        table_free(t);
        return NULL;
    }
    return t;
}

static void free_row(char **row, size_t ncols)
{
    for (size_t c = 0; row && c < ncols; c++)
        free(row[c]);
    free(row);
}

void table_free(table *t)
{
    if (!t)
        return;
    for (size_t r = 0; r < t->n_rows; r++)
        free_row(t->rows[r], t->ncols);
    free(t->rows);
    free(t->right);
    free(t->max_width);
    free(t);
}

/* The character at s: its display columns (wide East Asian characters 2,
 * combining marks 0, by wcwidth under the UTF-8 LC_CTYPE main sets) and its
 * length in *len. A byte that starts no UTF-8 sequence is one column. */
static int char_width(const char *s, size_t *len)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t n = utf8_seq(p, strnlen(s, 4));
    *len = n ? n : 1;
    if (n <= 1)
        return 1;
    uint32_t cp = p[0] & (0x7f >> n);
    for (size_t i = 1; i < n; i++)
        cp = (cp << 6) | (p[i] & 0x3f);
    int w = wcwidth((wchar_t)cp);
    return w < 0 ? 1 : w;
}

size_t text_width(const char *s)
{
    size_t w = 0, len;
    for (; *s; s += len)
        w += (size_t)char_width(s, &len);
    return w;
}

/* Byte length of the longest start of s that fits in `cols` columns, with
 * the combining marks of its last character. */
static size_t prefix_bytes(const char *s, size_t cols)
{
    size_t i = 0, used = 0, len;
    while (s[i]) {
        size_t w = (size_t)char_width(s + i, &len);
        if (used + w > cols)
            break;
        used += w;
        i += len;
    }
    return i;
}

static char *cell_copy(const char *s, size_t max_width)
{
    if (!s)
        s = "";
    bool cut = max_width && text_width(s) > max_width;
    size_t n = cut ? prefix_bytes(s, max_width - 1) : strlen(s);
    char *copy = malloc(n + sizeof ELLIPSIS);
    if (!copy)
        return NULL;
    memcpy(copy, s, n);
    strcpy(copy + n, cut ? ELLIPSIS : "");
    text_blank_controls(copy);
    return copy;
}

void text_blank_controls(char *s)
{
    unsigned char *in = (unsigned char *)s, *out = in;
    while (*in) {
        bool c1 = in[0] == 0xc2 && in[1] >= 0x80 && in[1] <= 0x9f; /* U+0080-U+009F */
        *out++ = c1 || *in < 0x20 || *in == 0x7f ? ' ' : *in;
        in += c1 ? 2 : 1;
    }
    *out = '\0';
}

char *text_blank_copy(const char *s)
{
    char *copy = strdup(s);
    if (copy)
        text_blank_controls(copy);
    return copy;
}

static bool grow(table *t)
{
    if (t->n_rows < t->cap_rows)
        return true;
    size_t cap = t->cap_rows ? t->cap_rows * 2 : 16;
    char ***rows = realloc(t->rows, cap * sizeof *rows);
    if (!rows)
        return false;
    t->rows = rows;
    t->cap_rows = cap;
    return true;
}

bool table_add(table *t, const char *const *cells)
{
    if (!grow(t))
        return false;
    char **row = calloc(t->ncols ? t->ncols : 1, sizeof *row);
    for (size_t c = 0; row && c < t->ncols; c++) {
        row[c] = cell_copy(cells[c], t->max_width[c]);
        if (!row[c]) {
            free_row(row, t->ncols);
            return false;
        }
    }
    if (!row)
        return false;
    t->rows[t->n_rows++] = row;
    return true;
}

void table_align_right(table *t, size_t col)
{
    if (col < t->ncols)
        t->right[col] = true;
}

void table_max_width(table *t, size_t col, size_t width)
{
    if (col < t->ncols)
        t->max_width[col] = width > 1 ? width : 1;
}

static void pad(FILE *out, size_t n)
{
    while (n--)
        fputc(' ', out);
}

/* Spaces are held back until text follows them, so no line ends in blanks. */
static void print_row(const table *t, char **row, const size_t *widths, FILE *out,
                      const char *indent)
{
    size_t pending = 0;
    fputs(indent ? indent : "", out);
    for (size_t c = 0; c < t->ncols; c++) {
        size_t gap = widths[c] - text_width(row[c]);
        pending += (c ? 2 : 0) + (t->right[c] ? gap : 0);
        if (row[c][0]) {
            pad(out, pending);
            fputs(row[c], out);
            pending = 0;
        }
        pending += t->right[c] ? 0 : gap;
    }
    fputc('\n', out);
}

void table_print(const table *t, FILE *out, const char *indent)
{
    size_t *widths = calloc(t->ncols ? t->ncols : 1, sizeof *widths);
    if (!widths)
        return;
    for (size_t r = 0; r < t->n_rows; r++)
        for (size_t c = 0; c < t->ncols; c++) {
            size_t w = text_width(t->rows[r][c]);
            if (w > widths[c])
                widths[c] = w;
        }
    for (size_t r = 0; r < t->n_rows; r++)
        print_row(t, t->rows[r], widths, out, indent);
    free(widths);
}

bool table_print_section(table *t, bool ok, const char *title)
{
    if (ok && t) {
        if (title)
            printf("\n%s:\n", title);
        table_print(t, stdout, title ? "  " : NULL);
    }
    table_free(t);
    return ok && t;
}
