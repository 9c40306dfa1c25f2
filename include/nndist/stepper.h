/* How the commands advance a training session: one policy, in one place, for the two things a
 * step can report besides its statistics.
 *
 *  - A non-finite loss or gradient (seen alike by every rank): the step is skipped, the weights
 *    stay; after max_bad such steps in a row the run stops with NND_ERR_NUMERIC.
 *  - A loss that has diverged: the mean loss of the steps, smoothed (an exponential moving
 *    average, factor 0.98, with its start-up bias removed), has risen above both `diverge` times
 *    its lowest value so far and its first value. The run stops with NND_ERR_NUMERIC naming the
 *    step and both losses. The second condition keeps a run whose loss has become tiny (a
 *    regression fitting its data) from being stopped by fluctuations far below where it began.
 *    diverge = 0 turns the rule off.
 *  - A signal (SIGUSR1, SIGTERM, SIGINT on any rank, carried by the step's reduction): the run
 *    stops at this step boundary on every rank. Where the command has a checkpoint it is written
 *    and the status is NND_EXIT_REQUEUE (exit 75: requeue, --resume auto continues); where it has
 *    none, NND_ERR_INTERRUPTED (exit 130) says that nothing was saved.
 *
 * train, lr-find and sweep drive nnd_trainer_step through it alone. */
#ifndef NNDIST_STEPPER_H
#define NNDIST_STEPPER_H

#include <stddef.h>
#include <stdint.h>

#include "nndist/error.h"
#include "nndist/trainer.h"

typedef struct {
    uint64_t max_bad; /* consecutive non-finite steps that stop the run (>= 1) */
    uint64_t
        end_step;   /* a signal seen at this step ends nothing: the run is over anyway (0: none) */
    int warn_skips; /* rank 0 prints a warning for each skipped step */
    const char *what; /* what stops, for messages: "the run", "lr-find", "the sweep" */
    /* Collective: writes a checkpoint of the session and its path into path (size bytes); NULL
     * when the command keeps none. */
    nnd_status (*checkpoint)(void *ctx, char *path, size_t size);
    /* Called after every step, before the policy acts (so before a signal's checkpoint, which
     * then holds the step's statistics); NULL when the caller counts them itself. */
    void (*record)(void *ctx, const nnd_step_stats *s, int skipped);
    void *ctx;
    double diverge;             /* the divergence rule's factor (0: off) */
    uint64_t bad_in_a_row;      /* state: the current run of skipped steps */
    uint64_t n_losses;          /* state: steps in the smoothed loss */
    double smooth, first, best; /* state: the smoothed loss's sum, first and lowest values */
} nnd_stepper;

/* Collective: one step of t at learning rate lr (nnd_trainer_step), then the policy above.
 * NND_OK: the run goes on; *skipped says whether the step was skipped (s's loss and counts are
 * then not to be used). Any other status ends the run, with its message set, alike on every
 * rank. */
nnd_status nnd_stepper_step(nnd_stepper *sp, nnd_trainer *t, double lr, nnd_step_stats *s,
                            int *skipped);

#endif
