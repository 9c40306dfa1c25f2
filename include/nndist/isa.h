/* The instruction-set family the kernels run: one choice, made once at run time, for the GEMM's
 * micro-kernels, the step's elementwise passes and the optimizer's update loops (see
 * docs/design.md, "Instruction-set variants"). */
#ifndef NNDIST_ISA_H
#define NNDIST_ISA_H

/* From the most portable up; the automatic choice is the last one the CPU supports. */
typedef enum { NND_ISA_PORTABLE, NND_ISA_AVX2, NND_ISA_AVX512, NND_ISA_COUNT } nnd_isa;

/* The family in use. The first call picks the one named by the environment variable NNDIST_GEMM
 * if the CPU supports it (NNDIST_GEMM=portable forces the fallback), else the best it supports. */
nnd_isa nnd_isa_current(void);

/* "portable" (plain C, any CPU), "avx2-fma" or "avx512" (x86-64 with those extensions). */
const char *nnd_isa_name(nnd_isa isa);

/* 1 when this build has the family and the CPU runs it. */
int nnd_isa_supported(nnd_isa isa);

/* For tests and benchmarks: use the named family (NULL: the automatic choice above). Returns 0,
 * or -1 (and changes nothing) if the name is unknown or the family unsupported. Call from serial
 * code, not while another thread runs a kernel. */
int nnd_isa_use(const char *name);

#endif
