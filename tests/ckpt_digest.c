/* Prints the tensors of a model file or checkpoint, one line each: the dataset's path and the
 * FNV-1a 64 of its float32 bytes, in HDF5's name order. Two files with the same lines hold the
 * same weights and optimizer state, bit for bit, whatever their metadata (run id, rank count).
 *
 *   nnd_ckpt_digest FILE
 *
 * Exit 0; 2 when the file cannot be read. */
#include <hdf5.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "nndist/h5util.h"

/* Every link, in name order; the ones that open as datasets are the tensors (HDF5's error
 * printer is off: a group fails to open quietly). */
static herr_t visit(hid_t obj, const char *name, const H5L_info_t *info, void *ctx)
{
    (void)info;
    (void)ctx;
    hid_t d = H5Dopen2(obj, name, H5P_DEFAULT);
    if (d < 0) return 0;
    hid_t space = H5Dget_space(d);
    hssize_t n = H5Sget_simple_extent_npoints(space);
    float *buf = malloc(((size_t)n + 1) * sizeof *buf);
    int bad = !buf || H5Dread(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) < 0;
    if (!bad) printf("%s %016" PRIx64 "\n", name, nnd_fnv1a64(buf, (size_t)n * sizeof *buf));
    free(buf);
    H5Sclose(space);
    H5Dclose(d);
    return bad ? -1 : 0;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s FILE\n", argv[0]);
        return 2;
    }
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    hid_t f = H5Fopen(argv[1], H5F_ACC_RDONLY, H5P_DEFAULT);
    if (f < 0 || H5Lvisit(f, H5_INDEX_NAME, H5_ITER_INC, visit, NULL) < 0) {
        fprintf(stderr, "digest: cannot read the tensors of %s\n", argv[1]);
        return 2;
    }
    H5Fclose(f);
    return 0;
}
