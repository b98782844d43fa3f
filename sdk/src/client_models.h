/* The model registry's reply decoders (client_models_decode.c), for the
 * requests in client_models.c. Each fills *out (zeroed first) or, on
 * failure, leaves it empty having freed what it made. */
#ifndef CAIRN_CLIENT_MODELS_H
#define CAIRN_CLIENT_MODELS_H

#include <msgpack.h>

#include "cairn/client.h"

cairn_status decode_model_version(const msgpack_object *o, cairn_model_version *out,
                                  cairn_error *err);
/* Frees what a version holds, not the struct. */
void model_version_clear(cairn_model_version *v);
cairn_status decode_model_versions(const msgpack_object *body, cairn_model_version_list *out,
                                   cairn_error *err);
cairn_status decode_model(const msgpack_object *o, cairn_model *out, cairn_error *err);
cairn_status decode_models(const msgpack_object *body, cairn_model_list *out, cairn_error *err);
cairn_status decode_model_events(const msgpack_object *body, cairn_model_event_list *out,
                                 cairn_error *err);
cairn_status decode_lineage(const msgpack_object *body, cairn_lineage *out, cairn_error *err);

#endif
