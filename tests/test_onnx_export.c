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
    const char *const ops[] = {"Relu", "Tanh", "Sigmoid"};
    const float mean[3] = {0.5f, -1.0f, 2.0f}, std[3] = {1.5f, 0.25f, 3.0f};
    for (int a = 0; a <= NND_ACT_SIGMOID; a++) {
        nnd_model m;
        const size_t sizes[] = {3, 6, 4};
        make_model(&m, sizes, 2, (nnd_activation)a);
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
        check_node(g, 3, ops[a], (const char *[]){"layer0_z", NULL}, "layer0_a");
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
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
        cmocka_unit_test(test_over_2gib_refused),
#endif
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
