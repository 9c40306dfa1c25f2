/* The batch order of docs/design.md, invariant 1: which samples make each global batch, and
 * which samples each rank reads. None of it depends on the number of ranks.
 *
 * Stripes. The N samples are split into S stripes of consecutive samples, S a power of two and
 * a function of N only. A stripe is long (one sample more than L = N / S) when the bit reversal
 * of its index is below N mod S, so the long ones are spread over the file. A rank owns the
 * contiguous range of stripes [rank*S/P, (rank+1)*S/P) and reads only those samples.
 *
 * Positions. Each epoch, each stripe gets its own permutation, a pure function of (seed, epoch,
 * stripe). The epoch is a sequence of N positions in rounds of S: position g < S*L is element
 * g / S (after the permutation) of stripe phi(g mod S), and the last N mod S positions take the
 * last element of the long stripes, position S*L + m that of stripe rev(m). Global batch b of an
 * epoch is positions [b*B, min((b+1)*B, N)). With --no-shuffle position g is sample g.
 *
 * phi is a bijection of [0, S) whose top m bits depend only on t mod 2^m, for every m: so any
 * run of consecutive positions falls evenly on the halves, quarters, ... of the stripe range,
 * and with a power-of-two rank count P every full batch gives each rank floor(B/P) or
 * ceil(B/P) samples. Two versions exist; checkpoints record which one made them:
 * - order 1 (before stripes grew with the data): S = the largest power of two <= min(64,
 *   N / 16); phi = rev, the bit reversal of log2(S) bits; the first N mod S stripes are long.
 * - order 2: S = the largest power of two <= min(65536, N / 8), so every rank owns stripes when
 *   N >= 16 P (up to 65,536 ranks); phi(t) = rev(t XOR F(t)), where bit m of F is a random bit
 *   of (seed, epoch, round, m, t mod 2^m): each round of each epoch groups other stripes into
 *   a batch, and the balance above holds. */
#ifndef NNDIST_ORDER_H
#define NNDIST_ORDER_H

#include <stddef.h>
#include <stdint.h>

#include "nndist/error.h"

enum { NND_ORDER_FIRST = 1, NND_ORDER_CURRENT = 2 };

typedef struct {
    int version;       /* NND_ORDER_FIRST or NND_ORDER_CURRENT */
    size_t n, batch;   /* samples, global batch size */
    size_t n_stripes;  /* S */
    int stripe_bits;   /* log2(S) */
    size_t stripe_len; /* L = n / S */
    size_t n_long;     /* stripes of length L + 1 */
    int shuffle;
    uint64_t seed;
    uint32_t *start; /* start[j]: first sample of stripe j (S + 1 entries) */
    /* phi of the cached (epoch, round): phi[t] for t < S. */
    uint32_t *phi;
    uint64_t phi_epoch, phi_round;
    int phi_valid;
    /* This rank's stripes [s_lo, s_hi) = samples [lo, hi), and the permutation of each of them
     * for the cached epoch (perm[i] = offset within the stripe, indexed from the stripe's
     * start - lo). */
    size_t s_lo, s_hi, lo, hi;
    uint32_t *perm;
    uint64_t perm_epoch;
    int perm_valid;
    /* Units (the deterministic mode; 0 when off): U units of S/U consecutive stripes each; the
     * rank owns units [u_lo, u_hi) and the stripes in them. */
    size_t n_units, u_lo, u_hi;
    uint32_t *unit_tmp; /* room for a batch of indices, for grouping them by unit */
} nnd_order;

/* The stripe count for n samples in order `version` (see above). */
size_t nnd_order_stripes(size_t n, int version);
/* First sample of stripe j (j <= S). */
size_t nnd_order_stripe_start(const nnd_order *o, size_t j);
/* The rank of `size` that owns stripe j. */
int nnd_order_stripe_owner(const nnd_order *o, size_t j, int size);

/* Sets up order `version` for rank `rank` of `size`. */
nnd_status nnd_order_init(nnd_order *o, size_t n, size_t batch, int shuffle, uint64_t seed,
                          int version, int rank, int size);
/* The same in units (docs/design.md, "Deterministic mode"): the stripes are grouped into
 * `units` units of S/units consecutive stripes (units a power of two, 1 <= units <= S), and rank
 * `rank` of `size` owns units [rank*units/size, (rank+1)*units/size) with their stripes, so that
 * every unit lies on one rank whatever the rank count. Refused (NND_ERR_USAGE, naming what would
 * work) when units is not such a power of two or is below the rank count. */
nnd_status nnd_order_init_units(nnd_order *o, size_t n, size_t batch, int shuffle, uint64_t seed,
                                int version, size_t units, int rank, int size);
void nnd_order_free(nnd_order *o);
uint64_t nnd_order_steps_per_epoch(const nnd_order *o);
/* Samples in global step `step` (all ranks together). */
size_t nnd_order_global_count(const nnd_order *o, uint64_t step);
/* Writes the indices (relative to lo) of this rank's samples of global step `step` into idx
 * (room for `batch` entries) and returns how many. */
size_t nnd_order_local_batch(nnd_order *o, uint64_t step, uint32_t *idx);
/* nnd_order_local_batch grouped by unit (an order made by nnd_order_init_units): the rank's
 * units in order, each unit's samples in the order of their positions; unit_end[i] (room for
 * u_hi - u_lo entries) receives the end of local unit i's rows. Which samples form a unit's
 * part of a step, and their order, depend on neither the rank nor the rank count. */
size_t nnd_order_local_units(nnd_order *o, uint64_t step, uint32_t *idx, size_t *unit_end);

/* How evenly the steps of an epoch fall on `size` ranks: over the full steps (those of B
 * samples) of the first epoch, the largest max - min of the ranks' sample counts in one step,
 * and the fewest and the most samples any rank gets in one step. Epochs of more than max_steps
 * steps are judged on their first max_steps - 1 steps and the last full one (steps_judged says
 * how many); a step costs O(B), whatever the rank count. */
typedef struct {
    size_t imbalance, fewest, most;
    uint64_t steps_judged;
} nnd_order_balance;

nnd_status nnd_order_measure_balance(size_t n, size_t batch, int shuffle, uint64_t seed,
                                     int version, int size, uint64_t max_steps,
                                     nnd_order_balance *out);
/* The balance of o's order over `size` ranks in words: "64 per rank" or "42 to 44 per rank"
 * (judged on at most 2^20 positions, so cheap at start-up); "" when it cannot be measured. */
void nnd_order_balance_text(const nnd_order *o, int size, char *buf, size_t bufsize);

#endif
