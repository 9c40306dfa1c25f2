/* Normalization of the hidden layers (train --norm; docs/design.md, "Normalization"): after a
 * hidden layer's product and bias, before its activation,
 *
 *   layer  torch.nn.LayerNorm(width): each sample's units to mean 0 and variance 1 over the
 *          layer's width, then y = x̂ γ + β per unit;
 *
 * with eps = 1e-5 added to the (biased) variance, and affine parameters γ (ones) and β (zeros)
 * in the model's parameter buffer, which the optimizers update like the weights. The
 * statistics are accumulated in double and applied in float32. */
#ifndef NNDIST_NORM_H
#define NNDIST_NORM_H

#include <stddef.h>

typedef enum { NND_NORM_NONE, NND_NORM_LAYER, NND_NORM_COUNT } nnd_norm_kind;

#define NND_NORM_EPS 1e-5

/* "none", "layer". */
const char *nnd_norm_name(nnd_norm_kind k);
/* Returns 0 and sets *out for a name above; -1 otherwise. */
int nnd_norm_parse(const char *name, nnd_norm_kind *out);

/* Layer norm of n rows of width w: Z (n, w) to x̂ (n, w; Z itself allowed) with each row's
 * 1 / sqrt(var + eps) in rstd (n), and y = x̂ γ + β into Y (n, w). */
void nnd_layernorm_forward(const float *Z, float *xhat, float *rstd, float *Y, const float *gamma,
                           const float *beta, size_t n, size_t w);
/* Its backward: from dY (n, w), dZ (n, w; dY itself allowed) =
 *   rstd (dY γ - mean_row(dY γ) - x̂ mean_row(dY γ x̂)),
 * and dγ = Σ_rows dY x̂, dβ = Σ_rows dY (w each; the rows added in order). */
void nnd_layernorm_backward(const float *dY, const float *xhat, const float *rstd,
                            const float *gamma, float *dZ, float *dgamma, float *dbeta, size_t n,
                            size_t w);

#endif
