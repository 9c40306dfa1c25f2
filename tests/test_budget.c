/* The memory budget (budget.h) against hand arithmetic on a small model, the verdict at the
 * limit and at 90% of it, and the limits read from SLURM's variables. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "nndist/budget.h"
#include "nndist/model.h"

/* 4 inputs, 3 hidden, 2 outputs: P = 4*3 + 3 + 3*2 + 2 = 23 parameters. */
static const size_t g_sizes[] = {4, 3, 2};

static nnd_budget small_budget(void)
{
    nnd_budget_input in = {.sizes = g_sizes,
                           .n_layers = 2,
                           .n_state = 2, /* adam */
                           .batch = 5,
                           .k_targets = 0,
                           .rows = 10,
                           .val_rows = 2,
                           .ranks_on_node = 2,
                           .sharded = 1,
                           .state_shards = 2,
                           .writes_files = 1};
    nnd_budget b;
    nnd_budget_need(&b, &in);
    return b;
}

static void test_parts_by_hand(void **state)
{
    (void)state;
    nnd_budget b = small_budget();
    assert_true(b.part[NND_BUDGET_WEIGHTS] == 23 * 4);
    assert_true(b.part[NND_BUDGET_GRADIENTS] == (23 + NND_GRAD_TAIL) * 4);
    /* Adam's two state tensors, cut across the 2 ranks */
    assert_true(b.part[NND_BUDGET_OPTIMIZER] == 2 * 23 * 4 / 2);
    /* 5 samples x (3 + 2 activations + 2 x widest 3 + 4 inputs + 1 label + 2 index) floats */
    assert_true(b.part[NND_BUDGET_ACTIVATIONS] == 5 * 18 * 4);
    /* (10 + 2) rows x (4 features + 1 label) */
    assert_true(b.part[NND_BUDGET_DATA] == 12 * 5 * 4);
    /* 2 ranks' gradients and one copy of the weights */
    assert_true(b.part[NND_BUDGET_SHARED] == 3 * 23 * 4);
    assert_true(b.rank_need == 92 + 124 + 92 + 360 + 240);
    /* and rank 0's whole copy of the state for checkpoints, and the file it builds in memory
     * (the weights and the state), once on the node */
    assert_true(b.whole_state == 2 * 23 * 4);
    assert_true(b.ckpt_image == 3 * 23 * 4);
    assert_true(b.node_need == 2 * 908 + 276 + 184 + 276);
    /* On the node: activations 720 bytes beat data 480, shared 276, optimizer 184. */
    assert_int_equal(nnd_budget_largest(&b), NND_BUDGET_ACTIVATIONS);
}

/* --deterministic: the int64 sum in the shared window (2 floats a gradient), the rank's shard of
 * it, the hidden layers' dZ; unshared, the sum is the rank's own. */
static void test_deterministic_parts(void **state)
{
    (void)state;
    nnd_budget_input in = {.sizes = g_sizes,
                           .n_layers = 2,
                           .n_state = 2,
                           .batch = 5,
                           .rows = 10,
                           .val_rows = 2,
                           .ranks_on_node = 2,
                           .sharded = 1,
                           .state_shards = 2,
                           .writes_files = 1,
                           .exact = 1};
    nnd_budget b;
    nnd_budget_need(&b, &in);
    /* the float gradient, and the shard of the int64 sum: 23 / 2 parameters x 8 bytes */
    assert_true(b.part[NND_BUDGET_GRADIENTS] == (23 + NND_GRAD_TAIL) * 4 + 23 * 8 / 2.0);
    /* 5 samples x 3 floats of the hidden layer's dZ on top of the 18 */
    assert_true(b.part[NND_BUDGET_ACTIVATIONS] == 5 * (18 + 3) * 4);
    /* 2 ranks' int64 sums and one copy of the weights */
    assert_true(b.part[NND_BUDGET_SHARED] == (2 * 2 + 1) * 23 * 4);
    in.sharded = 0;
    in.state_shards = 1;
    nnd_budget_need(&b, &in);
    assert_true(b.part[NND_BUDGET_GRADIENTS] == 3 * (23 + NND_GRAD_TAIL) * 4);
    assert_true(b.part[NND_BUDGET_SHARED] == 0);
}

/* gelu, gelu-tanh and silu keep the hidden layers' Z for backward: B x 3 floats more, on top
 * of the deterministic mode's dZ when both apply. */
static void test_kept_preactivations(void **state)
{
    (void)state;
    nnd_budget_input in = {.sizes = g_sizes,
                           .n_layers = 2,
                           .n_state = 2,
                           .batch = 5,
                           .rows = 10,
                           .val_rows = 2,
                           .ranks_on_node = 2,
                           .keeps_z = 1};
    nnd_budget b;
    nnd_budget_need(&b, &in);
    assert_true(b.part[NND_BUDGET_ACTIVATIONS] == 5 * (18 + 3) * 4);
    in.exact = 1;
    nnd_budget_need(&b, &in);
    assert_true(b.part[NND_BUDGET_ACTIVATIONS] == 5 * (18 + 3 + 3) * 4);
}

static void test_verdict(void **state)
{
    (void)state;
    nnd_budget b = small_budget();
    int warn = -1;
    strcpy(b.limit_from, "test");
    b.node_limit = 2551; /* one byte short */
    assert_int_equal(nnd_budget_check(&b, &warn), NND_ERR_USAGE);
    assert_non_null(strstr(nnd_err_msg(), "the largest part is the activations"));
    assert_non_null(strstr(nnd_err_msg(), "smaller --batch"));
    nnd_err_clear();
    b.node_limit = 2552; /* exactly enough, and above 90% */
    assert_int_equal(nnd_budget_check(&b, &warn), NND_OK);
    assert_int_equal(warn, 1);
    b.node_limit = 2552 / 0.9 + 1; /* below 90% */
    assert_int_equal(nnd_budget_check(&b, &warn), NND_OK);
    assert_int_equal(warn, 0);
    b.node_limit = 0; /* unknown: nothing to check against */
    assert_int_equal(nnd_budget_check(&b, &warn), NND_OK);
    assert_int_equal(warn, 0);
}

/* A mistyped --layers whose size_t products would overflow is still counted, and refused. */
static void test_huge_model(void **state)
{
    (void)state;
    static const size_t sizes[] = {784, (size_t)1 << 33, (size_t)1 << 33, 10};
    nnd_budget_input in = {.sizes = sizes, .n_layers = 3, .batch = 128, .ranks_on_node = 1};
    nnd_budget b;
    nnd_budget_need(&b, &in);
    assert_true(b.part[NND_BUDGET_WEIGHTS] > 2.9e20); /* 2^66 weights of 4 bytes */
    int warn;
    b.node_limit = 1e12;
    assert_int_equal(nnd_budget_check(&b, &warn), NND_ERR_USAGE);
    nnd_err_clear();
}

static void test_slurm_limits(void **state)
{
    (void)state;
    nnd_budget b = small_budget();
    unsetenv("SLURM_MEM_PER_CPU");
    setenv("SLURM_MEM_PER_NODE", "3", 1); /* megabytes: smaller than any real node's memory */
    nnd_budget_read_limit(&b);
    assert_true(b.node_limit == 3.0 * 1024 * 1024);
    assert_string_equal(b.limit_from, "SLURM_MEM_PER_NODE");
    unsetenv("SLURM_MEM_PER_NODE");
    setenv("SLURM_MEM_PER_CPU", "1", 1);
    setenv("SLURM_CPUS_ON_NODE", "2", 1);
    nnd_budget_read_limit(&b);
    assert_true(b.node_limit == 2.0 * 1024 * 1024);
    assert_string_equal(b.limit_from, "SLURM_MEM_PER_CPU x SLURM_CPUS_ON_NODE");
    unsetenv("SLURM_MEM_PER_CPU");
    unsetenv("SLURM_CPUS_ON_NODE");
    nnd_budget_read_limit(&b); /* MemAvailable at least, on Linux */
    assert_true(b.node_limit > 2.0 * 1024 * 1024);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parts_by_hand),       cmocka_unit_test(test_deterministic_parts),
        cmocka_unit_test(test_kept_preactivations), cmocka_unit_test(test_verdict),
        cmocka_unit_test(test_huge_model),          cmocka_unit_test(test_slurm_limits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
