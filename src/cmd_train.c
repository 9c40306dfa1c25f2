#include <math.h>
#include <string.h>

#include "nndist/cli.h"
#include "nndist/commands.h"
#include "nndist/train.h"

static const char *const g_usage = "nndist train --data FILE --layers N0,N1,...,NL [options]";
static const char *const g_description =
    "Trains a multi-layer perceptron with data parallelism: every rank reads its part of\n"
    "--data, gradients are averaged with one MPI_Allreduce per step, and every rank applies\n"
    "the same update. Run it under mpirun with the same command line on every rank.";

/* Hyperparameters that start unset (NaN) so the optimizer's defaults can fill them in. */
typedef struct {
    double lr, momentum, dampening, weight_decay;
    int nesterov;
} hyper_flags;

static nnd_status finish_config(nnd_train_config *cfg, const char *act, const char *loss,
                                const char *optimizer, const hyper_flags *h,
                                const nnd_cli_sizes *layers, int steps_given, int epochs_given,
                                int batch_given, int bpr_given, int threads_given, uint64_t threads,
                                int no_shuffle, int no_progress)
{
    if (!cfg->data) return nnd_err_set(NND_ERR_USAGE, "--data FILE is required (see --help)");
    if (layers->n < 2)
        return nnd_err_set(NND_ERR_USAGE, "--layers is required: at least two sizes, inputs and "
                                          "outputs, e.g. --layers 784,512,256,10");
    if (layers->n > NND_MAX_LAYERS + 1)
        return nnd_err_set(NND_ERR_USAGE, "--layers: at most %d layers", NND_MAX_LAYERS);
    cfg->n_layers = layers->n - 1;
    for (int i = 0; i < layers->n; i++) cfg->sizes[i] = layers->v[i];
    if (nnd_activation_parse(act, &cfg->act) != 0)
        return nnd_err_set(NND_ERR_USAGE,
                           "--activation: unknown '%s'; expected relu, tanh or "
                           "sigmoid",
                           act);
    if (nnd_loss_parse(loss, &cfg->loss) != 0)
        return nnd_err_set(NND_ERR_USAGE, "--loss: unknown '%s'; expected softmax-ce or mse", loss);
    if (nnd_optim_defaults(optimizer, &cfg->optim) != 0)
        return nnd_err_set(NND_ERR_USAGE, "--optimizer: unknown '%s'; expected one of: %s",
                           optimizer, nnd_optim_names());
    if (!isnan(h->lr)) cfg->optim.lr = h->lr;
    if (!isnan(h->momentum)) cfg->optim.momentum = h->momentum;
    if (!isnan(h->dampening)) cfg->optim.dampening = h->dampening;
    if (!isnan(h->weight_decay)) cfg->optim.weight_decay = h->weight_decay;
    if (h->nesterov) cfg->optim.nesterov = 1;
    nnd_status st = nnd_optim_validate(&cfg->optim);
    if (st) return st;
    if (batch_given && bpr_given)
        return nnd_err_set(NND_ERR_USAGE, "--batch and --batch-per-rank exclude each other");
    if (bpr_given) cfg->batch = 0;
    if (steps_given && epochs_given)
        return nnd_err_set(NND_ERR_USAGE, "--steps and --epochs exclude each other");
    if (steps_given) cfg->epochs = 0;
    if (cfg->resume && !cfg->ckpt_dir && strcmp(cfg->resume, "auto") == 0)
        return nnd_err_set(NND_ERR_USAGE, "--resume auto needs --checkpoint-dir DIR");
    if (cfg->ckpt_every && !cfg->ckpt_dir)
        return nnd_err_set(NND_ERR_USAGE, "--checkpoint-every needs --checkpoint-dir DIR");
    if (threads_given) {
        if (threads > 4096)
            return nnd_err_set(NND_ERR_USAGE, "--threads: %llu is too many",
                               (unsigned long long)threads);
        cfg->threads = (int)threads;
    }
    cfg->shuffle = !no_shuffle;
    if (no_progress) cfg->progress = 0;
    return NND_OK;
}

nnd_status nnd_cmd_train(int argc, char **argv, const nnd_comm *c)
{
    nnd_train_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.x_name = "/X";
    cfg.y_name = "/y";
    cfg.batch = 128;
    cfg.batch_per_rank = 64;
    cfg.epochs = 10;
    cfg.seed = 1;
    cfg.keep = 3;
    cfg.progress = -1;
    cfg.max_bad_steps = 5;
    const char *act = "relu", *loss = "softmax-ce", *optimizer = "sgd";
    hyper_flags h = {NAN, NAN, NAN, NAN, 0};
    nnd_cli_sizes layers = {{0}, 0};
    uint64_t threads = 0;
    int steps_given = 0, epochs_given = 0, batch_given = 0, bpr_given = 0, threads_given = 0;
    int no_shuffle = 0, no_progress = 0, help = 0;
    const nnd_opt opts[] = {
        {"data", NND_OPT_STRING, &cfg.data, "FILE", "training set (HDF5 with /X and /y)", NULL},
        {"val", NND_OPT_STRING, &cfg.val, "FILE", "validation set, evaluated after each epoch",
         NULL},
        {"x-name", NND_OPT_STRING, &cfg.x_name, "NAME", "features dataset (default /X)", NULL},
        {"y-name", NND_OPT_STRING, &cfg.y_name, "NAME", "labels or targets dataset (default /y)",
         NULL},
        {"layers", NND_OPT_SIZES, &layers, "N0,...,NL", "layer sizes, inputs first", NULL},
        {"activation", NND_OPT_STRING, &act, "A",
         "hidden activation: relu (default), tanh, "
         "sigmoid",
         NULL},
        {"loss", NND_OPT_STRING, &loss, "L",
         "softmax-ce (default; integer labels) or mse "
         "((N, K) float targets)",
         NULL},
        {"optimizer", NND_OPT_STRING, &optimizer, "NAME", "sgd (default), momentum, nesterov",
         NULL},
        {"lr", NND_OPT_POSITIVE, &h.lr, "X", "learning rate (default 0.01)", NULL},
        {"momentum", NND_OPT_NONNEG, &h.momentum, "X",
         "sgd momentum (default 0; 0.9 for "
         "momentum/nesterov)",
         NULL},
        {"dampening", NND_OPT_NONNEG, &h.dampening, "X", "sgd dampening (default 0)", NULL},
        {"weight-decay", NND_OPT_NONNEG, &h.weight_decay, "X", "L2 penalty (default 0)", NULL},
        {"nesterov", NND_OPT_FLAG, &h.nesterov, NULL, "Nesterov momentum", NULL},
        {"batch", NND_OPT_COUNT, &cfg.batch, "N", "global batch, split across ranks (default 128)",
         &batch_given},
        {"batch-per-rank", NND_OPT_COUNT, &cfg.batch_per_rank, "N",
         "batch per rank instead (global = N x ranks)", &bpr_given},
        {"epochs", NND_OPT_COUNT, &cfg.epochs, "N", "passes over the data (default 10)",
         &epochs_given},
        {"steps", NND_OPT_COUNT, &cfg.steps, "N", "total optimizer steps of the run instead",
         &steps_given},
        {"seed", NND_OPT_UINT, &cfg.seed, "S", "seed of initialisation and shuffling (default 1)",
         NULL},
        {"no-shuffle", NND_OPT_FLAG, &no_shuffle, NULL, "batches in file order", NULL},
        {"init", NND_OPT_STRING, &cfg.init, "FILE", "start from the /model weights of FILE", NULL},
        {"save", NND_OPT_STRING, &cfg.save, "FILE", "write the final model to FILE", NULL},
        {"checkpoint-dir", NND_OPT_STRING, &cfg.ckpt_dir, "DIR", "write checkpoints into DIR",
         NULL},
        {"checkpoint-every", NND_OPT_COUNT, &cfg.ckpt_every, "N",
         "checkpoint every N steps "
         "(default: at the end only)",
         NULL},
        {"keep", NND_OPT_COUNT, &cfg.keep, "K", "keep the newest K checkpoints (default 3)", NULL},
        {"resume", NND_OPT_STRING, &cfg.resume, "auto|FILE",
         "continue from the newest valid "
         "checkpoint in --checkpoint-dir (auto) or from FILE",
         NULL},
        {"metrics", NND_OPT_STRING, &cfg.metrics, "FILE", "append one CSV row per epoch", NULL},
        {"threads", NND_OPT_COUNT, &threads, "N",
         "OpenMP threads per rank (default: cores / "
         "ranks on the node)",
         &threads_given},
        {"no-progress", NND_OPT_FLAG, &no_progress, NULL, "no progress bar", NULL},
        {"watchdog", NND_OPT_POSITIVE, &cfg.watchdog, "SECONDS",
         "abort when a step hangs this long (default max(60, 20 x the median step))", NULL},
        {"max-bad-steps", NND_OPT_COUNT, &cfg.max_bad_steps, "N",
         "stop after N consecutive non-finite steps (skipped until then; default 5)", NULL},
        {NULL, 0, NULL, NULL, NULL, NULL},
    };
    nnd_status st = nnd_cli_parse(opts, argc, argv, 1, &help);
    if (!st && help) {
        if (c->rank == 0) nnd_cli_print_help(stdout, g_usage, g_description, opts);
        return NND_OK;
    }
    if (!st)
        st = finish_config(&cfg, act, loss, optimizer, &h, &layers, steps_given, epochs_given,
                           batch_given, bpr_given, threads_given, threads, no_shuffle, no_progress);
    /* Same argv everywhere, same verdict everywhere: no agreement needed before this point. */
    if (st) return st;
    return nnd_train_run(&cfg, c);
}
