/* Exact sums (fixed_sum.h): the same floats summed in any grouping and order give the same
 * bits, where float addition does not; the result is within the documented resolution of the
 * exact sum; hand cases of the rounding, the range and the exponent. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "nndist/fixed_sum.h"
#include "nndist/rng.h"

enum { TERMS = 96, N = 257 };

/* Term t of the data: values over 40 binades, both signs, a few exact zeros. */
static float value(int t, int i)
{
    float u = nnd_rng_uniform(21, NND_RNG_SYNTHETIC, (uint64_t)t, (uint64_t)i);
    float v = nnd_rng_uniform(22, NND_RNG_SYNTHETIC, (uint64_t)t, (uint64_t)i);
    if (u < 0.02f) return 0.0f;
    return (u < 0.5f ? -1.0f : 1.0f) * ldexpf(0.5f + v, (int)(40.0f * u) - 20);
}

/* The sum of the terms taken in the order perm, grouped into blocks of `group` that are summed
 * first (as units, then ranks, would), through the fixed-point integers. */
static void fixed_sum(float terms[TERMS][N], const int *perm, int group, int s, float *out,
                      int64_t *total)
{
    static int64_t block[N], enc[N];
    memset(total, 0, N * sizeof *total);
    for (int b = 0; b < TERMS; b += group) {
        memset(block, 0, sizeof block);
        for (int t = b; t < b + group && t < TERMS; t++) {
            nnd_fixed_encode(terms[perm[t]], N, s, enc);
            nnd_fixed_add(block, enc, N);
        }
        nnd_fixed_add(total, block, N);
    }
    nnd_fixed_decode(total, N, s, out);
}

static void test_any_order_same_bits(void **state)
{
    (void)state;
    static float terms[TERMS][N];
    int e = NND_FIXED_ZERO;
    for (int t = 0; t < TERMS; t++) {
        for (int i = 0; i < N; i++) terms[t][i] = value(t, i);
        int et = nnd_fixed_exponent(terms[t], N);
        if (e == NND_FIXED_ZERO || et > e) e = et; /* the agreed exponent: the largest */
    }
    int s = nnd_fixed_shift(e, TERMS);
    int forward[TERMS], backward[TERMS], shuffled[TERMS];
    for (int t = 0; t < TERMS; t++) forward[t] = shuffled[t] = t, backward[t] = TERMS - 1 - t;
    for (int t = TERMS - 1; t > 0; t--) { /* a fixed permutation */
        int k = (int)(nnd_rng_uniform(23, NND_RNG_SYNTHETIC, 0, (uint64_t)t) * (float)(t + 1));
        if (k > t) k = t;
        int x = shuffled[t];
        shuffled[t] = shuffled[k];
        shuffled[k] = x;
    }
    float a[N], b[N], c[N], d[N];
    static int64_t ia[N], ib[N], ic[N], id[N];
    fixed_sum(terms, forward, 1, s, a, ia);
    fixed_sum(terms, backward, 7, s, b, ib);
    fixed_sum(terms, shuffled, 32, s, c, ic);
    fixed_sum(terms, shuffled, TERMS, s, d, id);
    /* the integer totals, every bit of them, and so the floats */
    assert_memory_equal(ia, ib, sizeof ia);
    assert_memory_equal(ia, ic, sizeof ia);
    assert_memory_equal(ia, id, sizeof ia);
    assert_memory_equal(a, b, sizeof a);
    assert_memory_equal(a, c, sizeof a);
    assert_memory_equal(a, d, sizeof a);
    /* The data is such that float addition does depend on the order (else the check above
     * would prove nothing). */
    int differ = 0;
    for (int i = 0; i < N; i++) {
        float f = 0.0f, r = 0.0f;
        for (int t = 0; t < TERMS; t++) f += terms[t][i];
        for (int t = TERMS - 1; t >= 0; t--) r += terms[t][i];
        differ += f != r;
    }
    assert_true(differ > N / 4);
    /* And the result is the exact sum to within the resolution per term and float's rounding. */
    const double resolution = ldexp(1.0, -s);
    for (int i = 0; i < N; i++) {
        long double exact = 0.0L;
        for (int t = 0; t < TERMS; t++) exact += (long double)terms[t][i];
        double err = fabs((double)(a[i] - exact));
        double bound = TERMS * resolution / 2 + fabs((double)exact) * ldexp(1.0, -24);
        if (!(err <= bound)) fail_msg("element %d: error %g above %g", i, err, bound);
    }
}

static void test_hand_cases(void **state)
{
    (void)state;
    const float x[4] = {1.0f, -0.75f, 0.0f, 3.0f};
    assert_int_equal(nnd_fixed_exponent(x, 4), 2); /* 2 <= 3 < 4 */
    const float zeros[3] = {0.0f, -0.0f, 0.0f};
    assert_int_equal(nnd_fixed_exponent(zeros, 3), NND_FIXED_ZERO);
    assert_int_equal(nnd_fixed_shift(NND_FIXED_ZERO, 10), 0);
    const float bad[3] = {1.0f, NAN, 2.0f}, inf[2] = {-INFINITY, 1.0f};
    assert_int_equal(nnd_fixed_exponent(bad, 3), NND_FIXED_NONFINITE);
    assert_int_equal(nnd_fixed_exponent(inf, 2), NND_FIXED_NONFINITE);
    /* 62 - ceil(log2 T) - e: T = 1, 2, 3, 4, 5 need 0, 1, 2, 2, 3 bits of headroom */
    assert_int_equal(nnd_fixed_shift(2, 1), 60);
    assert_int_equal(nnd_fixed_shift(2, 2), 59);
    assert_int_equal(nnd_fixed_shift(2, 3), 58);
    assert_int_equal(nnd_fixed_shift(2, 4), 58);
    assert_int_equal(nnd_fixed_shift(2, 5), 57);
    /* Rounding at the resolution (s = 1: units of 0.5): ties to even, below half to 0. */
    const float r[6] = {0.25f, 0.75f, 1.25f, -0.25f, 0.2f, 0.3f};
    int64_t q[6];
    nnd_fixed_encode(r, 6, 1, q);
    const int64_t want[6] = {0, 2, 2, 0, 0, 1};
    assert_memory_equal(q, want, sizeof q);
    /* The largest sum the headroom allows: T terms of the largest value do not overflow. */
    const uint64_t T = UINT64_C(1) << 20;
    const float top = nextafterf(2.0f, 0.0f); /* the largest float below 2^1 */
    int s = nnd_fixed_shift(nnd_fixed_exponent(&top, 1), T);
    int64_t one;
    nnd_fixed_encode(&top, 1, s, &one);
    assert_true(one > 0 && (uint64_t)one <= (UINT64_C(1) << 62) / T);
    float back;
    nnd_fixed_decode(&one, 1, s, &back);
    assert_true(back == top); /* 24 bits inside the window: exact */
    /* Below the window: 2^-44 rounds to 0 beside a largest value of 1 at T = 2^20 (resolution
     * 2^-41). */
    const float tiny[2] = {1.0f, ldexpf(1.0f, -44)};
    s = nnd_fixed_shift(nnd_fixed_exponent(tiny, 2), T);
    int64_t qt[2];
    nnd_fixed_encode(tiny, 2, s, qt);
    assert_true(qt[0] == INT64_C(1) << 41 && qt[1] == 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_any_order_same_bits),
        cmocka_unit_test(test_hand_cases),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
