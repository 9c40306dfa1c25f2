#include "nndist/train.h"

#include <inttypes.h>
#include <stdarg.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "nndist/ckpt.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Everything a run holds; released by run_free whatever state setup reached. */
typedef struct {
    const nnd_train_config *cfg;
    const nnd_comm *c;
    nnd_model model;
    nnd_optim optim;
    nnd_order order;
    nnd_dataset train, val;
    int has_val;
    uint64_t batch, total_steps, step, spe;
    uint32_t *idx; /* this rank's sample indices of the current step */
    float *xb;     /* gathered batch (batch, d) */
    int32_t *yb;   /* gathered labels (batch) */
    float *tb;     /* gathered targets (batch, k) */
    FILE *metrics;
    int progress;
} run;

static void run_free(run *r)
{
    nnd_model_free(&r->model);
    nnd_optim_free(&r->optim);
    nnd_order_free(&r->order);
    nnd_data_free(&r->train);
    nnd_data_free(&r->val);
    free(r->idx);
    free(r->xb);
    free(r->yb);
    free(r->tb);
    if (r->metrics) fclose(r->metrics);
}

static void say(const run *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void say(const run *r, const char *fmt, ...)
{
    if (r->c->rank != 0) return;
    va_list ap;
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    fflush(stdout);
}

/* Open MPI gives every rank a pseudo-terminal, so isatty alone cannot tell a log file from a
 * person watching: also ask for a real terminal type and no CI. */
static int progress_wanted(void)
{
    const char *term = getenv("TERM"), *ci = getenv("CI");
    return isatty(STDOUT_FILENO) && term && *term && strcmp(term, "dumb") != 0 &&
           !(ci && *ci && strcmp(ci, "false") != 0);
}

static void setup_threads(const run *r)
{
    int threads = r->cfg->threads;
    if (threads <= 0 && getenv("OMP_NUM_THREADS")) threads = omp_get_max_threads();
    if (threads <= 0) threads = nnd_comm_default_threads(r->c);
    int allowed = nnd_cpus_allowed();
    if (threads > allowed && r->c->rank == 0)
        fprintf(stderr,
                "nndist: warning: %d threads per rank but this rank may run on %d CPU(s) "
                "only; with mpirun use --map-by slot:PE=%d or --bind-to none\n",
                threads, allowed, threads);
    omp_set_num_threads(threads);
}

/* Probes and loads the training shard and the validation part; all ranks agree on each. */
static nnd_status load_data(run *r)
{
    const nnd_train_config *cfg = r->cfg;
    const nnd_comm *c = r->c;
    nnd_data_shape shape;
    nnd_status st = nnd_data_probe(cfg->data, cfg->x_name, cfg->y_name, &shape);
    if (!st) st = nnd_check_data_fits(cfg->data, &shape, &r->model, cfg->loss, cfg->y_name);
    if ((st = nnd_comm_agree(c, st))) return st;

    r->batch = cfg->batch ? cfg->batch : cfg->batch_per_rank * (uint64_t)c->size;
    if (r->batch > shape.n) {
        say(r,
            "note: --batch %" PRIu64 " is larger than the %zu samples of %s; each step uses all "
            "of them\n",
            r->batch, shape.n, cfg->data);
        r->batch = shape.n;
    }
    st = nnd_order_init(&r->order, shape.n, r->batch, cfg->shuffle, cfg->seed, c->rank, c->size);
    if (!st)
        st = nnd_data_load(
            &r->train, cfg->data, cfg->x_name, cfg->y_name, &shape, r->order.lo, r->order.hi,
            cfg->loss == NND_LOSS_SOFTMAX_CE ? r->model.sizes[r->model.n_layers] : 0);
    if ((st = nnd_comm_agree(c, st))) return st;
    if (r->order.lo == r->order.hi && r->c->rank == 0)
        fprintf(stderr,
                "nndist: note: %zu samples make %zu stripes; ranks beyond that hold no "
                "data and only take part in the allreduce\n",
                shape.n, r->order.n_stripes);
    r->spe = nnd_order_steps_per_epoch(&r->order);
    if (cfg->val) {
        st = nnd_load_eval_data(&r->val, cfg->val, cfg->x_name, cfg->y_name, &r->model, cfg->loss,
                                c);
        if (st) return st;
        r->has_val = 1;
    }
    return NND_OK;
}

static nnd_status alloc_step_buffers(run *r)
{
    size_t B = (size_t)r->batch, d = r->model.sizes[0], k = r->model.sizes[r->model.n_layers];
    nnd_status st = nnd_model_reserve(&r->model, B);
    r->idx = malloc(B * sizeof *r->idx);
    r->xb = nnd_alloc_floats(B * d);
    if (r->cfg->loss == NND_LOSS_MSE)
        r->tb = nnd_alloc_floats(B * k);
    else
        r->yb = malloc(B * sizeof *r->yb);
    if (!st && (!r->idx || !r->xb || (!r->tb && !r->yb)))
        st = nnd_err_set(NND_ERR_NOMEM, "cannot allocate a batch of %zu samples", B);
    return nnd_comm_agree(r->c, st);
}

/* Rank 0 reads a file into the model (and optimizer), then everyone receives it. */
static nnd_status load_and_share(run *r, const char *path, int with_optim, nnd_ckpt_meta *meta)
{
    nnd_status st = NND_OK;
    if (r->c->rank == 0) st = nnd_ckpt_load(path, &r->model, with_optim ? &r->optim : NULL, meta);
    if ((st = nnd_comm_agree(r->c, st))) return st;
    nnd_comm_bcast_floats(r->c, r->model.params, r->model.n_params);
    if (with_optim) {
        for (int s = 0; s < r->optim.n_state; s++)
            nnd_comm_bcast_floats(r->c, r->optim.state[s], r->optim.n);
        MPI_Bcast(&r->optim.step, 1, MPI_UINT64_T, 0, r->c->world);
    }
    if (meta) MPI_Bcast(meta, (int)sizeof *meta, MPI_BYTE, 0, r->c->world);
    return NND_OK;
}

/* Rank 0 picks the checkpoint to resume from: the named file, or the newest in the directory
 * that loads cleanly (a damaged one is skipped with a note). Returns 0 in *found for a fresh
 * start. */
static nnd_status resume(run *r, int *found)
{
    const nnd_train_config *cfg = r->cfg;
    *found = 0;
    nnd_ckpt_meta meta;
    char path[4096] = "";
    nnd_status st = NND_OK;
    if (strcmp(cfg->resume, "auto") != 0) {
        snprintf(path, sizeof path, "%s", cfg->resume);
        if ((st = load_and_share(r, path, 1, &meta))) return st;
        *found = 1;
    } else {
        /* Rank 0 tries the candidates newest first; the others wait for its verdict. */
        int chosen = 0;
        if (r->c->rank == 0) {
            uint64_t steps[64];
            int n = nnd_ckpt_list(cfg->ckpt_dir, steps, 64);
            for (int i = 0; i < n && !chosen; i++) {
                nnd_ckpt_path(path, sizeof path, cfg->ckpt_dir, steps[i]);
                nnd_status s = nnd_ckpt_load(path, &r->model, &r->optim, &meta);
                if (s == NND_OK)
                    chosen = 1;
                else if (s == NND_ERR_MISMATCH)
                    st = s; /* the newest belongs to another model: refuse, do not fall back */
                else
                    fprintf(stderr, "nndist: skipping checkpoint %s: %s\n", path, nnd_err_msg());
                if (st) break;
            }
        }
        if ((st = nnd_comm_agree(r->c, st))) return st;
        MPI_Bcast(&chosen, 1, MPI_INT, 0, r->c->world);
        if (!chosen) return NND_OK;
        MPI_Bcast(path, (int)sizeof path, MPI_CHAR, 0, r->c->world);
        nnd_comm_bcast_floats(r->c, r->model.params, r->model.n_params);
        for (int s = 0; s < r->optim.n_state; s++)
            nnd_comm_bcast_floats(r->c, r->optim.state[s], r->optim.n);
        MPI_Bcast(&r->optim.step, 1, MPI_UINT64_T, 0, r->c->world);
        MPI_Bcast(&meta, (int)sizeof meta, MPI_BYTE, 0, r->c->world);
        *found = 1;
    }
    /* The batch order is a function of seed and batch: a resumed run must keep both. */
    if (meta.seed != cfg->seed || meta.batch != r->batch)
        return nnd_err_set(NND_ERR_MISMATCH,
                           "%s: made with --seed %" PRIu64 " and a global batch "
                           "of %" PRIu64 "; this run has --seed %" PRIu64 " and %" PRIu64
                           " (use the same, or start from its weights with --init)",
                           path, meta.seed, meta.batch, cfg->seed, r->batch);
    r->step = meta.step;
    say(r, "resuming from %s at step %" PRIu64 " (epoch %" PRIu64 ", saved by %d rank%s)\n", path,
        meta.step, meta.step / r->spe + 1, meta.world_size, meta.world_size == 1 ? "" : "s");
    return NND_OK;
}

static void fill_meta(const run *r, nnd_ckpt_meta *meta)
{
    memset(meta, 0, sizeof *meta);
    meta->step = r->step;
    meta->epoch = r->step / r->spe;
    meta->seed = r->cfg->seed;
    meta->batch = r->batch;
    meta->world_size = r->c->size;
    snprintf(meta->loss, sizeof meta->loss, "%s", nnd_loss_name(r->cfg->loss));
}

/* Collective: rank 0 writes a checkpoint of the current step; all agree that it landed. */
static nnd_status checkpoint(run *r, double *io_seconds)
{
    double t0 = now();
    nnd_status st = NND_OK;
    if (r->c->rank == 0) {
        char path[4096];
        nnd_ckpt_meta meta;
        fill_meta(r, &meta);
        nnd_ckpt_path(path, sizeof path, r->cfg->ckpt_dir, r->step);
        st = nnd_ckpt_save(path, &r->model, &r->optim, &meta);
        if (!st) nnd_ckpt_retain(r->cfg->ckpt_dir, (int)r->cfg->keep);
    }
    st = nnd_comm_agree(r->c, st);
    *io_seconds += now() - t0;
    return st;
}

static void progress_bar(const run *r, uint64_t in_epoch, double loss)
{
    int width = 30, fill = (int)((double)width * (double)in_epoch / (double)r->spe);
    char bar[64];
    for (int i = 0; i < width; i++) bar[i] = i < fill ? '#' : '.';
    bar[width] = '\0';
    printf("\r  epoch %" PRIu64 " [%s] %3d%%  loss %.4f", r->step / r->spe + 1, bar,
           (int)(100.0 * (double)in_epoch / (double)r->spe), loss);
    fflush(stdout);
}

typedef struct {
    double loss_sum, correct, samples;
    double compute, allreduce, update, io, wall_start;
} epoch_stats;

static nnd_status open_metrics(run *r)
{
    nnd_status st = NND_OK;
    if (r->cfg->metrics && r->c->rank == 0) {
        int fresh = access(r->cfg->metrics, F_OK) != 0 || r->step == 0;
        r->metrics = fopen(r->cfg->metrics, fresh ? "w" : "a");
        if (!r->metrics)
            st = nnd_err_set(NND_ERR_IO, "--metrics %s: cannot open for writing", r->cfg->metrics);
        else if (fresh)
            fprintf(r->metrics, "step,epoch,lr,train_loss,train_acc,val_loss,val_acc,samples,"
                                "samples_per_s,compute_s,allreduce_s,update_s,io_s\n");
    }
    return nnd_comm_agree(r->c, st);
}

static void end_of_epoch(run *r, epoch_stats *e)
{
    double wall = now() - e->wall_start;
    nnd_eval_result v = {0};
    if (r->has_val) nnd_evaluate(&r->model, &r->val, r->cfg->loss, r->c, &v);
    double loss = e->samples > 0 ? e->loss_sum / e->samples : 0.0;
    double acc = e->samples > 0 ? e->correct / e->samples : 0.0;
    double rate = wall > 0 ? e->samples / wall : 0.0;
    uint64_t epoch = (r->step - 1) / r->spe + 1, epochs = (r->total_steps + r->spe - 1) / r->spe;
    if (r->progress) say(r, "\r%*s\r", 70, "");
    char val_text[64] = "";
    if (r->has_val)
        snprintf(val_text, sizeof val_text, "  val loss %.4f acc %.4f", v.loss, v.accuracy);
    say(r,
        "epoch %" PRIu64 "/%" PRIu64 "  step %" PRIu64 "  loss %.4f  acc %.4f%s  %.0f samples/s"
        "  compute %.2fs  allreduce %.2fs\n",
        epoch, epochs, r->step, loss, acc, val_text, rate, e->compute, e->allreduce);
    if (r->metrics) {
        fprintf(r->metrics, "%" PRIu64 ",%" PRIu64 ",%g,%.6f,%.6f,", r->step, epoch,
                r->cfg->optim.lr, loss, acc);
        if (r->has_val)
            fprintf(r->metrics, "%.6f,%.6f,", v.loss, v.accuracy);
        else
            fprintf(r->metrics, ",,");
        fprintf(r->metrics, "%.0f,%.1f,%.4f,%.4f,%.4f,%.4f\n", e->samples, rate, e->compute,
                e->allreduce, e->update, e->io);
        fflush(r->metrics);
    }
    memset(e, 0, sizeof *e);
    e->wall_start = now();
}

/* Copies this rank's samples of the step into the contiguous batch buffers. */
static size_t gather_batch(run *r)
{
    size_t n = nnd_order_local_batch(&r->order, r->step, r->idx);
    size_t d = r->model.sizes[0], k = r->model.sizes[r->model.n_layers];
    for (size_t i = 0; i < n; i++) {
        size_t s = r->idx[i];
        memcpy(r->xb + i * d, r->train.x + s * d, d * sizeof *r->xb);
        if (r->tb)
            memcpy(r->tb + i * k, r->train.targets + s * k, k * sizeof *r->tb);
        else
            r->yb[i] = r->train.labels[s];
    }
    return n;
}

static nnd_status train_loop(run *r)
{
    nnd_model *m = &r->model;
    const size_t k = m->sizes[m->n_layers], np = m->n_params;
    float *tail = m->grads + np;
    float *dout = m->delta[1]; /* nnd_model_backward may use delta[1] as its input */
    epoch_stats e;
    memset(&e, 0, sizeof e);
    e.wall_start = now();
    double last_draw = 0.0;
    while (r->step < r->total_steps) {
        double t0 = now();
        size_t n = gather_batch(r), correct = 0;
        double loss_sum = 0.0;
        if (n > 0) {
            const float *out = nnd_model_forward(m, r->xb, n);
            if (r->cfg->loss == NND_LOSS_SOFTMAX_CE)
                loss_sum = nnd_loss_softmax_ce(out, r->yb, n, k, dout, &correct);
            else
                loss_sum = nnd_loss_mse(out, r->tb, n, k, dout, &correct);
        }
        nnd_model_backward(m, r->xb, dout, n);
        tail[0] = (float)n;
        tail[1] = (float)loss_sum;
        tail[2] = (float)correct;
        tail[3] = 0.0f;
        double t1 = now();
        nnd_comm_allreduce_sum(r->c, m->grads, np + NND_GRAD_TAIL);
        double t2 = now();
        /* Every rank sees the same sums, so every rank takes the same branch here. */
        if (!isfinite(tail[1]))
            return nnd_err_set(NND_ERR_NUMERIC,
                               "step %" PRIu64 ": the loss is not finite (%g); "
                               "the run diverged: try a smaller --lr",
                               r->step + 1, (double)tail[1]);
        nnd_optim_step(&r->optim, m->params, m->grads, 1.0f / tail[0], r->cfg->optim.lr);
        double t3 = now();
        r->step++;
        e.loss_sum += tail[1];
        e.correct += tail[2];
        e.samples += tail[0];
        e.compute += t1 - t0;
        e.allreduce += t2 - t1;
        e.update += t3 - t2;
        uint64_t in_epoch = r->step % r->spe;
        if (r->progress && t3 - last_draw > 0.2 && in_epoch != 0) {
            progress_bar(r, in_epoch, e.loss_sum / e.samples);
            last_draw = t3;
        }
        if (r->cfg->ckpt_dir && r->cfg->ckpt_every && r->step % r->cfg->ckpt_every == 0 &&
            r->step < r->total_steps) {
            nnd_status st = checkpoint(r, &e.io);
            if (st) return st;
        }
        if (in_epoch == 0 || r->step == r->total_steps) end_of_epoch(r, &e);
    }
    return NND_OK;
}

nnd_status nnd_train_run(const nnd_train_config *cfg, const nnd_comm *c)
{
    run r;
    memset(&r, 0, sizeof r);
    r.cfg = cfg;
    r.c = c;
    r.progress = c->rank == 0 && (cfg->progress < 0 ? progress_wanted() : cfg->progress);
    setup_threads(&r);

    nnd_status st = nnd_model_init(&r.model, cfg->sizes, cfg->n_layers, cfg->act);
    if (!st) st = nnd_optim_init(&r.optim, &cfg->optim, r.model.n_params);
    if ((st = nnd_comm_agree(c, st))) goto out;
    if ((st = load_data(&r))) goto out;
    if ((st = alloc_step_buffers(&r))) goto out;
    r.total_steps = cfg->steps ? cfg->steps : cfg->epochs * r.spe;

    if (cfg->ckpt_dir) {
        st = c->rank == 0 ? nnd_ckpt_dir_prepare(cfg->ckpt_dir) : NND_OK;
        if ((st = nnd_comm_agree(c, st))) goto out;
    }
    nnd_model_init_params(&r.model, cfg->seed);
    if (cfg->init && (st = load_and_share(&r, cfg->init, 0, NULL))) goto out;
    int resumed = 0;
    if (cfg->resume && (st = resume(&r, &resumed))) goto out;
    if ((st = open_metrics(&r))) goto out;

    say(&r,
        "nndist: %zu samples (%zu per rank on rank 0), %d rank%s x %d thread%s, global batch "
        "%" PRIu64 ", %" PRIu64 " steps/epoch, %" PRIu64 " steps total, optimizer %s lr %g\n",
        r.order.n, r.order.hi - r.order.lo, c->size, c->size == 1 ? "" : "s", omp_get_max_threads(),
        omp_get_max_threads() == 1 ? "" : "s", r.batch, r.spe, r.total_steps, cfg->optim.name,
        cfg->optim.lr);
    if (r.step >= r.total_steps)
        say(&r, "nothing to do: the checkpoint is at step %" PRIu64 " of %" PRIu64 "\n", r.step,
            r.total_steps);

    if ((st = train_loop(&r))) goto out;
    double io = 0.0;
    if (cfg->ckpt_dir && (st = checkpoint(&r, &io))) goto out;
    if (cfg->save) {
        st = NND_OK;
        if (c->rank == 0) {
            nnd_ckpt_meta meta;
            fill_meta(&r, &meta);
            st = nnd_ckpt_save(cfg->save, &r.model, &r.optim, &meta);
        }
        if ((st = nnd_comm_agree(c, st))) goto out;
        say(&r, "saved the model to %s\n", cfg->save);
    }
out:
    run_free(&r);
    return st;
}
