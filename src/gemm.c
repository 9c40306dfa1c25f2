#include "nndist/gemm.h"

#include <string.h>

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

/* Rows of C split across threads; each row is an i-k-j sweep so the inner loop streams
 * contiguous rows of op(B) and C. op(B) = B^T is handled as dot products of rows. */
void nnd_sgemm(int trans_a, int trans_b, size_t M, size_t N, size_t K, float alpha,
               const float *A, size_t lda, const float *B, size_t ldb, float beta, float *C,
               size_t ldc)
{
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < M; i++) {
        float *c = C + i * ldc;
        if (beta == 0.0f)
            memset(c, 0, N * sizeof *c);
        else if (beta != 1.0f)
            for (size_t j = 0; j < N; j++) c[j] *= beta;
        if (trans_b) {
            for (size_t j = 0; j < N; j++) {
                const float *b = B + j * ldb;
                float acc = 0.0f;
                for (size_t k = 0; k < K; k++) acc += elem(A, lda, trans_a, i, k) * b[k];
                c[j] += alpha * acc;
            }
        } else {
            for (size_t k = 0; k < K; k++) {
                float a = alpha * elem(A, lda, trans_a, i, k);
                const float *b = B + k * ldb;
                for (size_t j = 0; j < N; j++) c[j] += a * b[j];
            }
        }
    }
}
