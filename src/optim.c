#include "nndist/optim.h"

#include <assert.h>
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "nndist/alloc.h"
#include "nndist/isa.h"

#include "optim_internal.h"

/* ---- names, defaults, the hyperparameter table ---- */

#define KIND(k)   (1u << (k))
#define ALL_KINDS ((1u << NND_OPTIM_KIND_COUNT) - 1u)
#define ADAM_LIKE                                                                                  \
    (KIND(NND_OPTIM_ADAM) | KIND(NND_OPTIM_ADAMW) | KIND(NND_OPTIM_ADAMAX) |                       \
     KIND(NND_OPTIM_NADAM) | KIND(NND_OPTIM_LAMB))
#define FIELD(f) offsetof(nnd_optim_config, f)

static const nnd_optim_param g_params[] = {
    {"lr", "lr", FIELD(lr), 0, ALL_KINDS, "X",
     "learning rate (default: sgd 0.01, rmsprop 0.01, adam 1e-3, adamw 1e-3, adamax 2e-3, "
     "nadam 2e-3, adagrad 0.01, adadelta 1.0, lars 1.0, lamb 1e-3)"},
    {"momentum", "momentum", FIELD(momentum), 0,
     KIND(NND_OPTIM_SGD) | KIND(NND_OPTIM_RMSPROP) | KIND(NND_OPTIM_LARS), "X",
     "momentum factor: sgd, rmsprop (default 0; 0.9 for momentum/nesterov), lars (0.9)"},
    {"dampening", "dampening", FIELD(dampening), 0, KIND(NND_OPTIM_SGD), "X",
     "sgd: dampening of the momentum (default 0)"},
    {"nesterov", "nesterov", FIELD(nesterov), 1, KIND(NND_OPTIM_SGD), NULL,
     "sgd: Nesterov momentum"},
    {"weight-decay", "weight_decay", FIELD(weight_decay), 0, ALL_KINDS, "X",
     "weight decay: an L2 term in the gradient; decoupled for adamw, lamb (default 0; adamw "
     "and lamb 0.01)"},
    {"alpha", "alpha", FIELD(alpha), 0, KIND(NND_OPTIM_RMSPROP), "X",
     "rmsprop: smoothing constant (default 0.99)"},
    {"centered", "centered", FIELD(centered), 1, KIND(NND_OPTIM_RMSPROP), NULL,
     "rmsprop: normalise by the estimated variance of the gradient"},
    {"eps", "eps", FIELD(eps), 0, ALL_KINDS & ~(KIND(NND_OPTIM_SGD) | KIND(NND_OPTIM_LARS)), "X",
     "term added to the denominator (default 1e-8; adagrad 1e-10, adadelta 1e-6, lamb 1e-6)"},
    {"beta1", "beta1", FIELD(beta1), 0, ADAM_LIKE, "X",
     "adam, adamw, adamax, nadam, lamb: decay of the first moment (default 0.9)"},
    {"beta2", "beta2", FIELD(beta2), 0, ADAM_LIKE, "X",
     "adam, adamw, adamax, nadam, lamb: decay of the second moment (default 0.999)"},
    {"amsgrad", "amsgrad", FIELD(amsgrad), 1, KIND(NND_OPTIM_ADAM) | KIND(NND_OPTIM_ADAMW), NULL,
     "adam, adamw: the AMSGrad variant (maximum of the second moments)"},
    {"momentum-decay", "momentum_decay", FIELD(momentum_decay), 0, KIND(NND_OPTIM_NADAM), "X",
     "nadam: momentum decay psi (default 4e-3)"},
    {"lr-decay", "lr_decay", FIELD(lr_decay), 0, KIND(NND_OPTIM_ADAGRAD), "X",
     "adagrad: learning-rate decay (default 0)"},
    {"initial-accumulator", "initial_accumulator_value", FIELD(initial_accumulator), 0,
     KIND(NND_OPTIM_ADAGRAD), "X", "adagrad: initial value of the sum of squares (default 0)"},
    {"rho", "rho", FIELD(rho), 0, KIND(NND_OPTIM_ADADELTA), "X",
     "adadelta: decay of the running averages (default 0.9)"},
    {"trust-coefficient", "trust_coefficient", FIELD(trust_coefficient), 0, KIND(NND_OPTIM_LARS),
     "X", "lars: trust coefficient eta (default 0.001)"},
    {"clip-norm", "clip_norm", FIELD(clip_norm), 0, ALL_KINDS, "X",
     "clip the gradient to this global L2 norm (default 0: no clipping)"},
};

const nnd_optim_param *nnd_optim_params(size_t *count)
{
    *count = sizeof g_params / sizeof g_params[0];
    return g_params;
}

int nnd_optim_param_applies(const nnd_optim_param *p, nnd_optim_kind kind)
{
    return (p->kinds & KIND(kind)) != 0;
}

double nnd_optim_param_get(const nnd_optim_config *cfg, const nnd_optim_param *p)
{
    const char *base = (const char *)cfg + p->offset;
    if (p->is_switch) {
        int v;
        memcpy(&v, base, sizeof v);
        return v ? 1.0 : 0.0;
    }
    double v;
    memcpy(&v, base, sizeof v);
    return v;
}

void nnd_optim_param_set(nnd_optim_config *cfg, const nnd_optim_param *p, double value)
{
    char *base = (char *)cfg + p->offset;
    if (p->is_switch) {
        int v = value != 0.0;
        memcpy(base, &v, sizeof v);
    } else {
        memcpy(base, &value, sizeof value);
    }
}

static const struct {
    const char *name;
    nnd_optim_kind kind;
} g_names[] = {
    {"sgd", NND_OPTIM_SGD},           {"momentum", NND_OPTIM_SGD}, {"nesterov", NND_OPTIM_SGD},
    {"rmsprop", NND_OPTIM_RMSPROP},   {"adam", NND_OPTIM_ADAM},    {"adamw", NND_OPTIM_ADAMW},
    {"adamax", NND_OPTIM_ADAMAX},     {"nadam", NND_OPTIM_NADAM},  {"adagrad", NND_OPTIM_ADAGRAD},
    {"adadelta", NND_OPTIM_ADADELTA}, {"lars", NND_OPTIM_LARS},    {"lamb", NND_OPTIM_LAMB},
};

int nnd_optim_defaults(const char *name, nnd_optim_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    size_t i = 0, n = sizeof g_names / sizeof g_names[0];
    while (i < n && strcmp(name, g_names[i].name) != 0) i++;
    if (i == n) return -1;
    cfg->kind = g_names[i].kind;
    strncpy(cfg->name, name, sizeof cfg->name - 1);
    /* torch.optim's defaults (torch 1.13). */
    cfg->eps = 1e-8;
    cfg->beta1 = 0.9;
    cfg->beta2 = 0.999;
    switch (cfg->kind) {
    case NND_OPTIM_SGD:
        cfg->lr = 0.01; /* torch.optim.SGD requires lr; ours has a default */
        if (strcmp(name, "sgd") != 0) cfg->momentum = 0.9;
        cfg->nesterov = strcmp(name, "nesterov") == 0;
        break;
    case NND_OPTIM_RMSPROP:
        cfg->lr = 1e-2;
        cfg->alpha = 0.99;
        break;
    case NND_OPTIM_ADAM:
        cfg->lr = 1e-3;
        break;
    case NND_OPTIM_ADAMW:
        cfg->lr = 1e-3;
        cfg->weight_decay = 1e-2;
        break;
    case NND_OPTIM_ADAMAX:
        cfg->lr = 2e-3;
        break;
    case NND_OPTIM_NADAM:
        cfg->lr = 2e-3;
        cfg->momentum_decay = 4e-3;
        break;
    case NND_OPTIM_ADAGRAD:
        cfg->lr = 1e-2;
        cfg->eps = 1e-10;
        break;
    case NND_OPTIM_ADADELTA:
        cfg->lr = 1.0;
        cfg->rho = 0.9;
        cfg->eps = 1e-6;
        break;
    case NND_OPTIM_LARS: /* no torch.optim counterpart: the paper's eta, momentum 0.9 */
        cfg->lr = 1.0;
        cfg->momentum = 0.9;
        cfg->trust_coefficient = 1e-3;
        cfg->eps = 0.0;
        break;
    case NND_OPTIM_LAMB: /* the paper's BERT settings */
        cfg->lr = 1e-3;
        cfg->eps = 1e-6;
        cfg->weight_decay = 1e-2;
        break;
    default:
        return -1;
    }
    return 0;
}

const char *nnd_optim_names(void)
{
    return "sgd, momentum, nesterov, rmsprop, adam, adamw, adamax, nadam, adagrad, adadelta, "
           "lars, lamb";
}

/* Message for a hyperparameter outside [lo, hi] (hi_open / lo_open exclude the bound). */
static nnd_status out_of_range(const char *flag, double v, const char *expected)
{
    return nnd_err_set(NND_ERR_USAGE, "--%s: %g is out of range; expected %s", flag, v, expected);
}

nnd_status nnd_optim_validate(const nnd_optim_config *cfg)
{
    if (!(cfg->lr > 0.0 && isfinite(cfg->lr)))
        return nnd_err_set(NND_ERR_USAGE, "--lr: %g is not allowed; expected a positive number",
                           cfg->lr);
    if (!(cfg->momentum >= 0.0 && cfg->momentum < 1.0))
        return out_of_range("momentum", cfg->momentum, "0 <= m < 1");
    if (!(cfg->dampening >= 0.0 && cfg->dampening <= 1.0))
        return out_of_range("dampening", cfg->dampening, "0..1");
    if (!(cfg->weight_decay >= 0.0 && isfinite(cfg->weight_decay)))
        return nnd_err_set(NND_ERR_USAGE, "--weight-decay: %g is negative; expected >= 0",
                           cfg->weight_decay);
    if (cfg->nesterov && (cfg->momentum <= 0.0 || cfg->dampening != 0.0))
        return nnd_err_set(NND_ERR_USAGE,
                           "--nesterov needs --momentum > 0 and --dampening 0 (as torch.optim)");
    if (!(cfg->alpha >= 0.0 && cfg->alpha <= 1.0)) return out_of_range("alpha", cfg->alpha, "0..1");
    /* eps keeps a division away from 0/0 (a parameter whose gradient is always 0 would become
     * NaN); sgd and lars do not divide by it. */
    int uses_eps = cfg->kind != NND_OPTIM_SGD && cfg->kind != NND_OPTIM_LARS;
    if (uses_eps && !(cfg->eps > 0.0 && isfinite(cfg->eps)))
        return out_of_range("eps", cfg->eps, "> 0");
    if (!(cfg->beta1 >= 0.0 && cfg->beta1 < 1.0))
        return out_of_range("beta1", cfg->beta1, "0 <= beta1 < 1");
    if (!(cfg->beta2 >= 0.0 && cfg->beta2 < 1.0))
        return out_of_range("beta2", cfg->beta2, "0 <= beta2 < 1");
    if (!(cfg->momentum_decay >= 0.0 && isfinite(cfg->momentum_decay)))
        return out_of_range("momentum-decay", cfg->momentum_decay, ">= 0");
    if (!(cfg->lr_decay >= 0.0 && isfinite(cfg->lr_decay)))
        return out_of_range("lr-decay", cfg->lr_decay, ">= 0");
    if (!(cfg->initial_accumulator >= 0.0 && isfinite(cfg->initial_accumulator)))
        return out_of_range("initial-accumulator", cfg->initial_accumulator, ">= 0");
    if (!(cfg->rho >= 0.0 && cfg->rho <= 1.0)) return out_of_range("rho", cfg->rho, "0..1");
    if (cfg->kind == NND_OPTIM_LARS &&
        !(cfg->trust_coefficient > 0.0 && isfinite(cfg->trust_coefficient)))
        return out_of_range("trust-coefficient", cfg->trust_coefficient, "a positive number");
    if (!(cfg->clip_norm >= 0.0 && isfinite(cfg->clip_norm)))
        return out_of_range("clip-norm", cfg->clip_norm, ">= 0 (0: no clipping)");
    return NND_OK;
}

/* ---- state ---- */

/* The state tensors cfg's optimizer keeps, one float per parameter each (names as torch's
 * state_dict has them); returns their count, or -1 for an unknown kind. */
static int state_names(const nnd_optim_config *cfg, const char **names)
{
    int n = 0;
    switch (cfg->kind) {
    case NND_OPTIM_SGD:
    case NND_OPTIM_LARS:
        if (cfg->momentum != 0.0) names[n++] = "momentum_buffer";
        break;
    case NND_OPTIM_RMSPROP:
        names[n++] = "square_avg";
        if (cfg->momentum > 0.0) names[n++] = "momentum_buffer";
        if (cfg->centered) names[n++] = "grad_avg";
        break;
    case NND_OPTIM_ADAM:
    case NND_OPTIM_ADAMW:
        names[n++] = "exp_avg";
        names[n++] = "exp_avg_sq";
        if (cfg->amsgrad) names[n++] = "max_exp_avg_sq";
        break;
    case NND_OPTIM_ADAMAX:
        names[n++] = "exp_avg";
        names[n++] = "exp_inf";
        break;
    case NND_OPTIM_NADAM:
    case NND_OPTIM_LAMB:
        names[n++] = "exp_avg";
        names[n++] = "exp_avg_sq";
        break;
    case NND_OPTIM_ADAGRAD:
        names[n++] = "sum";
        break;
    case NND_OPTIM_ADADELTA:
        names[n++] = "square_avg";
        names[n++] = "acc_delta";
        break;
    default:
        return -1;
    }
    return n;
}

int nnd_optim_state_count(const nnd_optim_config *cfg)
{
    const char *names[NND_OPTIM_MAX_STATE];
    return state_names(cfg, names);
}

int nnd_optim_state_whole(const nnd_optim *o)
{
    return o->state_lo == 0 && o->state_hi == o->n;
}

int nnd_optim_state_index(const nnd_optim *o, const char *name)
{
    for (int s = 0; s < o->n_state; s++)
        if (strcmp(o->state_name[s], name) == 0) return s;
    return -1;
}

nnd_status nnd_optim_init_shard(nnd_optim *o, const nnd_optim_config *cfg, const size_t *tensor_off,
                                int n_tensors, size_t lo, size_t hi)
{
    memset(o, 0, sizeof *o);
    o->cfg = *cfg;
    o->n = n_tensors > 0 ? tensor_off[n_tensors] : 0;
    o->mu_product = 1.0;
    if (lo > hi || hi > o->n)
        return nnd_err_set(NND_ERR_INTERNAL, "optimizer state [%zu, %zu) outside [0, %zu)", lo, hi,
                           o->n);
    if (n_tensors < 0 || n_tensors > NND_OPTIM_MAX_TENSORS)
        return nnd_err_set(NND_ERR_INTERNAL, "%d parameter tensors: at most %d", n_tensors,
                           NND_OPTIM_MAX_TENSORS);
    o->state_lo = lo;
    o->state_hi = hi;
    o->n_state = state_names(cfg, o->state_name);
    if (o->n_state < 0) {
        o->n_state = 0;
        return nnd_err_set(NND_ERR_INTERNAL, "unknown optimizer kind %d", (int)cfg->kind);
    }
    for (int s = 0; s < o->n_state; s++) {
        o->state[s] = nnd_alloc_floats(hi - lo + 1); /* + 1: an empty shard is not NULL */
        if (!o->state[s])
            return nnd_err_set(NND_ERR_NOMEM, "cannot allocate optimizer state (%zu floats)",
                               hi - lo);
    }
    if (cfg->kind == NND_OPTIM_ADAGRAD) {
        const float init = (float)cfg->initial_accumulator;
        for (size_t i = 0; i < hi - lo; i++) o->state[0][i] = init;
    }
    o->n_tensors = n_tensors;
    o->tensor_off = malloc(((size_t)n_tensors + 1) * sizeof *o->tensor_off);
    o->block0 = malloc(((size_t)n_tensors + 1) * sizeof *o->block0);
    /* Two partial sums per block: lars and lamb need two norms per tensor. */
    size_t blocks = o->n / NORM_BLOCK + 1;
    o->partial = malloc(2 * blocks * sizeof *o->partial);
    if (!o->tensor_off || !o->block0 || !o->partial)
        return nnd_err_set(NND_ERR_NOMEM, "cannot allocate optimizer state");
    memcpy(o->tensor_off, tensor_off, ((size_t)n_tensors + 1) * sizeof *o->tensor_off);
    o->block0[0] = 0;
    for (int k = 0; k < n_tensors; k++)
        o->block0[k + 1] =
            o->block0[k] + (tensor_off[k + 1] - tensor_off[k] + NORM_BLOCK - 1) / NORM_BLOCK;
    o->grid = malloc(2 * (o->block0[n_tensors] + 1) * sizeof *o->grid);
    if (!o->grid) return nnd_err_set(NND_ERR_NOMEM, "cannot allocate optimizer state");
    return NND_OK;
}

nnd_status nnd_optim_init(nnd_optim *o, const nnd_optim_config *cfg, const size_t *tensor_off,
                          int n_tensors)
{
    return nnd_optim_init_shard(o, cfg, tensor_off, n_tensors, 0,
                                n_tensors > 0 ? tensor_off[n_tensors] : 0);
}

nnd_status nnd_optim_init_model_shard(nnd_optim *o, const nnd_optim_config *cfg, const nnd_model *m,
                                      size_t lo, size_t hi)
{
    /* The tensors must tile the buffer in order (model.h's layout). */
    const int k = m->n_tensors;
    for (int t = 0; t < k; t++)
        if (m->tensor_off[t + 1] <= m->tensor_off[t] || (t == 0 && m->tensor_off[0] != 0) ||
            m->tensor_off[k] != m->n_params) {
            memset(o, 0, sizeof *o);
            return nnd_err_set(NND_ERR_INTERNAL, "the model's tensors (W_0, b_0, [gamma_0, "
                                                 "beta_0,] W_1, ...) do not tile its parameters");
        }
    const size_t *off = m->tensor_off;
    return nnd_optim_init_shard(o, cfg, off, k, lo, hi);
}

nnd_status nnd_optim_init_model(nnd_optim *o, const nnd_optim_config *cfg, const nnd_model *m)
{
    return nnd_optim_init_model_shard(o, cfg, m, 0, m->n_params);
}

void nnd_optim_free(nnd_optim *o)
{
    for (int s = 0; s < NND_OPTIM_MAX_STATE; s++) free(o->state[s]);
    free(o->tensor_off);
    free(o->block0);
    free(o->grid);
    free(o->partial);
    memset(o, 0, sizeof *o);
}

/* ---- the update, in the variant for this CPU ---- */

double nnd_optim_nadam_mu_product(const nnd_optim_config *cfg, uint64_t steps)
{
    return nnd_nadam_mu_product(cfg, steps);
}

void nnd_optim_set_exact_norms(nnd_optim *o, int on)
{
    o->exact_norms = on;
}

size_t nnd_optim_model_cuts(const nnd_model *m, size_t *cuts)
{
    size_t count = 0;
    for (int t = 0; t < m->n_tensors; t++)
        for (size_t at = m->tensor_off[t]; at < m->tensor_off[t + 1]; at += NORM_BLOCK)
            if (cuts)
                cuts[count++] = at;
            else
                count++;
    if (cuts) cuts[count] = m->n_params;
    return count + 1;
}

int nnd_optim_config_needs_norms(const nnd_optim_config *cfg)
{
    return cfg->kind == NND_OPTIM_LARS || cfg->kind == NND_OPTIM_LAMB || cfg->clip_norm > 0.0;
}

void nnd_optim_set_norm_sum(nnd_optim *o, void (*sum)(double *sums, int n, void *ctx), void *ctx)
{
    o->norm_sum = sum;
    o->norm_sum_ctx = ctx;
}

/* The variant of the instruction set in use (nnd_isa_current: NNDIST_GEMM=portable selects the
 * plain one here too); the variants give bitwise the same results (kernels/optim_update.c). */
static void update(nnd_optim *o, float *params, const float *grads, float grad_scale, double lr,
                   size_t lo, size_t hi)
{
    switch (nnd_isa_current()) {
#ifdef NND_X86_VARIANTS
    case NND_ISA_AVX512:
        nnd_optim_update_avx512(o, params, grads, grad_scale, lr, lo, hi);
        return;
    case NND_ISA_AVX2:
        nnd_optim_update_avx2(o, params, grads, grad_scale, lr, lo, hi);
        return;
#endif
    default:
        break;
    }
    nnd_optim_update_portable(o, params, grads, grad_scale, lr, lo, hi);
}

void nnd_optim_step(nnd_optim *o, float *params, const float *grads, float grad_scale, double lr)
{
    assert(nnd_optim_state_whole(o));
    update(o, params, grads, grad_scale, lr, 0, o->n);
}

void nnd_optim_step_shard(nnd_optim *o, float *params, const float *grads, float grad_scale,
                          double lr, size_t lo, size_t hi)
{
    assert(lo >= o->state_lo && hi <= o->state_hi);
    assert(o->norm_sum || !nnd_optim_config_needs_norms(&o->cfg) || (lo == 0 && hi == o->n));
    update(o, params, grads, grad_scale, lr, lo, hi);
}
