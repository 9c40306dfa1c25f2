/* Units of the batch order (order.h, nnd_order_init_units; docs/design.md, "Deterministic
 * mode"): each unit's samples of a step, and their order, are the same whatever the number of
 * ranks, every unit lies on one rank, and the units together hold exactly the step's samples. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "nndist/order.h"

enum { MAX_UNITS = 16 };

/* One step's samples (file indices) unit by unit, from `size` ranks: unit u's samples go to
 * out + start[u] .. start[u + 1]; returns the total. */
static size_t units_of_step(size_t n, size_t batch, int shuffle, size_t units, int size,
                            uint64_t step, uint32_t *out, size_t *start)
{
    uint32_t *idx = malloc(batch * sizeof *idx);
    size_t end[MAX_UNITS], total = 0;
    assert_non_null(idx);
    start[0] = 0;
    for (int r = 0; r < size; r++) {
        nnd_order o;
        assert_int_equal(
            nnd_order_init_units(&o, n, batch, shuffle, 7, NND_ORDER_CURRENT, units, r, size),
            NND_OK);
        size_t c = nnd_order_local_units(&o, step, idx, end), row = 0;
        assert_int_equal(end[o.u_hi - o.u_lo - 1], c);
        for (size_t u = o.u_lo; u < o.u_hi; u++) {
            for (; row < end[u - o.u_lo]; row++) {
                assert_true(idx[row] < o.hi - o.lo);
                out[total++] = (uint32_t)(o.lo + idx[row]);
            }
            start[u + 1] = total;
        }
        nnd_order_free(&o);
    }
    free(idx);
    return total;
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

/* Against one rank: the same units, in the same order, on 2..units ranks (3 and 5 included),
 * for two epochs of steps; and their union is the step's samples of the plain order. */
static void test_units_match_one_rank(void **state)
{
    (void)state;
    const size_t ns[] = {100, 1003, 4099}, batches[] = {7, 32, 128}, unit_counts[] = {1, 2, 4, 8};
    const int ps[] = {2, 3, 4, 5, 8};
    uint32_t *ref = malloc(4200 * sizeof *ref), *got = malloc(4200 * sizeof *got);
    uint32_t *plain = malloc(4200 * sizeof *plain);
    assert_true(ref && got && plain);
    for (size_t a = 0; a < 3; a++)
        for (size_t b = 0; b < 3; b++)
            for (size_t c = 0; c < 4; c++)
                for (int shuffle = 0; shuffle < 2; shuffle++) {
                    size_t n = ns[a], batch = batches[b], U = unit_counts[c];
                    if (U > nnd_order_stripes(n, NND_ORDER_CURRENT)) continue;
                    uint64_t steps = 2 * ((n + batch - 1) / batch);
                    for (uint64_t s = 0; s < steps; s += 1 + steps / 16) {
                        size_t rs[MAX_UNITS + 1], gs[MAX_UNITS + 1];
                        size_t total = units_of_step(n, batch, shuffle, U, 1, s, ref, rs);
                        nnd_order o;
                        assert_int_equal(
                            nnd_order_init(&o, n, batch, shuffle, 7, NND_ORDER_CURRENT, 0, 1),
                            NND_OK);
                        assert_int_equal(nnd_order_local_batch(&o, s, plain), total);
                        nnd_order_free(&o);
                        memcpy(got, ref, total * sizeof *got);
                        qsort(got, total, sizeof *got, cmp_u32);
                        qsort(plain, total, sizeof *plain, cmp_u32);
                        assert_memory_equal(got, plain, total * sizeof *got);
                        for (size_t p = 0; p < 5; p++) {
                            if ((size_t)ps[p] > U) continue;
                            assert_int_equal(units_of_step(n, batch, shuffle, U, ps[p], s, got, gs),
                                             total);
                            assert_memory_equal(gs, rs, (U + 1) * sizeof *gs);
                            if (memcmp(got, ref, total * sizeof *got) != 0)
                                fail_msg("n %zu batch %zu units %zu shuffle %d step %llu: %d ranks "
                                         "order the units' samples otherwise than 1",
                                         n, batch, U, shuffle, (unsigned long long)s, ps[p]);
                        }
                    }
                }
    free(ref);
    free(got);
    free(plain);
}

/* A rank owns whole units: its stripes are those of its units, none shared with another rank. */
static void test_units_owned_whole(void **state)
{
    (void)state;
    size_t prev_hi = 0;
    for (int r = 0; r < 3; r++) {
        nnd_order o;
        assert_int_equal(nnd_order_init_units(&o, 4099, 64, 1, 1, NND_ORDER_CURRENT, 8, r, 3),
                         NND_OK);
        size_t per = o.n_stripes / 8;
        assert_int_equal(o.s_lo, o.u_lo * per);
        assert_int_equal(o.s_hi, o.u_hi * per);
        assert_int_equal(o.lo, prev_hi);
        prev_hi = o.hi;
        nnd_order_free(&o);
    }
    assert_int_equal(prev_hi, 4099);
}

/* Refused: fewer units than ranks, a unit count that is not a power of two, more units than
 * stripes. */
static void test_units_refused(void **state)
{
    (void)state;
    nnd_order o;
    assert_int_equal(nnd_order_init_units(&o, 4099, 64, 1, 1, NND_ORDER_CURRENT, 8, 0, 9),
                     NND_ERR_USAGE);
    nnd_order_free(&o);
    assert_int_equal(nnd_order_init_units(&o, 4099, 64, 1, 1, NND_ORDER_CURRENT, 6, 0, 2),
                     NND_ERR_USAGE);
    nnd_order_free(&o);
    assert_int_equal(nnd_order_init_units(&o, 100, 64, 1, 1, NND_ORDER_CURRENT, 16, 0, 1),
                     NND_ERR_USAGE);
    nnd_order_free(&o);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_units_match_one_rank),
        cmocka_unit_test(test_units_owned_whole),
        cmocka_unit_test(test_units_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
