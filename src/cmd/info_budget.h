/* `nndist info --layers ...`: a training run's memory budget, printed without running it. */
#ifndef NNDIST_CMD_INFO_BUDGET_H
#define NNDIST_CMD_INFO_BUDGET_H

#include "nndist/comm.h"
#include "nndist/error.h"

/* argv[0] is "info"; the options follow (train's model, optimizer and batch options, --data
 * optional, --ranks, --nodes). */
nnd_status nnd_info_budget(int argc, char **argv, const nnd_comm *c);

#endif
