#include "nndist/order.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nndist/rng.h"

size_t nnd_order_stripes(size_t n, int version)
{
    size_t cap =
        version == NND_ORDER_FIRST ? (n / 16 < 64 ? n / 16 : 64) : (n / 8 < 65536 ? n / 8 : 65536);
    size_t s = 1;
    while (s * 2 <= cap) s *= 2;
    return s;
}

size_t nnd_order_stripe_start(const nnd_order *o, size_t j)
{
    return o->start[j];
}

int nnd_order_stripe_owner(const nnd_order *o, size_t j, int size)
{
    /* The r with floor(r S / P) <= j < floor((r + 1) S / P). */
    return (int)(((j + 1) * (size_t)size - 1) / o->n_stripes);
}

static size_t bit_reverse(size_t t, int bits)
{
    size_t r = 0;
    for (int i = 0; i < bits; i++) r |= ((t >> i) & 1u) << (bits - 1 - i);
    return r;
}

static int stripe_is_long(const nnd_order *o, size_t j)
{
    return (o->version == NND_ORDER_FIRST ? j : bit_reverse(j, o->stripe_bits)) < o->n_long;
}

/* The long stripe that takes position S*L + m of an epoch. */
static size_t tail_stripe(const nnd_order *o, size_t m)
{
    return o->version == NND_ORDER_FIRST ? m : bit_reverse(m, o->stripe_bits);
}

nnd_status nnd_order_init(nnd_order *o, size_t n, size_t batch, int shuffle, uint64_t seed,
                          int version, int rank, int size)
{
    return nnd_order_init_units(o, n, batch, shuffle, seed, version, 0, rank, size);
}

/* The smallest power of two >= size, at most cap. */
static size_t units_for(int size, size_t cap)
{
    size_t u = 1;
    while (u < (size_t)size && u < cap) u *= 2;
    return u;
}

/* The refusals of a unit count (0: the mode is off, nothing to check). */
static nnd_status check_units(const nnd_order *o, size_t units, int size)
{
    if (units == 0) return NND_OK;
    if ((units & (units - 1)) != 0 || units > o->n_stripes)
        return nnd_err_set(NND_ERR_USAGE,
                           "--units %zu: expected a power of two between 1 and %zu (the stripes "
                           "of these %zu samples)",
                           units, o->n_stripes, o->n);
    if (units < (size_t)size)
        return nnd_err_set(NND_ERR_USAGE,
                           "--deterministic with %zu units of samples on %d ranks: every rank "
                           "must own a unit; pass --units %zu or more (a power of two up to %zu), "
                           "the same in every run whose bits you compare",
                           units, size, units_for(size, o->n_stripes), o->n_stripes);
    return NND_OK;
}

nnd_status nnd_order_init_units(nnd_order *o, size_t n, size_t batch, int shuffle, uint64_t seed,
                                int version, size_t units, int rank, int size)
{
    memset(o, 0, sizeof *o);
    if (n == 0 || batch == 0)
        return nnd_err_set(NND_ERR_INTERNAL, "batch order needs n > 0 and batch > 0");
    if (version != NND_ORDER_FIRST && version != NND_ORDER_CURRENT)
        return nnd_err_set(NND_ERR_INPUT, "batch order %d is not known (this nndist has 1 and 2)",
                           version);
    if (n > UINT32_MAX)
        return nnd_err_set(NND_ERR_INPUT, "%zu samples: at most %u are supported", n, UINT32_MAX);
    o->version = version;
    o->n = n;
    o->batch = batch;
    o->shuffle = shuffle;
    o->seed = seed;
    o->n_stripes = nnd_order_stripes(n, version);
    while ((o->n_stripes >> o->stripe_bits) > 1) o->stripe_bits++;
    o->stripe_len = n / o->n_stripes;
    o->n_long = n % o->n_stripes;
    o->start = malloc((o->n_stripes + 1) * sizeof *o->start);
    o->phi = malloc(o->n_stripes * sizeof *o->phi);
    if (!o->start || !o->phi)
        return nnd_err_set(NND_ERR_NOMEM, "cannot allocate the order's %zu stripes", o->n_stripes);
    o->start[0] = 0;
    for (size_t j = 0; j < o->n_stripes; j++)
        o->start[j + 1] = (uint32_t)(o->start[j] + o->stripe_len + (size_t)stripe_is_long(o, j));
    nnd_status st = check_units(o, units, size);
    if (st) return st;
    if (units) { /* whole units per rank: S / units stripes each */
        o->n_units = units;
        o->u_lo = (size_t)rank * units / (size_t)size;
        o->u_hi = (size_t)(rank + 1) * units / (size_t)size;
        o->s_lo = o->u_lo * (o->n_stripes / units);
        o->s_hi = o->u_hi * (o->n_stripes / units);
        o->unit_tmp = malloc(batch * sizeof *o->unit_tmp);
        if (!o->unit_tmp) return nnd_err_set(NND_ERR_NOMEM, "cannot allocate a batch's units");
    } else {
        o->s_lo = (size_t)rank * o->n_stripes / (size_t)size;
        o->s_hi = (size_t)(rank + 1) * o->n_stripes / (size_t)size;
    }
    o->lo = o->start[o->s_lo];
    o->hi = o->start[o->s_hi];
    o->perm = malloc((o->hi - o->lo + 1) * sizeof *o->perm);
    if (!o->perm)
        return nnd_err_set(NND_ERR_NOMEM, "cannot allocate the shuffle of %zu samples",
                           o->hi - o->lo);
    return NND_OK;
}

void nnd_order_free(nnd_order *o)
{
    free(o->unit_tmp);
    free(o->perm);
    free(o->phi);
    free(o->start);
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
        size_t start = o->start[j] - o->lo;
        size_t len = o->start[j + 1] - o->start[j];
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

/* phi of round `round` of `epoch` (see order.h): phi[t] = rev(t XOR F(t)), bit m of F a random
 * bit of t mod 2^m. Order 1 has F = 0. */
static void make_phi(nnd_order *o, uint64_t epoch, uint64_t round)
{
    size_t S = o->n_stripes;
    int bits = o->stripe_bits;
    for (size_t t = 0; t < S; t++) o->phi[t] = (uint32_t)t;
    if (o->version != NND_ORDER_FIRST)
        for (int m = 0; m < bits; m++) {
            size_t period = (size_t)1 << m;
            uint64_t a = epoch << 32 ^ round, flip = (size_t)1 << m;
            for (size_t low = 0; low < period; low++) {
                uint64_t b = (uint64_t)m << 32 | low;
                if (!(nnd_rng_u64(o->seed, NND_RNG_ORDER, a, b) >> 63)) continue;
                for (size_t t = low; t < S; t += period) o->phi[t] ^= (uint32_t)flip;
            }
        }
    for (size_t t = 0; t < S; t++) o->phi[t] = (uint32_t)bit_reverse(o->phi[t], bits);
    o->phi_epoch = epoch;
    o->phi_round = round;
    o->phi_valid = 1;
}

/* The stripe and the element of it (before the permutation) at position g of `epoch`. */
static size_t position_stripe(nnd_order *o, uint64_t epoch, size_t g, size_t *k)
{
    size_t S = o->n_stripes, full = S * o->stripe_len;
    if (g >= full) {
        *k = o->stripe_len;
        return tail_stripe(o, g - full);
    }
    uint64_t round = o->version == NND_ORDER_FIRST ? 0 : g / S;
    uint64_t e = o->version == NND_ORDER_FIRST ? 0 : epoch;
    if (!o->phi_valid || o->phi_epoch != e || o->phi_round != round) make_phi(o, e, round);
    *k = g / S;
    return o->phi[g % S];
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
    for (size_t g = g0; g < g1; g++) {
        size_t k, j = position_stripe(o, epoch, g, &k);
        if (j < o->s_lo || j >= o->s_hi) continue;
        size_t start = o->start[j] - o->lo;
        idx[count++] = (uint32_t)(start + o->perm[start + k]);
    }
    return count;
}

void nnd_order_balance_text(const nnd_order *o, int size, char *buf, size_t bufsize)
{
    nnd_order_balance b;
    uint64_t max_steps = ((uint64_t)1 << 20) / o->batch;
    buf[0] = '\0';
    if (nnd_order_measure_balance(o->n, o->batch, o->shuffle, o->seed, o->version, size,
                                  max_steps ? max_steps : 1, &b) != NND_OK) {
        nnd_err_clear();
        return;
    }
    if (b.steps_judged == 0) return; /* no full step: the one batch is the whole data */
    if (b.fewest == b.most)
        snprintf(buf, bufsize, "%zu per rank", b.fewest);
    else
        snprintf(buf, bufsize, "%zu to %zu per rank", b.fewest, b.most);
}

/* The stripe that holds sample g (a binary search of the starts). */
static size_t stripe_of_sample(const nnd_order *o, size_t g)
{
    size_t lo = 0, hi = o->n_stripes; /* start[lo] <= g < start[hi] */
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;
        if (o->start[mid] <= g)
            lo = mid;
        else
            hi = mid;
    }
    return lo;
}

nnd_status nnd_order_measure_balance(size_t n, size_t batch, int shuffle, uint64_t seed,
                                     int version, int size, uint64_t max_steps,
                                     nnd_order_balance *out)
{
    memset(out, 0, sizeof *out);
    nnd_order o;
    /* Counts per rank, and the ranks a step touched (at most B), so that a step costs O(B)
     * whatever the rank count. */
    size_t *counts = calloc((size_t)size, sizeof *counts);
    int *touched = malloc(batch * sizeof *touched);
    nnd_status st = counts && touched
                        ? nnd_order_init(&o, n, batch, shuffle, seed, version, 0, size)
                        : nnd_err_set(NND_ERR_NOMEM, "cannot count %d ranks", size);
    if (st) {
        free(counts);
        free(touched);
        nnd_order_free(&o);
        return st;
    }
    uint64_t full_steps = n / batch, judge = full_steps < max_steps ? full_steps : max_steps;
    out->fewest = batch;
    for (uint64_t i = 0; i < judge; i++) {
        /* The first steps in order (they share phi's rounds), and the last full step. */
        uint64_t b = i + 1 < judge ? i : full_steps - 1;
        size_t n_touched = 0;
        for (size_t g = b * batch; g < (b + 1) * batch; g++) {
            size_t k, j = shuffle ? position_stripe(&o, 0, g, &k) : stripe_of_sample(&o, g);
            int r = nnd_order_stripe_owner(&o, j, size);
            if (counts[r]++ == 0) touched[n_touched++] = r;
        }
        size_t lo = n_touched < (size_t)size ? 0 : batch, hi = 0;
        for (size_t t = 0; t < n_touched; t++) {
            size_t c = counts[touched[t]];
            lo = c < lo ? c : lo;
            hi = c > hi ? c : hi;
            counts[touched[t]] = 0;
        }
        if (hi - lo > out->imbalance) out->imbalance = hi - lo;
        if (lo < out->fewest) out->fewest = lo;
        if (hi > out->most) out->most = hi;
    }
    out->steps_judged = judge;
    if (judge == 0) out->fewest = 0;
    free(counts);
    free(touched);
    nnd_order_free(&o);
    return NND_OK;
}

size_t nnd_order_local_units(nnd_order *o, uint64_t step, uint32_t *idx, size_t *unit_end)
{
    /* The positions' order, then a stable counting sort by unit. */
    size_t n = nnd_order_local_batch(o, step, o->unit_tmp);
    const size_t owned = o->u_hi - o->u_lo, per_unit = o->n_stripes / o->n_units;
    for (size_t u = 0; u < owned; u++) unit_end[u] = 0;
    for (size_t i = 0; i < n; i++)
        unit_end[(stripe_of_sample(o, o->lo + o->unit_tmp[i]) - o->s_lo) / per_unit]++;
    size_t end = 0;
    for (size_t u = 0; u < owned; u++) {
        end += unit_end[u];
        unit_end[u] = end - unit_end[u]; /* the unit's first row, for now */
    }
    for (size_t i = 0; i < n; i++) {
        size_t u = (stripe_of_sample(o, o->lo + o->unit_tmp[i]) - o->s_lo) / per_unit;
        idx[unit_end[u]++] = o->unit_tmp[i];
    }
    return n;
}
