/* Learning-rate schedules: the learning rate as a pure function of the step, so a resumed run
 * (on any number of ranks) takes exactly the learning rates of the uninterrupted one.
 *
 * Steps are counted from 0 (the step about to be taken); T is the run's total steps, W the
 * warmup steps, lr0 the base learning rate:
 *   lr0 = --lr, or with --lr-scale linear  --lr x global batch / --lr-base-batch
 *         (the linear scaling rule of Goyal et al. 2017, "Accurate, Large Minibatch SGD")
 *   warmup (W > 0), s < W:   lr = lr0 * (s + 1) / W   (a linear ramp up to where every schedule
 *                                                      below starts: f(0) = lr0)
 *   after it, with s' = s - W and T' = T - W:
 *     constant      f(s') = lr0
 *     step          f(s') = lr0 * gamma^floor(s' / step_size)
 *     exponential   f(s') = lr0 * gamma^s'
 *     cosine        f(s') = lr_min + (lr0 - lr_min) * (1 + cos(pi * s' / T')) / 2, lr_min
 *                   once s' >= T'   (torch's CosineAnnealingLR closed form, T_max = T') */
#ifndef NNDIST_SCHEDULE_H
#define NNDIST_SCHEDULE_H

#include <stdint.h>

#include "nndist/error.h"

typedef enum {
    NND_SCHED_CONSTANT,
    NND_SCHED_STEP,
    NND_SCHED_EXPONENTIAL,
    NND_SCHED_COSINE,
    NND_SCHED_KIND_COUNT
} nnd_schedule_kind;

typedef struct {
    nnd_schedule_kind kind;
    uint64_t step_size;    /* step: decay every step_size steps (required) */
    double gamma;          /* step (default 0.1), exponential (required): NAN when not given */
    double lr_min;         /* cosine: the final learning rate (default 0) */
    uint64_t warmup_steps; /* 0 = none */
    int scale_linear;      /* --lr-scale linear */
    uint64_t base_batch;   /* --lr-base-batch (default 256) */
} nnd_schedule_config;

typedef struct {
    nnd_schedule_config cfg;
    double base_lr; /* lr0 above, after the scaling rule */
    uint64_t total_steps;
} nnd_schedule;

/* The defaults: constant, no warmup, no scaling, base batch 256, gamma NAN, lr_min 0. */
void nnd_schedule_defaults(nnd_schedule_config *cfg);
/* Returns 0 and sets *kind for "constant", "step", "exponential", "cosine"; -1 otherwise. */
int nnd_schedule_parse(const char *name, nnd_schedule_kind *kind);
const char *nnd_schedule_name(nnd_schedule_kind kind);
/* Checks the settings (e.g. step needs --lr-step-size); formats a message naming the flag. */
nnd_status nnd_schedule_validate(const nnd_schedule_config *cfg);

/* lr is the base learning rate (--lr), global_batch the run's global batch, total_steps T. */
void nnd_schedule_init(nnd_schedule *s, const nnd_schedule_config *cfg, double lr,
                       uint64_t global_batch, uint64_t total_steps);
/* The learning rate of step `step` (0-based). */
double nnd_schedule_lr(const nnd_schedule *s, uint64_t step);

#endif
