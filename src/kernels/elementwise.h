/* The elementwise passes of a step, one table per instruction-set variant (elementwise.c). */
#ifndef NNDIST_ELEMENTWISE_H
#define NNDIST_ELEMENTWISE_H

#include <stddef.h>
#include <stdint.h>

#include "nndist/activation.h"

typedef struct {
    /* A hidden layer's activation but ReLU (ReLU, and the output layer's bias, ride in the
     * GEMM's epilogue): Z (n, out) += b, then A = act(Z). A == Z (in place) for the activations
     * whose derivative comes from their output; a buffer of its own for those that keep Z
     * (nnd_activation_keeps_z), where Z then holds the pre-activation. p: leaky-relu's slope,
     * elu's alpha (activation.h). */
    void (*bias_act)(float *Z, float *A, const float *b, size_t n, size_t out, nnd_activation act,
                     float p);
    /* dA (count) *= act'(Z): from the activation's output A (tanh, sigmoid, leaky-relu, elu) or
     * from the pre-activation Z (gelu, gelu-tanh, silu; Z may be NULL for the others) */
    void (*act_backward)(float *dA, const float *A, const float *Z, size_t count,
                         nnd_activation act, float p);
    /* Dropout's forward (dropout.h) on n rows of width units: D = kept ? A * scale : 0, unit j
     * of row i kept when (nnd_mix64(row_key[i] + j * NND_GOLDEN64) >> 32) < threshold; keep
     * (n, width) receives the mask unless NULL. D == A allowed (in place). */
    void (*dropout_forward)(const float *A, float *D, uint8_t *keep, const uint64_t *row_key,
                            size_t n, size_t width, uint64_t threshold, float scale);
    /* Its backward: dA (count) = keep ? dA * scale : 0 */
    void (*dropout_backward)(float *dA, const uint8_t *keep, size_t count, float scale);
    /* db (out) = column sums of dZ (n, out) */
    void (*column_sums)(float *db, const float *dZ, size_t n, size_t out);
    /* 1 when any value is NaN or infinite */
    int (*any_nonfinite)(const float *x, size_t n);
    /* out (n) = the sum over r = 0..P-1, in that order, of seg[r][lo .. lo+n); 1 when a sum
     * is not finite */
    int (*sum_ranks)(float *out, const float *const *seg, int P, size_t lo, size_t n);
    /* out (n) = x rounded to bf16 (nnd_bf16_from_float): a rank's part of a bf16 gradient sum */
    void (*round_bf16)(uint16_t *out, const float *x, size_t n);
    /* sum_ranks over parts in bf16: each widened to float32 exactly, added in rank order */
    int (*sum_ranks_bf16)(float *out, const uint16_t *const *seg, int P, size_t lo, size_t n);
    /* the largest |x[i]| as a double, +inf when one is NaN or infinite: nnd_fixed_max_abs */
    double (*max_abs)(const float *x, size_t n);
    /* acc[i] (+)= x[i] * scale rounded to the nearest integer, ties to even (scale a power of two,
     * |x[i] * scale| < 2^62), added to acc (add) or stored: nnd_fixed_encode then nnd_fixed_add
     * (fixed_sum.h), bitwise */
    void (*fixed_encode_add)(int64_t *acc, const float *x, size_t n, double scale, int add);
    /* out[i] = (float)(in[i] * scale): nnd_fixed_decode, bitwise */
    void (*fixed_decode)(float *out, const int64_t *in, size_t n, double scale);
} nnd_ew_kernels;

extern const nnd_ew_kernels nnd_ew_portable, nnd_ew_avx2, nnd_ew_avx512;

/* The variant of the instruction set in use (nnd_isa_current). */
const nnd_ew_kernels *nnd_ew(void);

#endif
