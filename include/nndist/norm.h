/* Normalization of the hidden layers (train --norm; docs/design.md, "Normalization"): after a
 * hidden layer's product and bias, before its activation,
 *
 *   layer  torch.nn.LayerNorm(width): each sample's units to mean 0 and variance 1 over the
 *          layer's width, then y = x̂ γ + β per unit;
 *   batch  torch.nn.BatchNorm1d(width) synchronized over the global batch (SyncBatchNorm):
 *          while training, each unit to mean 0 and variance 1 over every rank's samples of the
 *          step, the running mean and variance updated with momentum 0.1 (the variance
 *          unbiased, N / (N - 1)); in eval, predict and validation the running ones;
 *
 * with eps = 1e-5 added to the (biased) variance, and affine parameters γ (ones) and β (zeros)
 * in the model's parameter buffer, which the optimizers update like the weights. The
 * statistics are accumulated in double and applied in float32. */
#ifndef NNDIST_NORM_H
#define NNDIST_NORM_H

#include <stddef.h>

typedef enum { NND_NORM_NONE, NND_NORM_LAYER, NND_NORM_BATCH, NND_NORM_COUNT } nnd_norm_kind;

#define NND_NORM_EPS           1e-5
#define NND_BATCHNORM_MOMENTUM 0.1

/* "none", "layer", "batch". */
const char *nnd_norm_name(nnd_norm_kind k);
/* Returns 0 and sets *out for a name above; -1 otherwise. */
int nnd_norm_parse(const char *name, nnd_norm_kind *out);

/* Layer norm of n rows of width w: Z (n, w) to x̂ (n, w; Z itself allowed) with each row's
 * 1 / sqrt(var + eps) in rstd (n), and y = x̂ γ + β into Y (n, w), or with relu max(y, 0) (the
 * activation fused). A row's sums run in 8 interleaved partial sums, added in order. */
void nnd_layernorm_forward(const float *Z, float *xhat, float *rstd, float *Y, const float *gamma,
                           const float *beta, size_t n, size_t w, int relu);
/* Its backward: from dY (n, w), dZ (n, w; dY itself allowed) =
 *   rstd (dY γ - mean_row(dY γ) - x̂ mean_row(dY γ x̂)),
 * and dγ = Σ_rows dY x̂, dβ = Σ_rows dY (w each; the rows added in order). */
void nnd_layernorm_backward(const float *dY, const float *xhat, const float *rstd,
                            const float *gamma, float *dZ, float *dgamma, float *dbeta, size_t n,
                            size_t w);

/* Batch norm's sums over n rows of width w, in double, the rows in order:
 * s[j] = Σ_i a_ij, s[w + j] = Σ_i a_ij b_ij (b = a when b is NULL). The forward pass takes
 * (Z, NULL): the sums and sums of squares; the backward pass (dY, x̂). */
void nnd_batchnorm_sums(const float *a, const float *b, size_t n, size_t w, double *s);
/* The statistics from the sums of count samples: mean (w) and rstd = 1 / sqrt(var + eps) (w),
 * var = s2 / count - mean² (biased); the running averages (w each) take momentum 0.1 of the
 * batch's mean and unbiased variance. */
void nnd_batchnorm_stats(const double *s, double count, size_t w, float *mean, float *rstd,
                         float *running_mean, float *running_var);
/* The running statistics as a mean and rstd for inference. */
void nnd_batchnorm_eval_stats(const float *running_mean, const float *running_var, size_t w,
                              float *mean, float *rstd);
/* x̂ = (z - mean_j) rstd_j into xhat (Z itself allowed), y = x̂ γ + β into Y, per unit j (with
 * relu max(y, 0)). */
void nnd_batchnorm_apply(const float *Z, float *xhat, float *Y, const float *mean,
                         const float *rstd, const float *gamma, const float *beta, size_t n,
                         size_t w, int relu);
/* Its backward from the global sums s = Σ dY and Σ dY x̂ over count samples: their means into
 * means (2w floats), then dZ = γ rstd (dY - mean(dY) - x̂ mean(dY x̂)) (dY itself allowed). */
void nnd_batchnorm_backward(const float *dY, const float *xhat, const float *rstd,
                            const float *gamma, const double *s, double count, float *means,
                            float *dZ, size_t n, size_t w);

#endif
