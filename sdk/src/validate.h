/*
 * The rules a value must keep before it is written: MLflow's limits and key
 * alphabet. Each check returns CAIRN_OK, or CAIRN_LIMIT_EXCEEDED naming the
 * limit, or CAIRN_INVALID_PARAMETER_VALUE. The coordinator applies them to
 * what it stores; the tracker applies the same ones before it queues, so a
 * write that would be refused is reported to its caller even when it goes
 * through an agent, which acknowledges before the coordinator sees it.
 */
#ifndef CAIRN_VALIDATE_H
#define CAIRN_VALIDATE_H

#include "msg.h"

/* Limits, as MLflow's, in bytes. */
#define LIMIT_KEY 250
#define LIMIT_PARAM_VALUE 6000
#define LIMIT_TAG_VALUE 8000
#define LIMIT_NAME 250

/* what: "param", "metric" or "tag", for the message. */
cairn_status validate_key(const char *what, msg_str key, cairn_error *err);
cairn_status validate_value(const char *what, msg_str value, size_t limit, cairn_error *err);
cairn_status validate_name(const char *what, msg_str name, bool required, cairn_error *err);
/* Text an agent announces (host, version, label values): at most limit bytes
 * of UTF-8 without control characters, so it prints and logs as it is. */
cairn_status validate_text(const char *what, msg_str s, size_t limit, cairn_error *err);

/* A dotted name (event type, command): 1 to max of a-z, 0-9, '.', '_', '-'. */
bool validate_token(msg_str s, size_t max);

/* The use a run made of a dataset version ("training", "validation"): a
 * token of at most LIMIT_DATASET_CONTEXT bytes. */
#define LIMIT_DATASET_CONTEXT 64
cairn_status validate_dataset_context(msg_str context, cairn_error *err);

#endif
