#include "train_internal.h"

#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "nndist/eval.h"
#include "nndist/guard.h"

void train_say(const train_run *r, const char *fmt, ...)
{
    if (r->c->rank != 0) return;
    va_list ap;
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    fflush(stdout);
}

static int regression(const train_run *r)
{
    return r->cfg->loss == NND_LOSS_MSE;
}

/* A stretch's metric: its accuracy, or for mse the R^2 of its mean loss against the training
 * targets' variance. */
static double train_metric(const train_run *r, const train_sums *s)
{
    if (s->samples <= 0) return 0.0;
    if (regression(r)) return nnd_r2(s->loss_sum / s->samples, r->t.train_target_var);
    return s->correct / s->samples;
}

static void start_sums(train_sums *s)
{
    memset(s, 0, sizeof *s);
    s->wall_start = MPI_Wtime();
}

void train_log_step(train_run *r, const nnd_step_stats *s, int skipped)
{
    train_sums *sums[2] = {&r->epoch, &r->window};
    for (int i = 0; i < 2; i++) {
        train_sums *e = sums[i];
        if (!skipped) {
            e->loss_sum += s->loss_sum;
            e->correct += s->correct;
            e->samples += s->samples;
        }
        e->compute += s->compute_s;
        e->forward += s->forward_s;
        e->allreduce += s->allreduce_s;
        e->update += s->update_s;
    }
}

static void progress_bar(const train_run *r, uint64_t in_epoch, double loss)
{
    uint64_t spe = r->t.spe;
    int width = 30, fill = (int)((double)width * (double)in_epoch / (double)spe);
    char bar[64];
    for (int i = 0; i < width; i++) bar[i] = i < fill ? '#' : '.';
    bar[width] = '\0';
    printf("\r  epoch %" PRIu64 " [%s] %3d%%  loss %.4f", r->t.step / spe + 1, bar,
           (int)(100.0 * (double)in_epoch / (double)spe), loss);
    fflush(stdout);
}

void train_log_after_step(train_run *r, double lr, double *last_draw)
{
    const nnd_trainer *t = &r->t;
    uint64_t in_epoch = t->step % t->spe;
    double now = MPI_Wtime();
    if (r->progress && now - *last_draw > 0.2 && in_epoch != 0 && r->epoch.samples > 0) {
        progress_bar(r, in_epoch, r->epoch.loss_sum / r->epoch.samples);
        *last_draw = now;
    }
    uint64_t every = r->cfg->log_every;
    if (!every || t->step % every != 0) return;
    train_sums *w = &r->window;
    double wall = now - w->wall_start;
    nnd_metrics_step_row row = {.step = t->step,
                                .epoch = (double)t->step / (double)t->spe,
                                .lr = lr,
                                .train_loss = w->samples > 0 ? w->loss_sum / w->samples : 0.0,
                                .train_metric = train_metric(r, w),
                                .samples_per_s = wall > 0 ? w->samples / wall : 0.0};
    nnd_metrics_write_step(&r->metrics, &row);
    start_sums(w);
}

/* Counts an evaluation for early stopping and --save-best: improved when the accuracy rose
 * (for mse: the loss fell). */
static int count_evaluation(train_run *r, const nnd_eval_result *v)
{
    double val = regression(r) ? v->loss : v->accuracy;
    train_best *b = &r->best;
    int better = isfinite(val) && (!b->any || (regression(r) ? val < b->val : val > b->val));
    if (better) {
        b->val = val;
        b->step = r->t.step;
        b->since = 0;
    } else {
        b->since++;
    }
    b->any = 1;
    return better;
}

nnd_status train_end_of_epoch(train_run *r, double lr)
{
    nnd_trainer *t = &r->t;
    train_sums *e = &r->epoch;
    double wall = MPI_Wtime() - e->wall_start;
    nnd_eval_result v = {0};
    if (t->has_val) {
        double e0 = MPI_Wtime();
        nnd_guard_phase("evaluating --val", NND_GUARD_SLOW_FLOOR_S);
        if (t->exact)
            nnd_evaluate_exact(&t->model, &t->val, r->cfg->loss, &t->ce, r->c, &v);
        else
            nnd_evaluate(&t->model, &t->val, r->cfg->loss, &t->ce, r->c, 0, &v);
        nnd_trace_add(t->trace, NND_TRACE_EVAL, e0, MPI_Wtime());
    }
    /* Rank 0 prints and writes --metrics: a full pipe or a stalled file system blocks here. */
    nnd_guard_phase("logging the epoch (output, --metrics)", NND_GUARD_SLOW_FLOOR_S);
    const char *metric = regression(r) ? "r2" : "acc";
    double loss = e->samples > 0 ? e->loss_sum / e->samples : 0.0;
    double score = train_metric(r, e);
    double val_score = regression(r) ? nnd_r2(v.loss, t->val_target_var) : v.accuracy;
    double rate = wall > 0 ? e->samples / wall : 0.0;
    uint64_t epoch = (t->step - 1) / t->spe + 1, epochs = (r->total_steps + t->spe - 1) / t->spe;
    if (r->progress) train_say(r, "\r%*s\r", 70, "");
    char val_text[64] = "";
    if (t->has_val)
        snprintf(val_text, sizeof val_text, "  val loss %.4f %s %.4f", v.loss, metric, val_score);
    train_say(r,
              "epoch %" PRIu64 "/%" PRIu64 "  step %" PRIu64 "  loss %.4f  %s %.4f%s  %.0f "
              "samples/s  compute %.2fs  allreduce %.2fs  update %.2fs\n",
              epoch, epochs, t->step, loss, metric, score, val_text, rate, e->compute, e->allreduce,
              e->update);
    nnd_metrics_row row = {.step = t->step,
                           .epoch = epoch,
                           .lr = lr,
                           .train_loss = loss,
                           .train_metric = score,
                           .has_val = t->has_val,
                           .val_loss = v.loss,
                           .val_metric = val_score,
                           .samples = e->samples,
                           .samples_per_s = rate,
                           .compute_s = e->compute,
                           .allreduce_s = e->allreduce,
                           .update_s = e->update,
                           .io_s = e->io,
                           .forward_s = e->forward};
    nnd_metrics_write(&r->metrics, &row);
    nnd_guard_idle();
    /* The row of a run that ends mid-epoch (--steps) is written, but its sums stay for the last
     * checkpoint: a run resumed from it reports that epoch whole. */
    if (t->step % t->spe != 0) return NND_OK; /* nor does it count for early stopping */
    start_sums(e);
    if (!t->has_val) return NND_OK;
    int better = count_evaluation(r, &v);
    if (!better || !r->cfg->save_best) return NND_OK;
    nnd_guard_phase("writing the best model (--save-best)", NND_GUARD_SLOW_FLOOR_S);
    nnd_status st = train_save(r, r->cfg->save_best, 0, 0);
    nnd_guard_idle();
    return st;
}

int train_should_stop(const train_run *r)
{
    return r->cfg->early_stop && r->best.any && r->best.since >= r->cfg->early_stop;
}

void train_log_fill_meta(const train_run *r, nnd_ckpt_meta *meta)
{
    meta->has_epoch_sums = 1;
    meta->epoch_loss_sum = r->epoch.loss_sum;
    meta->epoch_correct = r->epoch.correct;
    meta->epoch_samples = r->epoch.samples;
    meta->has_window_sums = r->cfg->log_every > 0;
    meta->window_loss_sum = r->window.loss_sum;
    meta->window_correct = r->window.correct;
    meta->window_samples = r->window.samples;
    meta->has_best = r->best.any;
    meta->best_val = r->best.val;
    meta->best_step = r->best.step;
    meta->evals_since_best = r->best.since;
}

void train_log_start(train_run *r, const nnd_ckpt_meta *meta)
{
    start_sums(&r->epoch);
    start_sums(&r->window);
    memset(&r->best, 0, sizeof r->best);
    if (!meta) return;
    /* A checkpoint at the end of an epoch (or window) holds none of the next one's steps. */
    if (meta->has_epoch_sums && r->t.step % r->t.spe != 0) {
        r->epoch.loss_sum = meta->epoch_loss_sum;
        r->epoch.correct = meta->epoch_correct;
        r->epoch.samples = meta->epoch_samples;
    }
    if (meta->has_window_sums && r->cfg->log_every && r->t.step % r->cfg->log_every != 0) {
        r->window.loss_sum = meta->window_loss_sum;
        r->window.correct = meta->window_correct;
        r->window.samples = meta->window_samples;
    }
    if (meta->has_best) {
        r->best.any = 1;
        r->best.val = meta->best_val;
        r->best.step = meta->best_step;
        r->best.since = meta->evals_since_best;
    }
}
