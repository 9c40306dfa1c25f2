/* Optimizers over the flat parameter buffer. The state is named like torch.optim's, so a
 * checkpoint's /optimizer group reads familiarly. It covers every element (every rank applies the
 * same update to the same summed gradient) or one rank's shard of them (the sharded update: each
 * rank updates its shard; norms then come from the shards' partial sums, added by a hook).
 *
 * Notation, per step t = 1, 2, ... (o->step + 1): G the summed gradient of the step, s the
 * grad_scale (1 / global sample count), g = s * G the mean gradient, w the parameters, lr the
 * learning rate of the step (from the schedule), wd the weight decay. All arithmetic of an update
 * is done in double and the results are stored as float32 (state included), so a run is a pure
 * function of its float32 state and a checkpoint resumes it bitwise.
 *
 * Gradient clipping (--clip-norm c, any optimizer; torch.nn.utils.clip_grad_norm_): with
 *   n = ||g||_2 over all parameters, g <- g * min(1, c / (n + 1e-6))   before everything below.
 *
 * The rules of torch.optim 1.13 (its default single-tensor code paths); "L2" means
 * g <- g + wd * w first:
 *   sgd       L2; momentum != 0: b = g at t = 1, else b = momentum*b + (1 - dampening)*g;
 *             g = nesterov ? g + momentum*b : b;  w -= lr*g
 *   rmsprop   L2; v = alpha*v + (1-alpha)*g^2; centered: a = alpha*a + (1-alpha)*g,
 *             d = sqrt(max(v - a^2, 0)) + eps, else d = sqrt(v) + eps;
 *             momentum > 0: b = momentum*b + g/d, w -= lr*b; else w -= lr*g/d
 *   adam      L2; m = b1*m + (1-b1)*g; v = b2*v + (1-b2)*g^2; amsgrad: vmax = max(vmax, v),
 *             v' = vmax, else v' = v;  w -= lr/(1-b1^t) * m / (sqrt(v')/sqrt(1-b2^t) + eps)
 *   adamw     w *= 1 - lr*wd (decoupled, no L2), then adam's update
 *   adamax    L2; m = b1*m + (1-b1)*g; u = max(b2*u, |g| + eps); w -= lr/(1-b1^t) * m/u
 *   nadam     L2; mu_t = b1*(1 - 0.5*0.96^(t*psi)), psi = momentum_decay;
 *             P_t = P_{t-1}*mu_t (P_0 = 1; "mu_product"); m, v as adam; d = sqrt(v/(1-b2^t)) + eps;
 *             w -= lr*(1-mu_t)/(1-P_t) * g/d + lr*mu_{t+1}/(1-P_t*mu_t*mu_{t+1}) * m/d
 *             (torch 1.13's single-tensor NAdam multiplies mu_t in twice in that last
 *             product; we follow it; later torch versions use 1 - P_t*mu_{t+1})
 *   adagrad   L2; sum += g^2 (sum starts at initial_accumulator);
 *             w -= lr/(1 + (t-1)*lr_decay) * g/(sqrt(sum) + eps)
 *   adadelta  L2; v = rho*v + (1-rho)*g^2; d = sqrt(acc + eps)/sqrt(v + eps) * g;
 *             acc = rho*acc + (1-rho)*d^2; w -= lr*d
 *
 * Layer-wise trust ratios, per parameter tensor (each W_l and each b_l on its own; norms are
 * L2 norms over that tensor):
 *   lars      You, Gitman, Ginsburg 2017, "Large Batch Training of Convolutional Networks",
 *             Algorithm 1, with eta = trust_coefficient and beta = wd:
 *               lambda = eta * ||w|| / (||g|| + wd*||w||)   (lambda = 1 when ||w|| or the
 *                                                            denominator is 0)
 *               momentum > 0: b = momentum*b + lr*lambda*(g + wd*w); w -= b
 *               else:         w -= lr*lambda*(g + wd*w)
 *             (the learning rate sits inside the momentum buffer, as in the paper)
 *   lamb      You et al. 2020, "Large Batch Optimization for Deep Learning: Training BERT in
 *             76 minutes" (ICLR), Algorithm 2 with phi(z) = z:
 *               m = b1*m + (1-b1)*g; v = b2*v + (1-b2)*g^2   (stored without bias correction)
 *               r = (m/(1-b1^t)) / (sqrt(v/(1-b2^t)) + eps); u = r + wd*w
 *               w -= lr * ||w||/||u|| * u                   (ratio 1 when ||w|| or ||u|| is 0)
 *
 * Reductions (norms) are summed in fixed blocks in a fixed order, so they do not depend on the
 * number of threads: every rank computes bitwise the same update. On a shard, each norm is the
 * sum of the ranks' partial sums over their parts of the tensor (nnd_optim_set_norm_sum), the
 * same norm to round-off; every rank of a step gets the same sums, and each element still has one
 * writer, so the ranks' weights cannot drift apart. */
#ifndef NNDIST_OPTIM_H
#define NNDIST_OPTIM_H

#include <stddef.h>
#include <stdint.h>

#include "nndist/error.h"
#include "nndist/model.h"

#define NND_OPTIM_MAX_STATE 4
/* Parameter tensors of one optimizer: a W and a b per layer. */
#define NND_OPTIM_MAX_TENSORS (4 * NND_MAX_LAYERS) /* W, b, and a normalization's γ, β */

typedef enum {
    NND_OPTIM_SGD,
    NND_OPTIM_RMSPROP,
    NND_OPTIM_ADAM,
    NND_OPTIM_ADAMW,
    NND_OPTIM_ADAMAX,
    NND_OPTIM_NADAM,
    NND_OPTIM_ADAGRAD,
    NND_OPTIM_ADADELTA,
    NND_OPTIM_LARS,
    NND_OPTIM_LAMB,
    NND_OPTIM_KIND_COUNT
} nnd_optim_kind;

typedef struct {
    nnd_optim_kind kind;
    char name[16]; /* as given on the command line ("sgd", "momentum", "adam", ...) */
    double lr;     /* the base learning rate (the schedule starts from it) */
    double momentum, dampening;
    int nesterov;
    double weight_decay;
    double alpha; /* rmsprop */
    int centered; /* rmsprop */
    double eps;
    double beta1, beta2;
    int amsgrad;                /* adam, adamw */
    double momentum_decay;      /* nadam */
    double lr_decay;            /* adagrad */
    double initial_accumulator; /* adagrad */
    double rho;                 /* adadelta */
    double trust_coefficient;   /* lars */
    double clip_norm;           /* max global gradient norm; 0 = no clipping */
} nnd_optim_config;

/* One hyperparameter: its command-line flag, its torch.optim argument name (also the checkpoint
 * attribute), where it lives in nnd_optim_config, and the optimizers it applies to. */
typedef struct {
    const char *flag; /* without dashes: "weight-decay" */
    const char *attr; /* "weight_decay" */
    size_t offset;    /* offsetof(nnd_optim_config, field): a double, or an int when is_switch */
    int is_switch;    /* an on/off flag (--nesterov) */
    unsigned kinds;   /* bit k: applies to nnd_optim_kind k */
    const char *arg;  /* the value's name in help ("X"), NULL for switches */
    const char *help; /* one line, with the defaults */
} nnd_optim_param;

/* The hyperparameter table (borrowed, static); *count receives its length. */
const nnd_optim_param *nnd_optim_params(size_t *count);
/* True when p applies to optimizer kind. */
int nnd_optim_param_applies(const nnd_optim_param *p, nnd_optim_kind kind);
/* The value of p in cfg (a switch reads as 0 or 1). */
double nnd_optim_param_get(const nnd_optim_config *cfg, const nnd_optim_param *p);
/* Sets p in cfg (a switch is set when value != 0). */
void nnd_optim_param_set(nnd_optim_config *cfg, const nnd_optim_param *p, double value);

typedef struct {
    nnd_optim_config cfg;
    size_t n;      /* parameters */
    uint64_t step; /* updates applied so far */
    int n_state;   /* state buffers in use */
    const char *state_name[NND_OPTIM_MAX_STATE];
    float *state[NND_OPTIM_MAX_STATE]; /* each state_hi - state_lo floats, owned */
    size_t state_lo, state_hi;         /* the elements the state covers: [0, n), or a shard */
    int n_tensors;                     /* parameter tensors (W_0, b_0, W_1, ...) */
    size_t *tensor_off;                /* n_tensors + 1 offsets; the last is n; owned */
    double *partial;                   /* per-block partial sums of the norms; owned */
    /* Exact norms (nnd_optim_set_exact_norms): tensor k's blocks of NORM_BLOCK elements, from
     * its start, are blocks block0[k] .. block0[k+1]-1 of all tensors; grid holds two partial
     * sums per block. */
    int exact_norms;
    size_t *block0; /* n_tensors + 1 entries; owned */
    double *grid;   /* owned */
    /* nadam: mu_product = prod_{i <= mu_product_step} mu_i. A pure function of the step:
     * recomputed when mu_product_step != step (e.g. on a rank that received the step by
     * broadcast), with the same sequence of products, so bitwise equal. */
    double mu_product;
    uint64_t mu_product_step;
    double last_grad_norm; /* ||g|| of the last step before clipping (computed when clipping) */
    /* Adds up partial sums of squares over all shards, in place (NULL: the state is whole). */
    void (*norm_sum)(double *sums, int n, void *ctx);
    void *norm_sum_ctx;
} nnd_optim;

/* Fills cfg with torch.optim's defaults of the optimizer called name (sgd: lr 0.01, which
 * torch leaves required; "momentum" = sgd with momentum 0.9, "nesterov" = the same with
 * Nesterov's correction). Returns -1 for an unknown name. */
int nnd_optim_defaults(const char *name, nnd_optim_config *cfg);
/* The names nnd_optim_defaults accepts, comma separated (for help and error messages). */
const char *nnd_optim_names(void);
/* Checks the hyperparameters; formats a message naming the flag when one is out of range. */
nnd_status nnd_optim_validate(const nnd_optim_config *cfg);

/* Allocates the state of cfg's optimizer for parameters cut into n_tensors tensors (at most
 * NND_OPTIM_MAX_TENSORS):
 * tensor i is [tensor_off[i], tensor_off[i+1]), and tensor_off[n_tensors] is the parameter
 * count (lars and lamb take one trust ratio per tensor). nnd_optim_free is safe after a failed
 * init. */
nnd_status nnd_optim_init(nnd_optim *o, const nnd_optim_config *cfg, const size_t *tensor_off,
                          int n_tensors);
/* nnd_optim_init with the tensors of a model: W_0, b_0, [γ_0, β_0,] W_1, b_1, ... */
nnd_status nnd_optim_init_model(nnd_optim *o, const nnd_optim_config *cfg, const nnd_model *m);
/* The same with state for elements [lo, hi) only (the rank's shard of a sharded update): such
 * an optimizer takes only nnd_optim_step_shard within that range, and checkpoints go through a
 * whole-state copy (trainer.h). */
nnd_status nnd_optim_init_shard(nnd_optim *o, const nnd_optim_config *cfg, const size_t *tensor_off,
                                int n_tensors, size_t lo, size_t hi);
nnd_status nnd_optim_init_model_shard(nnd_optim *o, const nnd_optim_config *cfg, const nnd_model *m,
                                      size_t lo, size_t hi);
void nnd_optim_free(nnd_optim *o);

/* 1 when the state covers every element (not made by a *_shard init). */
int nnd_optim_state_whole(const nnd_optim *o);

/* Index of the state buffer called name, or -1. */
int nnd_optim_state_index(const nnd_optim *o, const char *name);

/* nadam's mu_product after `steps` updates: mu_1 * mu_2 * ... (1 for none). */
double nnd_optim_nadam_mu_product(const nnd_optim_config *cfg, uint64_t steps);

/* One update: params -= f(grad_scale * grads, state) with learning rate lr. grad_scale turns
 * the summed gradient into the mean (1 / global sample count). grads is left unchanged. */
void nnd_optim_step(nnd_optim *o, float *params, const float *grads, float grad_scale, double lr);

/* The update of a shard needs norms over whole tensors (lars, lamb) or over all parameters
 * (--clip-norm): the step computes its shard's partial sums of squares and calls sum(sums, n,
 * ctx), which must add them over every rank's shard in place, the same result on every rank (an
 * allreduce). Every rank calls it the same number of times per step, empty shards included:
 * once for --clip-norm, once for lars or lamb. Set after init; init clears it. */
void nnd_optim_set_norm_sum(nnd_optim *o, void (*sum)(double *sums, int n, void *ctx), void *ctx);
/* The deterministic mode's norms: every norm is the sum, in block order, of partial sums over
 * fixed blocks (4096 elements of one tensor, from the tensor's start), the same blocks and the
 * same order on any shard layout; a shard's blocks go through the hook at their own places of a
 * vector of all blocks (zeros elsewhere, so the ranks' sum of each is exact). --clip-norm's norm
 * is then the sum of the tensors' in tensor order. The shards must start at blocks:
 * nnd_optim_model_cuts lists the starts. */
void nnd_optim_set_exact_norms(nnd_optim *o, int on);
/* The blocks' starts of m's tensors, then n_params, into cuts (NULL: count only); returns how
 * many (for nnd_shards_init_at). */
size_t nnd_optim_model_cuts(const nnd_model *m, size_t *cuts);
/* 1 when cfg's update needs such sums (the optimizer is not elementwise). */
int nnd_optim_config_needs_norms(const nnd_optim_config *cfg);
/* The state tensors cfg's optimizer keeps (one float per parameter each): what it adds to a
 * run's memory (budget.h). -1 for an unknown kind. */
int nnd_optim_state_count(const nnd_optim_config *cfg);

/* The step for elements [lo, hi) only (the rank's shard; [lo, hi) within the state's range):
 * grads holds their hi - lo summed gradients, grads[0] being element lo's. The state outside
 * [lo, hi) is left as it was; the step counter advances as in nnd_optim_step. Elementwise
 * optimizers give bitwise the weights and state of nnd_optim_step over the whole range; with
 * norms (nnd_optim_config_needs_norms) the norm sum hook must be set, and the norms are the same
 * to round-off. */
void nnd_optim_step_shard(nnd_optim *o, float *params, const float *grads, float grad_scale,
                          double lr, size_t lo, size_t hi);

#endif
