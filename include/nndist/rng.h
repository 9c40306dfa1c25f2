/* Counter-based random numbers (docs/design.md, invariant 4): every draw is a pure function of
 * (seed, purpose, a, b), so no rank or thread owns a random stream and any rank count
 * reproduces the same numbers. */
#ifndef NNDIST_RNG_H
#define NNDIST_RNG_H

#include <stdint.h>

/* What a draw is for; keeps the streams of different uses apart. */
enum nnd_rng_purpose {
    NND_RNG_INIT_WEIGHT = 1,
    NND_RNG_INIT_BIAS = 2,
    NND_RNG_SHUFFLE = 3,
    NND_RNG_SYNTHETIC = 4,
    NND_RNG_ORDER = 5,   /* the batch order's grouping of stripes (order.h) */
    NND_RNG_DROPOUT = 6, /* dropout's masks (dropout.h) */
};

/* splitmix64's step and finaliser: a bijective 64-bit mix of x + the golden ratio's 2^64
 * multiple, so nnd_mix64(r + j * NND_GOLDEN64), j = 0, 1, ..., is splitmix64's sequence from r.
 * Inline: dropout's mask kernels draw one per unit, vectorized. */
#define NND_GOLDEN64 0x9e3779b97f4a7c15ULL
static inline uint64_t nnd_mix64(uint64_t x)
{
    x += NND_GOLDEN64;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}
/* A 64-bit random word for (seed, purpose, a, b). */
uint64_t nnd_rng_u64(uint64_t seed, uint64_t purpose, uint64_t a, uint64_t b);
/* Uniform in [0, 1) with 24 random bits (exact in float). */
float nnd_rng_uniform(uint64_t seed, uint64_t purpose, uint64_t a, uint64_t b);
/* Uniform integer in [0, n), n > 0, without modulo bias worth mentioning (Lemire's method). */
uint64_t nnd_rng_below(uint64_t seed, uint64_t purpose, uint64_t a, uint64_t b, uint64_t n);

#endif
