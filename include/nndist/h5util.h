/* Small HDF5 helpers shared by the dataset, checkpoint and info code. */
#ifndef NNDIST_H5UTIL_H
#define NNDIST_H5UTIL_H

#include <hdf5.h>
#include <stddef.h>
#include <stdint.h>

#include "nndist/error.h"

/* The HDF5 error printer saved while ours is silenced (we print one message of our own). */
typedef struct {
    H5E_auto2_t func;
    void *data;
} nnd_h5_quiet;

void nnd_h5_silence(nnd_h5_quiet *q);
void nnd_h5_restore(const nnd_h5_quiet *q);

/* Opens path read-only after checking that it exists, is readable and is an HDF5 file; the
 * error printer stays silenced until nnd_h5_close. */
nnd_status nnd_h5_open_read(const char *path, hid_t *file, nnd_h5_quiet *q);
void nnd_h5_close(hid_t file, const nnd_h5_quiet *q);

/* True when every component of the slash-separated name exists below loc. */
int nnd_h5_exists(hid_t loc, const char *name);

/* Attributes on an object. Readers return 0 on success, -1 when absent or of another kind. */
int nnd_h5_attr_write_str(hid_t obj, const char *name, const char *value);
int nnd_h5_attr_write_i64(hid_t obj, const char *name, int64_t value);
int nnd_h5_attr_write_u64(hid_t obj, const char *name, uint64_t value);
int nnd_h5_attr_write_f64(hid_t obj, const char *name, double value);
int nnd_h5_attr_write_i64s(hid_t obj, const char *name, const int64_t *values, size_t n);
int nnd_h5_attr_write_f64s(hid_t obj, const char *name, const double *values, size_t n);
int nnd_h5_attr_read_str(hid_t obj, const char *name, char *buf, size_t size);
int nnd_h5_attr_read_i64(hid_t obj, const char *name, int64_t *value);
int nnd_h5_attr_read_u64(hid_t obj, const char *name, uint64_t *value);
int nnd_h5_attr_read_f64(hid_t obj, const char *name, double *value);
/* An array of exactly n floats, read as doubles: 0; -1 when absent; -2 when of another kind or
 * length, or unreadable. */
int nnd_h5_attr_read_f64s(hid_t obj, const char *name, double *values, size_t n);

/* FNV-1a over bytes: the checksum stored with every tensor. */
uint64_t nnd_fnv1a64(const void *data, size_t bytes);
/* Continues the FNV-1a hash *sum over every attribute of obj but `skip`, in name order: each
 * name and the attribute's bytes as stored. 0, or -1 when one cannot be read. */
int nnd_h5_attrs_checksum(hid_t obj, const char *skip, uint64_t *sum);

#endif
