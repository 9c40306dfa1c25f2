#include "nndist/bf16.h"

void nnd_bf16_round(const float *x, nnd_bf16 *out, size_t n)
{
    for (size_t i = 0; i < n; i++) out[i] = nnd_bf16_from_float(x[i]);
}

void nnd_bf16_round_float(const float *x, float *out, size_t n)
{
    for (size_t i = 0; i < n; i++) out[i] = nnd_bf16_to_float(nnd_bf16_from_float(x[i]));
}
