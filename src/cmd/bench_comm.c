/* nndist bench-comm: the allreduce's latency and bandwidth on this machine or allocation, at the
 * model's gradient size, fitted to the ring model t(n) = 2(p-1) a + 2(p-1)/p n b. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nndist/alloc.h"
#include "nndist/cli.h"
#include "nndist/commands.h"
#include "nndist/model.h"

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Median over iters of the slowest rank's time for one allreduce of n floats. */
static double time_allreduce(const nnd_comm *c, float *buf, size_t n, int iters, double *samples)
{
    for (int w = 0; w < 3; w++) nnd_comm_allreduce_sum(c, buf, n);
    for (int i = 0; i < iters; i++) {
        MPI_Barrier(c->world);
        double t0 = MPI_Wtime();
        nnd_comm_allreduce_sum(c, buf, n);
        double dt = MPI_Wtime() - t0;
        MPI_Allreduce(MPI_IN_PLACE, &dt, 1, MPI_DOUBLE, MPI_MAX, c->world);
        samples[i] = dt;
    }
    qsort(samples, (size_t)iters, sizeof *samples, cmp_double);
    return samples[iters / 2];
}

/* The same for the sharded update's two halves: a reduce-scatter of n floats into each rank's
 * shard, then an allgather of the shards (the same bytes on the wire as the ring allreduce). */
static double time_sharded(const nnd_comm *c, float *buf, float *shard, const nnd_shards *s,
                           int iters, double *samples)
{
    for (int i = -3; i < iters; i++) {
        MPI_Barrier(c->world);
        double t0 = MPI_Wtime();
        MPI_Reduce_scatter(buf, shard, s->count, MPI_FLOAT, MPI_SUM, c->world);
        memcpy(buf + s->lo, shard, (s->hi - s->lo) * sizeof *buf);
        nnd_comm_allgather_shards(c, s, buf);
        double dt = MPI_Wtime() - t0;
        MPI_Allreduce(MPI_IN_PLACE, &dt, 1, MPI_DOUBLE, MPI_MAX, c->world);
        if (i >= 0) samples[i] = dt;
    }
    qsort(samples, (size_t)iters, sizeof *samples, cmp_double);
    return samples[iters / 2];
}

/* Counts and displacements of n floats cut into k near-equal parts. */
static void cut(size_t n, int k, int *count, int *displ)
{
    for (int i = 0; i < k; i++) {
        size_t lo = n * (size_t)i / (size_t)k, hi = n * (size_t)(i + 1) / (size_t)k;
        count[i] = (int)(hi - lo);
        displ[i] = (int)lo;
    }
}

/* The same floats summed within each node first, then across the nodes: a reduce-scatter over
 * the node's ranks gives each its part of the node's sum, a reduce-scatter over the ranks of the
 * same place on every node cuts that part into the rank's shard of the whole sum, and two
 * allgathers (across, then within the node) bring every rank the whole. Only the across step
 * crosses the network, with 1/L of the floats per rank (L ranks per node). Returns -1 unless
 * there are 2 or more nodes with the same 2 or more ranks each, -2 when the sum came out wrong. */
static double time_hierarchical(const nnd_comm *c, float *buf, size_t n, int iters, double *samples)
{
    MPI_Comm node, across;
    MPI_Comm_split_type(c->world, MPI_COMM_TYPE_SHARED, c->rank, MPI_INFO_NULL, &node);
    int L, lr, N;
    MPI_Comm_size(node, &L);
    MPI_Comm_rank(node, &lr);
    int lmin = L, lmax = L;
    MPI_Allreduce(MPI_IN_PLACE, &lmin, 1, MPI_INT, MPI_MIN, c->world);
    MPI_Allreduce(MPI_IN_PLACE, &lmax, 1, MPI_INT, MPI_MAX, c->world);
    MPI_Comm_split(c->world, lr, c->rank, &across);
    MPI_Comm_size(across, &N);
    double t = -1.0;
    int *cn = malloc(2 * (size_t)L * sizeof *cn), *cx = malloc(2 * (size_t)N * sizeof *cx);
    float *part = nnd_alloc_floats(n / (size_t)L + 1);
    int ok = lmin == lmax && L >= 2 && N >= 2 && cn && cx && part, all_ok;
    MPI_Allreduce(&ok, &all_ok, 1, MPI_INT, MPI_MIN, c->world);
    if (all_ok) {
        cut(n, L, cn, cn + L);
        const int m = cn[lr];
        cut((size_t)m, N, cx, cx + N);
        int xr, wrong = 0;
        MPI_Comm_rank(across, &xr);
        /* The first round sums each rank's number + 1 (exact in float): every rank must end
         * with P(P+1)/2 everywhere, or the timing would be of a wrong sum. */
        for (size_t k = 0; k < n; k++) buf[k] = (float)(c->rank + 1);
        for (int i = -4; i < iters; i++) {
            MPI_Barrier(c->world);
            double t0 = MPI_Wtime();
            MPI_Reduce_scatter(buf, part, cn, MPI_FLOAT, MPI_SUM, node);
            MPI_Reduce_scatter(MPI_IN_PLACE, part, cx, MPI_FLOAT, MPI_SUM, across);
            /* in place: the rank's shard goes to its place in the node's part */
            memmove(part + cx[N + xr], part, (size_t)cx[xr] * sizeof *part);
            MPI_Allgatherv(MPI_IN_PLACE, 0, MPI_FLOAT, part, cx, cx + N, MPI_FLOAT, across);
            memcpy(buf + cn[L + lr], part, (size_t)m * sizeof *buf);
            MPI_Allgatherv(MPI_IN_PLACE, 0, MPI_FLOAT, buf, cn, cn + L, MPI_FLOAT, node);
            double dt = MPI_Wtime() - t0;
            if (i == -4) { /* the verdict is every rank's, so every rank leaves alike */
                const float want = (float)c->size * (float)(c->size + 1) / 2.0f;
                for (size_t k = 0; k < n; k++) wrong |= buf[k] != want;
                MPI_Allreduce(MPI_IN_PLACE, &wrong, 1, MPI_INT, MPI_MAX, c->world);
                if (wrong) break;
            }
            MPI_Allreduce(MPI_IN_PLACE, &dt, 1, MPI_DOUBLE, MPI_MAX, c->world);
            if (i >= 0) samples[i] = dt;
        }
        if (!wrong) qsort(samples, (size_t)iters, sizeof *samples, cmp_double);
        t = wrong ? -2.0 : samples[iters / 2];
    }
    free(cn);
    free(cx);
    free(part);
    MPI_Comm_free(&across);
    MPI_Comm_free(&node);
    return t;
}

static const char *const g_usage =
    "nndist bench-comm [--layers N0,...,NL | --floats N] [--iters N] [--json]";
static const char *const g_description =
    "Measures MPI_Allreduce between the ranks of this job: the latency of a 1-float\n"
    "allreduce and the time at the model's gradient size, and fits the ring model\n"
    "t(n) = 2(p-1) alpha + 2(p-1)/p n beta (n in bytes). Then times the sharded update's\n"
    "reduce-scatter + allgather of the same floats, against the allreduce, and on 2 or more\n"
    "nodes of 2 or more ranks the same summed within each node first, then across the nodes.\n"
    "Feed alpha and beta to scripts/scaling-model to project larger runs. Run it with the\n"
    "ranks and placement of the real job.";

nnd_status nnd_cmd_bench_comm(int argc, char **argv, const nnd_comm *c)
{
    nnd_cli_sizes layers = {{0}, 0};
    uint64_t floats = 0, iters = 50;
    int json = 0, help = 0;
    const nnd_opt opts[] = {
        {"layers", NND_OPT_SIZES, &layers, "N0,...,NL",
         "measure at this model's gradient size (default 784,512,256,10)", NULL},
        {"floats", NND_OPT_COUNT, &floats, "N", "measure at N floats instead", NULL},
        {"iters", NND_OPT_COUNT, &iters, "N", "timed repetitions per size (default 50)", NULL},
        {"json", NND_OPT_FLAG, &json, NULL, "print one JSON object", NULL},
        {NULL, 0, NULL, NULL, NULL, NULL},
    };
    nnd_status st =
        nnd_cli_parse_command(opts, argc, argv, 1, g_usage, g_description, c->rank, &help);
    if (st || help) return st;
    if (layers.n == 1)
        return nnd_err_set(NND_ERR_USAGE, "--layers needs at least two sizes (inputs, outputs)");
    if (iters > 100000) return nnd_err_set(NND_ERR_USAGE, "--iters: at most 100000");
    size_t n = floats;
    if (!n) {
        static const size_t fallback[] = {784, 512, 256, 10};
        const size_t *sz = layers.n ? layers.v : fallback;
        int nl = layers.n ? layers.n - 1 : 3;
        for (int l = 0; l < nl; l++) n += sz[l] * sz[l + 1] + sz[l + 1];
        n += NND_GRAD_TAIL;
    }
    if (n > INT_MAX / 2)
        return nnd_err_set(NND_ERR_USAGE, "%zu floats: at most %d", n, INT_MAX / 2);
    float *buf = nnd_alloc_floats(n), *shard = NULL;
    double *samples = malloc((size_t)iters * sizeof *samples);
    nnd_shards shards;
    memset(&shards, 0, sizeof shards);
    st = buf && samples ? nnd_shards_init(&shards, c, n)
                        : nnd_err_set(NND_ERR_NOMEM, "cannot allocate %zu floats", n);
    if (!st && !(shard = nnd_alloc_floats(shards.hi - shards.lo + 1)))
        st = nnd_err_set(NND_ERR_NOMEM, "cannot allocate a shard of %zu floats", n);
    if ((st = nnd_comm_agree(c, st))) goto out;

    int p = c->size;
    double t_small = time_allreduce(c, buf, 1, (int)iters, samples);
    double t_big = time_allreduce(c, buf, n, (int)iters, samples);
    double t_sharded = time_sharded(c, buf, shard, &shards, (int)iters, samples);
    double t_hier = time_hierarchical(c, buf, n, (int)iters, samples);
    double bytes = (double)n * sizeof(float);
    double alpha = 0, beta = 0, bus = 0;
    if (p > 1) {
        alpha = t_small / (2.0 * (p - 1));
        double wire = 2.0 * (p - 1) / p * bytes;
        beta = (t_big - 2.0 * (p - 1) * alpha) / wire;
        if (beta < 0) beta = 0;
        bus = wire / t_big;
    }
    if (c->rank == 0) {
        if (json) {
            printf("{\"ranks\": %d, \"floats\": %zu, \"latency_s\": %.9g, \"allreduce_s\": %.9g, "
                   "\"reduce_scatter_allgather_s\": %.9g, \"hierarchical_s\": %.9g, "
                   "\"alpha_s\": %.9g, \"beta_s_per_byte\": %.9g, \"bus_bandwidth_Bps\": %.6g}\n",
                   p, n, t_small, t_big, t_sharded, t_hier, alpha, beta, bus);
        } else {
            printf("ranks %d, allreduce of 1 float: %.1f us; of %zu floats (%.2f MB): %.3f ms "
                   "(median of %llu, slowest rank)\n",
                   p, t_small * 1e6, n, bytes / 1e6, t_big * 1e3, (unsigned long long)iters);
            printf("reduce-scatter + allgather of the same: %.3f ms (%.2f x the allreduce)\n",
                   t_sharded * 1e3, t_big > 0 ? t_sharded / t_big : 0.0);
            if (t_hier == -2.0)
                printf("the same within each node first: WRONG SUM (a bug: please report)\n");
            if (t_hier >= 0)
                printf("the same within each node first, then across nodes: %.3f ms (%.2f x "
                       "reduce-scatter + allgather)\n",
                       t_hier * 1e3, t_sharded > 0 ? t_hier / t_sharded : 0.0);
            if (p > 1)
                printf("ring model: alpha = %.3g s, beta = %.3g s/byte (%.2f GB/s bus "
                       "bandwidth)\nproject: scripts/scaling-model --alpha %.3g --beta %.3g ...\n",
                       alpha, beta, bus / 1e9, alpha, beta);
            else
                printf("one rank: nothing crosses a wire; run with 2 or more ranks to fit alpha "
                       "and beta\n");
        }
    }
out:
    free(buf);
    free(shard);
    free(samples);
    nnd_shards_free(&shards);
    return st;
}
