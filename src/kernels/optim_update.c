/* The optimizer's update loops, compiled once per instruction set (CMakeLists.txt builds this
 * file as portable C, with AVX2+FMA and with AVX-512; optim.c picks one at run time by the GEMM's
 * kernel family). The loops are the same C in every variant: with -ffp-contract=off and no
 * reassociation the wider vectors change the speed, not a bit of the result. */
#include "nndist/optim.h"

#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "optim_internal.h"
#include "isa_variant.h"

/* ---- reductions that do not depend on the thread count ---- */

/* Sums of squares go into LANES partial sums, lane j taking the elements i = j (mod LANES), then
 * the lanes are added in order: the association is the source's (no reassociation anywhere),
 * so every variant and thread count gets the same bits, and the loop runs as vectors. */
enum { LANES = 8 };

static double lanes_total(const double *lane)
{
    double t = 0.0;
    for (int j = 0; j < LANES; j++) t += lane[j];
    return t;
}

/* The sum over [lo, hi) of (s*a[i])^2, in lanes. */
static double block_squares(const float *a, double s, size_t lo, size_t hi)
{
    double lane[LANES] = {0.0};
    size_t i = lo;
    for (; i + LANES <= hi; i += LANES)
        for (int j = 0; j < LANES; j++) {
            double u = s * a[i + (size_t)j];
            lane[j] += u * u;
        }
    for (int j = 0; i < hi; i++, j++) {
        double u = s * a[i];
        lane[j] += u * u;
    }
    return lanes_total(lane);
}

/* Sum over [0, n) of (sa*a[i])^2 into *na and, when b is given, of (sb*b[i])^2 into *nb:
 * per block of NORM_BLOCK in any thread, then the block sums in block order. */
static void sum_squares(double *partial, const float *a, double sa, const float *b, double sb,
                        size_t n, double *na, double *nb)
{
    const size_t blocks = (n + NORM_BLOCK - 1) / NORM_BLOCK;
#pragma omp parallel for schedule(static) if (n > PAR_MIN)
    for (size_t k = 0; k < blocks; k++) {
        size_t lo = k * NORM_BLOCK, hi = lo + NORM_BLOCK < n ? lo + NORM_BLOCK : n;
        partial[2 * k] = block_squares(a, sa, lo, hi);
        partial[2 * k + 1] = b ? block_squares(b, sb, lo, hi) : 0.0;
    }
    double x = 0.0, y = 0.0;
    for (size_t k = 0; k < blocks; k++) {
        x += partial[2 * k];
        y += partial[2 * k + 1];
    }
    *na = x;
    if (nb) *nb = y;
}

/* fmax for the finite values an update sees (a step with a non-finite gradient never reaches
 * one): the same result, but it vectorizes, where fmax's NaN rule keeps the loop scalar. */
static inline double max_finite(double a, double b)
{
    return a > b ? a : b;
}

/* ---- the updates; s is the factor that turns G into the (clipped) mean gradient ---- */

/* Elements [lo, lo + n) of the parameters: the weights w, their gradient G and the state
 * buffers, each already offset to lo. The elementwise rules update any such span on its own. */
typedef struct {
    float *w;
    const float *G;
    float *state[NND_OPTIM_MAX_STATE];
    size_t n;
} span;

static void sgd_step(nnd_optim *o, const span *x, double s, double lr)
{
    float *w = x->w;
    const float *G = x->G;
    const size_t n = x->n;
    const double wd = o->cfg.weight_decay, mu = o->cfg.momentum;
    const double damp = 1.0 - o->cfg.dampening;
    const int first = o->step == 0, nesterov = o->cfg.nesterov;
    if (mu == 0.0) {
#pragma omp parallel for schedule(static) if (n > PAR_MIN)
        for (size_t i = 0; i < n; i++) w[i] = (float)(w[i] - lr * (s * G[i] + wd * w[i]));
        return;
    }
    float *buf = x->state[0];
#pragma omp parallel for schedule(static) if (n > PAR_MIN)
    for (size_t i = 0; i < n; i++) {
        double g = s * G[i] + wd * w[i];
        double b = first ? g : mu * buf[i] + damp * g; /* buf = mu*buf + (1-dampening)*g */
        buf[i] = (float)b;
        w[i] = (float)(w[i] - lr * (nesterov ? g + mu * b : b));
    }
}

static void rmsprop_step(nnd_optim *o, const span *x, double s, double lr)
{
    float *w = x->w;
    const float *G = x->G;
    const size_t n = x->n;
    const double wd = o->cfg.weight_decay, alpha = o->cfg.alpha, eps = o->cfg.eps;
    const double mu = o->cfg.momentum;
    float *v = x->state[nnd_optim_state_index(o, "square_avg")];
    int kb = nnd_optim_state_index(o, "momentum_buffer"), ka = nnd_optim_state_index(o, "grad_avg");
    float *buf = kb >= 0 ? x->state[kb] : NULL, *avg = ka >= 0 ? x->state[ka] : NULL;
/* One loop per (centered, momentum) case, so that none has a branch and each vectorizes. */
#define RMSPROP_LOOP(CENTERED, MOMENTUM)                                                           \
    _Pragma("omp parallel for schedule(static) if (n > PAR_MIN)") for (size_t i = 0; i < n; i++)   \
    {                                                                                              \
        double g = s * G[i] + wd * w[i];                                                           \
        double vi = alpha * v[i] + (1.0 - alpha) * g * g;                                          \
        v[i] = (float)vi;                                                                          \
        double d;                                                                                  \
        if (CENTERED) {                                                                            \
            double a = alpha * avg[i] + (1.0 - alpha) * g;                                         \
            avg[i] = (float)a;                                                                     \
            /* v - a^2 >= 0 in exact arithmetic; round-off can make it a hair negative */          \
            d = sqrt(max_finite(vi - a * a, 0.0)) + eps;                                           \
        } else {                                                                                   \
            d = sqrt(vi) + eps;                                                                    \
        }                                                                                          \
        if (MOMENTUM) {                                                                            \
            double b = mu * buf[i] + g / d;                                                        \
            buf[i] = (float)b;                                                                     \
            w[i] = (float)(w[i] - lr * b);                                                         \
        } else {                                                                                   \
            w[i] = (float)(w[i] - lr * g / d);                                                     \
        }                                                                                          \
    }
    if (avg && buf)
        RMSPROP_LOOP(1, 1)
    else if (avg)
        RMSPROP_LOOP(1, 0)
    else if (buf)
        RMSPROP_LOOP(0, 1)
    else
        RMSPROP_LOOP(0, 0)
#undef RMSPROP_LOOP
}

static void adam_step(nnd_optim *o, const span *x, double s, double lr)
{
    float *w = x->w;
    const float *G = x->G;
    const size_t n = x->n;
    const double b1 = o->cfg.beta1, b2 = o->cfg.beta2, eps = o->cfg.eps;
    const double t = (double)(o->step + 1);
    const int decoupled = o->cfg.kind == NND_OPTIM_ADAMW;
    const double wd_l2 = decoupled ? 0.0 : o->cfg.weight_decay;
    const double shrink = decoupled ? 1.0 - lr * o->cfg.weight_decay : 1.0;
    /* sqrt(v) / sqrt(1 - b2^t) as a product with the reciprocal: one division per element
     * fewer (double divisions bound this loop), a difference below float's rounding. */
    const double step_size = lr / (1.0 - pow(b1, t)), inv_bc2_sqrt = 1.0 / sqrt(1.0 - pow(b2, t));
    float *m = x->state[0], *v = x->state[1];
    float *vmax = o->cfg.amsgrad ? x->state[2] : NULL;
#pragma omp parallel for schedule(static) if (n > PAR_MIN)
    for (size_t i = 0; i < n; i++) {
        double wi = w[i];
        double g = s * G[i] + wd_l2 * wi;
        if (decoupled) wi *= shrink; /* w *= 1 - lr*wd */
        double mi = b1 * m[i] + (1.0 - b1) * g, vi = b2 * v[i] + (1.0 - b2) * g * g;
        m[i] = (float)mi;
        v[i] = (float)vi;
        if (vmax) { /* vmax = max(vmax, v) */
            vi = max_finite(vi, vmax[i]);
            vmax[i] = (float)vi;
        }
        double denom = sqrt(vi) * inv_bc2_sqrt + eps;
        w[i] = (float)(wi - step_size * mi / denom);
    }
}

static void adamax_step(nnd_optim *o, const span *x, double s, double lr)
{
    float *w = x->w;
    const float *G = x->G;
    const size_t n = x->n;
    const double b1 = o->cfg.beta1, b2 = o->cfg.beta2, eps = o->cfg.eps, wd = o->cfg.weight_decay;
    const double clr = lr / (1.0 - pow(b1, (double)(o->step + 1)));
    float *m = x->state[0], *u = x->state[1];
#pragma omp parallel for schedule(static) if (n > PAR_MIN)
    for (size_t i = 0; i < n; i++) {
        double g = s * G[i] + wd * w[i];
        double mi = b1 * m[i] + (1.0 - b1) * g, ui = max_finite(b2 * u[i], fabs(g) + eps);
        m[i] = (float)mi;
        u[i] = (float)ui;
        w[i] = (float)(w[i] - clr * mi / ui);
    }
}

static void nadam_step(nnd_optim *o, const span *x, double s, double lr)
{
    float *w = x->w;
    const float *G = x->G;
    const size_t n = x->n;
    const nnd_optim_config *cfg = &o->cfg;
    const uint64_t t = o->step + 1;
    /* After a load (or on a rank that received the step by broadcast) the product is rebuilt
     * with the same sequence of multiplications as the running one, so bitwise equal. */
    if (o->mu_product_step != o->step) o->mu_product = nnd_nadam_mu_product(cfg, o->step);
    const double mu = nnd_nadam_mu(cfg, t), mu_next = nnd_nadam_mu(cfg, t + 1);
    o->mu_product *= mu;
    o->mu_product_step = t;
    const double mu_product_next = o->mu_product * mu * mu_next; /* torch 1.13, see optim.h */
    const double b1 = cfg->beta1, b2 = cfg->beta2, eps = cfg->eps, wd = cfg->weight_decay;
    /* The bias correction as a reciprocal and one division per element (double divisions bound
     * this loop): differences below float's rounding. */
    const double inv_bc2 = 1.0 / (1.0 - pow(b2, (double)t));
    const double cg = lr * (1.0 - mu) / (1.0 - o->mu_product);
    const double cm = lr * mu_next / (1.0 - mu_product_next);
    float *m = x->state[0], *v = x->state[1];
#pragma omp parallel for schedule(static) if (n > PAR_MIN)
    for (size_t i = 0; i < n; i++) {
        double g = s * G[i] + wd * w[i];
        double mi = b1 * m[i] + (1.0 - b1) * g, vi = b2 * v[i] + (1.0 - b2) * g * g;
        m[i] = (float)mi;
        v[i] = (float)vi;
        double r = 1.0 / (sqrt(vi * inv_bc2) + eps);
        w[i] = (float)(w[i] - cg * g * r - cm * mi * r);
    }
}

static void adagrad_step(nnd_optim *o, const span *x, double s, double lr)
{
    float *w = x->w;
    const float *G = x->G;
    const size_t n = x->n;
    const double wd = o->cfg.weight_decay, eps = o->cfg.eps;
    const double clr = lr / (1.0 + (double)o->step * o->cfg.lr_decay);
    float *sum = x->state[0];
#pragma omp parallel for schedule(static) if (n > PAR_MIN)
    for (size_t i = 0; i < n; i++) {
        double g = s * G[i] + wd * w[i];
        double si = sum[i] + g * g;
        sum[i] = (float)si;
        w[i] = (float)(w[i] - clr * g / (sqrt(si) + eps));
    }
}

static void adadelta_step(nnd_optim *o, const span *x, double s, double lr)
{
    float *w = x->w;
    const float *G = x->G;
    const size_t n = x->n;
    const double wd = o->cfg.weight_decay, eps = o->cfg.eps, rho = o->cfg.rho;
    float *v = x->state[0], *acc = x->state[1];
#pragma omp parallel for schedule(static) if (n > PAR_MIN)
    for (size_t i = 0; i < n; i++) {
        double g = s * G[i] + wd * w[i];
        double vi = rho * v[i] + (1.0 - rho) * g * g;
        v[i] = (float)vi;
        /* sqrt(acc + eps) / sqrt(v + eps) as one square root of the quotient: one costly
         * operation fewer per element, a difference below float's rounding */
        double d = sqrt((acc[i] + eps) / (vi + eps)) * g;
        acc[i] = (float)(rho * acc[i] + (1.0 - rho) * d * d);
        w[i] = (float)(w[i] - lr * d);
    }
}

/* The part of tensor k within the span x of elements [lo, lo + x->n): its offset in the span
 * and its length (0 when the tensor lies outside the span). */
static size_t tensor_part(const nnd_optim *o, int k, size_t lo, size_t n, size_t *off)
{
    size_t a = o->tensor_off[k], b = o->tensor_off[k + 1];
    if (a < lo) a = lo;
    if (b > lo + n) b = lo + n;
    *off = a - lo;
    return b > a ? b - a : 0;
}

/* The sums over every rank's shard, in place (nothing to add when the state is whole). */
static void sum_over_shards(const nnd_optim *o, double *sums, int n)
{
    if (o->norm_sum) o->norm_sum(sums, n, o->norm_sum_ctx);
}

/* Exact norms: global block index of element `at` of tensor k. */
static size_t block_of(const nnd_optim *o, int k, size_t at)
{
    return o->block0[k] + (at - o->tensor_off[k]) / NORM_BLOCK;
}

/* Exact norms: the squares of tensor k's part of the span [lo, lo + n_span) (of a, scaled by sa,
 * and of b by sb when given), block by block at the blocks' places in o->grid. */
static void grid_squares(nnd_optim *o, int k, size_t lo, size_t n_span, const float *a, double sa,
                         const float *b, double sb)
{
    size_t off, n = tensor_part(o, k, lo, n_span, &off);
    if (n == 0) return;
    double *g = o->grid + 2 * block_of(o, k, lo + off);
    const size_t blocks = (n + NORM_BLOCK - 1) / NORM_BLOCK;
#pragma omp parallel for schedule(static) if (n > PAR_MIN)
    for (size_t j = 0; j < blocks; j++) {
        size_t i0 = j * NORM_BLOCK, i1 = i0 + NORM_BLOCK < n ? i0 + NORM_BLOCK : n;
        g[2 * j] = block_squares(a + off, sa, i0, i1);
        g[2 * j + 1] = b ? block_squares(b + off, sb, i0, i1) : 0.0;
    }
}

/* Exact norms: the grid over every shard, then sums[2k], sums[2k + 1] = tensor k's blocks added
 * in order. */
static void grid_totals(nnd_optim *o, double *sums)
{
    const size_t blocks = o->block0[o->n_tensors];
    sum_over_shards(o, o->grid, (int)(2 * blocks));
    for (int k = 0; k < o->n_tensors; k++) {
        double x = 0.0, y = 0.0;
        for (size_t g = o->block0[k]; g < o->block0[k + 1]; g++) {
            x += o->grid[2 * g];
            y += o->grid[2 * g + 1];
        }
        sums[2 * k] = x;
        sums[2 * k + 1] = y;
    }
}

/* Exact norms: the grid's blocks all zero (a shard fills its own). */
static void grid_clear(nnd_optim *o)
{
    memset(o->grid, 0, 2 * o->block0[o->n_tensors] * sizeof *o->grid);
}

/* lars and lamb: sums[2k] = ||w_k||^2 and sums[2k + 1] = ||g_k||^2 or ||u_k||^2 of tensor k over
 * the span, then over all shards; one sum for all tensors. */
static void lars_step(nnd_optim *o, const span *x, size_t lo, double s, double lr)
{
    const double wd = o->cfg.weight_decay, mu = o->cfg.momentum, eta = o->cfg.trust_coefficient;
    double sums[2 * NND_OPTIM_MAX_TENSORS] = {0.0};
    if (o->exact_norms) {
        grid_clear(o);
        for (int k = 0; k < o->n_tensors; k++) grid_squares(o, k, lo, x->n, x->w, 1.0, x->G, s);
        grid_totals(o, sums);
    } else {
        for (int k = 0; k < o->n_tensors; k++) {
            size_t off, n = tensor_part(o, k, lo, x->n, &off);
            if (n > 0)
                sum_squares(o->partial, x->w + off, 1.0, x->G + off, s, n, &sums[2 * k],
                            &sums[2 * k + 1]);
        }
        sum_over_shards(o, sums, 2 * o->n_tensors);
    }
    for (int k = 0; k < o->n_tensors; k++) {
        size_t off, n = tensor_part(o, k, lo, x->n, &off);
        const double wn = sqrt(sums[2 * k]), denom = sqrt(sums[2 * k + 1]) + wd * wn;
        const double local = wn > 0.0 && denom > 0.0 ? eta * wn / denom : 1.0;
        const double c = lr * local;
        float *wk = x->w + off, *bk = mu != 0.0 ? x->state[0] + off : NULL;
        const float *Gk = x->G + off;
#pragma omp parallel for schedule(static) if (n > PAR_MIN)
        for (size_t i = 0; i < n; i++) {
            double d = c * (s * Gk[i] + wd * wk[i]);
            if (bk) {
                d += mu * bk[i]; /* b = mu*b + lr*lambda*(g + wd*w) */
                bk[i] = (float)d;
            }
            wk[i] = (float)(wk[i] - d);
        }
    }
}

/* lamb's pass 1 over n elements of one tensor: the moments, then ||w||^2 and ||u||^2 (u = r +
 * wd*w) summed per block in lanes, into partial (two per block). */
static void lamb_moments(const nnd_optim *o, float *wk, float *mk, float *vk, const float *Gk,
                         size_t n, double s, double inv_bc1, double inv_bc2, double *partial)
{
    const double b1 = o->cfg.beta1, b2 = o->cfg.beta2, eps = o->cfg.eps, wd = o->cfg.weight_decay;
    const size_t blocks = (n + NORM_BLOCK - 1) / NORM_BLOCK;
#pragma omp parallel for schedule(static) if (n > PAR_MIN)
    for (size_t b = 0; b < blocks; b++) {
        size_t i0 = b * NORM_BLOCK, i1 = i0 + NORM_BLOCK < n ? i0 + NORM_BLOCK : n;
        for (size_t i = i0; i < i1; i++) {
            double g = s * Gk[i];
            mk[i] = (float)(b1 * mk[i] + (1.0 - b1) * g);
            vk[i] = (float)(b2 * vk[i] + (1.0 - b2) * g * g);
        }
        double ww[LANES] = {0.0}, uu[LANES] = {0.0};
        size_t i = i0;
        for (; i + LANES <= i1; i += LANES)
            for (int j = 0; j < LANES; j++) {
                size_t e = i + (size_t)j;
                double u = (mk[e] * inv_bc1) / (sqrt(vk[e] * inv_bc2) + eps) + wd * wk[e];
                ww[j] += (double)wk[e] * wk[e];
                uu[j] += u * u;
            }
        for (int j = 0; i < i1; i++, j++) {
            double u = (mk[i] * inv_bc1) / (sqrt(vk[i] * inv_bc2) + eps) + wd * wk[i];
            ww[j] += (double)wk[i] * wk[i];
            uu[j] += u * u;
        }
        partial[2 * b] = lanes_total(ww);
        partial[2 * b + 1] = lanes_total(uu);
    }
}

static void lamb_step(nnd_optim *o, const span *x, size_t lo, double s, double lr)
{
    const double b1 = o->cfg.beta1, b2 = o->cfg.beta2, eps = o->cfg.eps, wd = o->cfg.weight_decay;
    const double t = (double)(o->step + 1);
    /* r = (m / bc1) / (sqrt(v / bc2) + eps) with the bias corrections as reciprocals: one
     * division per element (they bound these loops), a difference below float's rounding. */
    const double inv_bc1 = 1.0 / (1.0 - pow(b1, t)), inv_bc2 = 1.0 / (1.0 - pow(b2, t));
    double sums[2 * NND_OPTIM_MAX_TENSORS] = {0.0};
    /* Pass 1 over every tensor, so that one sum over the shards serves them all; a tensor's
     * norms read only its own elements, so this order gives the bits of tensor by tensor. */
    if (o->exact_norms) grid_clear(o);
    for (int k = 0; k < o->n_tensors; k++) {
        size_t off, n = tensor_part(o, k, lo, x->n, &off);
        if (n == 0) continue;
        double *partial = o->exact_norms ? o->grid + 2 * block_of(o, k, lo + off) : o->partial;
        lamb_moments(o, x->w + off, x->state[0] + off, x->state[1] + off, x->G + off, n, s, inv_bc1,
                     inv_bc2, partial);
        if (o->exact_norms) continue;
        for (size_t b = 0; b < (n + NORM_BLOCK - 1) / NORM_BLOCK; b++) {
            sums[2 * k] += partial[2 * b];
            sums[2 * k + 1] += partial[2 * b + 1];
        }
    }
    if (o->exact_norms)
        grid_totals(o, sums);
    else
        sum_over_shards(o, sums, 2 * o->n_tensors);
    /* Pass 2: the same u from the stored moments, scaled by the trust ratio. */
    for (int k = 0; k < o->n_tensors; k++) {
        size_t off, n = tensor_part(o, k, lo, x->n, &off);
        const double wn = sqrt(sums[2 * k]), un = sqrt(sums[2 * k + 1]);
        const double c = lr * (wn > 0.0 && un > 0.0 ? wn / un : 1.0);
        float *wk = x->w + off;
        const float *mk = x->state[0] + off, *vk = x->state[1] + off;
#pragma omp parallel for schedule(static) if (n > PAR_MIN)
        for (size_t i = 0; i < n; i++) {
            double u = (mk[i] * inv_bc1) / (sqrt(vk[i] * inv_bc2) + eps) + wd * wk[i];
            wk[i] = (float)(wk[i] - c * u);
        }
    }
}

void NND_ISA_NAME(nnd_optim_update_)(nnd_optim *o, float *params, const float *grads,
                                     float grad_scale, double lr, size_t lo, size_t hi)
{
    span x = {.w = params + lo, .G = grads, .n = hi - lo};
    for (int k = 0; k < o->n_state; k++) x.state[k] = o->state[k] + (lo - o->state_lo);
    double s = grad_scale;
    if (o->cfg.clip_norm > 0.0) {
        double gg = 0.0;
        if (o->exact_norms) { /* the tensors' norms, added in tensor order */
            double sums[2 * NND_OPTIM_MAX_TENSORS];
            grid_clear(o);
            for (int k = 0; k < o->n_tensors; k++) grid_squares(o, k, lo, x.n, grads, s, NULL, 0.0);
            grid_totals(o, sums);
            for (int k = 0; k < o->n_tensors; k++) gg += sums[2 * k];
        } else {
            sum_squares(o->partial, grads, s, NULL, 0.0, x.n, &gg, NULL);
            sum_over_shards(o, &gg, 1);
        }
        o->last_grad_norm = sqrt(gg);
        /* torch.nn.utils.clip_grad_norm_: g *= min(1, c / (||g|| + 1e-6)) */
        double coef = o->cfg.clip_norm / (o->last_grad_norm + 1e-6);
        if (coef < 1.0) s *= coef;
    }
    switch (o->cfg.kind) {
    case NND_OPTIM_SGD:
        sgd_step(o, &x, s, lr);
        break;
    case NND_OPTIM_RMSPROP:
        rmsprop_step(o, &x, s, lr);
        break;
    case NND_OPTIM_ADAM:
    case NND_OPTIM_ADAMW:
        adam_step(o, &x, s, lr);
        break;
    case NND_OPTIM_ADAMAX:
        adamax_step(o, &x, s, lr);
        break;
    case NND_OPTIM_NADAM:
        nadam_step(o, &x, s, lr);
        break;
    case NND_OPTIM_ADAGRAD:
        adagrad_step(o, &x, s, lr);
        break;
    case NND_OPTIM_ADADELTA:
        adadelta_step(o, &x, s, lr);
        break;
    case NND_OPTIM_LARS:
        lars_step(o, &x, lo, s, lr);
        break;
    case NND_OPTIM_LAMB:
        lamb_step(o, &x, lo, s, lr);
        break;
    default:
        break;
    }
    o->step++;
}
