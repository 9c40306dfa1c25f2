/* A model as an ONNX graph (docs/file-formats.md, "ONNX export").
 *
 * The graph computes what nnd_model_forward computes, in float32:
 *   input (N, D)  [-> Sub(mean) -> Div(std)]          when standardization is given
 *   -> Gemm(W_0, b_0, transB=1)                       each hidden layer
 *   [-> LayerNormalization(γ_0, β_0, eps 1e-5)]       with --norm layer
 *   [-> BatchNormalization(γ_0, β_0, running mean, running var, eps 1e-5)]  --norm batch
 *   -> the activation
 *   -> Gemm(W_L, b_L, transB=1)                       the last layer, linear
 *   [-> Softmax(axis=1)]                              when asked
 *   -> output (N, K)
 * The activation is one node (Relu, Tanh, Sigmoid, LeakyRelu and Elu with alpha) or, where
 * opset 13 has no operator, its formula: gelu Div(sqrt 2), Erf, Add(1), Mul(x), Mul(0.5);
 * gelu-tanh Mul, Mul (x^3), Mul(0.044715), Add(x), Mul(sqrt(2/pi)), Tanh, Add(1), Mul(x),
 * Mul(0.5); silu Sigmoid, Mul(x); the constants are scalar initializers named const_*.
 * N is a symbolic dimension (any batch). Weights are initializers of float32 little-endian
 * bytes, W_l in its stored (out, in) layout. Opset NND_ONNX_OPSET of the default domain, IR
 * version NND_ONNX_IR_VERSION; a model with layer norm needs LayerNormalization, which came
 * with opset 17 (IR version 8): nnd_onnx_opset says which. */
#ifndef NNDIST_ONNX_EXPORT_H
#define NNDIST_ONNX_EXPORT_H

#include <stddef.h>
#include <stdint.h>

#include "nndist/error.h"
#include "nndist/model.h"

/* Opset 13 has every operator the graph uses in its current form (Softmax over one axis);
 * IR version 7 is the one released with opset 13, so every reader of that opset reads it. */
#define NND_ONNX_OPSET      13
#define NND_ONNX_IR_VERSION 7
#define NND_ONNX_OPSET_NORM 17
#define NND_ONNX_IR_NORM    8

/* The opset m's graph is written in (and its IR version into *ir when not NULL). */
int nnd_onnx_opset(const nnd_model *m, int *ir);

typedef struct {
    int softmax;       /* append Softmax(axis=1): probabilities instead of logits */
    const float *mean; /* input standardization x' = (x - mean) / std, sizes[0] floats each; */
    const float *std;  /*   both NULL for none (borrowed) */
    const char *doc;   /* the graph's doc_string (where the model came from); may be NULL */
} nnd_onnx_options;

/* Serializes m as an ONNX model into *bytes (malloc'd, the caller frees) of *len bytes.
 * name names the model in messages. Refuses a model whose file would pass protobuf's 2 GiB
 * limit on one message. *bytes is NULL after a failure. */
nnd_status nnd_onnx_build(const nnd_model *m, const nnd_onnx_options *o, const char *name,
                          uint8_t **bytes, size_t *len);

#endif
