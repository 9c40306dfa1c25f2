/* Shared by trainer.c (the session and its step) and gradsum.c (how the step's gradients are
 * summed over the ranks and which ranks apply which part of the update). */
#ifndef NNDIST_TRAINER_INTERNAL_H
#define NNDIST_TRAINER_INTERNAL_H

#include "nndist/trainer.h"

/* The floats after the gradient in model.grads (NND_GRAD_TAIL of them): the step's statistics
 * and the flags every rank must act on alike, summed in the gradient's own reduction. */
enum {
    TAIL_SAMPLES,   /* samples in the batch */
    TAIL_LOSS_SUM,  /* the loss summed over them */
    TAIL_CORRECT,   /* correct predictions among them */
    TAIL_SIGNAL,    /* > 0: a rank has a signal pending */
    TAIL_NONFINITE, /* > 0: a gradient (or, sharded, a shard of the sum) is not finite */
    TAIL_WEIGHTS,   /* with class weights: the samples' weights summed, sum_i w_{y_i} */
    TAIL_USED
};
_Static_assert(TAIL_USED <= NND_GRAD_TAIL, "the gradient's tail has no room for the statistics");

/* Collective, once the training rows are loaded: the loss's class weights (cfg->class_weights's
 * list, or 'balanced' from the class counts over every rank's rows) into t->class_weights and
 * t->ce; every rank agrees on a refusal (a class without samples). */
nnd_status nnd_trainer_setup_loss(nnd_trainer *t);
/* The loss of the batch's n samples (their outputs out) and its gradient into dout; *denom gets
 * the batch's denominator (sum of the samples' class weights; n without). In the deterministic
 * mode also each unit's loss and denominator, over the unit's rows in order. */
double nnd_trainer_batch_loss(nnd_trainer *t, const float *out, size_t n, float *dout,
                              size_t *correct, double *denom);

/* Chooses the session's path for the gradient's sum and the update (collective): --overlap,
 * the node-shared sharded update, or one allreduce with every rank updating all the weights. */
nnd_status nnd_trainer_plan_update(nnd_trainer *t);

/* Backward, and the sum over the ranks of the gradient with its tail (its TAIL_SIGNAL, the signal
 * flag, is read here), by the session's path. Returns the summed tail, whose TAIL_NONFINITE flags
 * a non-finite summed gradient alike on every rank (on every path: a sum of finite parts can
 * overflow); *t1 is when backward (and the fault injection) ended. summed_tail is room for the
 * tail where the path needs its own. */
const float *nnd_trainer_backward_and_sum(nnd_trainer *t, float *dout, size_t n, float *summed_tail,
                                          double *t1);

/* The deterministic mode's buffers for the path nnd_trainer_plan_update chose (collective): the
 * units' rows and losses, the fixed-point sum (in node-shared memory on the shm path) and, sharded,
 * the rank's shard of it. */
nnd_status nnd_trainer_exact_buffers(nnd_trainer *t);
/* The deterministic mode's backward and sum (gradsum_exact.c): every layer's dZ, the agreed
 * maxima and scales, each unit's gradient in fixed point, their sum over the ranks, decoded into
 * model.grads (or, sharded, t->gshard). Returns the summed tail as nnd_trainer_backward_and_sum
 * does; the loss sum goes to t->exact_loss. */
const float *nnd_trainer_exact_sum(nnd_trainer *t, float *dout, size_t n, size_t correct,
                                   float *summed_tail, double *t1);

#endif
