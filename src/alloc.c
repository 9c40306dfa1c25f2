#include "nndist/alloc.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

float *nnd_alloc_floats_uninit(size_t n)
{
    if (n > SIZE_MAX / sizeof(float) - 64) return NULL;
    size_t bytes = (n * sizeof(float) + 63) / 64 * 64;
    return aligned_alloc(64, bytes ? bytes : 64);
}

float *nnd_alloc_floats(size_t n)
{
    float *p = nnd_alloc_floats_uninit(n);
    if (p) memset(p, 0, n ? n * sizeof(float) : 1);
    return p;
}
