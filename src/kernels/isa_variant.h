/* Files compiled once per instruction set (optim_update.c, elementwise.c; see CMakeLists.txt):
 * the suffix of their functions. Which variant runs is nnd_isa_current()'s choice (nndist/isa.h).
 */
#ifndef NNDIST_ISA_VARIANT_H
#define NNDIST_ISA_VARIANT_H

/* NND_ISA (set by the build) names the variant being compiled: portable, avx2 or avx512. */
#ifndef NND_ISA
#define NND_ISA             portable
#define NND_ISA_IS_portable 1
#endif
#define NND_CAT_(a, b)   a##b
#define NND_CAT(a, b)    NND_CAT_(a, b)
#define NND_ISA_NAME(fn) NND_CAT(fn, NND_ISA)

#endif
