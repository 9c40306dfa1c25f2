#include "nndist/eval.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nndist/fixed_sum.h"

#include "nndist/guard.h"
#include "nndist/standardize.h"

void nnd_even_split(size_t n, int rank, int size, size_t *lo, size_t *hi)
{
    *lo = n * (size_t)rank / (size_t)size;
    *hi = n * (size_t)(rank + 1) / (size_t)size;
}

nnd_status nnd_check_data_fits(const char *path, const nnd_data_shape *shape, const nnd_model *m,
                               nnd_loss_kind loss, const char *y_name)
{
    size_t outputs = m->sizes[m->n_layers];
    if (shape->d != m->sizes[0])
        return nnd_err_set(NND_ERR_MISMATCH,
                           "%s: samples have %zu features but the first layer "
                           "takes %zu (--layers %zu,...)",
                           path, shape->d, m->sizes[0], shape->d);
    if (loss == NND_LOSS_SOFTMAX_CE && shape->k_targets)
        return nnd_err_set(NND_ERR_MISMATCH,
                           "%s: '%s' holds (N, %zu) targets; --loss softmax-ce "
                           "needs integer class labels (N)",
                           path, y_name, shape->k_targets);
    if (loss == NND_LOSS_SOFTMAX_CE && outputs < 2)
        return nnd_err_set(NND_ERR_USAGE,
                           "--loss softmax-ce needs at least 2 outputs, the last "
                           "layer has %zu",
                           outputs);
    if (loss == NND_LOSS_MSE && shape->k_targets != outputs)
        return nnd_err_set(NND_ERR_MISMATCH,
                           "%s: --loss mse needs '%s' as (N, %zu) float "
                           "targets, found %s",
                           path, y_name, outputs,
                           shape->k_targets ? "another width" : "integer labels (N)");
    return NND_OK;
}

nnd_status nnd_load_model_file(nnd_model *m, const char *path, nnd_activation act,
                               const char *act_name, size_t max_batch, const nnd_comm *c,
                               nnd_ckpt_meta *meta)
{
    size_t sizes[NND_MAX_LAYERS + 2];
    int n_layers = 0, act_found = 0;
    nnd_activation file_act = NND_ACT_RELU;
    double file_param = 0.0;
    memset(m, 0, sizeof *m);
    nnd_status st = nnd_ckpt_probe(path, sizes, &n_layers, &file_act, &act_found, &file_param);
    if ((st = nnd_comm_agree(c, st))) return st;
    if (act_found && act_name && act != file_act && c->rank == 0)
        fprintf(stderr, "nndist: note: %s records --activation %s; using it, not %s\n", path,
                nnd_activation_name(file_act), act_name);
    nnd_norm_kind norm = NND_NORM_NONE;
    st = nnd_ckpt_probe_norm(path, &norm);
    if ((st = nnd_comm_agree(c, st))) return st;
    st = nnd_model_init_norm(m, sizes, n_layers, act_found ? file_act : act, norm);
    if (act_found) m->act_param = file_param; /* else act's default */
    if (!st) st = nnd_model_reserve(m, max_batch);
    if ((st = nnd_comm_agree(c, st))) return st;
    nnd_ckpt_meta own;
    if (!meta) meta = &own;
    memset(meta, 0, sizeof *meta);
    st = c->rank == 0 ? nnd_ckpt_load(path, m, NULL, meta) : NND_OK;
    if ((st = nnd_comm_agree(c, st))) return st;
    nnd_comm_bcast_floats(c, m->params, m->n_params);
    if (m->running) nnd_comm_bcast_floats(c, m->running, m->n_running);
    MPI_Bcast(meta, (int)sizeof *meta, MPI_BYTE, 0, c->world);
    return nnd_standardize_share(m, c);
}

nnd_status nnd_load_loss_options(const char *path, const nnd_model *m, const nnd_ckpt_meta *meta,
                                 const nnd_comm *c, double **weights, nnd_ce_opts *ce)
{
    const size_t k = m->sizes[m->n_layers];
    *weights = NULL;
    *ce = (nnd_ce_opts){NULL, meta->label_smoothing};
    double *w = malloc(k * sizeof *w);
    int found = 0;
    nnd_status st = w ? NND_OK : nnd_err_set(NND_ERR_NOMEM, "out of memory for %zu weights", k);
    if (!st && c->rank == 0) st = nnd_ckpt_read_class_weights(path, k, w, &found);
    if (!st && !(ce->smoothing >= 0.0 && ce->smoothing < 1.0))
        st = nnd_err_set(NND_ERR_INPUT, "%s: its label_smoothing %g is not in [0, 1)", path,
                         ce->smoothing);
    if ((st = nnd_comm_agree(c, st))) {
        free(w);
        return st;
    }
    MPI_Bcast(&found, 1, MPI_INT, 0, c->world);
    if (!found) {
        free(w);
        return NND_OK;
    }
    MPI_Bcast(w, (int)k, MPI_DOUBLE, 0, c->world);
    *weights = w;
    ce->weights = w;
    return NND_OK;
}

nnd_status nnd_load_eval_data(nnd_dataset *ds, const char *path, const char *x_name,
                              const char *y_name, const nnd_model *m, nnd_loss_kind loss,
                              const nnd_comm *c)
{
    nnd_data_shape shape;
    memset(ds, 0, sizeof *ds);
    nnd_status st = nnd_data_probe(path, x_name, y_name, &shape);
    if (!st) st = nnd_check_data_fits(path, &shape, m, loss, y_name);
    if ((st = nnd_comm_agree(c, st))) return st;
    size_t lo, hi;
    nnd_even_split(shape.n, c->rank, c->size, &lo, &hi);
    st = nnd_data_load(ds, path, x_name, y_name, &shape, lo, hi,
                       loss == NND_LOSS_SOFTMAX_CE ? m->sizes[m->n_layers] : 0);
    return nnd_comm_agree(c, st);
}

/* The loss of sample i alone (its row of out). */
static double sample_loss(const float *out, const nnd_dataset *ds, nnd_loss_kind loss,
                          const nnd_ce_opts *ce, size_t i, size_t row, size_t k)
{
    if (loss == NND_LOSS_SOFTMAX_CE)
        return nnd_loss_softmax_ce_opts(out + row * k, ds->labels + i, 1, k, ce, NULL, NULL, NULL);
    return nnd_loss_mse(out + row * k, ds->targets + i * k, 1, k, NULL, NULL);
}

/* The exact loss sum over every rank's samples (fixed_sum.h): each sample's loss at a scale
 * agreed from the largest, summed as integers. */
static double exact_loss_sum(const double *losses, size_t rows, const nnd_comm *c)
{
    double big = 0.0, total_rows = (double)rows;
    for (size_t i = 0; i < rows; i++) big = fabs(losses[i]) > big ? fabs(losses[i]) : big;
    for (size_t i = 0; i < rows; i++) big = isfinite(losses[i]) ? big : INFINITY;
    MPI_Allreduce(MPI_IN_PLACE, &big, 1, MPI_DOUBLE, MPI_MAX, c->world);
    MPI_Allreduce(MPI_IN_PLACE, &total_rows, 1, MPI_DOUBLE, MPI_SUM, c->world);
    int s = nnd_fixed_shift_bound(total_rows * big);
    if (s == NND_FIXED_NONFINITE) return NAN;
    int64_t sum = 0;
    for (size_t i = 0; i < rows; i++) sum += llrint(ldexp(losses[i], s));
    MPI_Allreduce(MPI_IN_PLACE, &sum, 1, MPI_INT64_T, MPI_SUM, c->world);
    return ldexp((double)sum, -s);
}

/* Collective: torch's denominator of a weighted mean over every rank's samples,
 * sum_i w_{y_i} = sum_c w_c n_c from the class counts n_c summed over the ranks (exact integers),
 * added in class order: the same bits however the samples are split. */
static double weights_denominator(const nnd_dataset *ds, const double *w, size_t k,
                                  const nnd_comm *c, nnd_status *st)
{
    uint64_t *count = calloc(k, sizeof *count);
    *st = nnd_comm_agree(c, count ? NND_OK
                                  : nnd_err_set(NND_ERR_NOMEM, "out of memory for %zu classes", k));
    if (*st) return NAN;
    for (size_t i = 0; i < ds->hi - ds->lo; i++) count[ds->labels[i]]++;
    MPI_Allreduce(MPI_IN_PLACE, count, (int)k, MPI_UINT64_T, MPI_SUM, c->world);
    double denom = 0.0;
    for (size_t j = 0; j < k; j++) denom += w[j] * (double)count[j];
    free(count);
    return denom;
}

static nnd_status evaluate(nnd_model *m, const nnd_dataset *ds, nnd_loss_kind loss,
                           const nnd_ce_opts *ce, const nnd_comm *c, int stop_on_signal, int exact,
                           nnd_eval_result *r)
{
    if (loss != NND_LOSS_SOFTMAX_CE) ce = NULL;
    size_t rows = ds->hi - ds->lo, d = ds->shape.d, k = m->sizes[m->n_layers];
    size_t chunk = m->max_batch;
    double sums[4] = {0.0, 0.0, (double)rows, 0.0}; /* loss, correct, samples, ranks stopped */
    double *losses = exact ? malloc((rows + 1) * sizeof *losses) : NULL;
    nnd_status st = nnd_comm_agree(
        c,
        exact && !losses ? nnd_err_set(NND_ERR_NOMEM, "cannot allocate %zu losses", rows) : NND_OK);
    if (st) return st;
    for (size_t i = 0; i < rows && chunk > 0; i += chunk) {
        if (stop_on_signal && nnd_guard_signal_pending()) {
            sums[3] = 1.0;
            break;
        }
        size_t n = rows - i < chunk ? rows - i : chunk, correct = 0;
        const float *out = nnd_model_forward(m, ds->x + i * d, n);
        if (loss == NND_LOSS_SOFTMAX_CE)
            sums[0] +=
                nnd_loss_softmax_ce_opts(out, ds->labels + i, n, k, ce, NULL, &correct, NULL);
        else
            sums[0] += nnd_loss_mse(out, ds->targets + i * k, n, k, NULL, &correct);
        sums[1] += (double)correct;
        for (size_t j = 0; exact && j < n; j++)
            losses[i + j] = sample_loss(out, ds, loss, ce, i + j, j, k);
    }
    nnd_comm_allreduce_sum_d(c, sums, 4);
    if (exact && sums[3] == 0) sums[0] = exact_loss_sum(losses, rows, c);
    free(losses);
    /* torch's mean: over the samples, or with class weights over their weights' sum */
    double denom = sums[2];
    if (ce && ce->weights) {
        denom = weights_denominator(ds, ce->weights, k, c, &st);
        if (st) return st;
    }
    r->samples = (uint64_t)sums[2];
    r->loss = sums[2] > 0 ? sums[0] / denom : 0.0;
    r->accuracy = sums[2] > 0 ? sums[1] / sums[2] : 0.0;
    if (sums[3] > 0) {
        int sig = nnd_guard_signal_pending();
        return nnd_err_set(NND_ERR_INTERRUPTED,
                           "stopped by %s during the evaluation; nothing was saved",
                           sig ? nnd_guard_signal_name(sig) : "a signal received by another rank");
    }
    return NND_OK;
}

nnd_status nnd_evaluate(nnd_model *m, const nnd_dataset *ds, nnd_loss_kind loss,
                        const nnd_ce_opts *ce, const nnd_comm *c, int stop_on_signal,
                        nnd_eval_result *r)
{
    return evaluate(m, ds, loss, ce, c, stop_on_signal, 0, r);
}

nnd_status nnd_evaluate_exact(nnd_model *m, const nnd_dataset *ds, nnd_loss_kind loss,
                              const nnd_ce_opts *ce, const nnd_comm *c, nnd_eval_result *r)
{
    return evaluate(m, ds, loss, ce, c, 0, 1, r);
}
