/* The elementwise passes of a training step (bias + the hidden activations and their
 * derivatives; ReLU and the output layer's bias ride in the GEMM's epilogue instead), bias
 * gradients, the non-finite check and the shards' sums (of float32 or bf16 parts), compiled once
 * per instruction set like optim_update.c; model.c, data.c and trainer.c call the variant of the
 * instruction set in use through nnd_ew(). Every loop keeps the scalar order of its operations
 * (vectors run across independent elements, no reassociation), so the variants agree bitwise. */
#include "elementwise.h"
#include "isa_variant.h"

#ifdef NND_ISA_IS_avx512
#include <immintrin.h>
#endif

#include <math.h>
#include <stdint.h>
#include <string.h>

#include "nndist/bf16.h"
#include "nndist/isa.h"
#include "nndist/rng.h"

/* Elementwise loops go parallel above this many elements. */
#define PAR_MIN 65536

/* The activations and their derivatives in float32, torch's formulas in torch's order of
 * operations (activation.h); the libm calls are the same scalar calls in every variant, so the
 * variants agree bitwise (test_elementwise). */
#define SQRT1_2    0.70710678118654752440f /* 1 / sqrt 2 */
#define RSQRT_2PI  0.39894228040143267794f /* 1 / sqrt(2 pi) */
#define SQRT_2_PI  0.79788456080286535588f /* sqrt(2 / pi) */
#define GELU_KAPPA 0.044715f

static inline float gelu(float x)
{
    return 0.5f * x * (1.0f + erff(x * SQRT1_2));
}

/* d gelu / dx = Phi(x) + x phi(x) */
static inline float gelu_grad(float x)
{
    const float cdf = 0.5f * (1.0f + erff(x * SQRT1_2));
    const float pdf = expf(-0.5f * x * x) * RSQRT_2PI;
    return cdf + x * pdf;
}

static inline float gelu_tanh(float x)
{
    const float inner = SQRT_2_PI * (x + GELU_KAPPA * (x * x * x));
    return 0.5f * x * (1.0f + tanhf(inner));
}

/* torch's GeluBackward for approximate='tanh': the product rule on 0.5 x and 1 + tanh(inner) */
static inline float gelu_tanh_grad(float x)
{
    const float x_sq = x * x;
    const float t = tanhf(SQRT_2_PI * (x + GELU_KAPPA * (x_sq * x)));
    const float left = 0.5f * x, right = 1.0f + t;
    const float right_grad =
        left * (1.0f - t * t) * (SQRT_2_PI * (1.0f + 3.0f * GELU_KAPPA * x_sq));
    return 0.5f * right + right_grad;
}

static inline float silu(float x)
{
    return x / (1.0f + expf(-x));
}

/* d silu / dx = s (1 + x (1 - s)), s = sigmoid(x) */
static inline float silu_grad(float x)
{
    const float s = 1.0f / (1.0f + expf(-x));
    return s * (1.0f + x * (1.0f - s));
}

/* Z (n, out) += b, then A = act(Z): in place (A == Z), or into A with Z kept for backward. One
 * loop per activation over a row, no branch inside but the activation's own. */
static void bias_act(float *Z, float *A, const float *b, size_t n, size_t out, nnd_activation act,
                     float p)
{
#pragma omp parallel for schedule(static) if (n * out > PAR_MIN / 4)
    for (size_t i = 0; i < n; i++) {
        float *z = Z + i * out, *a = A + i * out;
        switch (act) {
        case NND_ACT_TANH:
            for (size_t j = 0; j < out; j++) a[j] = tanhf(z[j] + b[j]);
            break;
        case NND_ACT_SIGMOID:
            for (size_t j = 0; j < out; j++) a[j] = 1.0f / (1.0f + expf(-(z[j] + b[j])));
            break;
        case NND_ACT_LEAKY_RELU:
            for (size_t j = 0; j < out; j++) {
                const float v = z[j] + b[j];
                a[j] = v > 0.0f ? v : v * p;
            }
            break;
        case NND_ACT_ELU:
            for (size_t j = 0; j < out; j++) {
                const float v = z[j] + b[j];
                a[j] = v > 0.0f ? v : p * expm1f(v);
            }
            break;
        case NND_ACT_GELU:
            for (size_t j = 0; j < out; j++) {
                z[j] += b[j];
                a[j] = gelu(z[j]);
            }
            break;
        case NND_ACT_GELU_TANH:
            for (size_t j = 0; j < out; j++) {
                z[j] += b[j];
                a[j] = gelu_tanh(z[j]);
            }
            break;
        case NND_ACT_SILU:
            for (size_t j = 0; j < out; j++) {
                z[j] += b[j];
                a[j] = silu(z[j]);
            }
            break;
        default: /* relu (the GEMM's epilogue does it in the step) */
            for (size_t j = 0; j < out; j++) {
                const float v = z[j] + b[j];
                a[j] = v > 0.0f ? v : 0.0f;
            }
            break;
        }
    }
}

/* c ? a : b on the bits, branch-free. Written as a select (or as a *= (c ? 1 : p)), the
 * compiler drops the product by 1 and leaves a conditional store, which only AVX-512's masked
 * stores vectorize: the others then ran a branch per element, mispredicted on the signs of a
 * layer (3x slower). */
static inline float pick(int c, float a, float b)
{
    uint32_t ua, ub;
    memcpy(&ua, &a, sizeof ua);
    memcpy(&ub, &b, sizeof ub);
    const uint32_t m = 0u - (uint32_t)c;
    ua = (ua & m) | (ub & ~m);
    memcpy(&a, &ua, sizeof a);
    return a;
}

/* dA (count) *= act'(Z), through the output A where it determines the derivative, else through
 * the kept Z; one loop each, vectorized where no libm call is in it. The parallel region's
 * threshold names the construct it applies to: an if clause without one applies to the simd
 * too (OpenMP 5.0), and the loops ran scalar below PAR_MIN elements, every hidden layer of a
 * usual batch. */
static void act_backward(float *dA, const float *A, const float *Z, size_t count,
                         nnd_activation act, float p)
{
    switch (act) {
    case NND_ACT_TANH:
#pragma omp parallel for simd schedule(static) if (parallel : count > PAR_MIN)
        for (size_t i = 0; i < count; i++) dA[i] *= 1.0f - A[i] * A[i];
        break;
    case NND_ACT_SIGMOID:
#pragma omp parallel for simd schedule(static) if (parallel : count > PAR_MIN)
        for (size_t i = 0; i < count; i++) dA[i] *= A[i] * (1.0f - A[i]);
        break;
    case NND_ACT_LEAKY_RELU: /* A > 0 exactly when Z > 0, as the slope is >= 0 */
#pragma omp parallel for simd schedule(static) if (parallel : count > PAR_MIN)
        for (size_t i = 0; i < count; i++) dA[i] = pick(A[i] > 0.0f, dA[i], dA[i] * p);
        break;
    case NND_ACT_ELU: /* alpha (exp(Z) - 1) + alpha = alpha exp(Z) for Z <= 0 */
#pragma omp parallel for simd schedule(static) if (parallel : count > PAR_MIN)
        for (size_t i = 0; i < count; i++) dA[i] = pick(A[i] > 0.0f, dA[i], dA[i] * (A[i] + p));
        break;
    case NND_ACT_GELU:
#pragma omp parallel for schedule(static) if (count > PAR_MIN / 4)
        for (size_t i = 0; i < count; i++) dA[i] *= gelu_grad(Z[i]);
        break;
    case NND_ACT_GELU_TANH:
#pragma omp parallel for schedule(static) if (count > PAR_MIN / 4)
        for (size_t i = 0; i < count; i++) dA[i] *= gelu_tanh_grad(Z[i]);
        break;
    case NND_ACT_SILU:
#pragma omp parallel for schedule(static) if (count > PAR_MIN / 4)
        for (size_t i = 0; i < count; i++) dA[i] *= silu_grad(Z[i]);
        break;
    default: /* relu (the GEMM's epilogue does it in the step) */
#pragma omp parallel for simd schedule(static) if (parallel : count > PAR_MIN)
        for (size_t i = 0; i < count; i++) dA[i] = pick(A[i] > 0.0f, dA[i], 0.0f);
        break;
    }
}

/* One random word per unit (splitmix64 from the row's key), 64-bit multiplies that AVX-512DQ
 * vectorizes; the kept units scaled with pick, so that no branch depends on the mask. */
static void dropout_forward(const float *A, float *D, uint8_t *keep, const uint64_t *row_key,
                            size_t n, size_t width, uint64_t threshold, float scale)
{
#pragma omp parallel for schedule(static) if (n * width > PAR_MIN / 4)
    for (size_t i = 0; i < n; i++) {
        const float *a = A + i * width;
        float *d = D + i * width;
        const uint64_t r = row_key[i];
        if (keep) {
            uint8_t *k = keep + i * width;
            for (size_t j = 0; j < width; j++) {
                const int kept = (nnd_mix64(r + (uint64_t)j * NND_GOLDEN64) >> 32) < threshold;
                k[j] = (uint8_t)kept;
                d[j] = pick(kept, a[j] * scale, 0.0f);
            }
        } else {
            for (size_t j = 0; j < width; j++) {
                const int kept = (nnd_mix64(r + (uint64_t)j * NND_GOLDEN64) >> 32) < threshold;
                d[j] = pick(kept, a[j] * scale, 0.0f);
            }
        }
    }
}

static void dropout_backward(float *dA, const uint8_t *keep, size_t count, float scale)
{
#pragma omp parallel for simd schedule(static) if (parallel : count > PAR_MIN)
    for (size_t i = 0; i < count; i++) dA[i] = pick(keep[i] != 0, dA[i] * scale, 0.0f);
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

/* (simd: without it GCC 12's cost model at -O2 leaves the selects of the rounding and the
 * widening below scalar) */
static void round_bf16(uint16_t *out, const float *x, size_t n)
{
#pragma omp parallel for simd schedule(static) if (n > PAR_MIN)
    for (size_t i = 0; i < n; i++) out[i] = nnd_bf16_from_float(x[i]);
}

/* sum_ranks's loop with each part widened from bf16 (exact); the same order of additions. */
static int sum_ranks_bf16(float *out, const uint16_t *const *seg, int P, size_t lo, size_t n)
{
    enum { BLOCK = 2048 };
    const size_t blocks = (n + BLOCK - 1) / BLOCK;
    uint32_t bad = 0;
#pragma omp parallel for reduction(| : bad) schedule(static) if (n > PAR_MIN)
    for (size_t k = 0; k < blocks; k++) {
        const size_t i0 = k * BLOCK, len = n - i0 < BLOCK ? n - i0 : BLOCK;
        float *o = out + i0;
        const uint16_t *a = seg[0] + lo + i0;
#pragma omp simd
        for (size_t i = 0; i < len; i++) o[i] = nnd_bf16_to_float(a[i]);
        for (int r = 1; r < P; r++) {
            const uint16_t *c = seg[r] + lo + i0;
#pragma omp simd
            for (size_t i = 0; i < len; i++) o[i] += nnd_bf16_to_float(c[i]);
        }
        bad |= (uint32_t)any_nonfinite(o, len); /* (serial: len <= BLOCK) */
    }
    return bad != 0;
}

/* The integer nearest to r (ties to even), for |r| < 2^51: adding 1.5 * 2^52 leaves units in the
 * last place of the sum, whose bits then differ from the constant's by the integer. Plain
 * arithmetic, so it vectorizes where a conversion to int64 does not (AVX2). */
static inline int64_t round_small(double r)
{
    const double magic = 0x1.8p52;
    double b = r + magic;
    int64_t bits, magic_bits;
    memcpy(&bits, &b, sizeof bits);
    memcpy(&magic_bits, &magic, sizeof magic_bits);
    return bits - magic_bits;
}

/* acc[i] += round(x[i] * scale) for |x[i] * scale| < 2^62: v = h 2^31 + r with h the integer
 * nearest to v / 2^31 and r = v - h 2^31 exact (|r| <= 2^30: when h != 0, |v| >= 2^30 and its
 * last place is at least 2^-22), so round(v) = h 2^31 + round(r), ties to even included. */
static void fixed_encode_add(int64_t *restrict acc, const float *restrict x, size_t n, double scale,
                             int add)
{
    const int64_t keep = add ? -1 : 0; /* a mask, so that one loop serves both */
    size_t start = 0;
#ifdef NND_ISA_IS_avx512
    /* The one pass that plain C does not vectorize here: AVX-512DQ converts floats to int64 in
     * the current rounding (to nearest, ties to even), and for a scale that is a normal float
     * x * scale is exact in float (no overflow below 2^62; a result below 2^-126 rounds to 0
     * either way), so these are the bits of the loop below. */
    if (scale >= 0x1p-126 && scale <= 0x1p127) {
        const __m256 fs = _mm256_set1_ps((float)scale);
        const __m512i mask = _mm512_set1_epi64(keep);
        const size_t vec = n / 8 * 8;
#pragma omp parallel for schedule(static) if (n > PAR_MIN)
        for (size_t i = 0; i < vec; i += 8) {
            __m512i q = _mm512_cvtps_epi64(_mm256_mul_ps(_mm256_loadu_ps(x + i), fs));
            __m512i a = _mm512_and_si512(_mm512_loadu_si512(acc + i), mask);
            _mm512_storeu_si512(acc + i, _mm512_add_epi64(a, q));
        }
        start = vec;
    }
#endif
#pragma omp parallel for schedule(static) if (n - start > PAR_MIN)
    for (size_t i = start; i < n; i++) {
        double v = (double)x[i] * scale;
        double h = (v * 0x1p-31 + 0x1.8p52) - 0x1.8p52;
        double r = v - h * 0x1p31;
        acc[i] = (acc[i] & keep) + round_small(h) * ((int64_t)1 << 31) + round_small(r);
    }
}

/* The largest magnitude, on the bits: without the sign, the order of non-negative floats is the
 * order of their bits as unsigned integers (an integer maximum vectorizes, a float one does not
 * without -ffast-math), and NaN and infinities are the bits from 0x7f800000 up. */
static double max_abs(const float *x, size_t n)
{
    uint32_t big = 0;
#pragma omp parallel for reduction(max : big) schedule(static) if (n > PAR_MIN)
    for (size_t i = 0; i < n; i++) {
        uint32_t bits;
        memcpy(&bits, &x[i], sizeof bits);
        bits &= 0x7fffffffu;
        big = bits > big ? bits : big;
    }
    if (big >= 0x7f800000u) return (double)INFINITY;
    float f;
    memcpy(&f, &big, sizeof f);
    return (double)f;
}

static void fixed_decode(float *restrict out, const int64_t *restrict in, size_t n, double scale)
{
#pragma omp parallel for schedule(static) if (n > PAR_MIN)
    for (size_t i = 0; i < n; i++) out[i] = (float)((double)in[i] * scale);
}

const nnd_ew_kernels NND_ISA_NAME(nnd_ew_) = {
    .max_abs = max_abs,
    .fixed_encode_add = fixed_encode_add,
    .fixed_decode = fixed_decode,
    .sum_ranks = sum_ranks,
    .round_bf16 = round_bf16,
    .sum_ranks_bf16 = sum_ranks_bf16,
    .bias_act = bias_act,
    .act_backward = act_backward,
    .column_sums = column_sums,
    .dropout_forward = dropout_forward,
    .dropout_backward = dropout_backward,
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
