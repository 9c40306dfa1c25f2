/* Resuming a session from the newest checkpoint of a directory that verifies: train's
 * --resume auto, and a sweep's running fold. */
#ifndef NNDIST_RESUME_H
#define NNDIST_RESUME_H

#include <stddef.h>

#include "nndist/ckpt.h"
#include "nndist/error.h"
#include "nndist/trainer.h"

/* A caller's own check of a checkpoint that loaded and verified (is it this run's?):
 * NND_ERR_MISMATCH refuses it and ends the search; another failure skips it as damaged. */
typedef nnd_status (*nnd_resume_accept_fn)(void *ctx, const char *path, const nnd_ckpt_meta *meta);

/* Collective over t's ranks. Rank 0 tries the checkpoints of dir newest first and takes the
 * first that loads and verifies and that accept (when not NULL) takes; a damaged one is skipped
 * with a note naming it; a checkpoint of another model, or one accept refuses, ends the search
 * with NND_ERR_MISMATCH on every rank.
 * Every rank then holds the checkpoint's weights, optimizer state and step, its path and *meta.
 * *found = 0: the directory holds none (a fresh start). */
nnd_status nnd_resume_newest(nnd_trainer *t, const char *dir, nnd_resume_accept_fn accept,
                             void *ctx, char *path, size_t size, nnd_ckpt_meta *meta, int *found);

#endif
