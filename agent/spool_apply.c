/*
 * Writing a forwarding round's outcomes to the spool.
 *
 * Usually one transaction: delete what the coordinator acknowledged, move
 * what it refused to the rejected list. But a spool can fill its LMDB map
 * (spool.map_size_mb) while the coordinator is away, and then even a delete
 * needs a few new pages (LMDB copies the pages it changes), and moving a
 * refused entry needs room for its copy before its own pages are freed. Were
 * that to fail for good, the spool would never drain. So with the map full
 * the outcomes go in steps, each with room lent beyond the map for its one
 * transaction: the acknowledged deletes together, then each refusal alone.
 * Steps also serve a full disk (no room to lend there): the deletes free
 * pages inside the file, which the moves then reuse.
 * Every commit frees pages for the next; the map is given back to its
 * configured size after each step (LMDB keeps it at least as large as the
 * file), so the spool's file grows past map_size_mb by at most one entry's
 * copy plus a little.
 */
#include <string.h>

#include "error.h"
#include "spool.h"

#define ROOM_SLACK ((size_t)1 << 20) /* page copies, freelist records, meta */

/* Some of the outcomes, for one transaction. */
typedef struct apply_step {
    spool_outcomes o;
    long pruned;
} apply_step;

static cairn_status write_step(spool *s, spool_txn *t, apply_step *step, cairn_error *err)
{
    const spool_outcomes *o = &step->o;
    cairn_status st = CAIRN_OK;
    for (int i = 0; !st && i < o->n_acked; i++)
        st = spool_remove(s, t, o->acked[i], err);
    for (int i = 0; !st && i < o->n_refused; i++)
        st = spool_reject(s, t, o->refused[i].seq, o->refused[i].code, o->refused[i].message, err);
    if (!st && o->n_refused &&
        (step->pruned = spool_prune_rejected(s, t, o->keep_rejected, err)) < 0)
        st = err->status;
    return st;
}

static cairn_status commit_step(spool *s, apply_step *step, cairn_error *err)
{
    spool_txn t;
    step->pruned = 0;
    cairn_status st = spool_begin(s, &t, err);
    if (st)
        return st;
    st = write_step(s, &t, step, err);
    if (st) {
        spool_abort(&t);
        return st;
    }
    return spool_commit(s, &t, err);
}

/* Grows the map by room for one step; false when LMDB cannot. */
static bool lend_room(spool *s, size_t room)
{
    MDB_envinfo info;
    return mdb_env_info(s->env, &info) == 0 &&
           mdb_env_set_mapsize(s->env, info.me_mapsize + room) == 0;
}

/* Back to the configured size, or the file's, whichever is larger. */
static void give_back_room(spool *s)
{
    mdb_env_set_mapsize(s->env, s->map_size);
}

static cairn_status commit_with_room(spool *s, apply_step *step, size_t room, cairn_error *err)
{
    cairn_status st = commit_step(s, step, err);
    if (st != CAIRN_BACKPRESSURE || !lend_room(s, room))
        return st;
    st = commit_step(s, step, err);
    give_back_room(s);
    return st;
}

/* The room an entry's move to the rejected list takes: its copy, the reason. */
static size_t refusal_room(spool *s, uint64_t seq)
{
    spool_entry e;
    size_t len = 0;
    if (spool_read_begin(s, NULL) == CAIRN_OK) {
        if (spool_get(s, seq, &e))
            len = e.len;
        spool_read_end(s);
    }
    return len + len / 8 + ROOM_SLACK;
}

static cairn_status apply_in_steps(spool *s, const spool_outcomes *o, spool_applied *done,
                                   cairn_error *err)
{
    apply_step acks = {.o = {.acked = o->acked, .n_acked = o->n_acked}};
    cairn_status st = o->n_acked ? commit_with_room(s, &acks, ROOM_SLACK, err) : CAIRN_OK;
    if (!st)
        done->acked = o->n_acked;
    for (int i = 0; !st && i < o->n_refused; i++) {
        apply_step one = {.o = {.refused = &o->refused[i], .n_refused = 1,
                                .keep_rejected = o->keep_rejected}};
        st = commit_with_room(s, &one, refusal_room(s, o->refused[i].seq), err);
        if (!st) {
            done->refused++;
            done->pruned += one.pruned;
        }
    }
    return st;
}

cairn_status spool_apply(spool *s, const spool_outcomes *o, spool_applied *done, cairn_error *err)
{
    apply_step all = {.o = *o};
    *done = (spool_applied){0};
    cairn_status st = commit_step(s, &all, err);
    if (!st) {
        *done = (spool_applied){o->n_acked, o->n_refused, all.pruned};
        return st;
    }
    /* In steps, what fits goes: on a full disk, the deletes free pages that
     * the moves of refused entries can reuse. Steps already committed are not
     * undone by a later step's failure; a step redone later finds its
     * entries gone and does nothing. */
    return apply_in_steps(s, o, done, err);
}
