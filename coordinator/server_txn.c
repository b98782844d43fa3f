/* The group's one write transaction: opening it (with the bulk write of
 * recent message ids when due), aborting it, committing it, and what a
 * failed commit does to the group's replies. */
#include <errno.h>
#include <string.h>
#include <sys/statvfs.h>

#include "error.h"
#include "dispatch.h"
#include "kvlog.h"
#include "server_internal.h"

cairn_status txn_for(server *s, group_txn *g, bool write, cairn_error *err)
{
    if (g->txn && (g->writable || !write))
        return CAIRN_OK;
    if (g->txn)
        mdb_txn_abort(g->txn); /* a read-only view: its replies are already packed */
    g->txn = NULL;
    int rc = mdb_txn_begin(s->store.env, NULL, write ? 0 : MDB_RDONLY, &g->txn);
    if (rc)
        return store_fail(rc, "begin transaction", err);
    g->writable = write;
    g->saved_audit_seq = s->store.next_audit_seq;
    g->saved_experiment_id = s->store.next_experiment_id;
    g->dedup_mark = store_dedup_mark(&s->store);
    g->flushed_dedup = false;
    g->soft_writes = false;
    if (!write || !store_dedup_flush_due(&s->store, g->now_ms))
        return CAIRN_OK;
    cairn_status st = store_dedup_flush(&s->store, g->txn, g->now_ms, err);
    if (st) {
        mdb_txn_abort(g->txn);
        store_dedup_aborted(&s->store, g->dedup_mark);
        g->txn = NULL;
        return st;
    }
    g->flushed_dedup = true;
    return CAIRN_OK;
}

void txn_abort(server *s, group_txn *g)
{
    if (!g->txn)
        return;
    mdb_txn_abort(g->txn);
    dispatch_discard(&s->rctx);
    if (g->writable) {
        s->store.next_audit_seq = g->saved_audit_seq;
        s->store.next_experiment_id = g->saved_experiment_id;
        store_dedup_aborted(&s->store, g->dedup_mark);
    }
    if (g->soft_writes) /* presence records lost with it: written again later */
        agents_persist_failed(&s->agents);
    g->txn = NULL;
}

/* Nothing of those requests was committed. */
void fail_write_replies(server *s, int n, const char *why)
{
    msg_writer *w = &s->replies;
    for (int i = 0; i < n; i++) {
        pending *p = &s->batch[i];
        if (!p->in_write_txn)
            continue;
        p->reply_off = w->sb.size;
        msg_str type = msg_str_of(p->type);
        msg_error_reply(w, p->has_id ? &p->id : NULL, type, "coordinator", CAIRN_STORAGE_ERROR, why);
        p->reply_len = w->sb.size - p->reply_off;
        p->in_write_txn = false;
        s->stats.rejected++;
    }
}

/* LMDB reports a write that found the disk full as EIO ("short write"),
 * which an operator would take for failing hardware: say what it is. */
static void commit_error(const server *s, int rc, cairn_error *err)
{
    struct statvfs fs;
    bool full = (rc == EIO || rc == ENOSPC) && statvfs(s->cfg.data_dir, &fs) == 0 &&
                (uint64_t)fs.f_bavail * fs.f_frsize < ((uint64_t)1 << 20);
    if (full)
        error_set(err, CAIRN_STORAGE_ERROR,
                  "commit failed: no space left on the device of %s (%s)", s->cfg.data_dir,
                  mdb_strerror(rc));
    else
        store_fail(rc, "commit failed", err);
}

/* Nothing of the group's writes was made durable: every write reply says so. */
static bool group_failed(server *s, int n, cairn_error *err)
{
    s->stats.failed_commits++;
    kvlog(KVLOG_ERROR, "commit_failed", "error=%s",
          kvlog_quote((char[600]){0}, 600, err->message));
    fail_write_replies(s, n, err->message);
    return false;
}

bool commit_group(server *s, group_txn *g, int n, cairn_error *err)
{
    if (!g->txn)
        return true;
    /* Without an audit entry nothing was applied (every write was refused):
     * nothing to make durable, so no fsync. */
    bool changed = s->store.next_audit_seq != g->saved_audit_seq || g->flushed_dedup || g->soft_writes;
    if (!g->writable || !changed) {
        txn_abort(s, g);
        return true;
    }
    if (dispatch_flush(&s->rctx, g->txn, err)) {
        txn_abort(s, g);
        return group_failed(s, n, err);
    }
    int rc = mdb_txn_commit(g->txn);
    g->txn = NULL;
    if (rc == 0) {
        s->stats.commits++;
        store_dedup_committed(&s->store);
        return true;
    }
    /* The commit freed the transaction: undo what txn_abort would have. */
    dispatch_discard(&s->rctx);
    s->store.next_audit_seq = g->saved_audit_seq;
    s->store.next_experiment_id = g->saved_experiment_id;
    store_dedup_aborted(&s->store, g->dedup_mark);
    if (g->soft_writes)
        agents_persist_failed(&s->agents);
    commit_error(s, rc, err);
    return group_failed(s, n, err);
}
