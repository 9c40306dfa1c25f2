/* The training loop: batch, forward, loss, backward, allreduce, update, log, checkpoint. */
#ifndef NNDIST_TRAIN_H
#define NNDIST_TRAIN_H

#include <stddef.h>
#include <stdint.h>

#include "nndist/comm.h"
#include "nndist/data.h"
#include "nndist/error.h"
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
    nnd_loss_kind loss;
    nnd_optim_config optim;
    nnd_schedule_config sched; /* learning rate as a function of the step */
    uint64_t batch;            /* global batch; 0 = batch_per_rank * ranks */
    uint64_t batch_per_rank;
    uint64_t epochs, steps; /* steps != 0 overrides epochs */
    uint64_t seed;
    int shuffle;
    const char *init; /* weights to start from, or NULL */
    const char *save; /* final model file, or NULL */
    const char *ckpt_dir;
    uint64_t ckpt_every; /* steps; 0 = only at the end */
    uint64_t keep;
    const char *resume;     /* NULL, "auto" or a checkpoint file */
    const char *metrics;    /* CSV file, or NULL */
    int threads;            /* 0 = default */
    int overlap;            /* per-layer non-blocking gradient sums during backward */
    int progress;           /* -1 auto (a terminal), 0 off, 1 on */
    double watchdog;        /* seconds a step may take before the job is aborted; 0 = auto */
    uint64_t max_bad_steps; /* consecutive non-finite steps skipped before the run stops */
    const char *trace;      /* Chrome trace JSON to write, or NULL */
} nnd_train_config;

/* Collective: trains as configured. Returns the agreed status (same on every rank); rank 0 has
 * printed progress, rank 0's nnd_err_msg() holds the failure. */
nnd_status nnd_train_run(const nnd_train_config *cfg, const nnd_comm *c);

typedef struct {
    double loss;     /* mean over samples */
    double accuracy; /* fraction correct */
    uint64_t samples;
} nnd_eval_result;

/* Collective: evaluates m on every rank's part ds (any split), summing across ranks. */
nnd_status nnd_evaluate(nnd_model *m, const nnd_dataset *ds, nnd_loss_kind loss, const nnd_comm *c,
                        nnd_eval_result *r);

/* Rank r's part [lo, hi) of n samples split evenly across size ranks (for evaluation). */
void nnd_even_split(size_t n, int rank, int size, size_t *lo, size_t *hi);

/* Collective: probes and loads this rank's even part of an evaluation file, checking it against
 * the model (features, classes). */
nnd_status nnd_load_eval_data(nnd_dataset *ds, const char *path, const char *x_name,
                              const char *y_name, const nnd_model *m, nnd_loss_kind loss,
                              const nnd_comm *c);

/* Checks a probed dataset against the model and loss; formats the message. */
nnd_status nnd_check_data_fits(const char *path, const nnd_data_shape *shape, const nnd_model *m,
                               nnd_loss_kind loss, const char *y_name);

#endif
