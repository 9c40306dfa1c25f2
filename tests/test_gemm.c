/* The GEMM against its naive reference: every transpose combination, odd sizes, alpha/beta. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdlib.h>

#include "nndist/gemm.h"
#include "nndist/rng.h"

static void fill(float *x, size_t n, uint64_t salt)
{
    for (size_t i = 0; i < n; i++) x[i] = nnd_rng_uniform(7, 99, salt, i) * 2.0f - 1.0f;
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
                fail_msg("ta=%d tb=%d M=%zu N=%zu K=%zu: C[%zu,%zu]=%g, reference %g", ta, tb, M,
                         N, K, i, j, C[i * ldc + j], R[i * ldc + j]);
        }
    /* Padding columns of C beyond N must be untouched. */
    for (size_t i = 0; i < M; i++)
        for (size_t j = N; j < ldc; j++) assert_true(C[i * ldc + j] == R[i * ldc + j]);
    free(A);
    free(B);
    free(C);
    free(R);
}

static void test_all_transposes_odd_sizes(void **state)
{
    (void)state;
    const size_t sizes[][3] = {{1, 1, 1},  {7, 5, 3},    {17, 33, 9},  {64, 16, 128},
                               {13, 10, 257}, {129, 67, 31}, {6, 16, 100}, {100, 1, 7}};
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++)
        for (int ta = 0; ta < 2; ta++)
            for (int tb = 0; tb < 2; tb++) {
                check_case(ta, tb, sizes[s][0], sizes[s][1], sizes[s][2], 1.0f, 0.0f);
                check_case(ta, tb, sizes[s][0], sizes[s][1], sizes[s][2], 0.5f, 1.0f);
                check_case(ta, tb, sizes[s][0], sizes[s][1], sizes[s][2], -2.0f, 0.25f);
            }
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_all_transposes_odd_sizes),
        cmocka_unit_test(test_beta_zero_ignores_nan),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
