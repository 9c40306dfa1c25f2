/* Evaluation of a model over a dataset split across the ranks, and the checks that a dataset fits
 * a model (features, classes or targets). */
#ifndef NNDIST_EVAL_H
#define NNDIST_EVAL_H

#include <stddef.h>
#include <stdint.h>

#include "nndist/ckpt.h"
#include "nndist/comm.h"
#include "nndist/data.h"
#include "nndist/error.h"
#include "nndist/loss.h"
#include "nndist/model.h"

typedef struct {
    double loss;     /* mean over samples (torch's: with class weights, over their weights' sum) */
    double accuracy; /* fraction correct */
    uint64_t samples;
} nnd_eval_result;

/* Collective: evaluates m on every rank's part ds (any split), summing across ranks; ce (may be
 * NULL) holds softmax-ce's class weights and label smoothing, of the loss only. With
 * stop_on_signal, a rank with a signal pending (nndist/guard.h) stops at its next batch and every
 * rank returns NND_ERR_INTERRUPTED (r then holds partial sums); without, the evaluation runs to
 * the end and a training loop acts on the signal at its next step. */
nnd_status nnd_evaluate(nnd_model *m, const nnd_dataset *ds, nnd_loss_kind loss,
                        const nnd_ce_opts *ce, const nnd_comm *c, int stop_on_signal,
                        nnd_eval_result *r);

/* The same, without stopping on a signal, with the loss summed exactly (fixed_sum.h): the same
 * bits however the samples are split across the ranks (the deterministic mode's evaluation). */
nnd_status nnd_evaluate_exact(nnd_model *m, const nnd_dataset *ds, nnd_loss_kind loss,
                              const nnd_ce_opts *ce, const nnd_comm *c, nnd_eval_result *r);

/* Collective: the model of a checkpoint or model file on every rank: the layer sizes from its
 * shapes, its activation attribute and parameter (act with its default parameter when it
 * records none; a note on rank 0 when act_name names another), workspace for batches of max_batch,
 * rank 0's read shared with the others. meta (may be NULL) receives the file's attributes on every
 * rank (its loss included); the file's standardization (if any) reaches every rank's model. */
nnd_status nnd_load_model_file(nnd_model *m, const char *path, nnd_activation act,
                               const char *act_name, size_t max_batch, const nnd_comm *c,
                               nnd_ckpt_meta *meta);

/* Collective, after nnd_load_model_file gave meta to every rank: the softmax-ce options the
 * model was trained with (its class_weights and label_smoothing attributes; ckpt.h) into ce on
 * every rank; *weights (K, or NULL when the file has none) is the caller's to free. */
nnd_status nnd_load_loss_options(const char *path, const nnd_model *m, const nnd_ckpt_meta *meta,
                                 const nnd_comm *c, double **weights, nnd_ce_opts *ce);

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
