/* Optimizers over the flat parameter buffer. State is replicated on every rank (every rank
 * applies the same update to the same averaged gradient) and named like torch.optim's, so a
 * checkpoint's /optimizer group reads familiarly.
 *
 * sgd (torch.optim.SGD): g = grad + wd * w
 *   momentum != 0:  buf = g at the first step, else buf = momentum * buf + (1 - dampening) * g
 *                   g = nesterov ? g + momentum * buf : buf
 *   w -= lr * g */
#ifndef NNDIST_OPTIM_H
#define NNDIST_OPTIM_H

#include <stddef.h>
#include <stdint.h>

#include "nndist/error.h"

#define NND_OPTIM_MAX_STATE 4

typedef enum { NND_OPTIM_SGD, NND_OPTIM_KIND_COUNT } nnd_optim_kind;

typedef struct {
    nnd_optim_kind kind;
    char name[16]; /* as given on the command line ("sgd", "momentum", "nesterov") */
    double lr;
    double momentum;
    double dampening;
    double weight_decay;
    int nesterov;
} nnd_optim_config;

typedef struct {
    nnd_optim_config cfg;
    size_t n;      /* parameters */
    uint64_t step; /* updates applied so far */
    int n_state;   /* state buffers in use */
    const char *state_name[NND_OPTIM_MAX_STATE];
    float *state[NND_OPTIM_MAX_STATE]; /* each n floats, owned */
} nnd_optim;

/* Fills cfg with the defaults of the optimizer called name ("sgd", "momentum" = sgd with
 * momentum 0.9, "nesterov" = the same with Nesterov's correction). Returns -1 for an unknown
 * name. */
int nnd_optim_defaults(const char *name, nnd_optim_config *cfg);
/* The names nnd_optim_defaults accepts, comma separated (for help and error messages). */
const char *nnd_optim_names(void);
/* Checks the hyperparameters; formats a message naming the flag when one is out of range. */
nnd_status nnd_optim_validate(const nnd_optim_config *cfg);

nnd_status nnd_optim_init(nnd_optim *o, const nnd_optim_config *cfg, size_t n_params);
void nnd_optim_free(nnd_optim *o);

/* One update: params -= f(grad_scale * grads, state) with learning rate lr. grad_scale turns
 * the summed gradient into the mean (1 / global sample count). grads is left unchanged. */
void nnd_optim_step(nnd_optim *o, float *params, const float *grads, float grad_scale, double lr);

#endif
