/* Stratified k-fold splits (folds.h): disjoint, covering, stratified (per class, the counts of
 * any two folds differ by at most 1; so do the fold sizes), deterministic, and a function of
 * the seed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "nndist/folds.h"
#include "nndist/rng.h"

/* Labels for n samples of n_classes classes: balanced (i mod C), or skewed (class c drawn with
 * weight c + 1; small classes may be rare or absent). */
static int32_t *make_labels(size_t n, size_t n_classes, int skewed, uint64_t seed)
{
    int32_t *y = malloc(n * sizeof *y);
    assert_non_null(y);
    size_t total = n_classes * (n_classes + 1) / 2;
    for (size_t i = 0; i < n; i++) {
        if (!skewed) {
            y[i] = (int32_t)(i % n_classes);
            continue;
        }
        size_t r = nnd_rng_below(seed, 99, i, 0, total), c = 0;
        while (r >= c + 1) {
            r -= c + 1;
            c++;
        }
        y[i] = (int32_t)c;
    }
    return y;
}

/* Checks every property of one split; labels may be NULL. */
static void check_split(const int32_t *y, size_t n, size_t n_classes, unsigned k,
                        const uint32_t *fold)
{
    size_t classes = y ? n_classes : 1;
    size_t *count = calloc(classes * k, sizeof *count), *size = calloc(k, sizeof *size);
    uint32_t *val = malloc(n * sizeof *val), *train = malloc(n * sizeof *train);
    unsigned char *seen = calloc(n, 1);
    assert_true(count && size && val && train && seen);
    for (size_t i = 0; i < n; i++) {
        assert_true(fold[i] < k); /* covering: every sample has a fold in range */
        count[(y ? (size_t)y[i] : 0) * k + fold[i]]++;
        size[fold[i]]++;
    }
    for (size_t c = 0; c < classes; c++) {
        size_t lo = n, hi = 0;
        for (unsigned f = 0; f < k; f++) {
            size_t v = count[c * k + f];
            lo = v < lo ? v : lo;
            hi = v > hi ? v : hi;
        }
        if (hi - lo > 1) fail_msg("class %zu: fold counts range %zu..%zu", c, lo, hi);
    }
    size_t lo = n, hi = 0;
    for (unsigned f = 0; f < k; f++) {
        lo = size[f] < lo ? size[f] : lo;
        hi = size[f] > hi ? size[f] : hi;
    }
    if (hi - lo > 1) fail_msg("fold sizes range %zu..%zu", lo, hi);
    /* The selections: ascending, complementary, and the validation folds tile the samples. */
    for (unsigned f = 0; f < k; f++) {
        size_t nv = nnd_folds_select(fold, n, f, 1, val);
        size_t nt = nnd_folds_select(fold, n, f, 0, train);
        assert_int_equal(nv, size[f]);
        assert_int_equal(nv + nt, n);
        assert_true(nt > 0 && nv > 0);
        for (size_t i = 1; i < nv; i++) assert_true(val[i - 1] < val[i]);
        for (size_t i = 1; i < nt; i++) assert_true(train[i - 1] < train[i]);
        for (size_t i = 0; i < nv; i++) {
            assert_int_equal(fold[val[i]], f);
            assert_int_equal(seen[val[i]], 0); /* disjoint */
            seen[val[i]] = 1;
        }
        for (size_t i = 0; i < nt; i++) assert_int_not_equal(fold[train[i]], f);
    }
    for (size_t i = 0; i < n; i++) assert_int_equal(seen[i], 1); /* covering */
    free(count);
    free(size);
    free(val);
    free(train);
    free(seen);
}

static void test_properties(void **state)
{
    (void)state;
    const size_t ns[] = {20, 97, 1000, 10007};
    const size_t cs[] = {2, 3, 10};
    const unsigned ks[] = {2, 3, 5, 7};
    for (size_t a = 0; a < sizeof ns / sizeof ns[0]; a++)
        for (size_t b = 0; b < sizeof cs / sizeof cs[0]; b++)
            for (int skewed = 0; skewed <= 1; skewed++)
                for (size_t d = 0; d < sizeof ks / sizeof ks[0]; d++) {
                    size_t n = ns[a], nc = cs[b];
                    unsigned k = ks[d];
                    int32_t *y = make_labels(n, nc, skewed, n + nc);
                    uint32_t *fold = malloc(n * sizeof *fold);
                    int cls;
                    size_t smallest = nnd_folds_smallest_class(y, n, nc, &cls);
                    nnd_status st = nnd_folds_assign(y, n, nc, k, 42, fold);
                    if (smallest < k) {
                        assert_int_equal(st, NND_ERR_USAGE);
                    } else {
                        assert_int_equal(st, NND_OK);
                        check_split(y, n, nc, k, fold);
                    }
                    free(y);
                    free(fold);
                }
}

static void test_without_labels(void **state)
{
    (void)state;
    uint32_t fold[101];
    assert_int_equal(nnd_folds_assign(NULL, 101, 0, 4, 7, fold), NND_OK);
    check_split(NULL, 101, 0, 4, fold);
    assert_int_equal(nnd_folds_assign(NULL, 3, 0, 4, 7, fold), NND_ERR_USAGE);
}

static void test_deterministic_and_seeded(void **state)
{
    (void)state;
    enum { N = 5000 };
    int32_t *y = make_labels(N, 10, 1, 3);
    uint32_t *a = malloc(N * sizeof *a), *b = malloc(N * sizeof *b), *c = malloc(N * sizeof *c);
    assert_int_equal(nnd_folds_assign(y, N, 10, 5, 1, a), NND_OK);
    assert_int_equal(nnd_folds_assign(y, N, 10, 5, 1, b), NND_OK);
    assert_memory_equal(a, b, N * sizeof *a);
    assert_int_equal(nnd_folds_assign(y, N, 10, 5, 2, c), NND_OK);
    size_t moved = 0;
    for (size_t i = 0; i < N; i++) moved += a[i] != c[i];
    /* Another seed is another split: about (K-1)/K of the samples change fold. */
    if (moved < N / 2) fail_msg("seed 2 moved only %zu of %d samples", moved, N);
    /* The shuffle is not the file order dealt round robin. */
    size_t plain = 0;
    for (size_t i = 0; i < N; i++) plain += a[i] == (uint32_t)(i % 5);
    assert_true(plain < N / 2);
    free(y);
    free(a);
    free(b);
    free(c);
}

static void test_refusals(void **state)
{
    (void)state;
    int32_t y[12] = {0, 1, 0, 1, 0, 1, 0, 1, 2, 2, 0, 1}; /* class 2 has 2 samples */
    uint32_t fold[12];
    int cls;
    assert_int_equal(nnd_folds_smallest_class(y, 12, 4, &cls), 2); /* class 3 absent: ignored */
    assert_int_equal(cls, 2);
    assert_int_equal(nnd_folds_assign(y, 12, 4, 1, 1, fold), NND_ERR_USAGE);
    assert_int_equal(nnd_folds_assign(y, 12, 4, 3, 1, fold), NND_ERR_USAGE);
    assert_non_null(strstr(nnd_err_msg(), "class 2 has 2 samples, fewer than the 3 folds"));
    assert_int_equal(nnd_folds_assign(y, 12, 4, NND_FOLDS_MAX + 1, 1, fold), NND_ERR_USAGE);
    assert_int_equal(nnd_folds_assign(y, 12, 4, 2, 1, fold), NND_OK);
    check_split(y, 12, 4, 2, fold);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_properties),
        cmocka_unit_test(test_without_labels),
        cmocka_unit_test(test_deterministic_and_seeded),
        cmocka_unit_test(test_refusals),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
