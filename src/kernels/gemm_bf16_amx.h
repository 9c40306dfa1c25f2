/* The AMX family of nnd_sgemm_bf16 (gemm_bf16_amx.c), for gemm_bf16.c only. */
#ifndef NNDIST_GEMM_BF16_AMX_H
#define NNDIST_GEMM_BF16_AMX_H

#include <stddef.h>

#include "nndist/gemm.h"

/* 1 when this CPU has AMX-BF16 (and AVX512_BF16, which the packing uses) and Linux granted the
 * tile state to the process; asked once. */
int nnd_amx_bf16_ready(void);

/* nnd_sgemm_bf16's product on AMX tiles, the epilogue ep (NULL: none) fused; the float32
 * operands are read once, rounded and packed in one pass. Only when nnd_amx_bf16_ready(). */
void nnd_gemm_bf16_amx(int trans_a, int trans_b, size_t M, size_t N, size_t K, float alpha,
                       const float *A, size_t lda, const float *B, size_t ldb, float beta, float *C,
                       size_t ldc, const nnd_gemm_epilogue *ep);

#endif
