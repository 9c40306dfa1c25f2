/* bf16 (bf16.h) and the bf16 products (gemm_bf16.h):
 *  - float32 -> bf16 by hand: ties to even (both signs), just past a tie, the largest finite
 *    float rounding to infinity, infinities, NaNs made quiet (a signalling one too), subnormals
 *    to signed zeros, the smallest normal; and, on a CPU with AVX512_BF16, the hardware's
 *    VCVTNEPS2BF16 on 2^20 random bit patterns and on every one of those cases, bit for bit;
 *  - nnd_sgemm_bf16 against a float64 reference with the same bf16 operands, for every
 *    transpose, edge sizes (odd K, partial tiles) and alpha/beta: within what float32
 *    accumulation of K products allows, (K + 2) 2^-24 sum |a_k b_k| |alpha| plus the epilogue's
 *    roundings;
 *  - the AVX512_BF16 family gives the portable family's bits, on 1 and 2 threads; AMX (whose
 *    TDPBF16PS adds in an order of its own) stays within the same bound of the reference and
 *    gives the same bits on 1 and 2 threads;
 *  - every family's fused epilogues (bias and ReLU; ReLU's derivative) give the bits of the
 *    product followed by nnd_gemm_epilogue_apply. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "nndist/bf16.h"
#include "nndist/gemm_bf16.h"
#include "nndist/rng.h"

#if defined(__x86_64__)
#include <immintrin.h>
#endif

static float from_bits(uint32_t u)
{
    float x;
    memcpy(&x, &u, sizeof x);
    return x;
}

static const struct {
    uint32_t in;
    uint16_t want;
} g_cases[] = {
    {0x3f800000u, 0x3f80}, /* 1 */
    {0x3f808000u, 0x3f80}, /* 1 + 2^-8: a tie, to the even 1 */
    {0x3f818000u, 0x3f82}, /* a tie above an odd value: up to the even one */
    {0x3f808001u, 0x3f81}, /* just past the tie */
    {0xbf808000u, 0xbf80}, /* -(1 + 2^-8): a tie, to the even -1 */
    {0xbf818000u, 0xbf82},
    {0x7f7fffffu, 0x7f80}, /* the largest float: past the largest bf16, to +infinity */
    {0x7f7f0000u, 0x7f7f}, /* the largest bf16 */
    {0x7f800000u, 0x7f80}, /* +infinity */
    {0xff800000u, 0xff80}, /* -infinity */
    {0x7fc00001u, 0x7fc0}, /* a quiet NaN keeps its top bits */
    {0x7f800001u, 0x7fc0}, /* a signalling NaN becomes quiet, not infinity */
    {0x7fa00000u, 0x7fe0}, /* a NaN's payload bits stay, with the quiet bit */
    {0xffc00000u, 0xffc0},
    {0x00000001u, 0x0000}, /* subnormals are zeros */
    {0x807fffffu, 0x8000}, /* of their sign */
    {0x00800000u, 0x0080}, /* the smallest normal */
    {0x80000000u, 0x8000}, /* -0 */
};

#if defined(__x86_64__)
__attribute__((target("avx512f,avx512bw,avx512vl,avx512bf16"))) static void
hardware_round(const float *x, uint16_t *out)
{
    __m256bh h = _mm512_cvtneps_pbh(_mm512_loadu_ps(x));
    memcpy(out, &h, 16 * sizeof *out);
}

static int has_bf16(void)
{
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
           __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512bf16");
}
#else
static int has_bf16(void)
{
    return 0;
}
#endif

static void test_rounding(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof g_cases / sizeof g_cases[0]; i++) {
        const uint16_t got = nnd_bf16_from_float(from_bits(g_cases[i].in));
        if (got != g_cases[i].want)
            fail_msg("0x%08x: 0x%04x, expected 0x%04x", g_cases[i].in, got, g_cases[i].want);
    }
    /* back to float: exact */
    assert_true(nnd_bf16_to_float(0x3f81) == from_bits(0x3f810000u));
    float in[4] = {1.0f, 3.14159265f, -2.5e-3f, 1e30f}, out[4];
    nnd_bf16_round_float(in, out, 4);
    for (int i = 0; i < 4; i++)
        assert_true(out[i] == nnd_bf16_to_float(nnd_bf16_from_float(in[i])));
}

static void test_rounding_matches_hardware(void **state)
{
    (void)state;
    if (!has_bf16()) {
        print_message("no AVX512_BF16 on this CPU: the hardware comparison is skipped\n");
        return;
    }
#if defined(__x86_64__)
    enum { N = 1 << 20 };
    float x[16];
    uint16_t hw[16];
    size_t compared = 0;
    for (size_t i = 0; i < N; i += 16) {
        for (size_t k = 0; k < 16; k++)
            x[k] = from_bits((uint32_t)nnd_rng_u64(3, NND_RNG_SYNTHETIC, 77, i + k));
        hardware_round(x, hw);
        for (size_t k = 0; k < 16; k++, compared++) {
            uint32_t u;
            memcpy(&u, &x[k], sizeof u);
            if (hw[k] != nnd_bf16_from_float(x[k]))
                fail_msg("0x%08x: VCVTNEPS2BF16 0x%04x, ours 0x%04x", u, hw[k],
                         nnd_bf16_from_float(x[k]));
        }
    }
    for (size_t i = 0; i < sizeof g_cases / sizeof g_cases[0]; i++) {
        for (int k = 0; k < 16; k++) x[k] = from_bits(g_cases[i].in);
        hardware_round(x, hw);
        assert_int_equal(hw[0], g_cases[i].want);
    }
    assert_int_equal(compared, N);
#endif
}

static float *random_matrix(size_t n, uint64_t stream)
{
    float *x = malloc((n ? n : 1) * sizeof *x);
    assert_non_null(x);
    for (size_t i = 0; i < n; i++)
        x[i] = 4.0f * nnd_rng_uniform(11, NND_RNG_SYNTHETIC, stream, i) - 2.0f;
    return x;
}

static const size_t g_shapes[][3] = {{1, 1, 1},     {7, 33, 5},     {17, 40, 31},
                                     {64, 70, 128}, {130, 33, 784}, {9, 65, 2}};

/* C against the float64 reference within the accumulation bound. */
static void check_bound(const char *family, const float *got, const float *ref, const double *bound,
                        const float *C0, size_t M, size_t N, size_t K, int ta, int tb, float alpha,
                        float beta)
{
    const double u = ldexp(1.0, -24);
    for (size_t i = 0; i < M * N; i++) {
        const double tol = (double)(K + 2) * u * bound[i] * fabs(alpha) +
                           4.0 * u * (fabs(ref[i]) + fabs(beta * C0[i])) + 1e-30;
        if (fabs((double)got[i] - ref[i]) > tol)
            fail_msg("%s, %zux%zux%zu (%d%d) element %zu: %.9g, reference %.9g (bound %.3g)",
                     family, M, N, K, ta, tb, i, (double)got[i], (double)ref[i], tol);
    }
}

/* Every family and thread count against the portable family's bits (AMX: the bound), and the
 * portable family against the float64 reference within the accumulation bound. */
static void check_shape(size_t M, size_t N, size_t K, int ta, int tb, float alpha, float beta)
{
    float *A = random_matrix(M * K, 1), *B = random_matrix(K * N, 2);
    float *C0 = random_matrix(M * N, 3), *want = malloc(M * N * sizeof *want);
    float *got = malloc(M * N * sizeof *got), *ref = malloc(M * N * sizeof *ref);
    double *bound = malloc(M * N * sizeof *bound);
    assert_true(want && got && ref && bound);
    const size_t lda = ta ? M : K, ldb = tb ? K : N;
    memcpy(ref, C0, M * N * sizeof *ref);
    nnd_sgemm_bf16_ref(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, ref, N, bound);
    assert_int_equal(nnd_gemm_bf16_use("portable"), 0);
    memcpy(want, C0, M * N * sizeof *want);
    nnd_sgemm_bf16(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, want, N);
    check_bound("portable", want, ref, bound, C0, M, N, K, ta, tb, alpha, beta);
    static const char *const families[] = {"portable", "avx512-bf16", "amx-bf16"};
    float *amx1 = malloc(M * N * sizeof *amx1);
    assert_non_null(amx1);
    for (int f = 0; f < 3; f++) {
        if (nnd_gemm_bf16_use(families[f]) != 0) continue;
        for (int threads = 1; threads <= 2; threads++) {
            omp_set_num_threads(threads);
            memcpy(got, C0, M * N * sizeof *got);
            nnd_sgemm_bf16(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, got, N);
            if (f == 2) { /* AMX: the bound, and its own bits on any thread count */
                check_bound(families[f], got, ref, bound, C0, M, N, K, ta, tb, alpha, beta);
                if (threads == 1) memcpy(amx1, got, M * N * sizeof *got);
                if (memcmp(got, amx1, M * N * sizeof *got) != 0)
                    fail_msg("amx-bf16, 2 threads, %zux%zux%zu: not 1 thread's bits", M, N, K);
            } else if (memcmp(got, want, M * N * sizeof *got) != 0) {
                fail_msg("%s, %d thread(s), %zux%zux%zu (%d%d): not the portable family's bits",
                         families[f], threads, M, N, K, ta, tb);
            }
        }
    }
    free(amx1);
    omp_set_num_threads(1);
    assert_int_equal(nnd_gemm_bf16_use(NULL), 0);
    free(A);
    free(B);
    free(C0);
    free(want);
    free(got);
    free(ref);
    free(bound);
}

/* nnd_sgemm_bf16_fused, each family, each epilogue (bias and ReLU, ReLU's derivative): bitwise
 * nnd_sgemm_bf16 followed by nnd_gemm_epilogue_apply. */
static void check_fused(size_t M, size_t N, size_t K, int ta, int tb, float alpha, float beta)
{
    float *A = random_matrix(M * K, 4), *B = random_matrix(K * N, 5), *C0 = random_matrix(M * N, 6);
    float *bias = random_matrix(N, 7), *mask = random_matrix(M * N, 8);
    float *want = malloc(M * N * sizeof *want), *got = malloc(M * N * sizeof *got);
    assert_true(want && got);
    for (size_t i = 0; i < M * N; i += 3) mask[i] = i % 2 ? 0.0f : -0.0f; /* ReLU'(0) is 0 */
    mask[M * N - 1] = NAN;
    A[0] = NAN; /* C's first row is NaN: ReLU makes it +0 */
    const size_t lda = ta ? M : K, ldb = tb ? K : N;
    const nnd_gemm_epilogue eps[] = {{.bias = bias, .relu = 1}, {.relu_mask = mask, .ld_mask = N}};
    static const char *const families[] = {"portable", "avx512-bf16", "amx-bf16"};
    for (int f = 0; f < 3; f++) {
        if (nnd_gemm_bf16_use(families[f]) != 0) continue;
        for (int e = 0; e < 2; e++) {
            memcpy(want, C0, M * N * sizeof *want);
            nnd_sgemm_bf16(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, want, N);
            nnd_gemm_epilogue_apply(&eps[e], want, N, M, N);
            memcpy(got, C0, M * N * sizeof *got);
            nnd_sgemm_bf16_fused(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, got, N, &eps[e]);
            if (memcmp(got, want, M * N * sizeof *got) != 0)
                fail_msg("%s, %zux%zux%zu (%d%d), epilogue %d: fused differs from the passes",
                         families[f], M, N, K, ta, tb, e);
        }
    }
    assert_int_equal(nnd_gemm_bf16_use(NULL), 0);
    free(A);
    free(B);
    free(C0);
    free(bias);
    free(mask);
    free(want);
    free(got);
}

static void test_gemm(void **state)
{
    (void)state;
    for (size_t s = 0; s < sizeof g_shapes / sizeof g_shapes[0]; s++)
        for (int t = 0; t < 4; t++) {
            check_shape(g_shapes[s][0], g_shapes[s][1], g_shapes[s][2], t & 1, t >> 1, 1.0f, 0.0f);
            check_shape(g_shapes[s][0], g_shapes[s][1], g_shapes[s][2], t & 1, t >> 1, 1.5f, 0.5f);
            check_fused(g_shapes[s][0], g_shapes[s][1], g_shapes[s][2], t & 1, t >> 1, 1.0f, 0.0f);
            check_fused(g_shapes[s][0], g_shapes[s][1], g_shapes[s][2], t & 1, t >> 1, 1.5f, 0.5f);
        }
    print_message("families run here: portable%s%s\n",
                  nnd_gemm_bf16_use("avx512-bf16") == 0 ? ", avx512-bf16" : "",
                  nnd_gemm_bf16_use("amx-bf16") == 0 ? ", amx-bf16" : "");
    assert_int_equal(nnd_gemm_bf16_use(NULL), 0);
    assert_int_equal(nnd_gemm_bf16_use("no-such-family"), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rounding),
        cmocka_unit_test(test_rounding_matches_hardware),
        cmocka_unit_test(test_gemm),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
