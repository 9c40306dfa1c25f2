/* The hidden layers' normalization inside the model (model_internal.h; norm.h has the
 * arithmetic): where its buffers come from, and the order of batch norm's sums over the ranks,
 * which every rank must call alike (docs/design.md, "Normalization"). */
#include <stdlib.h>
#include <string.h>

#include "nndist/alloc.h"
#include "nndist/gemm.h"

#include "kernels/elementwise.h"

#include "model_internal.h"

int nnd_model_norm_alloc_running(nnd_model *m)
{
    if (m->norm != NND_NORM_BATCH) return 0;
    size_t total = 0;
    for (int l = 0; l + 1 < m->n_layers; l++) total += 2 * m->sizes[l + 1];
    m->running = nnd_alloc_floats(total);
    if (!m->running) return -1;
    m->n_running = total;
    float *at = m->running;
    for (int l = 0; l + 1 < m->n_layers; l++) {
        const size_t w = m->sizes[l + 1];
        m->running_mean[l] = at;
        m->running_var[l] = at + w;
        for (size_t j = 0; j < w; j++) {
            at[j] = 0.0f;
            at[w + j] = 1.0f;
        }
        at += 2 * w;
    }
    return 0;
}

int nnd_model_norm_reserve(nnd_model *m, size_t max_batch, size_t widest)
{
    if (m->norm == NND_NORM_NONE) return 0;
    for (int l = 0; l + 1 < m->n_layers; l++) {
        const size_t w = m->sizes[l + 1];
        free(m->xhat[l]);
        free(m->rstd[l]);
        m->xhat[l] = nnd_alloc_floats(max_batch * w);
        m->rstd[l] = nnd_alloc_floats(m->norm == NND_NORM_BATCH ? w : max_batch);
        if (!m->xhat[l] || !m->rstd[l]) return -1;
        if (m->norm == NND_NORM_BATCH && !m->bn_mean[l] && !(m->bn_mean[l] = nnd_alloc_floats(w)))
            return -1;
    }
    if (!m->zeros) {
        m->zeros = nnd_alloc_floats(widest);
        if (!m->zeros) return -1;
        memset(m->zeros, 0, widest * sizeof *m->zeros);
    }
    if (m->norm == NND_NORM_BATCH && !m->bn_sums) {
        m->bn_sums = malloc((2 * widest + 1) * sizeof *m->bn_sums);
        m->bn_means = nnd_alloc_floats(2 * widest);
        if (!m->bn_sums || !m->bn_means) return -1;
    }
    return 0;
}

void nnd_model_norm_free(nnd_model *m)
{
    for (int l = 0; l < NND_MAX_LAYERS; l++) {
        free(m->xhat[l]);
        free(m->rstd[l]);
        free(m->bn_mean[l]);
    }
    free(m->zeros);
    free(m->bn_sums);
    free(m->bn_means);
    free(m->running);
}

/* n doubles summed over the ranks that share the batch (nothing when this process has it all). */
static void sum_over_ranks(nnd_model *m, size_t n)
{
    if (m->sum_ranks) m->sum_ranks(m->bn_sums, n, m->sum_ctx);
}

/* Batch norm's statistics of hidden layer l into bn_mean and rstd: the batch's while training
 * (its sums over every rank, the running averages updated), else the running ones. */
static void batch_stats(nnd_model *m, int l, const float *Z, size_t n)
{
    const size_t w = m->sizes[l + 1];
    if (!m->training) {
        nnd_batchnorm_eval_stats(m->running_mean[l], m->running_var[l], w, m->bn_mean[l],
                                 m->rstd[l]);
        return;
    }
    nnd_batchnorm_sums(Z, NULL, n, w, m->bn_sums);
    m->bn_sums[2 * w] = (double)n;
    sum_over_ranks(m, 2 * w + 1);
    m->bn_count = m->bn_sums[2 * w];
    nnd_batchnorm_stats(m->bn_sums, m->bn_count, w, m->bn_mean[l], m->rstd[l], m->running_mean[l],
                        m->running_var[l]);
}

void nnd_model_norm_forward(nnd_model *m, int l, const float *in, size_t n)
{
    const size_t nin = m->sizes[l], nout = m->sizes[l + 1];
    float *A = m->acts[l + 1], *Y = m->pre[l] ? m->pre[l] : A, *Z = m->xhat[l];
    const float *W = m->params + m->w_off[l], *b = m->params + m->b_off[l];
    const float *gamma = m->params + m->g_off[l], *beta = m->params + m->be_off[l];
    if (n > 0) {
        const nnd_gemm_epilogue ep = {.bias = b};
        nnd_model_product(m, 0, 1, n, nout, nin, 1.0f, in, nin, W, nin, Z, nout, &ep);
    }
    const int relu = m->act == NND_ACT_RELU; /* fused: Y is A then */
    if (m->norm == NND_NORM_LAYER) {
        nnd_layernorm_forward(Z, Z, m->rstd[l], Y, gamma, beta, n, nout, relu);
    } else {
        batch_stats(m, l, Z, n);
        nnd_batchnorm_apply(Z, Z, Y, m->bn_mean[l], m->rstd[l], gamma, beta, n, nout, relu);
    }
    if (n > 0 && !relu) nnd_ew()->bias_act(Y, A, m->zeros, n, nout, m->act, (float)m->act_param);
}

void nnd_model_norm_backward(nnd_model *m, int l, float *dA, size_t n)
{
    const size_t w = m->sizes[l + 1];
    const float *gamma = m->params + m->g_off[l];
    float *dgamma = m->grads + m->g_off[l], *dbeta = m->grads + m->be_off[l];
    if (m->norm == NND_NORM_LAYER) {
        nnd_layernorm_backward(dA, m->xhat[l], m->rstd[l], gamma, dA, dgamma, dbeta, n, w);
        return;
    }
    /* β's and γ's gradients are this rank's sums (the gradient's reduction adds the ranks');
     * dZ needs the sums over the whole batch. */
    nnd_batchnorm_sums(dA, m->xhat[l], n, w, m->bn_sums);
    for (size_t j = 0; j < w; j++) {
        dbeta[j] = (float)m->bn_sums[j];
        dgamma[j] = (float)m->bn_sums[w + j];
    }
    if (!m->training) { /* after an eval-mode forward the statistics are constants */
        for (size_t i = 0; i < n; i++)
            for (size_t j = 0; j < w; j++) dA[i * w + j] *= gamma[j] * m->rstd[l][j];
        return;
    }
    sum_over_ranks(m, 2 * w);
    nnd_batchnorm_backward(dA, m->xhat[l], m->rstd[l], gamma, m->bn_sums, m->bn_count, m->bn_means,
                           dA, n, w);
}
