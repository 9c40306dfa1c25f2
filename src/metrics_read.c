#include "nndist/metrics_read.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "metrics_read_internal.h"
#include "nndist/csv.h"
#include "nndist/metrics.h"

/* What a file was expected to be, by its kind. */
static const char *const g_expected[2] = {
    "a metrics CSV as nndist train --metrics writes (a header naming at least epoch and "
    "train_loss, then one row per epoch)",
    "JSON lines as nndist train --metrics writes to a .jsonl file (one object per line with at "
    "least the keys epoch and train_loss, every line the keys of the first in its order)"};

/* The columns every row must fill: without them there is no curve to draw. */
static const char *const g_required[2] = {"epoch", "train_loss"};

const char *nnd_metrics_expected(const nnd_metrics_table *t)
{
    return g_expected[t->json != 0];
}

/* 1 for a finite number (spaces around it allowed), 0 for an empty field, -1 for anything else:
 * a text, nan, inf, or a number too large for a double (strtod's inf). A tiny number that
 * underflows is kept: it is finite, and a loss can be that small. */
static int parse_number(const char *s, double *v)
{
    while (isspace((unsigned char)*s)) s++;
    if (*s == '\0') return 0;
    char *end;
    double x = strtod(s, &end);
    if (end == s) return -1;
    while (isspace((unsigned char)*end)) end++;
    if (*end != '\0' || !isfinite(x)) return -1;
    *v = x;
    return 1;
}

static long find_column(const nnd_metrics_table *t, const char *name)
{
    for (size_t j = 0; j < t->n_cols; j++)
        if (strcmp(t->names[j], name) == 0) return (long)j;
    return -1;
}

/* The header: names with the spaces around them trimmed (a hand-written "epoch, train_loss"). */
static nnd_status read_header(const nnd_csv_reader *r, nnd_metrics_table *t, long req[2])
{
    const char *path = t->path;
    size_t n = r->n_fields, numeric = 0;
    double ignored;
    for (size_t j = 0; j < n; j++) numeric += parse_number(nnd_csv_field(r, j), &ignored) >= 0;
    /* A first line of numbers (and empty fields) is a row: the header is missing. */
    if (numeric == n)
        return nnd_err_set(NND_ERR_INPUT,
                           "%s: line %llu: no header (the line holds numbers, not column names); "
                           "expected %s",
                           path, (unsigned long long)r->line, g_expected[0]);
    nnd_status st = nnd_metrics_read_columns(t, n);
    if (st) return st;
    for (size_t j = 0; j < n; j++) {
        const char *s = nnd_csv_field(r, j);
        while (isspace((unsigned char)*s)) s++;
        size_t len = strlen(s);
        while (len > 0 && isspace((unsigned char)s[len - 1])) len--;
        if (!(t->names[j] = strndup(s, len)))
            return nnd_err_set(NND_ERR_NOMEM, "%s: out of memory for the header", path);
        /* Two columns of one name: which one a reader would get is arbitrary, so refuse. */
        for (size_t i = 0; i < j; i++)
            if (len > 0 && strcmp(t->names[i], t->names[j]) == 0)
                return nnd_err_set(NND_ERR_INPUT,
                                   "%s: line %llu: the column '%s' appears twice in the header",
                                   path, (unsigned long long)r->line, t->names[j]);
    }
    /* JSON lines under another name: the kind goes by the name, as train's does. */
    if (t->names[0][0] == '{')
        return nnd_err_set(NND_ERR_INPUT,
                           "%s: line %llu: a JSON object, not a CSV header; JSON lines are read "
                           "from a name ending in .jsonl, as train writes them",
                           path, (unsigned long long)r->line);
    return nnd_metrics_read_required(t, r->line, req);
}

nnd_status nnd_metrics_read_columns(nnd_metrics_table *t, size_t n)
{
    const size_t m = n + (n == 0); /* calloc(0) may be NULL */
    t->names = calloc(m, sizeof *t->names);
    t->bad_line = calloc(m, sizeof *t->bad_line);
    t->bad_text = calloc(m, sizeof *t->bad_text);
    if (!t->names || !t->bad_line || !t->bad_text)
        return nnd_err_set(NND_ERR_NOMEM, "%s: out of memory for %zu columns", t->path, n);
    t->n_cols = n;
    return NND_OK;
}

nnd_status nnd_metrics_read_required(const nnd_metrics_table *t, uint64_t line, long req[2])
{
    req[0] = find_column(t, g_required[0]);
    req[1] = find_column(t, g_required[1]);
    if (req[0] >= 0 && req[1] >= 0) return NND_OK;
    const char *noun = t->json ? "key" : "column";
    return nnd_err_set(NND_ERR_INPUT, "%s: line %llu: the %s has no %s %s; expected %s", t->path,
                       (unsigned long long)line, t->json ? "first object" : "header",
                       req[0] < 0 && req[1] < 0 ? "'epoch' and no 'train_loss'"
                       : req[0] < 0             ? "'epoch'"
                                                : "'train_loss'",
                       noun, nnd_metrics_expected(t));
}

nnd_status nnd_metrics_read_row(nnd_metrics_table *t, size_t *cap, uint64_t line)
{
    if (t->n_rows < *cap) return NND_OK;
    size_t grown = *cap ? 2 * *cap : 64, n = t->n_cols + (t->n_cols == 0);
    if (grown > SIZE_MAX / sizeof(double) / n)
        return nnd_err_set(NND_ERR_NOMEM, "%s: too many rows", t->path);
    double *v = realloc(t->v, grown * n * sizeof *v);
    if (!v)
        return nnd_err_set(NND_ERR_NOMEM, "%s: out of memory at line %llu", t->path,
                           (unsigned long long)line);
    t->v = v;
    *cap = grown;
    return NND_OK;
}

nnd_status nnd_metrics_read_field(nnd_metrics_table *t, const long req[2], size_t j, uint64_t line,
                                  int kind, double v, const char *text, size_t len)
{
    const unsigned long long ln = line;
    const int shown = len < 40 ? (int)len : 40;
    t->v[t->n_rows * t->n_cols + j] = kind == 1 ? v : NAN;
    if ((long)j == req[0] || (long)j == req[1]) {
        if (kind == 0)
            return nnd_err_set(NND_ERR_INPUT, "%s: line %llu: %s is %s; expected a number", t->path,
                               ln, t->names[j], t->json ? "null" : "empty");
        if (kind < 0)
            return nnd_err_set(NND_ERR_INPUT,
                               "%s: line %llu: %s is '%.*s'; expected a finite number", t->path, ln,
                               t->names[j], shown, text);
    }
    /* Other columns: remembered, refused when asked for (nnd_metrics_column). */
    if (kind < 0 && t->bad_line[j] == 0) {
        t->bad_line[j] = line;
        if (!(t->bad_text[j] = strndup(text, (size_t)shown)))
            return nnd_err_set(NND_ERR_NOMEM, "%s: out of memory at line %llu", t->path, ln);
    }
    return NND_OK;
}

static nnd_status add_row(const nnd_csv_reader *r, nnd_metrics_table *t, const long req[2],
                          size_t *cap)
{
    if (r->n_fields != t->n_cols)
        return nnd_err_set(NND_ERR_INPUT,
                           "%s: line %llu: %zu field%s; expected %zu, as many as the header has "
                           "(a line cut short, or a stray comma?)",
                           t->path, (unsigned long long)r->line, r->n_fields,
                           r->n_fields == 1 ? "" : "s", t->n_cols);
    nnd_status st = nnd_metrics_read_row(t, cap, r->line);
    for (size_t j = 0; !st && j < t->n_cols; j++) {
        const char *s = nnd_csv_field(r, j);
        double v = NAN;
        int kind = parse_number(s, &v);
        st = nnd_metrics_read_field(t, req, j, r->line, kind, v, s, strlen(s));
    }
    if (!st) t->n_rows++;
    return st;
}

static nnd_status read_csv(nnd_metrics_table *t)
{
    nnd_csv_reader r;
    nnd_status st = nnd_csv_open(&r, t->path, ',');
    if (st) return st;
    int got = 0;
    long req[2] = {-1, -1};
    size_t cap = 0;
    st = nnd_csv_next(&r, &got);
    if (!st && !got)
        st = nnd_err_set(NND_ERR_INPUT, "%s: the file is empty; expected %s", t->path,
                         g_expected[0]);
    if (!st) st = read_header(&r, t, req);
    while (!st && !(st = nnd_csv_next(&r, &got)) && got) st = add_row(&r, t, req, &cap);
    nnd_csv_close(&r);
    return st;
}

nnd_status nnd_metrics_read(const char *path, nnd_metrics_table *t)
{
    memset(t, 0, sizeof *t);
    if (strlen(path) >= sizeof t->path)
        return nnd_err_set(NND_ERR_INPUT, "%.64s...: the file name is too long", path);
    snprintf(t->path, sizeof t->path, "%s", path);
    t->json = nnd_metrics_is_json(path);
    /* fopen takes a directory, and reading it only then fails: say what it is instead. */
    struct stat sb;
    if (stat(path, &sb) == 0 && S_ISDIR(sb.st_mode))
        return nnd_err_set(NND_ERR_INPUT, "%s: is a directory; expected %s", path,
                           nnd_metrics_expected(t));
    nnd_status st;
    if (t->json) {
        FILE *f = fopen(path, "rb");
        if (!f) return nnd_err_set(NND_ERR_INPUT, "%s: cannot open: %s", path, strerror(errno));
        st = nnd_metrics_read_jsonl(t, f);
        fclose(f);
    } else {
        st = read_csv(t);
    }
    if (st) nnd_metrics_table_free(t);
    return st;
}

nnd_status nnd_metrics_column(const nnd_metrics_table *t, const char *name, long *col)
{
    *col = find_column(t, name);
    if (*col >= 0 && t->bad_line[*col])
        return nnd_err_set(NND_ERR_INPUT,
                           "%s: line %llu: %s is '%s'; expected a finite number or %s", t->path,
                           (unsigned long long)t->bad_line[*col], name, t->bad_text[*col],
                           t->json ? "null" : "nothing");
    return NND_OK;
}

size_t nnd_metrics_count(const nnd_metrics_table *t, long col)
{
    size_t n = 0;
    if (col < 0) return 0;
    for (size_t i = 0; i < t->n_rows; i++) n += !isnan(nnd_metrics_value(t, i, (size_t)col));
    return n;
}

void nnd_metrics_table_free(nnd_metrics_table *t)
{
    for (size_t j = 0; j < t->n_cols; j++) {
        if (t->names) free(t->names[j]);
        if (t->bad_text) free(t->bad_text[j]);
    }
    free(t->names);
    free(t->bad_text);
    free(t->bad_line);
    free(t->v);
    memset(t, 0, sizeof *t);
}
