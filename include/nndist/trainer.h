/* One data-parallel training session: the model, optimizer, this rank's data and the step.
 * `nndist train` drives it through epochs, checkpoints and logs; other commands (a learning-rate
 * finder, sweeps) drive the same step with their own learning rates. */
#ifndef NNDIST_TRAINER_H
#define NNDIST_TRAINER_H

#include <stdint.h>

#include "nndist/ckpt.h"
#include "nndist/comm.h"
#include "nndist/data.h"
#include "nndist/model.h"
#include "nndist/optim.h"
#include "nndist/order.h"
#include "nndist/trace.h"
#include "nndist/train_config.h"

typedef struct {
    const nnd_train_config *cfg; /* borrowed */
    const nnd_comm *c;           /* borrowed */
    nnd_model model;
    nnd_optim optim;
    nnd_order order;
    nnd_dataset train, val;
    int has_val;
    /* --loss mse: the mean over the outputs of the targets' variance, over the training set and
     * over --val (0 for classification); R^2 is measured against them (nnd_r2). */
    double train_target_var, val_target_var;
    uint64_t batch;   /* global batch */
    uint64_t spe;     /* steps per epoch */
    uint64_t step;    /* optimizer steps done */
    uint32_t *idx;    /* this rank's sample indices of the current step */
    uint64_t *sample; /* their rows in the training set, for dropout's masks (NULL without) */
    float *xb;        /* gathered batch (batch, d) */
    int32_t *yb;      /* gathered labels (batch) */
    float *tb;        /* gathered targets (batch, k) */
    nnd_trace *trace; /* borrowed; NULL when not tracing */
    /* softmax-ce's options (loss.h): the class weights (K, from --class-weights or 'balanced';
     * NULL without) and the options pointing at them with --label-smoothing's eps. */
    double *class_weights;
    nnd_ce_opts ce;
    /* Sharded update (several ranks, an elementwise optimizer): each rank gets its shard of the
     * summed gradient and updates that shard of the weights (and of its optimizer state). On
     * one node (shm) the ranks' gradients and one copy of the weights live in node-shared
     * memory and the shard is summed from there; otherwise a reduce-scatter brings each rank
     * its shard and an allgather the new weights. The state is current only in the rank's own
     * shard until nnd_trainer_sync_state. */
    int sharded;
    int shm;     /* the sharded update's buffers are node-shared */
    int overlap; /* --overlap: per-layer MPI_Iallreduce during backward (never with sharded) */
    nnd_shards shards;
    nnd_shm gshm;  /* gshm.seg[r]: rank r's gradient (model.grads on rank r) */
    nnd_shm pshm;  /* pshm.seg[0]: the node's weights (model.params on every rank) */
    float *gshard; /* this rank's shard of the summed gradient */
    /* --grad-precision bf16, sharded: the rank's gradient rounded to bf16 (in gshm on the shm
     * path, else its own, sent by MPI_Alltoallv) and, by MPI, its shard's parts from every
     * rank (parts[r]: rank r's) and the counts and offsets of that exchange. */
    int grad_bf16;
    uint16_t *g16, *g16_recv;
    const uint16_t **g16_parts;
    int *g16_count, *g16_displ;
    /* Sharded, on rank 0 while a checkpoint is read or written: the whole optimizer state
     * (optim keeps the rank's shard only). */
    nnd_optim io;
    int has_io;
    /* The deterministic mode (cfg->units > 0; docs/design.md, "Deterministic mode"): the batch's
     * rows grouped by unit (unit_end), each unit's loss sum, the fixed-point gradient with its
     * tail (isum) and, sharded by reduce-scatter, the rank's shard of it (ishard); shift holds
     * the step's scale of each tensor (W_0, b_0, W_1, ...). */
    int exact;
    size_t *unit_end;
    double *unit_loss;
    int64_t *isum, *ishard;
    int shift[2 * NND_MAX_LAYERS];
    double exact_loss;  /* the step's loss sum over all ranks */
    double *unit_denom; /* with class weights: each unit's sum of its samples' weights */
    double exact_denom; /* the step's denominator over all ranks (samples, or weights' sum) */
    float *float_units; /* NNDIST_FAULT=floatsum (tests): the rank's units added in float */
    float *own_grads;   /* the shm path: model.grads, the rank's own (the model, once its
                         * weights are shared, frees neither buffer) */
    int keep_io; /* keep io from one checkpoint to the next (a run that checkpoints often: its
                  * pages are touched once, not at every checkpoint) */
} nnd_trainer;

/* The global sums of one step, identical on every rank. loss_sum / samples is the batch's mean
 * loss as torch's 'mean' defines it: with class weights, loss_sum is the weighted mean times the
 * samples (docs/design.md, "Class weights and label smoothing"). */
typedef struct {
    double loss_sum, correct, samples;
    int signal; /* a rank received SIGUSR1/SIGTERM/SIGINT before this step's allreduce */
    double compute_s, allreduce_s, update_s; /* this rank's seconds in the step's phases */
    double forward_s; /* of compute_s: the batch's gather, forward and loss (the rest: backward) */
} nnd_step_stats;

/* The coefficient of determination of a mean squared error (mse loss: the mean over samples
 * and outputs) against the targets' variance averaged over the outputs:
 * 1 - sum_j SSE_j / sum_j SST_j, sklearn's r2_score with multioutput='variance_weighted' (the
 * usual R^2 with one output). NAN when the targets do not vary. */
double nnd_r2(double mse, double target_var);

/* Collective: sets the threads, builds model and optimizer, loads this rank's part of the data
 * (and of --val), allocates the step's buffers, initialises the weights from the seed or from
 * cfg->init. nnd_trainer_free is safe after a failure. */
nnd_status nnd_trainer_init(nnd_trainer *t, const nnd_train_config *cfg, const nnd_comm *c);
/* Collective: nnd_trainer_init on data already in memory instead of cfg->data and cfg->val
 * (which name the source in messages only). The batch order runs over the positions
 * 0..train->n-1 of the subset, and each rank gathers the positions of its stripes, exactly as
 * if the subset's rows were a file of their own; val (or NULL) is split evenly across the ranks
 * like a --val file. So the session equals `train` on files holding those rows, in that order,
 * on the same number of ranks, bitwise. */
nnd_status nnd_trainer_init_subset(nnd_trainer *t, const nnd_train_config *cfg, const nnd_comm *c,
                                   const nnd_data_subset *train, const nnd_data_subset *val);
void nnd_trainer_free(nnd_trainer *t);

/* Collective: rank 0 loads path (weights, and the optimizer state when with_optim), then every
 * rank receives it. meta may be NULL. */
nnd_status nnd_trainer_load(nnd_trainer *t, const char *path, int with_optim, nnd_ckpt_meta *meta);
/* Collective: switches a session over a training file to batch order `version` (order.h),
 * reloading this rank's samples when its stripes change; a resumed run keeps its checkpoint's
 * order. */
nnd_status nnd_trainer_use_order(nnd_trainer *t, int version);
/* Checkpoints of a sharded session go through rank 0, which holds the whole optimizer state only
 * while a checkpoint is read or written:
 * - writing: nnd_trainer_sync_state gathers the state; rank 0 writes nnd_trainer_state_io(t);
 *   nnd_trainer_release_state frees the copy (unless t->keep_io);
 * - reading: nnd_trainer_open_state makes room; rank 0 reads into nnd_trainer_state_io(t);
 *   nnd_trainer_share_state hands every rank its part and frees the copy.
 * Unsharded, the state io is t->optim itself and these move nothing but the shares. */
nnd_optim *nnd_trainer_state_io(nnd_trainer *t);
/* Collective: room for the whole state on rank 0 (agreed: a failure is every rank's). */
nnd_status nnd_trainer_open_state(nnd_trainer *t);
/* Collective: every rank receives rank 0's weights, optimizer state (from the state io) and step
 * counter. */
void nnd_trainer_share_state(nnd_trainer *t);
/* Collective: the whole optimizer state into rank 0's state io (after sharded updates each rank
 * holds its own shard only); call before writing a checkpoint. */
nnd_status nnd_trainer_sync_state(nnd_trainer *t);
void nnd_trainer_release_state(nnd_trainer *t);

/* Collective: one optimizer step at t->step with learning rate lr: gather, forward, loss,
 * backward, one allreduce and the update (or, sharded: the sum of the rank's shard over the
 * shared gradients and the update of that shard of the shared weights); then t->step++. A
 * non-finite loss or gradient on any rank is seen by all (it rides in the allreduce): the step is
 * consumed without an update and NND_ERR_NUMERIC is returned; the caller decides whether to go on.
 * s is filled either way. */
nnd_status nnd_trainer_step(nnd_trainer *t, double lr, nnd_step_stats *s);

#endif
