/* The options `train`, `lr-find` and `sweep` share: data, model, optimizer, batch, threads. */
#ifndef NNDIST_CMD_TRAIN_FLAGS_H
#define NNDIST_CMD_TRAIN_FLAGS_H

#include <stddef.h>

#include "nndist/cli.h"
#include "nndist/comm.h"
#include "nndist/error.h"
#include "nndist/train_config.h"

#define NND_TRAIN_FLAGS_MAX_HYPER 32
/* --deterministic's unit count when --units is not given. */
#define NND_DEFAULT_UNITS 8
/* Entries nnd_train_flags_add appends at most (the caller's table needs room for them). */
#define NND_TRAIN_FLAGS_MAX_OPTS (NND_TRAIN_FLAGS_MAX_HYPER + 30)

typedef struct {
    nnd_train_config *cfg; /* borrowed: receives the values */
    const char *act, *loss, *optimizer;
    const char *act_param[2];   /* --leaky-slope, --elu-alpha as given (NULL: not given) */
    const char *dropout;        /* --dropout as given, or NULL */
    const char *norm;           /* --norm as given */
    const char *precision;      /* --precision as given */
    const char *grad_precision; /* --grad-precision as given */
    nnd_cli_sizes layers;
    double hyper[NND_TRAIN_FLAGS_MAX_HYPER];    /* optim.h's table; NAN = not given */
    int hyper_on[NND_TRAIN_FLAGS_MAX_HYPER];    /* its switches (--nesterov, ...) */
    int hyper_given[NND_TRAIN_FLAGS_MAX_HYPER]; /* set by the parser */
    uint64_t threads, units;
    int batch_given, bpr_given, threads_given, no_shuffle, deterministic, units_given;
    int smoothing_given;
    int data_optional; /* set before parsing: --data may be absent (info's budget) */
} nnd_train_flags;

/* Sets cfg's defaults (batch 128, seed 1, ...) and f's unset values; f->cfg = cfg. */
void nnd_train_flags_init(nnd_train_flags *f, nnd_train_config *cfg);
/* Appends the shared options to opts at index n; returns the new count (no terminator). */
int nnd_train_flags_add(nnd_train_flags *f, nnd_opt *opts, int n);
/* After parsing: checks the shared options and fills f->cfg (the optimizer's defaults, then
 * the hyperparameters given, each of which must apply to the chosen optimizer). */
nnd_status nnd_train_flags_finish(nnd_train_flags *f);
/* The whole parse of a command built on the shared options: the shared table followed by own
 * (n_own entries), parsed from argv[1..]; `--help` prints usage and description on rank 0 and
 * sets *help; otherwise the shared options are finished. A pure function of argv, so every rank
 * reaches the same verdict without talking to the others. */
nnd_status nnd_train_flags_parse(nnd_train_flags *f, const nnd_opt *own, size_t n_own, int argc,
                                 char **argv, const char *usage, const char *description,
                                 const nnd_comm *c, int *help);

#endif
