/*
 * Aligned text tables for human output: columns as wide as their widest cell
 * (in characters, not bytes), two spaces apart, no trailing blanks. Cells are
 * copied; control characters in them print as spaces so a value holding a
 * newline cannot break the layout, nor one holding an escape drive the
 * terminal.
 */
#ifndef CAIRN_CLI_TABLE_H
#define CAIRN_CLI_TABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

typedef struct table table;

table *table_new(size_t ncols);
void table_free(table *t);

/* Appends a row of ncols cells (NULL prints as empty). False when out of memory. */
bool table_add(table *t, const char *const *cells);

/* Right-aligns a column (numbers). */
void table_align_right(table *t, size_t col);

/* Cuts the column's cells to at most width characters, ending them with "…". */
void table_max_width(table *t, size_t col, size_t width);

/* Prints every row, each line starting with indent (may be NULL). */
void table_print(const table *t, FILE *out, const char *indent);
/* Prints t on stdout (when ok: every row made it in) under an optional
 * "\nTITLE:" line, indented then, and frees it; false when not printed. */
bool table_print_section(table *t, bool ok, const char *title);

/* Turns s's control characters into spaces, in place: C0 and DEL, and the
 * C1 controls U+0080-U+009F (some terminals take U+009B for an escape
 * sequence's start). What names and values hold is printed, never obeyed. */
void text_blank_controls(char *s);
/* A copy of s with its control characters blanked, to print and free;
 * NULL when out of memory. */
char *text_blank_copy(const char *s);

/* Display width of a UTF-8 string: its number of code points. */
size_t text_width(const char *s);

#endif
