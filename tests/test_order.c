/* The batch order (data.h; docs/design.md, invariant 1).
 *
 * The order's promise: the samples of global step t are the same set whatever the number of
 * ranks, each rank contributes those that fall in its own contiguous range of the file, and
 * every epoch visits every sample once. The reference for "the same set" is one rank (P = 1). */
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
#define N_NS  (sizeof g_ns / sizeof g_ns[0])
#define N_PS  (sizeof g_ps / sizeof g_ps[0])
#define MAX_P 8

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

static void init_ranks(nnd_order *ranks, int size, size_t n, size_t batch, int shuffle,
                       uint64_t seed)
{
    for (int r = 0; r < size; r++)
        assert_int_equal(nnd_order_init(&ranks[r], n, batch, shuffle, seed, r, size), NND_OK);
}

static void free_ranks(nnd_order *ranks, int size)
{
    for (int r = 0; r < size; r++) nnd_order_free(&ranks[r]);
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
static void check_against_one_rank(size_t n, size_t batch, int shuffle, int size,
                                   uint64_t *step_mark, uint64_t *epoch_mark, uint64_t *stamp)
{
    nnd_order ref, ranks[MAX_P];
    assert_int_equal(nnd_order_init(&ref, n, batch, shuffle, 42, 0, 1), NND_OK);
    assert_int_equal(ref.lo, 0);
    assert_int_equal(ref.hi, n);
    init_ranks(ranks, size, n, batch, shuffle, 42);
    check_tiling(ranks, size, n);
    uint64_t spe = nnd_order_steps_per_epoch(&ref);
    assert_int_equal(spe, (n + batch - 1) / batch);
    for (int r = 0; r < size; r++) assert_int_equal(nnd_order_steps_per_epoch(&ranks[r]), spe);

    uint32_t *idx = malloc(batch * sizeof *idx);
    uint32_t *want = malloc(batch * sizeof *want), *got = malloc(batch * sizeof *got);
    assert_non_null(idx);
    assert_non_null(want);
    assert_non_null(got);
    size_t counts[MAX_P], ref_count;
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
    nnd_order_free(&ref);
    free_ranks(ranks, size);
}

static void test_order_matches_one_rank(void **state)
{
    (void)state;
    uint64_t *step_mark = calloc(60000, sizeof *step_mark);
    uint64_t *epoch_mark = calloc(60000, sizeof *epoch_mark);
    assert_non_null(step_mark);
    assert_non_null(epoch_mark);
    uint64_t stamp = 0;
    for (size_t in = 0; in < N_NS; in++) {
        size_t bs[8], nb = batch_sizes(g_ns[in], bs);
        for (size_t ib = 0; ib < nb; ib++)
            for (int shuffle = 0; shuffle < 2; shuffle++)
                for (size_t ip = 0; ip < N_PS; ip++)
                    check_against_one_rank(g_ns[in], bs[ib], shuffle, g_ps[ip], step_mark,
                                           epoch_mark, &stamp);
    }
    free(step_mark);
    free(epoch_mark);
}

/* The full sequence of positions of one epoch at P = 1 (seq has n entries). */
static void epoch_sequence(size_t n, size_t batch, int shuffle, uint64_t seed, uint64_t epoch,
                           uint32_t *seq)
{
    nnd_order o;
    assert_int_equal(nnd_order_init(&o, n, batch, shuffle, seed, 0, 1), NND_OK);
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
    (void)state;
    const size_t ns[] = {64, 100, 1003, 4099, 60000};
    for (size_t in = 0; in < sizeof ns / sizeof ns[0]; in++) {
        size_t n = ns[in];
        uint32_t *e0 = malloc(n * sizeof *e0), *e1 = malloc(n * sizeof *e1);
        uint32_t *e2 = malloc(n * sizeof *e2);
        assert_non_null(e0);
        assert_non_null(e1);
        assert_non_null(e2);
        epoch_sequence(n, 32, 1, 5, 0, e0);
        epoch_sequence(n, 32, 1, 5, 1, e1);
        epoch_sequence(n, 32, 1, 5, 2, e2);
        /* Independent shuffles of stripes of >= 16 samples agree in few positions. */
        size_t s01 = same_positions(e0, e1, n), s12 = same_positions(e1, e2, n);
        if (s01 * 4 > n || s12 * 4 > n)
            fail_msg("n=%zu: epochs 0/1 agree in %zu positions, 1/2 in %zu", n, s01, s12);
        /* And the shuffled order is not the file order. */
        uint32_t *plain = malloc(n * sizeof *plain);
        assert_non_null(plain);
        for (uint64_t epoch = 0; epoch < 2; epoch++) {
            epoch_sequence(n, 32, 0, 5, epoch, plain);
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
    (void)state;
    const size_t n = 4099, batch = 128;
    uint32_t *a = malloc(n * sizeof *a), *b = malloc(n * sizeof *b), *c = malloc(n * sizeof *c);
    assert_non_null(a);
    assert_non_null(b);
    assert_non_null(c);
    for (uint64_t epoch = 0; epoch < 3; epoch++) {
        epoch_sequence(n, batch, 1, 1234, epoch, a);
        epoch_sequence(n, batch, 1, 1234, epoch, b);
        epoch_sequence(n, batch, 1, 1235, epoch, c);
        assert_memory_equal(a, b, n * sizeof *a);
        assert_true(same_positions(a, c, n) * 4 <= n);
    }

    /* On 3 ranks, a step asked for out of order (jumping between epochs, back and forth) gives
     * the same local batch as a freshly made order: the cached permutation follows the step. */
    nnd_order walk[3];
    init_ranks(walk, 3, n, batch, 1, 99);
    uint32_t iw[128], ifresh[128];
    uint64_t spe = nnd_order_steps_per_epoch(&walk[0]);
    const uint64_t steps[] = {0, 1, spe + 3, 2, 3 * spe - 1, spe + 3, 0, 7 * spe + 5};
    for (size_t s = 0; s < sizeof steps / sizeof steps[0]; s++)
        for (int r = 0; r < 3; r++) {
            size_t cw = nnd_order_local_batch(&walk[r], steps[s], iw);
            nnd_order fresh;
            assert_int_equal(nnd_order_init(&fresh, n, batch, 1, 99, r, 3), NND_OK);
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

/* (g) load balance. With N = 60000 (64 stripes), B = 128 and P in {2, 4, 8}, every rank gets
 * exactly B / P samples of every full batch (asserted below, two epochs).
 *
 * Measured for the record, not asserted:
 * - P = 3 (ranks own 21, 21, 22 stripes): 42, 42 or 44 samples of each batch of 128; P = 5:
 *   24 to 26 (ideal 25.6).
 * - The last N mod S = 32 positions of an epoch (one per long stripe, stripes 0..31) all fall on
 *   the low ranks. At B = 128 they are in the partial last batch, but where the tail lands in a
 *   full batch that batch is unbalanced: B = 32, P = 2 gets 32 / 0 (P = 4: 16/16/0/0); B = 16
 *   gets 16 / 0 in the last two batches; B = 100, P = 2: 66 / 34; B = 1000, P = 2: 516 / 484.
 *   The batches before the tail are balanced for these B too (second loop below).
 * - Without shuffling a batch is a contiguous run of the file: one rank takes all 128. */
static void check_balance(size_t batch, int size, int skip_tail)
{
    const size_t n = 60000;
    nnd_order ranks[MAX_P] = {0};
    init_ranks(ranks, size, n, batch, 1, 7);
    uint64_t spe = nnd_order_steps_per_epoch(&ranks[0]);
    size_t regular = ranks[0].n_stripes * ranks[0].stripe_len;
    size_t lo = batch / (size_t)size, hi = (batch + (size_t)size - 1) / (size_t)size;
    uint32_t *idx = malloc(batch * sizeof *idx);
    assert_non_null(idx);
    size_t checked = 0;
    for (uint64_t step = 0; step < 2 * spe; step++) {
        if (nnd_order_global_count(&ranks[0], step) != batch) continue;
        if (skip_tail && (step % spe + 1) * batch > regular) continue;
        checked++;
        for (int r = 0; r < size; r++) {
            size_t c = nnd_order_local_batch(&ranks[r], step, idx);
            if (c < lo || c > hi)
                fail_msg("B=%zu P=%d step %llu: rank %d gets %zu samples, expected %zu..%zu", batch,
                         size, (unsigned long long)step, r, c, lo, hi);
        }
    }
    assert_true(checked + 4 >= 2 * (n / batch));
    free(idx);
    free_ranks(ranks, size);
}

static void test_order_load_balance(void **state)
{
    (void)state;
    const int ps[] = {2, 4, 8};
    for (size_t ip = 0; ip < sizeof ps / sizeof ps[0]; ip++) check_balance(128, ps[ip], 0);
    /* Other batch sizes, up to the batch that holds the tail: B / P (or its floor and ceiling
     * when P does not divide B), which needs the bit reversal of the stripe index. */
    const size_t bs[] = {16, 32, 100, 1000};
    for (size_t ib = 0; ib < sizeof bs / sizeof bs[0]; ib++)
        for (size_t ip = 0; ip < sizeof ps / sizeof ps[0]; ip++) check_balance(bs[ib], ps[ip], 1);
}

static void test_order_stripes(void **state)
{
    (void)state;
    /* S = the largest power of two <= min(64, N / 16), at least 1. */
    assert_int_equal(nnd_order_stripes(1), 1);
    assert_int_equal(nnd_order_stripes(15), 1);
    assert_int_equal(nnd_order_stripes(63), 2);
    assert_int_equal(nnd_order_stripes(64), 4);
    assert_int_equal(nnd_order_stripes(100), 4);
    assert_int_equal(nnd_order_stripes(1003), 32);
    assert_int_equal(nnd_order_stripes(1024), 64);
    assert_int_equal(nnd_order_stripes(4099), 64);
    assert_int_equal(nnd_order_stripes(60000), 64);
    /* Stripe starts: the first N mod S stripes are one longer. 1003 = 32 * 31 + 11. */
    nnd_order o;
    assert_int_equal(nnd_order_init(&o, 1003, 10, 1, 1, 0, 1), NND_OK);
    assert_int_equal(o.n_stripes, 32);
    assert_int_equal(o.stripe_bits, 5);
    assert_int_equal(o.stripe_len, 31);
    assert_int_equal(o.n_long, 11);
    assert_int_equal(nnd_order_stripe_start(&o, 0), 0);
    assert_int_equal(nnd_order_stripe_start(&o, 1), 32);
    assert_int_equal(nnd_order_stripe_start(&o, 11), 11 * 32);
    assert_int_equal(nnd_order_stripe_start(&o, 12), 11 * 32 + 31);
    assert_int_equal(nnd_order_stripe_start(&o, 32), 1003);
    nnd_order_free(&o);
    /* n == 0 or batch == 0 is refused. */
    assert_int_not_equal(nnd_order_init(&o, 0, 10, 1, 1, 0, 1), NND_OK);
    nnd_order_free(&o);
    assert_int_not_equal(nnd_order_init(&o, 10, 0, 1, 1, 0, 1), NND_OK);
    nnd_order_free(&o);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_order_stripes),       cmocka_unit_test(test_order_matches_one_rank),
        cmocka_unit_test(test_order_epochs_differ), cmocka_unit_test(test_order_seed),
        cmocka_unit_test(test_order_load_balance),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
