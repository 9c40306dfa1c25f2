/* The elementwise passes of a step (src/kernels/elementwise.c) in every instruction-set variant
 * this CPU runs give bitwise the portable C's results, on lengths that leave remainders after the
 * vectors and above the parallel threshold; and each pass against its definition: every hidden
 * activation's forward and backward (activation.h), at the edges too (signed zeros, tiny and
 * saturating inputs). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../src/kernels/elementwise.h"
#include "ew_variants.h"
#include "nndist/bf16.h"
#include "nndist/fixed_sum.h"
#include "nndist/rng.h"

static float *random_floats(size_t n, uint64_t stream)
{
    float *x = malloc(n * sizeof *x);
    assert_non_null(x);
    for (size_t i = 0; i < n; i++)
        x[i] = 4.0f * (nnd_rng_uniform(17, NND_RNG_SYNTHETIC, stream, i) - 0.5f);
    return x;
}

/* The activations' definitions (activation.h) in float32, written out here in the order of
 * operations the kernels promise (torch's), so that the portable variant must equal them
 * bitwise. */
static float act_def(nnd_activation act, float x, float p)
{
    switch (act) {
    case NND_ACT_TANH:
        return tanhf(x);
    case NND_ACT_SIGMOID:
        return 1.0f / (1.0f + expf(-x));
    case NND_ACT_GELU:
        return 0.5f * x * (1.0f + erff(x * 0.70710678118654752440f));
    case NND_ACT_GELU_TANH:
        return 0.5f * x * (1.0f + tanhf(0.79788456080286535588f * (x + 0.044715f * (x * x * x))));
    case NND_ACT_LEAKY_RELU:
        return x > 0.0f ? x : x * p;
    case NND_ACT_SILU:
        return x / (1.0f + expf(-x));
    case NND_ACT_ELU:
        return x > 0.0f ? x : p * expm1f(x);
    default:
        return x > 0.0f ? x : 0.0f;
    }
}

/* act'(x), from the output a for the activations that derive it from there, else from x. */
static float act_grad_def(nnd_activation act, float x, float a, float p)
{
    switch (act) {
    case NND_ACT_TANH:
        return 1.0f - a * a;
    case NND_ACT_SIGMOID:
        return a * (1.0f - a);
    case NND_ACT_LEAKY_RELU:
        return a > 0.0f ? 1.0f : p;
    case NND_ACT_ELU:
        return a > 0.0f ? 1.0f : a + p;
    case NND_ACT_GELU: {
        float cdf = 0.5f * (1.0f + erff(x * 0.70710678118654752440f));
        float pdf = expf(-0.5f * x * x) * 0.39894228040143267794f;
        return cdf + x * pdf;
    }
    case NND_ACT_GELU_TANH: {
        const float k = 0.79788456080286535588f, x_sq = x * x;
        float t = tanhf(k * (x + 0.044715f * (x_sq * x)));
        float right = 1.0f + t;
        float right_grad = 0.5f * x * (1.0f - t * t) * (k * (1.0f + 3.0f * 0.044715f * x_sq));
        return 0.5f * right + right_grad;
    }
    case NND_ACT_SILU: {
        float s = 1.0f / (1.0f + expf(-x));
        return s * (1.0f + x * (1.0f - s));
    }
    default:
        return a > 0.0f ? 1.0f : 0.0f;
    }
}

/* Every activation but ReLU (which rides in the GEMM's epilogue: test_gemm), with the
 * parameters of leaky-relu and elu at their defaults and off them. */
static const struct {
    nnd_activation act;
    float p;
} g_acts[] = {{NND_ACT_TANH, 0.0f},       {NND_ACT_SIGMOID, 0.0f},     {NND_ACT_GELU, 0.0f},
              {NND_ACT_GELU_TANH, 0.0f},  {NND_ACT_LEAKY_RELU, 0.01f}, {NND_ACT_LEAKY_RELU, 0.3f},
              {NND_ACT_LEAKY_RELU, 0.0f}, {NND_ACT_SILU, 0.0f},        {NND_ACT_ELU, 1.0f},
              {NND_ACT_ELU, 0.5f}};

static void test_forward_backward_passes(void **state)
{
    (void)state;
    const size_t n = 133, out = 517, count = n * out; /* above the parallel threshold, odd */
    float *Z0 = random_floats(count, 1), *b = random_floats(out, 2), *dA0 = random_floats(count, 3);
    /* pre-activations in [-12, 12), and the edges: zeros of both signs, tiny and large values */
    for (size_t i = 0; i < count; i++) Z0[i] *= 3.0f;
    const float edge[] = {0.0f,   -0.0f, 1e-30f, -1e-30f, 1e-7f,
                          -1e-7f, 30.0f, -30.0f, 90.0f,   -90.0f};
    for (size_t k = 0; k < sizeof edge / sizeof edge[0]; k++) {
        Z0[k * out + k] = edge[k] - b[k]; /* (edge - b) + b is edge for these (or its neighbour) */
    }
    float *Z = malloc(count * sizeof *Z), *A = malloc(count * sizeof *A);
    float *Zref = malloc(count * sizeof *Zref), *Aref = malloc(count * sizeof *Aref);
    float *dA = malloc(count * sizeof *dA), *dAref = malloc(count * sizeof *dAref);
    float *db = malloc(out * sizeof *db), *db_ref = malloc(out * sizeof *db_ref);
    assert_true(Z && A && Zref && Aref && dA && dAref && db && db_ref);
    for (size_t k = 0; k < sizeof g_acts / sizeof g_acts[0]; k++) {
        const nnd_activation act = g_acts[k].act;
        const float p = g_acts[k].p;
        const char *name = nnd_activation_name(act);
        const int keeps = nnd_activation_keeps_z(act);
        /* forward: the portable variant against the definition; in place, or into A with Z
         * kept (Z + b) for the activations that keep it */
        memcpy(Zref, Z0, count * sizeof *Zref);
        float *Aout = keeps ? Aref : Zref;
        nnd_ew_portable.bias_act(Zref, Aout, b, n, out, act, p);
        for (size_t i = 0; i < count; i++) {
            float v = Z0[i] + b[i % out];
            float want = act_def(act, v, p);
            if (memcmp(&Aout[i], &want, sizeof want) != 0)
                fail_msg("%s (p %g): element %zu: %a, the definition %a", name, (double)p, i,
                         (double)Aout[i], (double)want);
            if (keeps && Zref[i] != v) fail_msg("%s: Z %zu not kept", name, i);
        }
        if (!keeps) memcpy(Aref, Zref, count * sizeof *Aref);
        for (int v = 1; v < 3; v++) {
            if (!runs_here(v)) continue;
            memcpy(Z, Z0, count * sizeof *Z);
            variants[v]->bias_act(Z, keeps ? A : Z, b, n, out, act, p);
            if (memcmp(keeps ? A : Z, Aref, count * sizeof *Z) != 0 ||
                (keeps && memcmp(Z, Zref, count * sizeof *Z) != 0))
                fail_msg("bias_act (%s, p %g): %s differs from portable", name, (double)p,
                         names[v]);
        }
        /* backward from the output A and the kept Z (Z + b) of the forward above */
        for (size_t i = 0; i < count; i++) Zref[i] = Z0[i] + b[i % out];
        memcpy(dAref, dA0, count * sizeof *dAref);
        nnd_ew_portable.act_backward(dAref, Aref, keeps ? Zref : NULL, count, act, p);
        for (size_t i = 0; i < count; i++) {
            float want = dA0[i] * act_grad_def(act, Zref[i], Aref[i], p);
            if (memcmp(&dAref[i], &want, sizeof want) != 0)
                fail_msg("act_backward %s (p %g): element %zu: %a, the definition %a", name,
                         (double)p, i, (double)dAref[i], (double)want);
        }
        for (int v = 1; v < 3; v++) {
            if (!runs_here(v)) continue;
            memcpy(dA, dA0, count * sizeof *dA);
            variants[v]->act_backward(dA, Aref, keeps ? Zref : NULL, count, act, p);
            if (memcmp(dA, dAref, count * sizeof *dA) != 0)
                fail_msg("act_backward %s (p %g): %s differs from portable", name, (double)p,
                         names[v]);
        }
    }
    nnd_ew_portable.column_sums(db_ref, dA0, n, out);
    for (size_t j = 0; j < out; j++) {
        float want = 0.0f;
        for (size_t i = 0; i < n; i++) want += dA0[i * out + j];
        assert_true(db_ref[j] == want);
    }
    for (int v = 1; v < 3; v++) {
        if (!runs_here(v)) continue;
        variants[v]->column_sums(db, dA0, n, out);
        if (memcmp(db, db_ref, out * sizeof *db) != 0)
            fail_msg("column_sums: %s differs from portable", names[v]);
    }
    free(Z0);
    free(b);
    free(dA0);
    free(Z);
    free(A);
    free(Zref);
    free(Aref);
    free(dA);
    free(dAref);
    free(db);
    free(db_ref);
}

/* round_bf16 against nnd_bf16_from_float, and sum_ranks_bf16 against the parts widened and
 * added in rank order, bitwise; a NaN part is caught. */
static void check_bf16_sums(const nnd_ew_kernels *k, const char *name, float *const *seg, int P,
                            size_t lo, size_t n)
{
    uint16_t *h[3];
    float *out = malloc(n * sizeof *out);
    assert_true(P <= 3 && out);
    for (int r = 0; r < P; r++) {
        h[r] = malloc((n + lo) * sizeof *h[r]);
        assert_non_null(h[r]);
        k->round_bf16(h[r], seg[r], n + lo);
        for (size_t i = 0; i < n + lo; i++)
            if (h[r][i] != nnd_bf16_from_float(seg[r][i]))
                fail_msg("round_bf16 (%s): element %zu is 0x%04x, not 0x%04x", name, i, h[r][i],
                         nnd_bf16_from_float(seg[r][i]));
    }
    for (int p = 1; p <= P; p++) {
        assert_int_equal(k->sum_ranks_bf16(out, (const uint16_t *const *)h, p, lo, n), 0);
        for (size_t i = 0; i < n; i++) {
            float want = nnd_bf16_to_float(h[0][lo + i]);
            for (int r = 1; r < p; r++) want += nnd_bf16_to_float(h[r][lo + i]);
            if (memcmp(&want, &out[i], sizeof want) != 0)
                fail_msg("sum_ranks_bf16 over %d ranks (%s): element %zu is %.9g, not %.9g", p,
                         name, i, (double)out[i], (double)want);
        }
    }
    h[P - 1][lo + n / 2] = 0x7fc0; /* a NaN */
    assert_int_equal(k->sum_ranks_bf16(out, (const uint16_t *const *)h, P, lo, n), 1);
    for (int r = 0; r < P; r++) free(h[r]);
    free(out);
}

static void test_checks_and_sums(void **state)
{
    (void)state;
    const size_t n = 70001;
    enum { P = 3 };
    float *seg[P], *out = malloc(n * sizeof *out), *ref = malloc(n * sizeof *ref);
    assert_non_null(out);
    assert_non_null(ref);
    for (int r = 0; r < P; r++) seg[r] = random_floats(n + 100, 10 + (uint64_t)r);
    const size_t lo = 37;
    for (int v = 0; v < 3; v++) {
        if (!runs_here(v)) continue;
        for (int p = 1; p <= P; p++) {
            assert_int_equal(variants[v]->sum_ranks(out, (const float *const *)seg, p, lo, n), 0);
            for (size_t i = 0; i < n; i++) {
                float want = seg[0][lo + i];
                for (int r = 1; r < p; r++) want += seg[r][lo + i];
                ref[i] = want;
            }
            if (memcmp(out, ref, n * sizeof *out) != 0)
                fail_msg("sum_ranks over %d ranks: %s differs from the sum in rank order", p,
                         names[v]);
        }
        assert_int_equal(variants[v]->any_nonfinite(seg[0], n), 0);
        const float bad[] = {NAN, INFINITY, -INFINITY};
        for (size_t k = 0; k < 3; k++) {
            float keep = seg[1][lo + n - 1];
            seg[1][lo + n - 1] = bad[k]; /* the very last element */
            assert_int_equal(variants[v]->any_nonfinite(seg[1] + lo, n), 1);
            assert_int_equal(variants[v]->sum_ranks(out, (const float *const *)seg, 2, lo, n), 1);
            seg[1][lo + n - 1] = keep;
        }
        float big[2] = {3e38f, 3e38f}, *two[2] = {big, big + 1};
        /* finite values whose sum overflows to infinity are caught too */
        assert_int_equal(variants[v]->sum_ranks(out, (const float *const *)two, 2, 0, 1), 1);
        check_bf16_sums(variants[v], names[v], seg, P, lo, n);
    }
    for (int r = 0; r < P; r++) free(seg[r]);
    free(out);
    free(ref);
}

/* The fixed-point passes against fixed_sum.c's reference loops, bitwise: values over 60 binades
 * scaled up to just below 2^62, exact halves (ties go to even), both signs; the largest
 * magnitude, with a NaN and an infinity flagged. */
static void test_fixed_point(void **state)
{
    (void)state;
    const size_t n = 70001; /* above the parallel threshold, a remainder after the vectors */
    float *x = malloc(n * sizeof *x), *out = malloc(n * sizeof *out),
          *ref_out = malloc(n * sizeof *out);
    int64_t *acc = malloc(n * sizeof *acc), *ref = malloc(n * sizeof *ref),
            *enc = malloc(n * sizeof *enc);
    assert_true(x && out && ref_out && acc && ref && enc);
    for (size_t i = 0; i < n; i++) {
        float u = nnd_rng_uniform(5, NND_RNG_SYNTHETIC, 1, i);
        float v = nnd_rng_uniform(5, NND_RNG_SYNTHETIC, 2, i);
        x[i] = (u < 0.5f ? -1.0f : 1.0f) * ldexpf(0.5f + 0.5f * v, (int)(60.0f * u) - 30);
        if (i % 7 == 0) x[i] = (float)((int)(i % 1000) - 500) + 0.5f; /* ties at scale 1 */
    }
    x[3] = 0x1.fffffep29f; /* with s = 32: just below 2^62 */
    for (int s = 0; s <= 32; s += 32) {
        const double scale = ldexp(1.0, s);
        nnd_fixed_encode(x, n, s, ref);
        nnd_fixed_encode(x + 1, n - 1, s, enc);
        nnd_fixed_add(ref, enc, n - 1);
        nnd_fixed_decode(ref, n, s, ref_out);
        for (int v = 0; v < 3; v++) {
            if (!runs_here(v)) continue;
            variants[v]->fixed_encode_add(acc, x, n, scale, 0);
            variants[v]->fixed_encode_add(acc, x + 1, n - 1, scale, 1);
            if (memcmp(acc, ref, n * sizeof *acc) != 0)
                fail_msg("%s: fixed_encode_add differs from the reference at scale 2^%d", names[v],
                         s);
            variants[v]->fixed_decode(out, acc, n, 1.0 / scale);
            assert_memory_equal(out, ref_out, n * sizeof *out);
            assert_true(variants[v]->max_abs(x, n) == nnd_fixed_max_abs(x, n));
        }
    }
    for (int v = 0; v < 3; v++) {
        if (!runs_here(v)) continue;
        float tie[4] = {2.5f, -2.5f, 3.5f, 0.0f};
        variants[v]->fixed_encode_add(acc, tie, 4, 1.0, 0);
        assert_true(acc[0] == 2 && acc[1] == -2 && acc[2] == 4 && acc[3] == 0);
        assert_true(variants[v]->max_abs(x, n) == 0x1.fffffep29f);
        x[n / 2] = NAN;
        assert_true(isinf(variants[v]->max_abs(x, n)));
        x[n / 2] = -INFINITY;
        assert_true(isinf(variants[v]->max_abs(x, n)));
        x[n / 2] = 1.0f;
    }
    free(x);
    free(out);
    free(ref_out);
    free(acc);
    free(ref);
    free(enc);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_forward_backward_passes),
        cmocka_unit_test(test_checks_and_sums),
        cmocka_unit_test(test_fixed_point),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
