/* Checkpoints and model files (docs/design.md: "Files a user sees", invariant 5).
 *
 * Layout:
 *   /model/layer_<i>/W   float32 (out, in)   torch.nn.Linear's layout
 *   /model/layer_<i>/b   float32 (out)
 *   /optimizer/<state>/layer_<i>/{W,b}       optimizer state per parameter tensor, named like
 *                                           torch.optim's (momentum_buffer, exp_avg, ...)
 *   /standardize/{mean,std} float32 (features)  the input standardization, when the model has
 *                                           one (train --standardize; model.h)
 * Every tensor carries a `checksum` attribute (FNV-1a 64 of its float32 bytes), verified on load
 * when present. Root attributes: format = "nndist-checkpoint", format_version, nndist_version,
 * step, epoch, seed, layers (int64 array), activation, activation_param (float64, the
 * parameter of leaky-relu and elu only: activation.h), loss, class_weights (float64, one per
 * output) and label_smoothing (only when the run used them), batch, world_size, units (only
 * when made with --deterministic), run_id, the sums of the epoch in progress and of the
 * --log-every window, and the early-stopping state (best_val, best_step, evals_since_best),
 * run_definition, meta_checksum (over every attribute of the root and /optimizer but itself).
 * /optimizer has name, step and every hyperparameter of that optimizer under torch.optim's argument
 * name (lr, momentum, weight_decay, betas as beta1/beta2, eps, amsgrad, ...: optim.h's table, plus
 * clip_norm), and for nadam mu_product. The state tensor sets depend on the optimizer: sgd and
 * lars momentum_buffer (with momentum); rmsprop square_avg [momentum_buffer] [grad_avg]; adam,
 * adamw exp_avg, exp_avg_sq [max_exp_avg_sq]; adamax exp_avg, exp_inf; nadam, lamb exp_avg,
 * exp_avg_sq; adagrad sum; adadelta square_avg, acc_delta.
 * A file holding only /model (written by h5py, PyTorch, ...) is a valid weights file. */
#ifndef NNDIST_CKPT_H
#define NNDIST_CKPT_H

#include <stddef.h>
#include <stdint.h>

#include "nndist/ckpt_image.h"
#include "nndist/error.h"
#include "nndist/model.h"
#include "nndist/optim.h"

#define NND_CKPT_FORMAT      "nndist-checkpoint"
#define NND_CKPT_VERSION     1
#define NND_CKPT_STANDARDIZE "/standardize"
/* Room for a run id (16 hex digits and the terminator) and a run's definition (run_identity.h). */
#define NND_CKPT_RUN_ID_SIZE     17
#define NND_CKPT_DEFINITION_SIZE 1024

typedef struct {
    uint64_t step;  /* optimizer steps completed */
    uint64_t epoch; /* epoch of the next step */
    uint64_t seed;
    uint64_t batch; /* global batch size */
    int world_size;
    int batch_order; /* the batch order (order.h) of the run; 1 in files that do not say */
    uint64_t units;  /* --deterministic's units of samples; 0 (absent) when the mode was off */
    char loss[16];
    /* softmax-ce's options (loss.h): label_smoothing is written when not 0 and read back;
     * class_weights (one per output) is written when not NULL and never read into meta (a load
     * leaves it NULL): nnd_ckpt_read_class_weights reads them. */
    double label_smoothing;
    const double *class_weights;
    char run_id[NND_CKPT_RUN_ID_SIZE];         /* the run this checkpoint belongs to */
    char definition[NND_CKPT_DEFINITION_SIZE]; /* that run's settings (run_identity.h) */
    char slurm_job_id[32];       /* SLURM_JOB_ID of the run that wrote it; empty outside SLURM */
    int64_t slurm_restart_count; /* SLURM_RESTART_COUNT (0 on the first run of a job) */
    /* The sums over the steps of the epoch in progress (the loss, correct predictions,
     * samples), so that a resumed epoch reports what an uninterrupted one would; written and
     * read when has_epoch_sums. */
    int has_epoch_sums;
    double epoch_loss_sum, epoch_correct, epoch_samples;
    /* The same sums over the steps since the last --log-every row; when has_window_sums. */
    int has_window_sums;
    double window_loss_sum, window_correct, window_samples;
    /* Early stopping and --save-best: the best validation metric so far (accuracy, or the
     * loss for mse), the step it was reached at and the evaluations since; when has_best. */
    int has_best;
    double best_val;
    uint64_t best_step, evals_since_best;
} nnd_ckpt_meta;

/* Writes path atomically (atomic_file.h: <path>.<pid>.tmp, fsync, rename over path, fsync the
 * directory). A failure before the rename leaves the previous file at path untouched and removes
 * the temporary. o may be NULL (weights only); meta may be NULL (a bare model file). Refuses to
 * write non-finite weights. */
nnd_status nnd_ckpt_save(const char *path, const nnd_model *m, const nnd_optim *o,
                         const nnd_ckpt_meta *meta);
/* nnd_ckpt_save in two halves: the file built in img's buffer (the same checks; path only
 * names the file in messages), then written by nnd_ckpt_image_write (ckpt_image.h), perhaps on
 * another thread. img's buffer is reused from one call to the next. */
nnd_status nnd_ckpt_build(nnd_ckpt_image *img, const char *path, const nnd_model *m,
                          const nnd_optim *o, const nnd_ckpt_meta *meta);

/* Reads the layer sizes from the shapes under /model, and the activation attribute when the file
 * has one (act_found = 0 otherwise) with its parameter into *act_param (may be NULL): the
 * file's activation_param, or the activation's default when the file has none (older files);
 * a parameter the activation cannot use is refused. */
nnd_status nnd_ckpt_probe(const char *path, size_t *sizes, int *n_layers, nnd_activation *act,
                          int *act_found, double *act_param);

/* The file's normalization of the hidden layers (its norm attribute; none without one). */
nnd_status nnd_ckpt_probe_norm(const char *path, nnd_norm_kind *norm);

/* Loads the weights into m, whose sizes must match the file's (the message says what differs).
 * With o != NULL the optimizer state is loaded too: the file must hold state of the same
 * optimizer. meta (may be NULL) receives the root attributes (zeroed when absent). */
nnd_status nnd_ckpt_load(const char *path, nnd_model *m, nnd_optim *o, nnd_ckpt_meta *meta);

/* Reads the class_weights attribute (k float64, one per output) into out: *found = 1; a file
 * without one: *found = 0, NND_OK. One that is not k positive finite numbers is refused. */
nnd_status nnd_ckpt_read_class_weights(const char *path, size_t k, double *out, int *found);

/* Reads the run_id attribute of the checkpoint at path into buf: 0; 1 when the file has none
 * (written before run ids); -1 when it cannot be read. buf is "" unless 0. */
int nnd_ckpt_read_run_id(const char *path, char *buf, size_t size);

#endif
