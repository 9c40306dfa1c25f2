#include "nndist/order.h"

#include <stdlib.h>
#include <string.h>

#include "nndist/rng.h"

size_t nnd_order_stripes(size_t n)
{
    size_t cap = n / 16 < 64 ? n / 16 : 64, s = 1;
    while (s * 2 <= cap) s *= 2;
    return s;
}

size_t nnd_order_stripe_start(const nnd_order *o, size_t j)
{
    return j * o->stripe_len + (j < o->n_long ? j : o->n_long);
}

static size_t bit_reverse(size_t t, int bits)
{
    size_t r = 0;
    for (int i = 0; i < bits; i++) r |= ((t >> i) & 1u) << (bits - 1 - i);
    return r;
}

nnd_status nnd_order_init(nnd_order *o, size_t n, size_t batch, int shuffle, uint64_t seed,
                          int rank, int size)
{
    memset(o, 0, sizeof *o);
    if (n == 0 || batch == 0)
        return nnd_err_set(NND_ERR_INTERNAL, "batch order needs n > 0 and batch > 0");
    if (n > UINT32_MAX)
        return nnd_err_set(NND_ERR_INPUT, "%zu samples: at most %u are supported", n, UINT32_MAX);
    o->n = n;
    o->batch = batch;
    o->shuffle = shuffle;
    o->seed = seed;
    o->n_stripes = nnd_order_stripes(n);
    while ((o->n_stripes >> o->stripe_bits) > 1) o->stripe_bits++;
    o->stripe_len = n / o->n_stripes;
    o->n_long = n % o->n_stripes;
    o->s_lo = (size_t)rank * o->n_stripes / (size_t)size;
    o->s_hi = (size_t)(rank + 1) * o->n_stripes / (size_t)size;
    o->lo = nnd_order_stripe_start(o, o->s_lo);
    o->hi = nnd_order_stripe_start(o, o->s_hi);
    o->perm = malloc((o->hi - o->lo + 1) * sizeof *o->perm);
    if (!o->perm)
        return nnd_err_set(NND_ERR_NOMEM, "cannot allocate the shuffle of %zu samples",
                           o->hi - o->lo);
    return NND_OK;
}

void nnd_order_free(nnd_order *o)
{
    free(o->perm);
    memset(o, 0, sizeof *o);
}

uint64_t nnd_order_steps_per_epoch(const nnd_order *o)
{
    return (o->n + o->batch - 1) / o->batch;
}

size_t nnd_order_global_count(const nnd_order *o, uint64_t step)
{
    uint64_t b = step % nnd_order_steps_per_epoch(o);
    size_t g0 = (size_t)b * o->batch, g1 = g0 + o->batch < o->n ? g0 + o->batch : o->n;
    return g1 - g0;
}

/* Fisher-Yates over each owned stripe, driven by (seed, epoch, stripe, position). */
static void shuffle_stripes(nnd_order *o, uint64_t epoch)
{
    for (size_t j = o->s_lo; j < o->s_hi; j++) {
        size_t start = nnd_order_stripe_start(o, j) - o->lo;
        size_t len = nnd_order_stripe_start(o, j + 1) - o->lo - start;
        uint32_t *p = o->perm + start;
        for (size_t i = 0; i < len; i++) p[i] = (uint32_t)i;
        for (size_t i = len; i > 1; i--) {
            size_t r = nnd_rng_below(o->seed, NND_RNG_SHUFFLE, epoch, ((uint64_t)j << 32) | i, i);
            uint32_t tmp = p[i - 1];
            p[i - 1] = p[r];
            p[r] = tmp;
        }
    }
    o->perm_epoch = epoch;
    o->perm_valid = 1;
}

size_t nnd_order_local_batch(nnd_order *o, uint64_t step, uint32_t *idx)
{
    uint64_t spe = nnd_order_steps_per_epoch(o), epoch = step / spe, b = step % spe;
    size_t g0 = (size_t)b * o->batch, g1 = g0 + o->batch < o->n ? g0 + o->batch : o->n;
    size_t count = 0;
    if (!o->shuffle) {
        for (size_t g = g0 > o->lo ? g0 : o->lo; g < g1 && g < o->hi; g++)
            idx[count++] = (uint32_t)(g - o->lo);
        return count;
    }
    if (!o->perm_valid || o->perm_epoch != epoch) shuffle_stripes(o, epoch);
    size_t S = o->n_stripes, full = S * o->stripe_len;
    for (size_t g = g0; g < g1; g++) {
        size_t j, k;
        if (g < full) {
            j = bit_reverse(g % S, o->stripe_bits);
            k = g / S;
        } else {
            j = g - full;
            k = o->stripe_len;
        }
        if (j < o->s_lo || j >= o->s_hi) continue;
        size_t start = nnd_order_stripe_start(o, j) - o->lo;
        idx[count++] = (uint32_t)(start + o->perm[start + k]);
    }
    return count;
}
