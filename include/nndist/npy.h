/* NumPy .npy files to the dataset layout (`nndist convert npy`; docs/file-formats.md).
 *
 * Reads format versions 1.0, 2.0 and 3.0: a header naming the dtype (bool, signed and unsigned
 * integers of 1 to 8 bytes, float32, float64; either byte order), C or Fortran order and the
 * shape. X is (N, D) (or (N,): one feature); y is (N,) integer or bool class labels (>= 0), or
 * float regression targets (N,) or (N, K). Rows are read a block at a time (in Fortran order one
 * read per column and block), so memory stays bounded for any file size. Values must be finite;
 * a refusal names the file, the element and what was expected, and writes nothing. */
#ifndef NNDIST_NPY_H
#define NNDIST_NPY_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "nndist/error.h"

typedef struct {
    FILE *f;
    const char *path;
    char kind;         /* 'b' bool, 'i' signed, 'u' unsigned, 'f' float */
    size_t item;       /* bytes per element */
    int swap;          /* the file's byte order is not this machine's */
    int fortran;       /* column-major */
    int ndim;          /* 1 or 2 */
    size_t rows, cols; /* cols = 1 for a 1-D array */
    long data;         /* offset of the first element */
} nnd_npy;

/* Opens path and reads its header; refuses other dtypes, more than 2 dimensions, a file shorter
 * than its shape says. */
nnd_status nnd_npy_open(nnd_npy *a, const char *path);
/* Rows [i0, i0 + n) as doubles, row-major (n, cols). */
nnd_status nnd_npy_rows(nnd_npy *a, size_t i0, size_t n, double *out);
void nnd_npy_close(nnd_npy *a);

typedef struct {
    const char *x, *y, *out; /* y may be NULL: no /y */
    size_t block_rows;       /* 0: about 8 MB a block */
} nnd_npy_options;

typedef struct {
    size_t rows, features, targets; /* targets: columns of float targets (0: labels or none) */
    int32_t classes;                /* the largest label + 1 (labels only) */
} nnd_npy_result;

nnd_status nnd_npy_convert(const nnd_npy_options *o, nnd_npy_result *res);

#endif
