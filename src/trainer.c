#include "nndist/trainer.h"

#include "nndist/alloc.h"
#include "nndist/budget.h"
#include "nndist/eval.h"
#include "nndist/guard.h"
#include "nndist/standardize.h"

#include "kernels/elementwise.h"

#include "trainer_internal.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void setup_threads(const nnd_trainer *t)
{
    int threads = t->cfg->threads;
    if (threads <= 0 && getenv("OMP_NUM_THREADS")) threads = omp_get_max_threads();
    if (threads <= 0) threads = nnd_comm_default_threads(t->c);
    int allowed = nnd_cpus_allowed();
    static int warned; /* once per process: a sweep sets up many sessions */
    if (threads > allowed && t->c->rank == 0 && !warned++)
        fprintf(stderr,
                "nndist: warning: %d threads per rank but this rank may run on %d CPU(s) "
                "only; with mpirun use --map-by slot:PE=%d or --bind-to none\n",
                threads, allowed, threads);
    omp_set_num_threads(threads);
}

/* The batch order `version` over the training file and this rank's samples of it. */
static nnd_status load_shard(nnd_trainer *t, const nnd_data_shape *shape, int version)
{
    const nnd_train_config *cfg = t->cfg;
    const nnd_comm *c = t->c;
    nnd_status st = nnd_order_init_units(&t->order, shape->n, t->batch, cfg->shuffle, cfg->seed,
                                         version, cfg->units, c->rank, c->size);
    if (!st)
        st = nnd_data_load(
            &t->train, cfg->data, cfg->x_name, cfg->y_name, shape, t->order.lo, t->order.hi,
            cfg->loss == NND_LOSS_SOFTMAX_CE ? t->model.sizes[t->model.n_layers] : 0);
    return nnd_comm_agree(c, st);
}

nnd_status nnd_trainer_use_order(nnd_trainer *t, int version)
{
    if (t->order.version == version) return NND_OK;
    nnd_data_shape shape = t->train.shape;
    nnd_order_free(&t->order);
    nnd_data_free(&t->train);
    return load_shard(t, &shape, version);
}

/* Probes and loads the training shard and the validation part; all ranks agree on each. */
static nnd_status load_data(nnd_trainer *t)
{
    const nnd_train_config *cfg = t->cfg;
    const nnd_comm *c = t->c;
    nnd_data_shape shape;
    nnd_status st = nnd_data_probe(cfg->data, cfg->x_name, cfg->y_name, &shape);
    if (!st) st = nnd_check_data_fits(cfg->data, &shape, &t->model, cfg->loss, cfg->y_name);
    if ((st = nnd_comm_agree(c, st))) return st;

    t->batch = cfg->batch ? cfg->batch : cfg->batch_per_rank * (uint64_t)c->size;
    if (t->batch > shape.n) {
        if (c->rank == 0)
            printf("note: --batch %" PRIu64
                   " is larger than the %zu samples of %s; each step uses all "
                   "of them\n",
                   t->batch, shape.n, cfg->data);
        t->batch = shape.n;
    }
    int order = nnd_guard_fault("order1", c->rank, 0) ? NND_ORDER_FIRST : NND_ORDER_CURRENT;
    if ((st = load_shard(t, &shape, order))) return st;
    if (t->order.n_stripes < (size_t)c->size && c->rank == 0)
        fprintf(stderr,
                "nndist: note: %zu samples make %zu stripes (16 samples per rank give every "
                "rank one); %d ranks hold no data and only take part in the sums\n",
                shape.n, t->order.n_stripes, c->size - (int)t->order.n_stripes);
    t->spe = nnd_order_steps_per_epoch(&t->order);
    if (cfg->val) {
        st = nnd_load_eval_data(&t->val, cfg->val, cfg->x_name, cfg->y_name, &t->model, cfg->loss,
                                c);
        if (st) return st;
        t->has_val = 1;
    }
    return NND_OK;
}

static nnd_status alloc_step_buffers(nnd_trainer *t)
{
    size_t B = (size_t)t->batch, d = t->model.sizes[0], k = t->model.sizes[t->model.n_layers];
    nnd_status st = nnd_model_reserve(&t->model, B);
    t->idx = malloc(B * sizeof *t->idx);
    t->xb = nnd_alloc_floats(B * d);
    if (nnd_dropout_any(t->model.drop_p, t->model.n_layers - 1) || t->model.drop_input > 0.0) {
        t->sample = malloc(B * sizeof *t->sample);
        if (!t->sample) st = st ? st : nnd_err_set(NND_ERR_NOMEM, "out of memory for a batch");
    }
    if (t->cfg->loss == NND_LOSS_MSE)
        t->tb = nnd_alloc_floats(B * k);
    else
        t->yb = malloc(B * sizeof *t->yb);
    if (!st && (!t->idx || !t->xb || (!t->tb && !t->yb)))
        st = nnd_err_set(NND_ERR_NOMEM, "cannot allocate a batch of %zu samples", B);
    return nnd_comm_agree(t->c, st);
}

/* The weights to every rank: a broadcast from rank 0, or with the sharded update (one copy in
 * shared memory, written by rank 0) a barrier; batch norm's running statistics (each rank's
 * own) by a broadcast. */
static void share_params(nnd_trainer *t)
{
    if (t->shm)
        nnd_shm_barrier(&t->pshm);
    else
        nnd_comm_bcast_floats(t->c, t->model.params, t->model.n_params);
    if (t->model.running) nnd_comm_bcast_floats(t->c, t->model.running, t->model.n_running);
}

/* Batch norm's sums over the session's ranks (model.h's sum_ranks). */
static void sum_batch_over_ranks(double *v, size_t n, void *ctx)
{
    nnd_comm_allreduce_sum_d(ctx, v, n);
}

/* Collective, after rank 0 loaded path into the model: the run keeps its own standardization
 * (own_mean, own_std: fitted on its data, or NULL), which a resumed run's checkpoint must hold
 * bit for bit; --init takes the weights only. */
static nnd_status keep_own_standardization(nnd_trainer *t, const char *path, int with_optim,
                                           float *own_mean, float *own_std)
{
    nnd_model *m = &t->model;
    int file_has = m->in_mean != NULL, same = 0;
    if (file_has && own_mean) {
        size_t bytes = m->sizes[0] * sizeof(float);
        same = memcmp(m->in_mean, own_mean, bytes) == 0 && memcmp(m->in_std, own_std, bytes) == 0;
    }
    int verdict[2] = {file_has, same};
    MPI_Bcast(verdict, 2, MPI_INT, 0, t->c->world);
    nnd_status st = nnd_comm_agree(t->c, nnd_model_set_standardization(m, own_mean, own_std));
    if (st) return st;
    if (with_optim && verdict[0] != (own_mean != NULL))
        return nnd_err_set(NND_ERR_MISMATCH,
                           "%s: made %s --standardize; this run has %s (use the same, or start "
                           "from its weights with --init)",
                           path, verdict[0] ? "with" : "without", own_mean ? "it" : "not");
    if (with_optim && own_mean && !verdict[1])
        return nnd_err_set(NND_ERR_MISMATCH,
                           "%s: its standardization differs from this run's, fitted on %s: the "
                           "training data changed since (start from its weights with --init)",
                           path, t->cfg->data);
    if (!with_optim && verdict[0] && !own_mean && t->c->rank == 0)
        fprintf(stderr,
                "nndist: note: %s was trained on standardized features; this run gives its "
                "weights unscaled ones (add --standardize)\n",
                path);
    return NND_OK;
}

nnd_status nnd_trainer_load(nnd_trainer *t, const char *path, int with_optim, nnd_ckpt_meta *meta)
{
    float *own_mean = t->model.in_mean, *own_std = t->model.in_std;
    t->model.in_mean = t->model.in_std = NULL;
    nnd_status st = with_optim ? nnd_trainer_open_state(t) : NND_OK;
    if (!st && t->c->rank == 0)
        st = nnd_ckpt_load(path, &t->model, with_optim ? nnd_trainer_state_io(t) : NULL, meta);
    st = nnd_comm_agree(t->c, st);
    nnd_status kept = keep_own_standardization(t, path, with_optim, own_mean, own_std);
    if (!st) st = nnd_comm_agree(t->c, kept);
    if (st) {
        nnd_trainer_release_state(t);
        return st;
    }
    if (with_optim) {
        if (meta) t->step = meta->step;
        nnd_trainer_share_state(t);
    } else {
        share_params(t);
    }
    if (meta) MPI_Bcast(meta, (int)sizeof *meta, MPI_BYTE, 0, t->c->world);
    return NND_OK;
}

/* Copies this rank's samples of the step into the contiguous batch buffers (in the deterministic
 * mode grouped by unit). */
static size_t gather_batch(nnd_trainer *t)
{
    size_t n = t->exact ? nnd_order_local_units(&t->order, t->step, t->idx, t->unit_end)
                        : nnd_order_local_batch(&t->order, t->step, t->idx);
    size_t d = t->model.sizes[0], k = t->model.sizes[t->model.n_layers];
    for (size_t i = 0; i < n; i++) {
        size_t s = t->idx[i];
        if (t->sample) t->sample[i] = t->order.lo + s;
        memcpy(t->xb + i * d, t->train.x + s * d, d * sizeof *t->xb);
        if (t->tb)
            memcpy(t->tb + i * k, t->train.targets + s * k, k * sizeof *t->tb);
        else
            t->yb[i] = t->train.labels[s];
    }
    return n;
}

nnd_optim *nnd_trainer_state_io(nnd_trainer *t)
{
    return t->has_io ? &t->io : &t->optim;
}

nnd_status nnd_trainer_open_state(nnd_trainer *t)
{
    nnd_status st = NND_OK;
    if (t->sharded && t->c->rank == 0 && !t->has_io) {
        st = nnd_optim_init_model(&t->io, &t->optim.cfg, &t->model);
        if (st)
            nnd_optim_free(&t->io);
        else
            t->has_io = 1;
    }
    return nnd_comm_agree(t->c, st);
}

void nnd_trainer_release_state(nnd_trainer *t)
{
    if (!t->has_io || t->keep_io) return;
    nnd_optim_free(&t->io);
    t->has_io = 0;
}

nnd_status nnd_trainer_sync_state(nnd_trainer *t)
{
    nnd_status st = nnd_trainer_open_state(t);
    if (st || !t->sharded) return st;
    const nnd_shards *s = &t->shards;
    for (int k = 0; k < t->optim.n_state; k++)
        MPI_Gatherv(t->optim.state[k], (int)(s->hi - s->lo), MPI_FLOAT,
                    t->has_io ? t->io.state[k] : NULL, s->count, s->displ, MPI_FLOAT, 0,
                    t->c->world);
    if (t->has_io) t->io.step = t->optim.step;
    return NND_OK;
}

void nnd_trainer_share_state(nnd_trainer *t)
{
    share_params(t);
    if (!t->sharded) {
        for (int s = 0; s < t->optim.n_state; s++)
            nnd_comm_bcast_floats(t->c, t->optim.state[s], t->optim.n);
    } else {
        const nnd_shards *s = &t->shards;
        for (int k = 0; k < t->optim.n_state; k++)
            MPI_Scatterv(t->has_io ? t->io.state[k] : NULL, s->count, s->displ, MPI_FLOAT,
                         t->optim.state[k], (int)(s->hi - s->lo), MPI_FLOAT, 0, t->c->world);
        if (t->has_io) t->optim.step = t->io.step;
        nnd_trainer_release_state(t);
    }
    MPI_Bcast(&t->optim.step, 1, MPI_UINT64_T, 0, t->c->world);
    MPI_Bcast(&t->step, 1, MPI_UINT64_T, 0, t->c->world);
}

/* Gathers the rank's stripes of the training subset and its even part of the validation
 * subset; the in-memory twin of load_data. */
static nnd_status subset_data(nnd_trainer *t, const nnd_data_subset *train,
                              const nnd_data_subset *val)
{
    const nnd_train_config *cfg = t->cfg;
    const nnd_comm *c = t->c;
    nnd_data_shape shape = train->src->shape;
    shape.n = train->n;
    nnd_status st = nnd_check_data_fits(cfg->data, &shape, &t->model, cfg->loss, cfg->y_name);
    if (!st && train->n == 0)
        st = nnd_err_set(NND_ERR_INPUT, "%s: the training subset is empty", cfg->data);
    if ((st = nnd_comm_agree(c, st))) return st;
    t->batch = cfg->batch ? cfg->batch : cfg->batch_per_rank * (uint64_t)c->size;
    if (t->batch > shape.n) t->batch = shape.n; /* as load_data does, without its note */
    st = nnd_order_init_units(&t->order, shape.n, t->batch, cfg->shuffle, cfg->seed,
                              NND_ORDER_CURRENT, cfg->units, c->rank, c->size);
    if (!st)
        st =
            nnd_data_gather(&t->train, train->src, train->rows, train->n, t->order.lo, t->order.hi);
    if (!st && val) {
        size_t lo, hi;
        nnd_even_split(val->n, c->rank, c->size, &lo, &hi);
        st = nnd_data_gather(&t->val, val->src, val->rows, val->n, lo, hi);
        t->has_val = 1;
    }
    if ((st = nnd_comm_agree(c, st))) return st;
    t->spe = nnd_order_steps_per_epoch(&t->order);
    return NND_OK;
}

/* The session around the data: threads, model, optimizer; then (after the data) the step's
 * buffers and the initial weights. */
static nnd_status init_model(nnd_trainer *t, const nnd_train_config *cfg, const nnd_comm *c)
{
    memset(t, 0, sizeof *t);
    t->cfg = cfg;
    t->c = c;
    setup_threads(t);
    nnd_status st = nnd_model_init_norm(&t->model, cfg->sizes, cfg->n_layers, cfg->act, cfg->norm);
    if (nnd_activation_param_flag(cfg->act)) t->model.act_param = cfg->act_param;
    for (int l = 0; l + 1 < cfg->n_layers; l++) t->model.drop_p[l] = cfg->dropout[l];
    t->model.drop_input = cfg->input_dropout;
    t->model.bf16 = cfg->bf16;
    t->model.sum_ranks = sum_batch_over_ranks;
    t->model.sum_ctx = (void *)c;
    return nnd_comm_agree(c, st);
}

/* The optimizer's norms over the shards: the partial sums of every rank, added by an allreduce
 * (the same sums on every rank). */
static void sum_norms_over_ranks(double *sums, int n, void *ctx)
{
    nnd_comm_allreduce_sum_d(ctx, sums, (size_t)n);
}

static nnd_status init_weights(nnd_trainer *t)
{
    nnd_status st = alloc_step_buffers(t);
    if (!st) st = nnd_trainer_plan_update(t);
    if (st) return st;
    /* The optimizer's state once the path is known: sharded, each rank holds its shard only. */
    st = t->sharded ? nnd_optim_init_model_shard(&t->optim, &t->cfg->optim, &t->model, t->shards.lo,
                                                 t->shards.hi)
                    : nnd_optim_init_model(&t->optim, &t->cfg->optim, &t->model);
    if ((st = nnd_comm_agree(t->c, st))) return st;
    if (t->sharded) nnd_optim_set_norm_sum(&t->optim, sum_norms_over_ranks, (void *)t->c);
    nnd_optim_set_exact_norms(&t->optim, t->exact);
    if (!t->shm || t->c->rank == 0)
        nnd_model_init_scheme(&t->model, t->cfg->seed, t->cfg->init_scheme);
    if (t->shm) share_params(t); /* the others wait for rank 0's initialisation */
    if (t->cfg->init && (st = nnd_trainer_load(t, t->cfg->init, 0, NULL))) return st;
    return NND_OK;
}

/* Collective: the run's memory against what the node allows, before anything large is
 * allocated (budget.h). Each rank counts the largest shard; a file that cannot be probed counts
 * no rows here and is reported by load_data. */
static nnd_status check_memory(const nnd_train_config *cfg, const nnd_comm *c)
{
    nnd_data_shape shape = {0}, vshape = {0};
    if (nnd_data_probe(cfg->data, cfg->x_name, cfg->y_name, &shape) != NND_OK) shape.n = 0;
    if (!cfg->val || nnd_data_probe(cfg->val, cfg->x_name, cfg->y_name, &vshape) != NND_OK)
        vshape.n = 0;
    nnd_err_clear();
    size_t ranks = (size_t)c->size;
    return nnd_budget_check_run(cfg, c, (shape.n + ranks - 1) / ranks,
                                (vshape.n + ranks - 1) / ranks, shape.k_targets);
}

double nnd_r2(double mse, double target_var)
{
    return target_var > 0.0 ? 1.0 - mse / target_var : NAN;
}

/* Collective: the mean over the outputs of the variance of ds's targets over every rank's rows
 * (the --val file is split evenly, the training set by stripes: either way every row once). */
static nnd_status target_variance(const nnd_dataset *ds, const nnd_comm *c, double *out)
{
    size_t k = ds->shape.k_targets;
    double *mean = malloc(k * sizeof *mean), *var = malloc(k * sizeof *var);
    nnd_status st = nnd_comm_agree(
        c, mean && var ? NND_OK : nnd_err_set(NND_ERR_NOMEM, "out of memory for %zu targets", k));
    if (!st) st = nnd_colstats(ds->targets, ds->hi - ds->lo, k, c, mean, var);
    *out = 0.0;
    for (size_t j = 0; !st && j < k; j++) *out += var[j] / (double)k;
    free(mean);
    free(var);
    return st;
}

/* Collective: for mse, the targets' variances (for R^2); --standardize fits the statistics on
 * the training rows of every rank (the model applies them to every batch it is given);
 * otherwise unscaled features are pointed out. */
static nnd_status prepare_inputs(nnd_trainer *t)
{
    const nnd_comm *c = t->c;
    nnd_status st = nnd_trainer_setup_loss(t);
    if (st) return st;
    if (t->cfg->loss == NND_LOSS_MSE) {
        st = target_variance(&t->train, c, &t->train_target_var);
        if (!st && t->has_val) st = target_variance(&t->val, c, &t->val_target_var);
        if (st) return st;
    }
    if (!t->cfg->standardize) {
        nnd_standardize_warn_unscaled(&t->train, t->cfg->data, c);
        return NND_OK;
    }
    return nnd_standardize_fit(&t->model, &t->train, c);
}

nnd_status nnd_trainer_init(nnd_trainer *t, const nnd_train_config *cfg, const nnd_comm *c)
{
    nnd_guard_phase("checking memory", NND_GUARD_SLOW_FLOOR_S);
    nnd_status st = check_memory(cfg, c);
    if (st) {
        memset(t, 0, sizeof *t); /* nnd_trainer_free is safe on it */
        nnd_guard_idle();
        return st;
    }
    nnd_guard_phase("setting up the model", NND_GUARD_SLOW_FLOOR_S);
    st = init_model(t, cfg, c);
    if (!st) {
        nnd_guard_phase("loading data", NND_GUARD_SLOW_FLOOR_S);
        st = load_data(t);
    }
    if (!st) {
        nnd_guard_phase("standardizing the features", NND_GUARD_SLOW_FLOOR_S);
        st = prepare_inputs(t);
    }
    if (!st) {
        nnd_guard_phase("setting up the buffers and weights", NND_GUARD_SLOW_FLOOR_S);
        st = init_weights(t);
    }
    nnd_guard_idle();
    return st;
}

nnd_status nnd_trainer_init_subset(nnd_trainer *t, const nnd_train_config *cfg, const nnd_comm *c,
                                   const nnd_data_subset *train, const nnd_data_subset *val)
{
    nnd_guard_phase("setting up the model", NND_GUARD_SLOW_FLOOR_S);
    nnd_status st = init_model(t, cfg, c);
    if (!st) st = subset_data(t, train, val);
    if (!st) st = prepare_inputs(t);
    if (!st) st = init_weights(t);
    nnd_guard_idle();
    return st;
}

void nnd_trainer_free(nnd_trainer *t)
{
    t->keep_io = 0; /* the copy kept between checkpoints goes too */
    nnd_trainer_release_state(t);
    nnd_model_free(&t->model);
    nnd_optim_free(&t->optim);
    nnd_order_free(&t->order);
    nnd_data_free(&t->train);
    nnd_data_free(&t->val);
    free(t->idx);
    free(t->sample);
    free(t->xb);
    free(t->yb);
    free(t->tb);
    free(t->gshard);
    if (!t->shm) free(t->g16); /* on the shm path it lies in gshm */
    free(t->g16_recv);
    free(t->g16_parts);
    free(t->g16_count);
    free(t->g16_displ);
    free(t->unit_end);
    free(t->unit_loss);
    free(t->unit_denom);
    free(t->class_weights);
    if (!t->shm) free(t->isum); /* on the shm path it lies in gshm */
    free(t->ishard);
    free(t->float_units);
    nnd_shards_free(&t->shards);
    /* after nnd_model_free, which leaves the shared weights and gradient alone */
    nnd_shm_free(&t->gshm);
    nnd_shm_free(&t->pshm);
    free(t->own_grads);
    memset(t, 0, sizeof *t);
}

nnd_status nnd_trainer_step(nnd_trainer *t, double lr, nnd_step_stats *s)
{
    nnd_model *m = &t->model;
    const size_t np = m->n_params;
    const int rank = t->c->rank;
    float *tail = m->grads + np;
    float *dout = m->delta[1]; /* nnd_model_backward may take delta[1] as its input */
    double t0 = MPI_Wtime();
    nnd_guard_phase("computing a step", 0.0);
    size_t n = gather_batch(t), correct = 0;
    double denom = 0.0, loss_sum = 0.0;
    /* Dropout's masks for this step, in the forward and backward passes only (the validation
     * and the checkpoints' models never drop). */
    const nnd_dropout_draw draw = {t->cfg->seed, t->step, t->sample};
    m->draw = t->sample ? &draw : NULL;
    m->training = 1; /* batch norm: the batch's statistics, summed over the ranks */
    if (n > 0)
        loss_sum =
            nnd_trainer_batch_loss(t, nnd_model_forward(m, t->xb, n), n, dout, &correct, &denom);
    else if (m->norm == NND_NORM_BATCH)
        nnd_model_forward(m, t->xb, 0); /* takes part in the batch's sums */
    s->forward_s = MPI_Wtime() - t0;
    /* An injected NaN (tests) poisons this rank's whole gradient through the loss gradient. */
    if (nnd_guard_fault("nan", rank, t->step + 1) && n > 0) dout[0] = NAN;
    double t1, t2, t3, t4;
    float summed_tail[NND_GRAD_TAIL];
    const float *sums;
    if (t->exact) {
        sums = nnd_trainer_exact_sum(t, dout, n, correct, summed_tail, &t1);
        s->loss_sum = t->exact_loss;
        denom = t->exact_denom;
    } else {
        /* The statistics ride in the gradient's reduction: counts, sums, and the flags every
         * rank must act on alike (a pending signal, a non-finite gradient anywhere). */
        memset(tail, 0, NND_GRAD_TAIL * sizeof *tail);
        tail[TAIL_SAMPLES] = (float)n;
        tail[TAIL_LOSS_SUM] = (float)loss_sum;
        tail[TAIL_CORRECT] = (float)correct;
        tail[TAIL_WEIGHTS] = (float)denom;
        sums = nnd_trainer_backward_and_sum(t, dout, n, summed_tail, &t1);
        s->loss_sum = sums[TAIL_LOSS_SUM];
        denom = t->ce.weights ? sums[TAIL_WEIGHTS] : sums[TAIL_SAMPLES];
    }
    m->draw = NULL;
    m->training = 0;
    t2 = MPI_Wtime();
    nnd_guard_phase("update", 0.0);
    s->samples = sums[TAIL_SAMPLES];
    s->correct = sums[TAIL_CORRECT];
    s->signal = sums[TAIL_SIGNAL] > 0.0f;
    /* The summed loss and gradient over the global denominator (invariant 2): the sample count,
     * or with class weights the samples' weights summed, as torch's 'mean' divides. */
    const float scale = t->ce.weights ? (float)(1.0 / denom) : 1.0f / sums[TAIL_SAMPLES];
    if (t->ce.weights && denom > 0.0) s->loss_sum *= s->samples / denom;
    t->step++;
    nnd_status st = NND_OK;
    if (!isfinite(s->loss_sum) || sums[TAIL_NONFINITE] != 0.0f) {
        /* Every rank sees the same sums, so every rank skips alike; the weights stay. */
        st = nnd_err_set(NND_ERR_NUMERIC, "step %" PRIu64 ": the %s is not finite", t->step,
                         isfinite(s->loss_sum) ? "gradient" : "loss");
        t3 = t4 = MPI_Wtime();
    } else if (t->sharded) {
        nnd_optim_step_shard(&t->optim, m->params, t->gshard, scale, lr, t->shards.lo,
                             t->shards.hi);
        t3 = MPI_Wtime();
        nnd_guard_phase("allgather", 0.0);
        if (t->shm)
            /* Every shard written before anyone reads the weights again. No rank writes its
             * shard before the next step's first barrier, after every rank's forward and
             * backward. */
            nnd_shm_barrier(&t->pshm);
        else
            nnd_comm_allgather_shards(t->c, &t->shards, m->params);
        t4 = MPI_Wtime();
    } else {
        nnd_optim_step(&t->optim, m->params, m->grads, scale, lr);
        t3 = t4 = MPI_Wtime();
    }
    s->compute_s = t1 - t0;
    s->allreduce_s = (t2 - t1) + (t4 - t3);
    s->update_s = t3 - t2;
    nnd_trace_add(t->trace, NND_TRACE_COMPUTE, t0, t1);
    nnd_trace_add(t->trace, NND_TRACE_ALLREDUCE, t1, t2);
    nnd_trace_add(t->trace, NND_TRACE_UPDATE, t2, t3);
    if (t->sharded && t4 > t3) nnd_trace_add(t->trace, NND_TRACE_ALLGATHER, t3, t4);
    nnd_guard_idle();
    nnd_guard_step_time(t4 - t0);
    return st;
}
