/* The training step's loss: softmax cross-entropy's class weights (given, or balanced over the
 * training set) and the batch's loss, gradient and denominator (docs/design.md, "Class weights
 * and label smoothing"). */
#include "trainer_internal.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

/* 'balanced', sklearn's compute_class_weight: w_c = N / (K count_c) over the training set's N
 * rows, every rank's counted (exact integers, so the same weights on any rank count). */
static nnd_status balanced_weights(nnd_trainer *t, size_t k, double *w)
{
    uint64_t *count = calloc(k, sizeof *count);
    nnd_status st = nnd_comm_agree(
        t->c, count ? NND_OK : nnd_err_set(NND_ERR_NOMEM, "out of memory for %zu classes", k));
    if (st) return st;
    const size_t rows = t->train.hi - t->train.lo;
    for (size_t i = 0; i < rows; i++) count[t->train.labels[i]]++;
    MPI_Allreduce(MPI_IN_PLACE, count, (int)k, MPI_UINT64_T, MPI_SUM, t->c->world);
    uint64_t n = 0;
    for (size_t j = 0; j < k; j++) n += count[j];
    for (size_t j = 0; j < k && !st; j++) {
        if (count[j] == 0)
            st = nnd_err_set(NND_ERR_INPUT,
                             "--class-weights balanced: class %zu has no sample among the %" PRIu64
                             " training samples of %s, so its weight N / (K count) would divide "
                             "by zero; give the weights explicitly (w0,...,w%zu), or train on "
                             "data that holds every class",
                             j, n, t->cfg->data, k - 1);
        else
            w[j] = (double)n / ((double)k * (double)count[j]);
    }
    free(count);
    return st; /* every rank holds the same counts, so the same verdict */
}

nnd_status nnd_trainer_setup_loss(nnd_trainer *t)
{
    const nnd_train_config *cfg = t->cfg;
    const size_t k = t->model.sizes[t->model.n_layers];
    t->ce = (nnd_ce_opts){NULL, cfg->label_smoothing};
    if (!cfg->class_weights || cfg->loss != NND_LOSS_SOFTMAX_CE) return NND_OK;
    t->class_weights = malloc(k * sizeof *t->class_weights);
    nnd_status st = nnd_comm_agree(
        t->c,
        t->class_weights ? NND_OK : nnd_err_set(NND_ERR_NOMEM, "out of memory for %zu weights", k));
    if (st) return st;
    if (strcmp(cfg->class_weights, "balanced") == 0)
        st = balanced_weights(t, k, t->class_weights);
    else /* checked when the options were parsed */
        st = nnd_comm_agree(t->c, nnd_class_weights_parse(cfg->class_weights, k, t->class_weights));
    if (!st) t->ce.weights = t->class_weights;
    return st;
}

double nnd_trainer_batch_loss(nnd_trainer *t, const float *out, size_t n, float *dout,
                              size_t *correct, double *denom)
{
    const size_t k = t->model.sizes[t->model.n_layers];
    const size_t units = t->exact ? t->order.u_hi - t->order.u_lo : 1;
    double total = 0.0;
    *denom = 0.0;
    for (size_t u = 0, r0 = 0; u < units; u++) {
        size_t r1 = t->exact ? t->unit_end[u] : n, hits = 0;
        double sum = 0.0, d = (double)(r1 - r0);
        if (r1 > r0 && t->cfg->loss == NND_LOSS_SOFTMAX_CE)
            sum = nnd_loss_softmax_ce_opts(out + r0 * k, t->yb + r0, r1 - r0, k, &t->ce,
                                           dout + r0 * k, &hits, &d);
        else if (r1 > r0)
            sum = nnd_loss_mse(out + r0 * k, t->tb + r0 * k, r1 - r0, k, dout + r0 * k, &hits);
        if (t->exact) t->unit_loss[u] = sum;
        if (t->exact && t->unit_denom) t->unit_denom[u] = d;
        total += sum;
        *denom += d;
        *correct += hits;
        r0 = r1;
    }
    return total;
}
