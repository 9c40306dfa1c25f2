/* nndist predict: a model's outputs for every sample of a dataset (labels not needed), in the
 * input's order, to CSV or HDF5 (docs/file-formats.md, "Predictions"). Each rank computes an
 * even share; rank 0 writes its own rows, then each other rank's in rank order. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nndist/atomic_file.h"
#include "nndist/cli.h"
#include "nndist/commands.h"
#include "nndist/data.h"
#include "nndist/eval.h"
#include "nndist/h5util.h"

static const char *const g_usage = "nndist predict --model FILE --data FILE --out P.csv|P.h5";
static const char *const g_description =
    "Writes a model's predictions for every sample of a dataset (its /X; labels are not read),\n"
    "in the input's order: for a classifier the class and one probability per class, for a\n"
    "regression model (trained with --loss mse) the outputs. Any number of ranks.";

typedef struct {
    const char *model, *data, *out, *act_name, *x_name, *loss_name;
    uint64_t batch;
    int csv;
    nnd_activation act;
} predict_opts;

static nnd_status parse_options(predict_opts *o, int argc, char **argv, const nnd_comm *c,
                                int *help)
{
    *o = (predict_opts){.x_name = "/X", .batch = 1024, .act = NND_ACT_RELU};
    const nnd_opt opts[] = {
        {"model", NND_OPT_STRING, &o->model, "FILE", "checkpoint or model file (/model/...)", NULL},
        {"data", NND_OPT_STRING, &o->data, "FILE", "dataset with the features (/X)", NULL},
        {"out", NND_OPT_STRING, &o->out, "FILE",
         "predictions to write: .csv (a header line) or .h5", NULL},
        {"activation", NND_OPT_STRING, &o->act_name, "A",
         "hidden activation when the model file records none (default relu)", NULL},
        {"loss", NND_OPT_STRING, &o->loss_name, "L",
         "softmax-ce or mse when the model file records no loss (default softmax-ce)", NULL},
        {"x-name", NND_OPT_STRING, &o->x_name, "NAME", "features dataset (default /X)", NULL},
        {"batch", NND_OPT_COUNT, &o->batch, "N", "samples per forward pass (default 1024)", NULL},
        {NULL, 0, NULL, NULL, NULL, NULL},
    };
    nnd_status st =
        nnd_cli_parse_command(opts, argc, argv, 1, g_usage, g_description, c->rank, help);
    if (st || *help) return st;
    if (!o->model || !o->data || !o->out)
        return nnd_err_set(NND_ERR_USAGE, "predict needs --model, --data and --out");
    size_t len = strlen(o->out);
    o->csv = len > 4 && strcmp(o->out + len - 4, ".csv") == 0;
    if (!o->csv && !(len > 3 && strcmp(o->out + len - 3, ".h5") == 0))
        return nnd_err_set(NND_ERR_USAGE, "--out %s: expected a name ending in .csv or .h5",
                           o->out);
    nnd_loss_kind loss;
    if (o->loss_name && nnd_loss_parse(o->loss_name, &loss) != 0)
        return nnd_err_set(NND_ERR_USAGE, "--loss: unknown '%s'; expected softmax-ce or mse",
                           o->loss_name);
    if (o->act_name && nnd_activation_parse(o->act_name, &o->act) != 0)
        return nnd_err_set(NND_ERR_USAGE, "--activation: unknown '%s'; expected one of: %s",
                           o->act_name, nnd_activation_names());
    return nnd_atomic_check_destination("--out", o->out);
}

/* The output file: CSV through stdio, or HDF5 datasets written a block of rows at a time. */
typedef struct {
    nnd_atomic a;
    FILE *f;
    hid_t file, cls, vals;
    nnd_h5_quiet quiet;
    int csv, classify, h5_open;
    size_t k, written;
} sink;

static nnd_status sink_open(sink *s, const predict_opts *o, int classify, size_t n, size_t k)
{
    memset(s, 0, sizeof *s);
    s->file = s->cls = s->vals = H5I_INVALID_HID;
    s->csv = o->csv;
    s->classify = classify;
    s->k = k;
    nnd_status st = nnd_atomic_begin(&s->a, o->out);
    if (st) return st;
    if (s->csv) {
        if (!(s->f = fopen(s->a.tmp, "w")))
            return nnd_err_set(NND_ERR_IO, "--out %s: cannot create %s", o->out, s->a.tmp);
        fputs(classify ? "class" : "", s->f);
        for (size_t j = 0; j < k; j++)
            fprintf(s->f, "%s%s%zu", classify || j ? "," : "", classify ? "p" : "y", j);
        fputc('\n', s->f);
        return NND_OK;
    }
    nnd_h5_silence(&s->quiet);
    s->h5_open = 1;
    hsize_t dims[2] = {n, k};
    hid_t sp1 = H5Screate_simple(1, dims, NULL), sp2 = H5Screate_simple(2, dims, NULL);
    s->file = H5Fcreate(s->a.tmp, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    if (s->file >= 0 && classify)
        s->cls =
            H5Dcreate2(s->file, "class", H5T_STD_I32LE, sp1, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    if (s->file >= 0)
        s->vals = H5Dcreate2(s->file, classify ? "probabilities" : "outputs", H5T_IEEE_F32LE, sp2,
                             H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    H5Sclose(sp1);
    H5Sclose(sp2);
    if (s->vals < 0 || (classify && s->cls < 0))
        return nnd_err_set(NND_ERR_IO, "--out %s: cannot create the HDF5 file", o->out);
    return NND_OK;
}

/* rows of predictions: cls (rows) when classifying, vals (rows, k). */
static nnd_status sink_rows(sink *s, size_t rows, const int32_t *cls, const float *vals)
{
    if (s->csv) {
        for (size_t i = 0; i < rows; i++) {
            if (s->classify) fprintf(s->f, "%d", (int)cls[i]);
            for (size_t j = 0; j < s->k; j++)
                fprintf(s->f, "%s%.9g", s->classify || j ? "," : "", (double)vals[i * s->k + j]);
            fputc('\n', s->f);
        }
        s->written += rows;
        return ferror(s->f) ? nnd_err_set(NND_ERR_IO, "%s: write failed", s->a.tmp) : NND_OK;
    }
    int bad = 0;
    for (int d = 0; d < 2 && rows > 0; d++) {
        hid_t set = d ? s->vals : s->cls;
        if (set < 0) continue;
        hsize_t start[2] = {s->written, 0}, count[2] = {rows, s->k};
        int rank = d ? 2 : 1;
        hid_t fs = H5Dget_space(set), ms = H5Screate_simple(rank, count, NULL);
        bad |= H5Sselect_hyperslab(fs, H5S_SELECT_SET, start, NULL, count, NULL) < 0 ||
               H5Dwrite(set, d ? H5T_NATIVE_FLOAT : H5T_NATIVE_INT32, ms, fs, H5P_DEFAULT,
                        d ? (const void *)vals : (const void *)cls) < 0;
        H5Sclose(ms);
        H5Sclose(fs);
    }
    s->written += rows;
    return bad ? nnd_err_set(NND_ERR_IO, "%s: write failed (disk full?)", s->a.tmp) : NND_OK;
}

static nnd_status sink_close(sink *s, nnd_status st)
{
    if (s->f && fclose(s->f) != 0 && !st)
        st = nnd_err_set(NND_ERR_IO, "%s: write failed", s->a.tmp);
    s->f = NULL;
    int bad = 0;
    if (s->cls >= 0) bad |= H5Dclose(s->cls) < 0;
    if (s->vals >= 0) bad |= H5Dclose(s->vals) < 0;
    if (s->file >= 0) bad |= H5Fclose(s->file) < 0;
    if (s->h5_open) nnd_h5_restore(&s->quiet);
    s->file = s->cls = s->vals = H5I_INVALID_HID;
    s->h5_open = 0;
    if (bad && !st) st = nnd_err_set(NND_ERR_IO, "%s: cannot close the HDF5 file", s->a.tmp);
    if (!st) st = nnd_atomic_commit(&s->a);
    nnd_atomic_abort(&s->a);
    return st;
}

/* The rank's predictions: classes and softmax probabilities (classify), or the outputs. */
static void predict_rows(nnd_model *m, const nnd_dataset *ds, size_t chunk, int classify,
                         int32_t *cls, float *vals)
{
    size_t rows = ds->hi - ds->lo, d = ds->shape.d, k = m->sizes[m->n_layers];
    for (size_t i0 = 0; i0 < rows; i0 += chunk) {
        size_t n = rows - i0 < chunk ? rows - i0 : chunk;
        const float *out = nnd_model_forward(m, ds->x + i0 * d, n);
        for (size_t i = 0; i < n; i++) {
            const float *z = out + i * k;
            float *v = vals + (i0 + i) * k;
            if (!classify) {
                memcpy(v, z, k * sizeof *v);
                continue;
            }
            size_t top = 0;
            for (size_t j = 1; j < k; j++) top = z[j] > z[top] ? j : top;
            double sum = 0.0; /* as the loss: shifted by the max, in double */
            for (size_t j = 0; j < k; j++) sum += exp((double)(z[j] - z[top]));
            for (size_t j = 0; j < k; j++) v[j] = (float)(exp((double)(z[j] - z[top])) / sum);
            cls[i0 + i] = (int32_t)top;
        }
    }
}

/* Rank 0 writes every rank's rows in rank order, receiving each into its own buffers (every
 * rank's have room for the largest share, ceil(n / ranks)). It receives them all even after a
 * failed write, so that no rank waits forever; the outcome is agreed. */
static nnd_status write_in_order(const predict_opts *o, const nnd_comm *c, int classify, size_t n,
                                 size_t k, size_t rows, int32_t *cls, float *vals)
{
    if (c->rank != 0) {
        unsigned long long r = rows;
        MPI_Send(&r, 1, MPI_UNSIGNED_LONG_LONG, 0, 1, c->world);
        if (rows) {
            MPI_Send(cls, classify ? (int)rows : 0, MPI_INT32_T, 0, 2, c->world);
            MPI_Send(vals, (int)(rows * k), MPI_FLOAT, 0, 3, c->world);
        }
        return nnd_comm_agree(c, NND_OK);
    }
    sink s;
    nnd_status st = sink_open(&s, o, classify, n, k);
    if (!st) st = sink_rows(&s, rows, cls, vals);
    for (int r = 1; r < c->size; r++) {
        unsigned long long got;
        MPI_Recv(&got, 1, MPI_UNSIGNED_LONG_LONG, r, 1, c->world, MPI_STATUS_IGNORE);
        if (got == 0) continue;
        MPI_Recv(cls, classify ? (int)got : 0, MPI_INT32_T, r, 2, c->world, MPI_STATUS_IGNORE);
        MPI_Recv(vals, (int)(got * k), MPI_FLOAT, r, 3, c->world, MPI_STATUS_IGNORE);
        if (!st) st = sink_rows(&s, got, cls, vals);
    }
    st = sink_close(&s, st);
    return nnd_comm_agree(c, st);
}

nnd_status nnd_cmd_predict(int argc, char **argv, const nnd_comm *c)
{
    predict_opts o;
    int help = 0;
    nnd_status st = parse_options(&o, argc, argv, c, &help);
    if ((st = nnd_comm_agree(c, st)) || help) return st;
    nnd_model m;
    nnd_dataset ds;
    memset(&ds, 0, sizeof ds);
    int32_t *cls = NULL;
    float *vals = NULL;
    nnd_ckpt_meta meta;
    st = nnd_load_model_file(&m, o.model, o.act, o.act_name, (size_t)o.batch, c, &meta);
    if (st) goto out;
    /* The model's own loss decides what a prediction is; --loss only for files without one. */
    nnd_loss_kind loss = NND_LOSS_SOFTMAX_CE;
    if (meta.loss[0])
        nnd_loss_parse(meta.loss, &loss);
    else if (o.loss_name)
        nnd_loss_parse(o.loss_name, &loss);
    const int classify = loss == NND_LOSS_SOFTMAX_CE;
    const size_t k = m.sizes[m.n_layers];

    nnd_data_shape shape;
    st = nnd_data_probe(o.data, o.x_name, NULL, &shape);
    if (!st && shape.d != m.sizes[0])
        st = nnd_err_set(NND_ERR_MISMATCH, "%s: samples have %zu features but %s takes %zu", o.data,
                         shape.d, o.model, m.sizes[0]);
    if ((st = nnd_comm_agree(c, st))) goto out;
    size_t lo, hi;
    nnd_even_split(shape.n, c->rank, c->size, &lo, &hi);
    st = nnd_data_load(&ds, o.data, o.x_name, NULL, &shape, lo, hi, 0);
    const size_t most = (shape.n + (size_t)c->size - 1) / (size_t)c->size; /* >= hi - lo */
    cls = malloc(most * sizeof *cls + 1);
    vals = malloc(most * k * sizeof *vals + 1);
    if (!st && (!cls || !vals)) st = nnd_err_set(NND_ERR_NOMEM, "out of memory for predictions");
    if ((st = nnd_comm_agree(c, st))) goto out;
    predict_rows(&m, &ds, (size_t)o.batch, classify, cls, vals);
    st = write_in_order(&o, c, classify, shape.n, k, hi - lo, cls, vals);
    if (!st && c->rank == 0)
        printf("wrote %s: %zu %s (%s)\n", o.out, shape.n,
               classify ? "classes with their probabilities" : "rows of outputs",
               classify ? "softmax-ce model" : "mse model");
out:
    free(cls);
    free(vals);
    nnd_data_free(&ds);
    nnd_model_free(&m);
    return st;
}
