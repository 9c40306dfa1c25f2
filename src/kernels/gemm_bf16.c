/* bf16 products with float32 accumulation (gemm_bf16.h). op(A) and op(B) are packed once per
 * call into bf16 pairs along K, the layout VDPBF16PS reads: A by tiles of MR rows (for each k
 * pair, the MR rows' pairs as 32-bit words, broadcast one at a time), B by tiles of NR columns
 * (for each k pair, the NR columns' pairs: two 512-bit vectors). A tile of C (MR x NR) then
 * accumulates over all of K in one pass, by the AVX512_BF16 micro-kernel or by its portable twin
 * (the same additions in C), and one epilogue, shared by both, applies alpha and beta. Threads
 * take tiles of C, so no K sum is ever split. */
#include "nndist/gemm_bf16.h"

#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "nndist/bf16.h"

#if defined(__x86_64__)
#include <immintrin.h>
#define NND_BF16_X86 1
#endif

enum { MR = 8, NR = 32 };

static inline float elem(const float *X, size_t ld, int trans, size_t i, size_t j)
{
    return trans ? X[j * ld + i] : X[i * ld + j];
}

/* Two bf16 as VDPBF16PS reads a pair: the even k in the low half, the odd k in the high half. */
static inline uint32_t pair(float even, float odd)
{
    return (uint32_t)nnd_bf16_from_float(even) | ((uint32_t)nnd_bf16_from_float(odd) << 16);
}

/* op(A) (M, K) into tiles of MR rows: tile t, pair p, row r at [(t * kp + p) * MR + r]. */
static void pack_a(int trans, const float *A, size_t lda, size_t M, size_t K, uint32_t *out)
{
    const size_t kp = (K + 1) / 2, tiles = (M + MR - 1) / MR;
#pragma omp parallel for schedule(static) if (M * K > 65536)
    for (size_t t = 0; t < tiles; t++)
        for (size_t p = 0; p < kp; p++)
            for (size_t r = 0; r < MR; r++) {
                const size_t i = t * MR + r, k = 2 * p;
                float e = 0.0f, o = 0.0f;
                if (i < M) {
                    e = elem(A, lda, trans, i, k);
                    if (k + 1 < K) o = elem(A, lda, trans, i, k + 1);
                }
                out[(t * kp + p) * MR + r] = pair(e, o);
            }
}

/* op(B) (K, N) into tiles of NR columns: tile t, pair p, column c at [(t * kp + p) * NR + c]. */
static void pack_b(int trans, const float *B, size_t ldb, size_t K, size_t N, uint32_t *out)
{
    const size_t kp = (K + 1) / 2, tiles = (N + NR - 1) / NR;
#pragma omp parallel for schedule(static) if (N * K > 65536)
    for (size_t t = 0; t < tiles; t++)
        for (size_t p = 0; p < kp; p++)
            for (size_t c = 0; c < NR; c++) {
                const size_t j = t * NR + c, k = 2 * p;
                float e = 0.0f, o = 0.0f;
                if (j < N) {
                    e = elem(B, ldb, trans, k, j);
                    if (k + 1 < K) o = elem(B, ldb, trans, k + 1, j);
                }
                out[(t * kp + p) * NR + c] = pair(e, o);
            }
}

static inline float bf16_lo(uint32_t w)
{
    return nnd_bf16_to_float((nnd_bf16)(w & 0xffffu));
}

static inline float bf16_hi(uint32_t w)
{
    return nnd_bf16_to_float((nnd_bf16)(w >> 16));
}

/* One rounding of acc + a b, a subnormal result flushed to a zero of its sign (VDPBF16PS). */
static inline float dp_step(float acc, float a, float b)
{
    const float r = fmaf(a, b, acc);
    return fabsf(r) < FLT_MIN ? copysignf(0.0f, r) : r;
}

typedef void (*tile_fn)(size_t kp, const uint32_t *a, const uint32_t *b, float acc[MR][NR]);

static void tile_portable(size_t kp, const uint32_t *a, const uint32_t *b, float acc[MR][NR])
{
    for (size_t r = 0; r < MR; r++)
        for (size_t c = 0; c < NR; c++) acc[r][c] = 0.0f;
    for (size_t p = 0; p < kp; p++)
        for (size_t r = 0; r < MR; r++) {
            const uint32_t wa = a[p * MR + r];
            for (size_t c = 0; c < NR; c++) {
                const uint32_t wb = b[p * NR + c];
                float s = dp_step(acc[r][c], bf16_hi(wa), bf16_hi(wb));
                acc[r][c] = dp_step(s, bf16_lo(wa), bf16_lo(wb));
            }
        }
}

#ifdef NND_BF16_X86
#define BF16_TARGET __attribute__((target("avx512f,avx512bw,avx512vl,avx512bf16")))

BF16_TARGET static void tile_avx512_bf16(size_t kp, const uint32_t *a, const uint32_t *b,
                                         float acc[MR][NR])
{
    /* 16 accumulators, unrolled so that they stay in registers */
    __m512 c0[MR], c1[MR];
#pragma GCC unroll 8
    for (int r = 0; r < MR; r++) c0[r] = c1[r] = _mm512_setzero_ps();
    for (size_t p = 0; p < kp; p++) {
        const __m512bh b0 = (__m512bh)_mm512_loadu_si512(b + p * NR);
        const __m512bh b1 = (__m512bh)_mm512_loadu_si512(b + p * NR + 16);
#pragma GCC unroll 8
        for (int r = 0; r < MR; r++) {
            const __m512bh ar = (__m512bh)_mm512_set1_epi32((int)a[p * MR + r]);
            c0[r] = _mm512_dpbf16_ps(c0[r], ar, b0);
            c1[r] = _mm512_dpbf16_ps(c1[r], ar, b1);
        }
    }
#pragma GCC unroll 8
    for (int r = 0; r < MR; r++) {
        _mm512_storeu_ps(acc[r], c0[r]);
        _mm512_storeu_ps(acc[r] + 16, c1[r]);
    }
}
#endif

static const struct {
    const char *name;
    tile_fn tile;
} g_families[] = {
    {"portable", tile_portable},
#ifdef NND_BF16_X86
    {"avx512-bf16", tile_avx512_bf16},
#endif
};
enum { N_FAMILIES = sizeof g_families / sizeof g_families[0] };

static int runs_here(int f)
{
#ifdef NND_BF16_X86
    if (f == 1) {
        __builtin_cpu_init();
        return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
               __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512bf16");
    }
#endif
    return f == 0;
}

static int automatic(void)
{
    const char *env = getenv("NNDIST_GEMM");
    if (env && strcmp(env, "portable") == 0) return 0;
    int f = N_FAMILIES - 1;
    while (f > 0 && !runs_here(f)) f--;
    return f;
}

static int g_family = -1; /* chosen at the first call */

static int family(void)
{
    int f = __atomic_load_n(&g_family, __ATOMIC_RELAXED);
    if (f < 0) {
        f = automatic();
        __atomic_store_n(&g_family, f, __ATOMIC_RELAXED);
    }
    return f;
}

const char *nnd_gemm_bf16_family(void)
{
    return g_families[family()].name;
}

int nnd_gemm_bf16_use(const char *name)
{
    int f = name ? -1 : automatic();
    for (int k = 0; k < N_FAMILIES && name; k++)
        if (strcmp(g_families[k].name, name) == 0) f = k;
    if (f < 0 || !runs_here(f)) return -1;
    __atomic_store_n(&g_family, f, __ATOMIC_RELAXED);
    return 0;
}

/* C's tile (rows i0.., columns j0.., clipped to M x N) = alpha acc + beta C: one function for
 * every family, so the same float operations in the same order. */
static void epilogue(float acc[MR][NR], float alpha, float beta, float *C, size_t ldc, size_t i0,
                     size_t j0, size_t M, size_t N)
{
    for (size_t r = 0; r < MR && i0 + r < M; r++) {
        float *c = C + (i0 + r) * ldc + j0;
        for (size_t j = 0; j < NR && j0 + j < N; j++) {
            const float scaled = alpha * acc[r][j];
            if (beta == 0.0f) {
                c[j] = scaled;
            } else {
                const float kept = beta * c[j];
                c[j] = scaled + kept;
            }
        }
    }
}

void nnd_sgemm_bf16(int trans_a, int trans_b, size_t M, size_t N, size_t K, float alpha,
                    const float *A, size_t lda, const float *B, size_t ldb, float beta, float *C,
                    size_t ldc)
{
    if (M == 0 || N == 0) return;
    const size_t kp = (K + 1) / 2, mt = (M + MR - 1) / MR, nt = (N + NR - 1) / NR;
    uint32_t *ap = malloc((mt * kp * MR + 1) * sizeof *ap);
    uint32_t *bp = malloc((nt * kp * NR + 1) * sizeof *bp);
    if (!ap || !bp) abort(); /* a few MB at training shapes: out of memory is fatal here */
    pack_a(trans_a, A, lda, M, K, ap);
    pack_b(trans_b, B, ldb, K, N, bp);
    const tile_fn tile = g_families[family()].tile;
#pragma omp parallel for schedule(dynamic, 1) if (mt * nt > 1 && M * N * K > 32768)
    for (size_t t = 0; t < mt * nt; t++) {
        const size_t ti = t / nt, tj = t % nt;
        float acc[MR][NR];
        tile(kp, ap + ti * kp * MR, bp + tj * kp * NR, acc);
        epilogue(acc, alpha, beta, C, ldc, ti * MR, tj * NR, M, N);
    }
    free(ap);
    free(bp);
}

void nnd_sgemm_bf16_ref(int trans_a, int trans_b, size_t M, size_t N, size_t K, float alpha,
                        const float *A, size_t lda, const float *B, size_t ldb, float beta,
                        float *C, size_t ldc, double *bound)
{
    for (size_t i = 0; i < M; i++)
        for (size_t j = 0; j < N; j++) {
            double s = 0.0, abs_sum = 0.0;
            for (size_t k = 0; k < K; k++) {
                const double a =
                    nnd_bf16_to_float(nnd_bf16_from_float(elem(A, lda, trans_a, i, k)));
                const double b =
                    nnd_bf16_to_float(nnd_bf16_from_float(elem(B, ldb, trans_b, k, j)));
                s += a * b;
                abs_sum += fabs(a * b);
            }
            const double c = beta == 0.0f ? 0.0 : (double)beta * C[i * ldc + j];
            C[i * ldc + j] = (float)((double)alpha * s + c);
            if (bound) bound[i * N + j] = abs_sum;
        }
}
