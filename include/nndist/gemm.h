/* Single-precision matrix products for training, row-major throughout.
 *
 *   C (M, N) = alpha * op(A) (M, K) * op(B) (K, N) + beta * C
 *
 * op(X) is X or its transpose, chosen by trans_a / trans_b, so the three products of a dense
 * layer need no materialised transpose:
 *   forward  Z  (B, out) = X  (B, in)   * W (out, in)^T    nnd_sgemm(0, 1, ...)
 *   weights  dW (out, in) = dZ (B, out)^T * X (B, in)      nnd_sgemm(1, 0, ...)
 *   input    dX (B, in)  = dZ (B, out)   * W (out, in)     nnd_sgemm(0, 0, ...)
 * lda, ldb, ldc are the row strides of A, B, C as stored. With beta == 0, C is not read
 * (it may hold NaN). Results do not depend on the number of OpenMP threads: threads split
 * output blocks, never the K sum. The kernel family is the instruction set nnd_isa_current()
 * names (nndist/isa.h). */
#ifndef NNDIST_GEMM_H
#define NNDIST_GEMM_H

#include <stddef.h>

void nnd_sgemm(int trans_a, int trans_b, size_t M, size_t N, size_t K, float alpha, const float *A,
               size_t lda, const float *B, size_t ldb, float beta, float *C, size_t ldc);

/* The elementwise step after a dense layer's product, applied by nnd_sgemm_fused to each tile
 * of C as soon as it is final (no separate sweep over C): in this order, C += bias (one value per
 * column), C = max(C, 0) when relu, and C = 0 where relu_mask <= 0 (ReLU's derivative in
 * backward: relu_mask is the layer's output, M x N with row stride ld_mask). The results are
 * bitwise those of the same operations done after nnd_sgemm. */
typedef struct {
    const float *bias;      /* N values, or NULL */
    int relu;               /* forward ReLU */
    const float *relu_mask; /* or NULL */
    size_t ld_mask;
} nnd_gemm_epilogue;

/* The epilogue ep as a pass of its own over C (M, N): the same operations, for products made
 * elsewhere (gemm_bf16.h). */
void nnd_gemm_epilogue_apply(const nnd_gemm_epilogue *ep, float *C, size_t ldc, size_t M, size_t N);

/* nnd_sgemm, then the epilogue ep (NULL: none) on C. */
void nnd_sgemm_fused(int trans_a, int trans_b, size_t M, size_t N, size_t K, float alpha,
                     const float *A, size_t lda, const float *B, size_t ldb, float beta, float *C,
                     size_t ldc, const nnd_gemm_epilogue *ep);

/* The plain triple loop, kept as the reference the fast kernel is tested against. */
void nnd_sgemm_ref(int trans_a, int trans_b, size_t M, size_t N, size_t K, float alpha,
                   const float *A, size_t lda, const float *B, size_t ldb, float beta, float *C,
                   size_t ldc);

#endif
