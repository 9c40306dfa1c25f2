#include "nndist/norm.h"

#include <math.h>
#include <string.h>

/* Rows go parallel above this many elements. */
#define PAR_MIN 32768

static const char *const g_names[NND_NORM_COUNT] = {"none", "layer"};

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
