/* SGD against updates worked out by hand, two steps each, and the hyperparameter checks.
 *
 * Every case starts from w0 = [1, -2, 0.5] with lr = 0.1 (passed to nnd_optim_step; cfg.lr is
 * left at another value to show the argument is the one used) and summed gradients
 *   step 1: G1 = [2, 4, -1],  step 2: G2 = [-2, 0, 3],  grad_scale 0.5 (two samples),
 * so the mean gradients are g1 = [1, 2, -0.5] and g2 = [-1, 0, 1.5]. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <string.h>

#include "nndist/optim.h"

#define TOL 1e-6

static const float g_w0[3] = {1.0f, -2.0f, 0.5f};
static const float g_G1[3] = {2.0f, 4.0f, -1.0f};
static const float g_G2[3] = {-2.0f, 0.0f, 3.0f};

static void assert_vec(const float *got, const double *want, size_t n, const char *what)
{
    for (size_t i = 0; i < n; i++)
        if (fabs((double)got[i] - want[i]) > TOL)
            fail_msg("%s[%zu] = %.9g, expected %.9g", what, i, (double)got[i], want[i]);
}

/* Runs the two steps of the header comment with cfg; checks w after each and, when buf1/buf2
 * are given, the momentum buffer. */
static void run_two_steps(const nnd_optim_config *cfg, const double *w1, const double *w2,
                          const double *buf1, const double *buf2)
{
    assert_int_equal(nnd_optim_validate(cfg), NND_OK);
    nnd_optim o;
    assert_int_equal(nnd_optim_init(&o, cfg, 3), NND_OK);
    assert_int_equal(o.n_state, buf1 ? 1 : 0);
    if (buf1) assert_string_equal(o.state_name[0], "momentum_buffer");
    float w[3], G1[3], G2[3];
    memcpy(w, g_w0, sizeof w);
    memcpy(G1, g_G1, sizeof G1);
    memcpy(G2, g_G2, sizeof G2);

    assert_int_equal(o.step, 0);
    nnd_optim_step(&o, w, G1, 0.5f, 0.1);
    assert_int_equal(o.step, 1);
    assert_vec(w, w1, 3, "w after step 1");
    if (buf1) assert_vec(o.state[0], buf1, 3, "momentum buffer after step 1");

    nnd_optim_step(&o, w, G2, 0.5f, 0.1);
    assert_int_equal(o.step, 2);
    assert_vec(w, w2, 3, "w after step 2");
    if (buf2) assert_vec(o.state[0], buf2, 3, "momentum buffer after step 2");

    /* The gradient buffers are inputs only. */
    assert_memory_equal(G1, g_G1, sizeof G1);
    assert_memory_equal(G2, g_G2, sizeof G2);
    nnd_optim_free(&o);
}

static nnd_optim_config sgd_config(double momentum, double dampening, double wd, int nesterov)
{
    nnd_optim_config cfg;
    assert_int_equal(nnd_optim_defaults("sgd", &cfg), 0);
    cfg.lr = 7.0; /* not used: nnd_optim_step's lr argument (0.1) is */
    cfg.momentum = momentum;
    cfg.dampening = dampening;
    cfg.weight_decay = wd;
    cfg.nesterov = nesterov;
    return cfg;
}

static void test_sgd_plain(void **state)
{
    (void)state;
    nnd_optim_config cfg = sgd_config(0.0, 0.0, 0.0, 0);
    /* w1 = w0 - 0.1 * g1 = [1 - 0.1, -2 - 0.2, 0.5 + 0.05]           = [0.9, -2.2, 0.55]
     * w2 = w1 - 0.1 * g2 = [0.9 + 0.1, -2.2 - 0, 0.55 - 0.15]         = [1.0, -2.2, 0.4] */
    const double w1[3] = {0.9, -2.2, 0.55}, w2[3] = {1.0, -2.2, 0.4};
    run_two_steps(&cfg, w1, w2, NULL, NULL);
}

static void test_sgd_weight_decay(void **state)
{
    (void)state;
    nnd_optim_config cfg = sgd_config(0.0, 0.0, 0.1, 0);
    /* step 1: g = g1 + 0.1 w0 = [1 + 0.1, 2 - 0.2, -0.5 + 0.05]       = [1.1, 1.8, -0.45]
     *         w1 = w0 - 0.1 g = [1 - 0.11, -2 - 0.18, 0.5 + 0.045]     = [0.89, -2.18, 0.545]
     * step 2: g = g2 + 0.1 w1 = [-1 + 0.089, 0 - 0.218, 1.5 + 0.0545] = [-0.911, -0.218, 1.5545]
     *         w2 = w1 - 0.1 g = [0.89 + 0.0911, -2.18 + 0.0218, 0.545 - 0.15545]
     *                                                                 = [0.9811, -2.1582, 0.38955]
     */
    const double w1[3] = {0.89, -2.18, 0.545}, w2[3] = {0.9811, -2.1582, 0.38955};
    run_two_steps(&cfg, w1, w2, NULL, NULL);
}

static void test_sgd_momentum(void **state)
{
    (void)state;
    nnd_optim_config cfg = sgd_config(0.9, 0.0, 0.0, 0);
    /* step 1: buf = g1 = [1, 2, -0.5] (no dampening, no decay of an empty buffer)
     *         w1 = w0 - 0.1 buf                                       = [0.9, -2.2, 0.55]
     * step 2: buf = 0.9 buf + g2 = [0.9 - 1, 1.8 + 0, -0.45 + 1.5]    = [-0.1, 1.8, 1.05]
     *         w2 = w1 - 0.1 buf = [0.9 + 0.01, -2.2 - 0.18, 0.55 - 0.105]
     *                                                                 = [0.91, -2.38, 0.445] */
    const double w1[3] = {0.9, -2.2, 0.55}, w2[3] = {0.91, -2.38, 0.445};
    const double b1[3] = {1.0, 2.0, -0.5}, b2[3] = {-0.1, 1.8, 1.05};
    run_two_steps(&cfg, w1, w2, b1, b2);
}

static void test_sgd_momentum_dampening(void **state)
{
    (void)state;
    nnd_optim_config cfg = sgd_config(0.9, 0.5, 0.0, 0);
    /* step 1: buf = g1 = [1, 2, -0.5] (torch: the first step takes g undamped)
     *         w1                                                      = [0.9, -2.2, 0.55]
     * step 2: buf = 0.9 buf + (1 - 0.5) g2 = [0.9 - 0.5, 1.8 + 0, -0.45 + 0.75]
     *                                                                 = [0.4, 1.8, 0.3]
     *         w2 = w1 - 0.1 buf = [0.9 - 0.04, -2.2 - 0.18, 0.55 - 0.03]
     *                                                                 = [0.86, -2.38, 0.52] */
    const double w1[3] = {0.9, -2.2, 0.55}, w2[3] = {0.86, -2.38, 0.52};
    const double b1[3] = {1.0, 2.0, -0.5}, b2[3] = {0.4, 1.8, 0.3};
    run_two_steps(&cfg, w1, w2, b1, b2);
}

static void test_sgd_momentum_weight_decay(void **state)
{
    (void)state;
    nnd_optim_config cfg = sgd_config(0.9, 0.0, 0.1, 0);
    /* step 1: g = g1 + 0.1 w0 = [1.1, 1.8, -0.45]; buf = g
     *         w1 = w0 - 0.1 buf                                       = [0.89, -2.18, 0.545]
     * step 2: g = g2 + 0.1 w1 = [-0.911, -0.218, 1.5545]
     *         buf = 0.9 [1.1, 1.8, -0.45] + g = [0.99 - 0.911, 1.62 - 0.218, -0.405 + 1.5545]
     *                                                                 = [0.079, 1.402, 1.1495]
     *         w2 = w1 - 0.1 buf = [0.89 - 0.0079, -2.18 - 0.1402, 0.545 - 0.11495]
     *                                                                 = [0.8821, -2.3202, 0.43005]
     */
    const double w1[3] = {0.89, -2.18, 0.545}, w2[3] = {0.8821, -2.3202, 0.43005};
    const double b1[3] = {1.1, 1.8, -0.45}, b2[3] = {0.079, 1.402, 1.1495};
    run_two_steps(&cfg, w1, w2, b1, b2);
}

static void test_sgd_nesterov(void **state)
{
    (void)state;
    nnd_optim_config cfg = sgd_config(0.9, 0.0, 0.0, 1);
    /* step 1: buf = g1 = [1, 2, -0.5]; step g + 0.9 buf = 1.9 g1       = [1.9, 3.8, -0.95]
     *         w1 = w0 - 0.1 step = [1 - 0.19, -2 - 0.38, 0.5 + 0.095]  = [0.81, -2.38, 0.595]
     * step 2: buf = 0.9 buf + g2                                       = [-0.1, 1.8, 1.05]
     *         step = g2 + 0.9 buf = [-1 - 0.09, 0 + 1.62, 1.5 + 0.945] = [-1.09, 1.62, 2.445]
     *         w2 = w1 - 0.1 step = [0.81 + 0.109, -2.38 - 0.162, 0.595 - 0.2445]
     *                                                                  = [0.919, -2.542, 0.3505] */
    const double w1[3] = {0.81, -2.38, 0.595}, w2[3] = {0.919, -2.542, 0.3505};
    const double b1[3] = {1.0, 2.0, -0.5}, b2[3] = {-0.1, 1.8, 1.05};
    run_two_steps(&cfg, w1, w2, b1, b2);
}

/* grad_scale is the 1 / (global sample count) that turns the allreduced sum into the mean. */
static void test_sgd_grad_scale(void **state)
{
    (void)state;
    nnd_optim_config cfg = sgd_config(0.0, 0.0, 0.0, 0);
    nnd_optim o;
    assert_int_equal(nnd_optim_init(&o, &cfg, 2), NND_OK);
    float w[2] = {0.0f, 0.0f};
    /* Step 1: 4 samples summed to [4, -8]: mean [1, -2]; lr 0.5: w = [-0.5, 1]. */
    const float G1[2] = {4.0f, -8.0f};
    nnd_optim_step(&o, w, G1, 1.0f / 4.0f, 0.5);
    const double w1[2] = {-0.5, 1.0};
    assert_vec(w, w1, 2, "w after step 1");
    /* Step 2: 2 samples summed to [1, 1]: mean [0.5, 0.5]; w = [-0.75, 0.75]. */
    const float G2[2] = {1.0f, 1.0f};
    nnd_optim_step(&o, w, G2, 1.0f / 2.0f, 0.5);
    const double w2[2] = {-0.75, 0.75};
    assert_vec(w, w2, 2, "w after step 2");
    nnd_optim_free(&o);

    /* With momentum the scale applies before the buffer: same as feeding the mean with scale 1. */
    cfg = sgd_config(0.9, 0.0, 0.0, 0);
    nnd_optim a, b;
    assert_int_equal(nnd_optim_init(&a, &cfg, 2), NND_OK);
    assert_int_equal(nnd_optim_init(&b, &cfg, 2), NND_OK);
    float wa[2] = {0.25f, -0.75f}, wb[2] = {0.25f, -0.75f};
    const float sum[2] = {3.0f, -6.0f}, mean[2] = {1.0f, -2.0f};
    for (int s = 0; s < 3; s++) {
        nnd_optim_step(&a, wa, sum, 1.0f / 3.0f, 0.1);
        nnd_optim_step(&b, wb, mean, 1.0f, 0.1);
    }
    for (int i = 0; i < 2; i++) {
        assert_float_equal(wa[i], wb[i], 1e-6);
        assert_float_equal(a.state[0][i], b.state[0][i], 1e-6);
    }
    /* buf after 3 steps of g = [1, -2]: 1 + 0.9 + 0.81 = 2.71 times g. */
    assert_float_equal(a.state[0][0], 2.71f, 1e-6);
    assert_float_equal(a.state[0][1], -5.42f, 1e-6);
    nnd_optim_free(&a);
    nnd_optim_free(&b);
}

static void expect_invalid(const nnd_optim_config *cfg, const char *flag)
{
    nnd_err_clear();
    assert_int_equal(nnd_optim_validate(cfg), NND_ERR_USAGE);
    if (!strstr(nnd_err_msg(), flag))
        fail_msg("message '%s' does not name %s", nnd_err_msg(), flag);
}

static void test_validate(void **state)
{
    (void)state;
    nnd_optim_config cfg = sgd_config(0.0, 0.0, 0.0, 0);
    cfg.lr = 0.1;
    assert_int_equal(nnd_optim_validate(&cfg), NND_OK);

    const double bad_lr[] = {0.0, -0.1, NAN};
    for (size_t i = 0; i < sizeof bad_lr / sizeof bad_lr[0]; i++) {
        nnd_optim_config c = cfg;
        c.lr = bad_lr[i];
        expect_invalid(&c, "--lr");
    }
    const double bad_mu[] = {1.0, 1.5, -0.1, NAN};
    for (size_t i = 0; i < sizeof bad_mu / sizeof bad_mu[0]; i++) {
        nnd_optim_config c = cfg;
        c.momentum = bad_mu[i];
        expect_invalid(&c, "--momentum");
    }
    nnd_optim_config c = cfg;
    c.momentum = 0.99;
    assert_int_equal(nnd_optim_validate(&c), NND_OK);

    /* Nesterov needs momentum (and, as in torch, no dampening). */
    c = cfg;
    c.nesterov = 1;
    expect_invalid(&c, "--nesterov");
    c.momentum = 0.9;
    assert_int_equal(nnd_optim_validate(&c), NND_OK);
    c.dampening = 0.1;
    expect_invalid(&c, "--nesterov");

    c = cfg;
    c.weight_decay = -1e-4;
    expect_invalid(&c, "--weight-decay");
    c = cfg;
    c.dampening = 1.5;
    expect_invalid(&c, "--dampening");
}

static void test_defaults(void **state)
{
    (void)state;
    nnd_optim_config cfg;
    assert_int_equal(nnd_optim_defaults("momentum", &cfg), 0);
    assert_int_equal(cfg.kind, NND_OPTIM_SGD);
    assert_float_equal(cfg.momentum, 0.9, 0.0);
    assert_int_equal(cfg.nesterov, 0);
    assert_string_equal(cfg.name, "momentum");
    assert_int_equal(nnd_optim_validate(&cfg), NND_OK);

    assert_int_equal(nnd_optim_defaults("nesterov", &cfg), 0);
    assert_float_equal(cfg.momentum, 0.9, 0.0);
    assert_int_equal(cfg.nesterov, 1);
    assert_string_equal(cfg.name, "nesterov");
    assert_int_equal(nnd_optim_validate(&cfg), NND_OK);

    assert_int_equal(nnd_optim_defaults("sgd", &cfg), 0);
    assert_float_equal(cfg.momentum, 0.0, 0.0);
    assert_float_equal(cfg.weight_decay, 0.0, 0.0);
    assert_int_equal(cfg.nesterov, 0);
    assert_true(cfg.lr > 0.0);
    assert_string_equal(cfg.name, "sgd");
    assert_int_equal(nnd_optim_validate(&cfg), NND_OK);

    assert_int_equal(nnd_optim_defaults("adam", &cfg), -1);
    assert_int_equal(nnd_optim_defaults("", &cfg), -1);
    assert_int_equal(nnd_optim_defaults("momentum9", &cfg), -1);
    const char *names = nnd_optim_names();
    assert_non_null(strstr(names, "sgd"));
    assert_non_null(strstr(names, "momentum"));
    assert_non_null(strstr(names, "nesterov"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sgd_plain),
        cmocka_unit_test(test_sgd_weight_decay),
        cmocka_unit_test(test_sgd_momentum),
        cmocka_unit_test(test_sgd_momentum_dampening),
        cmocka_unit_test(test_sgd_momentum_weight_decay),
        cmocka_unit_test(test_sgd_nesterov),
        cmocka_unit_test(test_sgd_grad_scale),
        cmocka_unit_test(test_validate),
        cmocka_unit_test(test_defaults),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
