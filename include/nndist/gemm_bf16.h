/* Matrix products with bfloat16 operands and float32 accumulation (--precision bf16's products;
 * docs/design.md, "Mixed precision").
 *
 *   C (M, N) = alpha * op(A) (M, K) * op(B) (K, N) + beta * C
 *
 * with nndist/gemm.h's conventions (row-major, op = transpose or not, beta == 0: C not read),
 * where A and B are float32 in memory and every element is first rounded to bf16
 * (nnd_bf16_from_float). Each C element's products are accumulated in float32 in the order of
 * AVX512_BF16's VDPBF16PS: over k in pairs (0,1), (2,3), ... from a zero accumulator, the odd
 * product first, then the even one, each addition rounded to nearest even, subnormal inputs and
 * results taken as zero (an odd K ends with a zero pair element). Then alpha and beta, in float32.
 *
 * Families: "avx512-bf16" (the VDPBF16PS micro-kernel, on CPUs with AVX512_BF16) and "portable"
 * (the same additions in plain C, any CPU): both give the same bits. "amx-bf16" (AMX tiles,
 * Sapphire Rapids and later) adds in TDPBF16PS's own order: within float32 accumulation's bound
 * of the others, not their bits. The threads split output blocks, never K, so the thread count
 * changes nothing. */
#ifndef NNDIST_GEMM_BF16_H
#define NNDIST_GEMM_BF16_H

#include <stddef.h>

#include "nndist/gemm.h"

void nnd_sgemm_bf16(int trans_a, int trans_b, size_t M, size_t N, size_t K, float alpha,
                    const float *A, size_t lda, const float *B, size_t ldb, float beta, float *C,
                    size_t ldc);

/* nnd_sgemm_bf16, then the epilogue ep (NULL: none; nndist/gemm.h) on each block of C as it is
 * made: bitwise nnd_sgemm_bf16 followed by nnd_gemm_epilogue_apply. */
void nnd_sgemm_bf16_fused(int trans_a, int trans_b, size_t M, size_t N, size_t K, float alpha,
                          const float *A, size_t lda, const float *B, size_t ldb, float beta,
                          float *C, size_t ldc, const nnd_gemm_epilogue *ep);

/* The family in use ("amx-bf16", "avx512-bf16" or "portable"): the first call takes the one the
 * environment variable NNDIST_GEMM names if the CPU runs it (NNDIST_GEMM=portable forces the
 * portable float32 kernel too), else the best the CPU runs. */
const char *nnd_gemm_bf16_family(void);
/* For tests and benchmarks: use the named family (NULL: the automatic choice). Returns 0, or -1
 * (nothing changed) when the name is unknown or the CPU cannot run it. Serial code only. */
int nnd_gemm_bf16_use(const char *name);

/* The reference for tests: the same bf16 rounding of A and B, the products summed in double in
 * k order, then alpha and beta in double; also *bound (M, N) (may be NULL) the sum over k of
 * |a_k b_k| of each element, for float32 accumulation's error bound. */
void nnd_sgemm_bf16_ref(int trans_a, int trans_b, size_t M, size_t N, size_t K, float alpha,
                        const float *A, size_t lda, const float *B, size_t ldb, float beta,
                        float *C, size_t ldc, double *bound);

#endif
