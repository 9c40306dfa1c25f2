/* A multi-layer perceptron over flat arenas (docs/design.md, invariant 6).
 *
 * Layer l (0-based) maps sizes[l] inputs to sizes[l+1] outputs:
 *   Z_l (n, out) = A_{l-1} (n, in) * W_l (out, in)^T + b_l (out)
 *   A_l = act(Z_l) for hidden layers; the last layer is linear (its Z is the model output).
 * All parameters live in one buffer (layer 0's W then b, layer 1's W then b, ...), gradients in
 * a second buffer of the same layout, so one allreduce and one optimizer loop cover them.
 * W is stored [out, in], torch.nn.Linear's layout. */
#ifndef NNDIST_MODEL_H
#define NNDIST_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "nndist/activation.h"
#include "nndist/dropout.h"
#include "nndist/error.h"
#include "nndist/norm.h"

#define NND_MAX_LAYERS 32
/* Floats after the gradient in grads: room for per-step statistics (sample count, loss sum, ...)
 * that ride along in the gradient's single allreduce. */
#define NND_GRAD_TAIL 8

typedef struct {
    int n_layers;                     /* dense layers; sizes has n_layers + 1 entries */
    size_t sizes[NND_MAX_LAYERS + 1]; /* sizes[0] = input features, sizes[n] = outputs */
    nnd_activation act;               /* hidden-layer activation (fixed from init on) */
    double act_param;                 /* its parameter (activation.h), used as a float */
    size_t n_params;                  /* floats in params (and in grads) */
    size_t w_off[NND_MAX_LAYERS];     /* offset of W_l in params */
    size_t b_off[NND_MAX_LAYERS];     /* offset of b_l in params */
    /* The hidden layers' normalization (norm.h): with one, hidden layer l's γ and β (sizes[l+1]
     * each) follow its b in params, at g_off[l] and be_off[l]. */
    nnd_norm_kind norm;
    size_t g_off[NND_MAX_LAYERS], be_off[NND_MAX_LAYERS];
    /* Every tensor in params in order (W_0, b_0, [γ_0, β_0,] W_1, ...): tensor t spans
     * [tensor_off[t], tensor_off[t + 1]), tensor_off[n_tensors] = n_params. */
    int n_tensors;
    size_t tensor_off[4 * NND_MAX_LAYERS + 1];
    /* --precision bf16: the forward and backward products take bf16 operands with float32
     * accumulation (gemm_bf16.h); the weights, gradients and everything else stay float32. */
    int bf16;
    float *params; /* owned unless shared, 64-byte aligned */
    float *grads;  /* owned unless shared; n_params + NND_GRAD_TAIL floats:
                      the sums over the local samples of a step, then the
                      tail */
    int shared;    /* params and grads live in node-shared memory (the trainer's), not freed here */
    /* Workspace for batches of up to max_batch samples (nnd_model_reserve). */
    size_t max_batch;
    float *acts[NND_MAX_LAYERS + 1]; /* acts[l+1] = A_l (max_batch, sizes[l+1]); acts[0] the
                                        standardized input (max_batch, sizes[0]) when the model
                                        standardizes, else unused */
    float *pre[NND_MAX_LAYERS];      /* pre[l] = Z_l (max_batch, sizes[l+1]) of the hidden layers
                                        when the activation keeps it (nnd_activation_keeps_z:
                                        backward needs it); NULL otherwise */
    float *delta[2];                 /* ping-pong dZ buffers (max_batch, widest layer) */
    /* The deterministic mode's backward keeps every layer's dZ (nnd_model_reserve_deltas):
     * dz[l] (max_batch, sizes[l+1]) for the hidden layers, owned; dz_top is the loss gradient
     * of the last nnd_model_backward_deltas (borrowed). */
    float *dz[NND_MAX_LAYERS];
    float *dz_top;
    /* The input standardization (train --standardize; standardize.h): x' = (x - in_mean) /
     * in_std per feature, in float32, applied by nnd_model_forward to the batch it is given (into
     * acts[0], which the backward pass then reads as layer 0's input), so that every caller
     * passes raw features. Both NULL when the model has none; owned. */
    float *in_mean, *in_std;
    /* Dropout (dropout.h): drop_p[l] for hidden layer l (0: none), applied by nnd_model_forward
     * only while draw is set (the trainer sets it around a step's forward and backward; eval,
     * predict and validation leave it NULL). A ReLU layer is dropped in place (acts[l+1] holds
     * D: D > 0 exactly where ReLU's derivative and the mask both pass); the other activations
     * keep A in acts[l+1] for their derivative, D in dropped[l] and the mask in keep[l]. drawn
     * says whether the last forward pass dropped, so backward reads the same buffers.
     * row_key (max_batch) is the sample keys of the layer being dropped. */
    double drop_p[NND_MAX_LAYERS];
    double drop_input; /* the input's (--input-dropout), into input_dropped (max_batch, sizes[0]) */
    float *input_dropped;
    const nnd_dropout_draw *draw;
    int drawn;
    /* The normalization's workspace: x̂ (max_batch, sizes[l+1]) of hidden layer l, its 1 / std
     * (layer norm: per row, max_batch; batch norm: per unit, sizes[l+1]) and batch norm's mean
     * (sizes[l+1]), and zeros for the activation's pass (no bias left to add); batch norm's
     * sums (2 widest + 1 doubles) and their means (2 widest floats). */
    float *xhat[NND_MAX_LAYERS], *rstd[NND_MAX_LAYERS], *bn_mean[NND_MAX_LAYERS], *zeros;
    double *bn_sums;
    float *bn_means;
    /* Batch norm's running mean and variance (norm.h), in one buffer of n_running floats:
     * running_mean[l] and running_var[l] (sizes[l+1] each) of the hidden layers, saved with the
     * model (owned; NULL without batch norm). training selects the batch's statistics (set by
     * the trainer around a step's passes; eval, predict and validation leave it 0 and use the
     * running ones). sum_ranks adds n doubles over the ranks that share the batch, in place
     * (NULL: this process holds the whole batch); bn_count is the samples of the last
     * training pass. */
    float *running, *running_mean[NND_MAX_LAYERS], *running_var[NND_MAX_LAYERS];
    size_t n_running;
    int training;
    void (*sum_ranks)(double *v, size_t n, void *ctx);
    void *sum_ctx;
    double bn_count;
    float *dropped[NND_MAX_LAYERS];
    uint8_t *keep[NND_MAX_LAYERS];
    uint64_t *row_key;
} nnd_model;

/* Sets up the shapes and allocates params and grads (zeroed). sizes has n_layers + 1 entries.
 * act_param is act's default (set it before the first forward for another). nnd_model_free is
 * safe after a failed init. */
nnd_status nnd_model_init(nnd_model *m, const size_t *sizes, int n_layers, nnd_activation act);
/* The same with a normalization of the hidden layers (γ and β in params). */
nnd_status nnd_model_init_norm(nnd_model *m, const size_t *sizes, int n_layers, nnd_activation act,
                               nnd_norm_kind norm);
void nnd_model_free(nnd_model *m);
/* Allocates the activation workspace for batches of up to max_batch samples (idempotent): A of
 * every layer, Z of the hidden layers too when the activation keeps it, and dropout's buffers
 * for the layers of drop_p (set drop_p first). */
nnd_status nnd_model_reserve(nnd_model *m, size_t max_batch);

/* How the weights start (train --init), each drawn from the counter-based generator: a pure
 * function of (seed, layer, element), so the same on any rank count (γ = 1, β = 0 as torch's).
 *   torch   torch.nn.Linear's default: W and b ~ U(-1/sqrt(in), 1/sqrt(in))
 *   he      torch.nn.init.kaiming_uniform_(W, nonlinearity='relu'):
 *           W ~ U(-sqrt(6/in), sqrt(6/in)); b = 0
 *   xavier  torch.nn.init.xavier_uniform_(W): W ~ U(-sqrt(6/(in+out)), sqrt(6/(in+out))); b = 0 */
typedef enum { NND_INIT_TORCH, NND_INIT_HE, NND_INIT_XAVIER, NND_INIT_COUNT } nnd_init_scheme;

const char *nnd_init_scheme_name(nnd_init_scheme s);
/* Returns 0 and sets *out for "torch", "he" or "xavier"; -1 otherwise. */
int nnd_init_scheme_parse(const char *name, nnd_init_scheme *out);
void nnd_model_init_scheme(nnd_model *m, uint64_t seed, nnd_init_scheme scheme);
/* nnd_model_init_scheme with NND_INIT_TORCH. */
void nnd_model_init_params(nnd_model *m, uint64_t seed);

/* Forward pass of n samples X (n, sizes[0]); returns the output (n, sizes[n_layers]) (borrowed,
 * valid until the next forward). n <= max_batch. With draw set, the hidden layers of drop_p
 * drop units (draw->sample holds the n samples' rows). */
const float *nnd_model_forward(nnd_model *m, const float *X, size_t n);

/* Backward pass after nnd_model_forward on the same X: dout (n, outputs) is dLoss/dOutput
 * (it may be overwritten). Writes grads = the gradient summed over the n samples.
 * The input's gradient is not computed (nobody needs it). n == 0 zeroes grads. */
void nnd_model_backward(nnd_model *m, const float *X, float *dout, size_t n);
/* The same, calling layer_done(ctx, l) as soon as layer l's gradient (W_l and b_l) is final,
 * from the last layer down to layer 0 (for reductions that overlap the rest of the pass). */
void nnd_model_backward_hooked(nnd_model *m, const float *X, float *dout, size_t n,
                               void (*layer_done)(void *ctx, int layer), void *ctx);

/* The deterministic mode's backward, in two halves (docs/design.md, "Deterministic mode").
 * nnd_model_reserve_deltas allocates dz for batches of max_batch samples (after
 * nnd_model_reserve). nnd_model_backward_deltas, after nnd_model_forward on the same n samples,
 * computes every layer's dZ into dz (dout becomes dz_top; each sample's row depends on that
 * sample alone). nnd_model_weight_grad then writes rows [o0, o1) of layer l's dW summed over
 * rows [r0, r1) of the batch into dW ((o1 - o0, in)), and nnd_model_bias_grad its db (out) over
 * the same rows, the rows added in their order whatever the thread count: a unit's gradient,
 * a block of W at a time. */
nnd_status nnd_model_reserve_deltas(nnd_model *m);
void nnd_model_backward_deltas(nnd_model *m, float *dout, size_t n);
void nnd_model_weight_grad(const nnd_model *m, const float *X, int l, size_t r0, size_t r1,
                           size_t o0, size_t o1, float *dW);
void nnd_model_bias_grad(const nnd_model *m, int l, size_t r0, size_t r1, float *db);
/* The activation that enters layer l (X for layer 0; after dropout when the last forward pass
 * dropped) and the dZ of layer l, of the last batch (for their largest magnitudes). */
const float *nnd_model_layer_input(const nnd_model *m, const float *X, int l);
const float *nnd_model_layer_dz(const nnd_model *m, int l);

/* Allocates in_mean and in_std (sizes[0] floats each, mean 0 and std 1) unless present, and
 * acts[0] for the reserved batch. */
nnd_status nnd_model_alloc_standardization(nnd_model *m);
void nnd_model_drop_standardization(nnd_model *m);
/* Replaces the standardization with mean and std (sizes[0] floats from nnd_alloc_floats, owned
 * from now on, even on failure; NULL: none). */
nnd_status nnd_model_set_standardization(nnd_model *m, float *mean, float *std);
/* Standardizes n samples x (n, sizes[0]) into out (x itself allowed) with the model's in_mean
 * and in_std (a model without them: nothing happens): each element (x - mean) / std in float32,
 * so that every program that applies the same two vectors (an ONNX Sub and Div) gets the same
 * bits. */
void nnd_model_standardize(const nnd_model *m, const float *x, float *out, size_t n);

/* True when every parameter is finite. */
int nnd_model_params_finite(const nnd_model *m);

#endif
