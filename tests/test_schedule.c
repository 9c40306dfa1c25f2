/* Learning-rate schedules against their closed forms at chosen steps, warmup composed with each
 * schedule, the linear scaling rule, and the checks of the settings. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <string.h>

#include "nndist/schedule.h"

static nnd_schedule make(nnd_schedule_kind kind, double lr, uint64_t total)
{
    nnd_schedule_config cfg;
    nnd_schedule_defaults(&cfg);
    cfg.kind = kind;
    nnd_schedule s;
    nnd_schedule_init(&s, &cfg, lr, 128, total);
    return s;
}

static void expect_lr(const nnd_schedule *s, uint64_t step, double want)
{
    double got = nnd_schedule_lr(s, step);
    if (fabs(got - want) > 1e-12 * fmax(1.0, fabs(want)))
        fail_msg("%s: lr at step %llu = %.17g, expected %.17g", nnd_schedule_name(s->cfg.kind),
                 (unsigned long long)step, got, want);
}

static void test_constant(void **state)
{
    (void)state;
    nnd_schedule s = make(NND_SCHED_CONSTANT, 0.1, 100);
    expect_lr(&s, 0, 0.1);
    expect_lr(&s, 57, 0.1);
    expect_lr(&s, 99, 0.1);
    expect_lr(&s, 1000, 0.1); /* past the end (a longer resumed run) */
}

static void test_step(void **state)
{
    (void)state;
    nnd_schedule s = make(NND_SCHED_STEP, 0.1, 100);
    s.cfg.step_size = 30; /* gamma defaults to 0.1, as torch's StepLR */
    /* lr = 0.1 * 0.1^floor(s / 30) */
    expect_lr(&s, 0, 0.1);
    expect_lr(&s, 29, 0.1);
    expect_lr(&s, 30, 0.01);
    expect_lr(&s, 59, 0.01);
    expect_lr(&s, 60, 0.001);
    expect_lr(&s, 99, 0.1 * 0.1 * 0.1 * 0.1);
    s.cfg.gamma = 0.5;
    expect_lr(&s, 45, 0.05);
}

static void test_exponential(void **state)
{
    (void)state;
    nnd_schedule s = make(NND_SCHED_EXPONENTIAL, 0.2, 100);
    s.cfg.gamma = 0.9;
    expect_lr(&s, 0, 0.2);
    expect_lr(&s, 1, 0.18);
    expect_lr(&s, 2, 0.162);
    expect_lr(&s, 10, 0.2 * pow(0.9, 10));
}

static void test_cosine(void **state)
{
    (void)state;
    nnd_schedule s = make(NND_SCHED_COSINE, 0.1, 100);
    /* lr = lr_min + (0.1 - lr_min)(1 + cos(pi s / 100)) / 2 */
    expect_lr(&s, 0, 0.1);
    expect_lr(&s, 50, 0.05); /* cos(pi/2) = 0: half way */
    expect_lr(&s, 25, 0.1 * (1.0 + sqrt(0.5)) / 2.0);
    expect_lr(&s, 100, 0.0); /* the end: lr_min */
    expect_lr(&s, 250, 0.0); /* past it: stays there */
    s.cfg.lr_min = 0.01;
    expect_lr(&s, 0, 0.1);
    expect_lr(&s, 50, 0.055);
    expect_lr(&s, 100, 0.01);
    /* Monotone non-increasing over the run. */
    for (uint64_t i = 1; i < 100; i++)
        assert_true(nnd_schedule_lr(&s, i) <= nnd_schedule_lr(&s, i - 1));
}

static void test_warmup_cosine(void **state)
{
    (void)state;
    nnd_schedule s = make(NND_SCHED_COSINE, 0.4, 110);
    s.cfg.warmup_steps = 10;
    s.cfg.lr_min = 0.004;
    /* warmup: s < 10: lr = 0.4 (s + 1) / 10 */
    expect_lr(&s, 0, 0.04);
    expect_lr(&s, 4, 0.2);
    expect_lr(&s, 9, 0.4);
    /* then cosine over the remaining 100 steps, s' = s - 10 */
    expect_lr(&s, 10, 0.4);
    expect_lr(&s, 60, 0.004 + (0.4 - 0.004) / 2.0);
    expect_lr(&s, 35, 0.004 + (0.4 - 0.004) * (1.0 + cos(M_PI / 4.0)) / 2.0);
    expect_lr(&s, 110, 0.004);
    /* Continuous at the seam: step 9 ends the ramp at the cosine's start. */
    assert_float_equal(nnd_schedule_lr(&s, 9), nnd_schedule_lr(&s, 10), 0.0);
}

static void test_warmup_others(void **state)
{
    (void)state;
    /* Warmup ramps to the schedule's first value; the schedule then starts from its step 0. */
    nnd_schedule s = make(NND_SCHED_STEP, 0.1, 100);
    s.cfg.step_size = 10;
    s.cfg.gamma = 0.5;
    s.cfg.warmup_steps = 5;
    expect_lr(&s, 0, 0.02);
    expect_lr(&s, 4, 0.1);
    expect_lr(&s, 5, 0.1);
    expect_lr(&s, 14, 0.1);
    expect_lr(&s, 15, 0.05);
    nnd_schedule e = make(NND_SCHED_EXPONENTIAL, 0.1, 100);
    e.cfg.gamma = 0.5;
    e.cfg.warmup_steps = 2;
    expect_lr(&e, 0, 0.05);
    expect_lr(&e, 1, 0.1);
    expect_lr(&e, 2, 0.1);
    expect_lr(&e, 3, 0.05);
    nnd_schedule c = make(NND_SCHED_CONSTANT, 0.3, 100);
    c.cfg.warmup_steps = 3;
    expect_lr(&c, 0, 0.1);
    expect_lr(&c, 1, 0.2);
    expect_lr(&c, 2, 0.3);
    expect_lr(&c, 50, 0.3);
    /* A warmup as long as the run: cosine has no steps left and ends at lr_min. */
    nnd_schedule w = make(NND_SCHED_COSINE, 0.1, 10);
    w.cfg.warmup_steps = 10;
    expect_lr(&w, 9, 0.1);
    expect_lr(&w, 10, 0.0);
}

static void test_linear_scaling(void **state)
{
    (void)state;
    nnd_schedule_config cfg;
    nnd_schedule_defaults(&cfg);
    assert_int_equal(cfg.base_batch, 256);
    cfg.scale_linear = 1;
    nnd_schedule s;
    /* Goyal et al.: lr 0.1 at batch 256, batch 8192 = 32 x: lr 3.2 */
    nnd_schedule_init(&s, &cfg, 0.1, 8192, 1000);
    assert_float_equal(s.base_lr, 3.2, 1e-12);
    expect_lr(&s, 0, 3.2);
    cfg.base_batch = 32;
    nnd_schedule_init(&s, &cfg, 0.05, 64, 100);
    expect_lr(&s, 7, 0.1);
    /* Scaling composes with the schedule and warmup: lr_min stays absolute. */
    cfg.kind = NND_SCHED_COSINE;
    cfg.warmup_steps = 4;
    cfg.lr_min = 0.001;
    nnd_schedule_init(&s, &cfg, 0.05, 64, 104);
    expect_lr(&s, 1, 0.05);
    expect_lr(&s, 104, 0.001);
    /* Without --lr-scale the batch does not matter. */
    cfg.scale_linear = 0;
    nnd_schedule_init(&s, &cfg, 0.05, 4096, 104);
    expect_lr(&s, 3, 0.05);
}

static void expect_invalid(const nnd_schedule_config *cfg, const char *needle)
{
    nnd_err_clear();
    assert_int_equal(nnd_schedule_validate(cfg), NND_ERR_USAGE);
    if (!strstr(nnd_err_msg(), needle))
        fail_msg("message '%s' does not contain '%s'", nnd_err_msg(), needle);
}

static void test_validate(void **state)
{
    (void)state;
    nnd_schedule_config cfg;
    nnd_schedule_defaults(&cfg);
    assert_int_equal(nnd_schedule_validate(&cfg), NND_OK);
    nnd_schedule_config c = cfg;
    c.kind = NND_SCHED_STEP;
    expect_invalid(&c, "--lr-step-size");
    c.step_size = 10;
    assert_int_equal(nnd_schedule_validate(&c), NND_OK);
    c.gamma = 1.5;
    expect_invalid(&c, "--lr-gamma");
    c = cfg;
    c.kind = NND_SCHED_EXPONENTIAL;
    expect_invalid(&c, "--lr-gamma");
    c.gamma = 0.99;
    assert_int_equal(nnd_schedule_validate(&c), NND_OK);
    c = cfg;
    c.gamma = 0.5; /* constant has no gamma */
    expect_invalid(&c, "--lr-gamma");
    c = cfg;
    c.step_size = 3;
    expect_invalid(&c, "--lr-step-size");
    c = cfg;
    c.lr_min = 0.01; /* only cosine has a floor */
    expect_invalid(&c, "--lr-min");
    c.kind = NND_SCHED_COSINE;
    assert_int_equal(nnd_schedule_validate(&c), NND_OK);
    c = cfg;
    c.base_batch = 0;
    expect_invalid(&c, "--lr-base-batch");
}

static void test_names(void **state)
{
    (void)state;
    const char *names[] = {"constant", "step", "exponential", "cosine"};
    for (int k = 0; k < 4; k++) {
        nnd_schedule_kind kind;
        assert_int_equal(nnd_schedule_parse(names[k], &kind), 0);
        assert_int_equal(kind, k);
        assert_string_equal(nnd_schedule_name(kind), names[k]);
    }
    nnd_schedule_kind kind;
    assert_int_equal(nnd_schedule_parse("linear", &kind), -1);
    assert_int_equal(nnd_schedule_parse("", &kind), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_constant),       cmocka_unit_test(test_step),
        cmocka_unit_test(test_exponential),    cmocka_unit_test(test_cosine),
        cmocka_unit_test(test_warmup_cosine),  cmocka_unit_test(test_warmup_others),
        cmocka_unit_test(test_linear_scaling), cmocka_unit_test(test_validate),
        cmocka_unit_test(test_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
