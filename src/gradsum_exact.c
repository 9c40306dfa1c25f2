/* The deterministic mode's gradient sum (docs/design.md, "Deterministic mode"): each unit's
 * gradient is computed on its own, in the order of its samples, turned into int64 fixed point
 * at a scale every rank agrees on, and the integers are summed over the units and the ranks,
 * which is exact in any order. So the summed gradient, the loss and the counts do not depend on
 * how the units fall to ranks or threads. */
#include "trainer_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "nndist/alloc.h"
#include "nndist/fixed_sum.h"
#include "nndist/guard.h"

#include "kernels/elementwise.h"

/* The agreed maxima of a step: per layer the largest magnitude entering it and of its dZ, the
 * largest unit loss, the signal flag. */
enum { MAX_LOSS = 2 * NND_MAX_LAYERS, MAX_SIGNAL, MAX_COUNT };

nnd_status nnd_trainer_exact_buffers(nnd_trainer *t)
{
    nnd_model *m = &t->model;
    const size_t units = t->order.u_hi - t->order.u_lo;
    const int mutant = nnd_guard_fault("floatsum", t->c->rank, 0);
    nnd_status st = nnd_model_reserve_deltas(m);
    t->unit_end = malloc((units + 1) * sizeof *t->unit_end);
    t->unit_loss = malloc((units + 1) * sizeof *t->unit_loss);
    if (t->ce.weights) t->unit_denom = malloc((units + 1) * sizeof *t->unit_denom);
    if (!t->shm) t->isum = malloc((m->n_params + NND_GRAD_TAIL) * sizeof *t->isum);
    if (t->sharded) t->ishard = malloc((t->shards.hi - t->shards.lo + 1) * sizeof *t->ishard);
    if (mutant) t->float_units = nnd_alloc_floats(m->n_params);
    if (!st && (!t->unit_end || !t->unit_loss || (t->ce.weights && !t->unit_denom) || !t->isum ||
                (t->sharded && !t->ishard) || (mutant && !t->float_units)))
        st = nnd_err_set(NND_ERR_NOMEM, "cannot allocate the fixed-point gradient");
    t->exact = 1;
    return nnd_comm_agree(t->c, st);
}

/* Each tensor's scale from the agreed maxima, for a step of `samples` samples in all: a unit's
 * |dW| is at most (1 + eps)^k sum |dZ||A| over its k samples, so twice samples * max|dZ| * max|A|
 * bounds the sum of every unit's |dW| (and twice samples * max|dZ| their |db|). Returns 0 when a
 * bound is out of range (not finite, or a total that would not fit a float). */
static int scales(const nnd_model *m, const double *mx, double samples, int *shift)
{
    for (int l = 0; l < m->n_layers; l++) {
        shift[2 * l] = nnd_fixed_shift_bound(2.0 * samples * mx[2 * l + 1] * mx[2 * l]);
        shift[2 * l + 1] = nnd_fixed_shift_bound(2.0 * samples * mx[2 * l + 1]);
        if (shift[2 * l] == NND_FIXED_NONFINITE || shift[2 * l + 1] == NND_FIXED_NONFINITE)
            return 0;
    }
    return 1;
}

/* Rows of W encoded at a time: a block of the rank's sum (int64) and of one unit's gradient
 * (float) that stays in L2 while every unit adds into it, so the sum crosses memory once. */
enum { BLOCK_BYTES = 2048 * 1024 };

/* The units' gradients of one block of layer l's W (rows [o0, o1)), or of its b (o0 == o1 ==
 * 0), each computed alone into the float scratch and added into acc at scale. With
 * NNDIST_FAULT=floatsum (tests) the units are first added in float, a grouping that depends on
 * the rank count, and encoded once. */
static void encode_block(nnd_trainer *t, int l, size_t o0, size_t o1, int64_t *acc, float *scratch,
                         double scale)
{
    const nnd_model *m = &t->model;
    const size_t units = t->order.u_hi - t->order.u_lo;
    const size_t n = o1 > o0 ? (o1 - o0) * m->sizes[l] : m->sizes[l + 1];
    float *mutant = t->float_units;
    int first = 1;
    for (size_t u = 0, r0 = 0; u < units; r0 = t->unit_end[u++]) {
        size_t r1 = t->unit_end[u];
        if (r1 == r0) continue; /* a unit without samples in this step adds 0 */
        if (o1 > o0)
            nnd_model_weight_grad(m, t->xb, l, r0, r1, o0, o1, scratch);
        else
            nnd_model_bias_grad(m, l, r0, r1, scratch);
        if (mutant)
            for (size_t i = 0; i < n; i++) mutant[i] = (first ? 0.0f : mutant[i]) + scratch[i];
        else
            nnd_ew()->fixed_encode_add(acc, scratch, n, scale, !first);
        first = 0;
    }
    if (mutant && !first) nnd_ew()->fixed_encode_add(acc, mutant, n, scale, 0);
    if (first) memset(acc, 0, n * sizeof *acc); /* no unit had samples */
}

/* The rank's units' gradients added into t->isum at the agreed scales, block by block of each
 * W (m->grads serves as the scratch); the loss sums at shift_loss, with class weights the
 * units' denominators at shift_denom. */
static void encode_units(nnd_trainer *t, size_t n, const int *shift, int shift_loss,
                         int shift_denom)
{
    nnd_model *m = &t->model;
    const size_t np = m->n_params, units = t->order.u_hi - t->order.u_lo;
    for (int l = 0; l < m->n_layers; l++) {
        const size_t nin = m->sizes[l], nout = m->sizes[l + 1];
        size_t rows = BLOCK_BYTES / (nin * (sizeof(float) + sizeof(int64_t)));
        rows = rows < 6 ? 6 : rows;
        const double sw = ldexp(1.0, shift[2 * l]), sb = ldexp(1.0, shift[2 * l + 1]);
        for (size_t o0 = 0; o0 < nout; o0 += rows) {
            size_t o1 = o0 + rows < nout ? o0 + rows : nout, at = m->w_off[l] + o0 * nin;
            encode_block(t, l, o0, o1, t->isum + at, m->grads + at, sw);
        }
        encode_block(t, l, 0, 0, t->isum + m->b_off[l], m->grads + m->b_off[l], sb);
    }
    memset(t->isum + np, 0, NND_GRAD_TAIL * sizeof *t->isum);
    for (size_t u = 0; u < units; u++)
        t->isum[np + TAIL_LOSS_SUM] += llrint(ldexp(t->unit_loss[u], shift_loss));
    for (size_t u = 0; t->unit_denom && u < units; u++)
        t->isum[np + TAIL_WEIGHTS] += llrint(ldexp(t->unit_denom[u], shift_denom));
    t->isum[np + TAIL_SAMPLES] = (int64_t)n;
}

/* Elements [lo, hi) of the summed gradient (in) to floats (out, out[0] being element lo's), each
 * tensor at its own scale. */
static void decode(const nnd_model *m, const int64_t *in, size_t lo, size_t hi, const int *shift,
                   float *out)
{
    for (int l = 0; l < m->n_layers; l++) {
        const size_t ends[3] = {m->w_off[l], m->b_off[l], m->b_off[l] + m->sizes[l + 1]};
        for (int k = 0; k < 2; k++) {
            size_t a = ends[k] > lo ? ends[k] : lo, b = ends[k + 1] < hi ? ends[k + 1] : hi;
            if (a < b)
                nnd_ew()->fixed_decode(out + (a - lo), in + (a - lo), b - a,
                                       ldexp(1.0, -shift[2 * l + k]));
        }
    }
}

/* The rank's shard of every rank's sum in shared memory (t->ishard), and the tails' sum. */
static void sum_shared(nnd_trainer *t, int64_t *tail)
{
    const size_t np = t->model.n_params, lo = t->shards.lo, n = t->shards.hi - lo;
    int64_t *const *seg = (int64_t *const *)t->gshm.seg;
    for (int k = 0; k < NND_GRAD_TAIL; k++) tail[k] = 0;
    for (int r = 0; r < t->gshm.size; r++) {
        const int64_t *in = seg[r] + lo;
        if (r == 0)
            memcpy(t->ishard, in, n * sizeof *in);
        else
            for (size_t i = 0; i < n; i++) t->ishard[i] += in[i];
        for (int k = 0; k < NND_GRAD_TAIL; k++) tail[k] += seg[r][np + k];
    }
}

/* The largest class weight (the session's own, the same on every rank). */
static double max_weight(const nnd_trainer *t)
{
    const size_t k = t->model.sizes[t->model.n_layers];
    double w = 0.0;
    for (size_t j = 0; j < k; j++) w = t->ce.weights[j] > w ? t->ce.weights[j] : w;
    return w;
}

const float *nnd_trainer_exact_sum(nnd_trainer *t, float *dout, size_t n, size_t correct,
                                   float *summed_tail, double *t1)
{
    nnd_model *m = &t->model;
    const size_t np = m->n_params, units = t->order.u_hi - t->order.u_lo;
    nnd_model_backward_deltas(m, dout, n);
    /* The maxima: a MAX over the ranks of values that depend on each sample alone is the same
     * whatever the ranks hold. */
    double mx[MAX_COUNT] = {0.0};
    for (int l = 0; l < m->n_layers && n > 0; l++) {
        mx[2 * l] = nnd_ew()->max_abs(nnd_model_layer_input(m, t->xb, l), n * m->sizes[l]);
        mx[2 * l + 1] = nnd_ew()->max_abs(nnd_model_layer_dz(m, l), n * m->sizes[l + 1]);
    }
    for (size_t u = 0; u < units; u++) {
        double a = fabs(t->unit_loss[u]);
        mx[MAX_LOSS] = isfinite(a) ? (a > mx[MAX_LOSS] ? a : mx[MAX_LOSS]) : INFINITY;
    }
    mx[MAX_SIGNAL] = nnd_guard_signal_pending() ? 1.0 : 0.0;
    *t1 = MPI_Wtime();
    nnd_guard_phase("allreduce", 0.0);
    MPI_Allreduce(MPI_IN_PLACE, mx, MAX_COUNT, MPI_DOUBLE, MPI_MAX, t->c->world);
    memset(summed_tail, 0, NND_GRAD_TAIL * sizeof *summed_tail);
    summed_tail[TAIL_SIGNAL] = (float)mx[MAX_SIGNAL];
    const double samples = (double)nnd_order_global_count(&t->order, t->step);
    int shift_loss = nnd_fixed_shift_bound((double)t->order.n_units * mx[MAX_LOSS]);
    /* The weights' sum is at most samples * max_c w_c, known to every rank before the sum: each
     * unit's sum (over its rows in order) rounded once at that scale, so that the denominator,
     * like the loss, is the same bits on any rank count. */
    int shift_denom = t->ce.weights ? nnd_fixed_shift_bound(samples * max_weight(t)) : 0;
    if (!scales(m, mx, samples, t->shift) || shift_loss == NND_FIXED_NONFINITE ||
        shift_denom == NND_FIXED_NONFINITE) {
        /* Every rank holds the same maxima, so every rank skips alike, before any sum. */
        summed_tail[TAIL_SAMPLES] = (float)samples;
        summed_tail[TAIL_NONFINITE] = 1.0f;
        t->exact_denom = samples;
        t->exact_loss = isfinite(mx[MAX_LOSS]) ? 0.0 : NAN;
        return summed_tail;
    }
    encode_units(t, n, t->shift, shift_loss, shift_denom);
    t->isum[np + TAIL_CORRECT] = (int64_t)correct;
    int64_t tail[NND_GRAD_TAIL];
    if (!t->sharded) {
        MPI_Allreduce(MPI_IN_PLACE, t->isum, (int)(np + NND_GRAD_TAIL), MPI_INT64_T, MPI_SUM,
                      t->c->world);
        decode(m, t->isum, 0, np, t->shift, m->grads);
        memcpy(tail, t->isum + np, sizeof tail);
    } else if (t->shm) {
        /* Every rank's sum in node-shared memory: after the barrier each rank adds its shard
         * and the tails over the ranks. No rank writes its sum again before the next step's
         * maxima, an allreduce that every rank enters after reading. */
        nnd_shm_barrier(&t->gshm);
        sum_shared(t, tail);
        decode(m, t->ishard, t->shards.lo, t->shards.hi, t->shift, t->gshard);
    } else {
        MPI_Reduce_scatter(t->isum, t->ishard, t->shards.count, MPI_INT64_T, MPI_SUM, t->c->world);
        decode(m, t->ishard, t->shards.lo, t->shards.hi, t->shift, t->gshard);
        MPI_Allreduce(t->isum + np, tail, NND_GRAD_TAIL, MPI_INT64_T, MPI_SUM, t->c->world);
    }
    summed_tail[TAIL_SAMPLES] = (float)tail[TAIL_SAMPLES];
    summed_tail[TAIL_CORRECT] = (float)tail[TAIL_CORRECT];
    t->exact_loss = ldexp((double)tail[TAIL_LOSS_SUM], -shift_loss);
    t->exact_denom = t->ce.weights ? ldexp((double)tail[TAIL_WEIGHTS], -shift_denom) : samples;
    return summed_tail;
}
