#include "validate.h"

#include "error.h"
#include "store.h"

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
    for (uint32_t i = 0; i < key.n; i++) {
        if (!key_char_ok((unsigned char)key.p[i]))
            return error_set(err, CAIRN_INVALID_PARAMETER_VALUE,
                             "%s key '%.*s' may hold only letters, digits, '_', '-', '.', "
                             "'/', ':' and spaces",
                             what, (int)key.n, key.p);
    }
    return CAIRN_OK;
}

cairn_status validate_value(const char *what, msg_str value, size_t limit, cairn_error *err)
{
    if (value.n > limit)
        return error_set(err, CAIRN_LIMIT_EXCEEDED,
                         "%s value of %u bytes exceeds the limit of %zu bytes", what, value.n, limit);
    return CAIRN_OK;
}

cairn_status validate_name(const char *what, msg_str name, bool required, cairn_error *err)
{
    if (required && name.n == 0)
        return error_set(err, CAIRN_INVALID_PARAMETER_VALUE, "%s name must not be empty", what);
    if (name.n > LIMIT_NAME)
        return error_set(err, CAIRN_LIMIT_EXCEEDED,
                         "%s name of %u bytes exceeds the limit of %d bytes", what, name.n,
                         LIMIT_NAME);
    for (uint32_t i = 0; i < name.n; i++) {
        if ((unsigned char)name.p[i] < 0x20)
            return error_set(err, CAIRN_INVALID_PARAMETER_VALUE,
                             "%s name must not hold control characters", what);
    }
    return CAIRN_OK;
}

/* Length of the valid UTF-8 sequence at p (at most n bytes), or 0. */
static size_t utf8_seq(const unsigned char *p, size_t n)
{
    static const uint32_t min[5] = {0, 0, 0x80, 0x800, 0x10000};
    size_t len = p[0] < 0x80 ? 1 : p[0] < 0xc2 ? 0 : p[0] < 0xe0 ? 2 : p[0] < 0xf0 ? 3 : p[0] < 0xf5 ? 4 : 0;
    if (len == 0 || len > n)
        return 0;
    if (len == 1)
        return 1;
    uint32_t v = p[0] & (0x7f >> len);
    for (size_t i = 1; i < len; i++) {
        if ((p[i] & 0xc0) != 0x80)
            return 0;
        v = (v << 6) | (p[i] & 0x3f);
    }
    return v < min[len] || v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff) ? 0 : len;
}

cairn_status validate_text(const char *what, msg_str s, size_t limit, cairn_error *err)
{
    if (s.n > limit)
        return error_set(err, CAIRN_LIMIT_EXCEEDED, "%s of %u bytes exceeds the limit of %zu bytes",
                         what, s.n, limit);
    const unsigned char *p = (const unsigned char *)s.p;
    for (size_t i = 0; i < s.n;) {
        size_t len = utf8_seq(p + i, s.n - i);
        if (len == 0)
            return error_set(err, CAIRN_INVALID_PARAMETER_VALUE, "%s is not valid UTF-8", what);
        if (len == 1 && (p[i] < 0x20 || p[i] == 0x7f))
            return error_set(err, CAIRN_INVALID_PARAMETER_VALUE,
                             "%s must not hold control characters", what);
        i += len;
    }
    return CAIRN_OK;
}

bool validate_token(msg_str s, size_t max)
{
    bool ok = s.n >= 1 && s.n <= max;
    for (uint32_t i = 0; ok && i < s.n; i++)
        ok = (s.p[i] >= 'a' && s.p[i] <= 'z') || (s.p[i] >= '0' && s.p[i] <= '9') ||
             s.p[i] == '.' || s.p[i] == '_' || s.p[i] == '-';
    return ok;
}
