/* The elementwise kernels' instruction-set variants (src/kernels/elementwise.h) for the tests
 * that compare them: the table, their names, and which of them this CPU runs. */
#ifndef NNDIST_TESTS_EW_VARIANTS_H
#define NNDIST_TESTS_EW_VARIANTS_H

#include "../src/kernels/elementwise.h"

#if defined(__x86_64__)
static const nnd_ew_kernels *variants[] = {&nnd_ew_portable, &nnd_ew_avx2, &nnd_ew_avx512};
#else
static const nnd_ew_kernels *variants[] = {&nnd_ew_portable, &nnd_ew_portable, &nnd_ew_portable};
#endif
static const char *names[] = {"portable", "avx2", "avx512"};

/* 1 when variant v can run here (the portable one always). */
static int runs_here(int v)
{
#if defined(__x86_64__)
    if (v == 1) return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    if (v == 2)
        return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") &&
               __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    return 1;
#else
    return v == 0;
#endif
}

#endif
