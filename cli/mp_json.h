/*
 * Replies the CLI shows without a libcairn struct of their own (events'
 * fields, agents' replies to fanned-out commands) hold any msgpack. Here they
 * become JSON (docs/cli.md, "JSON output", lists the conversions) and the
 * compact KEY=VALUE cells of tables.
 */
#ifndef CAIRN_CLI_MP_JSON_H
#define CAIRN_CLI_MP_JSON_H

#include <jansson.h>
#include <msgpack.h>

/* Any msgpack value as JSON: nil null, booleans, integers (above 2^63-1:
 * 2^63-1), floats (NaN and infinities as the strings "NaN", "Infinity",
 * "-Infinity"), strings (bytes that are not UTF-8 as U+FFFD), bin and ext as
 * lowercase hex strings, arrays, maps (a key that is not a string as its JSON
 * text). NULL when out of memory. */
json_t *mp_to_json(const msgpack_object *o);

/* A C string as JSON (NULL: null), bytes that are not UTF-8 as U+FFFD: a
 * local file name in Latin-1 must not make a key vanish from the output. */
json_t *json_str(const char *s);

/* Sets key of obj to value (consumed); false when either is NULL. */
bool json_put(json_t *obj, const char *key, json_t *value);

/* The document's text, indented by two, with every real in the fewest digits
 * (15 to 17, one count for the document) that read back exactly. Releases
 * root; NULL when out of memory. */
char *json_text(json_t *root);

/* "k=v k=v" of an object's members for a table cell: strings bare, numbers
 * in their shortest form, anything else as compact JSON. malloc'd; NULL when
 * out of memory. */
char *json_kv_cell(const json_t *obj);

#endif
