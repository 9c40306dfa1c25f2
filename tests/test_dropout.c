/* Dropout (dropout.h) against its definition: the mask's words written out here from
 * splitmix64's constants, the threshold and scale by hand, the fraction kept, the kernels of
 * every instruction-set variant this CPU runs bitwise against the definition, the model's forward
 * pass against a forward written out here, --dropout's parsing and its shortest text. (Its
 * gradient: test_grad; the same masks on any rank count: script_dropout.) */
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
#include "nndist/dropout.h"
#include "nndist/model.h"
#include "nndist/rng.h"

/* splitmix64 (Steele, Lea and Flood 2014; Vigna's constants), written out independently of
 * rng.h: the word for state x after one increment. */
static uint64_t splitmix(uint64_t x)
{
    uint64_t z = x + 0x9e3779b97f4a7c15ULL;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* The definition: unit j of sample s at (seed, step, layer). */
static int kept_def(uint64_t seed, uint64_t step, int layer, uint64_t s, uint64_t j, double p)
{
    const uint64_t K = nnd_rng_u64(seed, NND_RNG_DROPOUT, step, (uint64_t)layer);
    const uint64_t r = splitmix(K ^ s);
    const uint64_t u = splitmix(r + j * 0x9e3779b97f4a7c15ULL) >> 32;
    return (double)u < (1.0 - p) * 4294967296.0 - 0.5; /* u < round((1 - p) 2^32) */
}

static void test_threshold_and_scale(void **state)
{
    (void)state;
    assert_true(nnd_dropout_threshold(0.5) == 2147483648ULL);
    assert_true(nnd_dropout_threshold(0.1) == 3865470566ULL); /* 0.9 * 2^32 = 3865470566.4 */
    assert_true(nnd_dropout_threshold(0.75) == 1073741824ULL);
    assert_true(nnd_dropout_scale(0.5) == 2.0f);
    assert_true(nnd_dropout_scale(0.75) == 4.0f);
    assert_true(nnd_dropout_scale(0.1) == (float)(1.0 / 0.9));
}

static void test_mask_definition_and_rate(void **state)
{
    (void)state;
    const double p = 0.3;
    const uint64_t T = nnd_dropout_threshold(p);
    size_t kept = 0, total = 0;
    for (uint64_t s = 0; s < 512; s++) {
        const uint64_t r = nnd_dropout_sample_key(nnd_dropout_layer_key(9, 41, 2), 60000 + s);
        for (uint64_t j = 0; j < 2048; j++, total++) {
            const int k = nnd_dropout_kept(r, j, T);
            if (k != kept_def(9, 41, 2, 60000 + s, j, p))
                fail_msg("sample %llu unit %llu: kept %d, the definition says otherwise",
                         (unsigned long long)s, (unsigned long long)j, k);
            kept += (size_t)k;
        }
    }
    /* 2^20 Bernoulli(0.7) draws: standard deviation 469; 6 of them around the mean */
    const double mean = 0.7 * (double)total;
    assert_true(fabs((double)kept - mean) < 6.0 * sqrt(mean * 0.3));
    /* other steps, layers, seeds and samples draw other masks */
    const uint64_t base = nnd_dropout_sample_key(nnd_dropout_layer_key(9, 41, 2), 5);
    assert_true(base != nnd_dropout_sample_key(nnd_dropout_layer_key(9, 42, 2), 5));
    assert_true(base != nnd_dropout_sample_key(nnd_dropout_layer_key(9, 41, 1), 5));
    assert_true(base != nnd_dropout_sample_key(nnd_dropout_layer_key(8, 41, 2), 5));
    assert_true(base != nnd_dropout_sample_key(nnd_dropout_layer_key(9, 41, 2), 6));
}

/* Rows of a width that leaves remainders after the vectors; enough of them to go parallel. */
static void test_kernels_against_definition(void **state)
{
    (void)state;
    enum { N = 300, W = 517 };
    const double p = 0.45;
    const uint64_t T = nnd_dropout_threshold(p);
    const float S = nnd_dropout_scale(p);
    float *A = malloc(N * W * sizeof *A), *D = malloc(N * W * sizeof *D);
    float *want = malloc(N * W * sizeof *want), *dA = malloc(N * W * sizeof *dA);
    uint8_t *keep = malloc(N * W), *want_keep = malloc(N * W);
    uint64_t *key = malloc(N * sizeof *key);
    assert_true(A && D && want && dA && keep && want_keep && key);
    for (size_t i = 0; i < N * W; i++)
        A[i] = 4.0f * nnd_rng_uniform(5, NND_RNG_SYNTHETIC, 1, i) - 2.0f;
    for (size_t i = 0; i < N; i++) {
        key[i] = nnd_dropout_sample_key(nnd_dropout_layer_key(3, 7, 1), 11 * i);
        for (size_t j = 0; j < W; j++) {
            want_keep[i * W + j] = (uint8_t)kept_def(3, 7, 1, 11 * i, j, p);
            want[i * W + j] = want_keep[i * W + j] ? A[i * W + j] * S : 0.0f;
        }
    }
    for (int v = 0; v < 3; v++) {
        if (!runs_here(v)) continue;
        memset(keep, 7, N * W);
        variants[v]->dropout_forward(A, D, keep, key, N, W, T, S);
        assert_memory_equal(keep, want_keep, N * W);
        assert_memory_equal(D, want, N * W * sizeof *D);
        memcpy(D, A, N * W * sizeof *D); /* in place, without the mask (ReLU's way) */
        variants[v]->dropout_forward(D, D, NULL, key, N, W, T, S);
        assert_memory_equal(D, want, N * W * sizeof *D);
        memcpy(dA, A, N * W * sizeof *dA);
        variants[v]->dropout_backward(dA, want_keep, N * W, S);
        assert_memory_equal(dA, want, N * W * sizeof *dA); /* the same products */
        print_message("dropout kernels, %s: the definition's bits\n", names[v]);
    }
    free(A);
    free(D);
    free(want);
    free(dA);
    free(keep);
    free(want_keep);
    free(key);
}

/* A 3-5-4-2 model with input dropout too: the forward pass with a draw against one written out
 * here in double, and without a draw against no dropout. */
static void check_forward(nnd_activation act)
{
    static const size_t sizes[] = {3, 5, 4, 2};
    enum { N = 6 };
    const double p[2] = {0.5, 0.25};
    nnd_model m;
    assert_int_equal(nnd_model_init(&m, sizes, 3, act), NND_OK);
    m.drop_p[0] = p[0];
    m.drop_p[1] = p[1];
    m.drop_input = 0.4;
    assert_int_equal(nnd_model_reserve(&m, N), NND_OK);
    nnd_model_init_params(&m, 4);
    float X[N * 3];
    uint64_t sample[N];
    for (size_t i = 0; i < N * 3; i++) X[i] = 2.0f * nnd_rng_uniform(6, NND_RNG_SYNTHETIC, 0, i);
    for (size_t i = 0; i < N; i++) sample[i] = 100 + i * i;
    const nnd_dropout_draw draw = {21, 8, sample};

    float plain[N * 2], out[N * 2];
    memcpy(plain, nnd_model_forward(&m, X, N), sizeof plain);
    m.draw = &draw;
    memcpy(out, nnd_model_forward(&m, X, N), sizeof out);
    m.draw = NULL;
    const float *again = nnd_model_forward(&m, X, N);
    assert_memory_equal(again, plain, sizeof plain); /* no draw: no dropout */

    size_t dropped = 0;
    for (size_t i = 0; i < N; i++) {
        double in[5] = {X[i * 3], X[i * 3 + 1], X[i * 3 + 2]}, next[5];
        for (size_t k = 0; k < 3; k++) {
            const int kept = kept_def(21, 8, NND_DROPOUT_INPUT_LAYER, sample[i], k, 0.4);
            dropped += !kept;
            in[k] = kept ? (double)(float)(X[i * 3 + k] * nnd_dropout_scale(0.4)) : 0.0;
        }
        for (int l = 0; l < 3; l++) {
            const float *W = m.params + m.w_off[l], *b = m.params + m.b_off[l];
            for (size_t o = 0; o < sizes[l + 1]; o++) {
                double z = b[o];
                for (size_t k = 0; k < sizes[l]; k++) z += (double)W[o * sizes[l] + k] * in[k];
                if (l < 2) {
                    double a = act == NND_ACT_RELU ? (z > 0.0 ? z : 0.0) : tanh(z);
                    int kept = kept_def(21, 8, l, sample[i], o, p[l]);
                    dropped += !kept;
                    z = kept ? a / (1.0 - p[l]) : 0.0;
                }
                next[o] = z;
            }
            memcpy(in, next, sizeof in);
        }
        for (size_t o = 0; o < 2; o++)
            if (fabs(in[o] - out[i * 2 + o]) > 1e-5 * (1.0 + fabs(in[o])))
                fail_msg("%s: sample %zu output %zu: %.9g, the definition %.9g",
                         nnd_activation_name(act), i, o, (double)out[i * 2 + o], in[o]);
    }
    assert_true(dropped > 0);
    assert_true(memcmp(out, plain, sizeof out) != 0);
    nnd_model_free(&m);
}

static void test_model_forward(void **state)
{
    (void)state;
    check_forward(NND_ACT_RELU); /* dropped in place */
    check_forward(NND_ACT_TANH); /* into its own buffer, with the mask */
}

static void test_parse_and_format(void **state)
{
    (void)state;
    double p[3] = {9, 9, 9};
    char text[64];
    assert_int_equal(nnd_dropout_parse("0.5", 3, p), NND_OK);
    assert_true(p[0] == 0.5 && p[1] == 0.5 && p[2] == 0.5);
    nnd_dropout_format(text, sizeof text, p, 3);
    assert_string_equal(text, "0.5");
    assert_int_equal(nnd_dropout_parse("0.2:0:0.1", 3, p), NND_OK);
    assert_true(p[0] == 0.2 && p[1] == 0.0 && p[2] == 0.1);
    nnd_dropout_format(text, sizeof text, p, 3);
    assert_string_equal(text, "0.2:0:0.1");
    assert_true(nnd_dropout_any(p, 3));
    p[0] = p[2] = 0.0;
    assert_false(nnd_dropout_any(p, 3));
    static const char *const bad[] = {"1", "-0.1", "0.2,0.5", "0.1:0.2", "x", "0.5:", "nan", ""};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (nnd_dropout_parse(bad[i], 3, p) == NND_OK) fail_msg("'%s' was accepted", bad[i]);
    assert_int_not_equal(nnd_dropout_parse("0.5", 0, p), NND_OK); /* no hidden layer */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_threshold_and_scale),
        cmocka_unit_test(test_mask_definition_and_rate),
        cmocka_unit_test(test_kernels_against_definition),
        cmocka_unit_test(test_model_forward),
        cmocka_unit_test(test_parse_and_format),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
