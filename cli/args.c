#include "args.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- options ---- */

static const opt_spec *find_spec(const opt_spec *specs, const char *name, size_t len)
{
    for (; specs && specs->name; specs++)
        if (strlen(specs->name) == len && strncmp(specs->name, name, len) == 0)
            return specs;
    return NULL;
}

static bool is_builtin(const char *a, parsed_args *out)
{
    if (strcmp(a, "--json") == 0)
        return out->json = true;
    if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0)
        return out->help = true;
    return false;
}

/* One option at argv[*i]; advances *i past its value. */
static const char *parse_option(int argc, char **argv, int *i, const opt_spec *specs,
                                parsed_args *out, char *why, size_t cap)
{
    const char *a = argv[*i];
    const char *eq = strncmp(a, "--", 2) == 0 ? strchr(a, '=') : NULL;
    size_t len = eq ? (size_t)(eq - a) : strlen(a);
    const opt_spec *spec = find_spec(specs, a, len);
    const char *value = NULL;
    if (!spec) {
        snprintf(why, cap, "unknown option '%.*s'", (int)len, a);
        return why;
    }
    if (spec->has_value && eq)
        value = eq + 1;
    else if (spec->has_value && *i + 1 < argc)
        value = argv[++*i];
    if (spec->has_value && !value) {
        snprintf(why, cap, "option '%s' needs a value", spec->name);
        return why;
    }
    if (!spec->has_value && eq) {
        snprintf(why, cap, "option '%s' takes no value", spec->name);
        return why;
    }
    out->opts[out->n_opts++] = (opt_value){spec->name, value};
    return NULL;
}

const char *args_parse(int argc, char **argv, const opt_spec *specs, bool stop_at_positional,
                       parsed_args *out, char *why, size_t cap)
{
    bool only_positional = false;
    memset(out, 0, sizeof *out);
    out->opts = calloc((size_t)argc + 1, sizeof *out->opts);
    out->pos = calloc((size_t)argc + 1, sizeof *out->pos);
    out->next = argc;
    if (!out->opts || !out->pos) {
        snprintf(why, cap, "out of memory");
        return why;
    }
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        bool positional = only_positional || a[0] != '-' || a[1] == '\0';
        if (positional && stop_at_positional) {
            out->next = i;
            return NULL;
        }
        if (positional)
            out->pos[out->n_pos++] = argv[i];
        else if (strcmp(a, "--") == 0)
            only_positional = true;
        else if (!is_builtin(a, out) && parse_option(argc, argv, &i, specs, out, why, cap))
            return why;
    }
    return NULL;
}

void args_free(parsed_args *a)
{
    free(a->opts);
    free(a->pos);
    memset(a, 0, sizeof *a);
}

const char *args_get(const parsed_args *a, const char *name)
{
    const char *v = NULL;
    for (size_t i = 0; i < a->n_opts; i++)
        if (strcmp(a->opts[i].name, name) == 0)
            v = a->opts[i].value;
    return v;
}

size_t args_count(const parsed_args *a, const char *name)
{
    size_t n = 0;
    for (size_t i = 0; i < a->n_opts; i++)
        n += strcmp(a->opts[i].name, name) == 0;
    return n;
}

bool args_has(const parsed_args *a, const char *name)
{
    return args_count(a, name) > 0;
}

/* ---- values ---- */

static double unit_ms(const char *unit)
{
    static const struct {
        const char *name;
        double ms;
    } units[] = {{"", 1000}, {"s", 1000}, {"ms", 1}, {"m", 60000}, {"h", 3600000}};
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++)
        if (strcmp(unit, units[i].name) == 0)
            return units[i].ms;
    return 0;
}

const char *args_duration_ms(const char *s, int *ms)
{
    /* Plain decimal only: strtod alone would also take 0x10, 1e3 and inf. */
    if (!s)
        return "expected a duration such as 500ms, 5s, 2m or a number of seconds";
    size_t whole = strspn(s, "0123456789"), len = whole, fraction = 0;
    if (s[len] == '.') {
        fraction = strspn(s + len + 1, "0123456789");
        len += 1 + fraction;
    }
    double mult = unit_ms(s + len);
    if (whole + fraction == 0 || mult == 0)
        return "expected a duration such as 500ms, 5s, 2m or a number of seconds";
    double v = strtod(s, NULL);
    double total = v * mult;
    if (total < 1)
        return "a duration must be at least 1ms";
    if (total > INT_MAX)
        return "duration too long";
    *ms = (int)(total + 0.5); /* no llround: the build does not link libm */
    return NULL;
}

const char *args_fanout_timeout_ms(const char *s, int *ms)
{
    int v;
    const char *bad = args_duration_ms(s, &v);
    if (bad)
        return bad;
    if (v > ARGS_FANOUT_MAX_MS)
        return "the agents' time is at most 10m";
    *ms = v;
    return NULL;
}

const char *args_uint(const char *s, uint64_t *out)
{
    char *end;
    if (!s || !isdigit((unsigned char)s[0]))
        return "expected a non-negative integer";
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end)
        return errno ? "number too large" : "expected a non-negative integer";
    *out = v;
    return NULL;
}

const char *args_positive_count(const parsed_args *a, const char *name, uint64_t *out)
{
    if (!args_has(a, name))
        return NULL;
    const char *why = args_uint(args_get(a, name), out);
    return why ? why : *out == 0 ? "must be at least 1" : NULL;
}

const char *args_kv(char *arg, cairn_kv *out)
{
    char *eq = arg ? strchr(arg, '=') : NULL;
    if (!eq)
        return "expected KEY=VALUE";
    if (eq == arg)
        return "empty key in KEY=VALUE";
    *eq = '\0';
    out->key = arg;
    out->value = eq + 1;
    return NULL;
}

static bool parse_step(const char *s, int64_t *step)
{
    char *end;
    if (!*s || isspace((unsigned char)*s))
        return false;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || *end)
        return false;
    *step = v;
    return true;
}

const char *args_metric(char *arg, cairn_metric *out)
{
    char *eq = arg ? strchr(arg, '=') : NULL, *end;
    if (!eq)
        return "expected KEY=VALUE[@STEP]";
    if (eq == arg)
        return "empty key in KEY=VALUE[@STEP]";
    char *at = strrchr(eq + 1, '@');
    char *value_end = at ? at : eq + 1 + strlen(eq + 1);
    if (value_end == eq + 1)
        return "missing VALUE in KEY=VALUE[@STEP]";
    /* Decimal, or nan/inf as a metric may hold them: strtod alone also takes
     * 0x10 as 16, and turns 1e999 into an infinity nobody wrote. */
    const char *digits = eq + 1 + (eq[1] == '-' || eq[1] == '+');
    if (isspace((unsigned char)eq[1]) || (digits[0] == '0' && (digits[1] == 'x' || digits[1] == 'X')))
        return "VALUE is not a decimal number";
    errno = 0;
    double v = strtod(eq + 1, &end);
    if (end != value_end)
        return "VALUE is not a number";
    if (errno == ERANGE && isinf(v))
        return "VALUE is beyond the range of a double";
    int64_t step = 0;
    if (at && !parse_step(at + 1, &step))
        return "STEP is not an integer";
    *eq = '\0';
    *out = (cairn_metric){.key = arg, .value = v, .step = step, .timestamp = 0};
    return NULL;
}
