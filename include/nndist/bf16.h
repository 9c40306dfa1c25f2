/* bfloat16: the top 16 bits of a float32 (sign, 8 exponent bits, 7 mantissa bits), the operand
 * format of --precision bf16's products (docs/design.md, "Mixed precision").
 *
 * float32 -> bf16 is the AVX512_BF16 conversion's (VCVTNEPS2BF16), so that the portable code and
 * the hardware give the same bits:
 *   - zero and subnormal inputs become a zero of the same sign (subnormals are treated as zero);
 *   - infinities keep their sign;
 *   - a NaN stays a NaN: its top 16 bits with the quiet bit (bit 6 of the bf16) set;
 *   - a normal number rounds to nearest, ties to even (a value past the largest bf16 becomes an
 *     infinity).
 * bf16 -> float32 is exact: the bits shifted up by 16. */
#ifndef NNDIST_BF16_H
#define NNDIST_BF16_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

typedef uint16_t nnd_bf16;

/* Written with selects, not branches, so that loops over it vectorize. */
static inline nnd_bf16 nnd_bf16_from_float(float x)
{
    uint32_t u;
    memcpy(&u, &x, sizeof u);
    const uint32_t exponent = u & 0x7f800000u, mantissa = u & 0x007fffffu;
    const uint32_t zero = (u >> 16) & 0x8000u;                      /* zero or subnormal */
    const uint32_t special = (u >> 16) | (mantissa ? 0x0040u : 0u); /* infinity, NaN (quiet) */
    const uint32_t rounded = (u + 0x7fffu + ((u >> 16) & 1u)) >> 16;
    return (nnd_bf16)(exponent == 0 ? zero : exponent == 0x7f800000u ? special : rounded);
}

static inline float nnd_bf16_to_float(nnd_bf16 h)
{
    const uint32_t u = (uint32_t)h << 16;
    float x;
    memcpy(&x, &u, sizeof x);
    return x;
}

/* out[i] = nnd_bf16_from_float(x[i]) for n values. */
void nnd_bf16_round(const float *x, nnd_bf16 *out, size_t n);
/* out[i] = nnd_bf16_to_float(nnd_bf16_from_float(x[i])): x rounded to bf16 and back. */
void nnd_bf16_round_float(const float *x, float *out, size_t n);

#endif
