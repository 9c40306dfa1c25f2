#include "nndist/fixed_sum.h"

#include <math.h>

int nnd_fixed_exponent(const float *x, size_t n)
{
    float big = 0.0f;
    for (size_t i = 0; i < n; i++) {
        float a = fabsf(x[i]);
        if (!(a <= big)) { /* also true for a NaN */
            if (!isfinite(a)) return NND_FIXED_NONFINITE;
            big = a;
        }
    }
    if (big == 0.0f) return NND_FIXED_ZERO;
    int e;
    frexpf(big, &e);
    return e;
}

double nnd_fixed_max_abs(const float *x, size_t n)
{
    float big = 0.0f;
    int bad = 0;
#pragma omp parallel for reduction(max : big) reduction(| : bad) schedule(static) if (n > 65536)
    for (size_t i = 0; i < n; i++) {
        float a = fabsf(x[i]);
        bad |= !isfinite(a);
        big = a > big ? a : big;
    }
    return bad ? INFINITY : (double)big;
}

int nnd_fixed_shift(int e, uint64_t terms)
{
    if (e == NND_FIXED_ZERO) return 0;
    int h = 0;
    while (h < 63 && (UINT64_C(1) << h) < terms) h++; /* ceil(log2(terms)) */
    return 62 - h - e;
}

int nnd_fixed_shift_bound(double bound)
{
    if (!(bound < 0x1p127)) return NND_FIXED_NONFINITE; /* also a NaN */
    if (bound <= 0.0) return 0;
    int e;
    frexp(bound, &e);               /* 2^(e-1) <= bound < 2^e */
    return e > -900 ? 62 - e : 962; /* (2^962 keeps the scale a finite double) */
}

void nnd_fixed_encode(const float *x, size_t n, int s, int64_t *out)
{
    /* Exact in double (24 significant bits, scaled by a power of two), then one rounding:
     * llrint rounds to nearest, ties to even, in the default rounding mode. */
    const double scale = ldexp(1.0, s);
    for (size_t i = 0; i < n; i++) out[i] = llrint((double)x[i] * scale);
}

void nnd_fixed_add(int64_t *out, const int64_t *in, size_t n)
{
    for (size_t i = 0; i < n; i++) out[i] += in[i];
}

void nnd_fixed_decode(const int64_t *in, size_t n, int s, float *out)
{
    const double scale = ldexp(1.0, -s);
    for (size_t i = 0; i < n; i++) out[i] = (float)((double)in[i] * scale);
}
