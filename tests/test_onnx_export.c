/* The ONNX export (onnx_export.h) decoded again by protobuf-c: the model's header, the nodes in
 * order with their inputs, outputs and attributes, the weights' bytes, the input and output
 * shapes; standardization and Softmax when asked; the refusal of a model past 2 GiB.
 * (tests/script_export_onnx.sh checks the files with ONNX's own checker and their numbers
 * against nndist predict.) */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nndist/onnx_export.h"
#include "nndist/version.h"
#include "onnx.pb-c.h"

static void make_model(nnd_model *m, const size_t *sizes, int n_layers, nnd_activation act)
{
    assert_int_equal(nnd_model_init(m, sizes, n_layers, act), NND_OK);
    for (size_t i = 0; i < m->n_params; i++) m->params[i] = 0.25f * (float)i - 3.0f;
}

static Onnx__ModelProto *export_and_decode(const nnd_model *m, const nnd_onnx_options *o)
{
    uint8_t *bytes = NULL;
    size_t len = 0;
    assert_int_equal(nnd_onnx_build(m, o, "test", &bytes, &len), NND_OK);
    assert_non_null(bytes);
    Onnx__ModelProto *mp = onnx__model_proto__unpack(NULL, len, bytes);
    free(bytes);
    assert_non_null(mp);
    return mp;
}

static const Onnx__TensorProto *find_init(const Onnx__GraphProto *g, const char *name)
{
    for (size_t i = 0; i < g->n_initializer; i++)
        if (strcmp(g->initializer[i]->name, name) == 0) return g->initializer[i];
    fail_msg("no initializer %s", name);
    return NULL;
}

/* A float32 initializer of the given shape holding exactly n floats of want, little-endian. */
static void check_init(const Onnx__GraphProto *g, const char *name, const float *want, size_t d0,
                       size_t d1)
{
    const Onnx__TensorProto *t = find_init(g, name);
    size_t n = d1 ? d0 * d1 : d0;
    assert_int_equal(t->data_type, ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT);
    assert_int_equal(t->n_dims, d1 ? 2 : 1);
    assert_int_equal(t->dims[0], (int64_t)d0);
    if (d1) assert_int_equal(t->dims[1], (int64_t)d1);
    assert_true(t->has_raw_data);
    assert_int_equal(t->raw_data.len, n * sizeof(float));
    for (size_t i = 0; i < n; i++) {
        const uint8_t *b = t->raw_data.data + 4 * i;
        uint32_t u =
            (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
        float f;
        memcpy(&f, &u, sizeof f);
        assert_memory_equal(&f, want + i, sizeof f);
    }
}

/* Node i: its op, its inputs (NULL-terminated) and its output. */
static void check_node(const Onnx__GraphProto *g, size_t i, const char *op,
                       const char *const *inputs, const char *output)
{
    assert_true(i < g->n_node);
    const Onnx__NodeProto *nd = g->node[i];
    assert_string_equal(nd->op_type, op);
    size_t n = 0;
    for (; inputs[n]; n++) {
        assert_true(n < nd->n_input);
        assert_string_equal(nd->input[n], inputs[n]);
    }
    assert_int_equal(nd->n_input, n);
    assert_int_equal(nd->n_output, 1);
    assert_string_equal(nd->output[0], output);
}

static void check_int_attr(const Onnx__NodeProto *nd, const char *name, int64_t value)
{
    assert_int_equal(nd->n_attribute, 1);
    assert_string_equal(nd->attribute[0]->name, name);
    assert_int_equal(nd->attribute[0]->type, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT);
    assert_int_equal(nd->attribute[0]->i, value);
}

/* (N, width) float, N a named dimension. */
static void check_io(const Onnx__ValueInfoProto *v, const char *name, int64_t width)
{
    assert_string_equal(v->name, name);
    assert_int_equal(v->type->value_case, ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE);
    const Onnx__TypeProto__Tensor *t = v->type->tensor_type;
    assert_int_equal(t->elem_type, ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT);
    assert_int_equal(t->shape->n_dim, 2);
    assert_int_equal(t->shape->dim[0]->value_case,
                     ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM);
    assert_string_equal(t->shape->dim[0]->dim_param, "N");
    assert_int_equal(t->shape->dim[1]->value_case,
                     ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE);
    assert_int_equal(t->shape->dim[1]->dim_value, width);
}

static void test_plain_relu(void **state)
{
    (void)state;
    nnd_model m;
    const size_t sizes[] = {5, 4, 3, 2};
    make_model(&m, sizes, 3, NND_ACT_RELU);
    const nnd_onnx_options o = {0};
    Onnx__ModelProto *mp = export_and_decode(&m, &o);
    assert_int_equal(mp->ir_version, NND_ONNX_IR_VERSION);
    assert_string_equal(mp->producer_name, "nndist");
    assert_string_equal(mp->producer_version, NNDIST_VERSION);
    assert_int_equal(mp->n_opset_import, 1);
    assert_true(mp->opset_import[0]->domain == NULL || !mp->opset_import[0]->domain[0]);
    assert_int_equal(mp->opset_import[0]->version, NND_ONNX_OPSET);
    const Onnx__GraphProto *g = mp->graph;
    assert_int_equal(g->n_node, 5);
    check_node(g, 0, "Gemm", (const char *[]){"input", "layer0_W", "layer0_b", NULL}, "layer0_z");
    check_int_attr(g->node[0], "transB", 1);
    check_node(g, 1, "Relu", (const char *[]){"layer0_z", NULL}, "layer0_a");
    check_node(g, 2, "Gemm", (const char *[]){"layer0_a", "layer1_W", "layer1_b", NULL},
               "layer1_z");
    check_node(g, 3, "Relu", (const char *[]){"layer1_z", NULL}, "layer1_a");
    check_node(g, 4, "Gemm", (const char *[]){"layer1_a", "layer2_W", "layer2_b", NULL}, "output");
    check_int_attr(g->node[4], "transB", 1);
    assert_int_equal(g->n_initializer, 6);
    for (int l = 0; l < 3; l++) {
        char w[16], b[16];
        snprintf(w, sizeof w, "layer%d_W", l);
        snprintf(b, sizeof b, "layer%d_b", l);
        check_init(g, w, m.params + m.w_off[l], sizes[l + 1], sizes[l]);
        check_init(g, b, m.params + m.b_off[l], sizes[l + 1], 0);
    }
    assert_int_equal(g->n_input, 1);
    assert_int_equal(g->n_output, 1);
    check_io(g->input[0], "input", 5);
    check_io(g->output[0], "output", 2);
    onnx__model_proto__free_unpacked(mp, NULL);
    nnd_model_free(&m);
}

static void test_standardize_softmax(void **state)
{
    (void)state;
    /* the activations of one node each (the others: test_activation_formulas) */
    const struct {
        nnd_activation act;
        const char *op;
        float alpha; /* the node's alpha attribute; 0: none */
    } one_node[] = {{NND_ACT_RELU, "Relu", 0.0f},
                    {NND_ACT_TANH, "Tanh", 0.0f},
                    {NND_ACT_SIGMOID, "Sigmoid", 0.0f},
                    {NND_ACT_LEAKY_RELU, "LeakyRelu", 0.2f},
                    {NND_ACT_LEAKY_RELU, "LeakyRelu", 0.01f},
                    {NND_ACT_ELU, "Elu", 1.0f},
                    {NND_ACT_ELU, "Elu", 0.3f}};
    const float mean[3] = {0.5f, -1.0f, 2.0f}, std[3] = {1.5f, 0.25f, 3.0f};
    for (size_t a = 0; a < sizeof one_node / sizeof one_node[0]; a++) {
        nnd_model m;
        const size_t sizes[] = {3, 6, 4};
        make_model(&m, sizes, 2, one_node[a].act);
        if (one_node[a].alpha) m.act_param = one_node[a].alpha;
        const nnd_onnx_options o = {.softmax = 1, .mean = mean, .std = std, .doc = "from test"};
        Onnx__ModelProto *mp = export_and_decode(&m, &o);
        const Onnx__GraphProto *g = mp->graph;
        assert_string_equal(g->doc_string, "from test");
        assert_int_equal(g->n_node, 6);
        check_node(g, 0, "Sub", (const char *[]){"input", "standardize_mean", NULL},
                   "input_centered");
        check_node(g, 1, "Div", (const char *[]){"input_centered", "standardize_std", NULL},
                   "input_standardized");
        check_node(g, 2, "Gemm",
                   (const char *[]){"input_standardized", "layer0_W", "layer0_b", NULL},
                   "layer0_z");
        check_node(g, 3, one_node[a].op, (const char *[]){"layer0_z", NULL}, "layer0_a");
        if (one_node[a].alpha) {
            const Onnx__NodeProto *nd = g->node[3];
            assert_int_equal(nd->n_attribute, 1);
            assert_string_equal(nd->attribute[0]->name, "alpha");
            assert_int_equal(nd->attribute[0]->type, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT);
            assert_true(nd->attribute[0]->f == one_node[a].alpha);
        } else {
            assert_int_equal(g->node[3]->n_attribute, 0);
        }
        check_node(g, 4, "Gemm", (const char *[]){"layer0_a", "layer1_W", "layer1_b", NULL},
                   "logits");
        check_node(g, 5, "Softmax", (const char *[]){"logits", NULL}, "output");
        check_int_attr(g->node[5], "axis", 1);
        assert_int_equal(g->n_initializer, 6);
        check_init(g, "standardize_mean", mean, 3, 0);
        check_init(g, "standardize_std", std, 3, 0);
        check_init(g, "layer1_W", m.params + m.w_off[1], 4, 6);
        check_io(g->input[0], "input", 3);
        check_io(g->output[0], "output", 4);
        onnx__model_proto__free_unpacked(mp, NULL);
        nnd_model_free(&m);
    }
}

/* A scalar float32 initializer holding want. */
static void check_const(const Onnx__GraphProto *g, const char *name, float want)
{
    const Onnx__TensorProto *t = find_init(g, name);
    assert_int_equal(t->data_type, ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT);
    assert_int_equal(t->n_dims, 0);
    assert_int_equal(t->raw_data.len, sizeof(float));
    const uint8_t *b = t->raw_data.data;
    uint32_t u = (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
    float f;
    memcpy(&f, &u, sizeof f);
    assert_true(f == want);
}

/* gelu, gelu-tanh and silu have no operator in opset 13: their formulas, node by node, for two
 * hidden layers that share the constants. */
static void test_activation_formulas(void **state)
{
    (void)state;
    typedef struct {
        const char *op, *in0, *in1, *out; /* names with %d for the layer; in1 NULL: one input */
    } step;
    static const step gelu[] = {{"Div", "layer%d_z", "const_sqrt2", "layer%d_gelu_div"},
                                {"Erf", "layer%d_gelu_div", NULL, "layer%d_gelu_erf"},
                                {"Add", "layer%d_gelu_erf", "const_one", "layer%d_gelu_add"},
                                {"Mul", "layer%d_z", "layer%d_gelu_add", "layer%d_gelu_mul"},
                                {"Mul", "layer%d_gelu_mul", "const_half", "layer%d_a"},
                                {NULL, NULL, NULL, NULL}};
    static const step gelu_tanh[] = {
        {"Mul", "layer%d_z", "layer%d_z", "layer%d_gelu_tanh_sq"},
        {"Mul", "layer%d_gelu_tanh_sq", "layer%d_z", "layer%d_gelu_tanh_cube"},
        {"Mul", "layer%d_gelu_tanh_cube", "const_gelu_kappa", "layer%d_gelu_tanh_kappa"},
        {"Add", "layer%d_z", "layer%d_gelu_tanh_kappa", "layer%d_gelu_tanh_sum"},
        {"Mul", "layer%d_gelu_tanh_sum", "const_sqrt_2_over_pi", "layer%d_gelu_tanh_inner"},
        {"Tanh", "layer%d_gelu_tanh_inner", NULL, "layer%d_gelu_tanh_tanh"},
        {"Add", "layer%d_gelu_tanh_tanh", "const_one", "layer%d_gelu_tanh_add"},
        {"Mul", "layer%d_z", "layer%d_gelu_tanh_add", "layer%d_gelu_tanh_mul"},
        {"Mul", "layer%d_gelu_tanh_mul", "const_half", "layer%d_a"},
        {NULL, NULL, NULL, NULL}};
    static const step silu[] = {{"Sigmoid", "layer%d_z", NULL, "layer%d_silu_sigmoid"},
                                {"Mul", "layer%d_z", "layer%d_silu_sigmoid", "layer%d_a"},
                                {NULL, NULL, NULL, NULL}};
    const struct {
        nnd_activation act;
        const step *steps;
        size_t n_consts;
    } cases[] = {
        {NND_ACT_GELU, gelu, 3}, {NND_ACT_GELU_TANH, gelu_tanh, 4}, {NND_ACT_SILU, silu, 0}};
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        nnd_model m;
        const size_t sizes[] = {3, 6, 5, 2};
        make_model(&m, sizes, 3, cases[c].act);
        const nnd_onnx_options o = {0};
        Onnx__ModelProto *mp = export_and_decode(&m, &o);
        const Onnx__GraphProto *g = mp->graph;
        size_t per_layer = 0;
        while (cases[c].steps[per_layer].op) per_layer++;
        assert_int_equal(g->n_node, 3 + 2 * per_layer);
        size_t i = 0;
        for (int l = 0; l < 2; l++) {
            char in0[32], in1[32], out[32], prev[32];
            snprintf(prev, sizeof prev, "%s", l ? "layer0_a" : "input");
            char w[16], b[16], z[16];
            snprintf(w, sizeof w, "layer%d_W", l);
            snprintf(b, sizeof b, "layer%d_b", l);
            snprintf(z, sizeof z, "layer%d_z", l);
            check_node(g, i++, "Gemm", (const char *[]){prev, w, b, NULL}, z);
            for (const step *s = cases[c].steps; s->op; s++) {
                snprintf(in0, sizeof in0, s->in0, l);
                if (s->in1) snprintf(in1, sizeof in1, s->in1, l);
                snprintf(out, sizeof out, s->out, l);
                check_node(g, i++, s->op, (const char *[]){in0, s->in1 ? in1 : NULL, NULL}, out);
                assert_int_equal(g->node[i - 1]->n_attribute, 0);
            }
        }
        check_node(g, i, "Gemm", (const char *[]){"layer1_a", "layer2_W", "layer2_b", NULL},
                   "output");
        /* each constant once, as nndist's kernels hold it in float32 */
        assert_int_equal(g->n_initializer, 6 + cases[c].n_consts);
        if (cases[c].n_consts) {
            check_const(g, "const_half", 0.5f);
            check_const(g, "const_one", 1.0f);
        }
        if (cases[c].act == NND_ACT_GELU) check_const(g, "const_sqrt2", 1.41421356237309504880f);
        if (cases[c].act == NND_ACT_GELU_TANH) {
            check_const(g, "const_gelu_kappa", 0.044715f);
            check_const(g, "const_sqrt_2_over_pi", 0.79788456080286535588f);
        }
        onnx__model_proto__free_unpacked(mp, NULL);
        nnd_model_free(&m);
    }
}

/* A layer of 65536 x 8193 weights is 2 GiB and 128 KiB of floats: refused, with the size,
 * before a byte is read (the lengths alone decide, so a small buffer stands in). */
static void test_over_2gib_refused(void **state)
{
    (void)state;
    float dummy[4] = {0};
    nnd_model m;
    memset(&m, 0, sizeof m);
    m.n_layers = 1;
    m.sizes[0] = 65536;
    m.sizes[1] = 8193;
    m.act = NND_ACT_RELU;
    m.n_params = m.sizes[0] * m.sizes[1] + m.sizes[1];
    m.params = dummy;
    m.b_off[0] = 0;
    uint8_t *bytes = (uint8_t *)dummy;
    size_t len = 1;
    const nnd_onnx_options o = {0};
    assert_int_equal(nnd_onnx_build(&m, &o, "big.h5", &bytes, &len), NND_ERR_INPUT);
    assert_null(bytes);
    assert_int_equal(len, 0);
    assert_non_null(strstr(nnd_err_msg(), "big.h5"));
    assert_non_null(strstr(nnd_err_msg(), "2 GiB"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plain_relu),
        cmocka_unit_test(test_standardize_softmax),
        cmocka_unit_test(test_activation_formulas),
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
        cmocka_unit_test(test_over_2gib_refused),
#endif
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
