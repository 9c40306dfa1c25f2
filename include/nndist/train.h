/* The run loop of `nndist train`: epochs of steps, logs and metrics, checkpoints, resume, the
 * final model. */
#ifndef NNDIST_TRAIN_H
#define NNDIST_TRAIN_H

#include "nndist/comm.h"
#include "nndist/error.h"
#include "nndist/train_config.h"

/* Collective: trains as configured. Returns the agreed status (same on every rank); rank 0 has
 * printed progress, rank 0's nnd_err_msg() holds the failure. */
nnd_status nnd_train_run(const nnd_train_config *cfg, const nnd_comm *c);

#endif
