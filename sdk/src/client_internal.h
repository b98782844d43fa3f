/*
 * What the client_*.c files share: the client object, the one request/reply
 * path every call goes through, and the decoders of reply bodies into the
 * public structs.
 */
#ifndef CAIRN_CLIENT_INTERNAL_H
#define CAIRN_CLIENT_INTERNAL_H

#include <msgpack.h>
#include <stdbool.h>
#include <stdint.h>
#include <zmq.h>

#include "cairn/client.h"
#include "msg.h"
#include "ulid.h"

#define CLIENT_DEFAULT_TIMEOUT_MS 5000
#define CLIENT_DEFAULT_RETRY_MS 1000
#define CLIENT_FROM_MAX 256

/* Replies come from the coordinator we chose to talk to, and a search page
 * may legitimately be larger than the coordinator's request limit: the
 * structural scan in msg_decode still refuses allocation bombs. */
#define CLIENT_REPLY_LIMIT ((size_t)256 << 20)

/* Socket options for a client that streams writes (the tracker's sender). */
typedef struct client_tuning {
    bool immediate; /* ZMQ_IMMEDIATE: queue only to completed connections, so a
                       send during an outage fails instead of piling up copies */
    int sndhwm;     /* ZMQ_SNDHWM, 0: ZeroMQ's default; bounds the resent copies
                       a slow peer can have waiting */
} client_tuning;

struct cairn_client {
    void *zctx;
    void *sock;
    char *endpoint;
    client_tuning tuning; /* kept for client_reconnect */
    char from[CLIENT_FROM_MAX + 1];
    int timeout_ms;
    int retry_ms;
    msg_writer w;        /* the request being built / resent */
    ulid req_id;         /* its id */
    msg_decoder dec;
    zmq_msg_t reply;     /* the last frame received; decoded bodies point into it */
    int interrupt_fd;    /* -1, or a descriptor that, once readable, ends every wait for a
                            reply at once (client_set_interrupt) */
};

/* ---- the request path (client.c) ---- */

/* cairn_client_open with an endpoint already resolved and, when tuning is not
 * NULL, those socket options. */
cairn_client *client_open_tuned(const char *endpoint, const client_tuning *tuning,
                                cairn_error *err);

/* Once fd is readable, a request waiting for its reply returns CAIRN_TIMEOUT
 * at once ("interrupted"), as does every later one: a tracker's close uses it
 * so as not to wait out a reply that a stalled receiver will not send. */
void client_set_interrupt(cairn_client *c, int fd);

/* Replaces the connection with a new one to the same endpoint, with the same
 * options: replies still due to requests sent on the old one are dropped
 * with it, so they cannot be taken for the answer to a later request. The
 * old connection stays when a new one cannot be made (then an error). */
cairn_status client_reconnect(cairn_client *c, cairn_error *err);

/* Starts a request of `type` whose body has exactly body_entries pairs, and
 * returns the packer the caller writes those pairs with. */
msgpack_packer *client_begin(cairn_client *c, const char *type, uint32_t body_entries);

/* Sends the request built since client_begin and waits for its reply,
 * resending the same bytes every retry interval until the timeout. On CAIRN_OK
 * *body is the reply body (a map), valid until the next client_begin. An error
 * reply returns the coordinator's status and message. */
cairn_status client_call(cairn_client *c, const msgpack_object **body, cairn_error *err);

/* Sends a request encoded elsewhere (bytes holding the envelope whose id is
 * `id`) and waits up to timeout_ms (<= 0: the client's timeout) for its reply,
 * resending the same bytes every retry interval. Unlike client_call it returns
 * CAIRN_TRANSPORT_ERROR at once when the first send finds no connection ready
 * to take the bytes, so that a caller resending the same message for a long
 * time can back off instead of waiting out each attempt. *body as for
 * client_call, valid until the next call on this client. */
cairn_status client_call_prebuilt(cairn_client *c, const void *bytes, size_t len, const ulid *id,
                                  int timeout_ms, const msgpack_object **body, cairn_error *err);

/* One of several requests in flight at once (client_call_batch). */
typedef struct client_batch_item {
    const void *bytes; /* the encoded envelope whose id is *id */
    size_t len;
    const ulid *id;
    bool answered;       /* the caller sets it false to have the item sent */
    bool queued;         /* a connection took its latest sending */
    cairn_status status; /* when answered: CAIRN_OK or the error reply's code */
    cairn_error err;     /* when answered with an error: its message */
} client_batch_item;

/* Sends every item not yet answered, then collects replies, resending the
 * unanswered ones' same bytes every retry interval, until all are answered
 * or timeout_ms (<= 0: the client's timeout) has passed. Returns CAIRN_OK
 * when all are answered; CAIRN_TIMEOUT or CAIRN_TRANSPORT_ERROR (as
 * client_call_prebuilt) with some left unanswered; CAIRN_BAD_MESSAGE when a
 * reply could not be told apart (malformed, or an error about a request whose
 * id the receiver could not read): the caller should then send the remaining
 * items one at a time with client_call_prebuilt. Replies' bodies are not
 * kept. */
cairn_status client_call_batch(cairn_client *c, client_batch_item *items, int n, int timeout_ms,
                               cairn_error *err);

/* Fills a new struct from a reply body, as the decoders below do. */
typedef cairn_status (*body_decoder)(const msgpack_object *body, void *out, cairn_error *err);

/* client_call, then the reply's body decoded by decode into a new zeroed
 * struct of size bytes, stored in *out; on failure nothing is left to free
 * and *out is not touched (client_into.c). */
cairn_status client_call_into(cairn_client *c, size_t size, body_decoder decode, void **out,
                              cairn_error *err);

/* Packs key: v unless v is 0, as requests leave out a number not given (since,
 * max, offset, a version); the body's size counts the pair only when v is not 0. */
static inline void client_pack_count(msgpack_packer *pk, const char *key, uint64_t v)
{
    if (v) {
        mp_str(pk, key);
        msgpack_pack_uint64(pk, v);
    }
}

/* Parses a run id given as text, with the API's error message. */
cairn_status client_run_id(const char *text, ulid *out, cairn_error *err);

int64_t client_now_ms(void);

/* A map of strings into a cairn_kv array sorted by key (required). */
cairn_status decode_kvs(const msgpack_object *map, const char *field, cairn_kv **items,
                        size_t *count, cairn_error *err);
void decode_kvs_free(cairn_kv *items, size_t n);

/* Removes the temporary file of the download in progress, if any: for a
 * signal handler (async-signal-safe), so that an interrupted download leaves
 * nothing behind. One slot: the download most recently started. */
void client_download_interrupted(void);

/* cairn_artifact_download, and the bytes written into *size: what the CLI
 * reports, which stat cannot tell for a device or a pipe (client_artifacts.c). */
cairn_status client_artifact_download_sized(cairn_client *c, const char *run_id,
                                            const char *artifact_path, const char *local_file,
                                            uint64_t *size, cairn_error *err);

/* Downloads the blob of that sha256 (64 hex) into local_file, as
 * cairn_artifact_download does an artifact (client_artifacts.c). */
cairn_status client_blob_download(cairn_client *c, const char *sha256, const char *local_file,
                                  cairn_error *err);

/* ---- reply decoding (client_decode.c) ----
 * Each fills *out (zeroed first) with malloc'd copies of everything, or, on a
 * missing or wrongly typed field, frees what it made, leaves *out empty and
 * returns CAIRN_BAD_MESSAGE (CAIRN_OUT_OF_MEMORY when malloc fails). */

cairn_status decode_run(const msgpack_object *o, cairn_run *out, cairn_error *err);
cairn_status decode_run_list(const msgpack_object *body, cairn_run_list *out, cairn_error *err);
cairn_status decode_history(const msgpack_object *body, cairn_history *out, cairn_error *err);
cairn_status decode_experiments(const msgpack_object *body, cairn_experiment_list *out,
                                cairn_error *err);
cairn_status decode_events(const msgpack_object *body, cairn_audit_entry_list *out, cairn_error *err);

/* Frees what a cairn_run holds, not the struct itself. */
void run_clear(cairn_run *run);

/* ---- the body of a dataset.log (client_datasets.c), also sent by the tracker ---- */

typedef struct dataset_log_body {
    const char *name;
    const cairn_dataset_digest *digest;
    const char *source;  /* NULL or "": not sent */
    const ulid *run;     /* NULL: not sent */
    const char *context; /* NULL or "": not sent */
} dataset_log_body;

/* How many fields dataset_log_pack writes: the body map's size. */
uint32_t dataset_log_fields(const dataset_log_body *b);
void dataset_log_pack(msgpack_packer *pk, const dataset_log_body *b);

/* ---- the pieces the decoders share (client_decode.c) ----
 * Every list in a reply is decoded the same way, so that freeing on failure
 * is written once: a new array of one item per element, each filled by the
 * kind's decoder, then sorted when the API promises an order. */

typedef struct item_kind {
    size_t size;
    bool from_map; /* the reply holds the list as a map's pairs, else as an array */
    /* Fills item (zeroed) from elem: a msgpack_object_kv for a map, else a
     * msgpack_object. field names the list in error messages. */
    cairn_status (*decode)(const void *elem, const char *field, void *item, cairn_error *err);
    void (*clear)(void *item);              /* frees what an item holds; NULL: nothing */
    int (*cmp)(const void *, const void *); /* NULL: the order of the reply */
} item_kind;

/* A string field, malloc'd; an absent or nil optional one becomes "". */
cairn_status decode_text(const msgpack_object *map, const char *key, bool required, char **out,
                         cairn_error *err);
/* A non-negative integer field; an absent optional one leaves *out as it was. */
cairn_status decode_count(const msgpack_object *map, const char *key, bool required,
                          uint64_t *out, cairn_error *err);
bool decode_is_hex64(msg_str s);
/* The list in field of map into *items and *count. An optional list that is
 * absent or empty leaves them as they were (NULL, 0); a required one always
 * gets an array, if of no items. */
cairn_status decode_list(const msgpack_object *map, const char *field, bool required,
                         const item_kind *kind, void **items, size_t *count, cairn_error *err);
/* Frees n items of kind (their contents, then the array). */
void decode_list_free(void *items, size_t n, const item_kind *kind);

#endif
