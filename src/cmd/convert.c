#include <stdio.h>
#include <string.h>

#include "nndist/cli.h"
#include "nndist/commands.h"
#include "nndist/idx.h"

nnd_status nnd_cmd_convert(int argc, char **argv, const nnd_comm *c)
{
    const char *images = NULL, *labels = NULL, *out = NULL;
    int help = 0;
    const nnd_opt opts[] = {
        {"images", NND_OPT_STRING, &images, "FILE", "IDX images (idx3-ubyte, gzip or plain)", NULL},
        {"labels", NND_OPT_STRING, &labels, "FILE", "IDX labels (idx1-ubyte, gzip or plain)", NULL},
        {"out", NND_OPT_STRING, &out, "FILE", "HDF5 file to write: /X float32 in [0,1], /y int32",
         NULL},
        {NULL, 0, NULL, NULL, NULL, NULL},
    };
    if (argc < 2 || strcmp(argv[1], "idx") != 0) {
        if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
            if (c->rank == 0)
                nnd_cli_print_help(stdout, "nndist convert idx --images F --labels F --out F.h5",
                                   "Converts MNIST/Fashion-MNIST IDX files to an nndist HDF5 "
                                   "dataset.",
                                   opts);
            return NND_OK;
        }
        return nnd_err_set(NND_ERR_USAGE, "convert: expected a format, 'idx' (nndist convert idx "
                                          "--images F --labels F --out F.h5)");
    }
    nnd_status st = nnd_cli_parse(opts, argc, argv, 2, &help);
    if (!st && help) {
        if (c->rank == 0)
            nnd_cli_print_help(stdout, "nndist convert idx --images F --labels F --out F.h5",
                               "Converts MNIST/Fashion-MNIST IDX files to an nndist HDF5 dataset.",
                               opts);
        return NND_OK;
    }
    if (!st && (!images || !labels || !out))
        st = nnd_err_set(NND_ERR_USAGE, "convert idx needs --images, --labels and --out");
    if (st) return st;
    size_t n = 0;
    st = c->rank == 0 ? nnd_idx_convert(images, labels, out, &n) : NND_OK;
    if ((st = nnd_comm_agree(c, st))) return st;
    if (c->rank == 0) printf("wrote %s: %zu samples\n", out, n);
    return NND_OK;
}
