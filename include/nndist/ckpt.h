/* Checkpoints and model files (docs/design.md: "Files a user sees", invariant 5).
 *
 * Layout:
 *   /model/layer_<i>/W   float32 (out, in)   torch.nn.Linear's layout
 *   /model/layer_<i>/b   float32 (out)
 *   /optimizer/<state>/layer_<i>/{W,b}       optimizer state per parameter tensor, named like
 *                                           torch.optim's (momentum_buffer, exp_avg, ...)
 * Every tensor carries a `checksum` attribute (FNV-1a 64 of its float32 bytes), verified on load
 * when present. Root attributes: format = "nndist-checkpoint", format_version, nndist_version,
 * step, epoch, seed, layers (int64 array), activation, loss, batch, world_size. /optimizer has
 * name, step and every hyperparameter of that optimizer under torch.optim's argument name (lr,
 * momentum, weight_decay, betas as beta1/beta2, eps, amsgrad, ...: optim.h's table, plus
 * clip_norm), and for nadam mu_product. The state tensor sets depend on the optimizer: sgd and
 * lars momentum_buffer (with momentum); rmsprop square_avg [momentum_buffer] [grad_avg]; adam,
 * adamw exp_avg, exp_avg_sq [max_exp_avg_sq]; adamax exp_avg, exp_inf; nadam, lamb exp_avg,
 * exp_avg_sq; adagrad sum; adadelta square_avg, acc_delta.
 * A file holding only /model (written by h5py, PyTorch, ...) is a valid weights file. */
#ifndef NNDIST_CKPT_H
#define NNDIST_CKPT_H

#include <stddef.h>
#include <stdint.h>

#include "nndist/error.h"
#include "nndist/model.h"
#include "nndist/optim.h"

#define NND_CKPT_FORMAT  "nndist-checkpoint"
#define NND_CKPT_VERSION 1

typedef struct {
    uint64_t step;  /* optimizer steps completed */
    uint64_t epoch; /* epoch of the next step */
    uint64_t seed;
    uint64_t batch; /* global batch size */
    int world_size;
    char loss[16];
    char slurm_job_id[32];       /* SLURM_JOB_ID of the run that wrote it; empty outside SLURM */
    int64_t slurm_restart_count; /* SLURM_RESTART_COUNT (0 on the first run of a job) */
} nnd_ckpt_meta;

/* Writes path atomically (atomic_file.h: <path>.<pid>.tmp, fsync, rename over path, fsync the
 * directory). A failure before the rename leaves the previous file at path untouched and removes
 * the temporary. o may be NULL (weights only); meta may be NULL (a bare model file). Refuses to
 * write non-finite weights. */
nnd_status nnd_ckpt_save(const char *path, const nnd_model *m, const nnd_optim *o,
                         const nnd_ckpt_meta *meta);

/* Reads the layer sizes from the shapes under /model, and the activation attribute when the file
 * has one (act_found = 0 otherwise). */
nnd_status nnd_ckpt_probe(const char *path, size_t *sizes, int *n_layers, nnd_activation *act,
                          int *act_found);

/* Loads the weights into m, whose sizes must match the file's (the message says what differs).
 * With o != NULL the optimizer state is loaded too: the file must hold state of the same
 * optimizer. meta (may be NULL) receives the root attributes (zeroed when absent). */
nnd_status nnd_ckpt_load(const char *path, nnd_model *m, nnd_optim *o, nnd_ckpt_meta *meta);

/* Checkpoint directories: files ckpt-<step, 12 digits>.h5. */
void nnd_ckpt_path(char *buf, size_t size, const char *dir, uint64_t step);
/* Creates dir when missing and removes stale ckpt-*.tmp files left by an interrupted write. */
nnd_status nnd_ckpt_dir_prepare(const char *dir);
/* Lists the checkpoint steps in dir, newest first; returns the count (at most max). */
int nnd_ckpt_list(const char *dir, uint64_t *steps, int max);
/* Deletes all but the newest `keep` checkpoints (keep >= 1). */
void nnd_ckpt_retain(const char *dir, int keep);

#endif
