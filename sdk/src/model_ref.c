#include "model_ref.h"

#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "msg.h"

#define VERSION_MAX 4294967295ULL /* the coordinator's u32 */

static cairn_status bad_ref(const char *text, const char *why, cairn_error *err)
{
    return error_set(err, CAIRN_INVALID_PARAMETER_VALUE,
                     "bad model version reference '%.200s': %s (expected NAME/VERSION, "
                     "NAME@ALIAS or NAME/STAGE)",
                     text, why);
}

/* All digits, 1 to VERSION_MAX: a version number (a stage name has letters). */
static bool parse_version(const char *s, uint64_t *out)
{
    uint64_t v = 0;
    if (!*s || strlen(s) > 10)
        return false;
    for (const char *p = s; *p; p++) {
        if (*p < '0' || *p > '9')
            return false;
        v = v * 10 + (uint64_t)(*p - '0');
    }
    *out = v;
    return true;
}

cairn_status model_ref_parse(const char *text, model_ref *out, cairn_error *err)
{
    memset(out, 0, sizeof *out);
    if (!text)
        return bad_ref("", "none given", err);
    size_t at = strcspn(text, "@/");
    if (!text[at])
        return bad_ref(text, "no '@' or '/' after the model name", err);
    if (at == 0)
        return bad_ref(text, "no model name", err);
    if (!text[at + 1])
        return bad_ref(text, text[at] == '@' ? "no alias after '@'" : "nothing after '/'", err);
    if (!(out->buf = strdup(text)))
        return error_set(err, CAIRN_OUT_OF_MEMORY, "out of memory");
    char sep = out->buf[at], *rest = out->buf + at + 1;
    out->buf[at] = '\0';
    out->name = out->buf;
    if (sep == '@')
        out->alias = rest;
    else if (parse_version(rest, &out->version) &&
             (out->version < 1 || out->version > VERSION_MAX)) {
        model_ref_free(out);
        return bad_ref(text, "a version number is from 1 to 4294967295", err);
    } else if (!out->version) {
        /* Which stages exist is the coordinator's to say; "1/2" or "+1" is
         * no stage name at all. */
        if (strspn(rest, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz") != strlen(rest)) {
            model_ref_free(out);
            return bad_ref(text, "a stage name is letters only", err);
        }
        out->stage = rest;
    }
    return CAIRN_OK;
}

void model_ref_free(model_ref *ref)
{
    free(ref->buf);
    memset(ref, 0, sizeof *ref);
}

void model_ref_pack(msgpack_packer *pk, const model_ref *ref)
{
    mp_str(pk, "name");
    mp_str(pk, ref->name);
    if (ref->alias) {
        mp_str(pk, "alias");
        mp_str(pk, ref->alias);
    } else if (ref->stage) {
        mp_str(pk, "stage");
        mp_str(pk, ref->stage);
    } else {
        mp_str(pk, "version");
        msgpack_pack_uint64(pk, ref->version);
    }
}
