/* Losses with their gradients fused into one pass over the model output.
 *
 * Each returns the loss SUMMED over the n samples and writes the gradient of that sum; the
 * trainer divides by the global denominator after the allreduce: the sample count, or with class
 * weights the sum of the samples' weights (docs/design.md, invariant 2). */
#ifndef NNDIST_LOSS_H
#define NNDIST_LOSS_H

#include <stddef.h>
#include <stdint.h>

#include "nndist/error.h"

typedef enum { NND_LOSS_SOFTMAX_CE, NND_LOSS_MSE, NND_LOSS_COUNT } nnd_loss_kind;

const char *nnd_loss_name(nnd_loss_kind k);
int nnd_loss_parse(const char *name, nnd_loss_kind *out);

/* Softmax cross-entropy on logits (n, k) against integer labels in [0, k):
 *   loss_i = logsumexp(z_i) - z_i[y_i],  dz_i = softmax(z_i) - onehot(y_i).
 * dlogits may be NULL (evaluation only). *correct counts argmax(z_i) == y_i. */
double nnd_loss_softmax_ce(const float *logits, const int32_t *labels, size_t n, size_t k,
                           float *dlogits, size_t *correct);

/* Softmax cross-entropy's options, torch.nn.CrossEntropyLoss(weight=w, label_smoothing=eps)
 * (docs/design.md, "Class weights and label smoothing"). */
typedef struct {
    const double *weights; /* k positive class weights, or NULL (every class 1) */
    double smoothing;      /* label smoothing eps, 0 <= eps < 1 */
} nnd_ce_opts;

/* Softmax cross-entropy with class weights w and label smoothing eps, per sample (p = softmax(z),
 * W = sum_c w_c):
 *   loss_i = (1 - eps) w_{y_i} (-log p_{i,y_i}) + (eps / k) sum_c w_c (-log p_ic)
 *   dz_ij  = p_ij ((1 - eps) w_{y_i} + (eps / k) W) - (1 - eps) w_{y_i} [j = y_i] - (eps / k) w_j
 * Returns the sum of loss_i and writes the gradient of that sum; *denom (may be NULL) receives
 * sum_i w_{y_i} (n without weights), torch's 'mean' being the loss sum / the denominator. With o
 * NULL, or neither weights nor smoothing, the bits of nnd_loss_softmax_ce. */
double nnd_loss_softmax_ce_opts(const float *logits, const int32_t *labels, size_t n, size_t k,
                                const nnd_ce_opts *o, float *dlogits, size_t *correct,
                                double *denom);

/* 1 when o changes softmax cross-entropy (weights or smoothing). */
int nnd_ce_opts_active(const nnd_ce_opts *o);

/* --class-weights' list "w0,w1,...": exactly k positive finite numbers, into out (k doubles; may
 * be NULL to check only). NND_OK, or NND_ERR_USAGE with one message naming what is wrong. */
nnd_status nnd_class_weights_parse(const char *text, size_t k, double *out);

/* Mean squared error, torch.nn.MSELoss's definition per sample: loss_i = mean_j (p_ij - t_ij)^2,
 *   dp_ij = 2 (p_ij - t_ij) / k.
 * dpred may be NULL. *correct counts argmax(p_i) == argmax(t_i) (meaningful for one-hot t). */
double nnd_loss_mse(const float *pred, const float *target, size_t n, size_t k, float *dpred,
                    size_t *correct);

#endif
