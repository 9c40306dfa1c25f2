/* A model as an ONNX graph (onnx_export.h): every message of the graph is a protobuf-c struct
 * generated from src/onnx.proto, filled in place in one graph_parts; the structs point at each
 * other and at the model's own weights, so nothing is copied until protobuf-c packs the model
 * into one buffer. */
#include "nndist/onnx_export.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nndist/version.h"
#include "onnx.pb-c.h"

/* A Gemm, a LayerNormalization and up to 9 activation nodes per layer (gelu-tanh's formula),
 * then Sub, Div and Softmax at most. */
#define MAX_NODES (11 * NND_MAX_LAYERS + 3)
/* The scalar constants of the activations' formulas, each once (activation_graph). */
#define MAX_CONSTS 5
/* W, b (and γ, β, batch norm's running mean and variance) per layer, the standardization's mean
 * and std, the constants. */
#define MAX_INITS (6 * NND_MAX_LAYERS + 2 + MAX_CONSTS)
/* "layer31_gelu_tanh_inner", "standardize_mean": every name the graph uses fits. */
#define NAME_SIZE 32

/* The graph's input or output: a float tensor (N, width), N symbolic. */
typedef struct {
    Onnx__ValueInfoProto info;
    Onnx__TypeProto type;
    Onnx__TypeProto__Tensor tensor;
    Onnx__TensorShapeProto shape;
    Onnx__TensorShapeProto__Dimension dim[2], *dim_ptr[2];
} io_value;

typedef struct {
    Onnx__ModelProto model;
    Onnx__OperatorSetIdProto opset, *opset_ptr;
    Onnx__GraphProto graph;
    Onnx__NodeProto node[MAX_NODES], *node_ptr[MAX_NODES];
    Onnx__AttributeProto attr[MAX_NODES], *attr_ptr[MAX_NODES];
    char *node_in[MAX_NODES][5], *node_out[MAX_NODES]; /* BatchNormalization has 5 inputs */
    char node_name[MAX_NODES][NAME_SIZE], value_name[MAX_NODES][NAME_SIZE];
    Onnx__TensorProto init[MAX_INITS], *init_ptr[MAX_INITS];
    int64_t init_dims[MAX_INITS][2];
    char init_name[MAX_INITS][NAME_SIZE];
    io_value in, out;
    Onnx__ValueInfoProto *in_ptr, *out_ptr;
    size_t n_nodes, n_inits;
    uint8_t *swapped; /* big-endian hosts only: the tensors as little-endian bytes */
    size_t swapped_used;
} graph_parts;

/* raw_data is little-endian float32: the floats' own bytes on a little-endian host, a
 * byte-swapped copy on a big-endian one. */
static ProtobufCBinaryData float_bytes(graph_parts *g, const float *src, size_t n)
{
    ProtobufCBinaryData b = {.len = n * sizeof *src, .data = (uint8_t *)src};
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    uint8_t *dst = g->swapped + g->swapped_used;
    for (size_t i = 0; i < n; i++) {
        uint32_t u;
        memcpy(&u, src + i, sizeof u);
        for (int k = 0; k < 4; k++) dst[4 * i + (size_t)k] = (uint8_t)(u >> (8 * k));
    }
    g->swapped_used += b.len;
    b.data = dst;
#else
    (void)g;
#endif
    return b;
}

/* A float32 initializer of shape dims[0] or (dims[0], dims[1]), or a scalar (n_dims 0); returns
 * its name. data must outlive the packing (the bytes are not copied). */
static char *add_init(graph_parts *g, const char *name, const float *data, int n_dims, size_t d0,
                      size_t d1)
{
    size_t i = g->n_inits++;
    Onnx__TensorProto *t = &g->init[i];
    onnx__tensor_proto__init(t);
    snprintf(g->init_name[i], NAME_SIZE, "%s", name);
    g->init_dims[i][0] = (int64_t)d0;
    g->init_dims[i][1] = (int64_t)d1;
    t->name = g->init_name[i];
    t->n_dims = (size_t)n_dims;
    t->dims = g->init_dims[i];
    t->has_data_type = 1;
    t->data_type = ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT;
    t->has_raw_data = 1;
    t->raw_data = float_bytes(g, data, n_dims == 2 ? d0 * d1 : n_dims == 1 ? d0 : 1);
    g->init_ptr[i] = t;
    return g->init_name[i];
}

/* A node of op_type op named name, reading in[0..n_in) and writing the value out; an integer
 * attribute when attr_name is not NULL. Returns the output's name (the next node's input). */
static char *add_node(graph_parts *g, const char *op, const char *name, char *const *in, int n_in,
                      const char *out, const char *attr_name, int64_t attr_value)
{
    size_t i = g->n_nodes++;
    Onnx__NodeProto *nd = &g->node[i];
    onnx__node_proto__init(nd);
    snprintf(g->node_name[i], NAME_SIZE, "%s", name);
    snprintf(g->value_name[i], NAME_SIZE, "%s", out);
    for (int k = 0; k < n_in; k++) g->node_in[i][k] = in[k];
    g->node_out[i] = g->value_name[i];
    nd->name = g->node_name[i];
    nd->op_type = (char *)op;
    nd->n_input = (size_t)n_in;
    nd->input = g->node_in[i];
    nd->n_output = 1;
    nd->output = &g->node_out[i];
    if (attr_name) {
        Onnx__AttributeProto *a = &g->attr[i];
        onnx__attribute_proto__init(a);
        a->name = (char *)attr_name;
        a->has_type = 1;
        a->type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT;
        a->has_i = 1;
        a->i = attr_value;
        g->attr_ptr[i] = a;
        nd->n_attribute = 1;
        nd->attribute = &g->attr_ptr[i];
    }
    g->node_ptr[i] = nd;
    return g->value_name[i];
}

static void set_io(io_value *v, const char *name, size_t width)
{
    onnx__value_info_proto__init(&v->info);
    onnx__type_proto__init(&v->type);
    onnx__type_proto__tensor__init(&v->tensor);
    onnx__tensor_shape_proto__init(&v->shape);
    for (int k = 0; k < 2; k++) {
        onnx__tensor_shape_proto__dimension__init(&v->dim[k]);
        v->dim_ptr[k] = &v->dim[k];
    }
    /* (N, width): the batch is named, so one file serves any number of samples. */
    v->dim[0].value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM;
    v->dim[0].dim_param = (char *)"N";
    v->dim[1].value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE;
    v->dim[1].dim_value = (int64_t)width;
    v->shape.n_dim = 2;
    v->shape.dim = v->dim_ptr;
    v->tensor.has_elem_type = 1;
    v->tensor.elem_type = ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT;
    v->tensor.shape = &v->shape;
    v->type.value_case = ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE;
    v->type.tensor_type = &v->tensor;
    v->info.name = (char *)name;
    v->info.type = &v->type;
}

/* A float attribute on the node just added. */
static void set_float_attr(graph_parts *g, const char *attr_name, float value)
{
    size_t i = g->n_nodes - 1;
    Onnx__AttributeProto *a = &g->attr[i];
    onnx__attribute_proto__init(a);
    a->name = (char *)attr_name;
    a->has_type = 1;
    a->type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT;
    a->has_f = 1;
    a->f = value;
    g->attr_ptr[i] = a;
    g->node[i].n_attribute = 1;
    g->node[i].attribute = &g->attr_ptr[i];
}

/* The constants of the formulas below, in float32 as nndist's kernels use them
 * (src/kernels/elementwise.c). */
enum { K_HALF, K_ONE, K_SQRT2, K_KAPPA, K_SQRT_2_PI };
static const float g_const[MAX_CONSTS] = {0.5f, 1.0f, 1.41421356237309504880f, 0.044715f,
                                          0.79788456080286535588f};
static const char *const g_const_name[MAX_CONSTS] = {"const_half", "const_one", "const_sqrt2",
                                                     "const_gelu_kappa", "const_sqrt_2_over_pi"};

/* The scalar initializer of constant k, added on first use. */
static char *constant(graph_parts *g, int k)
{
    for (size_t i = 0; i < g->n_inits; i++)
        if (strcmp(g->init_name[i], g_const_name[k]) == 0) return g->init_name[i];
    return add_init(g, g_const_name[k], &g_const[k], 0, 0, 0);
}

/* One node of layer l's activation: op on (a, b) (b NULL: one input) into layer<l>_<what>. */
static char *act_node(graph_parts *g, int l, const char *op, const char *what, char *a, char *b)
{
    char name[NAME_SIZE];
    snprintf(name, sizeof name, "layer%d_%s", l, what);
    char *in[2] = {a, b};
    return add_node(g, op, name, in, b ? 2 : 1, name, NULL, 0);
}

/* Hidden layer l's activation on its z (torch.onnx's graphs of the same functions); the last
 * node writes layer<l>_a. Opset 13 has no Gelu, SiLU or Swish: those are their formulas. */
static char *activation_graph(graph_parts *g, const nnd_model *m, int l, char *z)
{
    char name[NAME_SIZE], out[NAME_SIZE];
    snprintf(name, sizeof name, "layer%d_%s", l, nnd_activation_name(m->act));
    snprintf(out, sizeof out, "layer%d_a", l);
    char *x = z, *in[2];
    switch (m->act) {
    case NND_ACT_GELU: /* 0.5 x (1 + erf(x / sqrt 2)) */
        x = act_node(g, l, "Div", "gelu_div", z, constant(g, K_SQRT2));
        x = act_node(g, l, "Erf", "gelu_erf", x, NULL);
        x = act_node(g, l, "Add", "gelu_add", x, constant(g, K_ONE));
        x = act_node(g, l, "Mul", "gelu_mul", z, x);
        in[0] = x;
        in[1] = constant(g, K_HALF);
        return add_node(g, "Mul", name, in, 2, out, NULL, 0);
    case NND_ACT_GELU_TANH: /* 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))) */
        x = act_node(g, l, "Mul", "gelu_tanh_sq", z, z);
        x = act_node(g, l, "Mul", "gelu_tanh_cube", x, z);
        x = act_node(g, l, "Mul", "gelu_tanh_kappa", x, constant(g, K_KAPPA));
        x = act_node(g, l, "Add", "gelu_tanh_sum", z, x);
        x = act_node(g, l, "Mul", "gelu_tanh_inner", x, constant(g, K_SQRT_2_PI));
        x = act_node(g, l, "Tanh", "gelu_tanh_tanh", x, NULL);
        x = act_node(g, l, "Add", "gelu_tanh_add", x, constant(g, K_ONE));
        x = act_node(g, l, "Mul", "gelu_tanh_mul", z, x);
        in[0] = x;
        in[1] = constant(g, K_HALF);
        return add_node(g, "Mul", name, in, 2, out, NULL, 0);
    case NND_ACT_SILU: /* x sigmoid(x) */
        x = act_node(g, l, "Sigmoid", "silu_sigmoid", z, NULL);
        in[0] = z;
        in[1] = x;
        return add_node(g, "Mul", name, in, 2, out, NULL, 0);
    case NND_ACT_LEAKY_RELU:
        x = add_node(g, "LeakyRelu", name, &z, 1, out, NULL, 0);
        set_float_attr(g, "alpha", (float)m->act_param);
        return x;
    case NND_ACT_ELU:
        x = add_node(g, "Elu", name, &z, 1, out, NULL, 0);
        set_float_attr(g, "alpha", (float)m->act_param);
        return x;
    case NND_ACT_TANH:
        return add_node(g, "Tanh", name, &z, 1, out, NULL, 0);
    case NND_ACT_SIGMOID:
        return add_node(g, "Sigmoid", name, &z, 1, out, NULL, 0);
    default:
        return add_node(g, "Relu", name, &z, 1, out, NULL, 0);
    }
}

/* Hidden layer l's normalization after its Gemm (input z): LayerNormalization(z, γ, β), or for
 * inference BatchNormalization(z, γ, β, running mean, running variance); epsilon 1e-5 (layer
 * norm's axis is -1, the default). Returns its output. */
static char *norm_graph(graph_parts *g, const nnd_model *m, int l, char *z)
{
    const size_t w = m->sizes[l + 1];
    const int batch = m->norm == NND_NORM_BATCH;
    const char *what[4] = {"gamma", "beta", "running_mean", "running_var"};
    const float *data[4] = {m->params + m->g_off[l], m->params + m->be_off[l],
                            batch ? m->running_mean[l] : NULL, batch ? m->running_var[l] : NULL};
    char *in[5] = {z, NULL, NULL, NULL, NULL}, name[NAME_SIZE], value[NAME_SIZE];
    const int n_in = batch ? 5 : 3;
    for (int k = 0; k + 1 < n_in; k++) {
        snprintf(name, sizeof name, "layer%d_%s", l, what[k]);
        in[k + 1] = add_init(g, name, data[k], 1, w, 0);
    }
    snprintf(name, sizeof name, "layer%d_%s", l, batch ? "batchnorm" : "layernorm");
    snprintf(value, sizeof value, "layer%d_y", l);
    char *y = add_node(g, batch ? "BatchNormalization" : "LayerNormalization", name, in, n_in,
                       value, NULL, 0);
    set_float_attr(g, "epsilon", (float)NND_NORM_EPS);
    return y;
}

/* The nodes and initializers of m, in the order the values flow. */
static void build_graph(graph_parts *g, const nnd_model *m, const nnd_onnx_options *o)
{
    char name[NAME_SIZE], value[NAME_SIZE];
    char *x = (char *)"input";
    const size_t d = m->sizes[0];
    if (o->mean && o->std) {
        /* Div by std, not Mul by its reciprocal: the same float32 operations as nndist's, so the
         * same bits. */
        char *sub_in[2] = {x, add_init(g, "standardize_mean", o->mean, 1, d, 0)};
        x = add_node(g, "Sub", "standardize_sub", sub_in, 2, "input_centered", NULL, 0);
        char *div_in[2] = {x, add_init(g, "standardize_std", o->std, 1, d, 0)};
        x = add_node(g, "Div", "standardize_div", div_in, 2, "input_standardized", NULL, 0);
    }
    for (int l = 0; l < m->n_layers; l++) {
        const size_t nin = m->sizes[l], nout = m->sizes[l + 1];
        const int last = l + 1 == m->n_layers;
        char *gemm_in[3] = {x, NULL, NULL};
        snprintf(name, sizeof name, "layer%d_W", l);
        gemm_in[1] = add_init(g, name, m->params + m->w_off[l], 2, nout, nin);
        snprintf(name, sizeof name, "layer%d_b", l);
        gemm_in[2] = add_init(g, name, m->params + m->b_off[l], 1, nout, 0);
        /* Z = x W^T + b with W stored (out, in), torch.nn.Linear's layout: transB. */
        snprintf(name, sizeof name, "layer%d_gemm", l);
        snprintf(value, sizeof value, "layer%d_z", l);
        x = add_node(g, "Gemm", name, gemm_in, 3, last ? (o->softmax ? "logits" : "output") : value,
                     "transB", 1);
        if (last) break;
        if (m->norm != NND_NORM_NONE) x = norm_graph(g, m, l, x);
        x = activation_graph(g, m, l, x);
    }
    if (o->softmax) x = add_node(g, "Softmax", "softmax", &x, 1, "output", "axis", 1);

    set_io(&g->in, "input", d);
    set_io(&g->out, "output", m->sizes[m->n_layers]);
    onnx__graph_proto__init(&g->graph);
    g->graph.name = (char *)"nndist";
    g->graph.doc_string = o->doc ? (char *)o->doc : NULL;
    g->graph.n_node = g->n_nodes;
    g->graph.node = g->node_ptr;
    g->graph.n_initializer = g->n_inits;
    g->graph.initializer = g->init_ptr;
    g->graph.n_input = 1;
    g->in_ptr = &g->in.info;
    g->out_ptr = &g->out.info;
    g->graph.input = &g->in_ptr;
    g->graph.n_output = 1;
    g->graph.output = &g->out_ptr;
}

int nnd_onnx_opset(const nnd_model *m, int *ir)
{
    const int norm = m->norm == NND_NORM_LAYER;
    if (ir) *ir = norm ? NND_ONNX_IR_NORM : NND_ONNX_IR_VERSION;
    return norm ? NND_ONNX_OPSET_NORM : NND_ONNX_OPSET;
}

nnd_status nnd_onnx_build(const nnd_model *m, const nnd_onnx_options *o, const char *name,
                          uint8_t **bytes, size_t *len)
{
    *bytes = NULL;
    *len = 0;
    if (m->n_layers < 1 || m->n_layers > NND_MAX_LAYERS || m->act >= NND_ACT_COUNT)
        return nnd_err_set(NND_ERR_INTERNAL, "%s: not a model to export", name);
    graph_parts *g = calloc(1, sizeof *g);
    if (!g) return nnd_err_set(NND_ERR_NOMEM, "cannot allocate the ONNX graph of %s", name);
    nnd_status st = NND_OK;
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    g->swapped =
        malloc((m->n_params + m->n_running + 2 * m->sizes[0] + MAX_CONSTS) * sizeof(float));
    if (!g->swapped) {
        free(g);
        return nnd_err_set(NND_ERR_NOMEM, "cannot allocate the ONNX weights of %s", name);
    }
#endif
    build_graph(g, m, o);
    Onnx__ModelProto *mp = &g->model;
    onnx__model_proto__init(mp);
    onnx__operator_set_id_proto__init(&g->opset);
    g->opset.has_version = 1;
    int ir = 0;
    g->opset.version = nnd_onnx_opset(m, &ir); /* the default domain (ai.onnx): no domain string */
    g->opset_ptr = &g->opset;
    mp->has_ir_version = 1;
    mp->ir_version = ir;
    mp->producer_name = (char *)"nndist";
    mp->producer_version = (char *)NNDIST_VERSION;
    mp->graph = &g->graph;
    mp->n_opset_import = 1;
    mp->opset_import = &g->opset_ptr;
    /* Readers parse one message of at most 2 GiB (protobuf's int32 sizes); larger models would
     * need ONNX's external data, which this export does not write. */
    size_t size = onnx__model_proto__get_packed_size(mp);
    if (size > (size_t)INT32_MAX) {
        st = nnd_err_set(NND_ERR_INPUT,
                         "%s: its ONNX file would be %zu bytes (%zu parameters), over protobuf's "
                         "2 GiB limit on one message",
                         name, size, m->n_params);
    } else if (!(*bytes = malloc(size + 1))) {
        st = nnd_err_set(NND_ERR_NOMEM, "cannot allocate %zu bytes for the ONNX file of %s", size,
                         name);
    } else if (onnx__model_proto__pack(mp, *bytes) != size) {
        free(*bytes);
        *bytes = NULL;
        st = nnd_err_set(NND_ERR_INTERNAL,
                         "%s: the ONNX encoder wrote another size than it "
                         "announced",
                         name);
    } else {
        *len = size;
    }
    free(g->swapped);
    free(g);
    return st;
}
