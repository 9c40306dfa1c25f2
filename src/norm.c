#include "nndist/norm.h"

#include <math.h>
#include <string.h>

/* Rows go parallel above this many elements. */
#define PAR_MIN 32768

static const char *const g_names[NND_NORM_COUNT] = {"none", "layer", "batch"};

const char *nnd_norm_name(nnd_norm_kind k)
{
    return (unsigned)k < NND_NORM_COUNT ? g_names[k] : "?";
}

int nnd_norm_parse(const char *name, nnd_norm_kind *out)
{
    for (int i = 0; i < NND_NORM_COUNT; i++)
        if (strcmp(name, g_names[i]) == 0) {
            *out = (nnd_norm_kind)i;
            return 0;
        }
    return -1;
}

void nnd_layernorm_forward(const float *Z, float *xhat, float *rstd, float *Y, const float *gamma,
                           const float *beta, size_t n, size_t w)
{
#pragma omp parallel for schedule(static) if (n * w > PAR_MIN)
    for (size_t i = 0; i < n; i++) {
        const float *z = Z + i * w;
        float *x = xhat + i * w, *y = Y + i * w;
        double sum = 0.0;
        for (size_t j = 0; j < w; j++) sum += z[j];
        const double mean = sum / (double)w;
        double sq = 0.0;
        for (size_t j = 0; j < w; j++) sq += ((double)z[j] - mean) * ((double)z[j] - mean);
        const float r = (float)(1.0 / sqrt(sq / (double)w + NND_NORM_EPS)), mu = (float)mean;
        rstd[i] = r;
        for (size_t j = 0; j < w; j++) {
            x[j] = (z[j] - mu) * r;
            y[j] = x[j] * gamma[j] + beta[j];
        }
    }
}

void nnd_layernorm_backward(const float *dY, const float *xhat, const float *rstd,
                            const float *gamma, float *dZ, float *dgamma, float *dbeta, size_t n,
                            size_t w)
{
    /* the parameters' gradients first, as dZ may overwrite dY */
    for (size_t j = 0; j < w; j++) dgamma[j] = dbeta[j] = 0.0f;
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < w; j++) {
            dgamma[j] += dY[i * w + j] * xhat[i * w + j];
            dbeta[j] += dY[i * w + j];
        }
#pragma omp parallel for schedule(static) if (n * w > PAR_MIN)
    for (size_t i = 0; i < n; i++) {
        const float *dy = dY + i * w, *x = xhat + i * w;
        float *dz = dZ + i * w;
        double s1 = 0.0, s2 = 0.0;
        for (size_t j = 0; j < w; j++) {
            const double g = (double)dy[j] * gamma[j];
            s1 += g;
            s2 += g * x[j];
        }
        const float m1 = (float)(s1 / (double)w), m2 = (float)(s2 / (double)w), r = rstd[i];
        for (size_t j = 0; j < w; j++) dz[j] = r * (dy[j] * gamma[j] - m1 - x[j] * m2);
    }
}

void nnd_batchnorm_sums(const float *a, const float *b, size_t n, size_t w, double *s)
{
    for (size_t j = 0; j < 2 * w; j++) s[j] = 0.0;
    for (size_t i = 0; i < n; i++) {
        const float *ai = a + i * w, *bi = (b ? b : a) + i * w;
        for (size_t j = 0; j < w; j++) {
            s[j] += ai[j];
            s[w + j] += (double)ai[j] * bi[j];
        }
    }
}

void nnd_batchnorm_stats(const double *s, double count, size_t w, float *mean, float *rstd,
                         float *running_mean, float *running_var)
{
    const double mom = NND_BATCHNORM_MOMENTUM;
    for (size_t j = 0; j < w; j++) {
        const double mu = s[j] / count;
        double var = s[w + j] / count - mu * mu;
        var = var > 0.0 ? var : 0.0; /* rounding can take a constant unit below 0 */
        mean[j] = (float)mu;
        rstd[j] = (float)(1.0 / sqrt(var + NND_NORM_EPS));
        const double unbiased = count > 1.0 ? var * count / (count - 1.0) : var;
        running_mean[j] = (float)((1.0 - mom) * running_mean[j] + mom * mu);
        running_var[j] = (float)((1.0 - mom) * running_var[j] + mom * unbiased);
    }
}

void nnd_batchnorm_eval_stats(const float *running_mean, const float *running_var, size_t w,
                              float *mean, float *rstd)
{
    for (size_t j = 0; j < w; j++) {
        mean[j] = running_mean[j];
        rstd[j] = (float)(1.0 / sqrt((double)running_var[j] + NND_NORM_EPS));
    }
}

void nnd_batchnorm_apply(const float *Z, float *xhat, float *Y, const float *mean,
                         const float *rstd, const float *gamma, const float *beta, size_t n,
                         size_t w)
{
#pragma omp parallel for schedule(static) if (n * w > PAR_MIN)
    for (size_t i = 0; i < n; i++) {
        const float *z = Z + i * w;
        float *x = xhat + i * w, *y = Y + i * w;
        for (size_t j = 0; j < w; j++) {
            x[j] = (z[j] - mean[j]) * rstd[j];
            y[j] = x[j] * gamma[j] + beta[j];
        }
    }
}

void nnd_batchnorm_backward(const float *dY, const float *xhat, const float *rstd,
                            const float *gamma, const double *s, double count, float *means,
                            float *dZ, size_t n, size_t w)
{
    for (size_t j = 0; j < 2 * w; j++) means[j] = (float)(s[j] / count);
    const float *m1 = means, *m2 = means + w;
#pragma omp parallel for schedule(static) if (n * w > PAR_MIN)
    for (size_t i = 0; i < n; i++) {
        const float *dy = dY + i * w, *x = xhat + i * w;
        float *dz = dZ + i * w;
        for (size_t j = 0; j < w; j++) dz[j] = gamma[j] * rstd[j] * (dy[j] - m1[j] - x[j] * m2[j]);
    }
}
