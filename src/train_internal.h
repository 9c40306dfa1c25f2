/* Shared by train.c (the run: setup, resume, the loop, checkpoints and files) and train_log.c
 * (what the run reports: the epoch lines and rows, the step rows, the progress bar, early
 * stopping and the best model). */
#ifndef NNDIST_TRAIN_INTERNAL_H
#define NNDIST_TRAIN_INTERNAL_H

#include "nndist/ckpt.h"
#include "nndist/ckpt_dir.h"
#include "nndist/ckpt_writer.h"
#include "nndist/metrics.h"
#include "nndist/schedule.h"
#include "nndist/trace.h"
#include "nndist/train.h"
#include "nndist/trainer.h"

/* Sums over the steps of a stretch (the epoch in progress, or the --log-every window). */
typedef struct {
    double loss_sum, correct, samples;
    double compute, forward, allreduce, update, io, wall_start;
} train_sums;

/* Early stopping and --save-best: the best validation metric so far (accuracy, or the loss for
 * mse: lower is better then), the step it was reached at, the evaluations since. */
typedef struct {
    int any; /* an evaluation has been made */
    double val;
    uint64_t step, since;
} train_best;

typedef struct {
    nnd_trainer t;
    const nnd_train_config *cfg;
    const nnd_comm *c;
    uint64_t total_steps;
    nnd_schedule sched;
    nnd_metrics metrics; /* rank 0 */
    int progress;
    nnd_trace trace;
    int tracing;
    train_sums epoch, window;
    train_best best;
    nnd_ckpt_dir dir;                  /* rank 0: --checkpoint-dir, locked */
    char run_id[NND_CKPT_RUN_ID_SIZE]; /* run_identity.h */
    char definition[NND_CKPT_DEFINITION_SIZE];
    int resumed;            /* the run continues a checkpoint */
    nnd_ckpt_writer writer; /* rank 0: builds every file in memory, writes in the background */
    uint64_t checkpoints;   /* checkpoints written */
    double ckpt_stall_s;    /* seconds the steps waited for them */
} train_run;

/* Rank 0 prints (and flushes) to standard output. */
void train_say(const train_run *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Collective: rank 0 writes the model (and optimizer, with retain) to path (train.c). */
nnd_status train_save(train_run *r, const char *path, int retain, int background);

/* Adds a step's statistics to the epoch's and the window's sums (skipped: its times only). */
void train_log_step(train_run *r, const nnd_step_stats *s, int skipped);
/* After each step: the progress bar (rank 0, at most 5 times a second), the --log-every row. */
void train_log_after_step(train_run *r, double lr, double *last_draw);
/* Collective, at the end of an epoch (or of a run that ends mid-epoch): evaluates --val, prints
 * the epoch line and writes its row; at a whole epoch's end, keeps the best validation model
 * (--save-best) and counts the evaluations without improvement, so that a run stopped and
 * resumed mid-epoch counts what an uninterrupted one does. */
nnd_status train_end_of_epoch(train_run *r, double lr);
/* True once --early-stop's evaluations without improvement are reached (the same on every
 * rank: it follows from the agreed evaluations). */
int train_should_stop(const train_run *r);
/* The sums and the early-stopping state into a checkpoint's metadata; train_log_start starts
 * them afresh (meta NULL) or from a resumed checkpoint's. */
void train_log_fill_meta(const train_run *r, nnd_ckpt_meta *meta);
void train_log_start(train_run *r, const nnd_ckpt_meta *meta);

#endif
