/*
 * The rules a value must keep before it is written: MLflow's limits and key
 * alphabet, artifact path shape. Each check returns CAIRN_OK, or
 * CAIRN_LIMIT_EXCEEDED naming the limit, or CAIRN_INVALID_PARAMETER_VALUE.
 */
#ifndef CAIRN_VALIDATE_H
#define CAIRN_VALIDATE_H

#include "msg.h"

/* what: "param", "metric" or "tag", for the message. */
cairn_status validate_key(const char *what, msg_str key, cairn_error *err);
cairn_status validate_value(const char *what, msg_str value, size_t limit, cairn_error *err);
cairn_status validate_name(const char *what, msg_str name, bool required, cairn_error *err);
/* Text an agent announces (host, version, label values): at most limit bytes
 * of UTF-8 without control characters, so it prints and logs as it is. */
cairn_status validate_text(const char *what, msg_str s, size_t limit, cairn_error *err);

/* A dotted name (event type, command): 1 to max of a-z, 0-9, '.', '_', '-'. */
bool validate_token(msg_str s, size_t max);

#endif
