/* Exact sums of float vectors whatever the order of the additions: each value is rounded once to
 * an integer at a scale agreed for the whole sum (a power of two, from the largest magnitude
 * among all the terms), the integers are added as int64, which is exact and associative (so an
 * MPI_SUM of MPI_INT64_T, a reduce-scatter, a tree or a loop give the same bits), and the total
 * is turned back into a float once (docs/design.md, "Exact sums").
 *
 * Range. With T terms and the largest magnitude below 2^e, values are scaled by 2^s with
 * s = 62 - h - e, h = ceil(log2(T)) (the headroom that keeps any sum of T terms below 2^62):
 * the resolution is 2^(e + h - 62), between 2^(h - 62) and 2^(h - 61) of the largest value.
 * A float of at least 2^23 resolutions (its 24 significant bits inside the window) is
 * represented exactly; smaller ones are rounded to the resolution, and those below half of it
 * become 0 - the same way on every rank and in every run. At T = 2^20 terms and a largest
 * value of 1: exact down to 2^-18, rounded to 2^-41 below. NaN and infinities have no integer:
 * nnd_fixed_exponent reports them, for the caller to refuse the step as it refuses any
 * non-finite gradient. */
#ifndef NNDIST_FIXED_SUM_H
#define NNDIST_FIXED_SUM_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>

/* nnd_fixed_exponent's results for vectors without a largest finite magnitude. */
#define NND_FIXED_ZERO      INT_MIN /* every value is 0 */
#define NND_FIXED_NONFINITE INT_MAX /* a NaN or an infinity */

/* The exponent e of the largest magnitude in x, with 2^(e-1) <= max|x| < 2^e (frexp's); the
 * agreed exponent of a sum is the largest over all its terms (an MPI_MAX of ints). */
int nnd_fixed_exponent(const float *x, size_t n);
/* The largest magnitude among x[0..n) as a double; +inf when one is NaN or infinite (so that an
 * MPI_MAX of it flags a NaN anywhere). A maximum does not depend on the order it is taken in. */
double nnd_fixed_max_abs(const float *x, size_t n);
/* The scale exponent s for a sum of at most `terms` vectors whose agreed exponent is e (terms
 * >= 1, e finite); a vector of zeros (e = NND_FIXED_ZERO) gets 0. */
int nnd_fixed_shift(int e, uint64_t terms);
/* The scale exponent s for a sum whose terms add up, in magnitude, to at most `bound` (a bound
 * known before the terms are: bound * 2^s < 2^62, so the sum cannot overflow an int64 however
 * the terms round): 0 for bound 0, at most 962 (so that 2^s is a finite double; a bound below
 * 2^-900 has no float terms to lose), NND_FIXED_NONFINITE when bound is not finite or not below
 * 2^127 (the total could not be turned back into a finite float). */
int nnd_fixed_shift_bound(double bound);
/* out[i] = x[i] * 2^s rounded to the nearest integer (ties to even). These loops are the
 * reference; the training step uses the vectorized variants of kernels/elementwise.h, which give
 * the same bits. */
void nnd_fixed_encode(const float *x, size_t n, int s, int64_t *out);
/* out[i] += in[i]: the exact sum (no overflow within the terms nnd_fixed_shift was given). */
void nnd_fixed_add(int64_t *out, const int64_t *in, size_t n);
/* out[i] = in[i] * 2^-s, rounded to float once (through double: the same bits everywhere). */
void nnd_fixed_decode(const int64_t *in, size_t n, int s, float *out);

#endif
