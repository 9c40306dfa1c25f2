/* Shared by optim.c and kernels/optim_update.c, the update loops compiled once per instruction set.
 */
#ifndef NNDIST_OPTIM_INTERNAL_H
#define NNDIST_OPTIM_INTERNAL_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>

#include "nndist/optim.h"

/* Norms are summed over blocks of this many elements, then the block sums in order. */
#define NORM_BLOCK 4096
/* Elementwise loops go parallel above this size (below, the threads cost more than they save). */
#define PAR_MIN 65536

/* nadam's momentum coefficient at step t (torch 1.13). */
static inline double nnd_nadam_mu(const nnd_optim_config *cfg, uint64_t t)
{
    return cfg->beta1 * (1.0 - 0.5 * pow(0.96, (double)t * cfg->momentum_decay));
}

/* mu_1 * mu_2 * ... * mu_steps, multiplied in this order (1 for none). */
static inline double nnd_nadam_mu_product(const nnd_optim_config *cfg, uint64_t steps)
{
    double p = 1.0;
    for (uint64_t i = 1; i <= steps; i++) p *= nnd_nadam_mu(cfg, i);
    return p;
}

/* The update of elements [lo, hi), in each variant of kernels/optim_update.c; grads[0] is element
 * lo's gradient. Norms over a range other than [0, n) go through o->norm_sum. */
void nnd_optim_update_portable(nnd_optim *o, float *params, const float *grads, float grad_scale,
                               double lr, size_t lo, size_t hi);
void nnd_optim_update_avx2(nnd_optim *o, float *params, const float *grads, float grad_scale,
                           double lr, size_t lo, size_t hi);
void nnd_optim_update_avx512(nnd_optim *o, float *params, const float *grads, float grad_scale,
                             double lr, size_t lo, size_t hi);

#endif
