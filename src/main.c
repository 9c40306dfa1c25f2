/* nndist: data-parallel MLP training. Dispatches to the sub-commands; see --help. */
#include <mpi.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

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
    "  predict   a model's predictions for every sample of a dataset, to CSV or HDF5\n"
    "  export    a model as an ONNX graph, for onnxruntime and other frameworks\n"
    "  plot      draw a run's learning curves (the --metrics file) to a PNG\n"
    "  convert   convert a CSV file, .npy arrays or MNIST IDX files to HDF5 (convert csv / npy / "
    "idx)\n"
    "  info      show what a dataset, model or checkpoint file holds\n"
    "  bench-comm  allreduce latency and bandwidth at the model's gradient size\n"
    "\n"
    "nndist COMMAND --help shows the command's options; nndist --version the version.\n"
    "Exit codes: 0 success, 1 runtime failure (I/O, numerics), 2 invalid input (flags, files,\n"
    "shapes), 75 checkpointed on request (requeue the job to continue), 130 stopped by a signal\n"
    "with nothing to checkpoint.\n";

typedef struct {
    const char *name;
    nnd_status (*run)(int, char **, const nnd_comm *);
    /* The command reads the signal flag and stops cleanly at a boundary of its work (a step, a
     * batch, a chunk); the others are short and keep the default action (the process ends). */
    int stops_on_signal;
} command;

static const command g_commands[] = {
    {"train", nnd_cmd_train, 1},     {"lr-find", nnd_cmd_lrfind, 1},
    {"sweep", nnd_cmd_sweep, 1},     {"eval", nnd_cmd_eval, 1},
    {"predict", nnd_cmd_predict, 0}, {"export", nnd_cmd_export, 0},
    {"plot", nnd_cmd_plot, 0},       {"convert", nnd_cmd_convert, 1},
    {"info", nnd_cmd_info, 0},       {"bench-comm", nnd_cmd_bench_comm, 0},
};

static const command *find_command(const char *name)
{
    for (size_t i = 0; i < sizeof g_commands / sizeof g_commands[0]; i++)
        if (strcmp(name, g_commands[i].name) == 0) return &g_commands[i];
    return NULL;
}

int main(int argc, char **argv)
{
    int provided;
    /* The signal flags go up before MPI_Init, which takes a noticeable time: a SIGUSR1 from a
     * batch system that arrives then is kept and answered at the first step (a checkpoint,
     * exit 75) instead of killing the rank. Installed again after MPI_Init, in case the
     * library set handlers of its own. */
    const command *cmd = argc >= 2 ? find_command(argv[1]) : NULL;
    if (cmd && cmd->stops_on_signal) nnd_guard_install_signals();
    nnd_guard_install_crash_handlers(nnd_guard_launcher_rank());
    /* Tests: a slow MPI_Init (seconds on a large cluster), ended early by a signal; a rank that
     * never gets to MPI_Init (its watchdog not started, like a rank stuck loading the binary). */
    if (nnd_guard_fault("slowinit", -1, 0)) sleep(3);
    while (nnd_guard_fault("hanginit", nnd_guard_launcher_rank(), 0)) pause();
    /* Start-up is watched from before MPI_Init: a rank that never starts leaves the others
     * waiting inside it (docs/reliability.md). */
    nnd_guard_watchdog_start(nnd_guard_launcher_rank(), nnd_guard_watchdog_arg(argc, argv));
    nnd_guard_phase("start-up (MPI_Init)", NND_GUARD_SLOW_FLOOR_S);
    /* OpenMP threads run between MPI calls; only the main thread calls MPI (the watchdog's
     * MPI_Abort is the one exception, and it ends the process). */
    nnd_mpi_preinit();
    MPI_Init_thread(&argc, &argv, MPI_THREAD_FUNNELED, &provided);
    nnd_guard_mpi_ready();
    nnd_guard_phase("start-up (the first collectives)", NND_GUARD_SLOW_FLOOR_S);
    nnd_comm c;
    nnd_comm_init(&c);
    /* The commands that run long start their own watchdog, with their own limit. */
    nnd_guard_watchdog_stop();
    nnd_status st = NND_OK;
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        if (c.rank == 0) fputs(g_help, argc < 2 ? stderr : stdout);
        if (argc < 2) st = nnd_err_set(NND_ERR_USAGE, "no command given");
    } else if (strcmp(argv[1], "--version") == 0) {
        if (c.rank == 0) printf("nndist %s\n", NNDIST_VERSION);
    } else {
        if (cmd && cmd->stops_on_signal) nnd_guard_install_signals();
        if (cmd)
            st = cmd->run(argc - 1, argv + 1, &c);
        else
            st = nnd_err_set(NND_ERR_USAGE,
                             "unknown command '%s'; expected train, lr-find, sweep, eval, "
                             "predict, export, plot, convert, info or bench-comm (see "
                             "nndist --help)",
                             argv[1]);
    }
    if ((st == NND_EXIT_REQUEUE || st == NND_ERR_INTERRUPTED) && c.rank == 0)
        fprintf(stderr, "nndist: %s\n", nnd_err_msg());
    else if (st != NND_OK && c.rank == 0)
        fprintf(stderr, "nndist: error: %s\n", nnd_err_msg());
    int code = nnd_status_exit_code(st);
    nnd_comm_free(&c);
    MPI_Finalize();
    return code;
}
