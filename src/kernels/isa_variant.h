/* Files compiled once per instruction set (optim_update.c, elementwise.c; see CMakeLists.txt):
 * the suffix of their functions, and which variant the running code should call. */
#ifndef NNDIST_ISA_VARIANT_H
#define NNDIST_ISA_VARIANT_H

#include <string.h>

#include "nndist/gemm.h"

/* NND_ISA (set by the build) names the variant being compiled: portable, avx2 or avx512. */
#ifndef NND_ISA
#define NND_ISA portable
#endif
#define NND_CAT_(a, b)   a##b
#define NND_CAT(a, b)    NND_CAT_(a, b)
#define NND_ISA_NAME(fn) NND_CAT(fn, NND_ISA)

typedef enum { NND_VARIANT_PORTABLE, NND_VARIANT_AVX2, NND_VARIANT_AVX512 } nnd_variant;

/* The variant of the GEMM's current kernel family, so that NNDIST_GEMM (and the tests' choice
 * of a family) selects the elementwise code too. Portable where no x86 variants were built. */
static inline nnd_variant nnd_current_variant(void)
{
#ifdef NND_X86_VARIANTS
    const char *family = nnd_gemm_kernel_name();
    if (strcmp(family, "avx512") == 0) return NND_VARIANT_AVX512;
    if (strcmp(family, "avx2-fma") == 0) return NND_VARIANT_AVX2;
#endif
    return NND_VARIANT_PORTABLE;
}

#endif
