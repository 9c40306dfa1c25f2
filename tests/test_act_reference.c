/* Every hidden activation but relu, tanh and sigmoid against PyTorch 1.13 in float64: at the
 * weights of tests/act_ref/init.h5 on the 48 samples of tests/act_ref/data.h5, nndist's logits,
 * summed cross-entropy and its gradient (the forward and backward of a 6-10-8-3 network, both
 * hidden layers through the activation) against each case's /reference, written by
 * scripts/activation_reference.py with torch.nn's modules (the cases are tests/act_ref/cases.txt;
 * each file's activation and parameter come from its attributes, as nndist reads them).
 *
 * The measure is the one of nnd_compare_models: max |nndist - torch| / max |torch| over all the
 * logits, or the whole gradient, so that a value near 0 does not turn round-off into a large ratio.
 * nndist computes in float32: measured at most 2.1e-7 for the logits, 2.3e-9 for the loss
 * and 1.7e-7 for the gradient (both GEMM families), float32 round-off summed over 6 to 10 terms per
 * value. The tolerance, 2e-6 for all three, stays near 10x above that, where a parameter 1% off
 * (leaky-relu's slope 0.0101 for 0.01) already moves the logits by 1.5e-4 and the gradient
 * by 1.1e-4, and a wrong derivative by far more. (tests/script_act_reference.sh follows 20 SGD
 * steps of the same cases.) */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <hdf5.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nndist/ckpt.h"
#include "nndist/h5util.h"
#include "nndist/loss.h"
#include "nndist/model.h"

#ifndef NND_ACT_REF_DIR
#error "NND_ACT_REF_DIR (tests/act_ref) is set by tests/CMakeLists.txt"
#endif

#define TOL 2e-6
#define N   48
#define K   3

/* Reads dataset name of path as type (native) into out, which holds count values. */
static void read_array(const char *path, const char *name, hid_t type, void *out, size_t count)
{
    nnd_h5_quiet q;
    hid_t f;
    assert_int_equal(nnd_h5_open_read(path, &f, &q), NND_OK);
    hid_t d = H5Dopen2(f, name, H5P_DEFAULT);
    if (d < 0) fail_msg("%s: no %s", path, name);
    hid_t sp = H5Dget_space(d);
    assert_int_equal((size_t)H5Sget_simple_extent_npoints(sp), count);
    assert_true(H5Dread(d, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, out) >= 0);
    H5Sclose(sp);
    H5Dclose(d);
    nnd_h5_close(f, &q);
}

static double read_loss_sum(const char *path)
{
    nnd_h5_quiet q;
    hid_t f;
    double v = NAN;
    assert_int_equal(nnd_h5_open_read(path, &f, &q), NND_OK);
    hid_t g = H5Gopen2(f, "/reference", H5P_DEFAULT);
    assert_true(g >= 0);
    assert_int_equal(nnd_h5_attr_read_f64(g, "loss_sum", &v), 0);
    H5Gclose(g);
    nnd_h5_close(f, &q);
    return v;
}

/* max |got - want| / max |want| */
static double rel_diff(const float *got, const double *want, size_t n)
{
    double diff = 0.0, scale = 0.0;
    for (size_t i = 0; i < n; i++) {
        diff = fmax(diff, fabs((double)got[i] - want[i]));
        scale = fmax(scale, fabs(want[i]));
    }
    return diff / scale;
}

static void check_case(const char *name, const float *X, const int32_t *y)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s.h5", NND_ACT_REF_DIR, name);
    size_t sizes[NND_MAX_LAYERS + 2];
    int n_layers = 0, found = 0;
    nnd_activation act;
    double param = 0.0;
    assert_int_equal(nnd_ckpt_probe(path, sizes, &n_layers, &act, &found, &param), NND_OK);
    assert_int_equal(found, 1);
    nnd_model m;
    assert_int_equal(nnd_model_init(&m, sizes, n_layers, act), NND_OK);
    m.act_param = param;
    assert_int_equal(nnd_model_reserve(&m, N), NND_OK);
    char init[512];
    snprintf(init, sizeof init, "%s/init.h5", NND_ACT_REF_DIR);
    assert_int_equal(nnd_ckpt_load(init, &m, NULL, NULL), NND_OK);
    assert_int_equal(sizes[n_layers], K);

    double *want_logits = malloc(N * K * sizeof *want_logits);
    double *want_grad = malloc(m.n_params * sizeof *want_grad);
    float *dlogits = malloc(N * K * sizeof *dlogits);
    assert_true(want_logits && want_grad && dlogits);
    read_array(path, "/reference/logits", H5T_NATIVE_DOUBLE, want_logits, N * K);
    read_array(path, "/reference/grad", H5T_NATIVE_DOUBLE, want_grad, m.n_params);
    const double want_loss = read_loss_sum(path);

    const float *logits = nnd_model_forward(&m, X, N);
    const double d_logits = rel_diff(logits, want_logits, N * K);
    const double loss = nnd_loss_softmax_ce(logits, y, N, K, dlogits, NULL);
    const double d_loss = fabs(loss - want_loss) / fabs(want_loss);
    nnd_model_backward(&m, X, dlogits, N);
    const double d_grad = rel_diff(m.grads, want_grad, m.n_params);
    print_message("%-16s %-10s param %-4g logits %.2g  loss %.2g  gradient %.2g\n", name,
                  nnd_activation_name(act), param, d_logits, d_loss, d_grad);
    if (d_logits > TOL || d_loss > TOL || d_grad > TOL)
        fail_msg("%s: nndist differs from torch by more than %g (logits %.3g, loss %.3g, "
                 "gradient %.3g)",
                 name, TOL, d_logits, d_loss, d_grad);
    free(want_logits);
    free(want_grad);
    free(dlogits);
    nnd_model_free(&m);
}

static void test_against_torch(void **state)
{
    (void)state;
    char path[512], line[512];
    float *X = malloc(N * 6 * sizeof *X);
    int32_t *y = malloc(N * sizeof *y);
    assert_true(X && y);
    snprintf(path, sizeof path, "%s/data.h5", NND_ACT_REF_DIR);
    read_array(path, "/X", H5T_NATIVE_FLOAT, X, N * 6);
    read_array(path, "/y", H5T_NATIVE_INT32, y, N);
    snprintf(path, sizeof path, "%s/cases.txt", NND_ACT_REF_DIR);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    int cases = 0;
    int seen[NND_ACT_COUNT] = {0};
    while (fgets(line, sizeof line, f)) {
        char *tab = strchr(line, '\t');
        if (line[0] == '#' || !tab || strncmp(line, "common\t", 7) == 0) continue;
        *tab = '\0';
        check_case(line, X, y);
        nnd_activation a;
        const char *flag = strstr(tab + 1, "--activation ");
        assert_non_null(flag);
        char act_name[32];
        assert_int_equal(sscanf(flag + 13, "%31s", act_name), 1);
        assert_int_equal(nnd_activation_parse(act_name, &a), 0);
        seen[a] = 1;
        cases++;
    }
    fclose(f);
    /* every activation beyond relu, tanh and sigmoid is covered */
    for (int a = NND_ACT_GELU; a < NND_ACT_COUNT; a++)
        if (!seen[a]) fail_msg("cases.txt has no case of %s", nnd_activation_name(a));
    assert_true(cases >= 7);
    free(X);
    free(y);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_against_torch),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
