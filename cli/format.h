/* How values read in human output (tables): times as UTC ISO-8601, metric
 * values in the shortest form that reads back to the same double. */
#ifndef CAIRN_CLI_FORMAT_H
#define CAIRN_CLI_FORMAT_H

#include <stddef.h>
#include <stdint.h>

#include "cairn/client.h"

#define FMT_TIME_LEN 32
#define FMT_NUM_LEN 40

/* "2024-05-01T12:34:56Z"; "-" for 0 (no time). */
const char *fmt_time(int64_t unix_ms, char buf[FMT_TIME_LEN]);

/* "k1=v1, k2=v2" for a table cell (tags, labels); malloc'd, NULL when out of
 * memory. */
char *fmt_kv_list(const cairn_kv *kv, size_t n);

/* "2024-05-01T12:34:56.789Z"; "-" for 0. */
const char *fmt_time_ms(int64_t unix_ms, char buf[FMT_TIME_LEN]);

/* "0.1", "1e-07", "NaN", "Infinity", "-Infinity". */
const char *fmt_double(double v, char buf[FMT_NUM_LEN]);

/* "1.5 KiB", "3.0 MiB"; plain bytes below 1 KiB ("512 B"). */
const char *fmt_size(uint64_t bytes, char buf[FMT_NUM_LEN]);

/* The last 8 characters of an agent id, its random part (the first ten are
 * the time it was made, shared by agents set up together); "-" for none. */
const char *fmt_agent_short(const char *id);

#endif
