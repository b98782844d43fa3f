/* Shared pieces of the model registry's handlers (model_ops.h). */
#include "model_ops.h"

#include <string.h>

#include "body.h"
#include "error.h"
#include "kvlog.h"
#include "validate.h"

cairn_status model_check_name(msg_str name, cairn_error *err)
{
    cairn_status st = validate_name("model", name, true, err);
    if (!st && (memchr(name.p, '@', name.n) || memchr(name.p, '/', name.n)))
        st = error_set(err, CAIRN_INVALID_PARAMETER_VALUE,
                       "model name '%.*s' must not hold '@' or '/' (they separate a version "
                       "reference: NAME@ALIAS, NAME/STAGE, NAME/VERSION)",
                       (int)name.n, name.p);
    return st;
}

static bool alias_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-' || c == '.';
}

cairn_status model_check_alias(msg_str alias, cairn_error *err)
{
    bool ok = alias.n >= 1 && alias.n <= MODEL_MAX_ALIAS;
    for (uint32_t i = 0; ok && i < alias.n; i++)
        ok = alias_char(alias.p[i]);
    if (!ok)
        return error_set(err, CAIRN_INVALID_PARAMETER_VALUE,
                         "alias '%.*s' must be 1 to %d of letters, digits, '_', '-' and '.'",
                         (int)(alias.n > 100 ? 100 : alias.n), alias.p, MODEL_MAX_ALIAS);
    return CAIRN_OK;
}

cairn_status model_read_name(request_ctx *r, msg_str *name, cairn_error *err)
{
    cairn_status st = body_str(r->m->body, "name", true, name, err);
    return st ? st : model_check_name(*name, err);
}

cairn_status model_read(request_ctx *r, store_model *m, cairn_error *err)
{
    msg_str name;
    cairn_status st = body_str(r->m->body, "name", true, &name, err);
    return st ? st : store_model_by_name(r->store, r->txn, name, m, err);
}

cairn_status model_read_reason(request_ctx *r, msg_str *reason, cairn_error *err)
{
    *reason = (msg_str){"", 0};
    cairn_status st = body_str(r->m->body, "reason", false, reason, err);
    return st ? st : validate_text("reason", *reason, MODEL_MAX_REASON, err);
}

cairn_status model_read_version(request_ctx *r, const char *key, bool required, uint32_t *out,
                                cairn_error *err)
{
    int64_t v = 0;
    cairn_status st = body_int(r->m->body, key, required, &v, err);
    if (st)
        return st;
    if ((v < 1 || v > UINT32_MAX) && (required || body_find(r->m->body, key)))
        return error_set(err, CAIRN_INVALID_PARAMETER_VALUE,
                         "'%s' must be a version number from 1 to 4294967295, not %lld", key,
                         (long long)v);
    *out = (uint32_t)v;
    return CAIRN_OK;
}

cairn_status model_read_stage(request_ctx *r, const char *key, model_stage *out, cairn_error *err)
{
    msg_str text;
    cairn_status st = body_str(r->m->body, key, true, &text, err);
    if (!st && !model_stage_parse(text, out))
        st = error_set(err, CAIRN_INVALID_PARAMETER_VALUE,
                       "unknown stage '%.*s' (expected None, Staging, Production or Archived)",
                       (int)(text.n > 100 ? 100 : text.n), text.p);
    return st;
}

/* ---- version references ---- */

/* NAME/None: the highest version still in no stage (None is not indexed). */
static cairn_status latest_unstaged(request_ctx *r, const store_model *m, store_model_version *v,
                                    bool *found, cairn_error *err)
{
    *found = false;
    for (uint32_t n = m->last_version; n >= 1 && !*found; n--) {
        cairn_status st = store_model_version_get(r->store, r->txn, m, n, v, err);
        if (st)
            return st;
        *found = v->stage == STAGE_NONE;
    }
    return CAIRN_OK;
}

static cairn_status resolve_stage(request_ctx *r, const store_model *m, store_model_version *v,
                                  cairn_error *err)
{
    model_stage stage;
    uint32_t version = 0;
    bool found;
    cairn_status st = model_read_stage(r, "stage", &stage, err);
    if (!st && stage == STAGE_NONE)
        st = latest_unstaged(r, m, v, &found, err);
    else if (!st)
        st = store_model_stage_holder(r->store, r->txn, m->id, stage, &version, &found, err);
    if (st)
        return st;
    if (!found)
        return error_set(err, CAIRN_RESOURCE_DOES_NOT_EXIST,
                         "no version of model '%.*s' is in stage %s", (int)m->name.n, m->name.p,
                         model_stage_name(stage));
    return stage == STAGE_NONE ? CAIRN_OK
                               : store_model_version_get(r->store, r->txn, m, version, v, err);
}

static cairn_status resolve_alias(request_ctx *r, const store_model *m, msg_str alias,
                                  store_model_version *v, cairn_error *err)
{
    uint32_t version = 0;
    cairn_status st = alias.n <= MODEL_MAX_ALIAS
                          ? store_model_alias_get(r->store, r->txn, m->id, alias, &version, err)
                          : CAIRN_OK;
    if (st)
        return st;
    if (!version)
        return error_set(err, CAIRN_RESOURCE_DOES_NOT_EXIST, "model '%.*s' has no alias '%.*s'",
                         (int)m->name.n, m->name.p, (int)(alias.n > 100 ? 100 : alias.n), alias.p);
    return store_model_version_get(r->store, r->txn, m, version, v, err);
}

cairn_status model_resolve(request_ctx *r, const store_model *m, store_model_version *v,
                           cairn_error *err)
{
    const msgpack_object *b = r->m->body;
    bool has_version = body_find(b, "version"), has_alias = body_find(b, "alias"),
         has_stage = body_find(b, "stage");
    if (has_version + has_alias + has_stage != 1)
        return error_set(err, CAIRN_BAD_MESSAGE,
                         "give exactly one of 'version', 'alias' and 'stage'");
    if (has_stage)
        return resolve_stage(r, m, v, err);
    if (has_alias) {
        msg_str alias;
        cairn_status st = body_str(b, "alias", true, &alias, err);
        return st ? st : resolve_alias(r, m, alias, v, err);
    }
    uint32_t version;
    cairn_status st = model_read_version(r, "version", true, &version, err);
    return st ? st : store_model_version_get(r->store, r->txn, m, version, v, err);
}

/* ---- changes ---- */

store_model_event model_event(request_ctx *r, model_event_kind kind, msg_str reason)
{
    return (store_model_event){.time = r->now_ms,
                               .request = r->m->id,
                               .kind = (uint8_t)kind,
                               .actor = r->m->from,
                               .reason = reason};
}

cairn_status model_move_stage(request_ctx *r, const store_model *m, uint32_t version,
                              model_stage stage, store_model_event *e, cairn_error *err)
{
    store_model_version v;
    cairn_status st = store_model_version_get(r->store, r->txn, m, version, &v, err);
    if (st)
        return st;
    e->version = version;
    e->from_stage = v.stage;
    e->to_stage = (uint8_t)stage;
    st = store_model_set_stage(r->store, r->txn, m->id, &v, stage, r->now_ms, err);
    return st ? st : store_model_event_append(r->store, r->txn, m->id, e, err);
}

cairn_status model_move_alias(request_ctx *r, const store_model *m, msg_str alias, uint32_t from,
                              uint32_t to, store_model_event *e, cairn_error *err)
{
    e->alias = alias;
    e->from_version = from;
    e->to_version = to;
    cairn_status st = store_model_alias_put(r->store, r->txn, m->id, alias, to, err);
    return st ? st : store_model_event_append(r->store, r->txn, m->id, e, err);
}

cairn_status model_touch(request_ctx *r, store_model *m, cairn_error *err)
{
    m->updated = r->now_ms;
    return store_model_put(r->store, r->txn, m, err);
}

cairn_status model_stage_members(request_ctx *r, const store_model *m, model_stage stage,
                                 uint32_t **out, size_t *n, cairn_error *err)
{
    size_t max = m->last_version ? m->last_version : 1;
    *out = request_scratch(r, max * sizeof **out);
    if (!*out)
        return error_set(err, CAIRN_OUT_OF_MEMORY, "no memory for %zu versions", max);
    return store_model_stage_versions(r->store, r->txn, m->id, stage, *out, max, n, err);
}

const char *model_quote(char buf[80], msg_str s)
{
    /* Room for the longest alias: an alias cut short would name another. */
    char plain[MODEL_MAX_ALIAS + 1];
    msg_str_copy(s, plain, sizeof plain);
    return kvlog_quote(buf, 80, plain);
}
