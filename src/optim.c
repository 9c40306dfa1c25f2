#include "nndist/optim.h"

#include <stdlib.h>
#include <string.h>

#include "nndist/model.h"

int nnd_optim_defaults(const char *name, nnd_optim_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->lr = 0.01;
    if (strcmp(name, "sgd") == 0) {
        cfg->kind = NND_OPTIM_SGD;
    } else if (strcmp(name, "momentum") == 0) {
        cfg->kind = NND_OPTIM_SGD;
        cfg->momentum = 0.9;
    } else if (strcmp(name, "nesterov") == 0) {
        cfg->kind = NND_OPTIM_SGD;
        cfg->momentum = 0.9;
        cfg->nesterov = 1;
    } else {
        return -1;
    }
    strncpy(cfg->name, name, sizeof cfg->name - 1);
    return 0;
}

const char *nnd_optim_names(void)
{
    return "sgd, momentum, nesterov";
}

nnd_status nnd_optim_validate(const nnd_optim_config *cfg)
{
    if (!(cfg->lr > 0.0))
        return nnd_err_set(NND_ERR_USAGE, "--lr: %g is not allowed; expected a positive number",
                           cfg->lr);
    if (!(cfg->momentum >= 0.0 && cfg->momentum < 1.0))
        return nnd_err_set(NND_ERR_USAGE, "--momentum: %g is out of range; expected 0 <= m < 1",
                           cfg->momentum);
    if (!(cfg->dampening >= 0.0 && cfg->dampening <= 1.0))
        return nnd_err_set(NND_ERR_USAGE, "--dampening: %g is out of range; expected 0..1",
                           cfg->dampening);
    if (!(cfg->weight_decay >= 0.0))
        return nnd_err_set(NND_ERR_USAGE, "--weight-decay: %g is negative; expected >= 0",
                           cfg->weight_decay);
    if (cfg->nesterov && (cfg->momentum <= 0.0 || cfg->dampening != 0.0))
        return nnd_err_set(NND_ERR_USAGE,
                           "--nesterov needs --momentum > 0 and --dampening 0 (as torch.optim)");
    return NND_OK;
}

nnd_status nnd_optim_init(nnd_optim *o, const nnd_optim_config *cfg, size_t n_params)
{
    memset(o, 0, sizeof *o);
    o->cfg = *cfg;
    o->n = n_params;
    if (cfg->kind == NND_OPTIM_SGD && cfg->momentum != 0.0) {
        o->n_state = 1;
        o->state_name[0] = "momentum_buffer";
    }
    for (int s = 0; s < o->n_state; s++) {
        o->state[s] = nnd_alloc_floats(n_params);
        if (!o->state[s])
            return nnd_err_set(NND_ERR_NOMEM, "cannot allocate optimizer state (%zu floats)",
                               n_params);
    }
    return NND_OK;
}

void nnd_optim_free(nnd_optim *o)
{
    for (int s = 0; s < NND_OPTIM_MAX_STATE; s++) free(o->state[s]);
    memset(o, 0, sizeof *o);
}

static void sgd_step(nnd_optim *o, float *w, const float *grad, float scale, float lr)
{
    const float wd = (float)o->cfg.weight_decay, mu = (float)o->cfg.momentum;
    const float damp = 1.0f - (float)o->cfg.dampening;
    const int first = o->step == 0, nesterov = o->cfg.nesterov;
    float *buf = o->state[0];
    const size_t n = o->n;
    if (mu == 0.0f) {
#pragma omp parallel for schedule(static) if (n > 65536)
        for (size_t i = 0; i < n; i++) w[i] -= lr * (scale * grad[i] + wd * w[i]);
        return;
    }
#pragma omp parallel for schedule(static) if (n > 65536)
    for (size_t i = 0; i < n; i++) {
        float g = scale * grad[i] + wd * w[i];
        float b = first ? g : mu * buf[i] + damp * g; /* buf = mu*buf + (1-dampening)*g */
        buf[i] = b;
        w[i] -= lr * (nesterov ? g + mu * b : b);
    }
}

void nnd_optim_step(nnd_optim *o, float *params, const float *grads, float grad_scale, double lr)
{
    switch (o->cfg.kind) {
    case NND_OPTIM_SGD:
        sgd_step(o, params, grads, grad_scale, (float)lr);
        break;
    default:
        break;
    }
    o->step++;
}
