/* Datasets in HDF5 files, each rank's part of them, and the batch order of docs/design.md,
 * invariant 1.
 *
 * A dataset file holds /X (N, D) of any numeric type, read as float32, and either /y (N)
 * integer class labels or /y (N, K) float targets (other names by flag).
 *
 * Batch order. The N samples are split into S stripes of consecutive samples (S a power of two,
 * a function of N only: S = the largest power of two <= min(64, N / 16), at least 1). Stripe j
 * holds samples [start_j, start_{j+1}); the first N mod S stripes are one sample longer. Each
 * epoch, each stripe gets its own permutation, a pure function of (seed, epoch, stripe). The
 * epoch is a sequence of N positions: position g < S*L (L = N / S) is element g / S of stripe
 * sigma(g mod S), where sigma is the bit reversal of log2(S) bits (so consecutive positions
 * alternate between the halves, quarters, ... of the stripe range); the remaining N mod S
 * positions take the last element of each long stripe. Global batch b of an epoch is positions
 * [b*B, min((b+1)*B, N)). None of this depends on the number of ranks: a rank owns a contiguous
 * range of whole stripes, reads only those samples, and contributes the samples of each batch
 * that fall in its stripes. With --no-shuffle the position g is sample g (file order). */
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
 * a numeric type, y 1-D integer or 2-D numeric, with the same N >= 1. */
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

typedef struct {
    size_t n, batch;   /* samples, global batch size */
    size_t n_stripes;  /* S */
    int stripe_bits;   /* log2(S) */
    size_t stripe_len; /* L = n / S */
    size_t n_long;     /* stripes of length L + 1 (the first ones) */
    int shuffle;
    uint64_t seed;
    /* This rank's stripes [s_lo, s_hi) = samples [lo, hi), and the permutation of each of them
     * for the cached epoch (perm[i] = offset within the stripe, indexed from the stripe's
     * start - lo). */
    size_t s_lo, s_hi, lo, hi;
    uint32_t *perm;
    uint64_t perm_epoch;
    int perm_valid;
} nnd_order;

/* The stripe count for n samples (see above). */
size_t nnd_order_stripes(size_t n);
/* First sample of stripe j. */
size_t nnd_order_stripe_start(const nnd_order *o, size_t j);

/* Sets up the order for rank `rank` of `size`. */
nnd_status nnd_order_init(nnd_order *o, size_t n, size_t batch, int shuffle, uint64_t seed,
                          int rank, int size);
void nnd_order_free(nnd_order *o);
uint64_t nnd_order_steps_per_epoch(const nnd_order *o);
/* Samples in global step `step` (all ranks together). */
size_t nnd_order_global_count(const nnd_order *o, uint64_t step);
/* Writes the indices (relative to lo) of this rank's samples of global step `step` into idx
 * (room for `batch` entries) and returns how many. */
size_t nnd_order_local_batch(nnd_order *o, uint64_t step, uint32_t *idx);

#endif
