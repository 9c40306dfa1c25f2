/* The batch order of docs/design.md, invariant 1.
 *
 * The N samples are split into S stripes of consecutive samples (S a power of two,
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
#ifndef NNDIST_ORDER_H
#define NNDIST_ORDER_H

#include <stddef.h>
#include <stdint.h>

#include "nndist/error.h"

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
