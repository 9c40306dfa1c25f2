/* The batch order (data.h; docs/design.md, invariant 1).
 *
 * The order's promise: the samples of global step t are the same set whatever the number of
 * ranks, each rank contributes those that fall in its own contiguous range of the file, and
 * every epoch visits every sample once. The reference for "the same set" is one rank (P = 1).
 * The properties are checked for both orders (1: the legacy one that old checkpoints resume in,
 * 2: the current one); each test gets the order as its state. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nndist/order.h"

static const size_t g_ns[] = {1, 15, 100, 1003, 4099, 60000};
static const int g_ps[] = {1, 2, 3, 4, 5, 8};
#define N_NS (sizeof g_ns / sizeof g_ns[0])
#define N_PS (sizeof g_ps / sizeof g_ps[0])

static int g_order_first = NND_ORDER_FIRST, g_order_current = NND_ORDER_CURRENT;
#define ORDER(state) (*(const int *)*(state))

/* The batch sizes tried for n samples: fixed ones and one larger than n. */
static size_t batch_sizes(size_t n, size_t *out)
{
    const size_t fixed[] = {1, 7, 32, 128, 1000};
    size_t k = 0;
    for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++) out[k++] = fixed[i];
    out[k++] = n + 5;
    return k;
}

/* The samples (file indices) of global step `step`, gathered over `size` ranks; returns how
 * many. Checks every local index lies in its rank's range. counts (size) gets each rank's. */
static size_t gather_step(nnd_order *ranks, int size, uint64_t step, uint32_t *idx,
                          uint32_t *samples, size_t *counts)
{
    size_t total = 0;
    for (int r = 0; r < size; r++) {
        nnd_order *o = &ranks[r];
        size_t c = nnd_order_local_batch(o, step, idx);
        assert_true(c <= o->batch);
        for (size_t i = 0; i < c; i++) {
            if (idx[i] >= o->hi - o->lo)
                fail_msg("rank %d/%d step %llu: local index %u outside its %zu samples", r, size,
                         (unsigned long long)step, idx[i], o->hi - o->lo);
            samples[total++] = (uint32_t)(o->lo + idx[i]);
        }
        counts[r] = c;
    }
    return total;
}

static nnd_order *init_ranks(int size, size_t n, size_t batch, int shuffle, uint64_t seed,
                             int version)
{
    nnd_order *ranks = calloc((size_t)size, sizeof *ranks);
    assert_non_null(ranks);
    for (int r = 0; r < size; r++)
        assert_int_equal(nnd_order_init(&ranks[r], n, batch, shuffle, seed, version, r, size),
                         NND_OK);
    return ranks;
}

static void free_ranks(nnd_order *ranks, int size)
{
    for (int r = 0; r < size; r++) nnd_order_free(&ranks[r]);
    free(ranks);
}

/* (f) the ranks' ranges [lo, hi) tile [0, n) in rank order, on stripe boundaries. */
static void check_tiling(const nnd_order *ranks, int size, size_t n)
{
    assert_int_equal(ranks[0].lo, 0);
    assert_int_equal(ranks[size - 1].hi, n);
    for (int r = 0; r < size; r++) {
        assert_true(ranks[r].lo <= ranks[r].hi);
        assert_int_equal(ranks[r].lo, nnd_order_stripe_start(&ranks[r], ranks[r].s_lo));
        assert_int_equal(ranks[r].hi, nnd_order_stripe_start(&ranks[r], ranks[r].s_hi));
        if (r + 1 < size) {
            assert_int_equal(ranks[r].hi, ranks[r + 1].lo);
            assert_int_equal(ranks[r].s_hi, ranks[r + 1].s_lo);
        }
    }
}

/* (a), (b), (c) for one (n, batch, shuffle, P) over the first two epochs. step_mark and
 * epoch_mark (n) hold stamps so nothing is cleared per step; *stamp advances. */
static void check_against_one_rank(size_t n, size_t batch, int shuffle, int size, int version,
                                   uint64_t *step_mark, uint64_t *epoch_mark, uint64_t *stamp)
{
    nnd_order ref;
    assert_int_equal(nnd_order_init(&ref, n, batch, shuffle, 42, version, 0, 1), NND_OK);
    assert_int_equal(ref.lo, 0);
    assert_int_equal(ref.hi, n);
    nnd_order *ranks = init_ranks(size, n, batch, shuffle, 42, version);
    check_tiling(ranks, size, n);
    uint64_t spe = nnd_order_steps_per_epoch(&ref);
    assert_int_equal(spe, (n + batch - 1) / batch);
    for (int r = 0; r < size; r++) assert_int_equal(nnd_order_steps_per_epoch(&ranks[r]), spe);

    uint32_t *idx = malloc(batch * sizeof *idx);
    uint32_t *want = malloc(batch * sizeof *want), *got = malloc(batch * sizeof *got);
    assert_non_null(idx);
    assert_non_null(want);
    assert_non_null(got);
    size_t *counts = calloc((size_t)size, sizeof *counts), ref_count;
    assert_non_null(counts);
    for (uint64_t epoch = 0; epoch < 2; epoch++) {
        uint64_t epoch_stamp = ++*stamp;
        size_t seen = 0;
        for (uint64_t b = 0; b < spe; b++) {
            uint64_t step = epoch * spe + b;
            size_t nw = gather_step(&ref, 1, step, idx, want, &ref_count);
            size_t ng = gather_step(ranks, size, step, idx, got, counts);
            /* (c) the global count is the sum of the local ones, at any P. */
            size_t gc = nnd_order_global_count(&ref, step);
            assert_int_equal(gc, nw);
            for (int r = 0; r < size; r++)
                assert_int_equal(nnd_order_global_count(&ranks[r], step), gc);
            assert_int_equal(ng, gc);
            size_t expect = b + 1 < spe ? batch : n - (size_t)(spe - 1) * batch;
            assert_int_equal(gc, expect);
            /* (a) the same set of samples as one rank; ranks never overlap. */
            uint64_t s = ++*stamp;
            for (size_t i = 0; i < nw; i++) {
                assert_true(want[i] < n);
                if (step_mark[want[i]] == s)
                    fail_msg("n=%zu B=%zu P=1 step %llu: sample %u twice", n, batch,
                             (unsigned long long)step, want[i]);
                step_mark[want[i]] = s;
            }
            uint64_t s2 = ++*stamp;
            for (size_t i = 0; i < ng; i++) {
                if (step_mark[got[i]] == s2)
                    fail_msg("n=%zu B=%zu P=%d shuffle=%d step %llu: sample %u on two ranks (or "
                             "twice)",
                             n, batch, size, shuffle, (unsigned long long)step, got[i]);
                if (step_mark[got[i]] != s)
                    fail_msg("n=%zu B=%zu P=%d shuffle=%d step %llu: sample %u is not in the "
                             "one-rank batch",
                             n, batch, size, shuffle, (unsigned long long)step, got[i]);
                step_mark[got[i]] = s2;
                /* (b) once per epoch. */
                if (epoch_mark[got[i]] == epoch_stamp)
                    fail_msg("n=%zu B=%zu P=%d shuffle=%d epoch %llu: sample %u seen twice", n,
                             batch, size, shuffle, (unsigned long long)epoch, got[i]);
                epoch_mark[got[i]] = epoch_stamp;
                seen++;
            }
        }
        /* (b) every sample once: n distinct samples seen. */
        assert_int_equal(seen, n);
    }
    free(idx);
    free(want);
    free(got);
    free(counts);
    nnd_order_free(&ref);
    free_ranks(ranks, size);
}

static void test_order_matches_one_rank(void **state)
{
    uint64_t *step_mark = calloc(65536, sizeof *step_mark);
    uint64_t *epoch_mark = calloc(65536, sizeof *epoch_mark);
    assert_non_null(step_mark);
    assert_non_null(epoch_mark);
    uint64_t stamp = 0;
    for (size_t in = 0; in < N_NS; in++) {
        size_t bs[8], nb = batch_sizes(g_ns[in], bs);
        for (size_t ib = 0; ib < nb; ib++)
            for (int shuffle = 0; shuffle < 2; shuffle++)
                for (size_t ip = 0; ip < N_PS; ip++)
                    check_against_one_rank(g_ns[in], bs[ib], shuffle, g_ps[ip], ORDER(state),
                                           step_mark, epoch_mark, &stamp);
    }
    /* Many ranks, 16 samples each: still the one-rank batches. */
    if (ORDER(state) == NND_ORDER_CURRENT) {
        const int many[] = {65, 128, 1000};
        for (size_t ip = 0; ip < sizeof many / sizeof many[0]; ip++) {
            int p = many[ip];
            size_t n = 16 * (size_t)p;
            check_against_one_rank(n, (size_t)p, 1, p, ORDER(state), step_mark, epoch_mark, &stamp);
            if (p <= 128)
                check_against_one_rank(n, 4 * (size_t)p + 3, 1, p, ORDER(state), step_mark,
                                       epoch_mark, &stamp);
        }
    }
    free(step_mark);
    free(epoch_mark);
}

/* The full sequence of positions of one epoch at P = 1 (seq has n entries). */
static void epoch_sequence(size_t n, size_t batch, int shuffle, uint64_t seed, uint64_t epoch,
                           int version, uint32_t *seq)
{
    nnd_order o;
    assert_int_equal(nnd_order_init(&o, n, batch, shuffle, seed, version, 0, 1), NND_OK);
    uint64_t spe = nnd_order_steps_per_epoch(&o);
    uint32_t *idx = malloc(batch * sizeof *idx);
    assert_non_null(idx);
    size_t k = 0;
    for (uint64_t b = 0; b < spe; b++) {
        size_t c = nnd_order_local_batch(&o, epoch * spe + b, idx);
        assert_true(k + c <= n);
        memcpy(seq + k, idx, c * sizeof *idx);
        k += c;
    }
    assert_int_equal(k, n);
    free(idx);
    nnd_order_free(&o);
}

static size_t same_positions(const uint32_t *a, const uint32_t *b, size_t n)
{
    size_t same = 0;
    for (size_t i = 0; i < n; i++) same += a[i] == b[i];
    return same;
}

/* (d) shuffled epochs differ (N >= 64); without shuffling position g is sample g, every epoch. */
static void test_order_epochs_differ(void **state)
{
    const size_t ns[] = {64, 100, 1003, 4099, 60000};
    for (size_t in = 0; in < sizeof ns / sizeof ns[0]; in++) {
        size_t n = ns[in];
        uint32_t *e0 = malloc(n * sizeof *e0), *e1 = malloc(n * sizeof *e1);
        uint32_t *e2 = malloc(n * sizeof *e2);
        assert_non_null(e0);
        assert_non_null(e1);
        assert_non_null(e2);
        epoch_sequence(n, 32, 1, 5, 0, ORDER(state), e0);
        epoch_sequence(n, 32, 1, 5, 1, ORDER(state), e1);
        epoch_sequence(n, 32, 1, 5, 2, ORDER(state), e2);
        /* Independent shuffles of stripes of >= 16 samples agree in few positions. */
        size_t s01 = same_positions(e0, e1, n), s12 = same_positions(e1, e2, n);
        if (s01 * 4 > n || s12 * 4 > n)
            fail_msg("n=%zu: epochs 0/1 agree in %zu positions, 1/2 in %zu", n, s01, s12);
        /* And the shuffled order is not the file order. */
        uint32_t *plain = malloc(n * sizeof *plain);
        assert_non_null(plain);
        for (uint64_t epoch = 0; epoch < 2; epoch++) {
            epoch_sequence(n, 32, 0, 5, epoch, ORDER(state), plain);
            for (size_t g = 0; g < n; g++) assert_int_equal(plain[g], g);
        }
        assert_true(same_positions(e0, plain, n) * 4 <= n);
        free(plain);
        free(e0);
        free(e1);
        free(e2);
    }
}

/* (e) the order is a function of the seed: the same seed again, the same order (also on every
 * rank of a split); another seed, another order. */
static void test_order_seed(void **state)
{
    const size_t n = 4099, batch = 128;
    uint32_t *a = malloc(n * sizeof *a), *b = malloc(n * sizeof *b), *c = malloc(n * sizeof *c);
    assert_non_null(a);
    assert_non_null(b);
    assert_non_null(c);
    for (uint64_t epoch = 0; epoch < 3; epoch++) {
        epoch_sequence(n, batch, 1, 1234, epoch, ORDER(state), a);
        epoch_sequence(n, batch, 1, 1234, epoch, ORDER(state), b);
        epoch_sequence(n, batch, 1, 1235, epoch, ORDER(state), c);
        assert_memory_equal(a, b, n * sizeof *a);
        assert_true(same_positions(a, c, n) * 4 <= n);
    }

    /* On 3 ranks, a step asked for out of order (jumping between epochs, back and forth) gives
     * the same local batch as a freshly made order: the cached permutation follows the step. */
    nnd_order *walk = init_ranks(3, n, batch, 1, 99, ORDER(state));
    uint32_t iw[128], ifresh[128];
    uint64_t spe = nnd_order_steps_per_epoch(&walk[0]);
    const uint64_t steps[] = {0, 1, spe + 3, 2, 3 * spe - 1, spe + 3, 0, 7 * spe + 5};
    for (size_t s = 0; s < sizeof steps / sizeof steps[0]; s++)
        for (int r = 0; r < 3; r++) {
            size_t cw = nnd_order_local_batch(&walk[r], steps[s], iw);
            nnd_order fresh;
            assert_int_equal(nnd_order_init(&fresh, n, batch, 1, 99, ORDER(state), r, 3), NND_OK);
            size_t cf = nnd_order_local_batch(&fresh, steps[s], ifresh);
            assert_int_equal(cw, cf);
            assert_memory_equal(iw, ifresh, cw * sizeof *iw);
            nnd_order_free(&fresh);
        }
    free_ranks(walk, 3);
    free(a);
    free(b);
    free(c);
}

/* (g) load balance, measured with real rank orders: over `epochs` epochs of n samples, every full
 * batch of B gives each of P ranks between lo and hi samples (skip_tail: only the batches before
 * the last N mod S positions). Returns the largest max - min seen in one step. */
static size_t check_balance(size_t n, size_t batch, int size, int version, uint64_t epochs,
                            int skip_tail, size_t lo, size_t hi, size_t *fewest)
{
    nnd_order *ranks = init_ranks(size, n, batch, 1, 7, version);
    uint64_t spe = nnd_order_steps_per_epoch(&ranks[0]);
    size_t regular = ranks[0].n_stripes * ranks[0].stripe_len, worst = 0;
    uint32_t *idx = malloc(batch * sizeof *idx);
    assert_non_null(idx);
    size_t checked = 0;
    *fewest = batch;
    for (uint64_t step = 0; step < epochs * spe; step++) {
        if (nnd_order_global_count(&ranks[0], step) != batch) continue;
        if (skip_tail && (step % spe + 1) * batch > regular) continue;
        checked++;
        size_t step_lo = batch, step_hi = 0;
        for (int r = 0; r < size; r++) {
            size_t c = nnd_order_local_batch(&ranks[r], step, idx);
            if (c < lo || c > hi)
                fail_msg("order %d n=%zu B=%zu P=%d step %llu: rank %d gets %zu samples, expected "
                         "%zu..%zu",
                         version, n, batch, size, (unsigned long long)step, r, c, lo, hi);
            step_lo = c < step_lo ? c : step_lo;
            step_hi = c > step_hi ? c : step_hi;
        }
        worst = step_hi - step_lo > worst ? step_hi - step_lo : worst;
        *fewest = step_lo < *fewest ? step_lo : *fewest;
    }
    assert_true(checked > 0);
    free(idx);
    free_ranks(ranks, size);
    return worst;
}

static void test_order_load_balance(void **state)
{
    int v = ORDER(state);
    const int ps[] = {2, 4, 8};
    size_t fewest;
    /* With a power-of-two P, every full batch of B gives each rank floor(B/P) or ceil(B/P). */
    for (size_t ip = 0; ip < sizeof ps / sizeof ps[0]; ip++)
        check_balance(60000, 128, ps[ip], v, 2, 0, 128 / (size_t)ps[ip], 128 / (size_t)ps[ip],
                      &fewest);
    /* Other batch sizes. Order 1 puts the last N mod S positions of an epoch on the low ranks
     * (the long stripes are the first ones), so only the batches before them are balanced;
     * order 2 spreads the long stripes and balances every full batch. */
    const size_t bs[] = {16, 32, 100, 1000};
    for (size_t ib = 0; ib < sizeof bs / sizeof bs[0]; ib++)
        for (size_t ip = 0; ip < sizeof ps / sizeof ps[0]; ip++) {
            size_t b = bs[ib], p = (size_t)ps[ip];
            check_balance(60000, b, ps[ip], v, 2, v == NND_ORDER_FIRST, b / p, (b + p - 1) / p,
                          &fewest);
            check_balance(4099, b, ps[ip], v, 2, v == NND_ORDER_FIRST, b / p, (b + p - 1) / p,
                          &fewest);
        }
}

/* Order 2 at many ranks (the point of it): with 16 samples per rank every rank holds stripes;
 * with a power-of-two P and B >= P every rank gets floor(B/P) or ceil(B/P) samples of every full
 * batch. Other rank counts cannot be exact for an order that does not know P; measured here (the
 * bounds asserted are the measured worst cases over these shapes): imbalance 2 to 7 samples,
 * and every rank gets samples every step once B >= 4P. */
static void test_order_many_ranks(void **state)
{
    (void)state;
    const int ps[] = {64, 65, 96, 128, 1000, 1024, 4096};
    for (size_t ip = 0; ip < sizeof ps / sizeof ps[0]; ip++) {
        int p = ps[ip];
        int pow2 = (p & (p - 1)) == 0;
        size_t n = 16 * (size_t)p;
        nnd_order o;
        for (int r = 0; r < p; r++) {
            assert_int_equal(nnd_order_init(&o, n, (size_t)p, 1, 3, NND_ORDER_CURRENT, r, p),
                             NND_OK);
            if (o.lo >= o.hi) fail_msg("P=%d n=%zu: rank %d holds no samples", p, n, r);
            for (size_t j = o.s_lo; j < o.s_hi; j++)
                assert_int_equal(nnd_order_stripe_owner(&o, j, p), r);
            nnd_order_free(&o);
        }
        for (size_t mult = 1; mult <= 4; mult *= 2) {
            size_t b = mult * (size_t)p;
            nnd_order_balance bal;
            assert_int_equal(
                nnd_order_measure_balance(n, b, 1, 7, NND_ORDER_CURRENT, p, 1000, &bal), NND_OK);
            assert_int_equal(bal.steps_judged, n / b);
            if (pow2) {
                assert_int_equal(bal.imbalance, 0);
                assert_int_equal(bal.fewest, mult);
                assert_int_equal(bal.most, mult);
            } else {
                if (bal.imbalance > 8) fail_msg("P=%d B=%zu: imbalance %zu", p, b, bal.imbalance);
                if (mult == 4 && bal.fewest < 1) fail_msg("P=%d B=%zu: a rank idles", p, b);
            }
            /* The measurement agrees with the ranks' own batches. */
            if (p <= 128) {
                size_t fewest,
                    worst = check_balance(n, b, p, NND_ORDER_CURRENT, 1, 0, 0, b, &fewest);
                assert_int_equal(worst, bal.imbalance);
                assert_int_equal(fewest, bal.fewest);
            }
        }
    }
}

/* Order 1 is the order runs had before orders had versions: checkpoints of those runs resume in
 * it. Checksums (FNV-1a over three epochs of the local indices at P = 1) taken from the code of
 * that time. */
static void test_order_first_unchanged(void **state)
{
    (void)state;
    const struct {
        size_t n, batch;
        uint64_t seed, fnv;
    } cases[] = {{4099, 128, 1234, 0xf5136cd7057d3e28ULL},
                 {60000, 100, 7, 0x2704dd84a391cb7bULL},
                 {1003, 7, 1, 0x662f2a927e0e4801ULL}};
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        nnd_order o;
        assert_int_equal(
            nnd_order_init(&o, cases[c].n, cases[c].batch, 1, cases[c].seed, NND_ORDER_FIRST, 0, 1),
            NND_OK);
        uint32_t *idx = malloc(cases[c].batch * sizeof *idx);
        assert_non_null(idx);
        uint64_t h = 1469598103934665603ULL, spe = nnd_order_steps_per_epoch(&o);
        for (uint64_t step = 0; step < 3 * spe; step++) {
            size_t k = nnd_order_local_batch(&o, step, idx);
            const unsigned char *b = (const unsigned char *)idx;
            for (size_t i = 0; i < k * sizeof *idx; i++) h = (h ^ b[i]) * 1099511628211ULL;
        }
        assert_int_equal(h, cases[c].fnv);
        free(idx);
        nnd_order_free(&o);
    }
}

/* Stripe lengths: L or L + 1, the long ones where the order puts them, n in all. */
static void check_stripes(size_t n, int version)
{
    nnd_order o;
    assert_int_equal(nnd_order_init(&o, n, 10, 1, 1, version, 0, 1), NND_OK);
    assert_int_equal((size_t)1 << o.stripe_bits, o.n_stripes);
    assert_int_equal(o.stripe_len, n / o.n_stripes);
    assert_int_equal(o.n_long, n % o.n_stripes);
    assert_int_equal(nnd_order_stripe_start(&o, 0), 0);
    assert_int_equal(nnd_order_stripe_start(&o, o.n_stripes), n);
    size_t longs = 0;
    for (size_t j = 0; j < o.n_stripes; j++) {
        size_t len = nnd_order_stripe_start(&o, j + 1) - nnd_order_stripe_start(&o, j);
        size_t rev = 0;
        for (int b = 0; b < o.stripe_bits; b++) rev |= ((j >> b) & 1u) << (o.stripe_bits - 1 - b);
        int is_long = (version == NND_ORDER_FIRST ? j : rev) < o.n_long;
        assert_int_equal(len, o.stripe_len + (size_t)is_long);
        longs += (size_t)is_long;
    }
    assert_int_equal(longs, o.n_long);
    nnd_order_free(&o);
}

static void test_order_stripes(void **state)
{
    (void)state;
    /* Order 1: S = the largest power of two <= min(64, N / 16), at least 1. */
    const size_t n1[] = {1, 15, 63, 64, 100, 1003, 1024, 4099, 60000};
    const size_t s1[] = {1, 1, 2, 4, 4, 32, 64, 64, 64};
    /* Order 2: the largest power of two <= min(65536, N / 8), at least 1. */
    const size_t n2[] = {1, 15, 16, 100, 1003, 60000, 524288, 600000, 4000000000u};
    const size_t s2[] = {1, 1, 2, 8, 64, 4096, 65536, 65536, 65536};
    for (size_t i = 0; i < sizeof n1 / sizeof n1[0]; i++) {
        assert_int_equal(nnd_order_stripes(n1[i], NND_ORDER_FIRST), s1[i]);
        assert_int_equal(nnd_order_stripes(n2[i], NND_ORDER_CURRENT), s2[i]);
        check_stripes(n1[i], NND_ORDER_FIRST);
        check_stripes(n1[i], NND_ORDER_CURRENT);
    }
    /* Order 1, by hand: the first N mod S stripes are one longer. 1003 = 32 * 31 + 11. */
    nnd_order o;
    assert_int_equal(nnd_order_init(&o, 1003, 10, 1, 1, NND_ORDER_FIRST, 0, 1), NND_OK);
    assert_int_equal(o.n_stripes, 32);
    assert_int_equal(nnd_order_stripe_start(&o, 1), 32);
    assert_int_equal(nnd_order_stripe_start(&o, 11), 11 * 32);
    assert_int_equal(nnd_order_stripe_start(&o, 12), 11 * 32 + 31);
    nnd_order_free(&o);
    /* Order 2, by hand: 1003 = 64 * 15 + 43; stripe 1 (reversed: 32) is long, stripe 3
     * (reversed: 48) is not. */
    assert_int_equal(nnd_order_init(&o, 1003, 10, 1, 1, NND_ORDER_CURRENT, 0, 1), NND_OK);
    assert_int_equal(o.n_stripes, 64);
    assert_int_equal(nnd_order_stripe_start(&o, 1), 16);
    assert_int_equal(nnd_order_stripe_start(&o, 2), 32);
    assert_int_equal(nnd_order_stripe_start(&o, 4) - nnd_order_stripe_start(&o, 3), 15);
    nnd_order_free(&o);
    /* n == 0, batch == 0 or an unknown order are refused. */
    assert_int_not_equal(nnd_order_init(&o, 0, 10, 1, 1, NND_ORDER_CURRENT, 0, 1), NND_OK);
    nnd_order_free(&o);
    assert_int_not_equal(nnd_order_init(&o, 10, 0, 1, 1, NND_ORDER_CURRENT, 0, 1), NND_OK);
    nnd_order_free(&o);
    assert_int_not_equal(nnd_order_init(&o, 10, 1, 1, 1, 3, 0, 1), NND_OK);
    nnd_order_free(&o);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_order_stripes),
        cmocka_unit_test(test_order_first_unchanged),
        cmocka_unit_test_prestate(test_order_matches_one_rank, &g_order_first),
        cmocka_unit_test_prestate(test_order_matches_one_rank, &g_order_current),
        cmocka_unit_test_prestate(test_order_epochs_differ, &g_order_first),
        cmocka_unit_test_prestate(test_order_epochs_differ, &g_order_current),
        cmocka_unit_test_prestate(test_order_seed, &g_order_first),
        cmocka_unit_test_prestate(test_order_seed, &g_order_current),
        cmocka_unit_test_prestate(test_order_load_balance, &g_order_first),
        cmocka_unit_test_prestate(test_order_load_balance, &g_order_current),
        cmocka_unit_test(test_order_many_ranks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
