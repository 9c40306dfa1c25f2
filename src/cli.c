#include "nndist/cli.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static nnd_status parse_u64(const char *flag, const char *text, uint64_t min, uint64_t *out)
{
    const char *p = text;
    while (*p == ' ') p++;
    if (*p == '\0')
        return nnd_err_set(NND_ERR_USAGE, "--%s: missing value; expected an integer >= %llu", flag,
                           (unsigned long long)min);
    if (*p == '-' || *p == '+')
        return nnd_err_set(NND_ERR_USAGE, "--%s: '%s' is not allowed; expected an integer >= %llu",
                           flag, text, (unsigned long long)min);
    errno = 0;
    char *end = NULL;
    unsigned long long v = strtoull(p, &end, 10);
    if (end == p || *end != '\0')
        return nnd_err_set(NND_ERR_USAGE,
                           "--%s: '%s' is not a whole number; expected an integer "
                           ">= %llu",
                           flag, text, (unsigned long long)min);
    if (errno == ERANGE || v > ((uint64_t)1 << 53))
        return nnd_err_set(NND_ERR_USAGE, "--%s: '%s' is too large", flag, text);
    if (v < min)
        return nnd_err_set(NND_ERR_USAGE, "--%s: %llu is too small; expected an integer >= %llu",
                           flag, v, (unsigned long long)min);
    *out = v;
    return NND_OK;
}

static nnd_status parse_double(const char *flag, const char *text, int positive, double *out)
{
    const char *what = positive ? "a positive number" : "a number >= 0";
    if (*text == '\0')
        return nnd_err_set(NND_ERR_USAGE, "--%s: missing value; expected %s", flag, what);
    errno = 0;
    char *end = NULL;
    double v = strtod(text, &end);
    if (end == text || *end != '\0')
        return nnd_err_set(NND_ERR_USAGE, "--%s: '%s' is not a number; expected %s", flag, text,
                           what);
    if (!isfinite(v) || errno == ERANGE)
        return nnd_err_set(NND_ERR_USAGE, "--%s: '%s' is out of range; expected %s", flag, text,
                           what);
    if (positive ? !(v > 0.0) : !(v >= 0.0))
        return nnd_err_set(NND_ERR_USAGE, "--%s: %s is not allowed; expected %s", flag, text, what);
    *out = v;
    return NND_OK;
}

static nnd_status parse_sizes(const char *flag, const char *text, nnd_cli_sizes *out)
{
    out->n = 0;
    const char *p = text;
    for (;;) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        char item[32];
        if (len == 0 || len >= sizeof item)
            return nnd_err_set(NND_ERR_USAGE,
                               "--%s: '%s' has an empty or overlong item; expected "
                               "comma-separated positive integers such as 784,512,10",
                               flag, text);
        if (out->n == NND_CLI_MAX_SIZES)
            return nnd_err_set(NND_ERR_USAGE, "--%s: more than %d items", flag, NND_CLI_MAX_SIZES);
        memcpy(item, p, len);
        item[len] = '\0';
        uint64_t v;
        nnd_status st = parse_u64(flag, item, 1, &v);
        if (st)
            return nnd_err_set(NND_ERR_USAGE, "--%s: item '%s' of '%s' is not a positive integer",
                               flag, item, text);
        out->v[out->n++] = (size_t)v;
        if (!comma) break;
        p = comma + 1;
    }
    return NND_OK;
}

nnd_status nnd_cli_parse_value(const char *flag, nnd_opt_kind kind, const char *text, void *dest)
{
    switch (kind) {
    case NND_OPT_STRING:
        if (*text == '\0') return nnd_err_set(NND_ERR_USAGE, "--%s: empty value", flag);
        *(const char **)dest = text;
        return NND_OK;
    case NND_OPT_COUNT:
        return parse_u64(flag, text, 1, dest);
    case NND_OPT_UINT:
        return parse_u64(flag, text, 0, dest);
    case NND_OPT_POSITIVE:
        return parse_double(flag, text, 1, dest);
    case NND_OPT_NONNEG:
        return parse_double(flag, text, 0, dest);
    case NND_OPT_SIZES:
        return parse_sizes(flag, text, dest);
    case NND_OPT_FLAG:
        *(int *)dest = 1;
        return NND_OK;
    }
    return nnd_err_set(NND_ERR_INTERNAL, "--%s: unknown option kind", flag);
}

static const nnd_opt *find(const nnd_opt *opts, const char *name, size_t len)
{
    for (const nnd_opt *o = opts; o->name; o++)
        if (strlen(o->name) == len && strncmp(o->name, name, len) == 0) return o;
    return NULL;
}

nnd_status nnd_cli_parse(const nnd_opt *opts, int argc, char **argv, int first, int *help)
{
    *help = 0;
    for (int i = first; i < argc; i++) {
        const char *a = argv[i];
        if (nnd_cli_is_help(a)) {
            *help = 1;
            return NND_OK;
        }
        if (strncmp(a, "--", 2) != 0 || a[2] == '\0')
            return nnd_err_set(NND_ERR_USAGE,
                               "unexpected argument '%s'; options start with --"
                               " (see --help)",
                               a);
        const char *name = a + 2, *eq = strchr(name, '=');
        size_t len = eq ? (size_t)(eq - name) : strlen(name);
        const nnd_opt *o = find(opts, name, len);
        if (!o)
            return nnd_err_set(NND_ERR_USAGE, "unknown option '--%.*s' (see --help)", (int)len,
                               name);
        if (o->given) *o->given = 1;
        if (o->kind == NND_OPT_FLAG) {
            if (eq)
                return nnd_err_set(NND_ERR_USAGE, "--%s takes no value, got '%s'", o->name, eq + 1);
            *(int *)o->dest = 1;
            continue;
        }
        const char *value;
        if (eq) {
            value = eq + 1;
        } else {
            if (i + 1 >= argc)
                return nnd_err_set(NND_ERR_USAGE, "--%s needs a value (%s)", o->name,
                                   o->arg ? o->arg : "VALUE");
            value = argv[++i];
        }
        nnd_status st = nnd_cli_parse_value(o->name, o->kind, value, o->dest);
        if (st) return st;
    }
    return NND_OK;
}

int nnd_cli_is_help(const char *arg)
{
    return strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0;
}

void nnd_cli_print_help(FILE *out, const char *usage, const char *description, const nnd_opt *opts)
{
    fprintf(out, "usage: %s\n\n%s\n", usage, description);
    if (!opts->name) return; /* a command of positional arguments only */
    fprintf(out, "\noptions:\n");
    for (const nnd_opt *o = opts; o->name; o++) {
        char left[64];
        snprintf(left, sizeof left, "--%s%s%s", o->name, o->arg ? " " : "", o->arg ? o->arg : "");
        fprintf(out, "  %-26s %s\n", left, o->help);
    }
    fprintf(out, "  %-26s %s\n", "--help", "show this help");
}

nnd_status nnd_cli_parse_command(const nnd_opt *opts, int argc, char **argv, int first,
                                 const char *usage, const char *description, int rank, int *help)
{
    nnd_status st = nnd_cli_parse(opts, argc, argv, first, help);
    if (!st && *help && rank == 0) nnd_cli_print_help(stdout, usage, description, opts);
    return st;
}
