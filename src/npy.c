#include "nndist/npy.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "nndist/dataset_writer.h"
#include "nndist/guard.h"

/* The value after `'key':` in the header dict, or NULL. */
static const char *after_key(const char *h, const char *key)
{
    char pat[32];
    snprintf(pat, sizeof pat, "'%s':", key);
    const char *p = strstr(h, pat);
    if (!p) return NULL;
    p += strlen(pat);
    while (*p == ' ') p++;
    return p;
}

static nnd_status bad(const nnd_npy *a, const char *what)
{
    return nnd_err_set(NND_ERR_INPUT, "%s: %s", a->path, what);
}

/* The header dict: descr, fortran_order, shape. */
static nnd_status parse_header(nnd_npy *a, const char *h)
{
    const char *d = after_key(h, "descr"), *fo = after_key(h, "fortran_order");
    const char *sh = after_key(h, "shape");
    if (!d || !fo || !sh) return bad(a, "not a .npy header (no descr, fortran_order or shape)");
    if (*d != '\'')
        return bad(a, "a structured dtype; expected one of bool, int8..int64, uint8..uint64, "
                      "float32, float64");
    char order = d[1], kind = d[2];
    long item = strtol(d + 3, NULL, 10);
    int little = 1;
    little = *(const char *)&little;
    int known =
        (kind == 'b' && item == 1) ||
        ((kind == 'i' || kind == 'u') && item >= 1 && item <= 8 && (item & (item - 1)) == 0) ||
        (kind == 'f' && (item == 4 || item == 8));
    if (!known || !(order == '<' || order == '>' || order == '|' || order == '='))
        return nnd_err_set(NND_ERR_INPUT,
                           "%s: dtype '%.*s': expected bool, int8..int64, uint8..uint64, float32 "
                           "or float64",
                           a->path, (int)strcspn(d + 1, "'"), d + 1);
    a->kind = kind;
    a->item = (size_t)item;
    a->swap = item > 1 && ((order == '<' && !little) || (order == '>' && little));
    a->fortran = strncmp(fo, "True", 4) == 0;
    if (*sh != '(') return bad(a, "no shape tuple in the header");
    size_t dims[3];
    int nd = 0;
    for (const char *p = sh + 1; *p && *p != ')';) {
        while (*p == ' ' || *p == ',') p++;
        if (*p == ')') break;
        char *end;
        unsigned long long v = strtoull(p, &end, 10);
        if (end == p) return bad(a, "an unreadable shape in the header");
        if (nd < 3) dims[nd] = (size_t)v;
        nd++; /* (all counted, for the message) */
        p = end;
    }
    if (nd < 1 || nd > 2)
        return nnd_err_set(NND_ERR_INPUT, "%s: %d dimensions; expected (N,) or (N, D)", a->path,
                           nd);
    a->ndim = nd;
    a->rows = dims[0];
    a->cols = nd == 2 ? dims[1] : 1;
    if (a->rows == 0 || a->cols == 0) return bad(a, "an empty array");
    return NND_OK;
}

nnd_status nnd_npy_open(nnd_npy *a, const char *path)
{
    memset(a, 0, sizeof *a);
    a->path = path;
    a->f = fopen(path, "rb");
    if (!a->f) return nnd_err_set(NND_ERR_INPUT, "%s: cannot open: %s", path, strerror(errno));
    unsigned char m[12];
    if (fread(m, 1, 10, a->f) != 10 || memcmp(m, "\x93NUMPY", 6) != 0)
        return bad(a, "not a .npy file (no \\x93NUMPY magic)");
    if (m[6] < 1 || m[6] > 3) return bad(a, "a .npy format version other than 1, 2 or 3");
    size_t hlen = (size_t)m[8] | (size_t)m[9] << 8, pre = 10;
    if (m[6] >= 2) {
        if (fread(m + 10, 1, 2, a->f) != 2) return bad(a, "a truncated header");
        hlen |= (size_t)m[10] << 16 | (size_t)m[11] << 24;
        pre = 12;
    }
    if (hlen > (1u << 20)) return bad(a, "a header of more than 1 MB");
    char *h = malloc(hlen + 1);
    if (!h) return nnd_err_set(NND_ERR_NOMEM, "%s: out of memory", path);
    nnd_status st = fread(h, 1, hlen, a->f) == hlen ? NND_OK : bad(a, "a truncated header");
    h[hlen] = '\0';
    if (!st) st = parse_header(a, h);
    free(h);
    if (st) return st;
    a->data = (long)(pre + hlen);
    struct stat s;
    double need = (double)a->data + (double)a->rows * (double)a->cols * (double)a->item;
    if (fstat(fileno(a->f), &s) == 0 && (double)s.st_size < need)
        return nnd_err_set(NND_ERR_INPUT,
                           "%s: truncated: shape (%zu, %zu) needs %.0f bytes, the file has %lld",
                           path, a->rows, a->cols, need, (long long)s.st_size);
    return NND_OK;
}

void nnd_npy_close(nnd_npy *a)
{
    if (a->f) fclose(a->f);
    memset(a, 0, sizeof *a);
}

/* n elements of the file's dtype at src to doubles. */
static void to_double(const nnd_npy *a, const unsigned char *src, size_t n, double *out)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char b[8];
        for (size_t k = 0; k < a->item; k++)
            b[k] = src[i * a->item + (a->swap ? a->item - 1 - k : k)];
        double v = 0.0;
        if (a->kind == 'f' && a->item == 4) {
            float f;
            memcpy(&f, b, 4);
            v = f;
        } else if (a->kind == 'f') {
            memcpy(&v, b, 8);
        } else if (a->kind == 'u' || a->kind == 'b') {
            uint64_t u = 0;
            memcpy(&u, b, a->item); /* (little-endian host: the low bytes) */
            v = (double)u;
        } else {
            int64_t s = 0;
            memcpy(&s, b, a->item);
            int shift = 64 - 8 * (int)a->item; /* sign-extend */
            v = (double)(int64_t)((uint64_t)s << shift) / (double)((uint64_t)1 << shift);
        }
        out[i] = v;
    }
}

nnd_status nnd_npy_rows(nnd_npy *a, size_t i0, size_t n, double *out)
{
    size_t runs = a->fortran ? a->cols : 1, len = a->fortran ? n : n * a->cols;
    unsigned char *buf = malloc(len * a->item + 1);
    double *col = a->fortran ? malloc(n * sizeof *col + 1) : NULL;
    nnd_status st =
        buf && (col || !a->fortran) ? NND_OK : nnd_err_set(NND_ERR_NOMEM, "out of memory");
    for (size_t j = 0; !st && j < runs; j++) {
        size_t at = a->fortran ? j * a->rows + i0 : i0 * a->cols;
        if (fseek(a->f, a->data + (long)(at * a->item), SEEK_SET) != 0 ||
            fread(buf, a->item, len, a->f) != len) {
            st = nnd_err_set(NND_ERR_INPUT, "%s: cannot read rows %zu to %zu", a->path, i0, i0 + n);
            break;
        }
        if (!a->fortran) {
            to_double(a, buf, len, out);
        } else {
            to_double(a, buf, n, col);
            for (size_t i = 0; i < n; i++) out[i * a->cols + j] = col[i];
        }
    }
    free(buf);
    free(col);
    return st;
}

/* ---- the conversion ---- */

/* Every value of rows [i0, i0 + n) finite, and as labels (labels) whole numbers >= 0. */
static nnd_status check_values(const nnd_npy *a, const double *v, size_t i0, size_t n, int labels,
                               int32_t *max_label)
{
    for (size_t i = 0; i < n * a->cols; i++) {
        size_t r = i0 + i / a->cols, c = i % a->cols;
        if (!isfinite(v[i]))
            return nnd_err_set(NND_ERR_INPUT, "%s: element [%zu, %zu] is not finite", a->path, r,
                               c);
        if (labels && !(v[i] >= 0.0 && v[i] <= 2147483646.0 && v[i] == floor(v[i])))
            return nnd_err_set(NND_ERR_INPUT,
                               "%s: label [%zu] = %g is not a class number (an integer >= 0)",
                               a->path, r, v[i]);
        if (labels && (int32_t)v[i] > *max_label) *max_label = (int32_t)v[i];
    }
    return NND_OK;
}

/* One pass over both files a block at a time: checking only (w == NULL), or writing. */
static nnd_status pass(nnd_npy *x, nnd_npy *y, int labels, size_t block, nnd_dataset_writer *w,
                       int32_t *max_label)
{
    double *xv = malloc(block * x->cols * sizeof *xv + 1);
    double *yv = y ? malloc(block * y->cols * sizeof *yv + 1) : NULL;
    float *xf = w ? malloc(block * x->cols * sizeof *xf + 1) : NULL;
    float *tf = w && y ? malloc(block * y->cols * sizeof *tf + 1) : NULL;
    int32_t *lab = w && y ? malloc(block * sizeof *lab + 1) : NULL;
    nnd_status st = xv && (yv || !y) && (xf || !w) && ((tf && lab) || !w || !y)
                        ? NND_OK
                        : nnd_err_set(NND_ERR_NOMEM, "out of memory for a block");
    for (size_t i0 = 0; !st && i0 < x->rows; i0 += block) {
        size_t n = x->rows - i0 < block ? x->rows - i0 : block;
        if (nnd_guard_signal_pending()) {
            st = nnd_err_set(NND_ERR_INTERRUPTED, "stopped by a signal; nothing was written");
            break;
        }
        st = nnd_npy_rows(x, i0, n, xv);
        if (!st) st = check_values(x, xv, i0, n, 0, max_label);
        if (!st && y) st = nnd_npy_rows(y, i0, n, yv);
        if (!st && y) st = check_values(y, yv, i0, n, labels, max_label);
        if (st || !w) continue;
        for (size_t i = 0; i < n * x->cols; i++) xf[i] = (float)xv[i];
        for (size_t i = 0; y && i < n * y->cols; i++) {
            if (labels)
                lab[i] = (int32_t)yv[i];
            else
                tf[i] = (float)yv[i];
        }
        st = nnd_dataset_writer_rows(w, i0, n, xf, lab, tf);
    }
    free(xv);
    free(yv);
    free(xf);
    free(tf);
    free(lab);
    return st;
}

nnd_status nnd_npy_convert(const nnd_npy_options *o, nnd_npy_result *res)
{
    memset(res, 0, sizeof *res);
    const char *ins[2] = {o->x, o->y};
    for (int i = 0; i < 2; i++) {
        struct stat si, so;
        if (ins[i] && stat(ins[i], &si) == 0 && stat(o->out, &so) == 0 && si.st_dev == so.st_dev &&
            si.st_ino == so.st_ino)
            return nnd_err_set(NND_ERR_USAGE, "--out %s is the input file %s", o->out, ins[i]);
    }
    nnd_npy x, y;
    memset(&y, 0, sizeof y);
    nnd_status st = nnd_npy_open(&x, o->x);
    if (!st && o->y) st = nnd_npy_open(&y, o->y);
    if (!st && o->y && y.rows != x.rows)
        st = nnd_err_set(NND_ERR_MISMATCH, "%s has %zu rows but %s has %zu", o->x, x.rows, o->y,
                         y.rows);
    /* Integer and bool labels are classes; floats are regression targets. */
    int labels = o->y && y.kind != 'f';
    if (!st && labels && y.ndim != 1)
        st = nnd_err_set(NND_ERR_INPUT,
                         "%s: integer labels must be one-dimensional (N,), not "
                         "(%zu, %zu)",
                         o->y, y.rows, y.cols);
    size_t per_row = (x.cols + (o->y ? y.cols : 0) + 1) * sizeof(double); /* (> 0 on errors) */
    size_t block = o->block_rows ? o->block_rows : ((size_t)8 << 20) / per_row + 1;
    int32_t max_label = -1;
    if (!st) st = pass(&x, o->y ? &y : NULL, labels, block, NULL, &max_label);
    if (!st) {
        nnd_dataset_writer w;
        nnd_y_kind kind = !o->y ? NND_Y_NONE : labels ? NND_Y_LABELS : NND_Y_TARGETS;
        st = nnd_dataset_writer_open(&w, o->out, o->x, x.rows, x.cols, kind, y.cols);
        if (!st) st = pass(&x, o->y ? &y : NULL, labels, block, &w, &max_label);
        if (!st) st = nnd_dataset_writer_commit(&w);
        nnd_dataset_writer_abort(&w);
    }
    res->rows = x.rows;
    res->features = x.cols;
    res->targets = o->y && !labels ? y.cols : 0;
    res->classes = max_label + 1;
    nnd_npy_close(&x);
    nnd_npy_close(&y);
    return st;
}
