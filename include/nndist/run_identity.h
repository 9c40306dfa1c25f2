/* What makes a checkpoint this run's: a run id and the run's definition.
 *
 * The run id is 16 random hex digits made when a run starts fresh and kept by every resume, so
 * each checkpoint names the run it belongs to and retention deletes only the run's own files.
 * The definition is everything a resumed run must share with the run it continues for the
 * result to be that run's: the data (file name, samples, features, the dataset names), the
 * loss, the batch order (seed, global batch, shuffling), the model, the optimizer with every
 * hyperparameter, and the schedule; not the run's length, the rank count or the output files.
 * It is a line of key=value words, stored in the checkpoint, so a mismatch is named by its key. */
#ifndef NNDIST_RUN_IDENTITY_H
#define NNDIST_RUN_IDENTITY_H

#include <stddef.h>
#include <stdint.h>

#include "nndist/ckpt.h"
#include "nndist/data.h"
#include "nndist/error.h"
#include "nndist/train_config.h"

/* A fresh run id: 16 hex digits from the kernel's random source (size >= 17). */
void nnd_run_new_id(char *buf, size_t size);

/* The definition of a run of cfg (at most NND_CKPT_DEFINITION_SIZE bytes are kept) over a dataset
 * of this shape with this global batch and batch order (order.h; "batch-order=V" is a word of
 * the definition from order 2 on, so that definitions written before orders had versions read
 * as order 1). */
void nnd_run_definition(char *buf, size_t size, const nnd_train_config *cfg,
                        const nnd_data_shape *shape, uint64_t global_batch, int batch_order);

/* NND_OK when the definition stored in the checkpoint at path equals this run's; otherwise
 * NND_ERR_MISMATCH with a message naming the first key that differs and both values. A
 * checkpoint without a definition (written before they were recorded) is accepted. */
nnd_status nnd_run_definition_check(const char *path, const char *stored, const char *ours);
/* 1 when two definitions differ; the first key of ours whose value differs goes to key, with
 * both values (key "" when they differ only in keys ours lacks). */
int nnd_run_definition_differ(const char *stored, const char *ours, char *key, size_t ksize,
                              char *theirs, size_t tsize, char *mine, size_t msize);

/* Refuses a checkpoint directory that holds another run's checkpoints: any readable one whose
 * run id differs from run_id, or that has none (written before run ids) unless accept_legacy
 * (NND_ERR_USAGE, naming the newest such file and how to go on). Unreadable files are damage,
 * not another run's. */
nnd_status nnd_run_check_directory(const char *dir, const char *run_id, int accept_legacy);

#endif
