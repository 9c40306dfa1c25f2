#include "nndist/model.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "nndist/alloc.h"
#include "nndist/gemm.h"
#include "nndist/gemm_bf16.h"
#include "nndist/rng.h"

#include "kernels/elementwise.h"

#include "model_internal.h"

nnd_status nnd_model_init_norm(nnd_model *m, const size_t *sizes, int n_layers, nnd_activation act,
                               nnd_norm_kind norm)
{
    memset(m, 0, sizeof *m);
    if (n_layers < 1 || n_layers > NND_MAX_LAYERS)
        return nnd_err_set(NND_ERR_USAGE, "a model needs 1 to %d layers, got %d", NND_MAX_LAYERS,
                           n_layers);
    m->n_layers = n_layers;
    m->act = act;
    m->act_param = nnd_activation_default_param(act);
    m->norm = norm;
    size_t off = 0;
    for (int l = 0; l <= n_layers; l++) {
        if (sizes[l] == 0 || sizes[l] > (1u << 24))
            return nnd_err_set(NND_ERR_USAGE, "layer width %zu out of range 1..%u", sizes[l],
                               1u << 24);
        m->sizes[l] = sizes[l];
    }
    for (int l = 0; l < n_layers; l++) {
        size_t in = sizes[l], out = sizes[l + 1];
        m->tensor_off[m->n_tensors++] = m->w_off[l] = off;
        off += in * out;
        m->tensor_off[m->n_tensors++] = m->b_off[l] = off;
        off += out;
        if (norm != NND_NORM_NONE && l + 1 < n_layers) {
            m->tensor_off[m->n_tensors++] = m->g_off[l] = off;
            off += out;
            m->tensor_off[m->n_tensors++] = m->be_off[l] = off;
            off += out;
        }
        if (off > ((size_t)1 << 34))
            return nnd_err_set(NND_ERR_USAGE, "model too large: more than 2^34 parameters");
    }
    m->tensor_off[m->n_tensors] = off;
    m->n_params = off;
    m->params = nnd_alloc_floats(off);
    m->grads = nnd_alloc_floats(off + NND_GRAD_TAIL);
    if (!m->params || !m->grads || nnd_model_norm_alloc_running(m))
        return nnd_err_set(NND_ERR_NOMEM, "cannot allocate %zu parameters", off);
    return NND_OK;
}

nnd_status nnd_model_init(nnd_model *m, const size_t *sizes, int n_layers, nnd_activation act)
{
    return nnd_model_init_norm(m, sizes, n_layers, act, NND_NORM_NONE);
}

void nnd_model_free(nnd_model *m)
{
    if (!m->shared) {
        free(m->params);
        free(m->grads);
    }
    nnd_model_drop_standardization(m); /* frees acts[0] too */
    for (int l = 1; l <= NND_MAX_LAYERS; l++) free(m->acts[l]);
    for (int l = 0; l < NND_MAX_LAYERS; l++) free(m->pre[l]);
    free(m->delta[0]);
    free(m->delta[1]);
    for (int l = 0; l < NND_MAX_LAYERS; l++) {
        free(m->dz[l]);
        free(m->dropped[l]);
        free(m->keep[l]);
    }
    nnd_model_norm_free(m);
    free(m->row_key);
    free(m->input_dropped);
    memset(m, 0, sizeof *m);
}

nnd_status nnd_model_alloc_standardization(nnd_model *m)
{
    if (m->in_mean) return NND_OK;
    size_t d = m->sizes[0];
    m->in_mean = nnd_alloc_floats(d);
    m->in_std = nnd_alloc_floats(d);
    if (m->max_batch) m->acts[0] = nnd_alloc_floats(m->max_batch * d);
    if (!m->in_mean || !m->in_std || (m->max_batch && !m->acts[0])) {
        nnd_model_drop_standardization(m);
        return nnd_err_set(NND_ERR_NOMEM, "cannot allocate the standardization of %zu features", d);
    }
    for (size_t j = 0; j < d; j++) {
        m->in_mean[j] = 0.0f;
        m->in_std[j] = 1.0f;
    }
    return NND_OK;
}

nnd_status nnd_model_set_standardization(nnd_model *m, float *mean, float *std)
{
    nnd_model_drop_standardization(m);
    m->in_mean = mean;
    m->in_std = std;
    if (!mean || !m->max_batch) return NND_OK;
    m->acts[0] = nnd_alloc_floats(m->max_batch * m->sizes[0]);
    if (m->acts[0]) return NND_OK;
    nnd_model_drop_standardization(m);
    return nnd_err_set(NND_ERR_NOMEM, "cannot allocate the standardized input of %zu samples",
                       m->max_batch);
}

void nnd_model_drop_standardization(nnd_model *m)
{
    free(m->in_mean);
    free(m->in_std);
    free(m->acts[0]);
    m->in_mean = m->in_std = NULL;
    m->acts[0] = NULL;
}

void nnd_model_standardize(const nnd_model *m, const float *x, float *out, size_t n)
{
    if (!m->in_mean) return;
    size_t d = m->sizes[0];
    const float *mean = m->in_mean, *sd = m->in_std;
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < d; j++) out[i * d + j] = (x[i * d + j] - mean[j]) / sd[j];
}

nnd_status nnd_model_reserve(nnd_model *m, size_t max_batch)
{
    if (max_batch <= m->max_batch) return NND_OK;
    size_t widest = 0;
    for (int l = 1; l <= m->n_layers; l++) widest = m->sizes[l] > widest ? m->sizes[l] : widest;
    for (int l = m->in_mean ? 0 : 1; l <= m->n_layers; l++) {
        free(m->acts[l]);
        m->acts[l] = nnd_alloc_floats(max_batch * m->sizes[l]);
        if (!m->acts[l]) goto nomem;
    }
    for (int l = 0; l + 1 < m->n_layers && nnd_activation_keeps_z(m->act); l++) {
        free(m->pre[l]);
        m->pre[l] = nnd_alloc_floats(max_batch * m->sizes[l + 1]);
        if (!m->pre[l]) goto nomem;
    }
    for (int i = 0; i < 2; i++) {
        free(m->delta[i]);
        m->delta[i] = nnd_alloc_floats(max_batch * widest);
        if (!m->delta[i]) goto nomem;
    }
    if (m->drop_input > 0.0) {
        free(m->input_dropped);
        m->input_dropped = nnd_alloc_floats(max_batch * m->sizes[0]);
        if (!m->input_dropped) goto nomem;
    }
    if (nnd_dropout_any(m->drop_p, m->n_layers - 1) || m->drop_input > 0.0) {
        free(m->row_key);
        m->row_key = malloc(max_batch * sizeof *m->row_key);
        if (!m->row_key) goto nomem;
    }
    for (int l = 0; l + 1 < m->n_layers && m->act != NND_ACT_RELU; l++) {
        if (!(m->drop_p[l] > 0.0)) continue;
        free(m->dropped[l]);
        free(m->keep[l]);
        m->dropped[l] = nnd_alloc_floats(max_batch * m->sizes[l + 1]);
        m->keep[l] = malloc(max_batch * m->sizes[l + 1]);
        if (!m->dropped[l] || !m->keep[l]) goto nomem;
    }
    if (nnd_model_norm_reserve(m, max_batch, widest)) goto nomem;
    m->max_batch = max_batch;
    return NND_OK;
nomem:
    m->max_batch = 0;
    return nnd_err_set(NND_ERR_NOMEM, "cannot allocate activations for a batch of %zu samples",
                       max_batch);
}

static const char *const g_init_names[NND_INIT_COUNT] = {"torch", "he", "xavier"};

const char *nnd_init_scheme_name(nnd_init_scheme s)
{
    return (unsigned)s < NND_INIT_COUNT ? g_init_names[s] : "?";
}

int nnd_init_scheme_parse(const char *name, nnd_init_scheme *out)
{
    for (int i = 0; i < NND_INIT_COUNT; i++)
        if (strcmp(name, g_init_names[i]) == 0) {
            *out = (nnd_init_scheme)i;
            return 0;
        }
    return -1;
}

void nnd_model_init_scheme(nnd_model *m, uint64_t seed, nnd_init_scheme scheme)
{
    for (int l = 0; l < m->n_layers; l++) {
        size_t in = m->sizes[l], out = m->sizes[l + 1];
        /* The bound of U(-bound, bound) for W; torch's draws b from the same range. */
        float bound = scheme == NND_INIT_HE       ? sqrtf(6.0f / (float)in)
                      : scheme == NND_INIT_XAVIER ? sqrtf(6.0f / (float)(in + out))
                                                  : 1.0f / sqrtf((float)in);
        float bias_bound = scheme == NND_INIT_TORCH ? bound : 0.0f;
        float *W = m->params + m->w_off[l], *b = m->params + m->b_off[l];
        for (size_t i = 0; i < in * out; i++)
            W[i] =
                (2.0f * nnd_rng_uniform(seed, NND_RNG_INIT_WEIGHT, (uint64_t)l, i) - 1.0f) * bound;
        for (size_t i = 0; i < out; i++)
            b[i] = (2.0f * nnd_rng_uniform(seed, NND_RNG_INIT_BIAS, (uint64_t)l, i) - 1.0f) *
                   bias_bound;
        if (m->norm == NND_NORM_NONE || l + 1 == m->n_layers) continue;
        for (size_t i = 0; i < out; i++) {
            m->params[m->g_off[l] + i] = 1.0f;
            m->params[m->be_off[l] + i] = 0.0f;
        }
    }
}

void nnd_model_init_params(nnd_model *m, uint64_t seed)
{
    nnd_model_init_scheme(m, seed, NND_INIT_TORCH);
}

void nnd_model_product(const nnd_model *m, int trans_a, int trans_b, size_t M, size_t N, size_t K,
                       float alpha, const float *A, size_t lda, const float *B, size_t ldb,
                       float *C, size_t ldc, const nnd_gemm_epilogue *ep)
{
    if (!m->bf16) {
        nnd_sgemm_fused(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, 0.0f, C, ldc, ep);
        return;
    }
    nnd_sgemm_bf16_fused(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, 0.0f, C, ldc, ep);
}

/* 1 when hidden layer l's output was dropped in the last forward pass. */
static int dropped_in_pass(const nnd_model *m, int l)
{
    return m->drawn && m->drop_p[l] > 0.0;
}

/* Dropout on hidden layer l's output A (n rows): in place for ReLU, else into dropped[l] with
 * its mask. Returns what the next layer reads. */
static const float *drop_units(nnd_model *m, int l, float *A, size_t n)
{
    const uint64_t key = nnd_dropout_layer_key(m->draw->seed, m->draw->step, l);
    for (size_t i = 0; i < n; i++) m->row_key[i] = nnd_dropout_sample_key(key, m->draw->sample[i]);
    const int in_place = m->act == NND_ACT_RELU;
    float *D = in_place ? A : m->dropped[l];
    nnd_ew()->dropout_forward(A, D, in_place ? NULL : m->keep[l], m->row_key, n, m->sizes[l + 1],
                              nnd_dropout_threshold(m->drop_p[l]), nnd_dropout_scale(m->drop_p[l]));
    return D;
}

/* Dropout on the input (its key's layer is NND_DROPOUT_INPUT_LAYER) into input_dropped, which
 * layer 0 then reads; nothing flows back to the input. */
static const float *drop_input(nnd_model *m, const float *in, size_t n)
{
    const uint64_t key =
        nnd_dropout_layer_key(m->draw->seed, m->draw->step, NND_DROPOUT_INPUT_LAYER);
    for (size_t i = 0; i < n; i++) m->row_key[i] = nnd_dropout_sample_key(key, m->draw->sample[i]);
    nnd_ew()->dropout_forward(in, m->input_dropped, NULL, m->row_key, n, m->sizes[0],
                              nnd_dropout_threshold(m->drop_input),
                              nnd_dropout_scale(m->drop_input));
    return m->input_dropped;
}

/* dA of hidden layer l's output: dZ (n, out of layer l + 1) times W_{l+1}, through dropout's
 * mask when the pass dropped, then through the activation's derivative. ReLU's mask is its
 * output (after dropout, which zeroed the dropped units) and dropout's scale the GEMM's alpha. */
static void hidden_delta(nnd_model *m, int l, const float *dZ, float *dA, size_t n)
{
    const size_t nin = m->sizes[l + 1], nout = m->sizes[l + 2];
    const float *W = m->params + m->w_off[l + 1];
    const int drops = dropped_in_pass(m, l);
    if (m->act == NND_ACT_RELU) {
        const float alpha = drops ? nnd_dropout_scale(m->drop_p[l]) : 1.0f;
        const nnd_gemm_epilogue ep = {.relu_mask = m->acts[l + 1], .ld_mask = nin};
        nnd_model_product(m, 0, 0, n, nin, nout, alpha, dZ, nout, W, nin, dA, nin, &ep);
        return;
    }
    nnd_model_product(m, 0, 0, n, nin, nout, 1.0f, dZ, nout, W, nin, dA, nin, NULL);
    if (drops) nnd_ew()->dropout_backward(dA, m->keep[l], n * nin, nnd_dropout_scale(m->drop_p[l]));
    nnd_ew()->act_backward(dA, m->acts[l + 1], m->pre[l], n * nin, m->act, (float)m->act_param);
}

/* hidden_delta, then through the normalization (dA becomes dZ) with γ's and β's gradients. */
static void hidden_delta_norm(nnd_model *m, int l, const float *dZ, float *dA, size_t n)
{
    hidden_delta(m, l, dZ, dA, n);
    if (m->norm != NND_NORM_NONE) nnd_model_norm_backward(m, l, dA, n);
}

const float *nnd_model_forward(nnd_model *m, const float *X, size_t n)
{
    const float *in = X;
    m->drawn = m->draw != NULL;
    if (n == 0) { /* a rank without samples still takes part in batch norm's sums */
        for (int l = 0; l + 1 < m->n_layers && m->norm != NND_NORM_NONE; l++)
            nnd_model_norm_forward(m, l, X, 0);
        return m->acts[m->n_layers];
    }
    if (m->in_mean) { /* the standardized input, which backward uses too */
        nnd_model_standardize(m, X, m->acts[0], n);
        in = m->acts[0];
    }
    if (m->drawn && m->drop_input > 0.0) in = drop_input(m, in, n);
    for (int l = 0; l < m->n_layers; l++) {
        size_t nin = m->sizes[l], nout = m->sizes[l + 1];
        float *A = m->acts[l + 1];
        const float *W = m->params + m->w_off[l], *b = m->params + m->b_off[l];
        const int hidden = l + 1 < m->n_layers;
        if (hidden && m->norm != NND_NORM_NONE) {
            nnd_model_norm_forward(m, l, in, n);
        } else if (!hidden || m->act == NND_ACT_RELU) {
            /* bias (+ ReLU) in the GEMM's epilogue, tile by tile */
            const nnd_gemm_epilogue ep = {.bias = b, .relu = hidden};
            nnd_model_product(m, 0, 1, n, nout, nin, 1.0f, in, nin, W, nin, A, nout, &ep);
        } else { /* the others in their own pass (most are libm calls); Z kept when needed */
            float *Z = m->pre[l] ? m->pre[l] : A;
            nnd_model_product(m, 0, 1, n, nout, nin, 1.0f, in, nin, W, nin, Z, nout, NULL);
            nnd_ew()->bias_act(Z, A, b, n, nout, m->act, (float)m->act_param);
        }
        in = hidden && dropped_in_pass(m, l) ? drop_units(m, l, A, n) : A;
    }
    return m->acts[m->n_layers];
}

void nnd_model_backward(nnd_model *m, const float *X, float *dout, size_t n)
{
    nnd_model_backward_hooked(m, X, dout, n, NULL, NULL);
}

void nnd_model_backward_hooked(nnd_model *m, const float *X, float *dout, size_t n,
                               void (*layer_done)(void *ctx, int layer), void *ctx)
{
    if (n == 0) { /* batch norm's sums in the order of a pass with samples */
        memset(m->grads, 0, m->n_params * sizeof *m->grads);
        for (int l = m->n_layers - 1; l >= 0; l--) {
            if (layer_done) layer_done(ctx, l);
            if (l > 0 && m->norm != NND_NORM_NONE) nnd_model_norm_backward(m, l - 1, m->grads, 0);
        }
        return;
    }
    const nnd_ew_kernels *ew = nnd_ew();
    float *dZ = dout;
    int ping = 0;
    for (int l = m->n_layers - 1; l >= 0; l--) {
        size_t nin = m->sizes[l], nout = m->sizes[l + 1];
        const float *A_prev = nnd_model_layer_input(m, X, l);
        /* dW (out, in) = dZ^T (out, n) * A_prev (n, in); db = sum over samples of dZ. */
        nnd_model_product(m, 1, 0, nout, nin, n, 1.0f, dZ, nout, A_prev, nin,
                          m->grads + m->w_off[l], nin, NULL);
        ew->column_sums(m->grads + m->b_off[l], dZ, n, nout);
        if (m->norm == NND_NORM_BATCH && l + 1 < m->n_layers)
            /* Batch norm subtracts the batch's mean, b with it: b's gradient is 0 exactly (Σ_i dZ
             * = 0 over the batch), and computed it is round-off, which adam-like optimizers
             * would blow up into a walk that differs with the rank count. */
            memset(m->grads + m->b_off[l], 0, nout * sizeof *m->grads);
        if (layer_done) layer_done(ctx, l);
        if (l == 0) break;
        /* dA_prev (n, in) = dZ (n, out) * W (out, in), then through the activation. */
        float *dA = m->delta[ping];
        ping ^= 1;
        hidden_delta_norm(m, l - 1, dZ, dA, n);
        dZ = dA;
    }
}

nnd_status nnd_model_reserve_deltas(nnd_model *m)
{
    for (int l = 0; l + 1 < m->n_layers; l++) {
        free(m->dz[l]);
        m->dz[l] = nnd_alloc_floats(m->max_batch * m->sizes[l + 1]);
        if (!m->dz[l])
            return nnd_err_set(NND_ERR_NOMEM, "cannot allocate the gradients of %zu samples",
                               m->max_batch);
    }
    return NND_OK;
}

const float *nnd_model_layer_input(const nnd_model *m, const float *X, int l)
{
    if (l > 0 && dropped_in_pass(m, l - 1) && m->dropped[l - 1]) return m->dropped[l - 1];
    if (l == 0 && m->drawn && m->drop_input > 0.0) return m->input_dropped;
    return l > 0 || m->in_mean ? m->acts[l] : X;
}

const float *nnd_model_layer_dz(const nnd_model *m, int l)
{
    return l + 1 == m->n_layers ? m->dz_top : m->dz[l];
}

void nnd_model_backward_deltas(nnd_model *m, float *dout, size_t n)
{
    m->dz_top = dout;
    /* dA_prev (n, in) = dZ (n, out) * W (out, in), then through the activation: row by row
     * (the GEMM's result for a row does not depend on the other rows). */
    for (int l = m->n_layers - 1; l > 0 && n > 0; l--)
        hidden_delta(m, l - 1, nnd_model_layer_dz(m, l), m->dz[l - 1], n);
}

void nnd_model_weight_grad(const nnd_model *m, const float *X, int l, size_t r0, size_t r1,
                           size_t o0, size_t o1, float *dW)
{
    size_t nin = m->sizes[l], nout = m->sizes[l + 1];
    const float *dZ = nnd_model_layer_dz(m, l) + r0 * nout + o0;
    const float *A = nnd_model_layer_input(m, X, l) + r0 * nin;
    /* dW rows (o1 - o0, in) = dZ[:, o0:o1]^T * A: the sum over the rows is the GEMM's K, whose
     * order depends on K alone. */
    nnd_sgemm(1, 0, o1 - o0, nin, r1 - r0, 1.0f, dZ, nout, A, nin, 0.0f, dW, nin);
}

void nnd_model_bias_grad(const nnd_model *m, int l, size_t r0, size_t r1, float *db)
{
    size_t nout = m->sizes[l + 1];
    nnd_ew()->column_sums(db, nnd_model_layer_dz(m, l) + r0 * nout, r1 - r0, nout);
}

int nnd_model_params_finite(const nnd_model *m)
{
    int ok = 1;
    for (size_t i = 0; i < m->n_params; i++) ok &= isfinite(m->params[i]) != 0;
    return ok;
}
