/* What `nndist eval` reports beyond the loss and accuracy (collective over the ranks' shares):
 * for a classifier the confusion matrix (from which precision, recall and F1 per class) and the
 * top-k accuracy; for a regression model per output the squared and absolute errors and the
 * sums R^2 needs. Counts are integers and the sums doubles, added over the ranks. */
#ifndef NNDIST_EVAL_REPORT_H
#define NNDIST_EVAL_REPORT_H

#include <stddef.h>
#include <stdint.h>

#include "nndist/comm.h"
#include "nndist/data.h"
#include "nndist/error.h"
#include "nndist/model.h"

typedef struct {
    int classify;
    size_t k;             /* classes, or outputs */
    uint64_t samples;     /* over all ranks */
    uint64_t *confusion;  /* classify: k x k counts, [true class][predicted class] */
    int topk;             /* classify: the k of the top-k accuracy (0: not asked) */
    uint64_t topk_hits;   /* samples whose class is among the topk largest outputs */
    double *sse, *sae;    /* regression, per output: sums of squared and absolute errors */
    double *sum, *sum_sq; /* regression, per output: sums of the targets and of their squares */
} nnd_eval_report;

/* Forward over the rank's share ds in chunks of m->max_batch, then the sums over the ranks. */
nnd_status nnd_eval_report_compute(nnd_model *m, const nnd_dataset *ds, int classify, int topk,
                                   const nnd_comm *c, nnd_eval_report *r);
void nnd_eval_report_free(nnd_eval_report *r);

/* Class j's precision, recall and F1 (0 where undefined: no prediction or no sample of j). */
void nnd_eval_report_class(const nnd_eval_report *r, size_t j, double *precision, double *recall,
                           double *f1, uint64_t *support);
/* R^2 over all the outputs, variance-weighted: 1 - sum_j SSE_j / sum_j SST_j (sklearn's
 * multioutput='variance_weighted'; the usual R^2 with one output), the figure train's epoch
 * lines print; NAN when the targets do not vary. */
double nnd_eval_report_r2(const nnd_eval_report *r);
/* Output j's MSE, MAE and R^2 (1 - SSE / the targets' sum of squares about their mean; NaN
 * when the targets are constant). */
void nnd_eval_report_output(const nnd_eval_report *r, size_t j, double *mse, double *mae,
                            double *r2);

#endif
