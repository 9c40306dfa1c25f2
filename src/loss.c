#include "nndist/loss.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static const char *const g_loss_names[NND_LOSS_COUNT] = {"softmax-ce", "mse"};

const char *nnd_loss_name(nnd_loss_kind k)
{
    return (unsigned)k < NND_LOSS_COUNT ? g_loss_names[k] : "?";
}

int nnd_loss_parse(const char *name, nnd_loss_kind *out)
{
    for (int i = 0; i < NND_LOSS_COUNT; i++)
        if (strcmp(name, g_loss_names[i]) == 0) {
            *out = (nnd_loss_kind)i;
            return 0;
        }
    return -1;
}

static size_t argmax(const float *v, size_t k)
{
    size_t best = 0;
    for (size_t j = 1; j < k; j++)
        if (v[j] > v[best]) best = j;
    return best;
}

/* log sum_j exp(z_j) of one row of k logits, shifted by the max so exp never overflows (the
 * sum kept in double); *top receives the argmax. */
static double row_logsumexp(const float *z, size_t k, size_t *top)
{
    *top = argmax(z, k);
    float zmax = z[*top];
    double sum = 0.0;
    for (size_t j = 0; j < k; j++) sum += exp((double)(z[j] - zmax));
    return (double)zmax + log(sum);
}

double nnd_loss_softmax_ce(const float *logits, const int32_t *labels, size_t n, size_t k,
                           float *dlogits, size_t *correct)
{
    double total = 0.0;
    size_t hits = 0;
    for (size_t i = 0; i < n; i++) {
        const float *z = logits + i * k;
        size_t top;
        double lse = row_logsumexp(z, k, &top);
        int32_t y = labels[i];
        total += lse - (double)z[y];
        hits += top == (size_t)y;
        if (dlogits) {
            float *d = dlogits + i * k;
            for (size_t j = 0; j < k; j++) d[j] = (float)exp((double)z[j] - lse);
            d[y] -= 1.0f;
        }
    }
    if (correct) *correct = hits;
    return total;
}

int nnd_ce_opts_active(const nnd_ce_opts *o)
{
    return o && (o->weights || o->smoothing != 0.0);
}

double nnd_loss_softmax_ce_opts(const float *logits, const int32_t *labels, size_t n, size_t k,
                                const nnd_ce_opts *o, float *dlogits, size_t *correct,
                                double *denom)
{
    if (!nnd_ce_opts_active(o)) {
        if (denom) *denom = (double)n;
        return nnd_loss_softmax_ce(logits, labels, n, k, dlogits, correct);
    }
    const double *w = o->weights, eps = o->smoothing, share = eps / (double)k;
    double wall = 0.0; /* W = sum_c w_c */
    for (size_t j = 0; j < k; j++) wall += w ? w[j] : 1.0;
    double total = 0.0, wsum = 0.0;
    size_t hits = 0;
    for (size_t i = 0; i < n; i++) {
        const float *z = logits + i * k;
        size_t top;
        double lse = row_logsumexp(z, k, &top);
        int32_t y = labels[i];
        double wy = w ? w[y] : 1.0;
        /* sum_c w_c (-log p_ic), term by term: each is >= 0, so nothing cancels */
        double smooth = 0.0;
        for (size_t j = 0; eps != 0.0 && j < k; j++)
            smooth += (w ? w[j] : 1.0) * (lse - (double)z[j]);
        total += (1.0 - eps) * wy * (lse - (double)z[y]) + share * smooth;
        wsum += wy;
        hits += top == (size_t)y;
        if (dlogits) {
            float *d = dlogits + i * k;
            double scale = (1.0 - eps) * wy + share * wall;
            for (size_t j = 0; j < k; j++)
                d[j] = (float)(exp((double)z[j] - lse) * scale - share * (w ? w[j] : 1.0) -
                               (j == (size_t)y ? (1.0 - eps) * wy : 0.0));
        }
    }
    if (correct) *correct = hits;
    if (denom) *denom = wsum;
    return total;
}

nnd_status nnd_class_weights_parse(const char *text, size_t k, double *out)
{
    size_t count = 0;
    const char *p = text;
    for (;;) {
        char *end;
        errno = 0;
        double v = strtod(p, &end);
        size_t len = strcspn(p, ",");
        if (end == p || (size_t)(end - p) != len)
            return nnd_err_set(
                NND_ERR_USAGE,
                "--class-weights: '%.*s' (the weight of class %zu) is not a number; expected "
                "'balanced' or %zu comma-separated positive numbers, one per "
                "class",
                (int)len, p, count, k);
        if (!isfinite(v) || !(v > 0.0))
            return nnd_err_set(
                NND_ERR_USAGE,
                "--class-weights: the weight of class %zu is %.*s; every weight must be "
                "a positive finite number",
                count, (int)len, p);
        if (out && count < k) out[count] = v;
        count++;
        if (p[len] == '\0') break;
        p += len + 1;
    }
    if (count != k)
        return nnd_err_set(NND_ERR_USAGE,
                           "--class-weights: %zu weight%s given; the output layer has %zu "
                           "classes, so expected %zu (or 'balanced')",
                           count, count == 1 ? "" : "s", k, k);
    return NND_OK;
}

double nnd_loss_mse(const float *pred, const float *target, size_t n, size_t k, float *dpred,
                    size_t *correct)
{
    double total = 0.0;
    size_t hits = 0;
    float scale = 2.0f / (float)k;
    for (size_t i = 0; i < n; i++) {
        const float *p = pred + i * k, *t = target + i * k;
        double s = 0.0;
        for (size_t j = 0; j < k; j++) {
            float e = p[j] - t[j];
            s += (double)e * e;
            if (dpred) dpred[i * k + j] = scale * e;
        }
        total += s / (double)k;
        hits += argmax(p, k) == argmax(t, k);
    }
    if (correct) *correct = hits;
    return total;
}
