#include "nndist/standardize.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "nndist/fixed_sum.h"

void nnd_colmax_abs(const float *x, size_t rows, size_t d, const nnd_comm *c, double *maxabs)
{
    for (size_t j = 0; j < d; j++) maxabs[j] = 0.0;
        /* A maximum does not depend on the order it is taken in: threads and ranks may split it. */
#pragma omp parallel for schedule(static) reduction(max : maxabs[:d])
    for (size_t i = 0; i < rows; i++)
        for (size_t j = 0; j < d; j++) {
            double a = fabs((double)x[i * d + j]);
            if (a > maxabs[j]) maxabs[j] = a;
        }
    MPI_Allreduce(MPI_IN_PLACE, maxabs, (int)d, MPI_DOUBLE, MPI_MAX, c->world);
}

/* Column sums of f(x_ij) for f = x (mean NULL) or (x - mean_j)^2, each term turned once into an
 * int64 at the scale 2^shift[j]: integer additions are associative, so the threads' and ranks'
 * partial sums add up to the same bits in any grouping. The conversion truncates (one
 * instruction, where llrint is a library call per element and took 3x longer); its bias, under
 * one unit 2^-shift per term, is below 2^-30 of the column's largest value at a million rows. */
static void exact_column_sums(const float *x, size_t rows, size_t d, const double *mean,
                              const int *shift, const nnd_comm *c, int64_t *sums)
{
    double *scale = malloc(d * sizeof *scale);
    for (size_t j = 0; j < d; j++) {
        scale[j] = ldexp(1.0, shift[j]);
        sums[j] = 0;
    }
#pragma omp parallel for schedule(static) reduction(+ : sums[:d])
    for (size_t i = 0; i < rows; i++)
        for (size_t j = 0; j < d; j++) {
            double v = (double)x[i * d + j];
            if (mean) v = (v - mean[j]) * (v - mean[j]);
            sums[j] += (int64_t)(v * scale[j]);
        }
    free(scale);
    MPI_Allreduce(MPI_IN_PLACE, sums, (int)d, MPI_INT64_T, MPI_SUM, c->world);
}

/* The scale of a column sum whose terms are at most `largest` in magnitude, n of them; -1
 * (with the message set) when the sum has no int64 scale. */
static int column_shift(double largest, double n, size_t j, const char *what)
{
    int s = nnd_fixed_shift_bound(largest * n);
    if (s == NND_FIXED_NONFINITE) {
        nnd_err_set(NND_ERR_INPUT,
                    "feature %zu: values up to %g are too large to %s; expected magnitudes "
                    "below 1e15",
                    j, largest, what);
        return -1;
    }
    return s;
}

static nnd_status colstats(const float *x, size_t rows, size_t d, const nnd_comm *c, double *mean,
                           double *var)
{
    uint64_t n = rows;
    MPI_Allreduce(MPI_IN_PLACE, &n, 1, MPI_UINT64_T, MPI_SUM, c->world);
    double *maxabs = malloc(d * sizeof *maxabs);
    int *shift = calloc(d, sizeof *shift);
    int64_t *sums = malloc(d * sizeof *sums);
    nnd_status st = NND_OK;
    if (!maxabs || !shift || !sums) {
        st = nnd_err_set(NND_ERR_NOMEM, "cannot allocate the statistics of %zu features", d);
        goto out;
    }
    nnd_colmax_abs(x, rows, d, c, maxabs);
    for (size_t j = 0; j < d && !st; j++)
        if ((shift[j] = column_shift(maxabs[j], (double)n, j, "average")) < 0) st = NND_ERR_INPUT;
    if (st) goto out;
    exact_column_sums(x, rows, d, NULL, shift, c, sums);
    for (size_t j = 0; j < d; j++) mean[j] = ldexp((double)sums[j], -shift[j]) / (double)n;
    /* Every squared deviation is below (max|x| + |mean|)^2. */
    for (size_t j = 0; j < d && !st; j++) {
        double reach = maxabs[j] + fabs(mean[j]);
        if ((shift[j] = column_shift(reach * reach, (double)n, j, "square")) < 0)
            st = NND_ERR_INPUT;
    }
    if (st) goto out;
    exact_column_sums(x, rows, d, mean, shift, c, sums);
    for (size_t j = 0; j < d; j++) var[j] = ldexp((double)sums[j], -shift[j]) / (double)n;
out:
    free(maxabs);
    free(shift);
    free(sums);
    return st;
}

nnd_status nnd_colstats(const float *x, size_t rows, size_t d, const nnd_comm *c, double *mean,
                        double *var)
{
    /* The same data on every rank's side of the checks: the verdict is every rank's. */
    return nnd_comm_agree(c, colstats(x, rows, d, c, mean, var));
}

nnd_status nnd_standardize_fit(nnd_model *m, const nnd_dataset *train, const nnd_comm *c)
{
    size_t d = m->sizes[0];
    double *mean = malloc(d * sizeof *mean), *var = malloc(d * sizeof *var);
    nnd_status st = mean && var ? NND_OK
                                : nnd_err_set(NND_ERR_NOMEM,
                                              "cannot allocate the statistics of %zu features", d);
    if ((st = nnd_comm_agree(c, st))) goto out;
    if ((st = nnd_colstats(train->x, train->hi - train->lo, d, c, mean, var))) goto out;
    if ((st = nnd_comm_agree(c, nnd_model_alloc_standardization(m)))) goto out;
    for (size_t j = 0; j < d; j++) {
        float sd = (float)sqrt(var[j]);
        m->in_mean[j] = (float)mean[j];
        /* A constant feature (or one whose spread is below float's): left unscaled. */
        m->in_std[j] = sd > 0.0f && isfinite(sd) ? sd : 1.0f;
    }
out:
    free(mean);
    free(var);
    return st;
}

nnd_status nnd_standardize_share(nnd_model *m, const nnd_comm *c)
{
    int has = m->in_mean != NULL;
    MPI_Bcast(&has, 1, MPI_INT, 0, c->world);
    if (!has) {
        nnd_model_drop_standardization(m);
        return NND_OK;
    }
    nnd_status st = nnd_comm_agree(c, nnd_model_alloc_standardization(m));
    if (st) return st;
    MPI_Bcast(m->in_mean, (int)m->sizes[0], MPI_FLOAT, 0, c->world);
    MPI_Bcast(m->in_std, (int)m->sizes[0], MPI_FLOAT, 0, c->world);
    return NND_OK;
}

void nnd_standardize_warn_unscaled(const nnd_dataset *train, const char *path, const nnd_comm *c)
{
    static int warned;
    size_t d = train->shape.d;
    double *maxabs = malloc(d * sizeof *maxabs);
    int ok = maxabs != NULL;
    MPI_Allreduce(MPI_IN_PLACE, &ok, 1, MPI_INT, MPI_MIN, c->world);
    if (!ok) { /* a warning is not worth failing the run for */
        free(maxabs);
        return;
    }
    nnd_colmax_abs(train->x, train->hi - train->lo, d, c, maxabs);
    size_t big = 0, small = d;
    for (size_t j = 0; j < d; j++) {
        if (maxabs[j] > maxabs[big]) big = j;
        if (maxabs[j] > 0.0 && (small == d || maxabs[j] < maxabs[small])) small = j;
    }
    double spread = small < d ? maxabs[big] / maxabs[small] : 1.0;
    if (c->rank == 0 && !warned && (maxabs[big] > 1e3 || spread > 1e3)) {
        fprintf(stderr,
                "nndist: warning: %s: the features are not scaled (largest |x| %.3g in feature "
                "%zu, smallest feature scale %.3g in feature %zu); gradient descent may crawl: "
                "add --standardize\n",
                path, maxabs[big], big, small < d ? maxabs[small] : 0.0, small < d ? small : 0);
        warned = 1;
    }
    free(maxabs);
}
