#include <stdio.h>
#include <string.h>
#include <sys/resource.h>

#include "nndist/cli.h"
#include "nndist/commands.h"
#include "nndist/csv.h"
#include "nndist/idx.h"
#include "nndist/npy.h"

static const char *const g_usage =
    "nndist convert idx --images F --labels F --out F.h5\n"
    "       nndist convert csv --input F.csv --out F.h5 [--label-column NAME|INDEX | "
    "--target-columns LIST | --no-label] [--no-header] [--delimiter C]";
static const char *const g_description =
    "Converts MNIST/Fashion-MNIST IDX files, a CSV file or NumPy .npy files to an nndist HDF5 "
    "dataset "
    "(docs/file-formats.md).";

/* This process's peak resident memory in MB (Linux reports kB). */
static double peak_mb(void)
{
    struct rusage u;
    return getrusage(RUSAGE_SELF, &u) == 0 ? (double)u.ru_maxrss / 1024.0 : 0.0;
}

/* The line a conversion ends with: what was written, and the converter's peak memory. */
static void print_written(const char *out, size_t rows, size_t features, size_t targets,
                          int labelled, int32_t classes)
{
    printf("wrote %s: %zu samples, %zu features, ", out, rows, features);
    if (targets)
        printf("%zu regression targets", targets);
    else if (labelled)
        printf("class labels 0 to %d", (int)classes - 1);
    else
        printf("no labels");
    printf(" (peak memory %.1f MB)\n", peak_mb());
}

static nnd_status convert_csv(int argc, char **argv, const nnd_comm *c)
{
    nnd_csv_options o = {.delim = ',', .header = 1};
    const char *delim = ",";
    int no_header = 0, help = 0;
    const nnd_opt opts[] = {
        {"input", NND_OPT_STRING, &o.input, "FILE", "the CSV file", NULL},
        {"out", NND_OPT_STRING, &o.out, "FILE", "HDF5 file to write: /X float32, /y", NULL},
        {"label-column", NND_OPT_STRING, &o.label, "NAME|INDEX",
         "the class label column (integers >= 0): a header name or an index from 0 (negative: "
         "from the end); default the last column",
         NULL},
        {"target-columns", NND_OPT_STRING, &o.targets, "LIST",
         "regression targets instead of a label: names or indices, comma-separated; /y is then "
         "float32 (N, K)",
         NULL},
        {"no-label", NND_OPT_FLAG, &o.no_label, NULL,
         "every column is a feature (data to predict on): no /y", NULL},
        {"no-header", NND_OPT_FLAG, &no_header, NULL, "the first line is data, not names", NULL},
        {"delimiter", NND_OPT_STRING, &delim, "C", "the field separator (default ','; 'tab')",
         NULL},
        {NULL, 0, NULL, NULL, NULL, NULL},
    };
    nnd_status st =
        nnd_cli_parse_command(opts, argc, argv, 2, g_usage, g_description, c->rank, &help);
    if (st || help) return st;
    if (!o.input || !o.out)
        return nnd_err_set(NND_ERR_USAGE, "convert csv needs --input and --out");
    if ((o.label != NULL) + (o.targets != NULL) + o.no_label > 1)
        return nnd_err_set(NND_ERR_USAGE,
                           "--label-column, --target-columns and --no-label exclude each other");
    if (strcmp(delim, "tab") == 0 || strcmp(delim, "\\t") == 0) delim = "\t";
    if (strlen(delim) != 1 || *delim == '"' || *delim == '\n' || *delim == '\r')
        return nnd_err_set(NND_ERR_USAGE,
                           "--delimiter '%s': expected one character (not a quote or a line "
                           "break), or 'tab'",
                           delim);
    o.delim = *delim;
    o.header = !no_header;
    nnd_csv_result r;
    st = c->rank == 0 ? nnd_csv_convert(&o, &r) : NND_OK;
    if ((st = nnd_comm_agree(c, st))) return st;
    if (c->rank != 0) return NND_OK;
    print_written(o.out, r.rows, r.features, r.targets, !o.no_label, r.classes);
    return NND_OK;
}

static nnd_status convert_npy(int argc, char **argv, const nnd_comm *c)
{
    nnd_npy_options o = {0};
    int help = 0;
    const nnd_opt opts[] = {
        {"x", NND_OPT_STRING, &o.x, "FILE", "the features: a .npy array (N, D) or (N,)", NULL},
        {"y", NND_OPT_STRING, &o.y, "FILE",
         "the labels (N,) of an integer or bool dtype, or float regression targets (N,) or "
         "(N, K); without it, no /y",
         NULL},
        {"out", NND_OPT_STRING, &o.out, "FILE", "HDF5 file to write: /X float32, /y", NULL},
        {NULL, 0, NULL, NULL, NULL, NULL},
    };
    nnd_status st =
        nnd_cli_parse_command(opts, argc, argv, 2, g_usage, g_description, c->rank, &help);
    if (st || help) return st;
    if (!o.x || !o.out) return nnd_err_set(NND_ERR_USAGE, "convert npy needs --x and --out");
    nnd_npy_result r;
    st = c->rank == 0 ? nnd_npy_convert(&o, &r) : NND_OK;
    if ((st = nnd_comm_agree(c, st))) return st;
    if (c->rank != 0) return NND_OK;
    print_written(o.out, r.rows, r.features, r.targets, o.y != NULL, r.classes);
    return NND_OK;
}

nnd_status nnd_cmd_convert(int argc, char **argv, const nnd_comm *c)
{
    if (argc >= 2 && strcmp(argv[1], "csv") == 0) return convert_csv(argc, argv, c);
    if (argc >= 2 && strcmp(argv[1], "npy") == 0) return convert_npy(argc, argv, c);
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
        return nnd_err_set(NND_ERR_USAGE, "convert: expected a format, 'idx', 'csv' or 'npy' (%s)",
                           g_usage);
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
