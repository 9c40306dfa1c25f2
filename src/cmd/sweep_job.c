/* nndist sweep, one job: a group trains every fold of one configuration, each from the same
 * initial weights, and evaluates it on its held-out fold; it records each finished fold and
 * checkpoints the running one (sweep.h, "Progress"). */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "nndist/ckpt.h"
#include "nndist/ckpt_dir.h"
#include "nndist/eval.h"
#include "nndist/guard.h"
#include "nndist/resume.h"
#include "nndist/stepper.h"
#include "nndist/trainer.h"
#include "cmd/sweep.h"

/* A running fold, for its checkpoints. */
typedef struct {
    const sweep *s;
    size_t c;
    int rung;
    unsigned f;
    nnd_trainer *t;
    double loss_sum, correct, samples; /* the last epoch's sums so far */
} fold_run;

/* Collective over the group: the leader writes the fold's checkpoint (weights, optimizer state,
 * step, and the last epoch's sums so far) into its directory, keeping the newest two. */
static nnd_status fold_checkpoint(fold_run *x, char *path, size_t size)
{
    nnd_status st = nnd_trainer_sync_state(x->t);
    if (st) return st;
    char dir[NND_PATH_MAX];
    sweep_fold_dir(x->s, x->c, x->rung, x->f, dir, sizeof dir);
    nnd_ckpt_path(path, size, dir, x->t->step);
    if (x->s->group.rank == 0) {
        nnd_ckpt_meta meta;
        memset(&meta, 0, sizeof meta);
        meta.step = x->t->step;
        meta.epoch = x->t->step / x->t->spe;
        meta.seed = x->s->base.seed;
        meta.batch = x->t->batch;
        meta.world_size = x->s->group.size;
        meta.batch_order = x->t->order.version;
        snprintf(meta.loss, sizeof meta.loss, "%s", nnd_loss_name(x->s->base.loss));
        meta.class_weights = x->t->ce.weights;
        meta.label_smoothing = x->t->ce.smoothing;
        /* The directory is the fold's alone: the id only lets retention know the files. */
        snprintf(meta.run_id, sizeof meta.run_id, "%08zx%04x%04x", x->c, (unsigned)x->rung, x->f);
        meta.has_epoch_sums = 1;
        meta.epoch_loss_sum = x->loss_sum;
        meta.epoch_correct = x->correct;
        meta.epoch_samples = x->samples;
        if (mkdir(dir, 0777) != 0 && errno != EEXIST)
            st = nnd_err_set(NND_ERR_IO, "%s: cannot create: %s", dir, strerror(errno));
        if (!st) st = nnd_ckpt_save(path, &x->t->model, nnd_trainer_state_io(x->t), &meta);
        if (!st) nnd_ckpt_retain(dir, 2, meta.run_id);
    }
    nnd_trainer_release_state(x->t);
    return nnd_comm_agree(&x->s->group, st);
}

/* The stepper's checkpoint when a signal stops the sweep (ctx: the fold). */
static nnd_status checkpoint_on_signal(void *ctx, char *path, size_t size)
{
    return fold_checkpoint(ctx, path, size);
}

/* Collective over the group: continues the fold from its newest checkpoint, if it has one. */
static nnd_status resume_fold(fold_run *x)
{
    char dir[NND_PATH_MAX], path[NND_PATH_MAX];
    sweep_fold_dir(x->s, x->c, x->rung, x->f, dir, sizeof dir);
    nnd_ckpt_meta meta;
    int found = 0;
    nnd_status st = nnd_resume_newest(x->t, dir, NULL, NULL, path, sizeof path, &meta, &found);
    if (st || !found) return st;
    /* The sweep's definition (OUT/state) names its batch order; a fold in another is damage. */
    if (meta.batch_order != x->t->order.version)
        return nnd_err_set(NND_ERR_INPUT,
                           "%s: made with batch order %d, but this sweep runs order %d; delete "
                           "%s to train the fold again",
                           path, meta.batch_order, x->t->order.version, dir);
    if (meta.has_epoch_sums) {
        x->loss_sum = meta.epoch_loss_sum;
        x->correct = meta.epoch_correct;
        x->samples = meta.epoch_samples;
    }
    if (x->s->group.rank == 0) {
        char name[384];
        sweep_config_name(x->s, x->c, name, sizeof name);
        printf("resuming %s, fold %u, at step %" PRIu64 "\n", name, x->f + 1, meta.step);
        fflush(stdout);
    }
    return NND_OK;
}

/* Collective over the group: trains fold f of configuration c for `epochs` and evaluates it.
 * A divergence sets r->diverged; other failures are returned (agreed in the group). */
static nnd_status run_fold(sweep *s, size_t c, int rung, unsigned f, sweep_result *r,
                           sweep_poll_fn poll, void *ctx)
{
    uint64_t epochs = r->epochs;
    nnd_train_config cfg;
    sweep_config_train(s, c, &cfg);
    cfg.epochs = epochs;
    nnd_data_subset train = {&s->all, s->rows[f][0], s->n_rows[f][0]};
    nnd_data_subset val = {&s->all, s->rows[f][1], s->n_rows[f][1]};
    nnd_trainer t;
    nnd_status st = nnd_trainer_init_subset(&t, &cfg, &s->group, &train, &val);
    fold_run x = {s, c, rung, f, &t, 0.0, 0.0, 0.0};
    if (!st) st = resume_fold(&x);
    if (st) {
        nnd_trainer_free(&t);
        return st;
    }
    uint64_t total = epochs * t.spe;
    nnd_schedule sched;
    nnd_schedule_init(&sched, &cfg.sched, cfg.optim.lr, t.batch, total);
    nnd_stepper sp = {.max_bad = cfg.max_bad_steps,
                      .end_step = total,
                      .what = "the sweep",
                      .checkpoint = checkpoint_on_signal,
                      .ctx = &x,
                      .diverge = cfg.diverge};
    int diverged = 0;
    while (t.step < total) {
        nnd_step_stats ss;
        int skipped;
        st = nnd_stepper_step(&sp, &t, nnd_schedule_lr(&sched, t.step), &ss, &skipped);
        if (st == NND_ERR_NUMERIC) { /* non-finite steps in a row, or a diverged loss */
            nnd_err_clear();
            st = NND_OK;
            diverged = 1;
            break;
        }
        if (st) break;
        if (!skipped && (t.step - 1) / t.spe == epochs - 1) { /* the last epoch, as train reports */
            x.loss_sum += ss.loss_sum;
            x.correct += ss.correct;
            x.samples += ss.samples;
        }
        if (s->ckpt_every && t.step % s->ckpt_every == 0 && t.step < total) {
            char path[NND_PATH_MAX];
            nnd_guard_phase("writing a checkpoint", NND_GUARD_SLOW_FLOOR_S);
            st = fold_checkpoint(&x, path, sizeof path);
            nnd_guard_idle();
            if (st) break;
        }
        if (poll) poll(ctx);
    }
    if (!st && !diverged) {
        nnd_eval_result ev;
        nnd_guard_phase("evaluating a fold", NND_GUARD_SLOW_FLOOR_S);
        if (t.exact)
            nnd_evaluate_exact(&t.model, &t.val, cfg.loss, &t.ce, &s->group, &ev);
        else
            nnd_evaluate(&t.model, &t.val, cfg.loss, &t.ce, &s->group, 0, &ev);
        nnd_guard_idle();
        int mse = cfg.loss == NND_LOSS_MSE;
        r->score[f] = mse ? nnd_r2(ev.loss, t.val_target_var) : ev.accuracy;
        r->loss[f] = ev.loss;
        r->train_loss[f] = x.samples > 0 ? x.loss_sum / x.samples : NAN;
        r->train_score[f] = x.samples <= 0 ? NAN
                            : mse          ? nnd_r2(r->train_loss[f], t.train_target_var)
                                           : x.correct / x.samples;
        if (!isfinite(ev.loss)) r->diverged = (int32_t)f + 1;
    } else if (!st) {
        r->diverged = (int32_t)f + 1;
    }
    nnd_trainer_free(&t);
    return st;
}

/* Collective over the group: the folds of configuration c at rung that an earlier instance of
 * the sweep finished (read by the leader, shared with the group); 0 when none. */
static unsigned recorded_folds(sweep *s, size_t c, int rung, sweep_result *r)
{
    unsigned done = 0;
    if (s->group.rank == 0) {
        sweep_result rec;
        if (sweep_job_read(s, c, rung, &rec, &done) == 1) {
            *r = rec;
        } else {
            done = 0;
        }
    }
    MPI_Bcast(&done, 1, MPI_UNSIGNED, 0, s->group.world);
    if (done) MPI_Bcast(r, (int)sizeof *r, MPI_BYTE, 0, s->group.world);
    return done;
}

nnd_status sweep_run_job(sweep *s, size_t c, int rung, sweep_result *r, sweep_poll_fn poll,
                         void *ctx)
{
    memset(r, 0, sizeof *r);
    r->epochs = s->rung_epochs[rung];
    for (unsigned f = 0; f < s->folds; f++) r->score[f] = r->loss[f] = NAN;
    unsigned done = recorded_folds(s, c, rung, r);
    r->group = s->group_id;
    if (r->have) return NND_OK; /* completed earlier */
    double t0 = MPI_Wtime(), before = r->seconds;
    for (unsigned f = done; f < s->folds && !r->diverged; f++) {
        nnd_status st = run_fold(s, c, rung, f, r, poll, ctx);
        if (st) return st;
        r->seconds = before + (MPI_Wtime() - t0);
        r->have = f + 1 == s->folds || r->diverged;
        /* Recorded before the fold's checkpoints go: a crash between leaves both, never neither. */
        nnd_guard_phase("recording a fold", NND_GUARD_SLOW_FLOOR_S);
        if (s->group.rank == 0) {
            st = sweep_job_write(s, c, rung, r, f + 1);
            if (!st) sweep_fold_dir_remove(s, c, rung, f);
        }
        st = nnd_comm_agree(&s->group, st);
        nnd_guard_idle();
        if (st) return st;
    }
    r->have = 1;
    return NND_OK;
}
