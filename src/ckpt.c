#include "nndist/ckpt.h"

#include <dirent.h>
#include <hdf5.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "nndist/h5util.h"

#include "ckpt_internal.h"

/* ---- writing ---- */

/* Creates every missing group of a slash-separated path below the file root. */
static hid_t make_groups(hid_t f, const char *path)
{
    char buf[256];
    snprintf(buf, sizeof buf, "%s", path);
    for (char *p = buf + 1;; p++) {
        if (*p != '/' && *p != '\0') continue;
        char save = *p;
        *p = '\0';
        if (H5Lexists(f, buf, H5P_DEFAULT) <= 0) {
            hid_t g = H5Gcreate2(f, buf, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
            if (g < 0) return H5I_INVALID_HID;
            H5Gclose(g);
        }
        *p = save;
        if (save == '\0') break;
    }
    return H5Gopen2(f, buf, H5P_DEFAULT);
}

/* Writes a float32 tensor of rank 1 or 2 with its checksum attribute. */
static int write_tensor(hid_t group, const char *name, const float *data, hsize_t rows,
                        hsize_t cols)
{
    hsize_t dims[2] = {rows, cols};
    int rank = cols ? 2 : 1;
    hid_t sp = H5Screate_simple(rank, dims, NULL);
    hid_t d = H5Dcreate2(group, name, H5T_IEEE_F32LE, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    int rc = -1;
    if (d >= 0 && H5Dwrite(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) >= 0) {
        size_t bytes = (size_t)rows * (cols ? cols : 1) * sizeof(float);
        rc = nnd_h5_attr_write_u64(d, "checksum", nnd_fnv1a64(data, bytes));
    }
    if (d >= 0) H5Dclose(d);
    H5Sclose(sp);
    return rc;
}

/* Writes the tensors of a buffer with the model's layout under prefix (e.g. "/model"). */
static int write_layers(hid_t f, const char *prefix, const nnd_model *m, const float *buf)
{
    for (int l = 0; l < m->n_layers; l++) {
        char gname[192];
        snprintf(gname, sizeof gname, "%s/layer_%d", prefix, l);
        hid_t g = make_groups(f, gname);
        if (g < 0) return -1;
        int rc = write_tensor(g, "W", buf + m->w_off[l], m->sizes[l + 1], m->sizes[l]);
        if (rc == 0) rc = write_tensor(g, "b", buf + m->b_off[l], m->sizes[l + 1], 0);
        if (rc == 0 && m->norm != NND_NORM_NONE && l + 1 < m->n_layers) {
            rc = write_tensor(g, "gamma", buf + m->g_off[l], m->sizes[l + 1], 0);
            if (rc == 0) rc = write_tensor(g, "beta", buf + m->be_off[l], m->sizes[l + 1], 0);
        }
        /* batch norm's running statistics: the model's, not the optimizer's */
        if (rc == 0 && buf == m->params && m->running && l + 1 < m->n_layers) {
            rc = write_tensor(g, "running_mean", m->running_mean[l], m->sizes[l + 1], 0);
            if (rc == 0) rc = write_tensor(g, "running_var", m->running_var[l], m->sizes[l + 1], 0);
        }
        H5Gclose(g);
        if (rc) return -1;
    }
    return 0;
}

static int write_optimizer(hid_t f, const nnd_model *m, const nnd_optim *o)
{
    hid_t g = make_groups(f, "/optimizer");
    if (g < 0) return -1;
    int rc = 0;
    rc |= nnd_h5_attr_write_str(g, "name", o->cfg.name);
    rc |= nnd_h5_attr_write_u64(g, "step", o->step);
    /* Every hyperparameter of this optimizer, under torch.optim's argument name. */
    size_t np;
    const nnd_optim_param *params = nnd_optim_params(&np);
    for (size_t i = 0; i < np; i++) {
        const nnd_optim_param *p = &params[i];
        if (!nnd_optim_param_applies(p, o->cfg.kind)) continue;
        double v = nnd_optim_param_get(&o->cfg, p);
        if (p->is_switch)
            rc |= nnd_h5_attr_write_i64(g, p->attr, (int64_t)v);
        else
            rc |= nnd_h5_attr_write_f64(g, p->attr, v);
    }
    /* nadam's scalar state (torch keeps one per tensor; ours are all equal). Informational:
     * it is a pure function of the step, which every rank recomputes after a load. */
    if (o->cfg.kind == NND_OPTIM_NADAM)
        rc |= nnd_h5_attr_write_f64(g, "mu_product", nnd_optim_nadam_mu_product(&o->cfg, o->step));
    H5Gclose(g);
    for (int s = 0; s < o->n_state && rc == 0; s++) {
        char prefix[96];
        snprintf(prefix, sizeof prefix, "/optimizer/%s", o->state_name[s]);
        rc = write_layers(f, prefix, m, o->state[s]);
    }
    return rc;
}

/* /standardize/{mean,std}: the input standardization (model.h), when the model has one. */
static int write_standardization(hid_t f, const nnd_model *m)
{
    hid_t g = make_groups(f, NND_CKPT_STANDARDIZE);
    if (g < 0) return -1;
    int rc = write_tensor(g, "mean", m->in_mean, m->sizes[0], 0);
    if (rc == 0) rc = write_tensor(g, "std", m->in_std, m->sizes[0], 0);
    H5Gclose(g);
    return rc;
}

/* The checksum of the file's metadata: every attribute of the root and of /optimizer (the step,
 * the seed, the run's identity, the hyperparameters, ...) but the checksum itself, so that a
 * damaged step or setting is found as damage, like a damaged tensor. */
#define META_CHECKSUM "meta_checksum"

static int attrs_checksum(hid_t f, uint64_t *sum)
{
    *sum = nnd_fnv1a64(NULL, 0);
    hid_t root = H5Gopen2(f, "/", H5P_DEFAULT);
    if (root < 0) return -1;
    int rc = nnd_h5_attrs_checksum(root, META_CHECKSUM, sum);
    H5Gclose(root);
    if (rc == 0 && nnd_h5_exists(f, "optimizer")) {
        hid_t g = H5Gopen2(f, "/optimizer", H5P_DEFAULT);
        rc = g >= 0 ? nnd_h5_attrs_checksum(g, META_CHECKSUM, sum) : -1;
        if (g >= 0) H5Gclose(g);
    }
    return rc;
}

/* Builds the whole HDF5 file in img's buffer. Returns 0, or -1 on failure. */
static int build_image(nnd_ckpt_image *img, const nnd_model *m, const nnd_optim *o,
                       const nnd_ckpt_meta *meta)
{
    /* The tensors, and room for the groups and attributes around them. */
    size_t tensors = m->n_params * (1 + (o ? (size_t)o->n_state : 0)) * sizeof(float);
    if (m->in_mean) tensors += 2 * m->sizes[0] * sizeof(float);
    hid_t f = nnd_ckpt_image_create(img, tensors + (1 << 20));
    if (f < 0) return -1;
    int rc = nnd_ckpt_write_root_attrs(f, m, meta);
    if (rc == 0) rc = write_layers(f, "/model", m, m->params);
    if (rc == 0 && m->in_mean) rc = write_standardization(f, m);
    if (rc == 0 && o) rc = write_optimizer(f, m, o);
    uint64_t sum;
    if (rc == 0) rc = attrs_checksum(f, &sum);
    if (rc == 0) {
        hid_t root = H5Gopen2(f, "/", H5P_DEFAULT);
        rc = nnd_h5_attr_write_u64(root, META_CHECKSUM, sum);
        H5Gclose(root);
    }
    if (rc != 0) {
        H5Fclose(f);
        return -1;
    }
    return nnd_ckpt_image_finish(img, f);
}

/* The name of an optimizer state buffer holding a NaN or Inf, or NULL. */
static const char *nonfinite_state(const nnd_optim *o)
{
    for (int s = 0; s < o->n_state; s++)
        for (size_t i = 0; i < o->n; i++)
            if (!isfinite(o->state[s][i])) return o->state_name[s];
    return NULL;
}

nnd_status nnd_ckpt_build(nnd_ckpt_image *img, const char *path, const nnd_model *m,
                          const nnd_optim *o, const nnd_ckpt_meta *meta)
{
    if (o && !nnd_optim_state_whole(o))
        return nnd_err_set(NND_ERR_INTERNAL, "%s: not written: the optimizer holds a shard only",
                           path);
    if (!nnd_model_params_finite(m))
        return nnd_err_set(NND_ERR_NUMERIC, "%s: not written: the model holds non-finite weights",
                           path);
    const char *bad = o ? nonfinite_state(o) : NULL;
    if (bad)
        return nnd_err_set(NND_ERR_NUMERIC,
                           "%s: not written: the optimizer's %s holds non-finite values", path,
                           bad);
    /* The file is built in memory and written with plain write(): a full disk then surfaces as
     * ENOSPC from our own call, and HDF5 never holds a half-written file open (libhdf5 1.10
     * crashes at exit after a failed H5Fclose). */
    nnd_h5_quiet q;
    nnd_h5_silence(&q);
    int rc = build_image(img, m, o, meta);
    nnd_h5_restore(&q);
    if (rc != 0)
        return nnd_err_set(NND_ERR_NOMEM, "%s: cannot build the checkpoint in memory", path);
    return NND_OK;
}

nnd_status nnd_ckpt_save(const char *path, const nnd_model *m, const nnd_optim *o,
                         const nnd_ckpt_meta *meta)
{
    nnd_ckpt_image img = {0};
    nnd_status st = nnd_ckpt_build(&img, path, m, o, meta);
    if (!st) st = nnd_ckpt_image_write(&img, path);
    nnd_ckpt_image_free(&img);
    return st;
}

/* ---- reading ---- */

/* Reads the shape of a tensor; returns its rank, or -1 when missing. */
static int tensor_shape(hid_t f, const char *name, hsize_t dims[2])
{
    if (!nnd_h5_exists(f, name)) return -1;
    hid_t d = H5Dopen2(f, name, H5P_DEFAULT);
    if (d < 0) return -1;
    hid_t sp = H5Dget_space(d);
    int rank = H5Sget_simple_extent_ndims(sp);
    dims[0] = dims[1] = 0;
    if (rank >= 1 && rank <= 2) H5Sget_simple_extent_dims(sp, dims, NULL);
    H5Sclose(sp);
    H5Dclose(d);
    return rank;
}

nnd_status nnd_ckpt_probe(const char *path, size_t *sizes, int *n_layers, nnd_activation *act,
                          int *act_found, double *act_param)
{
    nnd_h5_quiet q;
    hid_t f;
    nnd_status st = nnd_h5_open_read(path, &f, &q);
    if (st) return st;
    int n = 0;
    for (;; n++) {
        char name[64];
        hsize_t dims[2];
        snprintf(name, sizeof name, "/model/layer_%d/W", n);
        int rank = tensor_shape(f, name, dims);
        if (rank < 0) break;
        if (rank != 2 || n >= NND_MAX_LAYERS) {
            st = nnd_err_set(NND_ERR_INPUT, "%s: %s must be a 2-D (out, in) array", path, name);
            goto out;
        }
        if (n > 0 && dims[1] != sizes[n]) {
            st = nnd_err_set(NND_ERR_INPUT, "%s: %s has %llu inputs but layer_%d has %zu outputs",
                             path, name, (unsigned long long)dims[1], n - 1, sizes[n]);
            goto out;
        }
        sizes[n] = (size_t)dims[1];
        sizes[n + 1] = (size_t)dims[0];
    }
    if (n == 0) {
        st = nnd_err_set(NND_ERR_INPUT,
                         "%s: no /model/layer_0/W; expected a model or checkpoint "
                         "file",
                         path);
        goto out;
    }
    *n_layers = n;
    *act_found = 0;
    char buf[32];
    if (nnd_h5_attr_read_str(f, "activation", buf, sizeof buf) == 0) {
        if (nnd_activation_parse(buf, act) != 0) {
            st = nnd_err_set(NND_ERR_INPUT, "%s: unknown activation '%s'", path, buf);
            goto out;
        }
        *act_found = 1;
        /* the parameter of leaky-relu and elu; a file without one has the default */
        double p = nnd_activation_default_param(*act);
        const char *why = NULL;
        if (nnd_activation_param_flag(*act) &&
            nnd_h5_attr_read_f64(f, "activation_param", &p) == 0 &&
            (why = nnd_activation_param_problem(*act, p))) {
            st = nnd_err_set(NND_ERR_INPUT, "%s: activation_param %g of %s is not usable: %s", path,
                             p, buf, why);
            goto out;
        }
        if (act_param) *act_param = p;
    }
out:
    nnd_h5_close(f, &q);
    return st;
}

nnd_status nnd_ckpt_probe_norm(const char *path, nnd_norm_kind *norm)
{
    nnd_h5_quiet q;
    hid_t f;
    nnd_status st = nnd_h5_open_read(path, &f, &q);
    if (st) return st;
    char buf[32];
    *norm = NND_NORM_NONE;
    if (nnd_h5_attr_read_str(f, "norm", buf, sizeof buf) == 0 && nnd_norm_parse(buf, norm) != 0)
        st = nnd_err_set(NND_ERR_INPUT, "%s: unknown norm '%s' (expected layer or batch)", path,
                         buf);
    nnd_h5_close(f, &q);
    return st;
}

/* Reads a tensor of exactly (rows, cols) (cols == 0: 1-D) and verifies its checksum. */
static nnd_status read_tensor(hid_t f, const char *path, const char *name, float *out, hsize_t rows,
                              hsize_t cols)
{
    hsize_t dims[2];
    int rank = tensor_shape(f, name, dims);
    if (rank < 0) return nnd_err_set(NND_ERR_MISMATCH, "%s: %s is missing", path, name);
    int want = cols ? 2 : 1;
    if (rank != want || dims[0] != rows || (cols && dims[1] != cols)) {
        char have[64], exp[64];
        if (rank == 2)
            snprintf(have, sizeof have, "(%llu, %llu)", (unsigned long long)dims[0],
                     (unsigned long long)dims[1]);
        else
            snprintf(have, sizeof have, "(%llu)", (unsigned long long)dims[0]);
        if (cols)
            snprintf(exp, sizeof exp, "(%llu, %llu)", (unsigned long long)rows,
                     (unsigned long long)cols);
        else
            snprintf(exp, sizeof exp, "(%llu)", (unsigned long long)rows);
        return nnd_err_set(NND_ERR_MISMATCH, "%s: %s has shape %s; the model needs %s", path, name,
                           have, exp);
    }
    hid_t d = H5Dopen2(f, name, H5P_DEFAULT);
    herr_t rc = H5Dread(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, out);
    uint64_t want_sum = 0;
    int has_sum = nnd_h5_attr_read_u64(d, "checksum", &want_sum) == 0;
    H5Dclose(d);
    if (rc < 0) return nnd_err_set(NND_ERR_INPUT, "%s: cannot read %s (damaged file?)", path, name);
    size_t bytes = (size_t)rows * (cols ? cols : 1) * sizeof(float);
    if (has_sum && nnd_fnv1a64(out, bytes) != want_sum)
        return nnd_err_set(NND_ERR_INPUT, "%s: %s fails its checksum (damaged file)", path, name);
    return NND_OK;
}

static nnd_status read_layers(hid_t f, const char *path, const char *prefix, const nnd_model *m,
                              float *buf)
{
    for (int l = 0; l < m->n_layers; l++) {
        char name[192];
        snprintf(name, sizeof name, "%s/layer_%d/W", prefix, l);
        nnd_status st = read_tensor(f, path, name, buf + m->w_off[l], m->sizes[l + 1], m->sizes[l]);
        if (st) return st;
        snprintf(name, sizeof name, "%s/layer_%d/b", prefix, l);
        if ((st = read_tensor(f, path, name, buf + m->b_off[l], m->sizes[l + 1], 0))) return st;
        if (m->norm == NND_NORM_NONE || l + 1 == m->n_layers) continue;
        snprintf(name, sizeof name, "%s/layer_%d/gamma", prefix, l);
        if ((st = read_tensor(f, path, name, buf + m->g_off[l], m->sizes[l + 1], 0))) return st;
        snprintf(name, sizeof name, "%s/layer_%d/beta", prefix, l);
        if ((st = read_tensor(f, path, name, buf + m->be_off[l], m->sizes[l + 1], 0))) return st;
        if (buf != m->params || !m->running) continue;
        snprintf(name, sizeof name, "%s/layer_%d/running_mean", prefix, l);
        if ((st = read_tensor(f, path, name, m->running_mean[l], m->sizes[l + 1], 0))) return st;
        snprintf(name, sizeof name, "%s/layer_%d/running_var", prefix, l);
        if ((st = read_tensor(f, path, name, m->running_var[l], m->sizes[l + 1], 0))) return st;
    }
    return NND_OK;
}

/* The file's standardization into m (allocated); a file without one leaves m without. */
static nnd_status read_standardization(hid_t f, const char *path, nnd_model *m)
{
    nnd_model_drop_standardization(m);
    if (!nnd_h5_exists(f, NND_CKPT_STANDARDIZE)) return NND_OK;
    nnd_status st = nnd_model_alloc_standardization(m);
    if (!st) st = read_tensor(f, path, NND_CKPT_STANDARDIZE "/mean", m->in_mean, m->sizes[0], 0);
    if (!st) st = read_tensor(f, path, NND_CKPT_STANDARDIZE "/std", m->in_std, m->sizes[0], 0);
    for (size_t j = 0; !st && j < m->sizes[0]; j++)
        if (!isfinite(m->in_mean[j]) || !(m->in_std[j] > 0.0f) || !isfinite(m->in_std[j]))
            st = nnd_err_set(NND_ERR_INPUT,
                             "%s: feature %zu's standardization (mean %g, std %g) is not usable; "
                             "expected a finite mean and a finite std > 0",
                             path, j, (double)m->in_mean[j], (double)m->in_std[j]);
    if (st) nnd_model_drop_standardization(m);
    return st;
}

static void layers_text(char *buf, size_t size, const size_t *sizes, int n)
{
    size_t used = 0;
    buf[0] = '\0';
    for (int l = 0; l <= n && used < size; l++)
        used += (size_t)snprintf(buf + used, size - used, "%s%zu", l ? "," : "", sizes[l]);
}

static nnd_status read_optimizer(hid_t f, const char *path, const nnd_model *m, nnd_optim *o)
{
    if (!nnd_h5_exists(f, "/optimizer"))
        return nnd_err_set(NND_ERR_MISMATCH,
                           "%s: holds no optimizer state (a weights-only file);"
                           " start from it with --init instead",
                           path);
    hid_t g = H5Gopen2(f, "/optimizer", H5P_DEFAULT);
    char name[32] = "";
    uint64_t step = 0;
    int ok = nnd_h5_attr_read_str(g, "name", name, sizeof name) == 0 &&
             nnd_h5_attr_read_u64(g, "step", &step) == 0;
    H5Gclose(g);
    if (!ok) return nnd_err_set(NND_ERR_INPUT, "%s: /optimizer lacks its name or step", path);
    if (strcmp(name, o->cfg.name) != 0)
        return nnd_err_set(NND_ERR_MISMATCH,
                           "%s: was made with optimizer '%s', but this run uses "
                           "'%s'; resume with --optimizer %s, or take its weights only with "
                           "--init",
                           path, name, o->cfg.name, name);
    /* The same name with other settings can need other state (sgd with and without momentum). */
    int file_states = 0;
    hid_t og = H5Gopen2(f, "/optimizer", H5P_DEFAULT);
    H5G_info_t ginfo;
    if (H5Gget_info(og, &ginfo) >= 0) file_states = (int)ginfo.nlinks;
    H5Gclose(og);
    if (file_states != o->n_state)
        return nnd_err_set(NND_ERR_MISMATCH,
                           "%s: holds %d optimizer state tensor set(s) but this "
                           "run's %s settings need %d (was --momentum, --centered or --amsgrad "
                           "changed?); resume with the same settings, or take its weights only "
                           "with --init",
                           path, file_states, o->cfg.name, o->n_state);
    for (int s = 0; s < o->n_state; s++) {
        char prefix[96];
        snprintf(prefix, sizeof prefix, "/optimizer/%s", o->state_name[s]);
        if (!nnd_h5_exists(f, prefix))
            return nnd_err_set(NND_ERR_MISMATCH,
                               "%s: has no %s state; it was made with other "
                               "optimizer settings (e.g. --momentum, --centered)",
                               path, o->state_name[s]);
        nnd_status st = read_layers(f, path, prefix, m, o->state[s]);
        if (st) return st;
    }
    o->step = step;
    return NND_OK;
}

/* A file with a metadata checksum (ours since format 1 with run ids) must match it; files
 * without one (older ones, h5py's) are taken as they are. */
static nnd_status verify_metadata(const char *path)
{
    nnd_h5_quiet q;
    hid_t f;
    nnd_status st = nnd_h5_open_read(path, &f, &q);
    if (st) return st;
    hid_t root = H5Gopen2(f, "/", H5P_DEFAULT);
    uint64_t want, have;
    int has = root >= 0 && nnd_h5_attr_read_u64(root, META_CHECKSUM, &want) == 0;
    if (root >= 0) H5Gclose(root);
    if (has && (attrs_checksum(f, &have) != 0 || have != want))
        st = nnd_err_set(NND_ERR_INPUT,
                         "%s: damaged: its metadata (step, settings, optimizer) does not match "
                         "its checksum",
                         path);
    nnd_h5_close(f, &q);
    return st;
}

nnd_status nnd_ckpt_load(const char *path, nnd_model *m, nnd_optim *o, nnd_ckpt_meta *meta)
{
    if (o && !nnd_optim_state_whole(o))
        return nnd_err_set(NND_ERR_INTERNAL, "%s: the optimizer holds a shard only", path);
    size_t sizes[NND_MAX_LAYERS + 2];
    int n = 0, act_found = 0;
    nnd_activation act;
    double act_param = 0.0;
    /* First: a damaged attribute must read as damage, not as "another model". */
    nnd_status st = verify_metadata(path);
    if (!st) st = nnd_ckpt_probe(path, sizes, &n, &act, &act_found, &act_param);
    if (st) return st;
    int same = n == m->n_layers;
    for (int l = 0; same && l <= n; l++) same = sizes[l] == m->sizes[l];
    if (!same) {
        char have[256], want[256];
        layers_text(have, sizeof have, sizes, n);
        layers_text(want, sizeof want, m->sizes, m->n_layers);
        return nnd_err_set(NND_ERR_MISMATCH,
                           "%s: holds a model with layers %s; this run asks "
                           "for --layers %s",
                           path, have, want);
    }
    if (act_found &&
        (act != m->act || (nnd_activation_param_flag(act) && act_param != m->act_param))) {
        char theirs[64], ours[64];
        nnd_activation_text(theirs, sizeof theirs, act, act_param);
        nnd_activation_text(ours, sizeof ours, m->act, m->act_param);
        return nnd_err_set(NND_ERR_MISMATCH,
                           "%s: the model was trained with --activation %s, this run asks for %s",
                           path, theirs, ours);
    }
    nnd_norm_kind norm;
    if ((st = nnd_ckpt_probe_norm(path, &norm))) return st;
    if (norm != m->norm)
        return nnd_err_set(NND_ERR_MISMATCH,
                           "%s: the model was trained with --norm %s, this run asks for %s", path,
                           nnd_norm_name(norm), nnd_norm_name(m->norm));
    nnd_h5_quiet q;
    hid_t f;
    if ((st = nnd_h5_open_read(path, &f, &q))) return st;
    if ((st = read_layers(f, path, "/model", m, m->params))) goto out;
    if (!nnd_model_params_finite(m)) {
        st = nnd_err_set(NND_ERR_INPUT, "%s: the model holds non-finite weights", path);
        goto out;
    }
    if ((st = read_standardization(f, path, m))) goto out;
    if (o && (st = read_optimizer(f, path, m, o))) goto out;
    const char *bad = o ? nonfinite_state(o) : NULL;
    if (bad) {
        st =
            nnd_err_set(NND_ERR_INPUT, "%s: the optimizer's %s holds non-finite values", path, bad);
        goto out;
    }
    if (meta) nnd_ckpt_read_root_attrs(f, meta);
out:
    nnd_h5_close(f, &q);
    return st;
}

int nnd_ckpt_read_run_id(const char *path, char *buf, size_t size)
{
    nnd_h5_quiet q;
    hid_t f;
    buf[0] = '\0';
    if (nnd_h5_open_read(path, &f, &q) != NND_OK) {
        nnd_err_clear();
        return -1;
    }
    int rc = nnd_h5_attr_read_str(f, "run_id", buf, size);
    nnd_h5_close(f, &q);
    return rc == 0 ? 0 : 1;
}
