#include "validate.h"

#include <stdio.h>

#include "error.h"
#include "utf8.h"

/* The error for a fault of utf8_check in `what`, or CAIRN_OK. */
static cairn_status text_fault(const char *what, utf8_fault fault, cairn_error *err)
{
    switch (fault) {
    case UTF8_CLEAN:
        return CAIRN_OK;
    case UTF8_INVALID:
        return error_set(err, CAIRN_INVALID_PARAMETER_VALUE, "%s is not valid UTF-8", what);
    case UTF8_NUL:
        return error_set(err, CAIRN_INVALID_PARAMETER_VALUE, "%s must not hold NUL", what);
    default:
        return error_set(err, CAIRN_INVALID_PARAMETER_VALUE,
                         "%s must not hold control characters", what);
    }
}

/* MLflow accepts word characters and "/ . - :" and space in keys; bytes >= 0x80
 * let UTF-8 letters through as Python's \w does. NUL and control bytes never
 * pass: NUL ends a key inside chunk keys. */
static bool key_char_ok(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '_' || c == '-' || c == '.' || c == '/' || c == ':' || c == ' ' || c >= 0x80;
}

cairn_status validate_key(const char *what, msg_str key, cairn_error *err)
{
    if (key.n == 0)
        return error_set(err, CAIRN_INVALID_PARAMETER_VALUE, "%s key must not be empty", what);
    if (key.n > LIMIT_KEY)
        return error_set(err, CAIRN_LIMIT_EXCEEDED,
                         "%s key of %u bytes exceeds the limit of %d bytes", what, key.n, LIMIT_KEY);
    bool ascii = true;
    for (uint32_t i = 0; i < key.n; i++) {
        if (!key_char_ok((unsigned char)key.p[i]))
            return error_set(err, CAIRN_INVALID_PARAMETER_VALUE,
                             "%s key '%.*s' may hold only letters, digits, '_', '-', '.', "
                             "'/', ':' and spaces",
                             what, (int)key.n, key.p);
        ascii &= (unsigned char)key.p[i] < 0x80;
    }
    if (!ascii && utf8_check(key.p, key.n, false) != UTF8_CLEAN)
        return error_set(err, CAIRN_INVALID_PARAMETER_VALUE, "%s key is not valid UTF-8", what);
    return CAIRN_OK;
}

cairn_status validate_value(const char *what, msg_str value, size_t limit, cairn_error *err)
{
    if (value.n > limit)
        return error_set(err, CAIRN_LIMIT_EXCEEDED,
                         "%s value of %u bytes exceeds the limit of %zu bytes", what, value.n, limit);
    char subject[64];
    snprintf(subject, sizeof subject, "%s value", what);
    return text_fault(subject, utf8_check(value.p, value.n, true), err);
}

cairn_status validate_name(const char *what, msg_str name, bool required, cairn_error *err)
{
    if (required && name.n == 0)
        return error_set(err, CAIRN_INVALID_PARAMETER_VALUE, "%s name must not be empty", what);
    if (name.n > LIMIT_NAME)
        return error_set(err, CAIRN_LIMIT_EXCEEDED,
                         "%s name of %u bytes exceeds the limit of %d bytes", what, name.n,
                         LIMIT_NAME);
    char subject[64];
    snprintf(subject, sizeof subject, "%s name", what);
    return text_fault(subject, utf8_check(name.p, name.n, false), err);
}

cairn_status validate_text(const char *what, msg_str s, size_t limit, cairn_error *err)
{
    if (s.n > limit)
        return error_set(err, CAIRN_LIMIT_EXCEEDED, "%s of %u bytes exceeds the limit of %zu bytes",
                         what, s.n, limit);
    return text_fault(what, utf8_check(s.p, s.n, false), err);
}

bool validate_token(msg_str s, size_t max)
{
    bool ok = s.n >= 1 && s.n <= max;
    for (uint32_t i = 0; ok && i < s.n; i++)
        ok = (s.p[i] >= 'a' && s.p[i] <= 'z') || (s.p[i] >= '0' && s.p[i] <= '9') ||
             s.p[i] == '.' || s.p[i] == '_' || s.p[i] == '-';
    return ok;
}

cairn_status validate_dataset_context(msg_str context, cairn_error *err)
{
    if (validate_token(context, LIMIT_DATASET_CONTEXT))
        return CAIRN_OK;
    return error_set(err, CAIRN_INVALID_PARAMETER_VALUE,
                     "context '%.*s' must be 1 to 64 of a-z, 0-9, '.', '_' and '-' "
                     "(training, validation, test, ...)",
                     (int)(context.n > 64 ? 64 : context.n), context.p);
}
