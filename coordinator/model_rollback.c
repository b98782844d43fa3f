/*
 * model.rollback: puts an alias or a stage back to its previous holder in
 * one request, recorded like any change (docs/protocol.md, "Rollback").
 *
 * A rollback undoes the last change that gave the current holder the
 * pointer and that no earlier rollback already undid:
 *   alias  the alias goes back to the version it named before that change;
 *   stage  the holder (the highest version in the stage) goes back to the
 *          stage it had before that change, and the versions that change
 *          archived (--archive-existing) and that are still Archived come
 *          back into the stage.
 * Each event it writes names the event it undoes, so repeated rollbacks walk
 * back through the holders one change at a time instead of swapping the last
 * two. With `to`, a rollback is not an undo but a change to that version
 * (for a stage: the others in it are archived), which a later rollback
 * undoes in turn.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "body.h"
#include "error.h"
#include "handlers.h"
#include "model_ops.h"

typedef struct rollback_req {
    store_model m;
    bool by_alias;
    msg_str alias;
    model_stage stage;
    uint32_t to; /* 0: the previous holder */
    msg_str reason;
    uint32_t holder, after; /* before and after the rollback; 0: none */
    uint64_t undone;        /* the event undone; 0 with `to` */
    size_t restored;        /* versions brought back into the stage */
    size_t moves;           /* events written: the holder may stay while others move */
} rollback_req;

static cairn_status read_pointer(request_ctx *r, rollback_req *q, cairn_error *err)
{
    bool has_alias = body_find(r->m->body, "alias"), has_stage = body_find(r->m->body, "stage");
    if (has_alias == has_stage)
        return error_set(err, CAIRN_BAD_MESSAGE, "give exactly one of 'alias' and 'stage'");
    q->by_alias = has_alias;
    if (has_alias) {
        cairn_status st = body_str(r->m->body, "alias", true, &q->alias, err);
        return st ? st : model_check_alias(q->alias, err);
    }
    cairn_status st = model_read_stage(r, "stage", &q->stage, err);
    if (!st && q->stage == STAGE_NONE)
        st = error_set(err, CAIRN_INVALID_PARAMETER_VALUE,
                       "a rollback moves a stage that versions hold (Staging, Production, "
                       "Archived), not None");
    return st;
}

static cairn_status read_holder(request_ctx *r, rollback_req *q, cairn_error *err)
{
    bool found = false;
    if (q->by_alias)
        return store_model_alias_get(r->store, r->txn, q->m.id, q->alias, &q->holder, err);
    cairn_status st =
        store_model_stage_holder(r->store, r->txn, q->m.id, q->stage, &q->holder, &found, err);
    if (!found)
        q->holder = 0;
    return st;
}

static cairn_status read_rollback(request_ctx *r, rollback_req *q, cairn_error *err)
{
    store_model_version v;
    q->to = 0;
    cairn_status st = model_read(r, &q->m, err);
    if (!st)
        st = read_pointer(r, q, err);
    if (!st)
        st = model_read_version(r, "to", false, &q->to, err);
    if (!st && q->to)
        st = store_model_version_get(r->store, r->txn, &q->m, q->to, &v, err);
    if (!st)
        st = model_read_reason(r, &q->reason, err);
    return st ? st : read_holder(r, q, err);
}

/* ---- finding the change to undo ---- */

typedef struct undo_search {
    const rollback_req *q;
    uint64_t *undone; /* events already undone, seen so far (newer ones) */
    size_t n, cap;
    bool failed;
    bool found;
    store_model_event change; /* scalars only: its strings die with the walk */
} undo_search;

static void note_undone(undo_search *s, uint64_t seq)
{
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 16;
        uint64_t *p = realloc(s->undone, cap * sizeof *p);
        if (!p) {
            s->failed = true;
            return;
        }
        s->undone = p;
        s->cap = cap;
    }
    s->undone[s->n++] = seq;
}

static bool is_undone(const undo_search *s, uint64_t seq)
{
    for (size_t i = 0; i < s->n; i++)
        if (s->undone[i] == seq)
            return true;
    return false;
}

/* Did e give the holder the pointer? */
static bool gave_pointer(const rollback_req *q, const store_model_event *e)
{
    if (q->by_alias)
        return e->kind == EVENT_ALIAS && e->to_version == q->holder &&
               msg_str_same(e->alias, q->alias);
    return e->kind == EVENT_STAGE && e->version == q->holder && e->to_stage == q->stage;
}

/* Newest first over the holder's events: every undo of the change looked
 * for is among them (it moves the holder). */
static bool visit_newest(void *ctx, const store_model_event *e)
{
    undo_search *s = ctx;
    if (e->undoes) {
        note_undone(s, e->undoes);
        return !s->failed;
    }
    if (!gave_pointer(s->q, e) || is_undone(s, e->seq))
        return true;
    s->change = *e;
    s->change.actor = s->change.alias = s->change.reason = (msg_str){"", 0};
    s->found = true;
    return false;
}

static cairn_status find_change(request_ctx *r, const rollback_req *q, store_model_event *change,
                                cairn_error *err)
{
    undo_search s = {.q = q};
    cairn_status st = store_model_version_events(r->store, r->txn, q->m.id, q->holder, true,
                                                 visit_newest, &s, err);
    free(s.undone);
    if (!st && s.failed)
        st = error_set(err, CAIRN_OUT_OF_MEMORY, "no memory to read the history");
    if (!st && !s.found)
        st = error_set(err, CAIRN_INVALID_STATE, "no recorded change gave version %u the %s",
                       q->holder, q->by_alias ? "alias" : "stage");
    *change = s.change;
    return st;
}

/* ---- alias ---- */

static cairn_status move_alias_to(request_ctx *r, rollback_req *q, uint32_t to, uint64_t undoes,
                                  cairn_error *err)
{
    store_model_event e = model_event(r, EVENT_ALIAS, q->reason);
    e.rollback = true;
    e.undoes = undoes;
    q->after = to;
    q->undone = undoes;
    q->moves++;
    return model_move_alias(r, &q->m, q->alias, q->holder, to, &e, err);
}

static cairn_status rollback_alias(request_ctx *r, rollback_req *q, cairn_error *err)
{
    store_model_event change;
    /* With `to` too: a rollback moves a pointer something held, so that it
     * always has a previous holder (setting one is models alias). */
    if (!q->holder)
        return error_set(err, CAIRN_INVALID_STATE,
                         "alias '%.*s' of model '%.*s' is not set: nothing to roll back "
                         "(set it with models alias)",
                         (int)q->alias.n, q->alias.p, (int)q->m.name.n, q->m.name.p);
    if (q->to && q->to == q->holder) {
        q->after = q->to; /* already so: unchanged */
        return CAIRN_OK;
    }
    if (q->to)
        return move_alias_to(r, q, q->to, 0, err);
    cairn_status st = find_change(r, q, &change, err);
    if (!st && !change.from_version)
        st = error_set(err, CAIRN_INVALID_STATE,
                       "alias '%.*s' named no version before version %u: nothing to roll back "
                       "to (remove it with models unalias)",
                       (int)q->alias.n, q->alias.p, q->holder);
    return st ? st : move_alias_to(r, q, change.from_version, change.seq, err);
}

/* ---- stage ---- */

typedef struct archived_by {
    ulid request;
    model_stage stage;
    uint32_t *versions; /* of the change's request: moved from the stage to Archived */
    size_t n, cap;
} archived_by;

/* The events right after the change that share its request are what it
 * archived with --archive-existing. */
static bool visit_companion(void *ctx, const store_model_event *e)
{
    archived_by *a = ctx;
    if (memcmp(e->request.b, a->request.b, ULID_BYTES) != 0)
        return false;
    /* Archived is where the others go, not a stage they leave for it. */
    if (e->kind == EVENT_STAGE && e->from_stage == a->stage && e->to_stage == STAGE_ARCHIVED &&
        a->stage != STAGE_ARCHIVED && a->n < a->cap)
        a->versions[a->n++] = e->version;
    return true;
}

/* Those of the change's archived versions still Archived: they come back. */
static cairn_status archived_by_change(request_ctx *r, rollback_req *q,
                                       const store_model_event *change, archived_by *a,
                                       cairn_error *err)
{
    *a = (archived_by){.request = change->request, .stage = q->stage, .cap = q->m.last_version};
    if (!(a->versions = malloc((a->cap ? a->cap : 1) * sizeof *a->versions)))
        return error_set(err, CAIRN_OUT_OF_MEMORY, "no memory for %zu versions", a->cap);
    cairn_status st = store_model_events_walk(r->store, r->txn, q->m.id, change->seq + 1,
                                              visit_companion, a, err);
    size_t kept = 0;
    for (size_t i = 0; !st && i < a->n; i++) {
        store_model_version v;
        st = store_model_version_get(r->store, r->txn, &q->m, a->versions[i], &v, err);
        if (!st && v.stage == STAGE_ARCHIVED)
            a->versions[kept++] = a->versions[i];
    }
    a->n = kept;
    return st;
}

static cairn_status move_stage(request_ctx *r, rollback_req *q, uint32_t version, model_stage stage,
                               uint64_t undoes, cairn_error *err)
{
    store_model_event e = model_event(r, EVENT_STAGE, q->reason);
    e.rollback = true;
    e.undoes = undoes;
    q->moves++;
    return model_move_stage(r, &q->m, version, stage, &e, err);
}

static cairn_status read_after(request_ctx *r, rollback_req *q, cairn_error *err)
{
    bool found;
    cairn_status st =
        store_model_stage_holder(r->store, r->txn, q->m.id, q->stage, &q->after, &found, err);
    if (!found)
        q->after = 0;
    return st;
}

/* --to: that version into the stage, every other one in it archived (but
 * into Archived, which many versions share, it just goes). */
static cairn_status stage_to(request_ctx *r, rollback_req *q, cairn_error *err)
{
    uint32_t *members;
    size_t n = 0;
    store_model_version v;
    cairn_status st = store_model_version_get(r->store, r->txn, &q->m, q->to, &v, err);
    if (!st && v.stage != q->stage)
        st = move_stage(r, q, q->to, q->stage, 0, err);
    if (!st && q->stage != STAGE_ARCHIVED)
        st = model_stage_members(r, &q->m, q->stage, &members, &n, err);
    for (size_t i = 0; !st && i < n; i++)
        if (members[i] != q->to)
            st = move_stage(r, q, members[i], STAGE_ARCHIVED, 0, err);
    return st ? st : read_after(r, q, err);
}

/* The latest version other than the holder to have entered the stage
 * before the change being undone; 0 when none did. */
typedef struct earlier_entrant {
    uint64_t before;
    uint8_t stage;
    uint32_t holder, version;
} earlier_entrant;

static bool visit_earlier(void *ctx, const store_model_event *e)
{
    earlier_entrant *h = ctx;
    if (e->seq >= h->before)
        return false;
    if (e->kind == EVENT_STAGE && e->to_stage == h->stage && e->version != h->holder)
        h->version = e->version;
    return true;
}

/* Undoing the change would leave the stage empty. Say why truly: either no
 * other version ever held it, or the one that did left it by a change of its
 * own (archived by hand, or by a later --archive-existing), which undoing
 * this one does not bring back. */
static cairn_status no_successor(request_ctx *r, rollback_req *q, const store_model_event *change,
                                 cairn_error *err)
{
    earlier_entrant h = {.before = change->seq, .stage = (uint8_t)q->stage, .holder = q->holder};
    cairn_status st = store_model_events_walk(r->store, r->txn, q->m.id, 1, visit_earlier, &h, err);
    if (st)
        return st;
    const char *stage = model_stage_name(q->stage);
    if (!h.version)
        return error_set(err, CAIRN_INVALID_STATE,
                         "version %u is the first to hold %s: no version held it before "
                         "(change it with models stage)", q->holder, stage);
    return error_set(err, CAIRN_INVALID_STATE,
                     "undoing change %llu (version %u into %s) would leave %s empty: version %u, "
                     "which held it before, left it by another change; use --to %u",
                     (unsigned long long)change->seq, q->holder, stage, stage, h.version, h.version);
}

/* Would a version hold the stage once the holder left and the archived came back? */
static cairn_status check_successor(request_ctx *r, rollback_req *q,
                                    const store_model_event *change, size_t restored,
                                    cairn_error *err)
{
    uint32_t *members;
    size_t n;
    cairn_status st = model_stage_members(r, &q->m, q->stage, &members, &n, err);
    if (!st && n < 2 && restored == 0)
        st = no_successor(r, q, change, err);
    return st;
}

static cairn_status undo_stage(request_ctx *r, rollback_req *q, cairn_error *err)
{
    store_model_event change;
    archived_by a = {0};
    cairn_status st = find_change(r, q, &change, err);
    if (!st)
        st = archived_by_change(r, q, &change, &a, err);
    if (!st)
        st = check_successor(r, q, &change, a.n, err);
    if (!st)
        st = move_stage(r, q, q->holder, (model_stage)change.from_stage, change.seq, err);
    for (size_t i = 0; !st && i < a.n; i++)
        st = move_stage(r, q, a.versions[i], q->stage, change.seq, err);
    free(a.versions);
    q->undone = change.seq;
    q->restored = a.n;
    return st ? st : read_after(r, q, err);
}

static cairn_status rollback_stage(request_ctx *r, rollback_req *q, cairn_error *err)
{
    /* With `to` too, as for an alias: an empty stage has no holder to move. */
    if (!q->holder)
        return error_set(err, CAIRN_INVALID_STATE,
                         "no version of model '%.*s' is in stage %s: nothing to roll back "
                         "(change it with models stage)",
                         (int)q->m.name.n, q->m.name.p, model_stage_name(q->stage));
    if (!q->to)
        return undo_stage(r, q, err);
    uint32_t *members;
    size_t n;
    cairn_status st = model_stage_members(r, &q->m, q->stage, &members, &n, err);
    if (!st && n == 1 && members[0] == q->to)
        return read_after(r, q, err); /* already so: unchanged */
    return st ? st : stage_to(r, q, err);
}

/* ---- the request ---- */

static void reply_holder(request_ctx *r, const char *key, uint32_t version)
{
    if (!version)
        return;
    msgpack_packer *pk = reply_extra(r);
    mp_str(pk, key);
    msgpack_pack_uint32(pk, version);
}

static void summarize(request_ctx *r, const rollback_req *q, const char *name)
{
    char pointer[80];
    int n = snprintf(r->summary, sizeof r->summary, "model=%s %s=%s from=%u to=%u", name,
                     q->by_alias ? "alias" : "stage",
                     q->by_alias ? model_quote(pointer, q->alias) : model_stage_name(q->stage),
                     q->holder, q->after);
    if (n > 0 && (size_t)n < sizeof r->summary && q->undone)
        n += snprintf(r->summary + n, sizeof r->summary - (size_t)n, " undoes=%llu",
                      (unsigned long long)q->undone);
    if (n > 0 && (size_t)n < sizeof r->summary && !q->moves)
        snprintf(r->summary + n, sizeof r->summary - (size_t)n, " unchanged");
}

cairn_status handle_model_rollback(request_ctx *r, cairn_error *err)
{
    rollback_req q = {0};
    char name[80];
    cairn_status st = read_rollback(r, &q, err);
    if (st)
        return st;
    model_quote(name, q.m.name);
    st = q.by_alias ? rollback_alias(r, &q, err) : rollback_stage(r, &q, err);
    if (!st && q.moves)
        st = model_touch(r, &q.m, err);
    if (st)
        return st;
    reply_holder(r, "version", q.after);
    reply_holder(r, "previous", q.holder);
    summarize(r, &q, name);
    r->applied = true;
    return CAIRN_OK;
}

/* ---- a resend ---- */

/* A resend is answered as the rollback was: the holders before and after,
 * from the request's audit summary ("... from=N to=M ...": the name and the
 * alias come before, quoted, so the last " from=" is the field). */
cairn_status handle_model_rollback_duplicate(request_ctx *r, cairn_error *err)
{
    char summary[256] = "";
    cairn_status st = store_audit_summary(r->store, r->txn, r->duplicate_of, summary,
                                          sizeof summary, err);
    const char *field = st ? NULL : store_audit_field(summary, " from=", NULL);
    unsigned before, after;
    if (!st && (!field || sscanf(field, " from=%u to=%u", &before, &after) != 2))
        st = error_set(err, CAIRN_STORAGE_ERROR, "audit entry %llu of a rollback is corrupt",
                       (unsigned long long)r->duplicate_of);
    if (!st) {
        reply_holder(r, "version", after);
        reply_holder(r, "previous", before);
    }
    return st;
}
