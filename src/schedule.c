#include "nndist/schedule.h"

#include <math.h>
#include <string.h>

static const char *const g_names[NND_SCHED_KIND_COUNT] = {"constant", "step", "exponential",
                                                          "cosine"};

void nnd_schedule_defaults(nnd_schedule_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->kind = NND_SCHED_CONSTANT;
    cfg->gamma = NAN;
    cfg->base_batch = 256;
}

int nnd_schedule_parse(const char *name, nnd_schedule_kind *kind)
{
    for (int k = 0; k < NND_SCHED_KIND_COUNT; k++)
        if (strcmp(name, g_names[k]) == 0) {
            *kind = (nnd_schedule_kind)k;
            return 0;
        }
    return -1;
}

const char *nnd_schedule_name(nnd_schedule_kind kind)
{
    return kind < NND_SCHED_KIND_COUNT ? g_names[kind] : "?";
}

nnd_status nnd_schedule_validate(const nnd_schedule_config *cfg)
{
    const char *name = nnd_schedule_name(cfg->kind);
    if (cfg->kind == NND_SCHED_STEP && cfg->step_size == 0)
        return nnd_err_set(NND_ERR_USAGE, "--lr-schedule step needs --lr-step-size N (decay the "
                                          "learning rate by --lr-gamma every N steps)");
    if (cfg->kind == NND_SCHED_EXPONENTIAL && isnan(cfg->gamma))
        return nnd_err_set(NND_ERR_USAGE, "--lr-schedule exponential needs --lr-gamma X (the "
                                          "factor per step, e.g. 0.999)");
    if (cfg->kind != NND_SCHED_STEP && cfg->step_size != 0)
        return nnd_err_set(NND_ERR_USAGE,
                           "--lr-step-size applies to --lr-schedule step only (this run: %s)",
                           name);
    if (cfg->kind != NND_SCHED_STEP && cfg->kind != NND_SCHED_EXPONENTIAL && !isnan(cfg->gamma))
        return nnd_err_set(NND_ERR_USAGE,
                           "--lr-gamma applies to --lr-schedule step or exponential only (this "
                           "run: %s)",
                           name);
    if (!isnan(cfg->gamma) && !(cfg->gamma > 0.0 && cfg->gamma <= 1.0))
        return nnd_err_set(NND_ERR_USAGE, "--lr-gamma: %g is out of range; expected 0 < gamma <= 1",
                           cfg->gamma);
    if (cfg->kind != NND_SCHED_COSINE && cfg->lr_min != 0.0)
        return nnd_err_set(NND_ERR_USAGE,
                           "--lr-min applies to --lr-schedule cosine only (this run: %s)", name);
    if (!(cfg->lr_min >= 0.0 && isfinite(cfg->lr_min)))
        return nnd_err_set(NND_ERR_USAGE, "--lr-min: %g is out of range; expected >= 0",
                           cfg->lr_min);
    if (cfg->base_batch == 0)
        return nnd_err_set(NND_ERR_USAGE, "--lr-base-batch: expected a positive integer");
    return NND_OK;
}

void nnd_schedule_init(nnd_schedule *s, const nnd_schedule_config *cfg, double lr,
                       uint64_t global_batch, uint64_t total_steps)
{
    s->cfg = *cfg;
    if (isnan(s->cfg.gamma)) s->cfg.gamma = 0.1;
    s->base_lr = cfg->scale_linear ? lr * (double)global_batch / (double)cfg->base_batch : lr;
    s->total_steps = total_steps;
}

/* The schedule after the warmup, at s steps past it, over t steps. */
static double after_warmup(const nnd_schedule *s, uint64_t step, uint64_t span)
{
    const double lr0 = s->base_lr;
    switch (s->cfg.kind) {
    case NND_SCHED_STEP:
        return lr0 * pow(s->cfg.gamma, (double)(step / s->cfg.step_size));
    case NND_SCHED_EXPONENTIAL:
        return lr0 * pow(s->cfg.gamma, (double)step);
    case NND_SCHED_COSINE:
        if (step >= span) return s->cfg.lr_min;
        return s->cfg.lr_min +
               (lr0 - s->cfg.lr_min) * (1.0 + cos(M_PI * (double)step / (double)span)) / 2.0;
    case NND_SCHED_CONSTANT:
    default:
        return lr0;
    }
}

double nnd_schedule_lr(const nnd_schedule *s, uint64_t step)
{
    const uint64_t w = s->cfg.warmup_steps;
    const uint64_t span = s->total_steps > w ? s->total_steps - w : 0;
    /* Every schedule starts at lr0, so the ramp ends where the schedule begins. */
    if (step < w) return s->base_lr * (double)(step + 1) / (double)w;
    return after_warmup(s, step - w, span);
}
