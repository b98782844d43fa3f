/*
 * The building blocks of the --json shapes (json_out.c), for the files that
 * make more of them: strings repaired to UTF-8, integers, keys set in order,
 * arrays built item by item. Each returns NULL (or false) when out of memory,
 * having released what it was given.
 */
#ifndef CAIRN_JSON_OUT_H
#define CAIRN_JSON_OUT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

json_t *json_out_str(const char *s);
json_t *json_out_int(int64_t v);
json_t *json_out_uint(uint64_t v);
/* Sets key in obj (consuming value); false when either is missing. */
bool json_out_put(json_t *obj, const char *key, json_t *value);
/* The array of object(item) for each of n items of size bytes. */
json_t *json_out_array(const void *items, size_t n, size_t size,
                       json_t *(*object)(const void *item));
/* The indented text of j (released), for documents without reals. */
char *json_out_dump(json_t *j);

/* A str -> str object of n pairs, in their order (tags). */
json_t *json_out_kv(const struct cairn_kv *kv, size_t n);
/* A run as `runs show --json` has it. */
json_t *json_out_run(const struct cairn_run *run);
/* The indented text of j (released), whose only reals are the run's metrics. */
char *json_out_dump_run(json_t *j, const struct cairn_run *run);

#endif
