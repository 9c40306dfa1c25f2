#include "nndist/isa.h"

#include <stdlib.h>
#include <string.h>

static const char *const g_names[NND_ISA_COUNT] = {"portable", "avx2-fma", "avx512"};

const char *nnd_isa_name(nnd_isa isa)
{
    return (unsigned)isa < NND_ISA_COUNT ? g_names[isa] : "?";
}

int nnd_isa_supported(nnd_isa isa)
{
    if (isa == NND_ISA_PORTABLE) return 1;
#if defined(__x86_64__) || defined(__i386__)
    __builtin_cpu_init();
    int avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    if (isa == NND_ISA_AVX2) return avx2;
    if (isa == NND_ISA_AVX512) /* (the variants of kernels/ use AVX-512DQ too) */
        return avx2 && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq");
#endif
    return 0;
}

/* The named family, or -1. */
static int find(const char *name)
{
    for (int k = 0; k < NND_ISA_COUNT; k++)
        if (strcmp(g_names[k], name) == 0) return k;
    return -1;
}

static nnd_isa automatic(void)
{
    const char *env = getenv("NNDIST_GEMM");
    int k = env ? find(env) : -1;
    if (k >= 0 && nnd_isa_supported((nnd_isa)k)) return (nnd_isa)k;
    for (k = NND_ISA_COUNT - 1; k > 0 && !nnd_isa_supported((nnd_isa)k); k--) continue;
    return (nnd_isa)k;
}

/* The family in use + 1; 0 until the first call chooses. Read and written atomically: the
 * automatic choice is idempotent, so racing first calls agree. */
static int g_choice;

nnd_isa nnd_isa_current(void)
{
    int k = __atomic_load_n(&g_choice, __ATOMIC_RELAXED);
    if (k == 0) {
        k = (int)automatic() + 1;
        __atomic_store_n(&g_choice, k, __ATOMIC_RELAXED);
    }
    return (nnd_isa)(k - 1);
}

int nnd_isa_use(const char *name)
{
    int k = name ? find(name) : (int)automatic();
    if (k < 0 || !nnd_isa_supported((nnd_isa)k)) return -1;
    __atomic_store_n(&g_choice, k + 1, __ATOMIC_RELAXED);
    return 0;
}
