/* Runs one decoded request through its handler inside the batch's transaction. */
#ifndef CAIRN_DISPATCH_H
#define CAIRN_DISPATCH_H

#include "handlers.h"

void dispatch_init(request_ctx *r, store *s, blobs *b, const char *from);
void dispatch_destroy(request_ctx *r);

/*
 * Handles m with h, appending exactly one reply (ok or error) to out, or none
 * when the handler set r->deferred (it answers later, a fan-out). Returns
 * the handler's status: CAIRN_STORAGE_ERROR or CAIRN_OUT_OF_MEMORY mean the
 * transaction may hold part of the request and must be aborted.
 */
cairn_status dispatch(request_ctx *r, const handler *h, const msg *m, MDB_txn *txn,
                      msg_writer *out, int64_t now_ms, cairn_error *err);

#endif
