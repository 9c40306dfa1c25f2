/* The optimizers give bitwise the same weights and state whatever runs them: any thread count,
 * every instruction-set variant the CPU has, sharded across ranks, and resumed from a
 * checkpoint. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <omp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "nndist/alloc.h"
#include "nndist/ckpt.h"
#include "nndist/isa.h"
#include "nndist/optim.h"
#include "nndist/rng.h"

/* An optimizer's defaults; the lr is a value nnd_optim_step's lr argument replaces. */
static nnd_optim_config defaults_of(const char *name)
{
    nnd_optim_config cfg;
    assert_int_equal(nnd_optim_defaults(name, &cfg), 0);
    cfg.lr = 7.0;
    return cfg;
}

static void test_threads_bitwise(void **state)
{
    (void)state;
    const size_t n = 300007; /* above the parallel threshold, not a multiple of the blocks */
    const size_t off[4] = {0, 100000, 100003, n};
    const char *names[] = {"lars", "lamb", "adam", "rmsprop"};
    float *G = malloc(n * sizeof *G), *w1 = malloc(n * sizeof *w1), *w4 = malloc(n * sizeof *w4);
    assert_non_null(G);
    assert_non_null(w1);
    assert_non_null(w4);
    int saved = omp_get_max_threads();
    for (size_t c = 0; c < sizeof names / sizeof names[0]; c++) {
        nnd_optim_config cfg = defaults_of(names[c]);
        cfg.clip_norm = 0.5;
        nnd_optim a, b;
        assert_int_equal(nnd_optim_init(&a, &cfg, off, 3), NND_OK);
        assert_int_equal(nnd_optim_init(&b, &cfg, off, 3), NND_OK);
        for (size_t i = 0; i < n; i++) w1[i] = w4[i] = nnd_rng_uniform(5, NND_RNG_SYNTHETIC, 0, i);
        for (int s = 0; s < 3; s++) {
            for (size_t i = 0; i < n; i++)
                G[i] = nnd_rng_uniform(5, NND_RNG_SYNTHETIC, (uint64_t)s + 1, i) - 0.5f;
            omp_set_num_threads(1);
            nnd_optim_step(&a, w1, G, 1.0f / 3.0f, 0.01);
            omp_set_num_threads(4);
            nnd_optim_step(&b, w4, G, 1.0f / 3.0f, 0.01);
        }
        if (memcmp(w1, w4, n * sizeof *w1) != 0) fail_msg("%s: 1 and 4 threads differ", names[c]);
        for (int k = 0; k < a.n_state; k++)
            assert_memory_equal(a.state[k], b.state[k], n * sizeof(float));
        nnd_optim_free(&a);
        nnd_optim_free(&b);
    }
    omp_set_num_threads(saved);
    free(G);
    free(w1);
    free(w4);
}

/* The update loops are compiled once per instruction set (kernels/optim_update.c); every variant
 * this CPU runs must give bitwise the portable C's weights and state, for every optimizer, with and
 * without weight decay and clipping, on a length that leaves a remainder after the vectors. */
static void test_isa_variants_bitwise(void **state)
{
    (void)state;
    const size_t n = 70013; /* above the parallel threshold; odd */
    const size_t off[4] = {0, 50000, 50007, n};
    const char *names[] = {"sgd",    "momentum", "nesterov", "rmsprop",  "adam", "adamw",
                           "adamax", "nadam",    "adagrad",  "adadelta", "lars", "lamb"};
    const char *families[] = {"avx2-fma", "avx512"};
    float *G = malloc(n * sizeof *G), *wp = malloc(n * sizeof *wp), *wv = malloc(n * sizeof *wv);
    assert_non_null(G);
    assert_non_null(wp);
    assert_non_null(wv);
    int compared = 0;
    for (size_t f = 0; f < sizeof families / sizeof families[0]; f++) {
        if (nnd_isa_use(families[f]) != 0) continue; /* this CPU lacks it */
        for (size_t c = 0; c < sizeof names / sizeof names[0]; c++)
            for (int variant = 0; variant < 2; variant++) {
                nnd_optim_config cfg = defaults_of(names[c]);
                if (variant) {
                    cfg.weight_decay = 0.01;
                    cfg.clip_norm = 0.5;
                    cfg.amsgrad = 1;
                    cfg.centered = 1;
                }
                nnd_optim p, v;
                assert_int_equal(nnd_optim_init(&p, &cfg, off, 3), NND_OK);
                assert_int_equal(nnd_optim_init(&v, &cfg, off, 3), NND_OK);
                for (size_t i = 0; i < n; i++)
                    wp[i] = wv[i] = nnd_rng_uniform(9, NND_RNG_SYNTHETIC, 0, i) - 0.5f;
                for (int s = 0; s < 3; s++) {
                    for (size_t i = 0; i < n; i++)
                        G[i] = nnd_rng_uniform(9, NND_RNG_SYNTHETIC, (uint64_t)s + 1, i) - 0.5f;
                    assert_int_equal(nnd_isa_use("portable"), 0);
                    nnd_optim_step(&p, wp, G, 1.0f / 3.0f, 0.01);
                    assert_int_equal(nnd_isa_use(families[f]), 0);
                    nnd_optim_step(&v, wv, G, 1.0f / 3.0f, 0.01);
                }
                if (memcmp(wp, wv, n * sizeof *wp) != 0)
                    fail_msg("%s (variant %d): %s and portable weights differ", names[c], variant,
                             families[f]);
                for (int k = 0; k < p.n_state; k++)
                    assert_memory_equal(p.state[k], v.state[k], n * sizeof(float));
                nnd_optim_free(&p);
                nnd_optim_free(&v);
                compared++;
            }
    }
    nnd_isa_use(NULL);
    printf("compared %d optimizer runs against the portable variant\n", compared);
    free(G);
    free(wp);
    free(wv);
}

/* Data-parallel ranks may each update a shard: three "ranks", each with its own optimizer (that
 * keeps the state of its shard only, as the trainer's do) and weights, update [0, 23456),
 * [23456, 50011) and [50011, n) from their shard of the gradient and exchange the updated
 * weights after each step (as an allgather does); weights and state match one optimizer
 * stepping the whole range, bitwise, for every elementwise optimizer. */
static void test_shards_bitwise(void **state)
{
    (void)state;
    enum { RANKS = 3 };
    const size_t n = 70013, cut[RANKS + 1] = {0, 23456, 50011, n};
    const size_t off[4] = {0, 50000, 50007, n};
    const char *names[] = {"sgd",   "momentum", "nesterov", "rmsprop", "adam",
                           "adamw", "adamax",   "nadam",    "adagrad", "adadelta"};
    float *G = malloc(n * sizeof *G), *w = malloc(n * sizeof *w), *ws[RANKS];
    assert_non_null(G);
    assert_non_null(w);
    for (int r = 0; r < RANKS; r++) assert_non_null(ws[r] = malloc(n * sizeof *w));
    for (size_t c = 0; c < sizeof names / sizeof names[0]; c++) {
        nnd_optim_config cfg = defaults_of(names[c]);
        cfg.weight_decay = 0.01;
        nnd_optim whole, part[RANKS];
        assert_int_equal(nnd_optim_init(&whole, &cfg, off, 3), NND_OK);
        assert_false(nnd_optim_config_needs_norms(&cfg));
        for (int r = 0; r < RANKS; r++) {
            assert_int_equal(nnd_optim_init_shard(&part[r], &cfg, off, 3, cut[r], cut[r + 1]),
                             NND_OK);
            assert_false(nnd_optim_state_whole(&part[r]));
        }
        for (size_t i = 0; i < n; i++) w[i] = nnd_rng_uniform(11, NND_RNG_SYNTHETIC, 0, i) - 0.5f;
        for (int r = 0; r < RANKS; r++) memcpy(ws[r], w, n * sizeof *w);
        for (int s = 0; s < 3; s++) {
            for (size_t i = 0; i < n; i++)
                G[i] = nnd_rng_uniform(11, NND_RNG_SYNTHETIC, (uint64_t)s + 1, i) - 0.5f;
            nnd_optim_step(&whole, w, G, 0.25f, 0.01);
            for (int r = 0; r < RANKS; r++)
                nnd_optim_step_shard(&part[r], ws[r], G + cut[r], 0.25f, 0.01, cut[r], cut[r + 1]);
            for (int r = 0; r < RANKS; r++) /* the allgather */
                for (int q = 0; q < RANKS; q++)
                    if (q != r)
                        memcpy(ws[q] + cut[r], ws[r] + cut[r], (cut[r + 1] - cut[r]) * sizeof *w);
        }
        for (int r = 0; r < RANKS; r++) {
            if (memcmp(w, ws[r], n * sizeof *w) != 0)
                fail_msg("%s: rank %d's weights differ from the whole update", names[c], r);
            assert_int_equal(part[r].step, whole.step);
            for (int k = 0; k < whole.n_state; k++) /* each rank holds the state of its shard */
                assert_memory_equal(part[r].state[k], whole.state[k] + cut[r],
                                    (cut[r + 1] - cut[r]) * sizeof(float));
            nnd_optim_free(&part[r]);
        }
        nnd_optim_free(&whole);
    }
    for (int r = 0; r < RANKS; r++) free(ws[r]);
    free(G);
    free(w);
}

/* ---- norms from the shards: the ranks as threads, their partial sums added at a barrier ---- */

enum { NORM_RANKS = 4 };

typedef struct {
    pthread_barrier_t barrier;
    double slot[NORM_RANKS][2 * NND_OPTIM_MAX_TENSORS];
    int calls[NORM_RANKS];
} norm_exchange;

typedef struct {
    norm_exchange *ex;
    int rank, skip; /* skip: the rank keeps its own partial sums (a broken sum, for the check) */
    nnd_optim *o;
    float *w;
    const float *G;
    size_t lo, hi;
} norm_rank;

/* The hook: every rank's partial sums, added in rank order, as an allreduce would. */
static void sum_at_barrier(double *sums, int n, void *ctx)
{
    norm_rank *r = ctx;
    norm_exchange *ex = r->ex;
    ex->calls[r->rank]++;
    memcpy(ex->slot[r->rank], sums, (size_t)n * sizeof *sums);
    pthread_barrier_wait(&ex->barrier);
    if (!r->skip)
        for (int i = 0; i < n; i++) {
            double t = 0.0;
            for (int q = 0; q < NORM_RANKS; q++) t += ex->slot[q][i];
            sums[i] = t;
        }
    pthread_barrier_wait(&ex->barrier); /* every rank has read the slots */
}

static void *step_rank(void *arg)
{
    norm_rank *r = arg;
    nnd_optim_step_shard(r->o, r->w, r->G + r->lo, 0.25f, 0.01, r->lo, r->hi);
    return NULL;
}

/* One optimizer stepping [0, n) against NORM_RANKS shard optimizers (one shard empty, two cuts
 * inside tensors) whose norms come from the hook; returns the largest difference of the
 * weights, relative to the largest weight, after three steps with an allgather after each, and
 * in *of_update the same relative to how far the steps moved the weights. */
static double sharded_norms_difference(const nnd_optim_config *cfg, int skip_sum, int exact,
                                       double *of_update)
{
    const size_t n = 70013, off[4] = {0, 50000, 50007, n};
    /* exact norms: the cuts at blocks of 4096 from a tensor's start (one inside tensor 0) */
    const size_t cuts[2][NORM_RANKS + 1] = {{0, 23456, 50011, n, n}, {0, 5 * 4096, 50007, n, n}};
    const size_t *cut = cuts[exact];
    float *G = malloc(n * sizeof *G), *w = malloc(n * sizeof *w), *w0 = malloc(n * sizeof *w);
    float *ws[NORM_RANKS];
    assert_non_null(G);
    assert_non_null(w);
    assert_non_null(w0);
    norm_exchange ex = {0};
    assert_int_equal(pthread_barrier_init(&ex.barrier, NULL, NORM_RANKS), 0);
    nnd_optim whole, part[NORM_RANKS];
    norm_rank ranks[NORM_RANKS];
    assert_int_equal(nnd_optim_init(&whole, cfg, off, 3), NND_OK);
    nnd_optim_set_exact_norms(&whole, exact);
    /* weights that grow along the buffer: a shard's norms are not the whole's scaled down */
    for (size_t i = 0; i < n; i++)
        w[i] = (nnd_rng_uniform(13, NND_RNG_SYNTHETIC, 0, i) - 0.5f) * (1.0f + 4.0f * (float)i / n);
    memcpy(w0, w, n * sizeof *w);
    for (int r = 0; r < NORM_RANKS; r++) {
        assert_int_equal(nnd_optim_init_shard(&part[r], cfg, off, 3, cut[r], cut[r + 1]), NND_OK);
        ranks[r] = (norm_rank){.ex = &ex,
                               .rank = r,
                               .skip = skip_sum && r == 1,
                               .o = &part[r],
                               .G = G,
                               .lo = cut[r],
                               .hi = cut[r + 1]};
        nnd_optim_set_norm_sum(&part[r], sum_at_barrier, &ranks[r]);
        nnd_optim_set_exact_norms(&part[r], exact);
        assert_non_null(ws[r] = malloc(n * sizeof *w));
        memcpy(ws[r], w, n * sizeof *w);
        ranks[r].w = ws[r];
    }
    for (int s = 0; s < 3; s++) {
        for (size_t i = 0; i < n; i++)
            G[i] = nnd_rng_uniform(13, NND_RNG_SYNTHETIC, (uint64_t)s + 1, i) - 0.5f;
        nnd_optim_step(&whole, w, G, 0.25f, 0.01);
        pthread_t th[NORM_RANKS];
        for (int r = 0; r < NORM_RANKS; r++)
            assert_int_equal(pthread_create(&th[r], NULL, step_rank, &ranks[r]), 0);
        for (int r = 0; r < NORM_RANKS; r++) pthread_join(th[r], NULL);
        for (int r = 0; r < NORM_RANKS; r++) /* the allgather */
            for (int q = 0; q < NORM_RANKS; q++)
                if (q != r)
                    memcpy(ws[q] + cut[r], ws[r] + cut[r], (cut[r + 1] - cut[r]) * sizeof *w);
    }
    double diff = 0.0, big = 0.0, moved = 0.0;
    for (size_t i = 0; i < n; i++) {
        diff = fmax(diff, fabs((double)ws[0][i] - w[i]));
        big = fmax(big, fabs((double)w[i]));
        moved = fmax(moved, fabs((double)w[i] - w0[i]));
    }
    *of_update = diff / moved;
    /* Every rank called the hook alike (the empty shard too), and holds the same weights. */
    for (int r = 0; r < NORM_RANKS; r++) {
        assert_int_equal(ex.calls[r], ex.calls[0]);
        assert_memory_equal(ws[r], ws[0], n * sizeof *w);
        if (cfg->clip_norm > 0.0 && !skip_sum)
            assert_true(part[r].last_grad_norm == part[0].last_grad_norm);
    }
    for (int r = 0; r < NORM_RANKS; r++) {
        nnd_optim_free(&part[r]);
        free(ws[r]);
    }
    /* once per step for the clip norm, once for the trust ratios */
    int per_step =
        (cfg->clip_norm > 0.0) + (cfg->kind == NND_OPTIM_LARS || cfg->kind == NND_OPTIM_LAMB);
    assert_int_equal(ex.calls[0], 3 * per_step);
    nnd_optim_free(&whole);
    pthread_barrier_destroy(&ex.barrier);
    free(G);
    free(w);
    free(w0);
    return diff / big;
}

/* lars, lamb and --clip-norm on shards: the norms are the sums of the shards' partial sums, the
 * same as over the whole range to round-off (a few units of float's last place, from the
 * norms' different association); without the sum over the shards the update goes far off. */
static void test_shards_norms(void **state)
{
    (void)state;
    const char *names[] = {"lars", "lamb", "adam", "momentum"};
    for (size_t c = 0; c < sizeof names / sizeof names[0]; c++) {
        nnd_optim_config cfg = defaults_of(names[c]);
        cfg.weight_decay = 0.01;
        if (cfg.kind != NND_OPTIM_LARS && cfg.kind != NND_OPTIM_LAMB) cfg.clip_norm = 0.5;
        assert_true(nnd_optim_config_needs_norms(&cfg));
        double of_update, broken;
        double d = sharded_norms_difference(&cfg, 0, 0, &of_update);
        printf("%s%s: sharded norms against the whole range: %.3g of the weights\n", names[c],
               cfg.clip_norm > 0.0 ? " --clip-norm" : "", d);
        if (!(d <= 1e-6)) fail_msg("%s: the sharded update differs by %g", names[c], d);
        if (cfg.kind == NND_OPTIM_ADAM) continue; /* its step does not see the gradient's scale */
        sharded_norms_difference(&cfg, 1, 0, &broken);
        printf("  without the sum over the shards: %.3g of the update\n", broken);
        if (!(broken > 1e-2))
            fail_msg("%s: a rank that skips the sum changes the update by only %g", names[c],
                     broken);
    }
}

/* The deterministic mode's norms (nnd_optim_set_exact_norms): with shards cut at the norms'
 * blocks, the sharded update is bitwise the update over the whole range, for lars, lamb and
 * --clip-norm; a rank that skips the sum still breaks it. */
static void test_shards_exact_norms(void **state)
{
    (void)state;
    const char *names[] = {"lars", "lamb", "momentum", "lamb"};
    for (size_t c = 0; c < sizeof names / sizeof names[0]; c++) {
        nnd_optim_config cfg = defaults_of(names[c]);
        cfg.weight_decay = 0.01;
        if (cfg.kind == NND_OPTIM_SGD || c == 3) cfg.clip_norm = 0.5;
        double of_update, broken;
        double d = sharded_norms_difference(&cfg, 0, 1, &of_update);
        printf("%s%s: exact norms, sharded against the whole range: %.3g of the weights\n",
               names[c], cfg.clip_norm > 0.0 ? " --clip-norm" : "", d);
        if (d != 0.0) fail_msg("%s: the sharded update differs by %g", names[c], d);
        sharded_norms_difference(&cfg, 1, 1, &broken);
        if (!(broken > 1e-2))
            fail_msg("%s: a rank that skips the sum changes the update by only %g", names[c],
                     broken);
    }
}

/* A checkpoint holds everything an update depends on: for every optimizer, save after two
 * steps, load into a fresh optimizer, and the next steps are bitwise those of the original
 * (nadam's mu_product is rebuilt from the step). Another optimizer's checkpoint is refused. */
static void test_checkpoint_resume_bitwise(void **state)
{
    (void)state;
    const size_t sizes[3] = {4, 5, 3};
    const char *names[] = {"sgd",    "momentum", "nesterov", "rmsprop",  "adam", "adamw",
                           "adamax", "nadam",    "adagrad",  "adadelta", "lars", "lamb"};
    char path[64];
    snprintf(path, sizeof path, "/tmp/nndist-test-optim-%d.h5", (int)getpid());
    for (size_t c = 0; c < sizeof names / sizeof names[0]; c++) {
        nnd_optim_config cfg = defaults_of(names[c]);
        if (cfg.kind == NND_OPTIM_RMSPROP) {
            cfg.centered = 1;
            cfg.momentum = 0.5;
        }
        if (cfg.kind == NND_OPTIM_ADAM) cfg.amsgrad = 1;
        nnd_model m, r;
        assert_int_equal(nnd_model_init(&m, sizes, 2, NND_ACT_TANH), NND_OK);
        assert_int_equal(nnd_model_init(&r, sizes, 2, NND_ACT_TANH), NND_OK);
        nnd_model_init_params(&m, 3);
        nnd_optim o, ro;
        assert_int_equal(nnd_optim_init_model(&o, &cfg, &m), NND_OK);
        assert_int_equal(nnd_optim_init_model(&ro, &cfg, &r), NND_OK);
        assert_int_equal(o.n_tensors, 4);
        float *G = nnd_alloc_floats(m.n_params);
        assert_non_null(G);
        for (int s = 0; s < 5; s++) {
            if (s == 2) {
                assert_int_equal(nnd_ckpt_save(path, &m, &o, NULL), NND_OK);
                assert_int_equal(nnd_ckpt_load(path, &r, &ro, NULL), NND_OK);
                assert_int_equal(ro.step, 2);
            }
            for (size_t i = 0; i < m.n_params; i++)
                G[i] = nnd_rng_uniform(7, NND_RNG_SYNTHETIC, (uint64_t)s, i) - 0.5f;
            nnd_optim_step(&o, m.params, G, 0.25f, 0.01);
            if (s >= 2) nnd_optim_step(&ro, r.params, G, 0.25f, 0.01);
        }
        if (memcmp(m.params, r.params, m.n_params * sizeof(float)) != 0)
            fail_msg("%s: the resumed run is not bitwise equal", names[c]);
        for (int k = 0; k < o.n_state; k++)
            assert_memory_equal(o.state[k], ro.state[k], m.n_params * sizeof(float));

        /* Resuming it with another optimizer is refused by name. */
        nnd_optim_config other = defaults_of(cfg.kind == NND_OPTIM_ADAM ? "adamw" : "adam");
        nnd_optim so;
        assert_int_equal(nnd_optim_init_model(&so, &other, &r), NND_OK);
        nnd_err_clear();
        assert_int_equal(nnd_ckpt_load(path, &r, &so, NULL), NND_ERR_MISMATCH);
        if (!strstr(nnd_err_msg(), names[c]))
            fail_msg("message '%s' lacks %s", nnd_err_msg(), names[c]);
        nnd_optim_free(&so);
        free(G);
        nnd_optim_free(&o);
        nnd_optim_free(&ro);
        nnd_model_free(&m);
        nnd_model_free(&r);
    }
    unlink(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_threads_bitwise),
        cmocka_unit_test(test_isa_variants_bitwise),
        cmocka_unit_test(test_shards_bitwise),
        cmocka_unit_test(test_shards_norms),
        cmocka_unit_test(test_shards_exact_norms),
        cmocka_unit_test(test_checkpoint_resume_bitwise),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
