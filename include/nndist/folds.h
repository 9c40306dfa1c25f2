/* Stratified k-fold cross-validation splits: a pure function of (labels, K, seed), so every
 * rank, every rank count and every rerun with the same seed cuts the same folds.
 *
 * For each class c in turn (0, 1, ...), the samples of class c, in file order, are permuted by
 * a counter-based Fisher-Yates shuffle (the draw for position i is a function of
 * (seed, c, i) only) and dealt round robin into the K folds, starting at fold
 * (number of samples of the classes before c) mod K. Hence:
 *   - every sample lies in exactly one fold (disjoint, covering);
 *   - within every class, the counts of any two folds differ by at most 1 (stratified);
 *   - the sizes of any two folds differ by at most 1 (each class starts where the last ended).
 * Without labels (regression targets) all samples form one class. */
#ifndef NNDIST_FOLDS_H
#define NNDIST_FOLDS_H

#include <stddef.h>
#include <stdint.h>

#include "nndist/error.h"

#define NND_FOLDS_MAX 100

/* Smallest number of samples of any class present among labels[0..n) (n when labels is NULL);
 * *cls receives that class (-1 without labels). Labels must lie in [0, n_classes). */
size_t nnd_folds_smallest_class(const int32_t *labels, size_t n, size_t n_classes, int *cls);

/* Assigns fold[i] in [0, k) to each of the n samples. labels (n) in [0, n_classes), or NULL.
 * Fails (NND_ERR_USAGE, message set) when k < 2, k > NND_FOLDS_MAX, or a class present has
 * fewer than k samples (a fold would miss it); NND_ERR_NOMEM when out of memory. */
nnd_status nnd_folds_assign(const int32_t *labels, size_t n, size_t n_classes, unsigned k,
                            uint64_t seed, uint32_t *fold);

/* Writes the indices i (ascending) with fold[i] == f when in_fold, else those with
 * fold[i] != f, into out (room for n); returns how many. The validation and training sets of
 * fold f. */
size_t nnd_folds_select(const uint32_t *fold, size_t n, uint32_t f, int in_fold, uint32_t *out);

#endif
