/* The losses against values worked out by hand: softmax cross-entropy (ties, large logits of
 * both signs, sums over samples, the correct count) and MSE, with their gradients. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>

#include "nndist/loss.h"

/* In double: cmocka 1.1's assert_float_equal compares in float. */
#define assert_near(got, want, tol) assert_near_at((got), (want), (tol), #got, __LINE__)
static void assert_near_at(double got, double want, double tol, const char *what, int line)
{
    if (!(fabs(got - want) <= tol))
        fail_msg("line %d: %s = %.12g, expected %.12g (tolerance %g)", line, what, got, want, tol);
}

static void test_softmax_ce_two_equal_logits(void **state)
{
    (void)state;
    const float z[2] = {0.0f, 0.0f};
    const int32_t y[1] = {0};
    float d[2] = {NAN, NAN};
    size_t correct = 99;
    double loss = nnd_loss_softmax_ce(z, y, 1, 2, d, &correct);
    assert_near(loss, log(2.0), 1e-7);
    assert_near(d[0], -0.5f, 1e-7);
    assert_near(d[1], 0.5f, 1e-7);
    /* A tie goes to the first index, which is the label here. */
    assert_int_equal(correct, 1);
}

static void test_softmax_ce_three_logits(void **state)
{
    (void)state;
    const float z[3] = {1.0f, 2.0f, 3.0f};
    const int32_t y[1] = {2};
    float d[3];
    size_t correct = 0;
    double s = exp(1.0) + exp(2.0) + exp(3.0);
    double loss = nnd_loss_softmax_ce(z, y, 1, 3, d, &correct);
    /* log(e + e^2 + e^3) - 3 = 0.40760596... */
    assert_near(loss, log(s) - 3.0, 1e-6);
    assert_near(loss, 0.4076059644, 1e-6);
    assert_near(d[0], exp(1.0) / s, 1e-6);
    assert_near(d[1], exp(2.0) / s, 1e-6);
    assert_near(d[2], exp(3.0) / s - 1.0, 1e-6);
    assert_near(d[0] + d[1] + d[2], 0.0, 1e-6);
    assert_int_equal(correct, 1);
}

static void test_softmax_ce_large_logits_do_not_overflow(void **state)
{
    (void)state;
    /* Two samples: (1000, 0) with label 1 costs 1000; with label 0 it costs e^-1000 ~ 0. */
    const float z[4] = {1000.0f, 0.0f, 1000.0f, 0.0f};
    const int32_t y[2] = {1, 0};
    float d[4];
    size_t correct = 0;
    double loss = nnd_loss_softmax_ce(z, y, 2, 2, d, &correct);
    assert_true(isfinite(loss));
    assert_near(loss, 1000.0, 1e-9);
    for (int j = 0; j < 4; j++) assert_true(isfinite(d[j]));
    assert_near(d[0], 1.0f, 1e-7);
    assert_near(d[1], -1.0f, 1e-7);
    assert_near(d[2], 0.0f, 1e-7);
    assert_near(d[3], 0.0f, 1e-7);
    assert_int_equal(correct, 1);
    /* And very negative logits: (-1000, -1002) label 1 costs log(1 + e^-2) + 2. */
    const float zn[2] = {-1000.0f, -1002.0f};
    const int32_t yn[1] = {1};
    loss = nnd_loss_softmax_ce(zn, yn, 1, 2, NULL, NULL);
    assert_near(loss, log(1.0 + exp(-2.0)) + 2.0, 1e-6);
}

static void test_softmax_ce_sums_over_samples_and_counts(void **state)
{
    (void)state;
    /* Sample 0: [0, 0] label 0 -> ln 2, right (a tie goes to index 0). Sample 1: [3, 1] label 1
     * -> log(e^3 + e) - 1, wrong. Sample 2: [0, 5] label 1 -> log(1 + e^5) - 5, right. */
    const float z[6] = {0.0f, 0.0f, 3.0f, 1.0f, 0.0f, 5.0f};
    const int32_t y[3] = {0, 1, 1};
    size_t correct = 0;
    double want = log(2.0) + (log(exp(3.0) + exp(1.0)) - 1.0) + (log(1.0 + exp(5.0)) - 5.0);
    double loss = nnd_loss_softmax_ce(z, y, 3, 2, NULL, &correct);
    assert_near(loss, want, 1e-6);
    assert_int_equal(correct, 2);
}

static void test_mse_by_hand(void **state)
{
    (void)state;
    /* pred [1, 2], target [0, 0]: (1 + 4) / 2 = 2.5; gradient 2 (p - t) / k = [1, 2]. */
    const float p[2] = {1.0f, 2.0f}, t[2] = {0.0f, 0.0f};
    float d[2];
    size_t correct = 0;
    double loss = nnd_loss_mse(p, t, 1, 2, d, &correct);
    assert_near(loss, 2.5, 1e-12);
    assert_near(d[0], 1.0f, 1e-7);
    assert_near(d[1], 2.0f, 1e-7);
    /* argmax(p) = 1, argmax(t) = 0 (tie goes to the first): wrong. */
    assert_int_equal(correct, 0);

    /* Two samples of k = 3, summed: sample 0 = (1 + 4 + 0.25) / 3 = 1.75, sample 1 = 0. */
    const float p2[6] = {1.0f, 2.0f, 0.5f, 0.0f, 1.0f, 0.0f};
    const float t2[6] = {0.0f, 0.0f, 0.0f, 0.0f, 1.0f, 0.0f};
    float d2[6];
    loss = nnd_loss_mse(p2, t2, 2, 3, d2, &correct);
    assert_near(loss, 1.75, 1e-7);
    assert_near(d2[0], 2.0f / 3.0f, 1e-7);
    assert_near(d2[1], 4.0f / 3.0f, 1e-7);
    assert_near(d2[2], 1.0f / 3.0f, 1e-7);
    for (int j = 3; j < 6; j++) assert_near(d2[j], 0.0f, 1e-7);
    /* Sample 0: argmax p = 1, argmax t = 0 (ties -> first): wrong; sample 1 both 1: right. */
    assert_int_equal(correct, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_softmax_ce_two_equal_logits),
        cmocka_unit_test(test_softmax_ce_three_logits),
        cmocka_unit_test(test_softmax_ce_large_logits_do_not_overflow),
        cmocka_unit_test(test_softmax_ce_sums_over_samples_and_counts),
        cmocka_unit_test(test_mse_by_hand),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
