/* The initialisation schemes of --init against their definitions (torch.nn.Linear's default,
 * torch.nn.init.kaiming_uniform_ for ReLU, xavier_uniform_): every weight inside its bound, the
 * extremes near it, the sample mean and variance those of U(-bound, bound) (bound^2 / 3), the
 * biases zero or inside torch's bound; the same draws for the same seed; the names. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <string.h>

#include "nndist/model.h"

/* A 784 -> 512 -> 10 model: 401,408 weights in layer 0, so the sample variance of a uniform
 * is within 0.5% of its expectation with overwhelming probability (its relative standard
 * deviation is sqrt(0.8 / n) = 0.14%). */
static void check_layer(const nnd_model *m, int l, nnd_init_scheme scheme)
{
    size_t in = m->sizes[l], out = m->sizes[l + 1], n = in * out;
    double bound = scheme == NND_INIT_HE       ? sqrt(6.0 / (double)in)
                   : scheme == NND_INIT_XAVIER ? sqrt(6.0 / (double)(in + out))
                                               : 1.0 / sqrt((double)in);
    const float *W = m->params + m->w_off[l], *b = m->params + m->b_off[l];
    double sum = 0.0, sq = 0.0, lo = INFINITY, hi = -INFINITY;
    for (size_t i = 0; i < n; i++) {
        sum += W[i];
        sq += (double)W[i] * W[i];
        lo = fmin(lo, W[i]);
        hi = fmax(hi, W[i]);
    }
    double mean = sum / (double)n, var = sq / (double)n - mean * mean, want = bound * bound / 3.0;
    assert_true(lo >= -bound * (1 + 1e-6) && hi <= bound * (1 + 1e-6));
    if (n > 100000) { /* the statistics of the large layer */
        assert_true(lo < -0.999 * bound && hi > 0.999 * bound);
        assert_true(fabs(mean) < 0.01 * bound);
        assert_true(fabs(var / want - 1.0) < 0.005);
    }
    int nonzero = 0;
    for (size_t i = 0; i < out; i++) {
        if (scheme == NND_INIT_TORCH)
            assert_true(fabs(b[i]) <= 1.0 / sqrt((double)in) * (1 + 1e-6));
        else
            assert_true(b[i] == 0.0f);
        nonzero += b[i] != 0.0f;
    }
    if (scheme == NND_INIT_TORCH) assert_true(nonzero > 0);
}

static void test_schemes(void **state)
{
    (void)state;
    const size_t sizes[3] = {784, 512, 10};
    for (int s = 0; s < NND_INIT_COUNT; s++) {
        nnd_model m, again;
        assert_int_equal(nnd_model_init(&m, sizes, 2, NND_ACT_RELU), NND_OK);
        assert_int_equal(nnd_model_init(&again, sizes, 2, NND_ACT_RELU), NND_OK);
        nnd_model_init_scheme(&m, 7, (nnd_init_scheme)s);
        nnd_model_init_scheme(&again, 7, (nnd_init_scheme)s);
        for (int l = 0; l < 2; l++) check_layer(&m, l, (nnd_init_scheme)s);
        assert_memory_equal(m.params, again.params, m.n_params * sizeof(float));
        nnd_model_init_scheme(&again, 8, (nnd_init_scheme)s);
        assert_true(memcmp(m.params, again.params, m.n_params * sizeof(float)) != 0);
        nnd_model_free(&m);
        nnd_model_free(&again);
    }
}

/* nnd_model_init_params is torch's scheme, as before the schemes existed. */
static void test_default_is_torch(void **state)
{
    (void)state;
    const size_t sizes[3] = {20, 16, 4};
    nnd_model a, b;
    assert_int_equal(nnd_model_init(&a, sizes, 2, NND_ACT_RELU), NND_OK);
    assert_int_equal(nnd_model_init(&b, sizes, 2, NND_ACT_RELU), NND_OK);
    nnd_model_init_params(&a, 3);
    nnd_model_init_scheme(&b, 3, NND_INIT_TORCH);
    assert_memory_equal(a.params, b.params, a.n_params * sizeof(float));
    nnd_model_free(&a);
    nnd_model_free(&b);
}

static void test_names(void **state)
{
    (void)state;
    for (int s = 0; s < NND_INIT_COUNT; s++) {
        nnd_init_scheme back;
        assert_int_equal(nnd_init_scheme_parse(nnd_init_scheme_name((nnd_init_scheme)s), &back), 0);
        assert_int_equal(back, s);
    }
    nnd_init_scheme x;
    assert_int_equal(nnd_init_scheme_parse("kaiming", &x), -1);
    assert_int_equal(nnd_init_scheme_parse("model.h5", &x), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_schemes),
        cmocka_unit_test(test_default_is_torch),
        cmocka_unit_test(test_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
