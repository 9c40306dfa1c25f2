#include "nndist/loss.h"

#include <math.h>
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

double nnd_loss_softmax_ce(const float *logits, const int32_t *labels, size_t n, size_t k,
                           float *dlogits, size_t *correct)
{
    double total = 0.0;
    size_t hits = 0;
    for (size_t i = 0; i < n; i++) {
        const float *z = logits + i * k;
        size_t top = argmax(z, k);
        float zmax = z[top];
        /* Shift by the max so exp never overflows; the sum is kept in double. */
        double sum = 0.0;
        for (size_t j = 0; j < k; j++) sum += exp((double)(z[j] - zmax));
        double lse = (double)zmax + log(sum);
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
