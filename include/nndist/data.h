/* Datasets in HDF5 files and each rank's part of them (which part: order.h).
 *
 * A dataset file holds /X (N, D) of any numeric type, read as float32, and either /y (N)
 * integer class labels or /y (N, K) float targets (other names by flag). */
#ifndef NNDIST_DATA_H
#define NNDIST_DATA_H

#include <stddef.h>
#include <stdint.h>

#include "nndist/error.h"

typedef struct {
    size_t n;         /* samples in the file */
    size_t d;         /* features per sample */
    size_t k_targets; /* 0: /y holds integer labels; K: /y holds (N, K) floats */
} nnd_data_shape;

typedef struct {
    nnd_data_shape shape;
    size_t lo, hi;   /* this rank's samples: [lo, hi) of the file */
    float *x;        /* (hi - lo, d); read-only when mapped */
    int32_t *labels; /* (hi - lo) when shape.k_targets == 0 */
    float *targets;  /* (hi - lo, k_targets) otherwise */
    void *map;       /* when x is mapped from the file: the mapping (else NULL) */
    size_t map_len;
} nnd_dataset;

/* Reads and validates the shapes of x_name and y_name in path. The file must be HDF5, X 2-D of
 * a numeric type, y 1-D integer or 2-D numeric, with the same N >= 1. y_name NULL: the features
 * alone (data to predict on; shape->k_targets = 0, and nnd_data_load reads no labels). */
nnd_status nnd_data_probe(const char *path, const char *x_name, const char *y_name,
                          nnd_data_shape *shape);

/* Reads rows [lo, hi) of a probed file. n_classes > 0 checks integer labels lie in
 * [0, n_classes); features and float targets must be finite. nnd_data_free is safe after a
 * failed load. */
nnd_status nnd_data_load(nnd_dataset *ds, const char *path, const char *x_name, const char *y_name,
                         const nnd_data_shape *shape, size_t lo, size_t hi, size_t n_classes);
void nnd_data_free(nnd_dataset *ds);

/* An in-memory subset of a loaded dataset (k-fold cross-validation): the subset has n
 * positions, position i being row rows[i] of src (counted from src->lo). ds receives positions
 * [lo, hi) of the subset as its rows (ds->lo = lo, ds->hi = hi, ds->shape.n = n), so the batch
 * order over n samples and a rank's stripes apply to it as to a file of those n rows.
 * nnd_data_free is safe after a failure. */
typedef struct {
    const nnd_dataset *src; /* borrowed: the loaded rows */
    const uint32_t *rows;   /* borrowed: position i of the subset is row rows[i] of src */
    size_t n;               /* positions */
} nnd_data_subset;

nnd_status nnd_data_gather(nnd_dataset *ds, const nnd_dataset *src, const uint32_t *rows, size_t n,
                           size_t lo, size_t hi);

/* Writes the rows of ds as a dataset file: x_name float32 (rows, d), y_name int32 (rows) or
 * float32 (rows, k). Written atomically (atomic_file.h), so path holds the whole new file or
 * is left as it was; loading it gives back exactly ds's values. */
nnd_status nnd_data_save(const nnd_dataset *ds, const char *path, const char *x_name,
                         const char *y_name);

#endif
