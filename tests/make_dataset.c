/* Writes synthetic datasets for the script tests, and deliberately broken ones.
 *
 *   nnd_make_dataset OUT N D K [SEED] [VARIANT]
 *
 * Samples are Gaussian-ish blobs: class c = i mod K has a centre in [-1, 1]^D, and each sample
 * is its centre plus uniform noise, so a small MLP can learn them. VARIANT (default "good"):
 *   good, uint8-x, float64-x, int64-y, targets (y as one-hot (N, K) float32),
 *   nan-x, inf-x, label-neg, label-big, string-x, rank1-x, rank3-x, float-y, rows-mismatch,
 *   no-y, empty, huge (an /X of 2^40 x 2^30 elements in unallocated chunks: its size in bytes
 *   overflows 64 bits) */
#include <hdf5.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nndist/rng.h"

static int write(hid_t f, const char *name, hid_t file_type, hid_t mem_type, int rank,
                 const hsize_t *dims, const void *data)
{
    hid_t sp = H5Screate_simple(rank, dims, NULL);
    hid_t d = H5Dcreate2(f, name, file_type, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    int rc = d < 0 || H5Dwrite(d, mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) < 0;
    if (d >= 0) H5Dclose(d);
    H5Sclose(sp);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc < 5) {
        fprintf(stderr, "usage: %s OUT N D K [SEED] [VARIANT]\n", argv[0]);
        return 2;
    }
    const char *out = argv[1], *variant = argc > 6 ? argv[6] : "good";
    size_t n = strtoull(argv[2], NULL, 10), d = strtoull(argv[3], NULL, 10);
    size_t k = strtoull(argv[4], NULL, 10);
    uint64_t seed = argc > 5 ? strtoull(argv[5], NULL, 10) : 1;
    float *x = calloc(n * d + 1, sizeof *x), *t = calloc(n * k + 1, sizeof *t);
    int32_t *y = calloc(n + 1, sizeof *y);
    if (!x || !t || !y) return 1;
    for (size_t i = 0; i < n; i++) {
        size_t c = i % k;
        y[i] = (int32_t)c;
        t[i * k + c] = 1.0f;
        for (size_t j = 0; j < d; j++) {
            float centre = 2.0f * nnd_rng_uniform(seed, NND_RNG_SYNTHETIC, c, j) - 1.0f;
            float noise = nnd_rng_uniform(seed, NND_RNG_SYNTHETIC, 1000000 + i, j) - 0.5f;
            x[i * d + j] = centre + noise;
        }
    }
    hid_t f = H5Fcreate(out, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    if (f < 0) return 1;
    hsize_t xd[3] = {n, d, 1}, yd[2] = {n, k};
    int rc = 0;
    if (strcmp(variant, "nan-x") == 0) x[(n / 2) * d + d - 1] = NAN;
    if (strcmp(variant, "inf-x") == 0) x[n - 1] = INFINITY;
    if (strcmp(variant, "label-neg") == 0) y[n / 3] = -1;
    if (strcmp(variant, "label-big") == 0) y[n - 1] = (int32_t)k;

    if (strcmp(variant, "uint8-x") == 0) {
        unsigned char *xb = malloc(n * d + 1);
        for (size_t i = 0; i < n * d; i++) xb[i] = (unsigned char)(fabsf(x[i]) * 100.0f);
        rc |= write(f, "/X", H5T_STD_U8LE, H5T_NATIVE_UCHAR, 2, xd, xb);
        free(xb);
    } else if (strcmp(variant, "float64-x") == 0) {
        rc |= write(f, "/X", H5T_IEEE_F64LE, H5T_NATIVE_FLOAT, 2, xd, x);
    } else if (strcmp(variant, "string-x") == 0) {
        hid_t st = H5Tcopy(H5T_C_S1);
        H5Tset_size(st, 4);
        char *s = calloc(n * d, 4);
        rc |= write(f, "/X", st, st, 2, xd, s);
        free(s);
        H5Tclose(st);
    } else if (strcmp(variant, "rank1-x") == 0) {
        rc |= write(f, "/X", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 1, xd, x);
    } else if (strcmp(variant, "rank3-x") == 0) {
        rc |= write(f, "/X", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 3, xd, x);
    } else if (strcmp(variant, "huge") == 0) {
        /* Chunked storage is allocated on write, so the file stays tiny. */
        hsize_t hd[2] = {(hsize_t)1 << 40, (hsize_t)1 << 30}, chunk[2] = {1, 16};
        hid_t sp = H5Screate_simple(2, hd, NULL), dcpl = H5Pcreate(H5P_DATASET_CREATE);
        H5Pset_chunk(dcpl, 2, chunk);
        hid_t dset = H5Dcreate2(f, "/X", H5T_IEEE_F32LE, sp, H5P_DEFAULT, dcpl, H5P_DEFAULT);
        rc |= dset < 0;
        H5Dclose(dset);
        H5Pclose(dcpl);
        H5Sclose(sp);
        hid_t ysp = H5Screate_simple(1, hd, NULL);
        H5Pset_chunk(dcpl = H5Pcreate(H5P_DATASET_CREATE), 1, chunk);
        dset = H5Dcreate2(f, "/y", H5T_STD_I32LE, ysp, H5P_DEFAULT, dcpl, H5P_DEFAULT);
        rc |= dset < 0;
        H5Dclose(dset);
        H5Pclose(dcpl);
        H5Sclose(ysp);
    } else if (strcmp(variant, "empty") == 0) {
        hsize_t zd[2] = {0, d};
        rc |= write(f, "/X", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 2, zd, x);
        rc |= write(f, "/y", H5T_STD_I32LE, H5T_NATIVE_INT32, 1, zd, y);
    } else {
        rc |= write(f, "/X", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 2, xd, x);
    }
    if (strcmp(variant, "empty") == 0 || strcmp(variant, "no-y") == 0 ||
        strcmp(variant, "huge") == 0) {
        /* no labels, or already written */
    } else if (strcmp(variant, "targets") == 0) {
        rc |= write(f, "/y", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 2, yd, t);
    } else if (strcmp(variant, "float-y") == 0) {
        float *yf = malloc((n + 1) * sizeof *yf);
        for (size_t i = 0; i < n; i++) yf[i] = (float)y[i];
        rc |= write(f, "/y", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 1, yd, yf);
        free(yf);
    } else if (strcmp(variant, "int64-y") == 0) {
        rc |= write(f, "/y", H5T_STD_I64LE, H5T_NATIVE_INT32, 1, yd, y);
    } else if (strcmp(variant, "rows-mismatch") == 0) {
        hsize_t md[1] = {n - 1};
        rc |= write(f, "/y", H5T_STD_I32LE, H5T_NATIVE_INT32, 1, md, y);
    } else {
        rc |= write(f, "/y", H5T_STD_I32LE, H5T_NATIVE_INT32, 1, yd, y);
    }
    H5Fclose(f);
    free(x);
    free(t);
    free(y);
    return rc;
}
