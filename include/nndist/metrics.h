/* The metrics CSV of `nndist train --metrics FILE`: a header, then one row per epoch (columns in
 * docs/file-formats.md). Written by rank 0 only.
 *
 * A fresh run starts the file anew. A resumed run keeps the rows up to the step it resumes from
 * and drops the later ones, which the interrupted run wrote after its checkpoint and the resumed
 * run writes again, so every step appears once. A write that fails (a full file system) is
 * remembered and reported by nnd_metrics_close, so the run ends with an error instead of a
 * silently short file. */
#ifndef NNDIST_METRICS_H
#define NNDIST_METRICS_H

#include <stdint.h>
#include <stdio.h>

#include "nndist/error.h"

typedef struct {
    FILE *f;
    const char *path; /* borrowed */
    int err;          /* errno of the first failed write, 0 when none */
} nnd_metrics;

typedef struct {
    uint64_t step, epoch;
    double lr, train_loss, train_acc;
    int has_val;
    double val_loss, val_acc;
    double samples, samples_per_s;
    double compute_s, allreduce_s, update_s, io_s, forward_s;
} nnd_metrics_row;

/* Opens path for a run starting at step resume_step (0: a fresh run). */
nnd_status nnd_metrics_open(nnd_metrics *m, const char *path, uint64_t resume_step);
/* Appends one row and flushes it (safe on a metrics file never opened: does nothing). */
void nnd_metrics_write(nnd_metrics *m, const nnd_metrics_row *row);
/* Closes the file; NND_ERR_IO naming the file and the cause when a write failed. */
nnd_status nnd_metrics_close(nnd_metrics *m);

#endif
