/* The GEMM against its naive reference: every transpose combination, odd sizes, alpha/beta,
 * sizes that cross the cache blocks, with every kernel family this CPU runs; results that do
 * not depend on the thread count; AVX2 and AVX-512 families that agree bitwise. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "nndist/gemm.h"
#include "nndist/isa.h"
#include "nndist/rng.h"

/* Every kernel family; those the CPU lacks are skipped. */
static const char *const kernel_names[] = {"portable", "avx2-fma", "avx512"};
enum { NKERNELS = sizeof kernel_names / sizeof kernel_names[0] };

static void fill(float *x, size_t n, uint64_t salt)
{
    for (size_t i = 0; i < n; i++) x[i] = nnd_rng_uniform(7, 99, salt, i) * 2.0f - 1.0f;
}

/* Selects family k; false (with a note) if this CPU cannot run it. */
static int use_kernel(int k)
{
    if (nnd_isa_use(kernel_names[k]) == 0) return 1;
    print_message("skipping the %s kernel: not supported by this CPU\n", kernel_names[k]);
    return 0;
}

static void check_case(int ta, int tb, size_t M, size_t N, size_t K, float alpha, float beta)
{
    size_t lda = (ta ? M : K) + 3, ldb = (tb ? K : N) + 1, ldc = N + 2;
    size_t arows = ta ? K : M, brows = tb ? N : K;
    float *A = malloc(arows * lda * sizeof *A), *B = malloc(brows * ldb * sizeof *B);
    float *C = malloc(M * ldc * sizeof *C), *R = malloc(M * ldc * sizeof *R);
    assert_non_null(A);
    assert_non_null(B);
    assert_non_null(C);
    assert_non_null(R);
    fill(A, arows * lda, 1);
    fill(B, brows * ldb, 2);
    fill(C, M * ldc, 3);
    for (size_t i = 0; i < M * ldc; i++) R[i] = C[i];
    nnd_sgemm(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
    nnd_sgemm_ref(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, R, ldc);
    for (size_t i = 0; i < M; i++)
        for (size_t j = 0; j < N; j++) {
            float tol = 1e-5f * (float)(K + 1);
            if (fabsf(C[i * ldc + j] - R[i * ldc + j]) > tol)
                fail_msg("%s kernel, ta=%d tb=%d M=%zu N=%zu K=%zu: C[%zu,%zu]=%g, reference %g",
                         nnd_isa_name(nnd_isa_current()), ta, tb, M, N, K, i, j, C[i * ldc + j],
                         R[i * ldc + j]);
        }
    /* Padding columns of C beyond N must be untouched. */
    for (size_t i = 0; i < M; i++)
        for (size_t j = N; j < ldc; j++) assert_true(C[i * ldc + j] == R[i * ldc + j]);
    free(A);
    free(B);
    free(C);
    free(R);
}

static void odd_sizes(void)
{
    const size_t sizes[][3] = {{1, 1, 1},     {7, 5, 3},     {17, 33, 9},  {64, 16, 128},
                               {13, 10, 257}, {129, 67, 31}, {6, 16, 100}, {100, 1, 7}};
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++)
        for (int ta = 0; ta < 2; ta++)
            for (int tb = 0; tb < 2; tb++) {
                check_case(ta, tb, sizes[s][0], sizes[s][1], sizes[s][2], 1.0f, 0.0f);
                check_case(ta, tb, sizes[s][0], sizes[s][1], sizes[s][2], 0.5f, 1.0f);
                check_case(ta, tb, sizes[s][0], sizes[s][1], sizes[s][2], -2.0f, 0.25f);
            }
}

/* Sizes around the blocking of src/kernels/gemm.c (MR 6, NR 16, KC 256, MC 144, NC 4096): several M
 * blocks, K blocks of unequal and equal size, an N beyond one B panel, the small training shapes
 * and narrowed versions of the large ones (the reference loop is slow under sanitizers). */
static void block_boundaries(void)
{
    const size_t sizes[][3] = {{145, 17, 257}, {300, 40, 600}, {6, 16, 512},   {289, 33, 513},
                               {7, 4100, 37},  {13, 4097, 3},  {128, 96, 784}, {512, 50, 128},
                               {128, 10, 256}, {10, 256, 128}, {128, 256, 10}};
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++)
        for (int ta = 0; ta < 2; ta++)
            for (int tb = 0; tb < 2; tb++) {
                check_case(ta, tb, sizes[s][0], sizes[s][1], sizes[s][2], 1.0f, 0.0f);
                check_case(ta, tb, sizes[s][0], sizes[s][1], sizes[s][2], 0.75f, -1.5f);
            }
}

static void test_all_transposes_odd_sizes(void **state)
{
    (void)state;
    for (int k = 0; k < NKERNELS; k++)
        if (use_kernel(k)) odd_sizes();
    nnd_isa_use(NULL);
}

static void test_block_boundaries(void **state)
{
    (void)state;
    for (int k = 0; k < NKERNELS; k++)
        if (use_kernel(k)) block_boundaries();
    nnd_isa_use(NULL);
}

/* The plain-C family runs anywhere; unknown names change nothing. */
static void test_kernel_selection(void **state)
{
    (void)state;
    assert_int_equal(nnd_isa_use("portable"), 0);
    assert_string_equal(nnd_isa_name(nnd_isa_current()), "portable");
    assert_int_equal(nnd_isa_use("no-such-kernel"), -1);
    assert_string_equal(nnd_isa_name(nnd_isa_current()), "portable");
    assert_int_equal(nnd_isa_use(NULL), 0);
}

/* One product of the thread-invariance test. */
struct product {
    int ta, tb;
    size_t M, N, K;
    float beta;
};

/* C = 1.5 op(A) op(B) + beta C with the current family on nthreads threads; C is freshly
 * allocated (caller frees). */
static float *run_product(const struct product *p, int nthreads)
{
    size_t lda = p->ta ? p->M : p->K, ldb = p->tb ? p->K : p->N;
    float *A = malloc(p->M * p->K * sizeof *A), *B = malloc(p->K * p->N * sizeof *B);
    float *C = malloc(p->M * p->N * sizeof *C);
    assert_non_null(A);
    assert_non_null(B);
    assert_non_null(C);
    fill(A, p->M * p->K, 4);
    fill(B, p->K * p->N, 5);
    fill(C, p->M * p->N, 6);
    omp_set_num_threads(nthreads);
    nnd_sgemm(p->ta, p->tb, p->M, p->N, p->K, 1.5f, A, lda, B, ldb, p->beta, C, p->N);
    free(A);
    free(B);
    return C;
}

/* Calls fn on every transpose combination of a few shapes (the training shapes, or scaled-down
 * versions of them, and an odd one), with beta == 0 and not. */
static void for_each_product(void (*fn)(const struct product *p))
{
    const size_t sizes[][3] = {{128, 160, 784}, {512, 100, 128}, {128, 10, 256},
                               {10, 256, 128},  {128, 256, 10},  {97, 203, 300}};
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++)
        for (int ta = 0; ta < 2; ta++)
            for (int tb = 0; tb < 2; tb++)
                for (int b = 0; b < 2; b++) {
                    struct product p = {ta,          tb,          sizes[s][0],
                                        sizes[s][1], sizes[s][2], b ? 0.5f : 0.0f};
                    fn(&p);
                }
}

static void check_threads(const struct product *p)
{
    float *C1 = run_product(p, 1);
    for (int t = 2; t <= 3; t++) {
        float *Ct = run_product(p, t);
        if (memcmp(C1, Ct, p->M * p->N * sizeof *C1) != 0)
            fail_msg("%s kernel, ta=%d tb=%d M=%zu N=%zu K=%zu beta=%g: %d threads differ from 1",
                     nnd_isa_name(nnd_isa_current()), p->ta, p->tb, p->M, p->N, p->K,
                     (double)p->beta, t);
        free(Ct);
    }
    free(C1);
}

/* Threads split C, never the K sum: 1, 2 and 3 threads give bitwise equal results. */
static void test_thread_count_invariance(void **state)
{
    (void)state;
    int saved = omp_get_max_threads();
    for (int k = 0; k < NKERNELS; k++)
        if (use_kernel(k)) for_each_product(check_threads);
    nnd_isa_use(NULL);
    omp_set_num_threads(saved);
}

static void check_avx2_vs_avx512(const struct product *p)
{
    nnd_isa_use("avx2-fma");
    float *C2 = run_product(p, 2);
    nnd_isa_use("avx512");
    float *C5 = run_product(p, 2);
    if (memcmp(C2, C5, p->M * p->N * sizeof *C2) != 0)
        fail_msg("ta=%d tb=%d M=%zu N=%zu K=%zu beta=%g: avx512 differs from avx2-fma", p->ta,
                 p->tb, p->M, p->N, p->K, (double)p->beta);
    free(C2);
    free(C5);
}

/* The AVX-512 family runs the same fused multiply-adds per element as the AVX2 one. */
static void test_avx512_matches_avx2(void **state)
{
    (void)state;
    if (!use_kernel(2)) return;
    int saved = omp_get_max_threads();
    for_each_product(check_avx2_vs_avx512);
    nnd_isa_use(NULL);
    omp_set_num_threads(saved);
}

/* The epilogue of nnd_sgemm_fused against nnd_sgemm followed by the same operations as separate
 * passes (model.c's): bitwise equal, for each family, 1 and 2 threads, edge tiles and several K
 * blocks (the epilogue must see only final values), and the empty sum (K == 0). */
static void check_epilogue(const struct product *p)
{
    size_t lda = p->ta ? p->M : p->K, ldb = p->tb ? p->K : p->N, ldm = p->N + 3;
    float *A = malloc(p->M * p->K * sizeof *A + 4), *B = malloc(p->K * p->N * sizeof *B + 4);
    float *bias = malloc(p->N * sizeof *bias), *mask = malloc(p->M * ldm * sizeof *mask);
    float *C0 = malloc(p->M * p->N * sizeof *C0), *C = malloc(p->M * p->N * sizeof *C);
    float *R = malloc(p->M * p->N * sizeof *R);
    assert_true(A && B && bias && mask && C0 && C && R);
    fill(A, p->M * p->K, 8);
    fill(B, p->K * p->N, 9);
    fill(bias, p->N, 10);
    fill(mask, p->M * ldm, 11); /* about half <= 0 */
    fill(C0, p->M * p->N, 12);
    for (int kind = 0; kind < 3; kind++)
        for (int t = 1; t <= 2; t++) {
            nnd_gemm_epilogue ep = {0};
            if (kind == 0) ep.bias = bias;                        /* an output layer */
            if (kind == 1) ep.bias = bias, ep.relu = 1;           /* a hidden ReLU layer */
            if (kind == 2) ep.relu_mask = mask, ep.ld_mask = ldm; /* ReLU's derivative */
            omp_set_num_threads(t);
            memcpy(C, C0, p->M * p->N * sizeof *C);
            memcpy(R, C0, p->M * p->N * sizeof *R);
            nnd_sgemm_fused(p->ta, p->tb, p->M, p->N, p->K, 1.5f, A, lda, B, ldb, p->beta, C, p->N,
                            &ep);
            nnd_sgemm(p->ta, p->tb, p->M, p->N, p->K, 1.5f, A, lda, B, ldb, p->beta, R, p->N);
            for (size_t i = 0; i < p->M; i++)
                for (size_t j = 0; j < p->N; j++) {
                    float *r = &R[i * p->N + j];
                    if (ep.bias) *r += bias[j];
                    if (ep.relu) *r = *r > 0.0f ? *r : 0.0f;
                    if (ep.relu_mask && !(mask[i * ldm + j] > 0.0f)) *r = 0.0f;
                }
            if (memcmp(C, R, p->M * p->N * sizeof *C) != 0)
                fail_msg("%s kernel, epilogue %d, %d thread(s), ta=%d tb=%d M=%zu N=%zu K=%zu: "
                         "not the separate passes' result",
                         nnd_isa_name(nnd_isa_current()), kind, t, p->ta, p->tb, p->M, p->N, p->K);
        }
    free(A);
    free(B);
    free(bias);
    free(mask);
    free(C0);
    free(C);
    free(R);
}

static void test_fused_epilogue(void **state)
{
    (void)state;
    int saved = omp_get_max_threads();
    const struct product empty = {0, 1, 7, 9, 0, 0.0f};
    for (int k = 0; k < NKERNELS; k++)
        if (use_kernel(k)) {
            for_each_product(check_epilogue);
            check_epilogue(&empty);
        }
    nnd_isa_use(NULL);
    omp_set_num_threads(saved);
}

static void test_beta_zero_ignores_nan(void **state)
{
    (void)state;
    float A[6] = {1, 2, 3, 4, 5, 6}, B[6] = {1, 0, 0, 1, 1, 1}, C[4] = {NAN, NAN, NAN, NAN};
    /* (2x3) * (3x2) */
    nnd_sgemm(0, 0, 2, 2, 3, 1.0f, A, 3, B, 2, 0.0f, C, 2);
    assert_float_equal(C[0], 4.0f, 0.0f);
    assert_float_equal(C[1], 5.0f, 0.0f);
    assert_float_equal(C[2], 10.0f, 0.0f);
    assert_float_equal(C[3], 11.0f, 0.0f);
}

/* K == 0 or alpha == 0: C = beta * C, and A and B are not read (here, they are NULL). */
static void test_empty_sum_scales_c(void **state)
{
    (void)state;
    float C[6] = {1, 2, 3, NAN, 5, 6};
    nnd_sgemm(0, 0, 2, 2, 0, 1.0f, NULL, 1, NULL, 2, 0.5f, C, 3);
    assert_float_equal(C[0], 0.5f, 0.0f);
    assert_float_equal(C[1], 1.0f, 0.0f);
    assert_float_equal(C[2], 3.0f, 0.0f); /* padding column untouched */
    assert_true(isnan(C[3]));
    assert_float_equal(C[4], 2.5f, 0.0f);
    nnd_sgemm(1, 1, 2, 2, 5, 0.0f, NULL, 2, NULL, 5, 0.0f, C, 3);
    assert_float_equal(C[0], 0.0f, 0.0f);
    assert_float_equal(C[3], 0.0f, 0.0f);
    assert_float_equal(C[4], 0.0f, 0.0f);
    assert_float_equal(C[5], 6.0f, 0.0f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_all_transposes_odd_sizes),
        cmocka_unit_test(test_block_boundaries),
        cmocka_unit_test(test_kernel_selection),
        cmocka_unit_test(test_thread_count_invariance),
        cmocka_unit_test(test_avx512_matches_avx2),
        cmocka_unit_test(test_beta_zero_ignores_nan),
        cmocka_unit_test(test_empty_sum_scales_c),
        cmocka_unit_test(test_fused_epilogue),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
