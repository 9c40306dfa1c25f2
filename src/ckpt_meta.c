/* A checkpoint's root attributes (ckpt.h): written from nnd_ckpt_meta and read back into it,
 * and softmax-ce's class weights, read on their own (their count is the model's). */
#include "ckpt_internal.h"

#include <math.h>
#include <string.h>

#include "nndist/h5util.h"
#include "nndist/version.h"

int nnd_ckpt_write_root_attrs(hid_t f, const nnd_model *m, const nnd_ckpt_meta *meta)
{
    hid_t root = H5Gopen2(f, "/", H5P_DEFAULT);
    int64_t layers[NND_MAX_LAYERS + 1];
    for (int l = 0; l <= m->n_layers; l++) layers[l] = (int64_t)m->sizes[l];
    int rc = 0;
    rc |= nnd_h5_attr_write_str(root, "format", NND_CKPT_FORMAT);
    rc |= nnd_h5_attr_write_i64(root, "format_version", NND_CKPT_VERSION);
    rc |= nnd_h5_attr_write_str(root, "nndist_version", NNDIST_VERSION);
    rc |= nnd_h5_attr_write_i64s(root, "layers", layers, (size_t)m->n_layers + 1);
    rc |= nnd_h5_attr_write_str(root, "activation", nnd_activation_name(m->act));
    if (nnd_activation_param_flag(m->act))
        rc |= nnd_h5_attr_write_f64(root, "activation_param", m->act_param);
    if (m->norm != NND_NORM_NONE) rc |= nnd_h5_attr_write_str(root, "norm", nnd_norm_name(m->norm));
    if (meta) {
        rc |= nnd_h5_attr_write_u64(root, "step", meta->step);
        rc |= nnd_h5_attr_write_u64(root, "epoch", meta->epoch);
        rc |= nnd_h5_attr_write_u64(root, "seed", meta->seed);
        rc |= nnd_h5_attr_write_u64(root, "batch", meta->batch);
        rc |= nnd_h5_attr_write_i64(root, "world_size", meta->world_size);
        if (meta->batch_order > 1) /* order 1 files stay as they were before orders had versions */
            rc |= nnd_h5_attr_write_i64(root, "batch_order", meta->batch_order);
        if (meta->units) rc |= nnd_h5_attr_write_u64(root, "units", meta->units);
        rc |= nnd_h5_attr_write_str(root, "loss", meta->loss);
        if (meta->class_weights)
            rc |= nnd_h5_attr_write_f64s(root, "class_weights", meta->class_weights,
                                         m->sizes[m->n_layers]);
        if (meta->label_smoothing != 0.0)
            rc |= nnd_h5_attr_write_f64(root, "label_smoothing", meta->label_smoothing);
        if (meta->run_id[0]) rc |= nnd_h5_attr_write_str(root, "run_id", meta->run_id);
        if (meta->definition[0])
            rc |= nnd_h5_attr_write_str(root, "run_definition", meta->definition);
        if (meta->slurm_job_id[0]) {
            rc |= nnd_h5_attr_write_str(root, "slurm_job_id", meta->slurm_job_id);
            rc |= nnd_h5_attr_write_i64(root, "slurm_restart_count", meta->slurm_restart_count);
        }
        if (meta->has_epoch_sums) {
            rc |= nnd_h5_attr_write_f64(root, "epoch_loss_sum", meta->epoch_loss_sum);
            rc |= nnd_h5_attr_write_f64(root, "epoch_correct", meta->epoch_correct);
            rc |= nnd_h5_attr_write_f64(root, "epoch_samples", meta->epoch_samples);
        }
        if (meta->has_window_sums) {
            rc |= nnd_h5_attr_write_f64(root, "window_loss_sum", meta->window_loss_sum);
            rc |= nnd_h5_attr_write_f64(root, "window_correct", meta->window_correct);
            rc |= nnd_h5_attr_write_f64(root, "window_samples", meta->window_samples);
        }
        if (meta->has_best) {
            rc |= nnd_h5_attr_write_f64(root, "best_val", meta->best_val);
            rc |= nnd_h5_attr_write_u64(root, "best_step", meta->best_step);
            rc |= nnd_h5_attr_write_u64(root, "evals_since_best", meta->evals_since_best);
        }
    }
    H5Gclose(root);
    return rc;
}

void nnd_ckpt_read_root_attrs(hid_t f, nnd_ckpt_meta *meta)
{
    memset(meta, 0, sizeof *meta);
    int64_t ws = 0;
    nnd_h5_attr_read_u64(f, "step", &meta->step);
    nnd_h5_attr_read_u64(f, "epoch", &meta->epoch);
    nnd_h5_attr_read_u64(f, "seed", &meta->seed);
    nnd_h5_attr_read_u64(f, "batch", &meta->batch);
    if (nnd_h5_attr_read_i64(f, "world_size", &ws) == 0) meta->world_size = (int)ws;
    int64_t order = 1; /* written before orders had versions */
    nnd_h5_attr_read_i64(f, "batch_order", &order);
    meta->batch_order = order >= 1 && order <= 64 ? (int)order : 0;
    nnd_h5_attr_read_u64(f, "units", &meta->units);
    nnd_h5_attr_read_str(f, "loss", meta->loss, sizeof meta->loss);
    nnd_h5_attr_read_f64(f, "label_smoothing", &meta->label_smoothing);
    nnd_h5_attr_read_str(f, "run_id", meta->run_id, sizeof meta->run_id);
    nnd_h5_attr_read_str(f, "run_definition", meta->definition, sizeof meta->definition);
    nnd_h5_attr_read_str(f, "slurm_job_id", meta->slurm_job_id, sizeof meta->slurm_job_id);
    nnd_h5_attr_read_i64(f, "slurm_restart_count", &meta->slurm_restart_count);
    meta->has_epoch_sums = nnd_h5_attr_read_f64(f, "epoch_loss_sum", &meta->epoch_loss_sum) == 0 &&
                           nnd_h5_attr_read_f64(f, "epoch_correct", &meta->epoch_correct) == 0 &&
                           nnd_h5_attr_read_f64(f, "epoch_samples", &meta->epoch_samples) == 0;
    meta->has_window_sums =
        nnd_h5_attr_read_f64(f, "window_loss_sum", &meta->window_loss_sum) == 0 &&
        nnd_h5_attr_read_f64(f, "window_correct", &meta->window_correct) == 0 &&
        nnd_h5_attr_read_f64(f, "window_samples", &meta->window_samples) == 0;
    meta->has_best = nnd_h5_attr_read_f64(f, "best_val", &meta->best_val) == 0 &&
                     nnd_h5_attr_read_u64(f, "best_step", &meta->best_step) == 0 &&
                     nnd_h5_attr_read_u64(f, "evals_since_best", &meta->evals_since_best) == 0;
}

nnd_status nnd_ckpt_read_class_weights(const char *path, size_t k, double *out, int *found)
{
    nnd_h5_quiet q;
    hid_t f;
    *found = 0;
    nnd_status st = nnd_h5_open_read(path, &f, &q);
    if (st) return st;
    int rc = nnd_h5_attr_read_f64s(f, "class_weights", out, k);
    for (size_t j = 0; rc == 0 && j < k; j++)
        if (!isfinite(out[j]) || !(out[j] > 0.0)) rc = -2;
    if (rc == -2)
        st = nnd_err_set(NND_ERR_INPUT,
                         "%s: its class_weights attribute is not %zu positive finite numbers (one "
                         "per output of the model)",
                         path, k);
    *found = rc == 0;
    nnd_h5_close(f, &q);
    return st;
}
