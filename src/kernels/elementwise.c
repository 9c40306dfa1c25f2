/* The elementwise passes of a training step (bias + tanh/sigmoid and their derivatives; ReLU
 * and the output layer's bias ride in the GEMM's epilogue instead), bias gradients, the
 * non-finite check and the shards' sum, compiled once per instruction set like
 * optim_update.c; model.c, data.c and trainer.c call the variant of the instruction set in use
 * through nnd_ew(). Every loop keeps the scalar order of its operations (vectors run across
 * independent elements, no reassociation), so the variants agree bitwise. */
#include "elementwise.h"
#include "isa_variant.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

#include "nndist/isa.h"

/* Elementwise loops go parallel above this many elements. */
#define PAR_MIN 65536

/* Z (n, out) += b, then A = act(Z) in place: a hidden layer's tanh or sigmoid. */
static void bias_act(float *Z, const float *b, size_t n, size_t out, nnd_activation act)
{
#pragma omp parallel for schedule(static) if (n * out > PAR_MIN / 4)
    for (size_t i = 0; i < n; i++) {
        float *z = Z + i * out;
        if (act == NND_ACT_TANH)
            for (size_t j = 0; j < out; j++) z[j] = tanhf(z[j] + b[j]);
        else
            for (size_t j = 0; j < out; j++) z[j] = 1.0f / (1.0f + expf(-(z[j] + b[j])));
    }
}

/* dA (count) *= act'(Z) for tanh or sigmoid, expressed through the activation's output A; one
 * loop each, with no branch inside. */
static void act_backward(float *dA, const float *A, size_t count, nnd_activation act)
{
    if (act == NND_ACT_TANH) {
#pragma omp parallel for simd schedule(static) if (count > PAR_MIN)
        for (size_t i = 0; i < count; i++) dA[i] *= 1.0f - A[i] * A[i];
    } else {
#pragma omp parallel for simd schedule(static) if (count > PAR_MIN)
        for (size_t i = 0; i < count; i++) dA[i] *= A[i] * (1.0f - A[i]);
    }
}

/* db (out) = column sums of dZ (n, out), rows added in order. */
static void column_sums(float *db, const float *dZ, size_t n, size_t out)
{
    for (size_t j = 0; j < out; j++) db[j] = 0.0f;
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < out; j++) db[j] += dZ[i * out + j];
}

/* 1 when any of the n values is NaN or infinite: all exponent bits set. */
static int any_nonfinite(const float *x, size_t n)
{
    uint32_t bad = 0;
#pragma omp parallel for reduction(| : bad) schedule(static) if (n > PAR_MIN)
    for (size_t i = 0; i < n; i++) {
        uint32_t bits;
        memcpy(&bits, &x[i], sizeof bits);
        bad |= (uint32_t)((bits & 0x7f800000u) == 0x7f800000u);
    }
    return bad != 0;
}

/* out (n) = seg[0][lo + i] + seg[1][lo + i] + ... + seg[P-1][lo + i], added in rank order,
 * block by block so that the partial sums stay in L1. Returns 1 when a sum is not finite. */
static int sum_ranks(float *out, const float *const *seg, int P, size_t lo, size_t n)
{
    enum { BLOCK = 2048 };
    const size_t blocks = (n + BLOCK - 1) / BLOCK;
    uint32_t bad = 0;
#pragma omp parallel for reduction(| : bad) schedule(static) if (n > PAR_MIN)
    for (size_t k = 0; k < blocks; k++) {
        const size_t i0 = k * BLOCK, len = n - i0 < BLOCK ? n - i0 : BLOCK;
        float *o = out + i0;
        const float *a = seg[0] + lo + i0, *b = seg[P > 1 ? 1 : 0] + lo + i0;
        if (P > 1)
            for (size_t i = 0; i < len; i++) o[i] = a[i] + b[i];
        else
            memcpy(o, a, len * sizeof *o);
        for (int r = 2; r < P; r++) {
            const float *c = seg[r] + lo + i0;
            for (size_t i = 0; i < len; i++) o[i] += c[i];
        }
        bad |= (uint32_t)any_nonfinite(o, len); /* (serial: len <= BLOCK) */
    }
    return bad != 0;
}

const nnd_ew_kernels NND_ISA_NAME(nnd_ew_) = {
    .sum_ranks = sum_ranks,
    .bias_act = bias_act,
    .act_backward = act_backward,
    .column_sums = column_sums,
    .any_nonfinite = any_nonfinite,
};

#ifdef NND_ISA_IS_portable
/* Defined once, in the portable variant: the one every build compiles. */
const nnd_ew_kernels *nnd_ew(void)
{
    switch (nnd_isa_current()) {
#ifdef NND_X86_VARIANTS
    case NND_ISA_AVX512:
        return &nnd_ew_avx512;
    case NND_ISA_AVX2:
        return &nnd_ew_avx2;
#endif
    default:
        return &nnd_ew_portable;
    }
}
#endif
