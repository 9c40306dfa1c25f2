/* The options `train`, `lr-find` and `sweep` share (data, model, optimizer, batch, threads) and
 * their checks; each command adds its own options to the same table. */
#include "cmd/train_flags.h"

#include "nndist/dropout.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void nnd_train_flags_init(nnd_train_flags *f, nnd_train_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->x_name = "/X";
    cfg->y_name = "/y";
    cfg->batch = 128;
    cfg->batch_per_rank = 64;
    cfg->epochs = 10;
    cfg->seed = 1;
    cfg->keep = 3;
    cfg->lock_wait = 60.0;
    cfg->progress = -1;
    cfg->max_bad_steps = 5;
    cfg->diverge = 1e3;
    nnd_schedule_defaults(&cfg->sched);
    memset(f, 0, sizeof *f);
    f->cfg = cfg;
    f->act = "relu";
    f->loss = "softmax-ce";
    f->optimizer = "sgd";
    for (int i = 0; i < NND_TRAIN_FLAGS_MAX_HYPER; i++) f->hyper[i] = NAN;
}

int nnd_train_flags_add(nnd_train_flags *f, nnd_opt *opts, int n)
{
    nnd_train_config *cfg = f->cfg;
    const nnd_opt shared[] = {
        {"data", NND_OPT_STRING, &cfg->data, "FILE", "training set (HDF5 with /X and /y)", NULL},
        {"x-name", NND_OPT_STRING, &cfg->x_name, "NAME", "features dataset (default /X)", NULL},
        {"y-name", NND_OPT_STRING, &cfg->y_name, "NAME", "labels or targets dataset (default /y)",
         NULL},
        {"layers", NND_OPT_SIZES, &f->layers, "N0,...,NL", "layer sizes, inputs first", NULL},
        {"activation", NND_OPT_STRING, &f->act, "A",
         "hidden activation (torch.nn's): relu (default), tanh, sigmoid, gelu (GELU(), with "
         "erf), gelu-tanh (GELU(approximate='tanh')), leaky-relu (LeakyReLU, --leaky-slope), "
         "silu (SiLU: x sigmoid(x)), elu (ELU, --elu-alpha)",
         NULL},
        {"leaky-slope", NND_OPT_STRING, &f->act_param[0], "S",
         "leaky-relu's negative_slope: x < 0 gives S x; S >= 0 (default 0.01; 0 is relu)", NULL},
        {"elu-alpha", NND_OPT_STRING, &f->act_param[1], "A",
         "elu's alpha: x <= 0 gives A (exp(x) - 1); A > 0 (default 1)", NULL},
        {"dropout", NND_OPT_STRING, &f->dropout, "P|P1:P2:...",
         "inverted dropout on the hidden layers' outputs while training (torch.nn.Dropout(P)), "
         "one probability in [0, 1) for every hidden layer or one per hidden layer; off in "
         "eval, predict and export (default 0)",
         NULL},
        {"input-dropout", NND_OPT_NONNEG, &cfg->input_dropout, "P",
         "dropout on the input features while training, as --dropout's (default 0)", NULL},
        {"norm", NND_OPT_STRING, &f->norm, "none|layer|batch",
         "normalization after each hidden layer's product, before its activation, with learned "
         "scale and shift (eps 1e-5): layer (torch.nn.LayerNorm over the layer's units) or "
         "batch (torch.nn.BatchNorm1d over the global batch, synchronized across the ranks; "
         "running statistics with momentum 0.1 for eval); default none",
         NULL},
        {"precision", NND_OPT_STRING, &f->precision, "fp32|bf16",
         "the products' operands: fp32 (default) or bf16 (rounded to bfloat16, accumulated in "
         "float32; weights, optimizer state and checkpoints stay float32)",
         NULL},
        {"grad-precision", NND_OPT_STRING, &f->grad_precision, "fp32|bf16",
         "the gradient's sum over the ranks: fp32 (default) or bf16 (each rank's part rounded "
         "to bfloat16, half the bytes; summed in float32 in rank order by the sharded update)",
         NULL},
        {"loss", NND_OPT_STRING, &f->loss, "L",
         "softmax-ce (default; integer labels) or mse ((N, K) float targets)", NULL},
        {"class-weights", NND_OPT_STRING, &cfg->class_weights, "W0,...|balanced",
         "softmax-ce's class weights, torch's CrossEntropyLoss(weight=): one positive number per "
         "output, or balanced (N / (K x the class's count) over the training set); the mean "
         "loss divides by the samples' weights summed",
         NULL},
        {"label-smoothing", NND_OPT_NONNEG, &cfg->label_smoothing, "EPS",
         "softmax-ce's label smoothing in [0, 1), torch's CrossEntropyLoss(label_smoothing=): "
         "the target is (1 - EPS) one-hot + EPS / K (default 0)",
         &f->smoothing_given},
        {"optimizer", NND_OPT_STRING, &f->optimizer, "NAME",
         "sgd (default), momentum, nesterov, rmsprop, adam, adamw, adamax, nadam, adagrad, "
         "adadelta, lars, lamb",
         NULL},
    };
    for (size_t i = 0; i < sizeof shared / sizeof shared[0]; i++) opts[n++] = shared[i];
    size_t np;
    const nnd_optim_param *params = nnd_optim_params(&np);
    for (size_t i = 0; i < np && i < NND_TRAIN_FLAGS_MAX_HYPER; i++) {
        const nnd_optim_param *p = &params[i];
        nnd_opt o = {p->flag,
                     p->is_switch                 ? NND_OPT_FLAG
                     : strcmp(p->flag, "lr") == 0 ? NND_OPT_POSITIVE
                                                  : NND_OPT_NONNEG,
                     p->is_switch ? (void *)&f->hyper_on[i] : (void *)&f->hyper[i],
                     p->arg,
                     p->help,
                     &f->hyper_given[i]};
        opts[n++] = o;
    }
    const nnd_opt tail[] = {
        {"batch", NND_OPT_COUNT, &cfg->batch, "N", "global batch, split across ranks (default 128)",
         &f->batch_given},
        {"batch-per-rank", NND_OPT_COUNT, &cfg->batch_per_rank, "N",
         "batch per rank instead (global = N x ranks)", &f->bpr_given},
        {"seed", NND_OPT_UINT, &cfg->seed, "S", "seed of initialisation and shuffling (default 1)",
         NULL},
        {"no-shuffle", NND_OPT_FLAG, &f->no_shuffle, NULL, "batches in file order", NULL},
        {"standardize", NND_OPT_FLAG, &cfg->standardize, NULL,
         "scale each feature to mean 0 and standard deviation 1 over the training set; stored "
         "in the model, which eval, predict and export apply",
         NULL},
        {"init", NND_OPT_STRING, &cfg->init, "torch|he|xavier|FILE",
         "the initial weights: torch.nn.Linear's default (torch, the default), "
         "kaiming_uniform_ for ReLU (he) or xavier_uniform_ (xavier) with zero biases, or the "
         "/model weights of FILE (./he for a file named he)",
         NULL},
        {"threads", NND_OPT_COUNT, &f->threads, "N",
         "OpenMP threads per rank (default: cores / ranks on the node)", &f->threads_given},
        {"watchdog", NND_OPT_POSITIVE, &cfg->watchdog, "SECONDS",
         "abort the job when a rank is stuck this long in any phase (default max(60, 20 x "
         "the median step) for a step, and at least 600 for start-up, loading, "
         "checkpoints, evaluations and file writes)",
         NULL},
        {"overlap", NND_OPT_FLAG, &cfg->overlap, NULL,
         "sum each layer's gradient (MPI_Iallreduce) while backward computes the layers below, "
         "instead of the default one sum after backward",
         NULL},
        {"deterministic", NND_OPT_FLAG, &f->deterministic, NULL,
         "the same bits on any number of ranks (up to --units), threads and nodes: exact "
         "integer sums over fixed units of samples",
         NULL},
        {"units", NND_OPT_COUNT, &f->units, "U",
         "--deterministic's units of samples: a power of two, at least the rank count, the same "
         "in every run compared (default 8)",
         &f->units_given},
    };
    for (size_t i = 0; i < sizeof tail / sizeof tail[0]; i++) opts[n++] = tail[i];
    return n;
}

/* The flags of the hyperparameters that apply to kind, for a message. */
static void applicable_flags(nnd_optim_kind kind, char *buf, size_t size)
{
    size_t np, used = 0;
    const nnd_optim_param *params = nnd_optim_params(&np);
    buf[0] = '\0';
    for (size_t i = 0; i < np && used < size; i++)
        if (nnd_optim_param_applies(&params[i], kind))
            used += (size_t)snprintf(buf + used, size - used, "%s--%s", used ? ", " : "",
                                     params[i].flag);
}

static nnd_status finish_optimizer(nnd_train_flags *f)
{
    nnd_optim_config *oc = &f->cfg->optim;
    if (nnd_optim_defaults(f->optimizer, oc) != 0)
        return nnd_err_set(NND_ERR_USAGE, "--optimizer: unknown '%s'; expected one of: %s",
                           f->optimizer, nnd_optim_names());
    size_t np;
    const nnd_optim_param *params = nnd_optim_params(&np);
    for (size_t i = 0; i < np && i < NND_TRAIN_FLAGS_MAX_HYPER; i++) {
        if (!f->hyper_given[i]) continue;
        const nnd_optim_param *p = &params[i];
        if (!nnd_optim_param_applies(p, oc->kind)) {
            char list[512];
            applicable_flags(oc->kind, list, sizeof list);
            return nnd_err_set(NND_ERR_USAGE,
                               "--%s does not apply to --optimizer %s; its options are %s", p->flag,
                               f->optimizer, list);
        }
        nnd_optim_param_set(oc, p, p->is_switch ? 1.0 : f->hyper[i]);
    }
    return nnd_optim_validate(oc);
}

/* --class-weights and --label-smoothing: softmax-ce's, checked against the output layer. */
static nnd_status finish_loss_options(nnd_train_flags *f)
{
    nnd_train_config *cfg = f->cfg;
    const char *given = cfg->class_weights ? "--class-weights" : "--label-smoothing";
    if (cfg->loss == NND_LOSS_MSE && (cfg->class_weights || f->smoothing_given))
        return nnd_err_set(NND_ERR_USAGE,
                           "%s applies to --loss softmax-ce only: class weights and label "
                           "smoothing act on class labels, and mse's targets are (N, K) floats, "
                           "not classes",
                           given);
    if (!(cfg->label_smoothing < 1.0))
        return nnd_err_set(NND_ERR_USAGE,
                           "--label-smoothing %g: expected a value in [0, 1) (1 would leave no "
                           "weight on the true class)",
                           cfg->label_smoothing);
    if (!cfg->class_weights || strcmp(cfg->class_weights, "balanced") == 0) return NND_OK;
    return nnd_class_weights_parse(cfg->class_weights, cfg->sizes[cfg->n_layers], NULL);
}

/* --activation and its parameter: given only with the activation it belongs to, checked. */
static nnd_status finish_activation(nnd_train_flags *f)
{
    nnd_train_config *cfg = f->cfg;
    if (nnd_activation_parse(f->act, &cfg->act) != 0)
        return nnd_err_set(NND_ERR_USAGE, "--activation: unknown '%s'; expected one of: %s", f->act,
                           nnd_activation_names());
    cfg->act_param = nnd_activation_default_param(cfg->act);
    static const nnd_activation owner[2] = {NND_ACT_LEAKY_RELU, NND_ACT_ELU};
    for (int i = 0; i < 2; i++) {
        const char *text = f->act_param[i], *flag = nnd_activation_param_flag(owner[i]);
        if (!text) continue;
        if (cfg->act != owner[i])
            return nnd_err_set(NND_ERR_USAGE, "--%s applies to --activation %s only", flag,
                               nnd_activation_name(owner[i]));
        char *end = NULL;
        double v = strtod(text, &end);
        if (end == text || *end != '\0')
            return nnd_err_set(NND_ERR_USAGE, "--%s: '%s' is not a number", flag, text);
        const char *why = nnd_activation_param_problem(owner[i], v);
        if (why) return nnd_err_set(NND_ERR_USAGE, "--%s %s: %s", flag, text, why);
        cfg->act_param = v;
    }
    return NND_OK;
}

static nnd_status finish_deterministic(nnd_train_flags *f)
{
    if (f->units_given && !f->deterministic)
        return nnd_err_set(NND_ERR_USAGE, "--units applies to --deterministic only");
    if (!f->deterministic) return NND_OK;
    uint64_t u = f->units_given ? f->units : NND_DEFAULT_UNITS;
    if ((u & (u - 1)) != 0 || u > 65536)
        return nnd_err_set(NND_ERR_USAGE, "--units %llu: expected a power of two up to 65536",
                           (unsigned long long)u);
    if (f->cfg->overlap)
        return nnd_err_set(NND_ERR_USAGE,
                           "--overlap and --deterministic exclude each other (the deterministic "
                           "sum needs every layer's scale before it starts)");
    if (f->cfg->bf16)
        return nnd_err_set(NND_ERR_USAGE,
                           "--precision bf16 and --deterministic exclude each other for now (the "
                           "deterministic gradient is computed by float32 products)");
    if (f->cfg->grad_bf16)
        return nnd_err_set(NND_ERR_USAGE,
                           "--grad-precision bf16 and --deterministic exclude each other (the "
                           "deterministic sum is exact, in fixed point)");
    if (f->cfg->norm != NND_NORM_NONE)
        return nnd_err_set(NND_ERR_USAGE,
                           "--norm %s and --deterministic exclude each other for now (the "
                           "deterministic sum has no fixed-point scale for the normalization's "
                           "parameters yet)",
                           nnd_norm_name(f->cfg->norm));
    f->cfg->units = (size_t)u;
    return NND_OK;
}

nnd_status nnd_train_flags_finish(nnd_train_flags *f)
{
    nnd_train_config *cfg = f->cfg;
    if (!cfg->data && !f->data_optional)
        return nnd_err_set(NND_ERR_USAGE, "--data FILE is required (see --help)");
    if (f->layers.n < 2)
        return nnd_err_set(NND_ERR_USAGE, "--layers is required: at least two sizes, inputs and "
                                          "outputs, e.g. --layers 784,512,256,10");
    if (f->layers.n > NND_MAX_LAYERS + 1)
        return nnd_err_set(NND_ERR_USAGE, "--layers: at most %d layers", NND_MAX_LAYERS);
    cfg->n_layers = f->layers.n - 1;
    for (int i = 0; i < f->layers.n; i++) cfg->sizes[i] = f->layers.v[i];
    nnd_status st = finish_activation(f);
    if (st) return st;
    if (f->dropout && (st = nnd_dropout_parse(f->dropout, cfg->n_layers - 1, cfg->dropout)))
        return st;
    if (!(cfg->input_dropout < 1.0))
        return nnd_err_set(NND_ERR_USAGE,
                           "--input-dropout %g: expected a probability in [0, 1) (1 would drop "
                           "every feature)",
                           cfg->input_dropout);
    if (f->precision && strcmp(f->precision, "bf16") != 0 && strcmp(f->precision, "fp32") != 0)
        return nnd_err_set(NND_ERR_USAGE, "--precision: unknown '%s'; expected fp32 or bf16",
                           f->precision);
    cfg->bf16 = f->precision && strcmp(f->precision, "bf16") == 0;
    if (f->grad_precision && strcmp(f->grad_precision, "bf16") != 0 &&
        strcmp(f->grad_precision, "fp32") != 0)
        return nnd_err_set(NND_ERR_USAGE, "--grad-precision: unknown '%s'; expected fp32 or bf16",
                           f->grad_precision);
    cfg->grad_bf16 = f->grad_precision && strcmp(f->grad_precision, "bf16") == 0;
    if (cfg->grad_bf16 && cfg->overlap)
        return nnd_err_set(NND_ERR_USAGE,
                           "--grad-precision bf16 and --overlap exclude each other (--overlap sums "
                           "each layer with MPI's float32 allreduce; bf16 parts are summed by the "
                           "sharded update)");
    if (f->norm && nnd_norm_parse(f->norm, &cfg->norm) != 0)
        return nnd_err_set(NND_ERR_USAGE, "--norm: unknown '%s'; expected none, layer or batch",
                           f->norm);
    if (cfg->norm != NND_NORM_NONE && cfg->n_layers < 2)
        return nnd_err_set(NND_ERR_USAGE,
                           "--norm applies to hidden layers, and --layers gives none");
    if (nnd_loss_parse(f->loss, &cfg->loss) != 0)
        return nnd_err_set(NND_ERR_USAGE, "--loss: unknown '%s'; expected softmax-ce or mse",
                           f->loss);
    if ((st = finish_loss_options(f))) return st;
    if ((st = finish_optimizer(f))) return st;
    if (f->batch_given && f->bpr_given)
        return nnd_err_set(NND_ERR_USAGE, "--batch and --batch-per-rank exclude each other");
    if (f->bpr_given) cfg->batch = 0;
    if (f->threads_given) {
        if (f->threads > 4096)
            return nnd_err_set(NND_ERR_USAGE, "--threads: %llu is too many",
                               (unsigned long long)f->threads);
        cfg->threads = (int)f->threads;
    }
    cfg->shuffle = !f->no_shuffle;
    /* --init names a scheme or a file; a file called like a scheme is reached as ./he. */
    if (cfg->init && nnd_init_scheme_parse(cfg->init, &cfg->init_scheme) == 0) cfg->init = NULL;
    return finish_deterministic(f);
}

nnd_status nnd_train_flags_parse(nnd_train_flags *f, const nnd_opt *own, size_t n_own, int argc,
                                 char **argv, const char *usage, const char *description,
                                 const nnd_comm *c, int *help)
{
    nnd_opt opts[NND_TRAIN_FLAGS_MAX_OPTS + 64];
    if (n_own > 63) return nnd_err_set(NND_ERR_INTERNAL, "too many command options (%zu)", n_own);
    int n = nnd_train_flags_add(f, opts, 0);
    for (size_t i = 0; i < n_own; i++) opts[n++] = own[i];
    opts[n] = (nnd_opt){NULL, 0, NULL, NULL, NULL, NULL};
    nnd_status st = nnd_cli_parse(opts, argc, argv, 1, help);
    if (!st && *help) {
        if (c->rank == 0) nnd_cli_print_help(stdout, usage, description, opts);
        return NND_OK;
    }
    return st ? st : nnd_train_flags_finish(f);
}
