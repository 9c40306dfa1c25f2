/* The x86 families of nnd_sgemm_bf16 (gemm_bf16_x86.c), for gemm_bf16.c only. */
#ifndef NNDIST_GEMM_BF16_X86_H
#define NNDIST_GEMM_BF16_X86_H

#include <stddef.h>

#include "nndist/gemm.h"

/* 1 when this CPU runs the family: amx 0, "avx512-bf16" (AVX-512 with AVX512_BF16); amx 1,
 * "amx-bf16" (that and AMX-BF16, with the tile state granted by Linux). Asked once. */
int nnd_bf16_x86_ready(int amx);

/* nnd_sgemm_bf16's product by that family, the epilogue ep (NULL: none) fused; the float32
 * operands are read once, rounded and packed in one pass. Only when nnd_bf16_x86_ready(amx). */
void nnd_gemm_bf16_x86(int amx, int trans_a, int trans_b, size_t M, size_t N, size_t K, float alpha,
                       const float *A, size_t lda, const float *B, size_t ldb, float beta, float *C,
                       size_t ldc, const nnd_gemm_epilogue *ep);

#endif
