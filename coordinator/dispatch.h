/* Runs one decoded request through its handler inside the batch's transaction. */
#ifndef CAIRN_DISPATCH_H
#define CAIRN_DISPATCH_H

#include "handlers.h"

void dispatch_init(request_ctx *r, store *s, blobs *b, const char *from);
void dispatch_destroy(request_ctx *r);

/*
 * Handles m with h, appending exactly one reply (ok or error) to out, or none
 * when the handler set r->deferred (it answers later, a fan-out). Returns
 * the handler's status; one for which dispatch_must_abort() holds means the
 * transaction may hold part of the request and must be aborted.
 */
cairn_status dispatch(request_ctx *r, const handler *h, const msg *m, MDB_txn *txn,
                      msg_writer *out, int64_t now_ms, cairn_error *err);

/* STORAGE_ERROR, OUT_OF_MEMORY and INTERNAL_ERROR: the request may have been
 * written in part, so its transaction must not commit. Every other status is
 * a refusal that wrote nothing (dispatch() makes sure of it). */
bool dispatch_must_abort(cairn_status st);

/* Appends into txn what handlers held back (metric points of small run.log
 * batches): due before the transaction commits. A failure is a STORAGE_ERROR
 * or OUT_OF_MEMORY, and the transaction must then be aborted. */
cairn_status dispatch_flush(request_ctx *r, MDB_txn *txn, cairn_error *err);
/* Forgets what handlers held back: their transaction was aborted. */
void dispatch_discard(request_ctx *r);

#endif
