#include "nndist/stepper.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>

#include "nndist/guard.h"

/* The status after a step that saw a signal: checkpoint where there is one. */
static nnd_status stop_on_signal(const nnd_stepper *sp, const nnd_trainer *t)
{
    int sig = nnd_guard_signal_pending();
    const char *name = sig ? nnd_guard_signal_name(sig) : "a signal received by another rank";
    if (!sp->checkpoint)
        return nnd_err_set(NND_ERR_INTERRUPTED,
                           "stopped by %s at step %" PRIu64 " of %s; nothing was saved", name,
                           t->step, sp->what);
    char path[NND_PATH_MAX];
    nnd_status st = sp->checkpoint(sp->ctx, path, sizeof path);
    if (st) return st;
    return nnd_err_set(NND_EXIT_REQUEUE,
                       "stopped by %s at step %" PRIu64 "; checkpoint %s written; exit code 75: "
                       "run the same command with --resume auto to continue",
                       name, t->step, path);
}

/* The divergence rule (stepper.h) after a step with a finite loss. */
static nnd_status check_divergence(nnd_stepper *sp, const nnd_trainer *t, const nnd_step_stats *s)
{
    if (sp->diverge <= 0.0 || s->samples <= 0.0) return NND_OK;
    const double beta = 0.98;
    sp->n_losses++;
    sp->smooth = beta * sp->smooth + (1.0 - beta) * (s->loss_sum / s->samples);
    double smoothed = sp->smooth / (1.0 - pow(beta, (double)sp->n_losses));
    if (sp->n_losses == 1) sp->first = sp->best = smoothed;
    if (smoothed < sp->best) sp->best = smoothed;
    if (!(smoothed > sp->diverge * sp->best && smoothed > sp->first)) return NND_OK;
    return nnd_err_set(NND_ERR_NUMERIC,
                       "step %" PRIu64 ": the loss diverged: smoothed, it is %.4g, more than %g "
                       "times its lowest %.4g and above its first %.4g (--diverge). Try a "
                       "smaller --lr",
                       t->step, smoothed, sp->diverge, sp->best, sp->first);
}

nnd_status nnd_stepper_step(nnd_stepper *sp, nnd_trainer *t, double lr, nnd_step_stats *s,
                            int *skipped)
{
    nnd_status st = nnd_trainer_step(t, lr, s);
    *skipped = st == NND_ERR_NUMERIC;
    if (st && st != NND_ERR_NUMERIC) return st;
    if (sp->record) sp->record(sp->ctx, s, *skipped);
    if (st == NND_ERR_NUMERIC) {
        /* Skipped alike on every rank: the verdict came with the step's reduction. */
        sp->bad_in_a_row++;
        if (sp->warn_skips && t->c->rank == 0)
            fprintf(stderr, "nndist: warning: %s; step skipped (%" PRIu64 " in a row)\n",
                    nnd_err_msg(), sp->bad_in_a_row);
        nnd_err_clear();
        if (sp->bad_in_a_row >= sp->max_bad)
            return nnd_err_set(NND_ERR_NUMERIC,
                               "step %" PRIu64 ": %" PRIu64 " consecutive steps with a "
                               "non-finite loss or gradient (--max-bad-steps); stopping.%s Try "
                               "a smaller --lr or check the data",
                               t->step, sp->bad_in_a_row,
                               sp->checkpoint ? " The last checkpoint holds finite weights." : "");
    } else {
        sp->bad_in_a_row = 0;
        if ((st = check_divergence(sp, t, s))) return st;
    }
    if (s->signal && t->step != sp->end_step) return stop_on_signal(sp, t);
    return NND_OK;
}
