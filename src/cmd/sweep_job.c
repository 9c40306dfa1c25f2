/* nndist sweep, one job: a group trains every fold of one configuration, each from the same
 * initial weights, and evaluates it on its held-out fold. */
#include <math.h>
#include <string.h>

#include "nndist/eval.h"
#include "nndist/guard.h"
#include "nndist/stepper.h"
#include "nndist/trainer.h"
#include "cmd/sweep.h"

/* Collective over the group: trains fold f of configuration c for `epochs` and evaluates it.
 * A divergence sets r->diverged; other failures are returned (agreed in the group). */
static nnd_status run_fold(sweep *s, size_t c, uint64_t epochs, unsigned f, sweep_result *r,
                           sweep_poll_fn poll, void *ctx)
{
    nnd_train_config cfg = s->base;
    const sweep_config *cf = &s->cfg[c];
    cfg.optim = cf->optim;
    cfg.batch = cf->batch_size;
    cfg.epochs = epochs;
    nnd_data_subset train = {&s->all, s->rows[f][0], s->n_rows[f][0]};
    nnd_data_subset val = {&s->all, s->rows[f][1], s->n_rows[f][1]};
    nnd_trainer t;
    nnd_status st = nnd_trainer_init_subset(&t, &cfg, &s->group, &train, &val);
    if (st) {
        nnd_trainer_free(&t);
        return st;
    }
    uint64_t total = epochs * t.spe;
    nnd_schedule sched;
    nnd_schedule_init(&sched, &cfg.sched, cfg.optim.lr, t.batch, total);
    /* No checkpoint: a signal ends the sweep with exit 130, and nothing is written. */
    nnd_stepper sp = {.max_bad = cfg.max_bad_steps,
                      .end_step = total,
                      .what = "the sweep",
                      .diverge = cfg.diverge};
    double loss_sum = 0.0, correct = 0.0, samples = 0.0;
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
            loss_sum += ss.loss_sum;
            correct += ss.correct;
            samples += ss.samples;
        }
        if (poll) poll(ctx);
    }
    if (!st && !diverged) {
        nnd_eval_result ev;
        nnd_guard_phase("evaluating a fold", NND_GUARD_SLOW_FLOOR_S);
        nnd_evaluate(&t.model, &t.val, cfg.loss, &s->group, 0, &ev);
        nnd_guard_idle();
        r->acc[f] = ev.accuracy;
        r->loss[f] = ev.loss;
        r->train_loss[f] = samples > 0 ? loss_sum / samples : NAN;
        r->train_acc[f] = samples > 0 ? correct / samples : NAN;
        if (!isfinite(ev.loss)) r->diverged = (int32_t)f + 1;
    } else if (!st) {
        r->diverged = (int32_t)f + 1;
    }
    nnd_trainer_free(&t);
    return st;
}

nnd_status sweep_run_job(sweep *s, size_t c, int rung, sweep_result *r, sweep_poll_fn poll,
                         void *ctx)
{
    memset(r, 0, sizeof *r);
    double t0 = MPI_Wtime();
    r->epochs = s->rung_epochs[rung];
    r->group = s->group_id;
    for (unsigned f = 0; f < s->folds; f++) r->acc[f] = r->loss[f] = NAN;
    for (unsigned f = 0; f < s->folds && !r->diverged; f++) {
        nnd_status st = run_fold(s, c, r->epochs, f, r, poll, ctx);
        if (st) return st;
    }
    r->seconds = MPI_Wtime() - t0;
    r->have = 1;
    return NND_OK;
}
