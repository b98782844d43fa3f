/*
 * What the model registry's handlers share: reading and checking the names a
 * request gives (model, alias, reason), resolving a version reference, and
 * the two changes that make history, a stage move and an alias move, each
 * written with its event.
 */
#ifndef CAIRN_MODEL_OPS_H
#define CAIRN_MODEL_OPS_H

#include "handlers.h"
#include "store_models.h"

/* A model name: 1 to 250 bytes, no control characters, no '@' or '/' (so
 * that "NAME@ALIAS", "NAME/STAGE" and "NAME/VERSION" read one way). */
cairn_status model_check_name(msg_str name, cairn_error *err);
/* An alias: 1 to 64 of letters, digits, '_', '-', '.'. */
cairn_status model_check_alias(msg_str alias, cairn_error *err);

/* The body's `name`, checked. */
cairn_status model_read_name(request_ctx *r, msg_str *name, cairn_error *err);
/* The model the body's `name` names. */
cairn_status model_read(request_ctx *r, store_model *m, cairn_error *err);
/* The body's optional `reason` ("" when absent): UTF-8, no control characters. */
cairn_status model_read_reason(request_ctx *r, msg_str *reason, cairn_error *err);
/* The body's `version` (required): 1 to 2^32-1. */
cairn_status model_read_version(request_ctx *r, const char *key, bool required, uint32_t *out,
                                cairn_error *err);
/* The body's stage field `key`, parsed (any letter case). */
cairn_status model_read_stage(request_ctx *r, const char *key, model_stage *out, cairn_error *err);

/* The version the body selects: exactly one of `version` (a number), `alias`
 * (the version it points at) or `stage` (the highest version in it). */
cairn_status model_resolve(request_ctx *r, const store_model *m, store_model_version *v,
                           cairn_error *err);

/* A change's event, filled with what every event of this request shares. */
store_model_event model_event(request_ctx *r, model_event_kind kind, msg_str reason);

/* Moves version to stage and appends its event (e: from model_event, with
 * rollback and undoes set by the caller). The version is read afresh: an
 * earlier write in this transaction may have moved the record. */
cairn_status model_move_stage(request_ctx *r, const store_model *m, uint32_t version,
                              model_stage stage, store_model_event *e, cairn_error *err);
/* Points alias at `to` (0: removes it), which it did at `from`, and appends
 * the event. */
cairn_status model_move_alias(request_ctx *r, const store_model *m, msg_str alias, uint32_t from,
                              uint32_t to, store_model_event *e, cairn_error *err);
/* Marks the model changed now (its record written last: m's strings point
 * into it). */
cairn_status model_touch(request_ctx *r, store_model *m, cairn_error *err);

/* The versions in stage, highest first, into r's scratch buffer. */
cairn_status model_stage_members(request_ctx *r, const store_model *m, model_stage stage,
                                 uint32_t **out, size_t *n, cairn_error *err);

/* `"name"` for summaries and logs (quoted, cut to fit). */
const char *model_quote(char buf[80], msg_str s);

#endif
