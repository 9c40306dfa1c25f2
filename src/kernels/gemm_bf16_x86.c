/* The x86 families of nnd_sgemm_bf16: "avx512-bf16" (VDPBF16PS) and "amx-bf16" (AMX tiles,
 * Sapphire Rapids and later), on one way of packing.
 *
 * At training shapes much of a bf16 product's time goes around the arithmetic: reading the
 * float32 operands, rounding and packing them, and writing C. So:
 *  - each operand is read once, rounded (VCVTNE2PS2BF16, the rounding of nndist/bf16.h) and
 *    packed in the same pass, 16 x 16 pairs at a time in registers: op(A) as rows of pairs,
 *    op(B) as 16-column panels of pair rows (the layout both VDPBF16PS and TDPBF16PS read). An
 *    operand stored with K along its rows gives rows of pairs directly; one stored with K down
 *    its columns gives pair rows; the other layout is a 16 x 16 transpose of 32-bit words;
 *  - blocks of C are made down one B panel at a time, so that the panel stays in cache;
 *  - alpha, beta and the layer's epilogue (bias, ReLU, ReLU's derivative) are applied to each
 *    block as it is stored, in the operations and order of gemm_bf16.c's epilogue followed by
 *    nnd_gemm_epilogue_apply.
 * avx512-bf16 makes 8 x 32 tiles over exactly K's pairs in VDPBF16PS's order: the portable
 * family's bits. AMX loads the tile configuration once per call and thread and makes 32 x 32
 * blocks (two A tiles by two B tiles, four accumulators); TDPBF16PS adds in an order of its own,
 * so its results are checked against the accumulation bound (test_gemm_bf16). Neither splits K:
 * the thread count changes nothing. */
#include "gemm_bf16_x86.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) && defined(__linux__)
#include <cpuid.h>
#include <immintrin.h>
#include <pthread.h>
#include <sys/syscall.h>
#include <unistd.h>

enum {
    AB = 32, /* AMX's C block: 32 x 32, two tiles of rows by two of columns; rows and columns of
              * the packed operands are padded to it */
    TP = 16, /* pairs of K per AMX tile; the packed K is padded to it */
    VR = 8,  /* avx512-bf16's tile: 8 rows x 32 columns (16 accumulators) */
};

#define AMX_TARGET  __attribute__((target("avx512f,avx512bw,avx512vl,avx512bf16,amx-tile,amx-bf16")))
#define PACK_TARGET __attribute__((target("avx512f,avx512bw,avx512vl,avx512bf16")))

static int g_ready[2]; /* avx512-bf16, amx-bf16 */
static pthread_once_t g_once = PTHREAD_ONCE_INIT;

static void ask(void)
{
    /* CPUID leaf 7: AVX512F is EBX bit 16, AVX512BW bit 30, AVX512VL bit 31; AMX-BF16 is EDX
     * bit 22, AMX-TILE bit 24 (clang 14's __builtin_cpu_supports does not know them); subleaf
     * 1: AVX512_BF16 is EAX bit 5. The OS must save the AVX-512 state (XCR0 bits 1, 2, 5-7). */
    unsigned eax, ebx, ecx, edx, a1, b1, c1, d1;
    if (!__get_cpuid_count(7, 0, &eax, &ebx, &ecx, &edx)) return;
    if (!__get_cpuid_count(7, 1, &a1, &b1, &c1, &d1)) return;
    __builtin_cpu_init();
    const int avx512 = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                       __builtin_cpu_supports("avx512vl");
    g_ready[0] = avx512 && (a1 & (1u << 5));
    /* Linux hands the tile state to a process that asks (ARCH_REQ_XCOMP_PERM, XTILEDATA) */
    g_ready[1] = g_ready[0] && (edx & (1u << 22)) && (edx & (1u << 24)) &&
                 syscall(SYS_arch_prctl, 0x1023, 18) == 0;
}

int nnd_bf16_x86_ready(int amx)
{
    pthread_once(&g_once, ask);
    return g_ready[amx != 0];
}

/* Buffers kept from call to call (a step's products take the same sizes every step), per
 * calling thread; each grows to the largest size asked. */
static _Thread_local struct {
    void *p;
    size_t bytes;
} g_kept[2];

static uint32_t *kept(int which, size_t words)
{
    if (words * 4 > g_kept[which].bytes) {
        free(g_kept[which].p);
        g_kept[which].p = aligned_alloc(64, words * 4);
        if (!g_kept[which].p) abort(); /* a few MB at training shapes: fatal here */
        g_kept[which].bytes = words * 4;
    }
    return g_kept[which].p;
}

static inline __mmask16 first(size_t n)
{
    return n >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << n) - 1u);
}

/* The 16 x 16 words r[0..15] transposed in place (r[i] word j <-> r[j] word i). */
PACK_TARGET static inline void transpose16(__m512i r[16])
{
    __m512i t[16], u[16];
    for (int i = 0; i < 8; i++) {
        t[2 * i] = _mm512_unpacklo_epi32(r[2 * i], r[2 * i + 1]);
        t[2 * i + 1] = _mm512_unpackhi_epi32(r[2 * i], r[2 * i + 1]);
    }
    for (int i = 0; i < 4; i++) {
        u[4 * i] = _mm512_unpacklo_epi64(t[4 * i], t[4 * i + 2]);
        u[4 * i + 1] = _mm512_unpackhi_epi64(t[4 * i], t[4 * i + 2]);
        u[4 * i + 2] = _mm512_unpacklo_epi64(t[4 * i + 1], t[4 * i + 3]);
        u[4 * i + 3] = _mm512_unpackhi_epi64(t[4 * i + 1], t[4 * i + 3]);
    }
    /* u[4i + j], 128-bit lane L: words 4L + j of rows 4i..4i+3 */
    for (int j = 0; j < 4; j++) {
        const __m512i a = _mm512_shuffle_i32x4(u[j], u[4 + j], 0x88);
        const __m512i b = _mm512_shuffle_i32x4(u[j], u[4 + j], 0xdd);
        const __m512i c = _mm512_shuffle_i32x4(u[8 + j], u[12 + j], 0x88);
        const __m512i d = _mm512_shuffle_i32x4(u[8 + j], u[12 + j], 0xdd);
        r[j] = _mm512_shuffle_i32x4(a, c, 0x88);
        r[8 + j] = _mm512_shuffle_i32x4(a, c, 0xdd);
        r[4 + j] = _mm512_shuffle_i32x4(b, d, 0x88);
        r[12 + j] = _mm512_shuffle_i32x4(b, d, 0xdd);
    }
}

/* An operand as op(X) (rows, K): element (i, k) at X[i ld + k], or with kmajor at X[k ld + i]. */
typedef struct {
    const float *x;
    size_t ld, rows, K;
    int kmajor;
} operand;

/* Rows i0..i0+15, pairs p0..p0+15 of op(X) in bf16 pairs (the even k in the low half), zeros
 * past its rows and K: w[i] = row i's 16 pair words (by_rows), else w[p] = pair p's 16 rows. */
PACK_TARGET static void block16(const operand *X, size_t i0, size_t p0, int by_rows, __m512i w[16])
{
    const size_t k0 = 2 * p0;
    const size_t nk = X->K > k0 ? X->K - k0 : 0, ni = X->rows > i0 ? X->rows - i0 : 0;
    if (!X->kmajor) { /* row i's 32 floats from k0 are its 16 pairs */
        const __mmask16 lo = first(nk), hi = first(nk > 16 ? nk - 16 : 0);
        for (size_t i = 0; i < 16; i++) {
            if (i >= ni) {
                w[i] = _mm512_setzero_si512();
                continue;
            }
            const float *row = X->x + (i0 + i) * X->ld + k0;
            const __m512 even_half = _mm512_maskz_loadu_ps(lo, row);
            const __m512 odd_half = _mm512_maskz_loadu_ps(hi, row + 16);
            w[i] = (__m512i)_mm512_cvtne2ps_pbh(odd_half, even_half);
        }
    } else { /* rows k and k + 1 each hold the 16 rows' values: interleave them into pairs */
        const __m512i interleave =
            _mm512_set_epi16(31, 15, 30, 14, 29, 13, 28, 12, 27, 11, 26, 10, 25, 9, 24, 8, 23, 7,
                             22, 6, 21, 5, 20, 4, 19, 3, 18, 2, 17, 1, 16, 0);
        const __mmask16 m = first(ni);
        for (size_t p = 0; p < 16; p++) {
            const size_t k = k0 + 2 * p;
            if (k >= X->K) {
                w[p] = _mm512_setzero_si512();
                continue;
            }
            const __m512 even = _mm512_maskz_loadu_ps(m, X->x + k * X->ld + i0);
            const __m512 odd = k + 1 < X->K ? _mm512_maskz_loadu_ps(m, X->x + (k + 1) * X->ld + i0)
                                            : _mm512_setzero_ps();
            w[p] = _mm512_permutexvar_epi16(interleave, (__m512i)_mm512_cvtne2ps_pbh(odd, even));
        }
    }
    if (by_rows == X->kmajor) transpose16(w);
}

/* op(X) packed for the tiles, its rows padded to a multiple of AB: by_rows (A), row i, pair p at
 * out[i kpp + p]; else (B, op(B) read as its transpose) 16-row panels, panel g, pair p, row c at
 * out[(g kpp + p) 16 + c]. */
PACK_TARGET static void pack(const operand *X, size_t kpp, int by_rows, uint32_t *out)
{
    const size_t groups = (X->rows + AB - 1) / AB * (AB / 16);
#pragma omp for schedule(static) collapse(2)
    for (size_t g = 0; g < groups; g++)
        for (size_t q = 0; q < kpp / TP; q++) {
            __m512i w[16];
            block16(X, 16 * g, TP * q, by_rows, w);
            for (size_t r = 0; r < 16; r++)
                _mm512_storeu_si512(by_rows ? out + (16 * g + r) * kpp + TP * q
                                            : out + (g * kpp + TP * q + r) * 16,
                                    w[r]);
        }
}

/* C's block at (i0, j0), rows x cols of acc (row stride ld) clipped to M x N: alpha acc + beta C,
 * then the epilogue; the operations of gemm_bf16.c's epilogue and nnd_gemm_epilogue_apply, in
 * their order. */
PACK_TARGET static void store_block(const float *acc, size_t ld, size_t rows, size_t cols,
                                    float alpha, float beta, float *C, size_t ldc, size_t i0,
                                    size_t j0, size_t M, size_t N, const nnd_gemm_epilogue *ep)
{
    rows = M - i0 < rows ? M - i0 : rows;
    cols = N - j0 < cols ? N - j0 : cols;
    const __m512 va = _mm512_set1_ps(alpha), vb = _mm512_set1_ps(beta);
    const __m512 zero = _mm512_setzero_ps();
    for (size_t r = 0; r < rows; r++)
        for (size_t h = 0; h < cols; h += 16) {
            const __mmask16 m = first(cols - h);
            float *c = C + (i0 + r) * ldc + j0 + h;
            __m512 v = _mm512_mul_ps(va, _mm512_loadu_ps(acc + r * ld + h));
            if (beta != 0.0f) v = _mm512_add_ps(v, _mm512_mul_ps(vb, _mm512_maskz_loadu_ps(m, c)));
            if (ep && ep->bias) v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(m, ep->bias + j0 + h));
            if (ep && ep->relu) v = _mm512_max_ps(v, zero); /* c > 0 ? c : +0, NaN to +0 */
            if (ep && ep->relu_mask) {
                const float *a = ep->relu_mask + (i0 + r) * ep->ld_mask + j0 + h;
                const __m512 av = _mm512_maskz_loadu_ps(m, a);
                v = _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(av, zero, _CMP_GT_OQ), v);
            }
            _mm512_mask_storeu_ps(c, m, v);
        }
}

/* avx512-bf16's tile: rows i0..i0+7 of the packed A (rows of kpp pairs) by the two 16-column
 * panels from bp, over K's kp pairs only (a padded pair would turn a -0 sum into +0). */
PACK_TARGET static void vector_tile(const uint32_t *ap, const uint32_t *bp, size_t kpp, size_t kp,
                                    float acc[VR][32])
{
    __m512 c0[VR], c1[VR];
#pragma GCC unroll 8
    for (int r = 0; r < VR; r++) c0[r] = c1[r] = _mm512_setzero_ps();
    const uint32_t *b1p = bp + kpp * 16;
    for (size_t p = 0; p < kp; p++) {
        const __m512bh b0 = (__m512bh)_mm512_load_si512(bp + p * 16);
        const __m512bh b1 = (__m512bh)_mm512_load_si512(b1p + p * 16);
#pragma GCC unroll 8
        for (int r = 0; r < VR; r++) {
            const __m512bh ar = (__m512bh)_mm512_set1_epi32((int)ap[(size_t)r * kpp + p]);
            c0[r] = _mm512_dpbf16_ps(c0[r], ar, b0);
            c1[r] = _mm512_dpbf16_ps(c1[r], ar, b1);
        }
    }
#pragma GCC unroll 8
    for (int r = 0; r < VR; r++) {
        _mm512_storeu_ps(acc[r], c0[r]);
        _mm512_storeu_ps(acc[r] + 16, c1[r]);
    }
}

struct amx_config {
    uint8_t palette, start_row, reserved[14];
    uint16_t colsb[16];
    uint8_t rows[16];
};

/* Tiles 0-3: the block's accumulators; 4, 5: A's two row tiles; 6, 7: B's two column tiles. */
AMX_TARGET static void configure(void)
{
    struct amx_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.palette = 1;
    for (int t = 0; t < 8; t++) {
        cfg.rows[t] = 16;
        cfg.colsb[t] = 64;
    }
    /* GCC 12 does not see that LDTILECFG reads the whole 64 bytes and drops the stores to rows
     * and colsb: this barrier keeps them */
    __asm__ volatile("" : : "r"(&cfg) : "memory");
    _tile_loadconfig(&cfg);
}

/* The block of C at rows 32 bi, columns 32 bj into acc. */
AMX_TARGET static void block(const uint32_t *ap, const uint32_t *bp, size_t kpp, size_t bi,
                             size_t bj, float acc[AB][AB])
{
    const uint32_t *a0 = ap + AB * bi * kpp, *a1 = a0 + 16 * kpp;
    const uint32_t *b0 = bp + 2 * bj * kpp * 16, *b1 = b0 + kpp * 16;
    const size_t stride = kpp * sizeof *ap;
    _tile_zero(0);
    _tile_zero(1);
    _tile_zero(2);
    _tile_zero(3);
    for (size_t p = 0; p < kpp; p += TP) {
        _tile_loadd(4, a0 + p, stride);
        _tile_loadd(5, a1 + p, stride);
        _tile_loadd(6, b0 + p * 16, 64);
        _tile_loadd(7, b1 + p * 16, 64);
        _tile_dpbf16ps(0, 4, 6);
        _tile_dpbf16ps(1, 4, 7);
        _tile_dpbf16ps(2, 5, 6);
        _tile_dpbf16ps(3, 5, 7);
    }
    _tile_stored(0, &acc[0][0], AB * sizeof(float));
    _tile_stored(1, &acc[0][16], AB * sizeof(float));
    _tile_stored(2, &acc[16][0], AB * sizeof(float));
    _tile_stored(3, &acc[16][16], AB * sizeof(float));
}

AMX_TARGET static void release(void)
{
    _tile_release();
}

void nnd_gemm_bf16_x86(int amx, int trans_a, int trans_b, size_t M, size_t N, size_t K, float alpha,
                       const float *A, size_t lda, const float *B, size_t ldb, float beta, float *C,
                       size_t ldc, const nnd_gemm_epilogue *ep)
{
    const size_t kp = (K + 1) / 2, kpp = (kp + TP - 1) / TP * TP;
    const size_t mb = (M + AB - 1) / AB, nb = (N + AB - 1) / AB;
    uint32_t *ap = kept(0, mb * AB * kpp), *bp = kept(1, nb * AB * kpp);
    const operand a = {A, lda, M, K, trans_a}, b = {B, ldb, N, K, !trans_b};
    /* avx512-bf16: 8-row tiles of A by 32-column pairs of panels, each pair down all of M */
    const size_t vm = (M + VR - 1) / VR, tiles = amx ? mb * nb : vm * nb;
#pragma omp parallel if (M * N * K > 32768)
    {
        pack(&a, kpp, 1, ap);
        pack(&b, kpp, 0, bp); /* the implied barrier: both packed before any block */
        if (amx) configure();
            /* static: the blocks cost alike, and a dynamic schedule's atomic per block waits for
             * the stores of the block before it to drain (a quarter of the time at 1 thread) */
#pragma omp for schedule(static)
        for (size_t t = 0; t < tiles; t++) {
            if (amx) {
                const size_t bj = t / mb, bi = t % mb; /* down one B panel, kept in cache */
                float acc[AB][AB] __attribute__((aligned(64)));
                block(ap, bp, kpp, bi, bj, acc);
                store_block(&acc[0][0], AB, AB, AB, alpha, beta, C, ldc, AB * bi, AB * bj, M, N,
                            ep);
            } else {
                const size_t bj = t / vm, ti = t % vm;
                float acc[VR][32];
                vector_tile(ap + VR * ti * kpp, bp + 2 * bj * kpp * 16, kpp, kp, acc);
                store_block(&acc[0][0], 32, VR, 32, alpha, beta, C, ldc, VR * ti, AB * bj, M, N,
                            ep);
            }
        }
        if (amx) release();
    }
}

#else /* not x86-64 Linux: the portable family only */

int nnd_bf16_x86_ready(int amx)
{
    (void)amx;
    return 0;
}

void nnd_gemm_bf16_x86(int amx, int trans_a, int trans_b, size_t M, size_t N, size_t K, float alpha,
                       const float *A, size_t lda, const float *B, size_t ldb, float beta, float *C,
                       size_t ldc, const nnd_gemm_epilogue *ep)
{
    (void)amx, (void)trans_a, (void)trans_b, (void)M, (void)N, (void)K, (void)alpha, (void)A;
    (void)lda, (void)B, (void)ldb, (void)beta, (void)C, (void)ldc, (void)ep;
    abort(); /* never chosen: nnd_bf16_x86_ready() is 0 */
}

#endif
