/* The optimizers' hyperparameters: the checks that refuse a bad value (naming its flag), the
 * defaults (torch.optim's), and the table of hyperparameters. */
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

/* An optimizer's defaults; the lr is a value nnd_optim_step's lr argument replaces. */
static nnd_optim_config defaults_of(const char *name)
{
    nnd_optim_config cfg;
    assert_int_equal(nnd_optim_defaults(name, &cfg), 0);
    cfg.lr = 7.0;
    return cfg;
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
    nnd_optim_config cfg = defaults_of("sgd");
    cfg.lr = 0.1;
    assert_int_equal(nnd_optim_validate(&cfg), NND_OK);

    const double bad_lr[] = {0.0, -0.1, NAN, INFINITY};
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

    /* The other optimizers' ranges (torch.optim's checks). */
    static const struct {
        const char *optimizer, *flag;
        double bad;
    } ranges[] = {
        {"adam", "beta1", 1.0},
        {"adam", "beta1", -0.1},
        {"adam", "beta2", 1.0},
        {"adam", "eps", -1e-8},
        {"adam", "eps", 0.0},
        {"adagrad", "eps", 0.0},
        {"rmsprop", "eps", 0.0},
        {"rmsprop", "alpha", 1.5},
        {"rmsprop", "alpha", -0.5},
        {"nadam", "momentum-decay", -1},
        {"adagrad", "lr-decay", -1},
        {"adagrad", "initial-accumulator", -0.1},
        {"adadelta", "rho", 1.1},
        {"lars", "trust-coefficient", 0.0},
        {"sgd", "clip-norm", -1.0},
        {"lamb", "eps", NAN},
    };
    size_t np;
    const nnd_optim_param *params = nnd_optim_params(&np);
    for (size_t i = 0; i < sizeof ranges / sizeof ranges[0]; i++) {
        nnd_optim_config d = defaults_of(ranges[i].optimizer);
        d.lr = 0.1;
        assert_int_equal(nnd_optim_validate(&d), NND_OK);
        size_t k = 0;
        while (k < np && strcmp(params[k].flag, ranges[i].flag) != 0) k++;
        assert_true(k < np);
        nnd_optim_param_set(&d, &params[k], ranges[i].bad);
        char flag[64];
        snprintf(flag, sizeof flag, "--%s", ranges[i].flag);
        expect_invalid(&d, flag);
    }
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

    /* torch.optim 1.13's defaults (sgd's lr is ours: torch requires one). */
    static const struct {
        const char *name;
        nnd_optim_kind kind;
        double lr, eps, weight_decay, other;
    } want[] = {
        {"sgd", NND_OPTIM_SGD, 0.01, 1e-8, 0.0, 0.0},
        {"rmsprop", NND_OPTIM_RMSPROP, 1e-2, 1e-8, 0.0, 0.99}, /* alpha */
        {"adam", NND_OPTIM_ADAM, 1e-3, 1e-8, 0.0, 0.999},      /* beta2 */
        {"adamw", NND_OPTIM_ADAMW, 1e-3, 1e-8, 1e-2, 0.999},   /* beta2 */
        {"adamax", NND_OPTIM_ADAMAX, 2e-3, 1e-8, 0.0, 0.999},  /* beta2 */
        {"nadam", NND_OPTIM_NADAM, 2e-3, 1e-8, 0.0, 4e-3},     /* momentum_decay */
        {"adagrad", NND_OPTIM_ADAGRAD, 1e-2, 1e-10, 0.0, 0.0}, /* initial_accumulator */
        {"adadelta", NND_OPTIM_ADADELTA, 1.0, 1e-6, 0.0, 0.9}, /* rho */
        {"lars", NND_OPTIM_LARS, 1.0, 0.0, 0.0, 1e-3},         /* trust_coefficient */
        {"lamb", NND_OPTIM_LAMB, 1e-3, 1e-6, 1e-2, 0.999},     /* beta2 */
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        assert_int_equal(nnd_optim_defaults(want[i].name, &cfg), 0);
        assert_int_equal(cfg.kind, want[i].kind);
        assert_string_equal(cfg.name, want[i].name);
        assert_float_equal(cfg.lr, want[i].lr, 0.0);
        assert_float_equal(cfg.weight_decay, want[i].weight_decay, 0.0);
        assert_float_equal(cfg.clip_norm, 0.0, 0.0);
        double other = 0.0;
        switch (cfg.kind) {
        case NND_OPTIM_RMSPROP:
            other = cfg.alpha;
            break;
        case NND_OPTIM_NADAM:
            other = cfg.momentum_decay;
            break;
        case NND_OPTIM_ADAGRAD:
            other = cfg.initial_accumulator;
            break;
        case NND_OPTIM_ADADELTA:
            other = cfg.rho;
            break;
        case NND_OPTIM_LARS:
            other = cfg.trust_coefficient;
            break;
        case NND_OPTIM_SGD:
            other = cfg.momentum;
            break;
        default:
            other = cfg.beta2;
            break;
        }
        assert_float_equal(other, want[i].other, 0.0);
        if (cfg.kind != NND_OPTIM_SGD && cfg.kind != NND_OPTIM_LARS)
            assert_float_equal(cfg.eps, want[i].eps, 0.0);
        if (cfg.kind == NND_OPTIM_ADAM || cfg.kind == NND_OPTIM_LAMB)
            assert_float_equal(cfg.beta1, 0.9, 0.0);
        assert_int_equal(nnd_optim_validate(&cfg), NND_OK);
        assert_non_null(strstr(nnd_optim_names(), want[i].name));
    }
    assert_int_equal(nnd_optim_defaults("adamz", &cfg), -1);
    assert_int_equal(nnd_optim_defaults("", &cfg), -1);
    assert_int_equal(nnd_optim_defaults("momentum9", &cfg), -1);
}

/* The hyperparameter table: names, which optimizers each applies to, get/set. */
static void test_param_table(void **state)
{
    (void)state;
    size_t np;
    const nnd_optim_param *p = nnd_optim_params(&np);
    assert_true(np >= 16);
    for (size_t i = 0; i < np; i++)
        for (size_t j = i + 1; j < np; j++) {
            assert_true(strcmp(p[i].flag, p[j].flag) != 0);
            assert_true(strcmp(p[i].attr, p[j].attr) != 0);
        }
    static const struct {
        const char *flag;
        nnd_optim_kind kind;
        int applies;
    } cases[] = {
        {"lr", NND_OPTIM_ADADELTA, 1},
        {"momentum", NND_OPTIM_SGD, 1},
        {"momentum", NND_OPTIM_RMSPROP, 1},
        {"momentum", NND_OPTIM_ADAM, 0},
        {"nesterov", NND_OPTIM_RMSPROP, 0},
        {"amsgrad", NND_OPTIM_ADAMW, 1},
        {"amsgrad", NND_OPTIM_NADAM, 0},
        {"eps", NND_OPTIM_SGD, 0},
        {"beta2", NND_OPTIM_LAMB, 1},
        {"rho", NND_OPTIM_ADADELTA, 1},
        {"rho", NND_OPTIM_ADAGRAD, 0},
        {"clip-norm", NND_OPTIM_LAMB, 1},
        {"trust-coefficient", NND_OPTIM_LAMB, 0},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        size_t k = 0;
        while (k < np && strcmp(p[k].flag, cases[c].flag) != 0) k++;
        assert_true(k < np);
        if (nnd_optim_param_applies(&p[k], cases[c].kind) != cases[c].applies)
            fail_msg("--%s applies to kind %d: expected %d", cases[c].flag, (int)cases[c].kind,
                     cases[c].applies);
    }
    nnd_optim_config cfg = defaults_of("adam");
    for (size_t i = 0; i < np; i++) {
        nnd_optim_param_set(&cfg, &p[i], 0.25);
        double want = p[i].is_switch ? 1.0 : 0.25;
        assert_float_equal(nnd_optim_param_get(&cfg, &p[i]), want, 0.0);
    }
    assert_float_equal(cfg.beta1, 0.25, 0.0);
    assert_int_equal(cfg.amsgrad, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_validate),
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_param_table),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
