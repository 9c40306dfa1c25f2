/* Gradients against finite differences (the losses against values worked out by hand:
 * test_loss.c).
 *
 * The check: for every parameter w_i, the analytic d(sum of losses)/dw_i from nnd_model_backward
 * against the central difference (f(w_i + h) - f(w_i - h)) / (2h) of the summed loss, forward
 * and loss recomputed for each perturbation. With h = 1e-2 in float the error of the difference
 * is about 2e-5 absolute (float rounding of the forward pass) plus 1e-4 relative (the h^2
 * term). The tolerance, 1.5e-4 + 0.3% relative, stayed over 3x above the worst error seen over
 * 100 seeds and both GEMM kernels (gelu, gelu-tanh, leaky-relu, silu and elu at two parameters
 * each, both losses: at most 0.33 of it); a real bug (a missing activation derivative, a transposed
 * product, a mean instead of a sum) is off by far more, and a sanity test shows that a 1% error
 * in any single gradient entry above 0.05 is caught. Every hidden activation is checked with
 * both losses, leaky-relu and elu at their default parameter and another. ReLU, leaky-relu and
 * elu parameters whose step moves a hidden unit across the kink at 0 are skipped (at most a
 * fifth of them); gelu, gelu-tanh, silu, tanh and sigmoid are smooth.
 *
 * Dropout (dropout.h) is checked the same way with its draw held fixed, so every evaluation
 * drops the same units: the function differentiated is the network with those units' outputs
 * zeroed and the others scaled by 1 / (1 - p). Layer norm's γ and β are parameters like the
 * others; through a normalization the loss curves more (a row's variance is small), so its
 * differences are extrapolated (Richardson: (4 D(h/2) - D(h)) / 3, whose error is O(h^4)). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "nndist/loss.h"
#include "nndist/model.h"
#include "nndist/rng.h"

#define N_SAMPLES 6
#define FD_STEP   1e-2f
/* |analytic - fd| <= ABS_TOL + REL_TOL * max(|analytic|, |fd|) */
#define ABS_TOL 1.5e-4
#define REL_TOL 3e-3
/* Gradients at least this large are where a 1% error must be caught. */
#define BIG_GRAD 5e-2

static const size_t g_sizes[] = {5, 7, 6, 3};
#define N_LAYERS 3

typedef struct {
    nnd_model m;
    nnd_loss_kind loss;
    const nnd_ce_opts *ce; /* softmax-ce's class weights and label smoothing, or NULL */
    size_t n, d, k;
    float *X;        /* (n, d) */
    int32_t *labels; /* (n) */
    float *targets;  /* (n, k) */
    float *scratch;  /* (n, k) dlogits of the finite-difference evaluations */
    size_t n_hidden; /* hidden activations of the batch: sum over hidden layers of n * width */
    unsigned char *pattern_plus, *pattern_minus, *pattern_base; /* (n_hidden) A > 0 */
    uint64_t sample[N_SAMPLES];                                 /* dropout's rows of the samples */
    nnd_dropout_draw draw;
} grad_case;

/* dropout: the probability on every hidden layer (0: none), drawn at a fixed step; norm: the
 * hidden layers' normalization, its γ and β moved off 1 and 0 so that their gradients flow
 * through values of their own. */
static void case_init_full(grad_case *c, nnd_activation act, double param, nnd_loss_kind loss,
                           uint64_t seed, double dropout, nnd_norm_kind norm)
{
    memset(c, 0, sizeof *c);
    assert_int_equal(nnd_model_init_norm(&c->m, g_sizes, N_LAYERS, act, norm), NND_OK);
    if (nnd_activation_param_flag(act)) c->m.act_param = param;
    for (int l = 0; l + 1 < N_LAYERS; l++) c->m.drop_p[l] = dropout;
    for (size_t i = 0; i < N_SAMPLES; i++) c->sample[i] = 1000 + 7 * i;
    c->m.training = 1; /* batch norm: the batch's statistics (the function differentiated) */
    c->draw = (nnd_dropout_draw){seed, 3, c->sample};
    if (dropout > 0.0) c->m.draw = &c->draw;
    assert_int_equal(nnd_model_reserve(&c->m, N_SAMPLES), NND_OK);
    nnd_model_init_params(&c->m, seed);
    for (int l = 0; l + 1 < N_LAYERS && norm != NND_NORM_NONE; l++)
        for (size_t j = 0; j < g_sizes[l + 1]; j++) {
            c->m.params[c->m.g_off[l] + j] = 0.6f + nnd_rng_uniform(seed, NND_RNG_SYNTHETIC, 9, j);
            c->m.params[c->m.be_off[l] + j] =
                0.4f * nnd_rng_uniform(seed, NND_RNG_SYNTHETIC, 10, j) - 0.2f;
        }
    c->loss = loss;
    c->n = N_SAMPLES;
    c->d = g_sizes[0];
    c->k = g_sizes[N_LAYERS];
    c->X = malloc(c->n * c->d * sizeof *c->X);
    c->labels = malloc(c->n * sizeof *c->labels);
    c->targets = malloc(c->n * c->k * sizeof *c->targets);
    c->scratch = malloc(c->n * c->k * sizeof *c->scratch);
    assert_non_null(c->X);
    assert_non_null(c->labels);
    assert_non_null(c->targets);
    assert_non_null(c->scratch);
    /* Inputs in [-2, 2): large enough that the hidden layers leave their linear regime. */
    for (size_t i = 0; i < c->n * c->d; i++)
        c->X[i] = 4.0f * nnd_rng_uniform(seed, NND_RNG_SYNTHETIC, 1, i) - 2.0f;
    for (size_t i = 0; i < c->n; i++)
        c->labels[i] = (int32_t)nnd_rng_below(seed, NND_RNG_SYNTHETIC, 2, i, c->k);
    for (size_t i = 0; i < c->n * c->k; i++)
        c->targets[i] = 2.0f * nnd_rng_uniform(seed, NND_RNG_SYNTHETIC, 3, i) - 1.0f;
    for (int l = 1; l < N_LAYERS; l++) c->n_hidden += c->n * g_sizes[l];
    c->pattern_plus = malloc(c->n_hidden);
    c->pattern_minus = malloc(c->n_hidden);
    c->pattern_base = malloc(c->n_hidden);
    assert_non_null(c->pattern_plus);
    assert_non_null(c->pattern_minus);
    assert_non_null(c->pattern_base);
}

static void case_init_drop(grad_case *c, nnd_activation act, double param, nnd_loss_kind loss,
                           uint64_t seed, double dropout)
{
    case_init_full(c, act, param, loss, seed, dropout, NND_NORM_NONE);
}

static void case_init(grad_case *c, nnd_activation act, double param, nnd_loss_kind loss,
                      uint64_t seed)
{
    case_init_drop(c, act, param, loss, seed, 0.0);
}

static void case_free(grad_case *c)
{
    nnd_model_free(&c->m);
    free(c->X);
    free(c->labels);
    free(c->targets);
    free(c->scratch);
    free(c->pattern_plus);
    free(c->pattern_minus);
    free(c->pattern_base);
}

/* Forward pass and summed loss; dl (n, k) receives dLoss/dOutput. pattern (n_hidden), when
 * given, records which hidden activations are positive (the ReLU's side of its kink). */
static double eval_loss(grad_case *c, float *dl, unsigned char *pattern)
{
    const float *out = nnd_model_forward(&c->m, c->X, c->n);
    if (pattern) {
        size_t p = 0;
        for (int l = 1; l < N_LAYERS; l++)
            for (size_t i = 0; i < c->n * g_sizes[l]; i++) pattern[p++] = c->m.acts[l][i] > 0.0f;
        assert_int_equal(p, c->n_hidden);
    }
    if (c->loss == NND_LOSS_SOFTMAX_CE)
        return nnd_loss_softmax_ce_opts(out, c->labels, c->n, c->k, c->ce, dl, NULL, NULL);
    return nnd_loss_mse(out, c->targets, c->n, c->k, dl, NULL);
}

/* The analytic gradient into grad (n_params), with dout = m->delta[1] as the trainer does. */
static void analytic_grad(grad_case *c, float *grad)
{
    float *dout = c->m.delta[1];
    eval_loss(c, dout, NULL);
    nnd_model_backward(&c->m, c->X, dout, c->n);
    memcpy(grad, c->m.grads, c->m.n_params * sizeof *grad);
}

/* The activations with a kink at 0 (their derivative jumps there; A > 0 exactly when Z > 0). */
static int has_kink(nnd_activation act)
{
    return act == NND_ACT_RELU || act == NND_ACT_LEAKY_RELU || act == NND_ACT_ELU;
}

/* (f(w_i + h) - f(w_i - h)) / (2h); sets *kink when a unit crossed a kink within the step (the
 * difference quotient is then meaningless). */
static double central_diff(grad_case *c, size_t i, float h, unsigned char *kink)
{
    float w = c->m.params[i];
    float wp = w + h, wm = w - h;
    c->m.params[i] = wp;
    double fp = eval_loss(c, c->scratch, c->pattern_plus);
    c->m.params[i] = wm;
    double fm = eval_loss(c, c->scratch, c->pattern_minus);
    c->m.params[i] = w;
    *kink |= has_kink(c->m.act) && (memcmp(c->pattern_plus, c->pattern_base, c->n_hidden) != 0 ||
                                    memcmp(c->pattern_minus, c->pattern_base, c->n_hidden) != 0);
    /* Divide by the step actually taken in float, not the nominal 2h. */
    return (fp - fm) / ((double)wp - (double)wm);
}

/* Central differences into fd (n_params); skip[i] marks the entries where a ReLU crossed its
 * kink. Returns how many were skipped. */
static size_t numeric_grad(grad_case *c, double *fd, unsigned char *skip)
{
    size_t skipped = 0;
    eval_loss(c, c->scratch, c->pattern_base);
    for (size_t i = 0; i < c->m.n_params; i++) {
        skip[i] = 0;
        fd[i] = central_diff(c, i, FD_STEP, &skip[i]);
        if (c->m.norm != NND_NORM_NONE) /* Richardson: the h^2 term of the difference cancels */
            fd[i] = (4.0 * central_diff(c, i, FD_STEP / 2, &skip[i]) - fd[i]) / 3.0;
        skipped += skip[i];
    }
    return skipped;
}

/* Compares; returns the number of entries out of tolerance, and the worst entry as the ratio of
 * its error to its tolerance. */
static size_t compare_grads(const float *grad, const double *fd, const unsigned char *skip,
                            size_t n, double *worst, size_t *worst_at)
{
    size_t bad = 0;
    *worst = 0.0;
    *worst_at = 0;
    for (size_t i = 0; i < n; i++) {
        if (skip[i]) continue;
        double a = grad[i];
        double ratio = fabs(a - fd[i]) / (ABS_TOL + REL_TOL * fmax(fabs(a), fabs(fd[i])));
        if (ratio > *worst) {
            *worst = ratio;
            *worst_at = i;
        }
        bad += ratio > 1.0;
    }
    return bad;
}

static void check_gradient_full(nnd_activation act, double param, nnd_loss_kind loss, uint64_t seed,
                                const nnd_ce_opts *ce, double dropout, nnd_norm_kind norm)
{
    grad_case c;
    case_init_full(&c, act, param, loss, seed, dropout, norm);
    c.ce = ce;
    size_t np = c.m.n_params;
    assert_int_equal(np, 5 * 7 + 7 + 7 * 6 + 6 + 6 * 3 + 3 + (norm ? 2 * (7 + 6) : 0));
    float *grad = malloc(np * sizeof *grad);
    double *fd = malloc(np * sizeof *fd);
    unsigned char *skip = malloc(np);
    assert_non_null(grad);
    assert_non_null(fd);
    assert_non_null(skip);

    analytic_grad(&c, grad);
    size_t skipped = numeric_grad(&c, fd, skip);
    /* Only relu, leaky-relu and elu have kinks, and even there most parameters must be
     * checked. */
    if (skipped * 5 >= np)
        fail_msg("%s: %zu of %zu parameters crossed a kink", nnd_activation_name(act), skipped, np);

    double worst;
    size_t worst_at;
    size_t bad = compare_grads(grad, fd, skip, np, &worst, &worst_at);
    if (bad)
        fail_msg("%s (%g) + %s: %zu of %zu gradients off; worst param %zu: analytic %.6g, "
                 "numeric %.6g (relative error %.3g)",
                 nnd_activation_name(act), param, nnd_loss_name(loss), bad, np, worst_at,
                 (double)grad[worst_at], fd[worst_at], worst);

    /* Most entries must be well above the absolute tolerance, or the check would be 0 == 0. */
    size_t nonzero = 0;
    for (size_t i = 0; i < np; i++) nonzero += fabs(fd[i]) > 10.0 * ABS_TOL;
    assert_true(nonzero * 2 > np);
    free(grad);
    free(fd);
    free(skip);
    case_free(&c);
}

static void check_gradient_drop(nnd_activation act, double param, nnd_loss_kind loss, uint64_t seed,
                                const nnd_ce_opts *ce, double dropout)
{
    check_gradient_full(act, param, loss, seed, ce, dropout, NND_NORM_NONE);
}

static void check_gradient_ce(nnd_activation act, double param, nnd_loss_kind loss, uint64_t seed,
                              const nnd_ce_opts *ce)
{
    check_gradient_drop(act, param, loss, seed, ce, 0.0);
}

static void check_gradient(nnd_activation act, nnd_loss_kind loss, uint64_t seed)
{
    check_gradient_ce(act, nnd_activation_default_param(act), loss, seed, NULL);
}

/* Class weights and label smoothing (loss.h) through the whole network. */
static const double g_class_weights[3] = {0.4, 2.5, 1.25};

static void test_grad_tanh_softmax_ce_weights_smoothing(void **state)
{
    (void)state;
    const nnd_ce_opts ce = {g_class_weights, 0.2};
    check_gradient_ce(NND_ACT_TANH, 0.0, NND_LOSS_SOFTMAX_CE, 17, &ce);
}

static void test_grad_relu_softmax_ce_smoothing(void **state)
{
    (void)state;
    const nnd_ce_opts ce = {NULL, 0.3};
    check_gradient_ce(NND_ACT_RELU, 0.0, NND_LOSS_SOFTMAX_CE, 18, &ce);
}

static void test_grad_sigmoid_softmax_ce_weights(void **state)
{
    (void)state;
    const nnd_ce_opts ce = {g_class_weights, 0.0};
    check_gradient_ce(NND_ACT_SIGMOID, 0.0, NND_LOSS_SOFTMAX_CE, 19, &ce);
}

static void test_grad_relu_softmax_ce(void **state)
{
    (void)state;
    check_gradient(NND_ACT_RELU, NND_LOSS_SOFTMAX_CE, 11);
}

static void test_grad_relu_mse(void **state)
{
    (void)state;
    check_gradient(NND_ACT_RELU, NND_LOSS_MSE, 12);
}

static void test_grad_tanh_softmax_ce(void **state)
{
    (void)state;
    check_gradient(NND_ACT_TANH, NND_LOSS_SOFTMAX_CE, 13);
}

static void test_grad_tanh_mse(void **state)
{
    (void)state;
    check_gradient(NND_ACT_TANH, NND_LOSS_MSE, 14);
}

static void test_grad_sigmoid_softmax_ce(void **state)
{
    (void)state;
    check_gradient(NND_ACT_SIGMOID, NND_LOSS_SOFTMAX_CE, 15);
}

static void test_grad_sigmoid_mse(void **state)
{
    (void)state;
    check_gradient(NND_ACT_SIGMOID, NND_LOSS_MSE, 16);
}

/* The activations of torch.nn's GELU (both), LeakyReLU, SiLU and ELU. */
static void test_grad_gelu(void **state)
{
    (void)state;
    check_gradient(NND_ACT_GELU, NND_LOSS_SOFTMAX_CE, 41);
    check_gradient(NND_ACT_GELU, NND_LOSS_MSE, 42);
}

static void test_grad_gelu_tanh(void **state)
{
    (void)state;
    check_gradient(NND_ACT_GELU_TANH, NND_LOSS_SOFTMAX_CE, 43);
    check_gradient(NND_ACT_GELU_TANH, NND_LOSS_MSE, 44);
}

static void test_grad_silu(void **state)
{
    (void)state;
    check_gradient(NND_ACT_SILU, NND_LOSS_SOFTMAX_CE, 45);
    check_gradient(NND_ACT_SILU, NND_LOSS_MSE, 46);
}

static void test_grad_leaky_relu(void **state)
{
    (void)state;
    check_gradient(NND_ACT_LEAKY_RELU, NND_LOSS_SOFTMAX_CE, 47);
    check_gradient(NND_ACT_LEAKY_RELU, NND_LOSS_MSE, 48);
    check_gradient_ce(NND_ACT_LEAKY_RELU, 0.3, NND_LOSS_SOFTMAX_CE, 49, NULL);
    check_gradient_ce(NND_ACT_LEAKY_RELU, 0.3, NND_LOSS_MSE, 50, NULL);
}

static void test_grad_elu(void **state)
{
    (void)state;
    check_gradient(NND_ACT_ELU, NND_LOSS_SOFTMAX_CE, 51);
    check_gradient(NND_ACT_ELU, NND_LOSS_MSE, 52);
    check_gradient_ce(NND_ACT_ELU, 0.4, NND_LOSS_SOFTMAX_CE, 53, NULL);
    /* (a larger alpha curves more: at 2.5 the difference quotient's h^2 term reaches the
     * tolerance, and a step of 3e-3 agrees again) */
    check_gradient_ce(NND_ACT_ELU, 1.5, NND_LOSS_MSE, 54, NULL);
}

/* The checker itself: a 1% error in any one gradient entry (of those above the floor), or a
 * gradient of the mean instead of the sum, must be reported. */
static void test_checker_detects_small_errors(void **state)
{
    (void)state;
    grad_case c;
    case_init(&c, NND_ACT_TANH, 0.0, NND_LOSS_SOFTMAX_CE, 21);
    size_t np = c.m.n_params;
    float *grad = malloc(np * sizeof *grad);
    double *fd = malloc(np * sizeof *fd);
    unsigned char *skip = malloc(np);
    assert_non_null(grad);
    assert_non_null(fd);
    assert_non_null(skip);
    analytic_grad(&c, grad);
    assert_int_equal(numeric_grad(&c, fd, skip), 0);
    double worst;
    size_t at, tested = 0;
    assert_int_equal(compare_grads(grad, fd, skip, np, &worst, &at), 0);
    for (size_t i = 0; i < np; i++) {
        if (fabs(grad[i]) < BIG_GRAD) continue;
        float keep = grad[i];
        grad[i] = keep * 1.01f;
        if (compare_grads(grad, fd, skip, np, &worst, &at) == 0)
            fail_msg("a 1%% error in gradient %zu (%g) went unnoticed", i, (double)keep);
        grad[i] = keep;
        tested++;
    }
    assert_true(tested * 2 > np);
    for (size_t i = 0; i < np; i++) grad[i] /= (float)c.n;
    assert_true(compare_grads(grad, fd, skip, np, &worst, &at) > np / 2);
    free(grad);
    free(fd);
    free(skip);
    case_free(&c);
}

/* dout in a buffer of its own gives the same gradient as dout = m->delta[1] (the aliasing the
 * trainer relies on), and n == 0 zeroes the gradient. */
static void test_backward_dout_aliasing_and_empty_batch(void **state)
{
    (void)state;
    grad_case c;
    case_init(&c, NND_ACT_SIGMOID, 0.0, NND_LOSS_MSE, 31);
    size_t np = c.m.n_params;
    float *aliased = malloc(np * sizeof *aliased);
    float *own = malloc(c.n * c.k * sizeof *own);
    assert_non_null(aliased);
    assert_non_null(own);
    analytic_grad(&c, aliased);
    eval_loss(&c, own, NULL);
    nnd_model_backward(&c.m, c.X, own, c.n);
    for (size_t i = 0; i < np; i++)
        if (c.m.grads[i] != aliased[i])
            fail_msg("gradient %zu: %g with dout = delta[1], %g with a separate dout", i,
                     (double)aliased[i], (double)c.m.grads[i]);
    nnd_model_backward(&c.m, c.X, own, 0);
    for (size_t i = 0; i < np; i++) assert_true(c.m.grads[i] == 0.0f);
    free(aliased);
    free(own);
    case_free(&c);
}

/* Dropout with the draw held: ReLU (dropped in place, its scale the backward GEMM's alpha) and
 * the activations that keep A and the mask apart (tanh through A, gelu through Z, elu). The
 * draw drops a part of the hidden units, not all. */
static void test_grad_dropout(void **state)
{
    (void)state;
    const nnd_activation acts[] = {NND_ACT_RELU, NND_ACT_TANH, NND_ACT_GELU, NND_ACT_ELU};
    for (size_t a = 0; a < sizeof acts / sizeof acts[0]; a++) {
        check_gradient_drop(acts[a], nnd_activation_default_param(acts[a]), NND_LOSS_SOFTMAX_CE,
                            81 + a, NULL, 0.25);
        check_gradient_drop(acts[a], nnd_activation_default_param(acts[a]), NND_LOSS_MSE, 85 + a,
                            NULL, 0.25);
    }
    grad_case c;
    case_init_drop(&c, NND_ACT_TANH, 0.0, NND_LOSS_SOFTMAX_CE, 71, 0.25);
    nnd_model_forward(&c.m, c.X, c.n);
    size_t kept = 0, units = 0;
    for (int l = 0; l + 1 < N_LAYERS; l++)
        for (size_t i = 0; i < c.n * g_sizes[l + 1]; i++, units++) kept += c.m.keep[l][i];
    assert_true(kept > units / 2 && kept < units);
    case_free(&c);
}

/* Layer norm and batch norm (norm.h; batch norm over the case's 6 samples, in training mode)
 * before the activation, γ and β included, with both losses; with dropout after them too. */
static void test_grad_norm(void **state)
{
    (void)state;
    const nnd_activation acts[] = {NND_ACT_RELU, NND_ACT_TANH, NND_ACT_GELU};
    const nnd_norm_kind norms[] = {NND_NORM_LAYER, NND_NORM_BATCH};
    for (size_t k = 0; k < 2; k++) {
        for (size_t a = 0; a < sizeof acts / sizeof acts[0]; a++) {
            check_gradient_full(acts[a], 0.0, NND_LOSS_SOFTMAX_CE, 91 + a + 10 * k, NULL, 0.0,
                                norms[k]);
            check_gradient_full(acts[a], 0.0, NND_LOSS_MSE, 94 + a + 10 * k, NULL, 0.0, norms[k]);
        }
        check_gradient_full(NND_ACT_TANH, 0.0, NND_LOSS_SOFTMAX_CE, 97 + 10 * k, NULL, 0.25,
                            norms[k]);
    }
}

/* The deterministic mode's backward (every layer's dZ kept, then each layer's dW and db over the
 * batch's rows) gives bitwise the gradient of nnd_model_backward, for every activation: the
 * same products on the same dZ, including through the kept pre-activations of gelu, gelu-tanh
 * and silu, with and without dropout. */
static void test_backward_deltas_equal_backward(void **state)
{
    (void)state;
    for (int a = 0; a < 2 * NND_ACT_COUNT; a++) {
        grad_case c;
        const nnd_activation act = (nnd_activation)(a % NND_ACT_COUNT);
        const double dropout = a < NND_ACT_COUNT ? 0.0 : 0.25; /* then with dropout */
        case_init_drop(&c, act, nnd_activation_default_param(act), NND_LOSS_SOFTMAX_CE,
                       61 + (uint64_t)a, dropout);
        assert_int_equal(nnd_model_reserve_deltas(&c.m), NND_OK);
        size_t np = c.m.n_params;
        float *want = malloc(np * sizeof *want), *dout = malloc(c.n * c.k * sizeof *dout);
        float *got = malloc(np * sizeof *got);
        assert_true(want && dout && got);
        analytic_grad(&c, want);
        eval_loss(&c, dout, NULL);
        nnd_model_backward_deltas(&c.m, dout, c.n);
        for (int l = 0; l < N_LAYERS; l++) {
            nnd_model_weight_grad(&c.m, c.X, l, 0, c.n, 0, g_sizes[l + 1], got + c.m.w_off[l]);
            nnd_model_bias_grad(&c.m, l, 0, c.n, got + c.m.b_off[l]);
        }
        if (memcmp(got, want, np * sizeof *got) != 0)
            fail_msg("%s, dropout %g: the deterministic backward differs from "
                     "nnd_model_backward",
                     nnd_activation_name(act), dropout);
        free(want);
        free(dout);
        free(got);
        case_free(&c);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_grad_relu_softmax_ce),
        cmocka_unit_test(test_grad_relu_mse),
        cmocka_unit_test(test_grad_tanh_softmax_ce),
        cmocka_unit_test(test_grad_tanh_mse),
        cmocka_unit_test(test_grad_sigmoid_softmax_ce),
        cmocka_unit_test(test_grad_sigmoid_mse),
        cmocka_unit_test(test_grad_tanh_softmax_ce_weights_smoothing),
        cmocka_unit_test(test_grad_relu_softmax_ce_smoothing),
        cmocka_unit_test(test_grad_sigmoid_softmax_ce_weights),
        cmocka_unit_test(test_grad_gelu),
        cmocka_unit_test(test_grad_gelu_tanh),
        cmocka_unit_test(test_grad_silu),
        cmocka_unit_test(test_grad_leaky_relu),
        cmocka_unit_test(test_grad_elu),
        cmocka_unit_test(test_grad_dropout),
        cmocka_unit_test(test_grad_norm),
        cmocka_unit_test(test_checker_detects_small_errors),
        cmocka_unit_test(test_backward_dout_aliasing_and_empty_batch),
        cmocka_unit_test(test_backward_deltas_equal_backward),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
