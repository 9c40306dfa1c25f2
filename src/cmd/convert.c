#include <stdio.h>
#include <string.h>

#include "nndist/cli.h"
#include "nndist/commands.h"
#include "nndist/idx.h"

static const char *const g_usage = "nndist convert idx --images F --labels F --out F.h5";
static const char *const g_description =
    "Converts MNIST/Fashion-MNIST IDX files to an nndist HDF5 dataset.";

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
    /* The format word comes first; before it only a lone --help is understood. */
    int idx = argc >= 2 && strcmp(argv[1], "idx") == 0;
    if (!idx && !(argc >= 2 && nnd_cli_is_help(argv[1])))
        return nnd_err_set(NND_ERR_USAGE, "convert: expected a format, 'idx' (%s)", g_usage);
    nnd_status st = nnd_cli_parse_command(opts, argc, argv, idx ? 2 : 1, g_usage, g_description,
                                          c->rank, &help);
    if (st || help) return st;
    if (!images || !labels || !out)
        return nnd_err_set(NND_ERR_USAGE, "convert idx needs --images, --labels and --out");
    size_t n = 0;
    st = c->rank == 0 ? nnd_idx_convert(images, labels, out, &n) : NND_OK;
    if ((st = nnd_comm_agree(c, st))) return st;
    if (c->rank == 0) printf("wrote %s: %zu samples\n", out, n);
    return NND_OK;
}
