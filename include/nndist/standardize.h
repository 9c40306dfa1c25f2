/* Column statistics of a dataset split across the ranks, and the input standardization built on
 * them (train --standardize; docs/design.md, "Standardization").
 *
 * The ranks hold disjoint rows that together make the whole set. Means and variances are summed
 * exactly (as in fixed_sum.h: each term turned once into an int64 at a scale agreed from the
 * column's largest magnitude), so they are the same bits on any number of ranks and threads. */
#ifndef NNDIST_STANDARDIZE_H
#define NNDIST_STANDARDIZE_H

#include <stddef.h>

#include "nndist/comm.h"
#include "nndist/data.h"
#include "nndist/error.h"
#include "nndist/model.h"

/* Collective: the largest |x| of each of the d columns of x (rows, d) over all ranks. */
void nnd_colmax_abs(const float *x, size_t rows, size_t d, const nnd_comm *c, double *maxabs);

/* Collective: each column's mean and population variance (the sum of squared deviations over
 * N, numpy's var and sklearn's StandardScaler) over the rows of every rank; N, the total row
 * count, >= 1. Every value must be finite (datasets are checked when loaded); a column whose
 * sums exceed the int64 scale's range (|x| beyond about 1e15) is refused on every rank. */
nnd_status nnd_colstats(const float *x, size_t rows, size_t d, const nnd_comm *c, double *mean,
                        double *var);

/* Collective: the model's standardization from the training rows of every rank: mean and
 * standard deviation per feature, as float32; a constant feature gets std 1 (it only moves to
 * 0). */
nnd_status nnd_standardize_fit(nnd_model *m, const nnd_dataset *train, const nnd_comm *c);

/* Collective: rank 0's standardization (or its absence) to every rank. */
nnd_status nnd_standardize_share(nnd_model *m, const nnd_comm *c);

/* Collective: on data the model does not standardize, rank 0 prints one warning (once per
 * process) when a feature's largest |x| exceeds 1e3 or the features' scales (largest |x| of
 * each non-constant-zero feature) differ by more than 1e3: gradient descent then crawls, and
 * --standardize is the remedy. */
void nnd_standardize_warn_unscaled(const nnd_dataset *train, const char *path, const nnd_comm *c);

#endif
