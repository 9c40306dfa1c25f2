#include "nndist/rng.h"

uint64_t nnd_rng_u64(uint64_t seed, uint64_t purpose, uint64_t a, uint64_t b)
{
    /* Chained mixing: each input word passes through a full avalanche before the next. */
    uint64_t h = nnd_mix64(seed);
    h = nnd_mix64(h ^ purpose);
    h = nnd_mix64(h ^ a);
    return nnd_mix64(h ^ b);
}

float nnd_rng_uniform(uint64_t seed, uint64_t purpose, uint64_t a, uint64_t b)
{
    return (float)(nnd_rng_u64(seed, purpose, a, b) >> 40) * (1.0f / 16777216.0f);
}

uint64_t nnd_rng_below(uint64_t seed, uint64_t purpose, uint64_t a, uint64_t b, uint64_t n)
{
    /* 128-bit multiply-high maps a uniform 64-bit word onto [0, n); bias < n / 2^64. */
    unsigned __int128 m = (unsigned __int128)nnd_rng_u64(seed, purpose, a, b) * n;
    return (uint64_t)(m >> 64);
}
