#include "nndist/data.h"

#include <fcntl.h>
#include <hdf5.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "nndist/alloc.h"
#include "nndist/atomic_file.h"
#include "nndist/h5util.h"

#include "kernels/elementwise.h"

static const char *class_name(H5T_class_t c)
{
    switch (c) {
    case H5T_INTEGER:
        return "integer";
    case H5T_FLOAT:
        return "float";
    case H5T_STRING:
        return "string";
    case H5T_COMPOUND:
        return "compound";
    case H5T_ENUM:
        return "enum";
    case H5T_ARRAY:
        return "array";
    default:
        return "non-numeric";
    }
}

/* Opens dataset `name` and reads its class, rank and dims (up to 2). */
static nnd_status inspect(hid_t f, const char *path, const char *name, H5T_class_t *cls, int *rank,
                          hsize_t dims[2], const char *flag)
{
    if (!nnd_h5_exists(f, name))
        return nnd_err_set(NND_ERR_INPUT, "%s: no dataset '%s' (choose another with %s)", path,
                           name, flag);
    nnd_status st = NND_OK;
    hid_t d = H5Dopen2(f, name, H5P_DEFAULT), sp = H5I_INVALID_HID, t = H5I_INVALID_HID;
    if (d < 0) {
        st = nnd_err_set(NND_ERR_INPUT, "%s: '%s' is not a dataset", path, name);
        goto out;
    }
    sp = H5Dget_space(d);
    t = H5Dget_type(d);
    *cls = H5Tget_class(t);
    *rank = H5Sget_simple_extent_ndims(sp);
    if (*rank < 1 || *rank > 2) {
        st = nnd_err_set(NND_ERR_INPUT, "%s: '%s' has %d dimensions; expected 1 or 2", path, name,
                         *rank);
        goto out;
    }
    H5Sget_simple_extent_dims(sp, dims, NULL);
out:
    if (t >= 0) H5Tclose(t);
    if (sp >= 0) H5Sclose(sp);
    if (d >= 0) H5Dclose(d);
    return st;
}

nnd_status nnd_data_probe(const char *path, const char *x_name, const char *y_name,
                          nnd_data_shape *shape)
{
    memset(shape, 0, sizeof *shape);
    nnd_h5_quiet q;
    hid_t f = H5I_INVALID_HID;
    nnd_status st = nnd_h5_open_read(path, &f, &q);
    if (st) return st;
    H5T_class_t xc = H5T_NO_CLASS, yc = H5T_NO_CLASS;
    int xr = 0, yr = 0;
    hsize_t xd[2] = {0, 0}, yd[2] = {0, 0};
    if ((st = inspect(f, path, x_name, &xc, &xr, xd, "--x-name"))) goto out;
    if (!y_name) { /* features only: /y's checks pass as for integer labels of every row */
        yc = H5T_INTEGER;
        yr = 1;
        yd[0] = xd[0];
    } else if ((st = inspect(f, path, y_name, &yc, &yr, yd, "--y-name"))) {
        goto out;
    }
    if (xr != 2) {
        st = nnd_err_set(NND_ERR_INPUT, "%s: '%s' has %d dimension(s); expected 2 (N, D)", path,
                         x_name, xr);
        goto out;
    }
    if (xc != H5T_INTEGER && xc != H5T_FLOAT) {
        st = nnd_err_set(NND_ERR_INPUT, "%s: '%s' holds %s values; expected a numeric type", path,
                         x_name, class_name(xc));
        goto out;
    }
    if (yc != H5T_INTEGER && yc != H5T_FLOAT) {
        st = nnd_err_set(NND_ERR_INPUT, "%s: '%s' holds %s values; expected a numeric type", path,
                         y_name, class_name(yc));
        goto out;
    }
    if (yr == 1 && yc != H5T_INTEGER) {
        st = nnd_err_set(NND_ERR_INPUT,
                         "%s: '%s' is 1-D float; expected integer class labels (or a 2-D (N, K) "
                         "float array of targets)",
                         path, y_name);
        goto out;
    }
    if (xd[0] == 0 || xd[1] == 0) {
        st = nnd_err_set(NND_ERR_INPUT, "%s: '%s' is empty (%llu x %llu); expected N >= 1 samples",
                         path, x_name, (unsigned long long)xd[0], (unsigned long long)xd[1]);
        goto out;
    }
    if (yd[0] != xd[0]) {
        st =
            nnd_err_set(NND_ERR_INPUT, "%s: '%s' has %llu rows but '%s' has %llu; expected equal",
                        path, x_name, (unsigned long long)xd[0], y_name, (unsigned long long)yd[0]);
        goto out;
    }
    if (yr == 2 && yd[1] == 0) {
        st = nnd_err_set(NND_ERR_INPUT, "%s: '%s' has 0 columns", path, y_name);
        goto out;
    }
    /* Sizes from a file are untrusted: the products must fit before anything is allocated. */
    const hsize_t max_elems = (hsize_t)(SIZE_MAX / sizeof(float) / 2);
    if (xd[0] > ((hsize_t)1 << 40) || xd[1] > ((hsize_t)1 << 30) || xd[0] > max_elems / xd[1] ||
        (yr == 2 && (yd[1] > ((hsize_t)1 << 30) || yd[0] > max_elems / yd[1]))) {
        st = nnd_err_set(NND_ERR_INPUT, "%s: '%s' is too large (%llu x %llu)", path, x_name,
                         (unsigned long long)xd[0], (unsigned long long)xd[1]);
        goto out;
    }
    shape->n = (size_t)xd[0];
    shape->d = (size_t)xd[1];
    shape->k_targets = yr == 2 ? (size_t)yd[1] : 0;
out:
    nnd_h5_close(f, &q);
    return st;
}

/* Reads rows [lo, hi) of a (N, cols) or (N) dataset into buf, converting to mem_type. */
static nnd_status read_rows(hid_t f, const char *path, const char *name, hid_t mem_type, size_t lo,
                            size_t hi, size_t cols, int rank, void *buf)
{
    nnd_status st = NND_OK;
    hid_t d = H5Dopen2(f, name, H5P_DEFAULT), fsp = H5I_INVALID_HID, msp = H5I_INVALID_HID;
    if (d < 0) return nnd_err_set(NND_ERR_INPUT, "%s: cannot open '%s'", path, name);
    hsize_t start[2] = {lo, 0}, count[2] = {hi - lo, cols};
    fsp = H5Dget_space(d);
    msp = H5Screate_simple(rank, count, NULL);
    if (fsp < 0 || msp < 0 ||
        H5Sselect_hyperslab(fsp, H5S_SELECT_SET, start, NULL, count, NULL) < 0 ||
        H5Dread(d, mem_type, msp, fsp, H5P_DEFAULT, buf) < 0)
        st = nnd_err_set(NND_ERR_INPUT, "%s: cannot read rows %zu..%zu of '%s' (damaged file?)",
                         path, lo, hi, name);
    if (msp >= 0) H5Sclose(msp);
    if (fsp >= 0) H5Sclose(fsp);
    H5Dclose(d);
    return st;
}

/* Reads labels [lo, hi) as int64, so that a value beyond int32 is reported as it is rather than
 * as HDF5's saturated conversion, checks them against n_classes (when > 0), and stores them as
 * int32. */
static nnd_status read_labels(hid_t f, const char *path, const char *name, size_t lo, size_t hi,
                              size_t n_classes, int32_t *out)
{
    int64_t *wide = malloc((hi - lo > 0 ? hi - lo : 1) * sizeof *wide);
    if (!wide) return nnd_err_set(NND_ERR_NOMEM, "%s: cannot allocate %zu labels", path, hi - lo);
    nnd_status st = read_rows(f, path, name, H5T_NATIVE_INT64, lo, hi, 1, 1, wide);
    for (size_t i = 0; !st && i < hi - lo; i++) {
        int64_t y = wide[i];
        if (n_classes > 0 && (y < 0 || (uint64_t)y >= n_classes))
            st = nnd_err_set(NND_ERR_INPUT,
                             "%s: '%s' row %zu holds label %" PRId64 "; expected 0..%zu (the last "
                             "layer has %zu outputs)",
                             path, name, lo + i, y, n_classes - 1, n_classes);
        else if (y < INT32_MIN || y > INT32_MAX)
            st = nnd_err_set(NND_ERR_INPUT,
                             "%s: '%s' row %zu holds label %" PRId64 "; expected a class index",
                             path, name, lo + i, y);
        else
            out[i] = (int32_t)y;
    }
    free(wide);
    return st;
}

/* One element of a 2-D dataset as double (for a message about its value); NAN when unreadable. */
static double read_one_double(hid_t f, const char *name, size_t row, size_t col)
{
    double v = NAN;
    hid_t d = H5Dopen2(f, name, H5P_DEFAULT);
    if (d < 0) return v;
    hid_t fsp = H5Dget_space(d);
    hsize_t start[2] = {row, col}, one[2] = {1, 1};
    hid_t msp = H5Screate_simple(1, one, NULL);
    if (H5Sselect_hyperslab(fsp, H5S_SELECT_SET, start, NULL, one, NULL) < 0 ||
        H5Dread(d, H5T_NATIVE_DOUBLE, msp, fsp, H5P_DEFAULT, &v) < 0)
        v = NAN;
    H5Sclose(msp);
    H5Sclose(fsp);
    H5Dclose(d);
    return v;
}

/* Maps rows [lo, hi) of `name` (cols floats each) read-only from the file, when it is stored
 * as one contiguous, unfiltered block of little-endian float32 (what `nndist convert` and
 * h5py's defaults write): the rows then come from the page cache, with no copy into freshly
 * zeroed memory (most of the start-up of a large dataset). Returns 0, or -1 when the layout does
 * not allow it (or NNDIST_MMAP=0) and the rows must be read. */
static int map_rows(hid_t f, const char *path, const char *name, size_t lo, size_t hi, size_t cols,
                    nnd_dataset *ds)
{
    const char *env = getenv("NNDIST_MMAP");
    if ((env && strcmp(env, "0") == 0) || hi == lo) return -1;
    const uint32_t one = 1;
    uint8_t first;
    memcpy(&first, &one, 1);
    if (first != 1) return -1; /* a big-endian host */
    int ok = 0;
    hid_t d = H5Dopen2(f, name, H5P_DEFAULT);
    if (d < 0) return -1;
    hid_t dcpl = H5Dget_create_plist(d), type = H5Dget_type(d);
    haddr_t off = H5Dget_offset(d);
    if (dcpl >= 0 && type >= 0 && off != HADDR_UNDEF && H5Pget_layout(dcpl) == H5D_CONTIGUOUS &&
        H5Pget_nfilters(dcpl) == 0 && H5Tequal(type, H5T_IEEE_F32LE) > 0)
        ok = 1;
    if (dcpl >= 0) H5Pclose(dcpl);
    if (type >= 0) H5Tclose(type);
    H5Dclose(d);
    if (!ok) return -1;
    const size_t row_bytes = cols * sizeof(float);
    const off_t start = (off_t)off + (off_t)(lo * row_bytes);
    const long page = sysconf(_SC_PAGESIZE);
    const off_t base = start / page * page;
    const size_t len = (size_t)(start - base) + (hi - lo) * row_bytes;
    struct stat sb;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    void *map = MAP_FAILED;
    if (fstat(fd, &sb) == 0 && (off_t)(base + (off_t)len) <= sb.st_size)
        map = mmap(NULL, len, PROT_READ, MAP_PRIVATE | MAP_POPULATE, fd, base);
    close(fd);
    if (map == MAP_FAILED) return -1;
    /* Trust the address only if HDF5 reads the same first and last rows through it. */
    const float *x = (const float *)(const void *)((const char *)map + (start - base));
    float *check = malloc(row_bytes);
    int same = check != NULL;
    for (int end = 0; end < 2 && same; end++) {
        size_t r = end ? hi - 1 : lo;
        same = read_rows(f, path, name, H5T_NATIVE_FLOAT, r, r + 1, cols, 2, check) == NND_OK &&
               memcmp(check, x + (r - lo) * cols, row_bytes) == 0;
    }
    free(check);
    if (!same) {
        munmap(map, len);
        return -1;
    }
    ds->map = map;
    ds->map_len = len;
    ds->x = (float *)(uintptr_t)x;
    return 0;
}

/* Index of the first NaN or infinity, or -1. Blocks are tested with the step's vector check
 * (serial at this size); only a bad block is searched element by element. */
static long long first_nonfinite(const float *x, size_t count)
{
    enum { BLOCK = 4096 };
    const nnd_ew_kernels *ew = nnd_ew();
    for (size_t i0 = 0; i0 < count; i0 += BLOCK) {
        const size_t len = count - i0 < BLOCK ? count - i0 : BLOCK;
        if (ew->any_nonfinite(x + i0, len))
            for (size_t i = 0; i < len; i++)
                if (!isfinite(x[i0 + i])) return (long long)(i0 + i);
    }
    return -1;
}

nnd_status nnd_data_load(nnd_dataset *ds, const char *path, const char *x_name, const char *y_name,
                         const nnd_data_shape *shape, size_t lo, size_t hi, size_t n_classes)
{
    memset(ds, 0, sizeof *ds);
    ds->shape = *shape;
    ds->lo = lo;
    ds->hi = hi;
    size_t rows = hi - lo, d = shape->d, k = shape->k_targets;
    if (k)
        ds->targets = nnd_alloc_floats_uninit(rows * k);
    else if (y_name)
        ds->labels = malloc((rows ? rows : 1) * sizeof *ds->labels);
    if (y_name && (k ? !ds->targets : !ds->labels))
        return nnd_err_set(NND_ERR_NOMEM, "%s: cannot allocate %zu samples", path, rows);

    if (rows == 0) {
        ds->x = nnd_alloc_floats_uninit(0);
        return ds->x ? NND_OK : nnd_err_set(NND_ERR_NOMEM, "%s: out of memory", path);
    }

    nnd_h5_quiet q;
    hid_t f = H5I_INVALID_HID;
    nnd_status st = nnd_h5_open_read(path, &f, &q);
    if (st) return st;
    if (map_rows(f, path, x_name, lo, hi, d, ds) != 0) {
        ds->x = nnd_alloc_floats_uninit(rows * d); /* filled by the read below */
        if (!ds->x) {
            st = nnd_err_set(NND_ERR_NOMEM, "%s: cannot allocate %zu samples of %zu features", path,
                             rows, d);
            goto out;
        }
        if ((st = read_rows(f, path, x_name, H5T_NATIVE_FLOAT, lo, hi, d, 2, ds->x))) goto out;
    }
    if (y_name && k)
        st = read_rows(f, path, y_name, H5T_NATIVE_FLOAT, lo, hi, k, 2, ds->targets);
    else if (y_name)
        st = read_labels(f, path, y_name, lo, hi, n_classes, ds->labels);
    if (st) goto out;

    long long bad = first_nonfinite(ds->x, rows * d);
    if (bad >= 0) {
        size_t row = lo + (size_t)bad / d, col = (size_t)bad % d;
        double v = read_one_double(f, x_name, row, col);
        if (isfinite(v)) /* a float64 beyond float32's range: HDF5's conversion made it inf */
            st = nnd_err_set(NND_ERR_INPUT,
                             "%s: '%s' row %zu column %zu is %g, beyond float32's range "
                             "(|x| <= 3.4e38); expected features that fit in float32",
                             path, x_name, row, col, v);
        else
            st = nnd_err_set(NND_ERR_INPUT,
                             "%s: '%s' row %zu column %zu is %g; expected finite features", path,
                             x_name, row, col, ds->x[bad]);
        goto out;
    }
    if (k) {
        bad = first_nonfinite(ds->targets, rows * k);
        if (bad >= 0) {
            st = nnd_err_set(NND_ERR_INPUT,
                             "%s: '%s' row %zu is not finite; expected finite "
                             "targets",
                             path, y_name, lo + (size_t)bad / k);
            goto out;
        }
    }
out:
    nnd_h5_close(f, &q);
    return st;
}

void nnd_data_free(nnd_dataset *ds)
{
    if (ds->map)
        munmap(ds->map, ds->map_len);
    else
        free(ds->x);
    free(ds->labels);
    free(ds->targets);
    memset(ds, 0, sizeof *ds);
}

nnd_status nnd_data_gather(nnd_dataset *ds, const nnd_dataset *src, const uint32_t *rows, size_t n,
                           size_t lo, size_t hi)
{
    memset(ds, 0, sizeof *ds);
    ds->shape = src->shape;
    ds->shape.n = n;
    ds->lo = lo;
    ds->hi = hi;
    size_t count = hi - lo, d = src->shape.d, k = src->shape.k_targets;
    ds->x = nnd_alloc_floats(count * d + 1);
    if (k)
        ds->targets = nnd_alloc_floats(count * k + 1);
    else
        ds->labels = malloc((count + 1) * sizeof *ds->labels);
    if (!ds->x || (k ? !ds->targets : !ds->labels))
        return nnd_err_set(NND_ERR_NOMEM, "cannot allocate %zu samples of %zu features", count, d);
    for (size_t i = 0; i < count; i++) {
        size_t r = rows[lo + i];
        memcpy(ds->x + i * d, src->x + r * d, d * sizeof *ds->x);
        if (k)
            memcpy(ds->targets + i * k, src->targets + r * k, k * sizeof *ds->targets);
        else
            ds->labels[i] = src->labels[r];
    }
    return NND_OK;
}

/* Writes a (rows, cols) or (rows) dataset `name` of file type ftype from buf, creating any
 * missing parent groups. */
static int write_rows(hid_t f, const char *name, hid_t ftype, hid_t mtype, int rank, size_t rows,
                      size_t cols, const void *buf)
{
    hsize_t dims[2] = {rows, cols};
    hid_t sp = H5Screate_simple(rank, dims, NULL), lcpl = H5Pcreate(H5P_LINK_CREATE);
    H5Pset_create_intermediate_group(lcpl, 1);
    hid_t d = H5Dcreate2(f, name, ftype, sp, lcpl, H5P_DEFAULT, H5P_DEFAULT);
    int rc = d < 0 || (rows > 0 && H5Dwrite(d, mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) < 0);
    if (d >= 0 && H5Dclose(d) < 0) rc = 1;
    H5Pclose(lcpl);
    H5Sclose(sp);
    return rc;
}

nnd_status nnd_data_save(const nnd_dataset *ds, const char *path, const char *x_name,
                         const char *y_name)
{
    nnd_atomic a;
    nnd_status st = nnd_atomic_begin(&a, path);
    if (st) return st;
    size_t rows = ds->hi - ds->lo, k = ds->shape.k_targets;
    nnd_h5_quiet q;
    nnd_h5_silence(&q);
    hid_t f = H5Fcreate(a.tmp, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    int rc = f < 0;
    if (!rc) {
        rc |= write_rows(f, x_name, H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 2, rows, ds->shape.d, ds->x);
        if (k)
            rc |= write_rows(f, y_name, H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 2, rows, k, ds->targets);
        else
            rc |= write_rows(f, y_name, H5T_STD_I32LE, H5T_NATIVE_INT32, 1, rows, 1, ds->labels);
        if (H5Fclose(f) < 0) rc = 1;
    }
    nnd_h5_restore(&q);
    st = rc ? nnd_err_set(NND_ERR_IO, "%s: cannot write the dataset (to %s)", path, a.tmp)
            : nnd_atomic_commit(&a);
    nnd_atomic_abort(&a);
    return st;
}
