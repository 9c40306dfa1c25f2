#include "nndist/eval_report.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* The rank's counts and sums for rows [0, n) of a forward pass's outputs. */
static void add_rows(nnd_eval_report *r, const float *out, const nnd_dataset *ds, size_t i0,
                     size_t n)
{
    const size_t k = r->k;
    for (size_t i = 0; i < n; i++) {
        const float *z = out + i * k;
        if (r->classify) {
            size_t top = 0;
            for (size_t j = 1; j < k; j++) top = z[j] > z[top] ? j : top;
            size_t y = (size_t)ds->labels[i0 + i], above = 0;
            r->confusion[y * k + top]++;
            for (size_t j = 0; j < k; j++) above += z[j] > z[y];
            r->topk_hits += r->topk > 0 && above < (size_t)r->topk;
        } else {
            const float *t = ds->targets + (i0 + i) * k;
            for (size_t j = 0; j < k; j++) {
                double e = (double)z[j] - (double)t[j];
                r->sse[j] += e * e;
                r->sae[j] += fabs(e);
                r->sum[j] += t[j];
                r->sum_sq[j] += (double)t[j] * t[j];
            }
        }
    }
}

nnd_status nnd_eval_report_compute(nnd_model *m, const nnd_dataset *ds, int classify, int topk,
                                   const nnd_comm *c, nnd_eval_report *r)
{
    memset(r, 0, sizeof *r);
    const size_t k = m->sizes[m->n_layers], rows = ds->hi - ds->lo, d = ds->shape.d;
    r->classify = classify;
    r->k = k;
    r->topk = topk;
    int ok = 1;
    if (classify) {
        ok = (r->confusion = calloc(k * k, sizeof *r->confusion)) != NULL;
    } else {
        r->sse = calloc(4 * k, sizeof *r->sse);
        ok = r->sse != NULL;
        if (ok) {
            r->sae = r->sse + k;
            r->sum = r->sse + 2 * k;
            r->sum_sq = r->sse + 3 * k;
        }
    }
    nnd_status st = nnd_comm_agree(
        c,
        ok ? NND_OK : nnd_err_set(NND_ERR_NOMEM, "cannot allocate the report of %zu outputs", k));
    if (st) return st;
    for (size_t i0 = 0; i0 < rows; i0 += m->max_batch) {
        size_t n = rows - i0 < m->max_batch ? rows - i0 : m->max_batch;
        add_rows(r, nnd_model_forward(m, ds->x + i0 * d, n), ds, i0, n);
    }
    r->samples = rows;
    MPI_Allreduce(MPI_IN_PLACE, &r->samples, 1, MPI_UINT64_T, MPI_SUM, c->world);
    if (classify) {
        MPI_Allreduce(MPI_IN_PLACE, r->confusion, (int)(k * k), MPI_UINT64_T, MPI_SUM, c->world);
        MPI_Allreduce(MPI_IN_PLACE, &r->topk_hits, 1, MPI_UINT64_T, MPI_SUM, c->world);
    } else {
        MPI_Allreduce(MPI_IN_PLACE, r->sse, (int)(4 * k), MPI_DOUBLE, MPI_SUM, c->world);
    }
    return NND_OK;
}

void nnd_eval_report_free(nnd_eval_report *r)
{
    free(r->confusion);
    free(r->sse);
    memset(r, 0, sizeof *r);
}

void nnd_eval_report_class(const nnd_eval_report *r, size_t j, double *precision, double *recall,
                           double *f1, uint64_t *support)
{
    uint64_t predicted = 0, actual = 0, hit = r->confusion[j * r->k + j];
    for (size_t i = 0; i < r->k; i++) {
        predicted += r->confusion[i * r->k + j];
        actual += r->confusion[j * r->k + i];
    }
    *precision = predicted ? (double)hit / (double)predicted : 0.0;
    *recall = actual ? (double)hit / (double)actual : 0.0;
    *f1 = *precision + *recall > 0.0 ? 2.0 * *precision * *recall / (*precision + *recall) : 0.0;
    *support = actual;
}

void nnd_eval_report_output(const nnd_eval_report *r, size_t j, double *mse, double *mae,
                            double *r2)
{
    double n = (double)r->samples;
    *mse = n > 0 ? r->sse[j] / n : 0.0;
    *mae = n > 0 ? r->sae[j] / n : 0.0;
    double ss_tot = r->sum_sq[j] - r->sum[j] * r->sum[j] / n;
    *r2 = n > 0 && ss_tot > 0.0 ? 1.0 - r->sse[j] / ss_tot : NAN;
}

double nnd_eval_report_r2(const nnd_eval_report *r)
{
    double n = (double)r->samples, sse = 0.0, sst = 0.0;
    for (size_t j = 0; j < r->k; j++) {
        sse += r->sse[j];
        sst += r->sum_sq[j] - r->sum[j] * r->sum[j] / n;
    }
    return n > 0 && sst > 0.0 ? 1.0 - sse / sst : NAN;
}
