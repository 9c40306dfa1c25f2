/* The metrics files of `nndist train --metrics FILE [--log-every N]` (columns in
 * docs/file-formats.md): one row per epoch in FILE and, with --log-every, one row per N steps
 * in FILE's step file beside it (nnd_metrics_steps_path). A FILE ending in .jsonl gets JSON
 * lines (one object per row, the same names), any other name CSV with a header. A classifier's
 * metric is its accuracy (acc columns), a regression model's its R^2 (r2 columns). Written by
 * rank 0 only.
 *
 * A fresh run starts both files anew. A resumed run keeps the rows up to the step it resumes
 * from and drops the later ones, which the interrupted run wrote after its checkpoint and the
 * resumed run writes again, so every step appears once; it also drops an epoch row that does
 * not end an epoch (the last row of a run stopped by --steps mid-epoch), since the resumed run
 * writes that epoch's whole row. A write that fails (a full file system) is remembered and
 * reported by nnd_metrics_close, so the run ends with an error instead of a silently short
 * file. */
#ifndef NNDIST_METRICS_H
#define NNDIST_METRICS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "nndist/error.h"

typedef struct {
    FILE *f, *steps;  /* the epoch rows; the step rows (NULL without --log-every) */
    const char *path; /* borrowed */
    char steps_path[4096];
    int json;       /* JSON lines instead of CSV */
    int regression; /* r2 in place of acc */
    int err;        /* errno of the first failed write, 0 when none */
} nnd_metrics;

typedef struct {
    uint64_t step, epoch;
    double lr, train_loss, train_metric; /* metric: accuracy, or R^2 for mse */
    int has_val;
    double val_loss, val_metric;
    double samples, samples_per_s;
    double compute_s, allreduce_s, update_s, io_s, forward_s;
} nnd_metrics_row;

typedef struct {
    uint64_t step;
    double epoch;                        /* step / steps per epoch */
    double lr, train_loss, train_metric; /* over the steps since the previous row */
    double samples_per_s;
} nnd_metrics_step_row;

/* Whether path names a JSON-lines metrics file: a name ending in .jsonl (else CSV). */
int nnd_metrics_is_json(const char *path);

/* The step file of path: ".steps" before its extension (m.csv: m.steps.csv). */
void nnd_metrics_steps_path(const char *path, char *buf, size_t size);

/* Opens path (and its step file when log_steps) for a run starting at step resume_step (0: a
 * fresh run) with steps_per_epoch steps per epoch. */
nnd_status nnd_metrics_open(nnd_metrics *m, const char *path, int log_steps, int regression,
                            uint64_t resume_step, uint64_t steps_per_epoch);
/* Appends one row and flushes it (safe on a metrics file never opened: does nothing). */
void nnd_metrics_write(nnd_metrics *m, const nnd_metrics_row *row);
void nnd_metrics_write_step(nnd_metrics *m, const nnd_metrics_step_row *row);
/* Closes the files; NND_ERR_IO naming the file and the cause when a write failed. */
nnd_status nnd_metrics_close(nnd_metrics *m);

#endif
