/* The model's normalization glue (model_norm.c), shared with model.c: the layers' passes through
 * layer norm and batch norm, and their buffers. */
#ifndef NNDIST_MODEL_INTERNAL_H
#define NNDIST_MODEL_INTERNAL_H

#include "nndist/gemm.h"
#include "nndist/model.h"

/* C (M, N) = alpha op(A) op(B), then the epilogue ep (NULL: none): nnd_sgemm_fused, or with
 * bf16 products (m->bf16) nnd_sgemm_bf16_fused. */
void nnd_model_product(const nnd_model *m, int trans_a, int trans_b, size_t M, size_t N, size_t K,
                       float alpha, const float *A, size_t lda, const float *B, size_t ldb,
                       float *C, size_t ldc, const nnd_gemm_epilogue *ep);

/* At init: batch norm's running statistics (mean 0, variance 1), or nothing; -1 when out of
 * memory. */
int nnd_model_norm_alloc_running(nnd_model *m);
/* The workspace for batches of max_batch samples (widest: the widest layer); -1 when out of
 * memory. */
int nnd_model_norm_reserve(nnd_model *m, size_t max_batch, size_t widest);
void nnd_model_norm_free(nnd_model *m);
/* Hidden layer l forward: Z = in W^T + b, normalized, y = x̂ γ + β into the activation's input
 * (its kept Z when the activation keeps one, else A), then the activation into A. With batch
 * norm while training, the sums over every rank's samples (a rank with n == 0 takes part with
 * zeros) and the running statistics updated. */
void nnd_model_norm_forward(nnd_model *m, int l, const float *in, size_t n);
/* Hidden layer l backward from dA = dL/dy (n rows, in place to dL/dZ): γ's and β's gradients
 * into grads; batch norm while training sums over the ranks (n == 0 takes part with zeros). */
void nnd_model_norm_backward(nnd_model *m, int l, float *dA, size_t n);

#endif
