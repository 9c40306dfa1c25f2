/* Single-precision GEMM: the GotoBLAS/BLIS structure around a 6x16 register-blocked kernel.
 *
 * Loops, outermost first (each thread runs them on its own rectangle of C):
 *   jc: N in blocks of NC       (op(B) panel KC x NC packed, lives in L2/L3)
 *   pc: K in blocks of kc <= KC (the only split of the sum; depends on K alone)
 *   ic: M in blocks of MC       (op(A) block MC x KC packed, lives in L2)
 *   jr: NR-wide slivers of the B panel (one sliver, KC x NR, stays in L1)
 *   ir: MR-tall slivers of the A block -> micro-kernel on an MR x NR tile of C
 *
 * Packed layouts. A block: slivers of MR rows; sliver s holds, for k = 0..kc-1, the MR values
 * alpha * op(A)[s*MR + r][k] (r = 0..MR-1) contiguously. B panel: slivers of NR columns; sliver s
 * holds, for each k, the NR values op(B)[k][s*NR + c]. Rows/columns past M/N are zero. Packing
 * absorbs both transposes and alpha, so all four trans combinations run the same kernel.
 *
 * Kernel families, one per instruction set (nnd_isa_current chooses): portable C (any CPU),
 * AVX2+FMA (6 x 16 tile in 12 ymm accumulators), and AVX-512, which adds a 6 x 32 tile over two
 * adjacent B slivers (12 zmm accumulators) and uses the AVX2 kernel and packers for the rest.
 *
 * The micro-kernel sums its tile over one K block from zero, then writes C once:
 * the first K block stores acc (beta == 0, C not read) or beta*C + acc, later blocks C + acc.
 * Each element of C therefore sees the same operations whichever thread computes it, whether its
 * tile is a full one or an edge tile (edges run the same kernel on a scratch tile), and whatever
 * MC/NC blocks it falls in: results depend on K and the family, never on threads. */
#include "nndist/gemm.h"

#include <omp.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "nndist/isa.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define NND_GEMM_X86 1
#endif

/* Element (i, j) of op(X) where X is stored row-major with stride ld. */
static inline float elem(const float *X, size_t ld, int trans, size_t i, size_t j)
{
    return trans ? X[j * ld + i] : X[i * ld + j];
}

void nnd_sgemm_ref(int trans_a, int trans_b, size_t M, size_t N, size_t K, float alpha,
                   const float *A, size_t lda, const float *B, size_t ldb, float beta, float *C,
                   size_t ldc)
{
    for (size_t i = 0; i < M; i++) {
        for (size_t j = 0; j < N; j++) {
            double acc = 0.0;
            for (size_t k = 0; k < K; k++)
                acc += (double)elem(A, lda, trans_a, i, k) * elem(B, ldb, trans_b, k, j);
            float prev = beta == 0.0f ? 0.0f : beta * C[i * ldc + j];
            C[i * ldc + j] = alpha * (float)acc + prev;
        }
    }
}

/* ---- Blocking parameters ------------------------------------------------------------------ */

enum {
    MR = 6,  /* rows of the register tile */
    NR = 16, /* columns of the register tile: two 8-float vectors */
    /* kc <= KC: a B sliver (KC x NR, 16 KiB) and an A sliver (KC x MR, 6 KiB) share L1. */
    KC = 256,
    /* An A block (MC x KC, 144 KiB) sits in a 512 KiB L2 beside part of the B panel. */
    MC = 144,
    /* A B panel (KC x NC, 4 MiB at most) streams from L2/L3; the training shapes have N <= 784. */
    NC = 4096,
    /* Floats written past the end of a packed buffer by the vector packers (see pack_a_rows). */
    PACK_SLACK = 16,
};

/* A call whose estimated cost (rect_cost on all of C, in multiply-adds) is below this runs on
 * the calling thread. Measured on 2 cores (AVX2 and AVX-512): a second thread starts to pay off
 * at about 64 x 64 x 128, i.e. a few microseconds of work for a fork/join of about one. */
#define GEMM_SERIAL_COST 400000.0

/* How the micro-kernel writes its tile: C = acc, C = beta*C + acc, or C = C + acc. */
enum store_mode { STORE_SET, STORE_SCALE, STORE_ADD };

typedef void (*ukernel_fn)(size_t kc, const float *a, const float *b, float *c, size_t ldc,
                           enum store_mode mode, float beta);
typedef void (*pack_fn)(const float *src, size_t ld, size_t n, size_t kc, float alpha, float *dst);
typedef void (*epilogue_fn)(const nnd_gemm_epilogue *ep, float *C, size_t ldc, size_t i0, size_t j0,
                            size_t mr, size_t nr);

/* A kernel family: the micro-kernel and the packers that feed it. Packers take the top-left
 * element of the block in op(X) coordinates; "cols" packers read the panel's values of one k
 * contiguously (A^T, or B), "rows" packers read them across rows (A, or B^T). ukernel_wide, if
 * not NULL, computes an MR x 2*NR tile from two adjacent B slivers with exactly the operations of
 * two calls of ukernel (so results do not depend on which one a tile gets). */
struct gemm_kernel {
    ukernel_fn ukernel, ukernel_wide;
    pack_fn pack_a_cols, pack_a_rows, pack_b_cols, pack_b_rows;
    epilogue_fn epilogue;
};

/* The epilogue on rows [i0, i0 + mr) x columns [j0, j0 + nr) of C, once they are final: the
 * same operations, in the same order, as bias, ReLU and ReLU's derivative applied in passes
 * after the product (test_gemm compares the two bitwise). Called on each tile right after its last
 * K block, while it is in L1. Each family compiles it for its own vectors (the operations are
 * exact: no result changes). */
static inline __attribute__((always_inline)) void epilogue_body(const nnd_gemm_epilogue *ep,
                                                                float *C, size_t ldc, size_t i0,
                                                                size_t j0, size_t mr, size_t nr)
{
    for (size_t r = 0; r < mr; r++) {
        float *c = C + (i0 + r) * ldc + j0;
        if (ep->bias) {
            const float *b = ep->bias + j0;
            for (size_t j = 0; j < nr; j++) c[j] += b[j];
        }
        if (ep->relu)
            for (size_t j = 0; j < nr; j++) c[j] = c[j] > 0.0f ? c[j] : 0.0f;
        if (ep->relu_mask) {
            /* c = a > 0 ? c : +0, as a bit mask (branch-free), exactly as the separate pass */
            const float *a = ep->relu_mask + (i0 + r) * ep->ld_mask + j0;
            for (size_t j = 0; j < nr; j++) {
                uint32_t bits;
                memcpy(&bits, &c[j], sizeof bits);
                bits &= 0u - (uint32_t)(a[j] > 0.0f);
                memcpy(&c[j], &bits, sizeof bits);
            }
        }
    }
}

static void epilogue_portable(const nnd_gemm_epilogue *ep, float *C, size_t ldc, size_t i0,
                              size_t j0, size_t mr, size_t nr)
{
    epilogue_body(ep, C, ldc, i0, j0, mr, nr);
}

void nnd_gemm_epilogue_apply(const nnd_gemm_epilogue *ep, float *C, size_t ldc, size_t M, size_t N)
{
#pragma omp parallel for schedule(static) if (M * N > 65536)
    for (size_t i = 0; i < M; i += 16)
        epilogue_portable(ep, C, ldc, i, 0, M - i < 16 ? M - i : 16, N);
}

/* ---- Portable kernel (plain C, any CPU) ----------------------------------------------------- */

/* GNU C vectors: SIMD on any target that has it, plain scalars on one that has not. */
typedef float v4f __attribute__((vector_size(16)));

static inline v4f v4f_load(const float *p)
{
    v4f v;
    memcpy(&v, p, sizeof v);
    return v;
}

/* Two passes over 8 columns each, so that 12 accumulators of 4 floats, 2 B vectors and a
 * broadcast of A fit the 16 registers of SSE2 or NEON. */
static void ukernel_portable(size_t kc, const float *restrict a, const float *restrict b,
                             float *restrict c, size_t ldc, enum store_mode mode, float beta)
{
    for (int h = 0; h < NR; h += 8) {
        v4f acc[MR][2];
        for (int r = 0; r < MR; r++) acc[r][0] = acc[r][1] = (v4f){0.0f, 0.0f, 0.0f, 0.0f};
        const float *ap = a, *bp = b + h;
        for (size_t k = 0; k < kc; k++, ap += MR, bp += NR) {
            v4f b0 = v4f_load(bp), b1 = v4f_load(bp + 4);
            for (int r = 0; r < MR; r++) {
                v4f av = {ap[r], ap[r], ap[r], ap[r]};
                acc[r][0] += av * b0;
                acc[r][1] += av * b1;
            }
        }
        for (int r = 0; r < MR; r++) {
            float *cr = c + (size_t)r * ldc + h;
            for (int q = 0; q < 2; q++) {
                v4f v = acc[r][q];
                if (mode == STORE_SCALE)
                    v += beta * v4f_load(cr + 4 * q);
                else if (mode == STORE_ADD)
                    v += v4f_load(cr + 4 * q);
                memcpy(cr + 4 * q, &v, sizeof v);
            }
        }
    }
}

/* A block, values of one k in one row of the source (op(A) = A^T, source K x M):
 * src points at op(A)[0][0] = A[0][0], stride ld between k. n = rows of the block. */
static void pack_a_cols_portable(const float *src, size_t ld, size_t n, size_t kc, float alpha,
                                 float *dst)
{
    for (size_t i0 = 0; i0 < n; i0 += MR, dst += MR * kc) {
        size_t m = n - i0 < MR ? n - i0 : MR;
        for (size_t k = 0; k < kc; k++) {
            const float *s = src + k * ld + i0;
            size_t r = 0;
            for (; r < m; r++) dst[k * MR + r] = alpha * s[r];
            for (; r < MR; r++) dst[k * MR + r] = 0.0f;
        }
    }
}

/* A block, rows of the source are rows of op(A) (op(A) = A, source M x K). */
static void pack_a_rows_portable(const float *src, size_t ld, size_t n, size_t kc, float alpha,
                                 float *dst)
{
    for (size_t i0 = 0; i0 < n; i0 += MR, dst += MR * kc) {
        size_t m = n - i0 < MR ? n - i0 : MR;
        for (size_t r = 0; r < MR; r++) {
            const float *s = src + (i0 + r) * ld;
            if (r < m)
                for (size_t k = 0; k < kc; k++) dst[k * MR + r] = alpha * s[k];
            else
                for (size_t k = 0; k < kc; k++) dst[k * MR + r] = 0.0f;
        }
    }
}

/* B panel, values of one k in one row of the source (op(B) = B, source K x N). */
static void pack_b_cols_portable(const float *src, size_t ld, size_t n, size_t kc, float alpha,
                                 float *dst)
{
    (void)alpha;
    for (size_t j0 = 0; j0 < n; j0 += NR, dst += NR * kc) {
        size_t w = n - j0 < NR ? n - j0 : NR;
        for (size_t k = 0; k < kc; k++) {
            const float *s = src + k * ld + j0;
            size_t j = 0;
            for (; j < w; j++) dst[k * NR + j] = s[j];
            for (; j < NR; j++) dst[k * NR + j] = 0.0f;
        }
    }
}

/* B panel, rows of the source are columns of op(B) (op(B) = B^T, source N x K). */
static void pack_b_rows_portable(const float *src, size_t ld, size_t n, size_t kc, float alpha,
                                 float *dst)
{
    (void)alpha;
    for (size_t j0 = 0; j0 < n; j0 += NR, dst += NR * kc) {
        size_t w = n - j0 < NR ? n - j0 : NR;
        for (size_t j = 0; j < NR; j++) {
            const float *s = src + (j0 + j) * ld;
            if (j < w)
                for (size_t k = 0; k < kc; k++) dst[k * NR + j] = s[k];
            else
                for (size_t k = 0; k < kc; k++) dst[k * NR + j] = 0.0f;
        }
    }
}

static const struct gemm_kernel kernel_portable = {
    ukernel_portable,     NULL,
    pack_a_cols_portable, pack_a_rows_portable,
    pack_b_cols_portable, pack_b_rows_portable,
    epilogue_portable,
};

/* ---- AVX2 + FMA kernel (chosen at run time) ------------------------------------------------- */

#ifdef NND_GEMM_X86
#define AVX2 __attribute__((target("avx2,fma")))

/* 12 accumulators (6 rows x 2 vectors), 2 B vectors and 1 broadcast of A: 15 of 16 ymm.
 * B slivers are 64-byte aligned (the buffer is, and a sliver is kc*64 bytes). */
AVX2 static void ukernel_avx2(size_t kc, const float *restrict a, const float *restrict b,
                              float *restrict c, size_t ldc, enum store_mode mode, float beta)
{
    for (int r = 0; r < MR; r++) {
        _mm_prefetch((const char *)(c + (size_t)r * ldc), _MM_HINT_T0);
        _mm_prefetch((const char *)(c + (size_t)r * ldc + NR - 1), _MM_HINT_T0);
    }
    __m256 c00 = _mm256_setzero_ps(), c01 = _mm256_setzero_ps();
    __m256 c10 = _mm256_setzero_ps(), c11 = _mm256_setzero_ps();
    __m256 c20 = _mm256_setzero_ps(), c21 = _mm256_setzero_ps();
    __m256 c30 = _mm256_setzero_ps(), c31 = _mm256_setzero_ps();
    __m256 c40 = _mm256_setzero_ps(), c41 = _mm256_setzero_ps();
    __m256 c50 = _mm256_setzero_ps(), c51 = _mm256_setzero_ps();
#pragma GCC unroll 4
    for (size_t k = 0; k < kc; k++) {
        __m256 b0 = _mm256_load_ps(b), b1 = _mm256_load_ps(b + 8), av;
        av = _mm256_broadcast_ss(a + 0);
        c00 = _mm256_fmadd_ps(av, b0, c00);
        c01 = _mm256_fmadd_ps(av, b1, c01);
        av = _mm256_broadcast_ss(a + 1);
        c10 = _mm256_fmadd_ps(av, b0, c10);
        c11 = _mm256_fmadd_ps(av, b1, c11);
        av = _mm256_broadcast_ss(a + 2);
        c20 = _mm256_fmadd_ps(av, b0, c20);
        c21 = _mm256_fmadd_ps(av, b1, c21);
        av = _mm256_broadcast_ss(a + 3);
        c30 = _mm256_fmadd_ps(av, b0, c30);
        c31 = _mm256_fmadd_ps(av, b1, c31);
        av = _mm256_broadcast_ss(a + 4);
        c40 = _mm256_fmadd_ps(av, b0, c40);
        c41 = _mm256_fmadd_ps(av, b1, c41);
        av = _mm256_broadcast_ss(a + 5);
        c50 = _mm256_fmadd_ps(av, b0, c50);
        c51 = _mm256_fmadd_ps(av, b1, c51);
        a += MR;
        b += NR;
    }
    __m256 acc[MR][2] = {{c00, c01}, {c10, c11}, {c20, c21}, {c30, c31}, {c40, c41}, {c50, c51}};
    __m256 vbeta = _mm256_set1_ps(beta);
    for (int r = 0; r < MR; r++) {
        float *cr = c + (size_t)r * ldc;
        __m256 v0 = acc[r][0], v1 = acc[r][1];
        if (mode == STORE_SCALE) {
            v0 = _mm256_fmadd_ps(vbeta, _mm256_loadu_ps(cr), v0);
            v1 = _mm256_fmadd_ps(vbeta, _mm256_loadu_ps(cr + 8), v1);
        } else if (mode == STORE_ADD) {
            v0 = _mm256_add_ps(_mm256_loadu_ps(cr), v0);
            v1 = _mm256_add_ps(_mm256_loadu_ps(cr + 8), v1);
        }
        _mm256_storeu_ps(cr, v0);
        _mm256_storeu_ps(cr + 8, v1);
    }
}

/* In-register transpose of 8 rows of 8 floats: on return r[t] holds column t. */
AVX2 static inline void transpose8(__m256 r[8])
{
    __m256 t0 = _mm256_unpacklo_ps(r[0], r[1]), t1 = _mm256_unpackhi_ps(r[0], r[1]);
    __m256 t2 = _mm256_unpacklo_ps(r[2], r[3]), t3 = _mm256_unpackhi_ps(r[2], r[3]);
    __m256 t4 = _mm256_unpacklo_ps(r[4], r[5]), t5 = _mm256_unpackhi_ps(r[4], r[5]);
    __m256 t6 = _mm256_unpacklo_ps(r[6], r[7]), t7 = _mm256_unpackhi_ps(r[6], r[7]);
    /* u0 = column 0 | column 4 of rows 0-3, u1 = columns 1 | 5, u2 = 2 | 6, u3 = 3 | 7. */
    __m256 u0 = _mm256_shuffle_ps(t0, t2, 0x44), u1 = _mm256_shuffle_ps(t0, t2, 0xEE);
    __m256 u2 = _mm256_shuffle_ps(t1, t3, 0x44), u3 = _mm256_shuffle_ps(t1, t3, 0xEE);
    __m256 u4 = _mm256_shuffle_ps(t4, t6, 0x44), u5 = _mm256_shuffle_ps(t4, t6, 0xEE);
    __m256 u6 = _mm256_shuffle_ps(t5, t7, 0x44), u7 = _mm256_shuffle_ps(t5, t7, 0xEE);
    r[0] = _mm256_permute2f128_ps(u0, u4, 0x20);
    r[1] = _mm256_permute2f128_ps(u1, u5, 0x20);
    r[2] = _mm256_permute2f128_ps(u2, u6, 0x20);
    r[3] = _mm256_permute2f128_ps(u3, u7, 0x20);
    r[4] = _mm256_permute2f128_ps(u0, u4, 0x31);
    r[5] = _mm256_permute2f128_ps(u1, u5, 0x31);
    r[6] = _mm256_permute2f128_ps(u2, u6, 0x31);
    r[7] = _mm256_permute2f128_ps(u3, u7, 0x31);
}

/* op(A) = A^T: the 6 values of one k are contiguous in the source; copy them as 4 + 2. */
AVX2 static void pack_a_cols_avx2(const float *src, size_t ld, size_t n, size_t kc, float alpha,
                                  float *dst)
{
    __m128 va = _mm_set1_ps(alpha);
    size_t full = n - n % MR;
    for (size_t i0 = 0; i0 < full; i0 += MR, dst += MR * kc) {
        const float *s = src + i0;
        float *d = dst;
        for (size_t k = 0; k < kc; k++, s += ld, d += MR) {
            __m128 lo = _mm_mul_ps(va, _mm_loadu_ps(s));
            __m128 hi = _mm_mul_ps(va, _mm_loadl_pi(_mm_setzero_ps(), (const __m64 *)(s + 4)));
            _mm_storeu_ps(d, lo);
            _mm_storel_pi((__m64 *)(d + 4), hi);
        }
    }
    if (full < n) pack_a_cols_portable(src + full, ld, n - full, kc, alpha, dst);
}

/* op(A) = A: 6 source rows (zeros past the block's last row), 8 values of k at a time,
 * transposed as 8 x 8 with two zero rows. Each column (8 floats) is stored at stride MR = 6, so
 * its last 2 floats spill into the next k (or past the sliver's end) and are overwritten by the
 * next store: slivers are written in increasing address order, and the buffer has PACK_SLACK
 * floats past its end. */
AVX2 static void pack_a_rows_avx2(const float *src, size_t ld, size_t n, size_t kc, float alpha,
                                  float *dst)
{
    __m256 va = _mm256_set1_ps(alpha);
    size_t k8 = kc - kc % 8;
    for (size_t i0 = 0; i0 < n; i0 += MR, dst += MR * kc) {
        size_t m = n - i0 < MR ? n - i0 : MR;
        const float *s = src + i0 * ld;
        for (size_t k = 0; k < k8; k += 8) {
            __m256 r[8];
            for (size_t q = 0; q < 8; q++)
                r[q] = q < m ? _mm256_mul_ps(va, _mm256_loadu_ps(s + q * ld + k))
                             : _mm256_setzero_ps();
            transpose8(r);
            for (size_t t = 0; t < 8; t++) _mm256_storeu_ps(dst + (k + t) * MR, r[t]);
        }
        for (size_t k = k8; k < kc; k++)
            for (size_t q = 0; q < MR; q++) dst[k * MR + q] = q < m ? alpha * s[q * ld + k] : 0.0f;
    }
}

/* op(B) = B: 16 contiguous values per k (masked loads, zeros, past the panel's last column). */
AVX2 static void pack_b_cols_avx2(const float *src, size_t ld, size_t n, size_t kc, float alpha,
                                  float *dst)
{
    (void)alpha;
    for (size_t j0 = 0; j0 < n; j0 += NR, dst += NR * kc) {
        const float *s = src + j0;
        if (n - j0 >= NR) {
            for (size_t k = 0; k < kc; k++, s += ld) {
                _mm256_store_ps(dst + k * NR, _mm256_loadu_ps(s));
                _mm256_store_ps(dst + k * NR + 8, _mm256_loadu_ps(s + 8));
            }
        } else {
            /* Lane j of the masks is all ones when j < w and j + 8 < w respectively. */
            __m256i w = _mm256_set1_epi32((int)(n - j0));
            __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
            __m256i m0 = _mm256_cmpgt_epi32(w, lane);
            __m256i m1 = _mm256_cmpgt_epi32(w, _mm256_add_epi32(lane, _mm256_set1_epi32(8)));
            for (size_t k = 0; k < kc; k++, s += ld) {
                _mm256_store_ps(dst + k * NR, _mm256_maskload_ps(s, m0));
                _mm256_store_ps(dst + k * NR + 8, _mm256_maskload_ps(s + 8, m1));
            }
        }
    }
}

/* op(B) = B^T: 16 source rows (zeros past the panel's last column), 8 values of k at a time, as
 * two 8 x 8 transposes. */
AVX2 static void pack_b_rows_avx2(const float *src, size_t ld, size_t n, size_t kc, float alpha,
                                  float *dst)
{
    (void)alpha;
    size_t k8 = kc - kc % 8;
    for (size_t j0 = 0; j0 < n; j0 += NR, dst += NR * kc) {
        size_t w = n - j0 < NR ? n - j0 : NR;
        const float *s = src + j0 * ld;
        for (size_t k = 0; k < k8; k += 8)
            for (size_t h = 0; h < NR; h += 8) {
                __m256 r[8];
                for (size_t q = 0; q < 8; q++)
                    r[q] = h + q < w ? _mm256_loadu_ps(s + (h + q) * ld + k) : _mm256_setzero_ps();
                transpose8(r);
                for (size_t t = 0; t < 8; t++) _mm256_store_ps(dst + (k + t) * NR + h, r[t]);
            }
        for (size_t k = k8; k < kc; k++)
            for (size_t q = 0; q < NR; q++) dst[k * NR + q] = q < w ? s[q * ld + k] : 0.0f;
    }
}

AVX2 static void epilogue_avx2(const nnd_gemm_epilogue *ep, float *C, size_t ldc, size_t i0,
                               size_t j0, size_t mr, size_t nr)
{
    epilogue_body(ep, C, ldc, i0, j0, mr, nr);
}

static const struct gemm_kernel kernel_avx2 = {
    ukernel_avx2,     NULL,          pack_a_cols_avx2, pack_a_rows_avx2, pack_b_cols_avx2,
    pack_b_rows_avx2, epilogue_avx2,
};

/* ---- AVX-512 kernel: the AVX2 family plus a 6 x 32 tile ------------------------------------- */

#define AVX512 __attribute__((target("avx512f,avx2,fma")))

/* MR x 2*NR: B slivers s and s+1 (kc*NR floats apart) give one 16-float zmm each; 12
 * accumulators, 2 B vectors and a broadcast of A. Each lane runs the same fused multiply-adds in
 * the same order as ukernel_avx2, so the two kernels agree bitwise. */
AVX512 static void ukernel_avx512(size_t kc, const float *restrict a, const float *restrict b,
                                  float *restrict c, size_t ldc, enum store_mode mode, float beta)
{
    const float *b2 = b + kc * NR;
    for (int r = 0; r < MR; r++) {
        _mm_prefetch((const char *)(c + (size_t)r * ldc), _MM_HINT_T0);
        _mm_prefetch((const char *)(c + (size_t)r * ldc + 2 * NR - 1), _MM_HINT_T0);
    }
    __m512 c00 = _mm512_setzero_ps(), c01 = _mm512_setzero_ps();
    __m512 c10 = _mm512_setzero_ps(), c11 = _mm512_setzero_ps();
    __m512 c20 = _mm512_setzero_ps(), c21 = _mm512_setzero_ps();
    __m512 c30 = _mm512_setzero_ps(), c31 = _mm512_setzero_ps();
    __m512 c40 = _mm512_setzero_ps(), c41 = _mm512_setzero_ps();
    __m512 c50 = _mm512_setzero_ps(), c51 = _mm512_setzero_ps();
#pragma GCC unroll 4
    for (size_t k = 0; k < kc; k++) {
        __m512 b0 = _mm512_load_ps(b), b1 = _mm512_load_ps(b2), av;
        av = _mm512_set1_ps(a[0]);
        c00 = _mm512_fmadd_ps(av, b0, c00);
        c01 = _mm512_fmadd_ps(av, b1, c01);
        av = _mm512_set1_ps(a[1]);
        c10 = _mm512_fmadd_ps(av, b0, c10);
        c11 = _mm512_fmadd_ps(av, b1, c11);
        av = _mm512_set1_ps(a[2]);
        c20 = _mm512_fmadd_ps(av, b0, c20);
        c21 = _mm512_fmadd_ps(av, b1, c21);
        av = _mm512_set1_ps(a[3]);
        c30 = _mm512_fmadd_ps(av, b0, c30);
        c31 = _mm512_fmadd_ps(av, b1, c31);
        av = _mm512_set1_ps(a[4]);
        c40 = _mm512_fmadd_ps(av, b0, c40);
        c41 = _mm512_fmadd_ps(av, b1, c41);
        av = _mm512_set1_ps(a[5]);
        c50 = _mm512_fmadd_ps(av, b0, c50);
        c51 = _mm512_fmadd_ps(av, b1, c51);
        a += MR;
        b += NR;
        b2 += NR;
    }
    __m512 acc[MR][2] = {{c00, c01}, {c10, c11}, {c20, c21}, {c30, c31}, {c40, c41}, {c50, c51}};
    __m512 vbeta = _mm512_set1_ps(beta);
    for (int r = 0; r < MR; r++) {
        float *cr = c + (size_t)r * ldc;
        __m512 v0 = acc[r][0], v1 = acc[r][1];
        if (mode == STORE_SCALE) {
            v0 = _mm512_fmadd_ps(vbeta, _mm512_loadu_ps(cr), v0);
            v1 = _mm512_fmadd_ps(vbeta, _mm512_loadu_ps(cr + NR), v1);
        } else if (mode == STORE_ADD) {
            v0 = _mm512_add_ps(_mm512_loadu_ps(cr), v0);
            v1 = _mm512_add_ps(_mm512_loadu_ps(cr + NR), v1);
        }
        _mm512_storeu_ps(cr, v0);
        _mm512_storeu_ps(cr + NR, v1);
    }
}

AVX512 static void epilogue_avx512(const nnd_gemm_epilogue *ep, float *C, size_t ldc, size_t i0,
                                   size_t j0, size_t mr, size_t nr)
{
    epilogue_body(ep, C, ldc, i0, j0, mr, nr);
}

static const struct gemm_kernel kernel_avx512 = {
    ukernel_avx2,     ukernel_avx512,   pack_a_cols_avx2, pack_a_rows_avx2,
    pack_b_cols_avx2, pack_b_rows_avx2, epilogue_avx512,
};
#endif /* NND_GEMM_X86 */

/* ---- Kernel choice ------------------------------------------------------------------------ */

/* The family of each instruction set (nnd_isa_current chooses; NULL where this build has none). */
static const struct gemm_kernel *const kernels[NND_ISA_COUNT] = {
    [NND_ISA_PORTABLE] = &kernel_portable,
#ifdef NND_GEMM_X86
    [NND_ISA_AVX2] = &kernel_avx2,
    [NND_ISA_AVX512] = &kernel_avx512,
#endif
};

static const struct gemm_kernel *current_kernel(void)
{
    const struct gemm_kernel *k = kernels[nnd_isa_current()];
    return k ? k : &kernel_portable;
}

/* ---- Packing buffers ------------------------------------------------------------------------ */

/* Each thread keeps its own buffers, grown on demand and reused by later calls (no allocation in
 * steady state), so concurrent callers never share one; first touched by the thread using them.
 * A thread-specific key frees them when an OpenMP worker thread exits (the calling thread's stay
 * until the process ends). */
struct pack_buf {
    float *p;
    size_t cap; /* floats */
};
struct pack_bufs {
    struct pack_buf a, b;
};
static _Thread_local struct pack_bufs *tls_bufs;
static pthread_key_t bufs_key;
static pthread_once_t bufs_once = PTHREAD_ONCE_INIT;
static int bufs_key_ok;

static void bufs_free(void *p)
{
    struct pack_bufs *b = p;
    free(b->a.p);
    free(b->b.p);
    free(b);
}

static void bufs_key_init(void)
{
    bufs_key_ok = pthread_key_create(&bufs_key, bufs_free) == 0;
}

/* This thread's buffers; NULL if out of memory. */
static struct pack_bufs *thread_bufs(void)
{
    if (!tls_bufs) {
        pthread_once(&bufs_once, bufs_key_init);
        struct pack_bufs *b = calloc(1, sizeof *b);
        if (!b) return NULL;
        if (bufs_key_ok) pthread_setspecific(bufs_key, b);
        tls_bufs = b;
    }
    return tls_bufs;
}

/* At least n floats (plus PACK_SLACK), 64-byte aligned; NULL if out of memory. */
static float *pack_buf_get(struct pack_buf *b, size_t n)
{
    n += PACK_SLACK;
    if (b->cap >= n) return b->p;
    size_t bytes = (n * sizeof(float) + 63) & ~(size_t)63;
    float *p = aligned_alloc(64, bytes);
    if (!p) return NULL;
    free(b->p);
    b->p = p;
    b->cap = bytes / sizeof(float);
    return p;
}

/* ---- Driver --------------------------------------------------------------------------------- */

struct gemm_args {
    int trans_a, trans_b;
    size_t M, N, K;
    float alpha, beta;
    const float *A, *B;
    size_t lda, ldb, ldc;
    float *C;
    size_t kc;                   /* the K block: depends on K alone */
    const nnd_gemm_epilogue *ep; /* NULL: none */
};

static size_t round_up(size_t x, size_t m)
{
    return (x + m - 1) / m * m;
}

static size_t min_size(size_t a, size_t b)
{
    return a < b ? a : b;
}

/* An edge tile (mr rows, nr columns, fewer than the kernel's MR x width): the same kernel on a
 * scratch tile, so every element sees the same arithmetic as in a full tile. */
static void edge_tile(ukernel_fn ukernel, size_t width, size_t kc, const float *a, const float *b,
                      float *c, size_t ldc, size_t mr, size_t nr, enum store_mode mode, float beta)
{
    _Alignas(64) float t[MR * 2 * NR];
    if (mode != STORE_SET) {
        memset(t, 0, sizeof t);
        for (size_t r = 0; r < mr; r++) memcpy(t + r * width, c + r * ldc, nr * sizeof *c);
    }
    ukernel(kc, a, b, t, width, mode, beta);
    for (size_t r = 0; r < mr; r++) memcpy(c + r * ldc, t + r * width, nr * sizeof *c);
}

/* C[m0:m1, n0:n1] on the calling thread. mc_max and nc_max are the A and B block sizes; the
 * buffers hold round_up(mc_max, MR) * kc and round_up(nc_max, NR) * kc floats (+ slack). */
static void gemm_rect(const struct gemm_kernel *kern, const struct gemm_args *g, size_t m0,
                      size_t m1, size_t n0, size_t n1, size_t mc_max, size_t nc_max, float *abuf,
                      float *bbuf)
{
    enum store_mode first = g->beta == 0.0f ? STORE_SET : g->beta == 1.0f ? STORE_ADD : STORE_SCALE;
    pack_fn pack_a = g->trans_a ? kern->pack_a_cols : kern->pack_a_rows;
    pack_fn pack_b = g->trans_b ? kern->pack_b_rows : kern->pack_b_cols;
    for (size_t jc = n0; jc < n1; jc += nc_max) {
        size_t nc = min_size(nc_max, n1 - jc);
        for (size_t pc = 0; pc < g->K; pc += g->kc) {
            size_t kc = min_size(g->kc, g->K - pc);
            enum store_mode mode = pc == 0 ? first : STORE_ADD;
            const nnd_gemm_epilogue *ep = pc + kc == g->K ? g->ep : NULL; /* the last block */
            /* op(B)[pc, jc]: B[pc][jc] or, transposed, B[jc][pc]. */
            const float *bsrc = g->trans_b ? g->B + jc * g->ldb + pc : g->B + pc * g->ldb + jc;
            pack_b(bsrc, g->ldb, nc, kc, 1.0f, bbuf);
            for (size_t ic = m0; ic < m1; ic += mc_max) {
                size_t mc = min_size(mc_max, m1 - ic);
                const float *asrc = g->trans_a ? g->A + pc * g->lda + ic : g->A + ic * g->lda + pc;
                pack_a(asrc, g->lda, mc, kc, g->alpha, abuf);
                for (size_t jr = 0; jr < nc;) {
                    /* Two slivers at once where the family has a wide kernel and two are left
                     * (the second may be partial: packing zero-filled it). */
                    int wide = kern->ukernel_wide && nc - jr > NR;
                    ukernel_fn uk = wide ? kern->ukernel_wide : kern->ukernel;
                    size_t width = wide ? 2 * NR : NR, nr = min_size(width, nc - jr);
                    const float *bp = bbuf + jr * kc;
                    for (size_t ir = 0; ir < mc; ir += MR) {
                        size_t mr = min_size(MR, mc - ir);
                        const float *ap = abuf + ir * kc;
                        float *c = g->C + (ic + ir) * g->ldc + jc + jr;
                        if (mr == MR && nr == width)
                            uk(kc, ap, bp, c, g->ldc, mode, g->beta);
                        else
                            edge_tile(uk, width, kc, ap, bp, c, g->ldc, mr, nr, mode, g->beta);
                        if (ep) kern->epilogue(ep, g->C, g->ldc, ic + ir, jc + jr, mr, nr);
                    }
                    jr += width;
                }
            }
        }
    }
}

/* The out-of-memory path: one sliver of A and of B at a time, in stack buffers. Slower, but the
 * arithmetic (and so the result) is the same as with full blocks. */
__attribute__((noinline)) static void gemm_rect_unbuffered(const struct gemm_kernel *kern,
                                                           const struct gemm_args *g, size_t m0,
                                                           size_t m1, size_t n0, size_t n1)
{
    _Alignas(64) float a_small[MR * KC + PACK_SLACK], b_small[NR * KC + PACK_SLACK];
    gemm_rect(kern, g, m0, m1, n0, n1, MR, NR, a_small, b_small);
}

/* C[m0:m1, n0:n1] with this thread's packing buffers. */
static void gemm_rect_buffered(const struct gemm_kernel *kern, const struct gemm_args *g, size_t m0,
                               size_t m1, size_t n0, size_t n1)
{
    /* Balanced M blocks: ceil(rows / MC) blocks of equal size, rounded up to MR. */
    size_t rows = m1 - m0, cols = n1 - n0;
    size_t nmb = (rows + MC - 1) / MC;
    size_t mc_max = round_up((rows + nmb - 1) / nmb, MR);
    size_t nc_max = min_size(NC, round_up(cols, NR));
    struct pack_bufs *bufs = thread_bufs();
    float *abuf = bufs ? pack_buf_get(&bufs->a, mc_max * g->kc) : NULL;
    float *bbuf = bufs ? pack_buf_get(&bufs->b, nc_max * g->kc) : NULL;
    if (abuf && bbuf)
        gemm_rect(kern, g, m0, m1, n0, n1, mc_max, nc_max, abuf, bbuf);
    else
        gemm_rect_unbuffered(kern, g, m0, m1, n0, n1);
}

/* C = beta * C, for K == 0 or alpha == 0 (A and B are not read, as in BLAS). */
static void scale_c(size_t M, size_t N, float beta, float *C, size_t ldc)
{
    for (size_t i = 0; i < M; i++) {
        float *c = C + i * ldc;
        if (beta == 0.0f)
            memset(c, 0, N * sizeof *c);
        else if (beta != 1.0f)
            for (size_t j = 0; j < N; j++) c[j] *= beta;
    }
}

/* Estimated cost, in multiply-adds, of a rows x cols rectangle of C: its tiles padded to MR x NR,
 * and the values it packs (its rows of op(A) once per NC block, its columns of op(B)). */
static double rect_cost(size_t mtiles, size_t ntiles, size_t K)
{
    const double pack_cost = 8.0; /* one packed float ~ this many multiply-adds */
    double rows = (double)(mtiles * MR), cols = (double)(ntiles * NR);
    double npanels = (double)((ntiles * NR + NC - 1) / NC);
    return (rows * cols + pack_cost * (rows * npanels + cols)) * (double)K;
}

/* Split C into a tm x tn grid of rectangles for up to nt threads, minimising the cost of the
 * busiest one. */
static void choose_grid(size_t M, size_t N, size_t K, int nt, int *tm, int *tn)
{
    size_t mtiles = (M + MR - 1) / MR, ntiles = (N + NR - 1) / NR;
    double best = -1.0;
    *tm = *tn = 1;
    for (int a = 1; a <= nt; a++)
        for (int b = 1; a * b <= nt; b++) {
            if ((size_t)a > mtiles || (size_t)b > ntiles) continue;
            double cost = rect_cost((mtiles + a - 1) / a, (ntiles + b - 1) / b, K);
            /* Strictly better only: of equal estimates, keep the one found first (fewer
             * threads along M, i.e. less repacking of op(B)). */
            if (best < 0.0 || cost < best * 0.999) {
                best = cost;
                *tm = a;
                *tn = b;
            }
        }
}

void nnd_sgemm(int trans_a, int trans_b, size_t M, size_t N, size_t K, float alpha, const float *A,
               size_t lda, const float *B, size_t ldb, float beta, float *C, size_t ldc)
{
    nnd_sgemm_fused(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, NULL);
}

void nnd_sgemm_fused(int trans_a, int trans_b, size_t M, size_t N, size_t K, float alpha,
                     const float *A, size_t lda, const float *B, size_t ldb, float beta, float *C,
                     size_t ldc, const nnd_gemm_epilogue *ep)
{
    if (M == 0 || N == 0) return;
    if (K == 0 || alpha == 0.0f) {
        scale_c(M, N, beta, C, ldc);
        if (ep) current_kernel()->epilogue(ep, C, ldc, 0, 0, M, N);
        return;
    }
    const struct gemm_kernel *kern = current_kernel();
    size_t nkb = (K + KC - 1) / KC;
    struct gemm_args g = {
        .trans_a = trans_a,
        .trans_b = trans_b,
        .M = M,
        .N = N,
        .K = K,
        .alpha = alpha,
        .beta = beta,
        .A = A,
        .B = B,
        .lda = lda,
        .ldb = ldb,
        .ldc = ldc,
        .C = C,
        .kc = (K + nkb - 1) / nkb, /* balanced K blocks, the same for every thread count */
        .ep = ep,
    };

    int nt = omp_in_parallel() ? 1 : omp_get_max_threads();
    if (rect_cost((M + MR - 1) / MR, (N + NR - 1) / NR, K) < GEMM_SERIAL_COST) nt = 1;
    int tm = 1, tn = 1;
    if (nt > 1) choose_grid(M, N, K, nt, &tm, &tn);
    if (tm * tn == 1) {
        gemm_rect_buffered(kern, &g, 0, M, 0, N);
        return;
    }
    size_t mtiles = (M + MR - 1) / MR, ntiles = (N + NR - 1) / NR;
    int nparts = tm * tn;
#pragma omp parallel num_threads(nparts)
    {
        /* The team may be smaller than asked (thread limits): take rectangles round-robin. */
        int nthreads = omp_get_num_threads();
        for (int part = omp_get_thread_num(); part < nparts; part += nthreads) {
            size_t pi = (size_t)(part / tn), pj = (size_t)(part % tn);
            size_t m0 = mtiles * pi / (size_t)tm * MR;
            size_t m1 = min_size(mtiles * (pi + 1) / (size_t)tm * MR, M);
            size_t n0 = ntiles * pj / (size_t)tn * NR;
            size_t n1 = min_size(ntiles * (pj + 1) / (size_t)tn * NR, N);
            if (m0 < m1 && n0 < n1) gemm_rect_buffered(kern, &g, m0, m1, n0, n1);
        }
    }
}
