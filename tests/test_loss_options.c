/* Softmax cross-entropy's class weights and label smoothing (loss.h), against
 * torch.nn.functional.cross_entropy(weight=, label_smoothing=) of PyTorch 1.13 in float64, against
 * the formula written out by hand, and against central differences of the loss; and the parsing
 * of --class-weights' list.
 *
 * The torch values below come from logits that float32 represents exactly:
 *   z = [[1, 2, 3, 0.5], [-1, 0.25, 2, -0.5], [0, 0, 0, 0]], y = [2, 0, 3],
 *   w = [0.5, 2, 1.5, 0.25]; the mean divides by w_2 + w_0 + w_3 = 2.25 with weights, by 3
 * without. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <string.h>

#include "nndist/loss.h"
#include "nndist/rng.h"

static const float g_z[12] = {1.0f, 2.0f, 3.0f, 0.5f, -1.0f, 0.25f, 2.0f, -0.5f, 0, 0, 0, 0};
static const int32_t g_y[3] = {2, 0, 3};
static const double g_w[4] = {0.5, 2.0, 1.5, 0.25};

/* In double: cmocka 1.1's assert_float_equal compares in float. */
#define assert_near(got, want, tol) assert_near_at((got), (want), (tol), #got, __LINE__)
static void assert_near_at(double got, double want, double tol, const char *what, int line)
{
    if (!(fabs(got - want) <= tol))
        fail_msg("line %d: %s = %.17g, expected %.17g (tolerance %g)", line, what, got, want, tol);
}

/* torch's mean loss and gradient (of the mean) for the case; the sum is the mean x denom. */
static void check_torch(const nnd_ce_opts *o, double want_denom, double want_mean,
                        const double *want_grad)
{
    float d[12];
    size_t correct = 99;
    double denom = -1.0;
    double sum = nnd_loss_softmax_ce_opts(g_z, g_y, 3, 4, o, d, &correct, &denom);
    assert_near(denom, want_denom, 0.0);
    assert_near(sum / denom, want_mean, 1e-15);
    for (int i = 0; i < 12; i++) assert_near(d[i] / denom, want_grad[i], 3e-8);
    /* argmax: sample 0 right (3 at 2), 1 wrong (2 at 2, label 0), 2 a tie, index 0, label 3 */
    assert_int_equal(correct, 1);
    /* Without the gradient or the counts: the same loss. */
    assert_near(nnd_loss_softmax_ce_opts(g_z, g_y, 3, 4, o, NULL, NULL, NULL), sum, 0.0);
}

static void test_torch_weights(void **state)
{
    (void)state;
    const nnd_ce_opts o = {g_w, 0.0};
    const double g[12] = {0.056912595673192595, 0.15470447462887632,  -0.2461363045016888,
                          0.03451923419961987,  -0.21374841471072892, 0.02957649437062787,
                          0.17020097365208356,  0.013970946688017512, 0.027777777777777776,
                          0.027777777777777776, 0.027777777777777776, -0.08333333333333333};
    check_torch(&o, 2.25, 1.1871479096618696, g);
}

static void test_torch_smoothing(void **state)
{
    (void)state;
    const nnd_ce_opts o = {NULL, 0.1};
    const double g[12] = {0.020122964503262966, 0.06901890398110483,  -0.09806815225084439,
                          0.008926283766476605, -0.2956226220660934,  0.03603140822260849,
                          0.24696812714479208,  0.012623086698692942, 0.07500000000000001,
                          0.07500000000000001,  0.07500000000000001,  -0.225};
    check_torch(&o, 3.0, 1.710838598574885, g);
}

static void test_torch_weights_and_smoothing(void **state)
{
    (void)state;
    const nnd_ce_opts o = {g_w, 0.1};
    const double g[12] = {0.04969708941050227,  0.1279700385633119,   -0.20840177339816737,
                          0.03073464542435319,  -0.19612844469901927, 0.010681627765101284,
                          0.1726819165212763,   0.012764900412641706, 0.03125,
                          0.014583333333333334, 0.02013888888888889,  -0.06597222222222224};
    check_torch(&o, 2.25, 1.2710276146049024, g);
}

/* One sample by hand: z = (1, 2, 3), y = 2, w = (1, 2, 3), eps = 0.3. With
 * s = e + e^2 + e^3 and l_c = log s - z_c: loss = 0.7 * 3 * l_2 + 0.1 * (1 l_0 + 2 l_1 + 3 l_2),
 * dz_j = p_j (0.7 * 3 + 0.1 * 6) - 0.7 * 3 [j = 2] - 0.1 w_j. */
static void test_one_sample_by_hand(void **state)
{
    (void)state;
    const float z[3] = {1.0f, 2.0f, 3.0f};
    const int32_t y[1] = {2};
    const double w[3] = {1.0, 2.0, 3.0};
    const nnd_ce_opts o = {w, 0.3};
    double s = exp(1.0) + exp(2.0) + exp(3.0), lse = log(s);
    double want =
        0.7 * 3.0 * (lse - 3.0) + 0.1 * (1.0 * (lse - 1.0) + 2.0 * (lse - 2.0) + 3.0 * (lse - 3.0));
    float d[3];
    double denom;
    double loss = nnd_loss_softmax_ce_opts(z, y, 1, 3, &o, d, NULL, &denom);
    assert_near(loss, want, 1e-12);
    assert_near(denom, 3.0, 0.0);
    for (int j = 0; j < 3; j++) {
        double p = exp(z[j]) / s;
        assert_near(d[j], p * (2.1 + 0.6) - (j == 2 ? 2.1 : 0.0) - 0.1 * w[j], 1e-6);
    }
    /* The gradient of a sum of weighted, smoothed terms still sums to zero over the classes
     * when the weights are 1: softmax's shift invariance. */
    const nnd_ce_opts plain = {NULL, 0.3};
    nnd_loss_softmax_ce_opts(z, y, 1, 3, &plain, d, NULL, &denom);
    assert_near(d[0] + d[1] + d[2], 0.0, 1e-7);
    assert_near(denom, 1.0, 0.0);
}

/* No options, or neither weights nor smoothing: nnd_loss_softmax_ce's bits, denominator n. */
static void test_no_options_is_plain(void **state)
{
    (void)state;
    float a[12], b[12], c[12];
    size_t ca, cb, cc;
    double denom_b = 0, denom_c = 0;
    const nnd_ce_opts none = {NULL, 0.0};
    double la = nnd_loss_softmax_ce(g_z, g_y, 3, 4, a, &ca);
    double lb = nnd_loss_softmax_ce_opts(g_z, g_y, 3, 4, NULL, b, &cb, &denom_b);
    double lc = nnd_loss_softmax_ce_opts(g_z, g_y, 3, 4, &none, c, &cc, &denom_c);
    assert_true(la == lb && la == lc);
    assert_memory_equal(a, b, sizeof a);
    assert_memory_equal(a, c, sizeof a);
    assert_true(ca == cb && ca == cc);
    assert_true(denom_b == 3.0 && denom_c == 3.0);
    assert_false(nnd_ce_opts_active(NULL));
    assert_false(nnd_ce_opts_active(&none));
    /* Weights of 1 everywhere: the plain loss, with smoothing or not, in value. */
    const double ones[4] = {1, 1, 1, 1};
    const nnd_ce_opts unit = {ones, 0.0};
    assert_near(nnd_loss_softmax_ce_opts(g_z, g_y, 3, 4, &unit, c, NULL, &denom_c), la, 1e-12);
    for (int i = 0; i < 12; i++) assert_near(c[i], a[i], 1e-7);
    assert_near(denom_c, 3.0, 0.0);
}

/* The gradient against central differences of the summed loss in each logit, for random logits,
 * labels, weights and smoothing: |analytic - fd| <= 2e-5 + 1e-3 |fd|. With h = 1e-2 the
 * difference quotient's error is about h^2 / 6 times the third derivative (<= 1e-5 here) plus
 * float's rounding of z +- h (1e-7 / h of the loss's scale); a wrong term (a missing eps / k,
 * weights on the wrong class) is off by 1e-2 or more. */
static void test_finite_differences(void **state)
{
    (void)state;
    enum { N = 5, K = 6 };
    for (uint64_t seed = 1; seed <= 20; seed++) {
        float z[N * K], d[N * K];
        int32_t y[N];
        double w[K];
        for (size_t i = 0; i < N * K; i++)
            z[i] = 6.0f * nnd_rng_uniform(seed, NND_RNG_SYNTHETIC, 1, i) - 3.0f;
        for (size_t i = 0; i < N; i++)
            y[i] = (int32_t)nnd_rng_below(seed, NND_RNG_SYNTHETIC, 2, i, K);
        for (size_t j = 0; j < K; j++)
            w[j] = 0.1 + 3.0 * nnd_rng_uniform(seed, NND_RNG_SYNTHETIC, 3, j);
        const nnd_ce_opts o = {
            seed % 4 == 0 ? NULL : w,
            seed % 4 == 1 ? 0.0 : 0.9 * nnd_rng_uniform(seed, NND_RNG_SYNTHETIC, 4, 0)};
        nnd_loss_softmax_ce_opts(z, y, N, K, &o, d, NULL, NULL);
        for (size_t i = 0; i < N * K; i++) {
            float keep = z[i], h = 1e-2f;
            z[i] = keep + h;
            double fp = nnd_loss_softmax_ce_opts(z, y, N, K, &o, NULL, NULL, NULL);
            double step = (double)z[i];
            z[i] = keep - h;
            double fm = nnd_loss_softmax_ce_opts(z, y, N, K, &o, NULL, NULL, NULL);
            step -= (double)z[i];
            z[i] = keep;
            double fd = (fp - fm) / step;
            if (!(fabs(d[i] - fd) <= 2e-5 + 1e-3 * fabs(fd)))
                fail_msg("seed %llu, logit %zu: analytic %.9g, central difference %.9g",
                         (unsigned long long)seed, i, (double)d[i], fd);
        }
    }
}

/* Large logits: no overflow, and the smoothing term stays finite. */
static void test_large_logits(void **state)
{
    (void)state;
    const float z[4] = {1000.0f, 0.0f, -1000.0f, 0.0f};
    const int32_t y[2] = {1, 0};
    const double w[2] = {2.0, 0.5};
    const nnd_ce_opts o = {w, 0.2};
    float d[4];
    double denom;
    double loss = nnd_loss_softmax_ce_opts(z, y, 2, 2, &o, d, NULL, &denom);
    /* sample 0: 0.8 * 0.5 * 1000 + 0.1 * (2 * 0 + 0.5 * 1000); sample 1: 0.8 * 2 * 1000 +
     * 0.1 * (2 * 1000 + 0.5 * 0) */
    assert_near(loss, 400.0 + 50.0 + 1600.0 + 200.0, 1e-9);
    assert_near(denom, 2.5, 0.0);
    for (int i = 0; i < 4; i++) assert_true(isfinite(d[i]));
}

static void test_class_weights_parse(void **state)
{
    (void)state;
    double w[4];
    assert_int_equal(nnd_class_weights_parse("0.5,2,1.5,0.25", 4, w), NND_OK);
    for (int j = 0; j < 4; j++) assert_true(w[j] == g_w[j]);
    assert_int_equal(nnd_class_weights_parse("1e-3,1E3,7,0x1p-2", 4, NULL), NND_OK);
    struct {
        const char *text, *says;
    } bad[] = {
        {"1,2,3", "3 weights given; the output layer has 4 classes, so expected 4"},
        {"1,2,3,4,5", "5 weights given"},
        {"1", "1 weight given"},
        {"1,-2,3,4", "the weight of class 1 is -2"},
        {"1,2,0,4", "the weight of class 2 is 0"},
        {"1,2,3,nan", "the weight of class 3 is nan"},
        {"inf,2,3,4", "the weight of class 0 is inf"},
        {"1,2,x,4", "'x' (the weight of class 2) is not a number"},
        {"1,2,,4", "'' (the weight of class 2) is not a number"},
        {"1,2,3,4,", "'' (the weight of class 4) is not a number"},
        {"", "'' (the weight of class 0) is not a number"},
        {"1,2,3 ,4", "'3 ' (the weight of class 2) is not a number"},
        {"Balanced", "'Balanced' (the weight of class 0) is not a number; expected 'balanced'"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(nnd_class_weights_parse(bad[i].text, 4, w), NND_ERR_USAGE);
        if (!strstr(nnd_err_msg(), bad[i].says))
            fail_msg("'%s': message \"%s\" lacks \"%s\"", bad[i].text, nnd_err_msg(), bad[i].says);
        assert_non_null(strstr(nnd_err_msg(), "--class-weights"));
        nnd_err_clear();
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_torch_weights),
        cmocka_unit_test(test_torch_smoothing),
        cmocka_unit_test(test_torch_weights_and_smoothing),
        cmocka_unit_test(test_one_sample_by_hand),
        cmocka_unit_test(test_no_options_is_plain),
        cmocka_unit_test(test_finite_differences),
        cmocka_unit_test(test_large_logits),
        cmocka_unit_test(test_class_weights_parse),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
