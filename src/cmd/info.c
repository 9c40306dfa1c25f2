#include <hdf5.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "nndist/cli.h"
#include "nndist/commands.h"
#include "nndist/h5util.h"

#include "cmd/info_budget.h"

static const char *type_text(hid_t t, char *buf, size_t size)
{
    H5T_class_t cls = H5Tget_class(t);
    size_t bytes = H5Tget_size(t);
    switch (cls) {
    case H5T_INTEGER:
        snprintf(buf, size, "%s%zu", H5Tget_sign(t) == H5T_SGN_NONE ? "uint" : "int", bytes * 8);
        break;
    case H5T_FLOAT:
        snprintf(buf, size, "float%zu", bytes * 8);
        break;
    case H5T_STRING:
        snprintf(buf, size, "string");
        break;
    default:
        snprintf(buf, size, "other");
        break;
    }
    return buf;
}

/* "600, 12": the dimensions of a simple dataspace (at most 8 shown). */
static const char *shape_text(hid_t sp, char *buf, size_t size)
{
    hsize_t dims[8] = {0};
    int rank = H5Sget_simple_extent_ndims(sp);
    if (rank > 8) rank = 8;
    H5Sget_simple_extent_dims(sp, dims, NULL);
    size_t used = 0;
    buf[0] = '\0';
    for (int i = 0; i < rank && used < size; i++)
        used += (size_t)snprintf(buf + used, size - used, "%s%llu", i ? ", " : "",
                                 (unsigned long long)dims[i]);
    return buf;
}

static herr_t print_object(hid_t loc, const char *name, const H5O_info_t *info, void *data)
{
    (void)data;
    if (info->type != H5O_TYPE_DATASET) return 0;
    hid_t d = H5Dopen2(loc, name, H5P_DEFAULT);
    if (d < 0) return 0;
    hid_t sp = H5Dget_space(d), t = H5Dget_type(d);
    char shape[128], tt[32], sum[40] = "";
    uint64_t checksum; /* the tensor's FNV-1a (ckpt.h): equal tensors, equal checksums */
    if (H5Aexists(d, "checksum") > 0 && nnd_h5_attr_read_u64(d, "checksum", &checksum) == 0)
        snprintf(sum, sizeof sum, "  checksum %016" PRIx64, checksum);
    printf("  /%-40s %-8s (%s)%s\n", name, type_text(t, tt, sizeof tt),
           shape_text(sp, shape, sizeof shape), sum);
    H5Tclose(t);
    H5Sclose(sp);
    H5Dclose(d);
    return 0;
}

/* The value of attribute a (named name, on loc): a string, up to 64 numbers, or a count. */
static void print_attr_value(hid_t loc, const char *name, hid_t a)
{
    hid_t t = H5Aget_type(a), sp = H5Aget_space(a);
    H5T_class_t cls = H5Tget_class(t);
    hssize_t n = H5Sget_simple_extent_npoints(sp);
    if (cls == H5T_STRING) {
        char buf[2048]; /* a run_definition is up to 1 KB */
        if (nnd_h5_attr_read_str(loc, name, buf, sizeof buf) == 0) printf("%s", buf);
    } else if (cls == H5T_INTEGER && n >= 1 && n <= 64 && H5Tget_sign(t) == H5T_SGN_NONE) {
        uint64_t v[64]; /* (read as int64, a checksum above 2^63 would clamp) */
        H5Aread(a, H5T_NATIVE_UINT64, v);
        for (hssize_t i = 0; i < n; i++) printf("%s%" PRIu64, i ? "," : "", v[i]);
    } else if (cls == H5T_INTEGER && n >= 1 && n <= 64) {
        int64_t v[64];
        H5Aread(a, H5T_NATIVE_INT64, v);
        for (hssize_t i = 0; i < n; i++) printf("%s%" PRId64, i ? "," : "", v[i]);
    } else if (cls == H5T_FLOAT && n >= 1 && n <= 64) {
        double v[64];
        H5Aread(a, H5T_NATIVE_DOUBLE, v);
        for (hssize_t i = 0; i < n; i++) printf("%s%g", i ? "," : "", v[i]);
    } else {
        printf("(%lld values)", (long long)n);
    }
    H5Sclose(sp);
    H5Tclose(t);
}

static herr_t print_attr(hid_t loc, const char *name, const H5A_info_t *info, void *data)
{
    (void)info;
    (void)data;
    hid_t a = H5Aopen(loc, name, H5P_DEFAULT);
    printf("  %-20s ", name);
    print_attr_value(loc, name, a);
    printf("\n");
    H5Aclose(a);
    return 0;
}

static herr_t print_group_attrs(hid_t loc, const char *name, const H5O_info_t *info, void *data)
{
    (void)data;
    if (info->type != H5O_TYPE_GROUP || info->num_attrs == 0 || strcmp(name, ".") == 0) return 0;
    hid_t g = H5Gopen2(loc, name, H5P_DEFAULT);
    printf("attributes of /%s:\n", name);
    hsize_t idx = 0;
    H5Aiterate2(g, H5_INDEX_NAME, H5_ITER_INC, &idx, print_attr, NULL);
    H5Gclose(g);
    return 0;
}

nnd_status nnd_cmd_info(int argc, char **argv, const nnd_comm *c)
{
    /* Options, or --help (which describes both forms): the memory budget of a run. */
    if (argc >= 2 && (nnd_cli_is_help(argv[1]) || strncmp(argv[1], "--", 2) == 0))
        return nnd_info_budget(argc, argv, c);
    if (argc != 2 || argv[1][0] == '-')
        return nnd_err_set(NND_ERR_USAGE,
                           "info takes one FILE, or --layers ... for a run's memory budget (see "
                           "nndist info --help)");
    const char *path = argv[1];
    nnd_status st = NND_OK;
    if (c->rank == 0) {
        nnd_h5_quiet q;
        hid_t f;
        st = nnd_h5_open_read(path, &f, &q);
        if (!st) {
            char format[64] = "";
            nnd_h5_attr_read_str(f, "format", format, sizeof format);
            printf("%s: %s\n", path, format[0] ? format : "HDF5 file");
            hid_t root = H5Gopen2(f, "/", H5P_DEFAULT);
            H5O_info_t rinfo;
            H5Oget_info2(root, &rinfo, H5O_INFO_NUM_ATTRS);
            if (rinfo.num_attrs) {
                printf("attributes:\n");
                hsize_t idx = 0;
                H5Aiterate2(root, H5_INDEX_NAME, H5_ITER_INC, &idx, print_attr, NULL);
            }
            H5Gclose(root);
            printf("datasets:\n");
            H5Ovisit2(f, H5_INDEX_NAME, H5_ITER_INC, print_object, NULL, H5O_INFO_BASIC);
            H5Ovisit2(f, H5_INDEX_NAME, H5_ITER_INC, print_group_attrs, NULL,
                      H5O_INFO_BASIC | H5O_INFO_NUM_ATTRS);
            nnd_h5_close(f, &q);
        }
    }
    return nnd_comm_agree(c, st);
}
