#include "nndist/csv.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "nndist/dataset_writer.h"
#include "nndist/guard.h"

/* ---- the record reader ---- */

nnd_status nnd_csv_open(nnd_csv_reader *r, const char *path, char delim)
{
    memset(r, 0, sizeof *r);
    r->path = path;
    r->delim = delim;
    r->next_line = 1;
    r->at_start = 1;
    r->f = fopen(path, "rb");
    if (!r->f) return nnd_err_set(NND_ERR_INPUT, "%s: cannot open: %s", path, strerror(errno));
    return NND_OK;
}

void nnd_csv_close(nnd_csv_reader *r)
{
    if (r->f) fclose(r->f);
    free(r->buf);
    free(r->start);
    memset(r, 0, sizeof *r);
}

const char *nnd_csv_field(const nnd_csv_reader *r, size_t i)
{
    return r->buf + r->start[i];
}

static int put(nnd_csv_reader *r, char c)
{
    if (r->len == r->cap) {
        size_t cap = r->cap ? 2 * r->cap : 256;
        char *b = realloc(r->buf, cap);
        if (!b) return -1;
        r->buf = b;
        r->cap = cap;
    }
    r->buf[r->len++] = c;
    return 0;
}

static int begin_field(nnd_csv_reader *r)
{
    if (r->n_fields == r->fields_cap) {
        size_t cap = r->fields_cap ? 2 * r->fields_cap : 16;
        size_t *s = realloc(r->start, cap * sizeof *s);
        if (!s) return -1;
        r->start = s;
        r->fields_cap = cap;
    }
    r->start[r->n_fields++] = r->len;
    return 0;
}

nnd_status nnd_csv_next(nnd_csv_reader *r, int *got)
{
    FILE *f = r->f;
    int c;
    *got = 0;
    if (r->at_start) { /* a UTF-8 byte-order mark, or back to the start */
        r->at_start = 0;
        unsigned char bom[3];
        size_t k = fread(bom, 1, 3, f);
        if (!(k == 3 && bom[0] == 0xef && bom[1] == 0xbb && bom[2] == 0xbf) &&
            fseek(f, 0, SEEK_SET) != 0)
            return nnd_err_set(NND_ERR_INPUT, "%s: cannot read it as a file (a pipe?)", r->path);
    }
    /* Blank lines between records are skipped. */
    while ((c = getc_unlocked(f)) == '\n' || c == '\r')
        if (c == '\n') r->next_line++;
    if (c == EOF) return ferror(f) ? nnd_err_set(NND_ERR_INPUT, "%s: read error", r->path) : NND_OK;
    r->line = r->next_line;
    r->len = r->n_fields = 0;
    int nomem = begin_field(r);
    for (;;) {
        if (c == '"') { /* a quoted field: up to the closing quote */
            for (;;) {
                c = getc_unlocked(f);
                if (c == EOF)
                    return nnd_err_set(NND_ERR_INPUT,
                                       "%s: line %llu: a quoted field is not closed before the end "
                                       "of the file",
                                       r->path, (unsigned long long)r->line);
                if (c == '\n') r->next_line++;
                if (c == '"' && (c = getc_unlocked(f)) != '"') break; /* "" is a quote */
                nomem |= put(r, (char)c);
            }
            if (c == '\r') c = getc_unlocked(f);
            if (c != r->delim && c != '\n' && c != EOF)
                return nnd_err_set(NND_ERR_INPUT,
                                   "%s: line %llu: text after the closing quote of field %zu",
                                   r->path, (unsigned long long)r->next_line, r->n_fields);
        } else {
            while (c != r->delim && c != '\n' && c != EOF) {
                if (c == '\r') { /* CRLF: the CR ends the line; elsewhere it is kept */
                    int d = getc_unlocked(f);
                    if (d == '\n' || d == EOF) {
                        c = d;
                        break;
                    }
                    ungetc(d, f);
                }
                nomem |= put(r, (char)c);
                c = getc_unlocked(f);
            }
        }
        nomem |= put(r, '\0');
        if (c == '\n' || c == EOF) break;
        nomem |= begin_field(r); /* after a delimiter */
        c = getc_unlocked(f);
    }
    if (c == '\n') r->next_line++;
    if (nomem)
        return nnd_err_set(NND_ERR_NOMEM, "%s: line %llu: out of memory", r->path,
                           (unsigned long long)r->line);
    *got = 1;
    return NND_OK;
}

/* ---- values ---- */

/* The number in s (spaces around it allowed): 0, or -1 for a missing value, -2 for an infinity
 * or a text. */
static int parse_value(const char *s, double *v)
{
    while (isspace((unsigned char)*s)) s++;
    size_t n = strlen(s);
    while (n > 0 && isspace((unsigned char)s[n - 1])) n--;
    if (n == 0 || (n == 2 && strncasecmp(s, "NA", 2) == 0) ||
        (n == 3 && strncasecmp(s, "NaN", 3) == 0) || (n == 4 && strncasecmp(s, "null", 4) == 0))
        return -1;
    char *end;
    errno = 0;
    *v = strtod(s, &end);
    if (end != s + n || !isfinite(*v)) return -2;
    return 0;
}

/* ---- the columns ---- */

typedef enum { COL_FEATURE, COL_LABEL, COL_TARGET } col_role;

typedef struct {
    const nnd_csv_options *o;
    size_t n_cols, n_features, n_targets;
    col_role *role;
    char **names; /* the header's names, or NULL */
    int label_col;
} layout;

/* The column that `spec` names (a header name, or an index, negative from the end): its index,
 * or -1 with the message set. */
static long find_column(const layout *L, const char *spec, const char *flag)
{
    for (size_t j = 0; L->names && j < L->n_cols; j++)
        if (strcmp(L->names[j], spec) == 0) return (long)j;
    char *end;
    long i = strtol(spec, &end, 10);
    if (*spec && *end == '\0') {
        long j = i < 0 ? (long)L->n_cols + i : i;
        if (j >= 0 && j < (long)L->n_cols) return j;
    }
    nnd_err_set(NND_ERR_USAGE,
                "%s %s: %s; expected a column name of the header or an index from 0 to %zu "
                "(negative: from the end)",
                flag, spec, L->names ? "no such column" : "not an index (the file has no header)",
                L->n_cols - 1);
    return -1;
}

static nnd_status make_layout(layout *L, const nnd_csv_options *o, const nnd_csv_reader *r)
{
    L->o = o;
    L->n_cols = r->n_fields;
    L->label_col = -1;
    L->role = calloc(L->n_cols, sizeof *L->role);
    if (!L->role) return nnd_err_set(NND_ERR_NOMEM, "out of memory");
    if (o->header) {
        L->names = calloc(L->n_cols, sizeof *L->names);
        if (!L->names) return nnd_err_set(NND_ERR_NOMEM, "out of memory");
        for (size_t j = 0; j < L->n_cols; j++)
            if (!(L->names[j] = strdup(nnd_csv_field(r, j))))
                return nnd_err_set(NND_ERR_NOMEM, "out of memory");
    }
    if (o->targets) {
        char *list = strdup(o->targets), *save = NULL;
        if (!list) return nnd_err_set(NND_ERR_NOMEM, "out of memory");
        for (char *t = strtok_r(list, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
            long j = find_column(L, t, "--target-columns");
            if (j < 0) {
                free(list);
                return NND_ERR_USAGE;
            }
            L->role[j] = COL_TARGET;
        }
        free(list);
    } else if (!o->no_label) {
        long j = find_column(L, o->label ? o->label : "-1", "--label-column");
        if (j < 0) return NND_ERR_USAGE;
        L->role[j] = COL_LABEL;
        L->label_col = (int)j;
    }
    for (size_t j = 0; j < L->n_cols; j++) {
        L->n_features += L->role[j] == COL_FEATURE;
        L->n_targets += L->role[j] == COL_TARGET;
    }
    if (L->n_features == 0)
        return nnd_err_set(NND_ERR_INPUT, "%s: no feature column is left (%zu columns in all)",
                           o->input, L->n_cols);
    return NND_OK;
}

static void free_layout(layout *L)
{
    for (size_t j = 0; L->names && j < L->n_cols; j++) free(L->names[j]);
    free(L->names);
    free(L->role);
}

/* Column j for messages: 'name' (column j) or column j. */
static const char *column_text(const layout *L, size_t j, char *buf, size_t size)
{
    if (L->names)
        snprintf(buf, size, "column '%s' (index %zu)", L->names[j], j);
    else
        snprintf(buf, size, "column %zu", j);
    return buf;
}

/* One record into the row's features, label and targets (any may be NULL: checking only). */
static nnd_status parse_record(const layout *L, const nnd_csv_reader *r, float *x, int32_t *label,
                               float *t, int32_t *max_label)
{
    char col[320];
    if (r->n_fields != L->n_cols)
        return nnd_err_set(NND_ERR_INPUT, "%s: line %llu has %zu fields; expected %zu%s", r->path,
                           (unsigned long long)r->line, r->n_fields, L->n_cols,
                           L->names ? " (as the header)" : " (as the first line)");
    size_t fi = 0, ti = 0;
    for (size_t j = 0; j < L->n_cols; j++) {
        double v;
        int rc = parse_value(nnd_csv_field(r, j), &v);
        if (rc == -1)
            return nnd_err_set(NND_ERR_INPUT,
                               "%s: line %llu, %s: a missing value ('%s'); fill or drop it first",
                               r->path, (unsigned long long)r->line,
                               column_text(L, j, col, sizeof col), nnd_csv_field(r, j));
        if (rc == -2)
            return nnd_err_set(NND_ERR_INPUT, "%s: line %llu, %s: '%.40s' is not a finite number",
                               r->path, (unsigned long long)r->line,
                               column_text(L, j, col, sizeof col), nnd_csv_field(r, j));
        if (L->role[j] == COL_LABEL) {
            if (!(v >= 0.0 && v <= INT32_MAX - 1 && v == floor(v)))
                return nnd_err_set(NND_ERR_INPUT,
                                   "%s: line %llu, %s: label '%s' is not a class number (an "
                                   "integer >= 0); for regression targets use --target-columns",
                                   r->path, (unsigned long long)r->line,
                                   column_text(L, j, col, sizeof col), nnd_csv_field(r, j));
            if (label) *label = (int32_t)v;
            if ((int32_t)v > *max_label) *max_label = (int32_t)v;
        } else if (L->role[j] == COL_TARGET) {
            if (t) t[ti] = (float)v;
            ti++;
        } else {
            if (x) x[fi] = (float)v;
            fi++;
        }
    }
    return NND_OK;
}

/* Opens the file and reads the header (when there is one) and the layout from the first
 * record; *first = 1 when the first record is data (no header) and is in r. */
static nnd_status start(const nnd_csv_options *o, nnd_csv_reader *r, layout *L, int *first)
{
    int got;
    nnd_status st = nnd_csv_open(r, o->input, o->delim);
    if (!st) st = nnd_csv_next(r, &got);
    if (!st && !got) st = nnd_err_set(NND_ERR_INPUT, "%s: the file holds no rows", o->input);
    if (!st && L) st = make_layout(L, o, r);
    *first = !o->header;
    return st;
}

/* Pass 1: every record checked, the rows counted. */
static nnd_status check_all(const nnd_csv_options *o, layout *L, nnd_csv_result *res)
{
    nnd_csv_reader r = {0};
    int got = 1, first;
    int32_t max_label = -1;
    nnd_status st = start(o, &r, L, &first);
    if (!st && !first) st = nnd_csv_next(&r, &got);
    while (!st && got) {
        if (!(res->rows & 0xffff) && nnd_guard_signal_pending()) {
            st = nnd_err_set(NND_ERR_INTERRUPTED, "stopped by a signal; nothing was written");
            break;
        }
        st = parse_record(L, &r, NULL, NULL, NULL, &max_label);
        if (!st) res->rows++;
        if (!st) st = nnd_csv_next(&r, &got);
    }
    nnd_csv_close(&r);
    if (!st && res->rows == 0)
        st = nnd_err_set(NND_ERR_INPUT, "%s: the file holds a header but no rows", o->input);
    res->features = L->n_features;
    res->targets = L->n_targets;
    res->classes = max_label + 1;
    return st;
}

/* Pass 2: the rows in blocks into the writer. */
static nnd_status write_all(const nnd_csv_options *o, const layout *L, nnd_dataset_writer *w,
                            size_t block)
{
    nnd_csv_reader r = {0};
    int got = 1, first;
    int32_t max_label = -1;
    float *x = malloc(block * L->n_features * sizeof *x);
    float *t = malloc((block * L->n_targets + 1) * sizeof *t);
    int32_t *y = malloc(block * sizeof *y);
    nnd_status st = x && t && y ? start(o, &r, NULL, &first)
                                : nnd_err_set(NND_ERR_NOMEM, "out of memory for a block");
    if (!st && !first) st = nnd_csv_next(&r, &got);
    size_t done = 0, in_block = 0;
    while (!st && got) {
        st = parse_record(L, &r, x + in_block * L->n_features, y + in_block,
                          t + in_block * L->n_targets, &max_label);
        if (!st && ++in_block == block) {
            st = nnd_dataset_writer_rows(w, done, in_block, x, y, t);
            done += in_block;
            in_block = 0;
            if (!st && nnd_guard_signal_pending())
                st = nnd_err_set(NND_ERR_INTERRUPTED, "stopped by a signal; nothing was written");
        }
        if (!st) st = nnd_csv_next(&r, &got);
    }
    if (!st) st = nnd_dataset_writer_rows(w, done, in_block, x, y, t);
    if (!st && done + in_block != w->n)
        st = nnd_err_set(NND_ERR_INPUT, "%s: changed while it was read (%zu rows, then %zu)",
                         o->input, w->n, done + in_block);
    nnd_csv_close(&r);
    free(x);
    free(t);
    free(y);
    return st;
}

nnd_status nnd_csv_convert(const nnd_csv_options *o, nnd_csv_result *res)
{
    memset(res, 0, sizeof *res);
    struct stat si, so;
    if (stat(o->input, &si) == 0 && stat(o->out, &so) == 0 && si.st_dev == so.st_dev &&
        si.st_ino == so.st_ino)
        return nnd_err_set(NND_ERR_USAGE, "--out %s is the input file", o->out);
    layout L = {0};
    nnd_status st = check_all(o, &L, res);
    if (!st) {
        size_t block = o->block_rows ? o->block_rows
                                     : ((size_t)8 << 20) / ((L.n_cols + 1) * sizeof(float)) + 1;
        nnd_dataset_writer w;
        nnd_y_kind kind = L.n_targets        ? NND_Y_TARGETS
                          : L.label_col >= 0 ? NND_Y_LABELS
                                             : NND_Y_NONE;
        st = nnd_dataset_writer_open(&w, o->out, o->input, res->rows, L.n_features, kind,
                                     L.n_targets);
        if (!st) st = write_all(o, &L, &w, block);
        if (!st) st = nnd_dataset_writer_commit(&w);
        nnd_dataset_writer_abort(&w);
    }
    free_layout(&L);
    return st;
}
