/*
 * Model version references as users write them: "NAME/VERSION", "NAME@ALIAS",
 * "NAME/STAGE". A model name holds neither '@' nor '/' (the coordinator
 * refuses such names), so the first of them ends the name.
 */
#ifndef CAIRN_MODEL_REF_H
#define CAIRN_MODEL_REF_H

#include <msgpack.h>
#include <stdint.h>

#include "cairn/status.h"

typedef struct model_ref {
    char *buf; /* a copy of the reference, split in place */
    const char *name;
    const char *alias; /* exactly one of alias, stage and version is set */
    const char *stage;
    uint64_t version;
} model_ref;

/* CAIRN_INVALID_PARAMETER_VALUE with the expected forms for anything else. */
cairn_status model_ref_parse(const char *text, model_ref *out, cairn_error *err);
void model_ref_free(model_ref *ref);

/* Packs `name` and the selector (`version`, `alias` or `stage`): two body fields. */
void model_ref_pack(msgpack_packer *pk, const model_ref *ref);

#endif
