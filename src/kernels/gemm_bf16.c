/* bf16 products with float32 accumulation (gemm_bf16.h): the families, the choice among them,
 * the portable family and the float64 reference. The x86 families (avx512-bf16, amx-bf16) are
 * in gemm_bf16_x86.c.
 *
 * The portable family converts op(A) and op(B) to dense bf16 copies, then packs them into bf16
 * pairs along K: A by tiles of MR rows (for each k pair, the MR rows' pairs as 32-bit words),
 * B by tiles of NR columns (for each k pair, the NR columns' pairs). A tile of C (MR x NR) then
 * accumulates over all of K in one pass in VDPBF16PS's order, written out in C, and one
 * epilogue applies alpha and beta, then the layer's epilogue. Threads take tiles of C, so no K
 * sum is ever split. */
#include "nndist/gemm_bf16.h"

#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "gemm_bf16_x86.h"
#include "nndist/bf16.h"

#if defined(__x86_64__) && defined(__linux__)
#include <immintrin.h>
#define NND_BF16_X86 1
#endif

enum { MR = 8, NR = 32 };

static inline float elem(const float *X, size_t ld, int trans, size_t i, size_t j)
{
    return trans ? X[j * ld + i] : X[i * ld + j];
}

/* Two bf16 as VDPBF16PS reads a pair: the even k in the low half, the odd k in the high half. */
static inline uint32_t pair(uint16_t even, uint16_t odd)
{
    return (uint32_t)even | ((uint32_t)odd << 16);
}

/* Element (i, j) of op(X) for X's bf16 copy (row stride ld). */
static inline uint16_t half(const uint16_t *X, size_t ld, int trans, size_t i, size_t j)
{
    return trans ? X[j * ld + i] : X[i * ld + j];
}

static void round_row_plain(const float *x, uint16_t *out, size_t n)
{
    for (size_t j = 0; j < n; j++) out[j] = nnd_bf16_from_float(x[j]);
}

#ifdef NND_BF16_X86
/* VCVTNEPS2BF16: nnd_bf16_from_float's definition (test_gemm_bf16 compares them). */
__attribute__((target("avx512f,avx512bw,avx512vl,avx512bf16"))) static void
round_row_bf16(const float *x, uint16_t *out, size_t n)
{
    size_t j = 0;
    for (; j + 16 <= n; j += 16) {
        const __m256bh h = _mm512_cvtneps_pbh(_mm512_loadu_ps(x + j));
        memcpy(out + j, &h, sizeof h);
    }
    round_row_plain(x + j, out + j, n - j);
}
#endif

static int runs_here(int f);

/* X (rows, cols; row stride ld) into its dense bf16 copy (rows, cols): the one conversion of each
 * element, before the packers gather the pairs. */
static void to_bf16(const float *X, size_t rows, size_t cols, size_t ld, uint16_t *out)
{
    void (*row)(const float *, uint16_t *, size_t) = round_row_plain;
#ifdef NND_BF16_X86
    static int has_cvt = -1; /* the CPU has VCVTNEPS2BF16: asked once */
    int h = __atomic_load_n(&has_cvt, __ATOMIC_RELAXED);
    if (h < 0) {
        h = runs_here(1);
        __atomic_store_n(&has_cvt, h, __ATOMIC_RELAXED);
    }
    if (h) row = round_row_bf16;
#endif
#pragma omp parallel for schedule(static) if (rows * cols > 65536)
    for (size_t i = 0; i < rows; i++) row(X + i * ld, out + i * cols, cols);
}

/* Tile t of the packer below, inlined with its width a constant (the loops then unroll and
 * vectorize: a width known only at run time cost 12% of a step's products). */
static inline __attribute__((always_inline)) void pack_tile(int trans, const uint16_t *X, size_t ld,
                                                            size_t rows, size_t K, size_t width,
                                                            size_t t, size_t kpp, uint32_t *out)
{
    for (size_t p = 0; p < kpp; p++)
        for (size_t r = 0; r < width; r++) {
            const size_t i = t * width + r, k = 2 * p;
            uint16_t e = 0, o = 0;
            if (i < rows && k < K) {
                e = half(X, ld, trans, i, k);
                if (k + 1 < K) o = half(X, ld, trans, i, k + 1);
            }
            out[(t * kpp + p) * width + r] = pair(e, o);
        }
}

/* The one packer: op(X) as a (rows, K) matrix (its bf16 copy, row stride ld; op(B) is read as
 * its transpose, (N, K)) into `tiles` tiles of `width` rows (MR or NR), each kpp pairs along K:
 * tile t, pair p, row r at [(t * kpp + p) * width + r]; zeros past the rows and K. */
static void pack_tiles(int trans, const uint16_t *X, size_t ld, size_t rows, size_t K, size_t width,
                       size_t tiles, size_t kpp, uint32_t *out)
{
#pragma omp parallel for schedule(static) if (rows * K > 65536)
    for (size_t t = 0; t < tiles; t++) {
        if (width == MR)
            pack_tile(trans, X, ld, rows, K, MR, t, kpp, out);
        else
            pack_tile(trans, X, ld, rows, K, NR, t, kpp, out);
    }
}

/* Buffers kept from call to call (the products of a step take the same sizes every step, so
 * the training loop allocates nothing after its first step): each grows to the largest size
 * asked. Per thread, so that calls from several threads do not share them. */
typedef struct {
    void *p;
    size_t bytes;
} kept_buffer;

static _Thread_local kept_buffer g_kept[4]; /* A's and B's bf16 copies, A's and B's packs */

static void *kept(int which, size_t bytes)
{
    kept_buffer *k = &g_kept[which];
    if (bytes > k->bytes) {
        free(k->p);
        k->p = malloc(bytes);
        k->bytes = k->p ? bytes : 0;
        if (!k->p) abort(); /* a few MB at training shapes: out of memory is fatal here */
    }
    return k->p;
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

/* C's block (rows i0.., columns j0.., clipped to M x N) = alpha acc + beta C, acc (rows, cols)
 * with row stride acc_ld: one function for every family, so the same float operations in the
 * same order. */
static void epilogue(const float *acc, size_t acc_ld, size_t rows, size_t cols, float alpha,
                     float beta, float *C, size_t ldc, size_t i0, size_t j0, size_t M, size_t N)
{
    for (size_t r = 0; r < rows && i0 + r < M; r++) {
        float *c = C + (i0 + r) * ldc + j0;
        for (size_t j = 0; j < cols && j0 + j < N; j++) {
            const float scaled = alpha * acc[r * acc_ld + j];
            if (beta == 0.0f) {
                c[j] = scaled;
            } else {
                const float kept = beta * c[j];
                c[j] = scaled + kept;
            }
        }
    }
}

/* The portable tile: VDPBF16PS's additions written out (the avx512-bf16 family's bits). */
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

/* The families, best last; 1 and 2 are gemm_bf16_x86.c's (its amx argument is f - 1). */
static const char *const g_families[] = {"portable", "avx512-bf16", "amx-bf16"};
enum { N_FAMILIES = sizeof g_families / sizeof g_families[0] };

static int runs_here(int f)
{
    return f == 0 || nnd_bf16_x86_ready(f - 1);
}

/* The family NNDIST_GEMM names if the CPU runs it ("portable" is also the float32 kernel's
 * name, so it forces both), else the best the CPU runs. */
static int automatic(void)
{
    const char *env = getenv("NNDIST_GEMM");
    for (int k = 0; env && k < N_FAMILIES; k++)
        if (strcmp(g_families[k], env) == 0 && runs_here(k)) return k;
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
    return g_families[family()];
}

int nnd_gemm_bf16_use(const char *name)
{
    int f = name ? -1 : automatic();
    for (int k = 0; k < N_FAMILIES && name; k++)
        if (strcmp(g_families[k], name) == 0) f = k;
    if (f < 0 || !runs_here(f)) return -1;
    __atomic_store_n(&g_family, f, __ATOMIC_RELAXED);
    return 0;
}

/* The layer's epilogue ep on C's block at (i0, j0), rows x cols, clipped to M x N. */
static void epilogue_block(const nnd_gemm_epilogue *ep, float *C, size_t ldc, size_t i0, size_t j0,
                           size_t rows, size_t cols, size_t M, size_t N)
{
    nnd_gemm_epilogue at = *ep;
    if (at.bias) at.bias += j0;
    if (at.relu_mask) at.relu_mask += i0 * at.ld_mask + j0;
    nnd_gemm_epilogue_apply(&at, C + i0 * ldc + j0, ldc, M - i0 < rows ? M - i0 : rows,
                            N - j0 < cols ? N - j0 : cols);
}

void nnd_sgemm_bf16_fused(int trans_a, int trans_b, size_t M, size_t N, size_t K, float alpha,
                          const float *A, size_t lda, const float *B, size_t ldb, float beta,
                          float *C, size_t ldc, const nnd_gemm_epilogue *ep)
{
    if (M == 0 || N == 0) return;
    const int f = family();
    if (f > 0) { /* x86: rounds and packs from float32 in one pass */
        nnd_gemm_bf16_x86(f - 1, trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc,
                          ep);
        return;
    }
    /* The stored operands' bf16 copies, dense: A is (M, K) or (K, M) as stored, B likewise. */
    const size_t ar = trans_a ? K : M, ac = trans_a ? M : K;
    const size_t br = trans_b ? N : K, bc = trans_b ? K : N;
    uint16_t *a16 = kept(0, (ar * ac + 1) * sizeof *a16);
    uint16_t *b16 = kept(1, (br * bc + 1) * sizeof *b16);
    to_bf16(A, ar, ac, lda, a16);
    to_bf16(B, br, bc, ldb, b16);
    const size_t kp = (K + 1) / 2, mt = (M + MR - 1) / MR, nt = (N + NR - 1) / NR;
    uint32_t *ap = kept(2, (mt * kp * MR + 1) * sizeof *ap);
    uint32_t *bp = kept(3, (nt * kp * NR + 1) * sizeof *bp);
    pack_tiles(trans_a, a16, ac, M, K, MR, mt, kp, ap);
    pack_tiles(!trans_b, b16, bc, N, K, NR, nt, kp, bp);
#pragma omp parallel for schedule(static) if (mt * nt > 1 && M * N * K > 32768)
    for (size_t t = 0; t < mt * nt; t++) {
        const size_t ti = t / nt, tj = t % nt;
        float acc[MR][NR];
        tile_portable(kp, ap + ti * kp * MR, bp + tj * kp * NR, acc);
        epilogue(&acc[0][0], NR, MR, NR, alpha, beta, C, ldc, ti * MR, tj * NR, M, N);
        if (ep) epilogue_block(ep, C, ldc, ti * MR, tj * NR, MR, NR, M, N);
    }
}

void nnd_sgemm_bf16(int trans_a, int trans_b, size_t M, size_t N, size_t K, float alpha,
                    const float *A, size_t lda, const float *B, size_t ldb, float beta, float *C,
                    size_t ldc)
{
    nnd_sgemm_bf16_fused(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, NULL);
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
