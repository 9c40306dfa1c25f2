#include "nndist/dropout.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nndist/rng.h"

uint64_t nnd_dropout_threshold(double p)
{
    /* (1 - p) 2^32 < 2^32 for p > 0; for p below 2^-33 it rounds to 2^32, every unit kept */
    return (uint64_t)llround((1.0 - p) * 4294967296.0);
}

float nnd_dropout_scale(double p)
{
    return (float)(1.0 / (1.0 - p));
}

uint64_t nnd_dropout_layer_key(uint64_t seed, uint64_t step, int layer)
{
    return nnd_rng_u64(seed, NND_RNG_DROPOUT, step, (uint64_t)layer);
}

uint64_t nnd_dropout_sample_key(uint64_t layer_key, uint64_t sample)
{
    return nnd_mix64(layer_key ^ sample);
}

int nnd_dropout_kept(uint64_t sample_key, size_t j, uint64_t threshold)
{
    return (nnd_mix64(sample_key + (uint64_t)j * NND_GOLDEN64) >> 32) < threshold;
}

/* One probability: a number in [0, 1). */
static nnd_status parse_one(const char *text, size_t len, double *p)
{
    char buf[64];
    if (len == 0 || len >= sizeof buf)
        return nnd_err_set(NND_ERR_USAGE, "--dropout: expected a probability in [0, 1), got '%.*s'",
                           (int)len, text);
    memcpy(buf, text, len);
    buf[len] = '\0';
    char *end = NULL;
    double v = strtod(buf, &end);
    if (end == buf || *end != '\0')
        return nnd_err_set(NND_ERR_USAGE, "--dropout: '%s' is not a number", buf);
    if (!(v >= 0.0 && v < 1.0))
        return nnd_err_set(NND_ERR_USAGE,
                           "--dropout %s: expected a probability in [0, 1) (1 would drop every "
                           "unit)",
                           buf);
    *p = v;
    return NND_OK;
}

nnd_status nnd_dropout_parse(const char *text, int n_hidden, double *p)
{
    if (strchr(text, ','))
        return nnd_err_set(NND_ERR_USAGE,
                           "--dropout %s: separate one probability per hidden layer with ':' "
                           "(\"0.2:0.5\"); commas list a sweep's alternatives",
                           text);
    int parts = 1;
    for (const char *c = text; *c; c++) parts += *c == ':';
    if (n_hidden == 0)
        return nnd_err_set(NND_ERR_USAGE,
                           "--dropout applies to hidden layers, and --layers gives none");
    if (parts != 1 && parts != n_hidden)
        return nnd_err_set(NND_ERR_USAGE,
                           "--dropout %s: %d values for %d hidden layers (give one for all of "
                           "them, or one per hidden layer)",
                           text, parts, n_hidden);
    const char *at = text;
    for (int l = 0; l < parts; l++) {
        const char *colon = strchr(at, ':');
        size_t len = colon ? (size_t)(colon - at) : strlen(at);
        nnd_status st = parse_one(at, len, &p[l]);
        if (st) return st;
        at += len + 1;
    }
    for (int l = parts; l < n_hidden; l++) p[l] = p[0];
    return NND_OK;
}

int nnd_dropout_any(const double *p, int n_hidden)
{
    for (int l = 0; l < n_hidden; l++)
        if (p[l] > 0.0) return 1;
    return 0;
}

/* The shortest %g form of v that reads back as v. */
static void shortest(char *buf, size_t size, double v)
{
    for (int digits = 1; digits <= 17; digits++) {
        snprintf(buf, size, "%.*g", digits, v);
        if (strtod(buf, NULL) == v) return;
    }
}

void nnd_dropout_format(char *buf, size_t size, const double *p, int n_hidden)
{
    int same = 1;
    for (int l = 1; l < n_hidden; l++) same &= p[l] == p[0];
    size_t used = 0;
    buf[0] = '\0';
    for (int l = 0; l < (same ? (n_hidden > 0) : n_hidden) && used < size; l++) {
        char num[32];
        shortest(num, sizeof num, p[l]);
        used += (size_t)snprintf(buf + used, size - used, "%s%s", l ? ":" : "", num);
    }
    if (n_hidden == 0) snprintf(buf, size, "0");
}
