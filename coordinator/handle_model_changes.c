/*
 * model.stage, model.alias, model.unalias: the changes that make a model's
 * history (each an event with who, when, why, from and to), and
 * model.history, which reads it back.
 *
 * A change to what already is (an alias set to its version, a stage given
 * again) is applied as a no-op: audited ("unchanged"), with no event, so that
 * a rollback never has to step over an empty change.
 */
#include <stdio.h>
#include <string.h>

#include "body.h"
#include "error.h"
#include "handlers.h"
#include "model_ops.h"

#define HISTORY_DEFAULT 1000
#define HISTORY_MAX 10000

/* ---- model.stage ---- */

typedef struct stage_req {
    store_model m;
    uint32_t version;
    uint8_t old_stage;
    model_stage stage;
    bool archive_existing;
    msg_str reason;
} stage_req;

static cairn_status read_stage(request_ctx *r, stage_req *q, cairn_error *err)
{
    store_model_version v;
    q->archive_existing = false;
    cairn_status st = model_read(r, &q->m, err);
    if (!st)
        st = model_read_version(r, "version", true, &q->version, err);
    if (!st)
        st = model_read_stage(r, "stage", &q->stage, err);
    if (!st)
        st = body_bool(r->m->body, "archive_existing", false, &q->archive_existing, err);
    if (!st)
        st = model_read_reason(r, &q->reason, err);
    if (!st)
        st = store_model_version_get(r->store, r->txn, &q->m, q->version, &v, err);
    if (st)
        return st;
    q->old_stage = v.stage;
    if (q->archive_existing && q->stage != STAGE_STAGING && q->stage != STAGE_PRODUCTION)
        return error_set(err, CAIRN_INVALID_PARAMETER_VALUE,
                         "'archive_existing' applies to Staging and Production, not %s",
                         model_stage_name(q->stage));
    return CAIRN_OK;
}

/* The versions --archive-existing moves out: every other one in the stage. */
static cairn_status archive_others(request_ctx *r, stage_req *q, size_t *archived, cairn_error *err)
{
    uint32_t *members;
    size_t n;
    *archived = 0;
    cairn_status st = model_stage_members(r, &q->m, q->stage, &members, &n, err);
    for (size_t i = 0; !st && i < n; i++) {
        if (members[i] == q->version)
            continue;
        store_model_event e = model_event(r, EVENT_STAGE, q->reason);
        st = model_move_stage(r, &q->m, members[i], STAGE_ARCHIVED, &e, err);
        (*archived)++;
    }
    return st;
}

cairn_status handle_model_stage(request_ctx *r, cairn_error *err)
{
    stage_req q;
    size_t archived = 0;
    char name[80];
    cairn_status st = read_stage(r, &q, err);
    if (st)
        return st;
    model_quote(name, q.m.name);
    bool moves = q.old_stage != q.stage;
    if (moves) {
        store_model_event e = model_event(r, EVENT_STAGE, q.reason);
        st = model_move_stage(r, &q.m, q.version, q.stage, &e, err);
    }
    if (!st && q.archive_existing)
        st = archive_others(r, &q, &archived, err);
    if (!st && (moves || archived))
        st = model_touch(r, &q.m, err);
    if (st)
        return st;
    snprintf(r->summary, sizeof r->summary, "model=%s version=%u stage=%s from=%s archived=%zu%s",
             name, q.version, model_stage_name(q.stage), model_stage_name(q.old_stage), archived,
             moves || archived ? "" : " unchanged");
    r->applied = true;
    return CAIRN_OK;
}

/* ---- model.alias, model.unalias ---- */

typedef struct alias_req {
    store_model m;
    msg_str alias;
    uint32_t current; /* 0: not set */
    msg_str reason;
} alias_req;

static cairn_status read_alias(request_ctx *r, alias_req *q, cairn_error *err)
{
    cairn_status st = model_read(r, &q->m, err);
    if (!st)
        st = body_str(r->m->body, "alias", true, &q->alias, err);
    if (!st)
        st = model_check_alias(q->alias, err);
    if (!st)
        st = model_read_reason(r, &q->reason, err);
    return st ? st : store_model_alias_get(r->store, r->txn, q->m.id, q->alias, &q->current, err);
}

/* Points the alias at `to` (0: removes it) with its event, unless it is there. */
static cairn_status move_alias(request_ctx *r, alias_req *q, uint32_t to, cairn_error *err)
{
    char name[80], alias[80];
    model_quote(name, q->m.name);
    cairn_status st = CAIRN_OK;
    if (q->current != to) {
        store_model_event e = model_event(r, EVENT_ALIAS, q->reason);
        st = model_move_alias(r, &q->m, q->alias, q->current, to, &e, err);
        if (!st)
            st = model_touch(r, &q->m, err);
    }
    if (st)
        return st;
    snprintf(r->summary, sizeof r->summary, "model=%s alias=%s version=%u from=%u%s", name,
             model_quote(alias, q->alias), to, q->current, q->current == to ? " unchanged" : "");
    r->applied = true;
    return CAIRN_OK;
}

cairn_status handle_model_alias(request_ctx *r, cairn_error *err)
{
    alias_req q;
    uint32_t version;
    store_model_version v;
    cairn_status st = read_alias(r, &q, err);
    if (!st)
        st = model_read_version(r, "version", true, &version, err);
    if (!st)
        st = store_model_version_get(r->store, r->txn, &q.m, version, &v, err);
    return st ? st : move_alias(r, &q, version, err);
}

cairn_status handle_model_unalias(request_ctx *r, cairn_error *err)
{
    alias_req q;
    cairn_status st = read_alias(r, &q, err);
    if (st)
        return st;
    if (!q.current)
        return error_set(err, CAIRN_RESOURCE_DOES_NOT_EXIST, "model '%.*s' has no alias '%.*s'",
                         (int)q.m.name.n, q.m.name.p, (int)q.alias.n, q.alias.p);
    return move_alias(r, &q, 0, err);
}

/* ---- model.history ---- */

typedef struct history_ctx {
    msgpack_packer *pk;
    uint32_t n, max;
    uint64_t next; /* the first event not packed; 0 when the history ended */
} history_ctx;

static bool pack_history_event(void *ctx, const store_model_event *e)
{
    history_ctx *c = ctx;
    if (c->n == c->max) {
        c->next = e->seq;
        return false;
    }
    store_pack_model_event(c->pk, e);
    c->n++;
    return true;
}

cairn_status handle_model_history(request_ctx *r, cairn_error *err)
{
    store_model m;
    int64_t since = 1, max;
    cairn_status st = model_read(r, &m, err);
    if (!st)
        st = body_int(r->m->body, "since", false, &since, err);
    if (!st)
        st = read_count(r, "max", HISTORY_DEFAULT, HISTORY_MAX, &max, err);
    if (st)
        return st;
    /* `next` is known only after the walk: the body map is written for two
     * fields and cut to one when there is no next page. */
    msgpack_packer *pk = reply_begin(r, 2);
    size_t map_at = r->out->sb.size - 1;
    mp_str(pk, "events");
    history_ctx c = {pk, 0, (uint32_t)max, 0};
    size_t at = store_counted_begin(pk);
    st = store_model_events_walk(r->store, r->txn, m.id, since > 1 ? (uint64_t)since : 1,
                                 pack_history_event, &c, err);
    store_counted_end(pk, at, false, c.n);
    if (st)
        return st;
    if (c.next) {
        mp_str(pk, "next");
        msgpack_pack_uint64(pk, c.next);
    } else {
        r->out->sb.data[map_at] = (char)0x81;
    }
    return CAIRN_OK;
}
