/* Losses with their gradients fused into one pass over the model output.
 *
 * Both return the loss SUMMED over the n samples and write the gradient of that sum; the
 * trainer divides by the global sample count after the allreduce (docs/design.md, invariant 2). */
#ifndef NNDIST_LOSS_H
#define NNDIST_LOSS_H

#include <stddef.h>
#include <stdint.h>

typedef enum { NND_LOSS_SOFTMAX_CE, NND_LOSS_MSE, NND_LOSS_COUNT } nnd_loss_kind;

const char *nnd_loss_name(nnd_loss_kind k);
int nnd_loss_parse(const char *name, nnd_loss_kind *out);

/* Softmax cross-entropy on logits (n, k) against integer labels in [0, k):
 *   loss_i = logsumexp(z_i) - z_i[y_i],  dz_i = softmax(z_i) - onehot(y_i).
 * dlogits may be NULL (evaluation only). *correct counts argmax(z_i) == y_i. */
double nnd_loss_softmax_ce(const float *logits, const int32_t *labels, size_t n, size_t k,
                           float *dlogits, size_t *correct);

/* Mean squared error, torch.nn.MSELoss's definition per sample: loss_i = mean_j (p_ij - t_ij)^2,
 *   dp_ij = 2 (p_ij - t_ij) / k.
 * dpred may be NULL. *correct counts argmax(p_i) == argmax(t_i) (meaningful for one-hot t). */
double nnd_loss_mse(const float *pred, const float *target, size_t n, size_t k, float *dpred,
                    size_t *correct);

#endif
