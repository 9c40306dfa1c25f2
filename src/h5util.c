#include "nndist/h5util.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

void nnd_h5_silence(nnd_h5_quiet *q)
{
    H5Eget_auto2(H5E_DEFAULT, &q->func, &q->data);
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
}

void nnd_h5_restore(const nnd_h5_quiet *q)
{
    H5Eset_auto2(H5E_DEFAULT, q->func, q->data);
}

nnd_status nnd_h5_open_read(const char *path, hid_t *file, nnd_h5_quiet *q)
{
    *file = H5I_INVALID_HID;
    struct stat sb;
    if (stat(path, &sb) != 0)
        return nnd_err_set(NND_ERR_INPUT, "%s: cannot open: %s", path, strerror(errno));
    if (!S_ISREG(sb.st_mode)) return nnd_err_set(NND_ERR_INPUT, "%s: not a regular file", path);
    if (access(path, R_OK) != 0)
        return nnd_err_set(NND_ERR_INPUT, "%s: cannot read: %s", path, strerror(errno));
    if (sb.st_size == 0)
        return nnd_err_set(NND_ERR_INPUT, "%s: the file is empty; expected an HDF5 file", path);
    nnd_h5_silence(q);
    if (H5Fis_hdf5(path) <= 0) {
        nnd_h5_restore(q);
        return nnd_err_set(NND_ERR_INPUT, "%s: not an HDF5 file (or damaged)", path);
    }
    *file = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (*file < 0) {
        nnd_h5_restore(q);
        return nnd_err_set(NND_ERR_INPUT, "%s: cannot open as HDF5 (truncated or damaged?)", path);
    }
    return NND_OK;
}

void nnd_h5_close(hid_t file, const nnd_h5_quiet *q)
{
    if (file >= 0) {
        H5Fclose(file);
        nnd_h5_restore(q);
    }
}

int nnd_h5_exists(hid_t loc, const char *name)
{
    char buf[512];
    size_t len = strlen(name);
    if (len == 0 || len >= sizeof buf) return 0;
    memcpy(buf, name, len + 1);
    /* Check each prefix: H5Lexists fails rather than answering for a missing parent. */
    for (size_t i = 1; i <= len; i++) {
        if (buf[i] != '/' && buf[i] != '\0') continue;
        char save = buf[i];
        buf[i] = '\0';
        int ok = strcmp(buf, "/") == 0 || H5Lexists(loc, buf, H5P_DEFAULT) > 0;
        buf[i] = save;
        if (!ok) return 0;
    }
    return 1;
}

static int attr_write(hid_t obj, const char *name, hid_t type, hid_t space, const void *value)
{
    if (H5Aexists(obj, name) > 0) H5Adelete(obj, name);
    hid_t a = H5Acreate2(obj, name, type, space, H5P_DEFAULT, H5P_DEFAULT);
    if (a < 0) return -1;
    int rc = H5Awrite(a, type, value) < 0 ? -1 : 0;
    H5Aclose(a);
    return rc;
}

int nnd_h5_attr_write_str(hid_t obj, const char *name, const char *value)
{
    hid_t t = H5Tcopy(H5T_C_S1), s = H5Screate(H5S_SCALAR);
    H5Tset_size(t, strlen(value) + 1);
    H5Tset_strpad(t, H5T_STR_NULLTERM);
    int rc = attr_write(obj, name, t, s, value);
    H5Sclose(s);
    H5Tclose(t);
    return rc;
}

static int attr_write_scalar(hid_t obj, const char *name, hid_t file_type, hid_t mem_type,
                             const void *value)
{
    hid_t s = H5Screate(H5S_SCALAR);
    if (H5Aexists(obj, name) > 0) H5Adelete(obj, name);
    hid_t a = H5Acreate2(obj, name, file_type, s, H5P_DEFAULT, H5P_DEFAULT);
    int rc = a < 0 || H5Awrite(a, mem_type, value) < 0 ? -1 : 0;
    if (a >= 0) H5Aclose(a);
    H5Sclose(s);
    return rc;
}

int nnd_h5_attr_write_i64(hid_t obj, const char *name, int64_t value)
{
    return attr_write_scalar(obj, name, H5T_STD_I64LE, H5T_NATIVE_INT64, &value);
}

int nnd_h5_attr_write_u64(hid_t obj, const char *name, uint64_t value)
{
    return attr_write_scalar(obj, name, H5T_STD_U64LE, H5T_NATIVE_UINT64, &value);
}

int nnd_h5_attr_write_f64(hid_t obj, const char *name, double value)
{
    return attr_write_scalar(obj, name, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, &value);
}

static int attr_write_array(hid_t obj, const char *name, hid_t file_type, hid_t mem_type,
                            const void *values, size_t n)
{
    hsize_t dims[1] = {n};
    hid_t s = H5Screate_simple(1, dims, NULL);
    if (H5Aexists(obj, name) > 0) H5Adelete(obj, name);
    hid_t a = H5Acreate2(obj, name, file_type, s, H5P_DEFAULT, H5P_DEFAULT);
    int rc = a < 0 || H5Awrite(a, mem_type, values) < 0 ? -1 : 0;
    if (a >= 0) H5Aclose(a);
    H5Sclose(s);
    return rc;
}

int nnd_h5_attr_write_i64s(hid_t obj, const char *name, const int64_t *values, size_t n)
{
    return attr_write_array(obj, name, H5T_STD_I64LE, H5T_NATIVE_INT64, values, n);
}

int nnd_h5_attr_write_f64s(hid_t obj, const char *name, const double *values, size_t n)
{
    return attr_write_array(obj, name, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, values, n);
}

int nnd_h5_attr_read_str(hid_t obj, const char *name, char *buf, size_t size)
{
    if (size == 0 || H5Aexists(obj, name) <= 0) return -1;
    int rc = -1;
    hid_t a = H5Aopen(obj, name, H5P_DEFAULT), ft = H5Aget_type(a), mt = H5I_INVALID_HID;
    if (H5Tget_class(ft) != H5T_STRING) goto out;
    if (H5Tis_variable_str(ft) > 0) {
        char *s = NULL;
        mt = H5Tcopy(H5T_C_S1);
        H5Tset_size(mt, H5T_VARIABLE);
        H5Tset_cset(mt, H5Tget_cset(ft)); /* h5py writes UTF-8; a mismatch fails the read */
        if (H5Aread(a, mt, &s) >= 0 && s) {
            snprintf(buf, size, "%s", s);
            H5free_memory(s);
            rc = 0;
        }
    } else {
        /* A null-terminated string's size counts its terminator; a padded one (h5py) needs one
         * more byte for it. */
        size_t len = H5Tget_size(ft), need = H5Tget_strpad(ft) == H5T_STR_NULLTERM ? len : len + 1;
        if (need > size) goto out;
        mt = H5Tcopy(H5T_C_S1);
        H5Tset_size(mt, need);
        H5Tset_strpad(mt, H5T_STR_NULLTERM);
        H5Tset_cset(mt, H5Tget_cset(ft));
        if (H5Aread(a, mt, buf) >= 0) rc = 0;
    }
out:
    if (mt >= 0) H5Tclose(mt);
    H5Tclose(ft);
    H5Aclose(a);
    return rc;
}

static int attr_read_scalar(hid_t obj, const char *name, hid_t mem_type, H5T_class_t want,
                            void *value)
{
    if (H5Aexists(obj, name) <= 0) return -1;
    hid_t a = H5Aopen(obj, name, H5P_DEFAULT), ft = H5Aget_type(a), sp = H5Aget_space(a);
    int rc = -1;
    if (H5Tget_class(ft) == want && H5Sget_simple_extent_npoints(sp) == 1)
        rc = H5Aread(a, mem_type, value) < 0 ? -1 : 0;
    H5Sclose(sp);
    H5Tclose(ft);
    H5Aclose(a);
    return rc;
}

int nnd_h5_attr_read_f64s(hid_t obj, const char *name, double *values, size_t n)
{
    if (H5Aexists(obj, name) <= 0) return -1;
    hid_t a = H5Aopen(obj, name, H5P_DEFAULT), ft = H5Aget_type(a), sp = H5Aget_space(a);
    int rc = -2;
    if (H5Tget_class(ft) == H5T_FLOAT && H5Sget_simple_extent_npoints(sp) == (hssize_t)n)
        rc = H5Aread(a, H5T_NATIVE_DOUBLE, values) < 0 ? -2 : 0;
    H5Sclose(sp);
    H5Tclose(ft);
    H5Aclose(a);
    return rc;
}

int nnd_h5_attr_read_i64(hid_t obj, const char *name, int64_t *value)
{
    return attr_read_scalar(obj, name, H5T_NATIVE_INT64, H5T_INTEGER, value);
}

int nnd_h5_attr_read_u64(hid_t obj, const char *name, uint64_t *value)
{
    return attr_read_scalar(obj, name, H5T_NATIVE_UINT64, H5T_INTEGER, value);
}

int nnd_h5_attr_read_f64(hid_t obj, const char *name, double *value)
{
    return attr_read_scalar(obj, name, H5T_NATIVE_DOUBLE, H5T_FLOAT, value);
}

static uint64_t fnv1a64_more(uint64_t h, const void *data, size_t bytes)
{
    const unsigned char *p = data;
    for (size_t i = 0; i < bytes; i++) h = (h ^ p[i]) * 0x100000001b3ULL;
    return h;
}

uint64_t nnd_fnv1a64(const void *data, size_t bytes)
{
    return fnv1a64_more(0xcbf29ce484222325ULL, data, bytes);
}

typedef struct {
    const char *skip;
    uint64_t h;
    int failed;
} attrs_hash;

static herr_t hash_attr(hid_t obj, const char *name, const H5A_info_t *info, void *data)
{
    (void)info;
    attrs_hash *a = data;
    if (strcmp(name, a->skip) == 0) return 0;
    hid_t attr = H5Aopen(obj, name, H5P_DEFAULT);
    hid_t type = attr >= 0 ? H5Aget_type(attr) : H5I_INVALID_HID;
    hsize_t bytes = attr >= 0 ? H5Aget_storage_size(attr) : 0;
    unsigned char buf[4096];
    /* Every attribute nndist writes is a number, a fixed-length string or a short array. */
    if (type < 0 || bytes > sizeof buf || H5Aread(attr, type, buf) < 0) {
        a->failed = 1;
    } else {
        a->h = fnv1a64_more(a->h, name, strlen(name) + 1);
        a->h = fnv1a64_more(a->h, buf, (size_t)bytes);
    }
    if (type >= 0) H5Tclose(type);
    if (attr >= 0) H5Aclose(attr);
    return a->failed ? -1 : 0;
}

int nnd_h5_attrs_checksum(hid_t obj, const char *skip, uint64_t *sum)
{
    attrs_hash a = {skip, *sum, 0};
    hsize_t idx = 0;
    if (H5Aiterate2(obj, H5_INDEX_NAME, H5_ITER_INC, &idx, hash_attr, &a) < 0 || a.failed)
        return -1;
    *sum = a.h;
    return 0;
}
