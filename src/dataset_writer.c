#include "nndist/dataset_writer.h"

#include <string.h>

/* A block of rows [i0, i0 + rows) of a dataset of `cols` columns (0: one-dimensional). */
static int write_rows(hid_t set, hid_t mem_type, const void *buf, size_t i0, size_t rows,
                      size_t cols)
{
    int rank = cols ? 2 : 1;
    hsize_t start[2] = {i0, 0}, count[2] = {rows, cols};
    hid_t fs = H5Dget_space(set), ms = H5Screate_simple(rank, count, NULL);
    int bad = fs < 0 || ms < 0 ||
              H5Sselect_hyperslab(fs, H5S_SELECT_SET, start, NULL, count, NULL) < 0 ||
              H5Dwrite(set, mem_type, ms, fs, H5P_DEFAULT, buf) < 0;
    if (ms >= 0) H5Sclose(ms);
    if (fs >= 0) H5Sclose(fs);
    return bad ? -1 : 0;
}

static hid_t create(hid_t file, const char *name, hid_t type, size_t n, size_t cols)
{
    hsize_t dims[2] = {n, cols};
    hid_t space = H5Screate_simple(cols ? 2 : 1, dims, NULL);
    /* Default creation properties: contiguous (the reader can map it), no fill writes. */
    hid_t set = space < 0
                    ? H5I_INVALID_HID
                    : H5Dcreate2(file, name, type, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    if (space >= 0) H5Sclose(space);
    return set;
}

nnd_status nnd_dataset_writer_open(nnd_dataset_writer *w, const char *path, const char *source,
                                   size_t n, size_t d, nnd_y_kind y_kind, size_t k)
{
    memset(w, 0, sizeof *w);
    w->file = w->x = w->y = H5I_INVALID_HID;
    nnd_status st = nnd_atomic_begin(&w->out, path);
    if (st) return st;
    nnd_h5_silence(&w->quiet);
    w->open = 1;
    w->n = n;
    w->d = d;
    w->k = k;
    w->y_kind = y_kind;
    w->file = H5Fcreate(w->out.tmp, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    if (w->file < 0) return nnd_err_set(NND_ERR_IO, "%s: cannot create the HDF5 file", w->out.tmp);
    if (nnd_h5_attr_write_str(w->file, "format", "nndist-dataset") < 0 ||
        nnd_h5_attr_write_str(w->file, "source", source) < 0)
        return nnd_err_set(NND_ERR_IO, "%s: cannot write the root attributes", w->out.tmp);
    w->x = create(w->file, "X", H5T_IEEE_F32LE, n, d);
    if (w->x < 0)
        return nnd_err_set(NND_ERR_IO, "%s: cannot create /X (%zu x %zu float32)", w->out.tmp, n,
                           d);
    if (y_kind == NND_Y_LABELS) w->y = create(w->file, "y", H5T_STD_I32LE, n, 0);
    if (y_kind == NND_Y_TARGETS) w->y = create(w->file, "y", H5T_IEEE_F32LE, n, k);
    if (y_kind != NND_Y_NONE && w->y < 0)
        return nnd_err_set(NND_ERR_IO, "%s: cannot create /y", w->out.tmp);
    return NND_OK;
}

nnd_status nnd_dataset_writer_rows(nnd_dataset_writer *w, size_t i0, size_t rows, const float *x,
                                   const int32_t *labels, const float *targets)
{
    if (rows == 0) return NND_OK;
    if (write_rows(w->x, H5T_NATIVE_FLOAT, x, i0, rows, w->d) < 0 ||
        (w->y_kind == NND_Y_LABELS &&
         write_rows(w->y, H5T_NATIVE_INT32, labels, i0, rows, 0) < 0) ||
        (w->y_kind == NND_Y_TARGETS &&
         write_rows(w->y, H5T_NATIVE_FLOAT, targets, i0, rows, w->k) < 0))
        return nnd_err_set(NND_ERR_IO, "%s: cannot write rows %zu to %zu (disk full?)", w->out.tmp,
                           i0, i0 + rows);
    return NND_OK;
}

/* Closes what is open; a failed close (it flushes metadata) is a failed write. */
static nnd_status close_all(nnd_dataset_writer *w)
{
    int bad = 0;
    if (w->y >= 0) bad |= H5Dclose(w->y) < 0;
    if (w->x >= 0) bad |= H5Dclose(w->x) < 0;
    if (w->file >= 0) bad |= H5Fclose(w->file) < 0;
    w->file = w->x = w->y = H5I_INVALID_HID;
    return bad ? nnd_err_set(NND_ERR_IO, "%s: cannot close the HDF5 file", w->out.tmp) : NND_OK;
}

nnd_status nnd_dataset_writer_commit(nnd_dataset_writer *w)
{
    nnd_status st = close_all(w);
    if (!st) st = nnd_atomic_commit(&w->out);
    nnd_dataset_writer_abort(w);
    return st;
}

void nnd_dataset_writer_abort(nnd_dataset_writer *w)
{
    if (!w->open) return;
    close_all(w);
    nnd_atomic_abort(&w->out);
    nnd_h5_restore(&w->quiet);
    w->open = 0;
}
