/* The sub-commands. Each parses its own options (argv[0] is the command name), runs collectively
 * on every rank, prints on rank 0, and returns the agreed status. */
#ifndef NNDIST_COMMANDS_H
#define NNDIST_COMMANDS_H

#include "nndist/comm.h"
#include "nndist/error.h"

nnd_status nnd_cmd_train(int argc, char **argv, const nnd_comm *c);
nnd_status nnd_cmd_lrfind(int argc, char **argv, const nnd_comm *c);
nnd_status nnd_cmd_sweep(int argc, char **argv, const nnd_comm *c);
nnd_status nnd_cmd_eval(int argc, char **argv, const nnd_comm *c);
nnd_status nnd_cmd_predict(int argc, char **argv, const nnd_comm *c);
nnd_status nnd_cmd_export(int argc, char **argv, const nnd_comm *c);
nnd_status nnd_cmd_convert(int argc, char **argv, const nnd_comm *c);
nnd_status nnd_cmd_info(int argc, char **argv, const nnd_comm *c);
nnd_status nnd_cmd_bench_comm(int argc, char **argv, const nnd_comm *c);
nnd_status nnd_cmd_plot(int argc, char **argv, const nnd_comm *c);

#endif
