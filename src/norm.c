#include "nndist/norm.h"

#include <math.h>
#include <stdint.h>
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

/* A row's sums in double with LANES partial sums (element j into lane j % LANES), the lanes
 * added in order at the end: a fixed order, and independent additions that vectorize and
 * overlap (one running sum is bound by the adder's latency: 10% of a step at these widths). */
enum { LANES = 8 };

static double lane_total(const double *p)
{
    double s = 0.0;
    for (int k = 0; k < LANES; k++) s += p[k];
    return s;
}

/* Σ z and Σ (z - mean)² of a row: the mean from the first. */
static void row_moments(const float *z, size_t w, double *mean, double *sq)
{
    double p[LANES] = {0.0}, q[LANES] = {0.0};
    size_t j = 0;
    for (; j + LANES <= w; j += LANES)
#pragma omp simd
        for (int k = 0; k < LANES; k++) p[k] += z[j + k];
    for (; j < w; j++) p[j % LANES] += z[j];
    const double mu = lane_total(p) / (double)w;
    for (j = 0; j + LANES <= w; j += LANES)
#pragma omp simd
        for (int k = 0; k < LANES; k++) q[k] += ((double)z[j + k] - mu) * ((double)z[j + k] - mu);
    for (; j < w; j++) q[j % LANES] += ((double)z[j] - mu) * ((double)z[j] - mu);
    *mean = mu;
    *sq = lane_total(q);
}

/* y = v, or ReLU's max(v, 0) (v > 0 ? v : +0, as the GEMM's epilogue computes it), on the bits:
 * a branch on the signs of a layer is mispredicted half the time, and a select the compiler
 * leaves scalar (it was 17% of a batch-norm step). */
static inline float affine_out(float v, uint32_t relu_mask)
{
    uint32_t bits;
    memcpy(&bits, &v, sizeof bits);
    bits &= ~relu_mask | (0u - (uint32_t)(v > 0.0f));
    memcpy(&v, &bits, sizeof v);
    return v;
}

void nnd_layernorm_forward(const float *Z, float *xhat, float *rstd, float *Y, const float *gamma,
                           const float *beta, size_t n, size_t w, int relu)
{
#pragma omp parallel for schedule(static) if (n * w > PAR_MIN)
    for (size_t i = 0; i < n; i++) {
        const float *z = Z + i * w;
        float *x = xhat + i * w, *y = Y + i * w;
        double mean, sq;
        row_moments(z, w, &mean, &sq);
        const float r = (float)(1.0 / sqrt(sq / (double)w + NND_NORM_EPS)), mu = (float)mean;
        rstd[i] = r;
        const uint32_t mask = relu ? ~0u : 0u;
#pragma omp simd
        for (size_t j = 0; j < w; j++) { /* (z may be x: each element read before written) */
            const float v = (z[j] - mu) * r;
            x[j] = v;
            y[j] = affine_out(v * gamma[j] + beta[j], mask);
        }
    }
}

void nnd_layernorm_backward(const float *dY, const float *xhat, const float *rstd,
                            const float *gamma, float *dZ, float *dgamma, float *dbeta, size_t n,
                            size_t w)
{
    /* One pass over each row's dy and x̂ for both its sums and γ's and β's (rows in order, so
     * serial: the column sums are shared), then its dz (which may overwrite its dy). */
    for (size_t j = 0; j < w; j++) dgamma[j] = dbeta[j] = 0.0f;
    for (size_t i = 0; i < n; i++) {
        const float *dy = dY + i * w, *x = xhat + i * w;
        float *dz = dZ + i * w;
        double p1[LANES] = {0.0}, p2[LANES] = {0.0};
        size_t j = 0;
        for (; j + LANES <= w; j += LANES)
#pragma omp simd
            for (int k = 0; k < LANES; k++) {
                const double g = (double)dy[j + k] * gamma[j + k];
                p1[k] += g;
                p2[k] += g * x[j + k];
                dgamma[j + k] += dy[j + k] * x[j + k];
                dbeta[j + k] += dy[j + k];
            }
        for (; j < w; j++) {
            const double g = (double)dy[j] * gamma[j];
            p1[j % LANES] += g;
            p2[j % LANES] += g * x[j];
            dgamma[j] += dy[j] * x[j];
            dbeta[j] += dy[j];
        }
        const float m1 = (float)(lane_total(p1) / (double)w);
        const float m2 = (float)(lane_total(p2) / (double)w), r = rstd[i];
#pragma omp simd
        for (size_t c = 0; c < w; c++) dz[c] = r * (dy[c] * gamma[c] - m1 - x[c] * m2);
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
                         size_t w, int relu)
{
    const uint32_t mask = relu ? ~0u : 0u;
#pragma omp parallel for schedule(static) if (n * w > PAR_MIN)
    for (size_t i = 0; i < n; i++) {
        const float *z = Z + i * w;
        float *x = xhat + i * w, *y = Y + i * w;
#pragma omp simd
        for (size_t j = 0; j < w; j++) {
            const float v = (z[j] - mean[j]) * rstd[j];
            x[j] = v;
            y[j] = affine_out(v * gamma[j] + beta[j], mask);
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
