/* What a training session is asked to do: data, model, optimizer, schedule, batch, run length,
 * files. Filled by the commands' option parsing; read by the trainer and the run loop. */
#ifndef NNDIST_TRAIN_CONFIG_H
#define NNDIST_TRAIN_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include "nndist/loss.h"
#include "nndist/model.h"
#include "nndist/optim.h"
#include "nndist/schedule.h"

typedef struct {
    const char *data, *val;      /* dataset files; val may be NULL */
    const char *x_name, *y_name; /* dataset names inside them */
    size_t sizes[NND_MAX_LAYERS + 1];
    int n_layers;
    nnd_activation act;
    double act_param; /* leaky-relu's slope, elu's alpha (activation.h); the default if not given */
    double dropout[NND_MAX_LAYERS]; /* --dropout: per hidden layer (dropout.h); 0 = none */
    double input_dropout;           /* --input-dropout: on the input features; 0 = none */
    nnd_norm_kind norm;             /* --norm: the hidden layers' normalization (norm.h) */
    int bf16;                       /* --precision bf16: bf16 products (gemm_bf16.h) */
    int grad_bf16; /* --grad-precision bf16: the ranks' gradients summed from bf16 parts */
    nnd_loss_kind loss;
    /* softmax-ce's options (loss.h): --class-weights NULL, "balanced" or "w0,w1,..." (checked
     * against the output layer's size), --label-smoothing eps in [0, 1) */
    const char *class_weights;
    double label_smoothing;
    nnd_optim_config optim;
    nnd_schedule_config sched; /* learning rate as a function of the step */
    uint64_t batch;            /* global batch; 0 = batch_per_rank * ranks */
    uint64_t batch_per_rank;
    uint64_t epochs, steps; /* steps != 0 overrides epochs */
    uint64_t seed;
    int shuffle;
    int standardize;             /* --standardize: features to mean 0, std 1 (standardize.h) */
    const char *init;            /* weights to start from, or NULL */
    nnd_init_scheme init_scheme; /* how they start without a file (--init he|xavier|torch) */
    const char *save;            /* final model file, or NULL */
    const char *ckpt_dir;
    uint64_t ckpt_every; /* steps; 0 = only at the end */
    uint64_t keep;
    int ckpt_sync;          /* write each checkpoint before the next step (no background writes) */
    double lock_wait;       /* seconds to wait for the directory's lock held by this SLURM job */
    const char *resume;     /* NULL, "auto" or a checkpoint file */
    const char *metrics;    /* CSV (or JSON lines) file, or NULL */
    uint64_t log_every;     /* --log-every: a step row every N steps (0: none) */
    uint64_t early_stop;    /* --early-stop: stop after N evaluations without improvement */
    const char *save_best;  /* --save-best: the best validation model's file, or NULL */
    int threads;            /* 0 = default */
    int overlap;            /* per-layer non-blocking gradient sums during backward */
    size_t units;           /* --deterministic: units of samples (0: the mode is off) */
    int progress;           /* -1 auto (a terminal), 0 off, 1 on */
    double watchdog;        /* seconds a step may take before the job is aborted; 0 = auto */
    uint64_t max_bad_steps; /* consecutive non-finite steps skipped before the run stops */
    double diverge;         /* the divergence rule's factor (stepper.h); 0 = off */
    const char *trace;      /* Chrome trace JSON to write, or NULL */
} nnd_train_config;

#endif
