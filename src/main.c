/* nndist: data-parallel MLP training. Dispatches to the sub-commands; see --help. */
#include <mpi.h>
#include <stdio.h>
#include <string.h>

#include "nndist/comm.h"
#include "nndist/commands.h"
#include "nndist/guard.h"
#include "nndist/version.h"

static const char *const g_help =
    "usage: nndist COMMAND [options]      (under mpirun: every rank runs the same line)\n"
    "\n"
    "commands:\n"
    "  train     train a multi-layer perceptron on an HDF5 dataset\n"
    "  lr-find   learning-rate range test: sweep the lr, plot the loss, suggest an lr\n"
    "  sweep     k-fold cross-validation of optimizers x learning rates, across rank groups\n"
    "  eval      accuracy and loss of a model on a dataset\n"
    "  convert   convert MNIST/Fashion-MNIST IDX files to HDF5 (convert idx ...)\n"
    "  info      show what a dataset, model or checkpoint file holds\n"
    "  bench-comm  allreduce latency and bandwidth at the model's gradient size\n"
    "\n"
    "nndist COMMAND --help shows the command's options; nndist --version the version.\n"
    "Exit codes: 0 success, 1 runtime failure (I/O, numerics), 2 invalid input (flags, files,\n"
    "shapes), 75 checkpointed on request (requeue the job to continue).\n";

typedef nnd_status (*command_fn)(int, char **, const nnd_comm *);

static command_fn find_command(const char *name)
{
    if (strcmp(name, "train") == 0) return nnd_cmd_train;
    if (strcmp(name, "lr-find") == 0) return nnd_cmd_lrfind;
    if (strcmp(name, "sweep") == 0) return nnd_cmd_sweep;
    if (strcmp(name, "eval") == 0) return nnd_cmd_eval;
    if (strcmp(name, "convert") == 0) return nnd_cmd_convert;
    if (strcmp(name, "info") == 0) return nnd_cmd_info;
    if (strcmp(name, "bench-comm") == 0) return nnd_cmd_bench_comm;
    return NULL;
}

int main(int argc, char **argv)
{
    int provided;
    /* OpenMP threads run between MPI calls; only the main thread calls MPI (the watchdog's
     * MPI_Abort is the one exception, and it ends the process). */
    nnd_mpi_preinit();
    MPI_Init_thread(&argc, &argv, MPI_THREAD_FUNNELED, &provided);
    nnd_guard_install_signals();
    nnd_comm c;
    nnd_comm_init(&c);
    nnd_status st = NND_OK;
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        if (c.rank == 0) fputs(g_help, argc < 2 ? stderr : stdout);
        if (argc < 2) st = nnd_err_set(NND_ERR_USAGE, "no command given");
    } else if (strcmp(argv[1], "--version") == 0) {
        if (c.rank == 0) printf("nndist %s\n", NNDIST_VERSION);
    } else {
        command_fn fn = find_command(argv[1]);
        if (fn)
            st = fn(argc - 1, argv + 1, &c);
        else
            st = nnd_err_set(NND_ERR_USAGE,
                             "unknown command '%s'; expected train, lr-find, sweep, eval, "
                             "convert, info or bench-comm (see nndist --help)",
                             argv[1]);
    }
    if (st == NND_EXIT_REQUEUE && c.rank == 0)
        fprintf(stderr, "nndist: %s\n", nnd_err_msg());
    else if (st != NND_OK && c.rank == 0)
        fprintf(stderr, "nndist: error: %s\n", nnd_err_msg());
    int code = nnd_status_exit_code(st);
    nnd_comm_free(&c);
    MPI_Finalize();
    return code;
}
