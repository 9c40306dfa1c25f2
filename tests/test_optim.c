/* The optimizers against updates worked out by hand, one or two steps each, and the
 * names of their state (test_optim_bitwise and test_optim_config hold the rest).
 *
 * Every case starts from w0 = [1, -2, 0.5] with lr = 0.1 unless said otherwise (passed to
 * nnd_optim_step; cfg.lr is left at another value to show the argument is the one used) and
 * summed gradients
 *   step 1: G1 = [2, 4, -1],  step 2: G2 = [-2, 0, 3],  grad_scale 0.5 (two samples),
 * so the mean gradients are g1 = [1, 2, -0.5] and g2 = [-1, 0, 1.5]. Step 1 is derived in the
 * comments; step 2 values were worked out with a calculator from the rules in optim.h (and agree
 * with torch.optim 1.13 in float64 for the torch optimizers). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "nndist/alloc.h"
#include "nndist/ckpt.h"
#include "nndist/isa.h"
#include "nndist/optim.h"
#include "nndist/rng.h"

#define TOL 1e-6

static const float g_w0[3] = {1.0f, -2.0f, 0.5f};
static const float g_G1[3] = {2.0f, 4.0f, -1.0f};
static const float g_G2[3] = {-2.0f, 0.0f, 3.0f};

/* One tensor of n parameters. */
static nnd_status init_flat(nnd_optim *o, const nnd_optim_config *cfg, size_t n)
{
    const size_t off[2] = {0, n};
    return nnd_optim_init(o, cfg, off, 1);
}

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
    assert_int_equal(init_flat(&o, cfg, 3), NND_OK);
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
    assert_int_equal(init_flat(&o, &cfg, 2), NND_OK);
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
    assert_int_equal(init_flat(&a, &cfg, 2), NND_OK);
    assert_int_equal(init_flat(&b, &cfg, 2), NND_OK);
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

/* ---- the other optimizers: one helper runs up to two steps and checks w and named state ---- */

typedef struct {
    const char *name;   /* state buffer */
    double after[2][3]; /* after step 1, after step 2 */
} state_check;

/* Runs cfg from w0 with the gradients of the header comment, over the tensors off (NULL: one
 * tensor), for `steps` steps at learning rate lr; checks w after each step and the listed
 * state buffers (checks[k].name NULL ends the list). */
static void run_case(const nnd_optim_config *cfg, const size_t *off, int n_tensors, double lr,
                     int steps, const double want[2][3], const state_check *checks)
{
    assert_int_equal(nnd_optim_validate(cfg), NND_OK);
    nnd_optim o;
    const size_t flat[2] = {0, 3};
    if (!off) {
        off = flat;
        n_tensors = 1;
    }
    assert_int_equal(nnd_optim_init(&o, cfg, off, n_tensors), NND_OK);
    float w[3];
    memcpy(w, g_w0, sizeof w);
    const float *G[2] = {g_G1, g_G2};
    for (int s = 0; s < steps; s++) {
        nnd_optim_step(&o, w, G[s], 0.5f, lr);
        assert_int_equal(o.step, (uint64_t)s + 1);
        char what[64];
        snprintf(what, sizeof what, "%s: w after step %d", cfg->name, s + 1);
        assert_vec(w, want[s], 3, what);
        for (const state_check *c = checks; c && c->name; c++) {
            int k = nnd_optim_state_index(&o, c->name);
            if (k < 0) fail_msg("%s: no state called %s", cfg->name, c->name);
            snprintf(what, sizeof what, "%s: %s after step %d", cfg->name, c->name, s + 1);
            assert_vec(o.state[k], c->after[s], 3, what);
        }
    }
    nnd_optim_free(&o);
}

static nnd_optim_config config_of(const char *name)
{
    nnd_optim_config cfg;
    assert_int_equal(nnd_optim_defaults(name, &cfg), 0);
    cfg.lr = 7.0; /* not used: nnd_optim_step's lr argument is */
    return cfg;
}

static void test_rmsprop(void **state)
{
    (void)state;
    nnd_optim_config cfg = config_of("rmsprop"); /* alpha 0.99, eps 1e-8 */
    /* step 1: v = 0.01 g1^2 = [0.01, 0.04, 0.0025]; sqrt(v) = 0.1 |g1|
     *         w1 = w0 - 0.01 g1 / (0.1 |g1|) = w0 - 0.1 sign(g1)           = [0.9, -2.1, 0.6]
     * step 2: v = 0.99 v + 0.01 g2^2                                        = [0.0199, 0.0396,
     *         0.024975]; w2 = w1 - 0.01 g2 / sqrt(v)       = [0.970888125, -2.1, 0.505084186] */
    const double want[2][3] = {{0.9, -2.1, 0.6}, {0.970888125, -2.1, 0.505084186}};
    const state_check checks[] = {
        {"square_avg", {{0.01, 0.04, 0.0025}, {0.0199, 0.0396, 0.024975}}}, {NULL, {{0}}}};
    run_case(&cfg, NULL, 0, 0.01, 2, want, checks);
}

static void test_rmsprop_centered_momentum(void **state)
{
    (void)state;
    nnd_optim_config cfg = config_of("rmsprop");
    cfg.centered = 1;
    cfg.momentum = 0.9;
    /* step 1: v = 0.01 g1^2, a = 0.01 g1, v - a^2 = 0.0099 g1^2, d = sqrt(0.0099) |g1| + 1e-8
     *         b = g1 / d = sign(g1) / (0.0994987437 + 1e-8 / |g1|)
     *           = [10.0503771, 10.0503776, -10.0503761]     (10.0503782 without the eps)
     *         w1 = w0 - 0.01 b                      = [0.899496229, -2.10050378, 0.600503761]
     * step 2: (calculator)                          = [0.879930968, -2.19095718, 0.595848842] */
    const double want[2][3] = {{0.899496229, -2.10050378, 0.600503761},
                               {0.879930968, -2.19095718, 0.595848842}};
    const state_check checks[] = {
        {"grad_avg", {{0.01, 0.02, -0.005}, {-0.0001, 0.0198, 0.01005}}},
        {"momentum_buffer",
         {{10.0503771, 10.0503776, -10.0503761}, {1.9565261, 9.04533988, 0.465491904}}},
        {NULL, {{0}}}};
    run_case(&cfg, NULL, 0, 0.01, 2, want, checks);
}

static void test_adam(void **state)
{
    (void)state;
    nnd_optim_config cfg = config_of("adam"); /* betas (0.9, 0.999), eps 1e-8 */
    /* step 1: m = 0.1 g1, v = 0.001 g1^2; m^ = g1, v^ = g1^2 (bias corrections 0.1 and 0.001)
     *         w1 = w0 - 0.1 g1 / (|g1| + 1e-8) = w0 - 0.1 sign(g1)          = [0.9, -2.1, 0.6]
     * step 2: m = 0.9 m + 0.1 g2 = [-0.01, 0.18, 0.105]; v = 0.999 v + 0.001 g2^2
     *         = [0.001999, 0.003996, 0.00249975]; bias corrections 0.19 and 0.001999
     *         w2 = w1 - 0.1 (m / 0.19) / (sqrt(v / 0.001999) + 1e-8)
     *            = [0.9 + 0.1 * 0.0526316, ...]         = [0.905263159, -2.16700582, 0.550581015]
     */
    const double want[2][3] = {{0.9, -2.1, 0.6}, {0.905263159, -2.16700582, 0.550581015}};
    const state_check checks[] = {
        {"exp_avg", {{0.1, 0.2, -0.05}, {-0.01, 0.18, 0.105}}},
        {"exp_avg_sq", {{0.001, 0.004, 0.00025}, {0.001999, 0.003996, 0.00249975}}},
        {NULL, {{0}}}};
    run_case(&cfg, NULL, 0, 0.1, 2, want, checks);

    /* L2 weight decay enters the gradient: g = g1 + 0.1 w0 = [1.1, 1.8, -0.45], and step 1 is
     * still w0 - 0.1 sign(g)                                                = [0.9, -2.1, 0.6] */
    cfg.weight_decay = 0.1;
    const double want_wd[2][3] = {{0.9, -2.1, 0.6}, {0}};
    const state_check checks_wd[] = {{"exp_avg", {{0.11, 0.18, -0.045}, {0}}}, {NULL, {{0}}}};
    run_case(&cfg, NULL, 0, 0.1, 1, want_wd, checks_wd);
}

static void test_adam_amsgrad(void **state)
{
    (void)state;
    nnd_optim_config cfg = config_of("adam");
    cfg.amsgrad = 1;
    /* Element 1's second moment falls at step 2 (g2 = 0): v = 0.003996 < max 0.004, so the
     * denominator keeps 0.004: w2[1] = -2.1 - 0.1 (0.18 / 0.19) / sqrt(0.004 / 0.001999)
     * = -2.16697231 (plain adam: -2.16700582). The other elements equal adam's. */
    const double want[2][3] = {{0.9, -2.1, 0.6}, {0.905263159, -2.16697231, 0.550581015}};
    const state_check checks[] = {
        {"max_exp_avg_sq", {{0.001, 0.004, 0.00025}, {0.001999, 0.004, 0.00249975}}},
        {NULL, {{0}}}};
    run_case(&cfg, NULL, 0, 0.1, 2, want, checks);
}

static void test_adamw(void **state)
{
    (void)state;
    nnd_optim_config cfg = config_of("adamw");
    assert_float_equal(cfg.weight_decay, 0.01, 0.0); /* torch's default */
    cfg.weight_decay = 0.1;
    /* Decoupled: w *= 1 - 0.1 * 0.1 = 0.99 first, the moments see g alone.
     * step 1: w1 = 0.99 w0 - 0.1 sign(g1) = [0.99 - 0.1, -1.98 - 0.1, 0.495 + 0.1]
     *                                                                   = [0.89, -2.08, 0.595]
     * step 2: 0.99 w1 - (adam's step 2 update)             = [0.886363159, -2.12620582,
     * 0.539631015]
     */
    const double want[2][3] = {{0.89, -2.08, 0.595}, {0.886363159, -2.12620582, 0.539631015}};
    const state_check checks[] = {{"exp_avg", {{0.1, 0.2, -0.05}, {-0.01, 0.18, 0.105}}},
                                  {NULL, {{0}}}};
    run_case(&cfg, NULL, 0, 0.1, 2, want, checks);
}

static void test_adamax(void **state)
{
    (void)state;
    nnd_optim_config cfg = config_of("adamax");
    /* step 1: m = 0.1 g1; u = max(0, |g1| + 1e-8); w1 = w0 - (0.1 / 0.1) * 0.1 g1 / u
     *         = w0 - 0.1 sign(g1)                                           = [0.9, -2.1, 0.6]
     * step 2: m = [-0.01, 0.18, 0.105]; u = max(0.999 u, |g2| + 1e-8) = [1, 1.998, 1.5]
     *         w2 = w1 - (0.1 / 0.19) m / u                  = [0.905263159, -2.14741584,
     * 0.563157893]
     */
    const double want[2][3] = {{0.9, -2.1, 0.6}, {0.905263159, -2.14741584, 0.563157893}};
    const state_check checks[] = {{"exp_inf", {{1.0, 2.0, 0.5}, {1.0, 1.998, 1.5}}}, {NULL, {{0}}}};
    run_case(&cfg, NULL, 0, 0.1, 2, want, checks);
}

static void test_nadam(void **state)
{
    (void)state;
    nnd_optim_config cfg = config_of("nadam"); /* momentum_decay 4e-3 */
    /* mu_t = 0.9 (1 - 0.5 * 0.96^(0.004 t)): mu_1 = 0.450073486, mu_2 = 0.450146961
     * step 1: P_1 = mu_1; m = 0.1 g1, v = 0.001 g1^2, d = sqrt(v / 0.001) = |g1|
     *         w1 = w0 - 0.1 (1 - mu_1) / (1 - P_1) g1/|g1| - 0.1 mu_2 / (1 - P_1 mu_1 mu_2) m/|g1|
     *            = w0 - (0.1 + 0.00495312) sign(g1)   = [0.895046884, -2.10495312, 0.604953115]
     * step 2: (calculator)                            = [0.964472051, -2.11093034, 0.508049483] */
    const double mu1 = 0.9 * (1.0 - 0.5 * pow(0.96, 0.004));
    assert_float_equal(nnd_optim_nadam_mu_product(&cfg, 1), mu1, 1e-15);
    const double want[2][3] = {{0.895046884, -2.10495312, 0.604953115},
                               {0.964472051, -2.11093034, 0.508049483}};
    run_case(&cfg, NULL, 0, 0.1, 2, want, NULL);
}

static void test_adagrad(void **state)
{
    (void)state;
    nnd_optim_config cfg = config_of("adagrad"); /* eps 1e-10 */
    /* step 1: sum = g1^2; w1 = w0 - 0.1 g1 / |g1|                           = [0.9, -2.1, 0.6]
     * step 2: sum = [2, 4, 2.5]; w2 = w1 - 0.1 g2 / sqrt(sum)
     *            = [0.9 + 0.1/sqrt(2), -2.1, 0.6 - 0.15/sqrt(2.5)]   = [0.970710678, -2.1,
     * 0.50513167]
     */
    const double want[2][3] = {{0.9, -2.1, 0.6}, {0.970710678, -2.1, 0.50513167}};
    const state_check checks[] = {{"sum", {{1.0, 4.0, 0.25}, {2.0, 4.0, 2.5}}}, {NULL, {{0}}}};
    run_case(&cfg, NULL, 0, 0.1, 2, want, checks);

    /* lr_decay 0.5 (step t uses lr / (1 + 0.5 (t - 1))) and a sum starting at 0.75:
     * step 1: sum = 0.75 + g1^2 = [1.75, 4.75, 1]; w1 = w0 - 0.1 g1 / sqrt(sum)
     *         = [1 - 0.1/1.32287566, -2 - 0.2/2.17944947, 0.5 + 0.05]
     *                                                       = [0.924407105, -2.09176629, 0.55]
     * step 2: lr 0.1 / 1.5; sum = [2.75, 4.75, 3.25]         = [0.964608618, -2.09176629,
     * 0.49452998]
     */
    cfg.lr_decay = 0.5;
    cfg.initial_accumulator = 0.75;
    const double want2[2][3] = {{0.924407105, -2.09176629, 0.55},
                                {0.964608618, -2.09176629, 0.49452998}};
    const state_check checks2[] = {{"sum", {{1.75, 4.75, 1.0}, {2.75, 4.75, 3.25}}}, {NULL, {{0}}}};
    run_case(&cfg, NULL, 0, 0.1, 2, want2, checks2);
}

static void test_adadelta(void **state)
{
    (void)state;
    nnd_optim_config cfg = config_of("adadelta"); /* rho 0.9, eps 1e-6, lr 1 */
    /* step 1: v = 0.1 g1^2; d = sqrt(0 + 1e-6) / sqrt(v + 1e-6) g1
     *         = 1e-3 g1 / sqrt(0.1 g1^2 + 1e-6) = [0.00316226, 0.00316227, -0.00316221]
     *         w1 = w0 - d                           = [0.996837738, -2.00316227, 0.503162214]
     *         acc = 0.1 d^2
     * step 2: (calculator)                          = [1.00008215, -2.00316227, 0.498898251] */
    const double want[2][3] = {{0.996837738, -2.00316227, 0.503162214},
                               {1.00008215, -2.00316227, 0.498898251}};
    const state_check checks[] = {{"square_avg", {{0.1, 0.4, 0.025}, {0.19, 0.36, 0.2475}}},
                                  {NULL, {{0}}}};
    run_case(&cfg, NULL, 0, 1.0, 2, want, checks);
}

/* lars and lamb: two tensors, [w0[0], w0[1]] and [w0[2]], each with its own trust ratio. */
static const size_t g_two[3] = {0, 2, 3};

static void test_lars(void **state)
{
    (void)state;
    nnd_optim_config cfg = config_of("lars");
    cfg.momentum = 0.9;
    cfg.weight_decay = 0.1;
    cfg.trust_coefficient = 0.01;
    /* step 1, tensor A = [1, -2], g = [1, 2]: ||w|| = ||g|| = sqrt(5)
     *         lambda = 0.01 sqrt(5) / (sqrt(5) + 0.1 sqrt(5)) = 0.01 / 1.1
     *         b = 0.1 lambda (g + 0.1 w) = (0.001 / 1.1) [1.1, 1.8] = [0.001, 0.00163636]
     *   tensor B = [0.5], g = [-0.5]: lambda = 0.01 * 0.5 / 0.55 = 0.01 / 1.1
     *         b = (0.001 / 1.1) (-0.5 + 0.05) = -0.000409091
     *   w1 = w0 - b                                       = [0.999, -2.00163636, 0.500409091]
     * step 2: (calculator)                                = [0.99974549, -2.00274317, 0.500276864]
     */
    const double want[2][3] = {{0.999, -2.00163636, 0.500409091},
                               {0.99974549, -2.00274317, 0.500276864}};
    const state_check checks[] = {
        {"momentum_buffer",
         {{0.001, 0.00163636364, -0.000409090909}, {-0.00074549, 0.0011068, 0.00013223}}},
        {NULL, {{0}}}};
    run_case(&cfg, g_two, 2, 0.1, 2, want, checks);

    /* Without momentum there is no state; step 1 is the same, step 2 differs. */
    cfg.momentum = 0.0;
    const double want0[2][3] = {{0.999, -2.00163636, 0.500409091},
                                {1.00064549, -2.00127044, 0.499908682}};
    run_case(&cfg, g_two, 2, 0.1, 2, want0, NULL);

    /* One tensor for all three: one ratio, so another result than per tensor. */
    nnd_optim o;
    assert_int_equal(init_flat(&o, &cfg, 3), NND_OK);
    float w[3];
    memcpy(w, g_w0, sizeof w);
    nnd_optim_step(&o, w, g_G1, 0.5f, 0.1);
    /* ||w|| = ||g|| = sqrt(5.25): lambda = 0.01 / 1.1 again, so the same first step. The
     * second step separates them (the norms of the tensors diverge). */
    const double w1[3] = {0.999, -2.00163636, 0.500409091};
    assert_vec(w, w1, 3, "lars one tensor: w after step 1");
    nnd_optim_free(&o);
}

static void test_lamb(void **state)
{
    (void)state;
    nnd_optim_config cfg = config_of("lamb"); /* eps 1e-6, weight decay 0.01 */
    assert_float_equal(cfg.weight_decay, 0.01, 0.0);
    cfg.weight_decay = 0.1;
    /* step 1: m^ = g1, v^ = g1^2, r = g1 / (|g1| + 1e-6) ~ sign(g1)
     *   tensor A = [1, -2]: u = [1, 1] + 0.1 [1, -2] = [1.1, 0.8]; ||u|| = sqrt(1.85)
     *         ratio = sqrt(5) / sqrt(1.85) = 1.64398987; w = w - 0.1 * 1.64399 u
     *                                                              = [0.819161132, -2.13151921]
     *   tensor B = [0.5]: u = -1 + 0.05 = -0.95, ratio = 0.5 / 0.95: w = 0.5 + 0.1 * 0.5 = 0.55
     * step 2: (calculator)                              = [0.804555367, -2.35940222, 0.495] */
    const double want[2][3] = {{0.819161132, -2.13151921, 0.55}, {0.804555367, -2.35940222, 0.495}};
    const state_check checks[] = {{"exp_avg", {{0.1, 0.2, -0.05}, {-0.01, 0.18, 0.105}}},
                                  {NULL, {{0}}}};
    run_case(&cfg, g_two, 2, 0.1, 2, want, checks);
}

static void test_clip_norm(void **state)
{
    (void)state;
    nnd_optim_config cfg = config_of("sgd");
    cfg.clip_norm = 1.0;
    /* step 1: ||g1|| = sqrt(5.25) = 2.29128785 > 1: g = g1 / (2.29128785 + 1e-6)
     *         w1 = w0 - 0.1 g                          = [0.95635644, -2.08728712, 0.52182178]
     * step 2: ||g2|| = sqrt(3.25) = 1.80277564: w2 = w1 - 0.1 g2 / 1.80277664
     *                                                  = [1.01182643, -2.08728712, 0.4386168] */
    const double want[2][3] = {{0.95635644, -2.08728712, 0.52182178},
                               {1.01182643, -2.08728712, 0.4386168}};
    run_case(&cfg, NULL, 0, 0.1, 2, want, NULL);

    /* Below the threshold nothing changes: clip 10 is plain sgd. */
    cfg.clip_norm = 10.0;
    const double plain[2][3] = {{0.9, -2.2, 0.55}, {1.0, -2.2, 0.4}};
    run_case(&cfg, NULL, 0, 0.1, 2, plain, NULL);

    /* The norm is that of the mean gradient (after grad_scale), reported in last_grad_norm. */
    nnd_optim o;
    assert_int_equal(init_flat(&o, &cfg, 3), NND_OK);
    float w[3];
    memcpy(w, g_w0, sizeof w);
    nnd_optim_step(&o, w, g_G1, 0.5f, 0.1);
    assert_float_equal(o.last_grad_norm, sqrt(5.25), 1e-12);
    nnd_optim_free(&o);
}

/* State names and counts follow torch.optim; adagrad's sum starts at initial_accumulator. */
static void test_state_names(void **state)
{
    (void)state;
    static const struct {
        const char *name;
        const char *flag; /* a switch or NULL */
        const char *states[4];
    } cases[] = {
        {"sgd", NULL, {NULL}},
        {"momentum", NULL, {"momentum_buffer", NULL}},
        {"rmsprop", NULL, {"square_avg", NULL}},
        {"rmsprop", "centered", {"square_avg", "grad_avg", NULL}},
        {"adam", NULL, {"exp_avg", "exp_avg_sq", NULL}},
        {"adam", "amsgrad", {"exp_avg", "exp_avg_sq", "max_exp_avg_sq", NULL}},
        {"adamw", NULL, {"exp_avg", "exp_avg_sq", NULL}},
        {"adamax", NULL, {"exp_avg", "exp_inf", NULL}},
        {"nadam", NULL, {"exp_avg", "exp_avg_sq", NULL}},
        {"adagrad", NULL, {"sum", NULL}},
        {"adadelta", NULL, {"square_avg", "acc_delta", NULL}},
        {"lars", NULL, {"momentum_buffer", NULL}},
        {"lamb", NULL, {"exp_avg", "exp_avg_sq", NULL}},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        nnd_optim_config cfg = config_of(cases[i].name);
        if (cases[i].flag && strcmp(cases[i].flag, "centered") == 0) cfg.centered = 1;
        if (cases[i].flag && strcmp(cases[i].flag, "amsgrad") == 0) cfg.amsgrad = 1;
        cfg.initial_accumulator = 0.25;
        nnd_optim o;
        assert_int_equal(init_flat(&o, &cfg, 5), NND_OK);
        int n = 0;
        while (cases[i].states[n]) n++;
        if (o.n_state != n)
            fail_msg("%s: %d state buffers, expected %d", cases[i].name, o.n_state, n);
        for (int k = 0; k < n; k++) {
            assert_true(nnd_optim_state_index(&o, cases[i].states[k]) >= 0);
            for (size_t j = 0; j < 5; j++) {
                float want = strcmp(cases[i].states[k], "sum") == 0 ? 0.25f : 0.0f;
                assert_true(o.state[nnd_optim_state_index(&o, cases[i].states[k])][j] == want);
            }
        }
        nnd_optim_free(&o);
    }
}

/* Norms (lars, lamb, clipping) and updates do not depend on the thread count: every rank
 * computes bitwise the same step whatever its threads. */

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
        cmocka_unit_test(test_rmsprop),
        cmocka_unit_test(test_rmsprop_centered_momentum),
        cmocka_unit_test(test_adam),
        cmocka_unit_test(test_adam_amsgrad),
        cmocka_unit_test(test_adamw),
        cmocka_unit_test(test_adamax),
        cmocka_unit_test(test_nadam),
        cmocka_unit_test(test_adagrad),
        cmocka_unit_test(test_adadelta),
        cmocka_unit_test(test_lars),
        cmocka_unit_test(test_lamb),
        cmocka_unit_test(test_clip_norm),
        cmocka_unit_test(test_state_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
