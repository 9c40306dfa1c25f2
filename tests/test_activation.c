/* The hidden activations' names and parameters (activation.h), and the parameter's life in a
 * model file (ckpt.h): written as activation_param for leaky-relu and elu only, read back
 * exactly by nnd_ckpt_probe, a load into a model with another value refused with both values,
 * an older file without the attribute taken with the default, and a file whose parameter the
 * activation cannot use refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <hdf5.h>
#include <math.h>
#include <string.h>

#include "nndist/activation.h"
#include "nndist/ckpt.h"
#include "nndist/h5util.h"

#include "scratch_dir.h"

static void assert_msg_has(const char *needle)
{
    if (!strstr(nnd_err_msg(), needle))
        fail_msg("message '%s' does not contain '%s'", nnd_err_msg(), needle);
}

static void test_names(void **state)
{
    (void)state;
    const char *want[NND_ACT_COUNT] = {"relu",      "tanh",       "sigmoid", "gelu",
                                       "gelu-tanh", "leaky-relu", "silu",    "elu"};
    for (int a = 0; a < NND_ACT_COUNT; a++) {
        nnd_activation got = NND_ACT_COUNT;
        assert_string_equal(nnd_activation_name((nnd_activation)a), want[a]);
        assert_int_equal(nnd_activation_parse(want[a], &got), 0);
        assert_int_equal(got, a);
        assert_non_null(strstr(nnd_activation_names(), want[a]));
    }
    nnd_activation got;
    assert_int_equal(nnd_activation_parse("swish", &got), -1);
    assert_int_equal(nnd_activation_parse("GELU", &got), -1);
    /* Z is kept exactly for the activations that are not one-to-one */
    for (int a = 0; a < NND_ACT_COUNT; a++)
        assert_int_equal(nnd_activation_keeps_z((nnd_activation)a),
                         a == NND_ACT_GELU || a == NND_ACT_GELU_TANH || a == NND_ACT_SILU);
}

static void test_params(void **state)
{
    (void)state;
    assert_string_equal(nnd_activation_param_flag(NND_ACT_LEAKY_RELU), "leaky-slope");
    assert_string_equal(nnd_activation_param_flag(NND_ACT_ELU), "elu-alpha");
    assert_null(nnd_activation_param_flag(NND_ACT_GELU));
    assert_true(nnd_activation_default_param(NND_ACT_LEAKY_RELU) == 0.01);
    assert_true(nnd_activation_default_param(NND_ACT_ELU) == 1.0);
    /* torch's ranges: any slope >= 0 (0 is relu), alpha > 0 */
    assert_null(nnd_activation_param_problem(NND_ACT_LEAKY_RELU, 0.0));
    assert_null(nnd_activation_param_problem(NND_ACT_LEAKY_RELU, 0.2));
    assert_null(nnd_activation_param_problem(NND_ACT_LEAKY_RELU, 3.0));
    assert_non_null(strstr(nnd_activation_param_problem(NND_ACT_LEAKY_RELU, -0.1), "negative"));
    assert_null(nnd_activation_param_problem(NND_ACT_ELU, 0.5));
    assert_non_null(nnd_activation_param_problem(NND_ACT_ELU, 0.0));
    assert_non_null(nnd_activation_param_problem(NND_ACT_ELU, -1.0));
    assert_non_null(nnd_activation_param_problem(NND_ACT_ELU, 1e-50)); /* 0 in float32 */
    assert_non_null(nnd_activation_param_problem(NND_ACT_ELU, NAN));
    assert_non_null(nnd_activation_param_problem(NND_ACT_LEAKY_RELU, INFINITY));
    assert_non_null(nnd_activation_param_problem(NND_ACT_LEAKY_RELU, 1e39));
    /* the others have none, so nothing to refuse */
    assert_null(nnd_activation_param_problem(NND_ACT_SILU, -5.0));
    /* as options, for messages: the shortest number that reads back */
    char text[64];
    nnd_activation_text(text, sizeof text, NND_ACT_LEAKY_RELU, 0.2);
    assert_string_equal(text, "leaky-relu --leaky-slope 0.2");
    nnd_activation_text(text, sizeof text, NND_ACT_ELU, 1.0 / 3.0);
    assert_string_equal(text, "elu --elu-alpha 0.3333333333333333");
    nnd_activation_text(text, sizeof text, NND_ACT_GELU_TANH, 7.0);
    assert_string_equal(text, "gelu-tanh");
}

static const size_t g_sizes[] = {4, 5, 3};

static void save_model(const char *path, nnd_activation act, double param)
{
    nnd_model m;
    assert_int_equal(nnd_model_init(&m, g_sizes, 2, act), NND_OK);
    m.act_param = param;
    nnd_model_init_params(&m, 7);
    assert_int_equal(nnd_ckpt_save(path, &m, NULL, NULL), NND_OK);
    nnd_model_free(&m);
}

static void probe(const char *path, nnd_activation want_act, double want_param)
{
    size_t sizes[NND_MAX_LAYERS + 2];
    int n = 0, found = 0;
    nnd_activation act = NND_ACT_RELU;
    double param = -1.0;
    assert_int_equal(nnd_ckpt_probe(path, sizes, &n, &act, &found, &param), NND_OK);
    assert_int_equal(found, 1);
    assert_int_equal(act, want_act);
    assert_true(param == want_param);
}

/* The root attribute name of f: deleted (an older file, or a foreign one), with the metadata
 * checksum that covered it; or, with value, rewritten as a float64. */
static void edit_attr(const char *path, const char *name, const double *value)
{
    hid_t f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
    assert_true(f >= 0);
    if (H5Aexists(f, "meta_checksum") > 0) assert_true(H5Adelete(f, "meta_checksum") >= 0);
    if (H5Aexists(f, name) > 0) assert_true(H5Adelete(f, name) >= 0);
    if (value) assert_int_equal(nnd_h5_attr_write_f64(f, name, *value), 0);
    H5Fclose(f);
}

static int has_attr(const char *path, const char *name)
{
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    assert_true(f >= 0);
    int has = H5Aexists(f, name) > 0;
    H5Fclose(f);
    return has;
}

static void test_param_in_model_files(void **state)
{
    (void)state;
    char path[256];
    scratch_path(path, sizeof path, "leaky.h5");
    save_model(path, NND_ACT_LEAKY_RELU, 0.2);
    probe(path, NND_ACT_LEAKY_RELU, 0.2); /* the double as given, not its float32 */
    nnd_model m;
    assert_int_equal(nnd_model_init(&m, g_sizes, 2, NND_ACT_LEAKY_RELU), NND_OK);
    nnd_err_clear();
    assert_int_equal(nnd_ckpt_load(path, &m, NULL, NULL), NND_ERR_MISMATCH); /* 0.01 here */
    assert_msg_has("--leaky-slope 0.2");
    assert_msg_has("--leaky-slope 0.01");
    m.act_param = 0.2;
    assert_int_equal(nnd_ckpt_load(path, &m, NULL, NULL), NND_OK);
    nnd_model_free(&m);

    scratch_path(path, sizeof path, "elu.h5");
    save_model(path, NND_ACT_ELU, 1.0);
    assert_true(has_attr(path, "activation_param"));
    probe(path, NND_ACT_ELU, 1.0);
    /* an elu file without the attribute (written elsewhere) has alpha 1 */
    edit_attr(path, "activation_param", NULL);
    probe(path, NND_ACT_ELU, 1.0);
    /* one the activation cannot use is refused, naming it */
    const double bad = 0.0;
    edit_attr(path, "activation_param", &bad);
    size_t sizes[NND_MAX_LAYERS + 2];
    int n, found;
    nnd_activation act;
    nnd_err_clear();
    assert_int_equal(nnd_ckpt_probe(path, sizes, &n, &act, &found, NULL), NND_ERR_INPUT);
    assert_msg_has("activation_param 0 of elu is not usable");

    scratch_path(path, sizeof path, "leaky-negative.h5");
    save_model(path, NND_ACT_LEAKY_RELU, 0.01);
    const double negative = -0.5;
    edit_attr(path, "activation_param", &negative);
    nnd_err_clear();
    assert_int_equal(nnd_ckpt_probe(path, sizes, &n, &act, &found, NULL), NND_ERR_INPUT);
    assert_msg_has("negative slope");

    /* the activations without a parameter write none, and read 0 */
    for (int a = 0; a < NND_ACT_COUNT; a++) {
        if (nnd_activation_param_flag((nnd_activation)a)) continue;
        scratch_path(path, sizeof path, "plain.h5");
        save_model(path, (nnd_activation)a, 0.0);
        assert_false(has_attr(path, "activation_param"));
        probe(path, (nnd_activation)a, 0.0);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_params),
        cmocka_unit_test(test_param_in_model_files),
    };
    return cmocka_run_group_tests(tests, scratch_setup, scratch_teardown);
}
