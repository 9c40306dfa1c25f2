#include <math.h>
#include <stdio.h>
#include <string.h>

#include "nndist/cli.h"
#include "nndist/commands.h"
#include "nndist/train.h"

#include "cmd/train_flags.h"

static const char *const g_usage = "nndist train --data FILE --layers N0,N1,...,NL [options]";
static const char *const g_description =
    "Trains a multi-layer perceptron with data parallelism: every rank reads its part of\n"
    "--data and computes the gradient of its samples; the gradients are summed over the\n"
    "ranks, and with several ranks each rank updates its shard of the weights and keeps its\n"
    "shard of the optimizer state (NNDIST_UPDATE=replicated: every rank updates all). Run it\n"
    "under mpirun with the same command line on every rank.";

/* ---- train's own options ---- */

typedef struct {
    int steps_given, epochs_given, no_progress;
    const char *schedule, *lr_scale;
    double gamma, lr_min;
} train_only;

static nnd_status finish_train(nnd_train_config *cfg, const train_only *o)
{
    if (o->steps_given && o->epochs_given)
        return nnd_err_set(NND_ERR_USAGE, "--steps and --epochs exclude each other");
    if (o->steps_given) cfg->epochs = 0;
    if (cfg->resume && !cfg->ckpt_dir && strcmp(cfg->resume, "auto") == 0)
        return nnd_err_set(NND_ERR_USAGE, "--resume auto needs --checkpoint-dir DIR");
    if (cfg->ckpt_every && !cfg->ckpt_dir)
        return nnd_err_set(NND_ERR_USAGE, "--checkpoint-every needs --checkpoint-dir DIR");
    if (o->no_progress) cfg->progress = 0;
    if (cfg->log_every && !cfg->metrics)
        return nnd_err_set(NND_ERR_USAGE, "--log-every needs --metrics FILE (the step rows go "
                                          "beside it)");
    if (cfg->early_stop && !cfg->val)
        return nnd_err_set(NND_ERR_USAGE, "--early-stop needs --val FILE to evaluate");
    if (cfg->save_best && !cfg->val)
        return nnd_err_set(NND_ERR_USAGE, "--save-best needs --val FILE to evaluate");
    if (cfg->diverge != 0.0 && cfg->diverge <= 1.0)
        return nnd_err_set(NND_ERR_USAGE, "--diverge: %g is out of range; expected 0 (off) or > 1",
                           cfg->diverge);
    if (nnd_schedule_parse(o->schedule, &cfg->sched.kind) != 0)
        return nnd_err_set(NND_ERR_USAGE,
                           "--lr-schedule: unknown '%s'; expected constant, step, exponential or "
                           "cosine",
                           o->schedule);
    if (strcmp(o->lr_scale, "linear") == 0)
        cfg->sched.scale_linear = 1;
    else if (strcmp(o->lr_scale, "none") != 0)
        return nnd_err_set(NND_ERR_USAGE, "--lr-scale: unknown '%s'; expected none or linear",
                           o->lr_scale);
    cfg->sched.gamma = o->gamma;
    cfg->sched.lr_min = o->lr_min;
    return nnd_schedule_validate(&cfg->sched);
}

nnd_status nnd_cmd_train(int argc, char **argv, const nnd_comm *c)
{
    nnd_train_config cfg;
    nnd_train_flags f;
    nnd_train_flags_init(&f, &cfg);
    train_only o = {0, 0, 0, "constant", "none", NAN, 0.0};
    int help = 0;
    const nnd_opt own[] = {
        {"val", NND_OPT_STRING, &cfg.val, "FILE", "validation set, evaluated after each epoch",
         NULL},
        {"epochs", NND_OPT_COUNT, &cfg.epochs, "N", "passes over the data (default 10)",
         &o.epochs_given},
        {"steps", NND_OPT_COUNT, &cfg.steps, "N", "total optimizer steps of the run instead",
         &o.steps_given},
        {"lr-schedule", NND_OPT_STRING, &o.schedule, "NAME",
         "constant (default), step, exponential, cosine", NULL},
        {"lr-step-size", NND_OPT_COUNT, &cfg.sched.step_size, "N",
         "step: multiply the lr by --lr-gamma every N steps", NULL},
        {"lr-gamma", NND_OPT_POSITIVE, &o.gamma, "X",
         "step: decay factor (default 0.1); exponential: factor per step (required)", NULL},
        {"lr-min", NND_OPT_NONNEG, &o.lr_min, "X", "cosine: the final lr (default 0)", NULL},
        {"warmup-steps", NND_OPT_UINT, &cfg.sched.warmup_steps, "N",
         "ramp the lr up linearly over the first N steps (default 0)", NULL},
        {"lr-scale", NND_OPT_STRING, &o.lr_scale, "none|linear",
         "linear: lr x global batch / --lr-base-batch (Goyal et al. 2017)", NULL},
        {"lr-base-batch", NND_OPT_COUNT, &cfg.sched.base_batch, "N",
         "the batch --lr was tuned for, with --lr-scale linear (default 256)", NULL},
        {"save", NND_OPT_STRING, &cfg.save, "FILE", "write the final model to FILE", NULL},
        {"checkpoint-dir", NND_OPT_STRING, &cfg.ckpt_dir, "DIR", "write checkpoints into DIR",
         NULL},
        {"checkpoint-every", NND_OPT_COUNT, &cfg.ckpt_every, "N",
         "checkpoint every N steps (default: at the end only)", NULL},
        {"keep", NND_OPT_COUNT, &cfg.keep, "K", "keep the newest K checkpoints (default 3)", NULL},
        {"sync-checkpoints", NND_OPT_FLAG, &cfg.ckpt_sync, NULL,
         "write each checkpoint before the next step (default: the steps go on while a thread "
         "writes it)",
         NULL},
        {"lock-wait", NND_OPT_NONNEG, &cfg.lock_wait, "SECONDS",
         "a requeued SLURM job waits this long for its old instance to release "
         "--checkpoint-dir (default 60)",
         NULL},
        {"resume", NND_OPT_STRING, &cfg.resume, "auto|FILE",
         "continue from the newest valid checkpoint in --checkpoint-dir (auto) or from FILE", NULL},
        {"metrics", NND_OPT_STRING, &cfg.metrics, "FILE",
         "one row per epoch: CSV, or JSON lines for a name ending in .jsonl (a new file; a "
         "resumed run continues it)",
         NULL},
        {"log-every", NND_OPT_COUNT, &cfg.log_every, "N",
         "also a row every N steps, in --metrics' step file (m.csv: m.steps.csv)", NULL},
        {"early-stop", NND_OPT_COUNT, &cfg.early_stop, "N",
         "stop after N evaluations of --val without improvement (accuracy; for mse the loss)",
         NULL},
        {"save-best", NND_OPT_STRING, &cfg.save_best, "FILE",
         "write the model of the best --val evaluation to FILE (atomically, as it improves)", NULL},
        {"no-progress", NND_OPT_FLAG, &o.no_progress, NULL, "no progress bar", NULL},
        {"max-bad-steps", NND_OPT_COUNT, &cfg.max_bad_steps, "N",
         "stop after N consecutive non-finite steps (skipped until then; default 5)", NULL},
        {"diverge", NND_OPT_NONNEG, &cfg.diverge, "X",
         "stop when the smoothed loss exceeds X times its lowest and its first value "
         "(default 1000; 0: never)",
         NULL},
        {"trace", NND_OPT_STRING, &cfg.trace, "FILE.json",
         "write a Chrome/Perfetto trace of every rank's phases", NULL},
    };
    nnd_status st = nnd_train_flags_parse(&f, own, sizeof own / sizeof own[0], argc, argv, g_usage,
                                          g_description, c, &help);
    if (!st && help) return NND_OK;
    if (!st) st = finish_train(&cfg, &o);
    /* Same argv everywhere, same verdict everywhere: no agreement needed before this point. */
    if (st) return st;
    return nnd_train_run(&cfg, c);
}
