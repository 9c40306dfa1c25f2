/* The memory a training run needs, counted before anything large is allocated, and what the
 * node lets it use (docs/reliability.md, "Memory"). A run that cannot fit is refused in a
 * second instead of being found out by the kernel's OOM killer minutes later.
 *
 * The need follows the allocations of trainer.c, model.c, optim.c and data.c, per rank:
 *   weights      P floats                 (P: the model's parameters)
 *   gradients    P + NND_GRAD_TAIL floats
 *   optimizer    S x P floats             (S: the optimizer's state tensors)
 *   activations  B x (sizes[1] + ... + sizes[L] + 2 x widest + d + k + 2) floats, B the global
 *                batch (a rank's buffers are sized for all of it), k the targets of mse (1: a
 *                label), 2 for the batch's sample index
 *   data         the rank's rows of --data and --val, d + k floats each
 * and per node, with the sharded update, the node-shared windows: (ranks + 1) x P floats
 * (every rank's gradient and one copy of the weights), on top of the private copies the
 * session allocates first; with the optimizer state sharded, rank 0's whole copy of it
 * (S x P floats, for checkpoints); and when the run writes checkpoints or --save, the file
 * rank 0 builds in memory: (1 + S) x P floats (ckpt_image.h). --deterministic adds the int64 sum
 * (2 x (P + NND_GRAD_TAIL) floats, in the shared window when sharded on the node, which then
 * holds (2 x ranks + 1) x P), the rank's shard of it (2 x P / ranks, sharded) and every hidden
 * layer's dZ (B x (sizes[1] + ... + sizes[L-1])). An activation whose backward needs the
 * pre-activation (gelu, gelu-tanh, silu: activation.h) adds every hidden layer's Z, B x (sizes[1]
 * + ... + sizes[L-1]) floats, to the activations. */
#ifndef NNDIST_BUDGET_H
#define NNDIST_BUDGET_H

#include <stddef.h>
#include <stdint.h>

#include "nndist/comm.h"
#include "nndist/error.h"
#include "nndist/train_config.h"

typedef enum {
    NND_BUDGET_WEIGHTS,
    NND_BUDGET_GRADIENTS,
    NND_BUDGET_OPTIMIZER,
    NND_BUDGET_ACTIVATIONS,
    NND_BUDGET_DATA,
    NND_BUDGET_SHARED, /* per node */
    NND_BUDGET_PARTS
} nnd_budget_part;

typedef struct {
    const size_t *sizes; /* n_layers + 1 layer sizes, inputs first */
    int n_layers;
    int n_state;           /* nnd_optim_state_count */
    uint64_t batch;        /* the global batch */
    size_t k_targets;      /* mse: target columns; 0 for class labels */
    size_t rows, val_rows; /* this rank's rows of --data and --val (the largest shard) */
    int ranks_on_node;     /* ranks of the job on this node */
    int sharded;           /* the update is sharded through node-shared memory */
    int state_shards;      /* ranks the optimizer state is cut across (sharded update); 0 or 1:
                            * every rank holds it whole */
    int writes_files;      /* the run writes checkpoints or --save */
    int exact;             /* --deterministic */
    int keeps_z;           /* the activation keeps the hidden layers' Z (nnd_activation_keeps_z) */
    double dropout_bytes;  /* dropout's buffers per sample (nnd_budget_dropout_bytes) */
    int norm;              /* the hidden layers are normalized (norm.h): x̂ and 1 / std kept */
} nnd_budget_input;

/* Dropout's bytes per sample of a run: the samples' rows and keys, for an activation other
 * than ReLU (dropped in place) a copy and a mask of each dropped layer's output, and with
 * input dropout (input_dropout > 0) a copy of the input. */
double nnd_budget_dropout_bytes(const size_t *sizes, int n_layers, nnd_activation act,
                                const double *dropout, double input_dropout);

typedef struct {
    double part[NND_BUDGET_PARTS]; /* bytes: per rank, and per node for NND_BUDGET_SHARED */
    double rank_need;              /* bytes one rank needs (the shared windows excluded) */
    double node_need;              /* ranks_on_node x rank_need + the shared windows + rank 0's
                                    * whole state and checkpoint file */
    double whole_state;            /* bytes of rank 0's whole copy of a sharded optimizer state */
    double ckpt_image;             /* bytes of the checkpoint file rank 0 builds in memory */
    int ranks_on_node;
    double node_limit;    /* bytes the node lets the job use; 0: unknown */
    char limit_from[128]; /* what set node_limit: "MemAvailable", "cgroup memory.max", ... */
} nnd_budget;

/* Fills the need (the limit is left unknown). */
void nnd_budget_need(nnd_budget *b, const nnd_budget_input *in);
/* Reads what the node lets the job use: the smallest of MemAvailable (/proc/meminfo), the
 * cgroup's memory.max less its current use (v2, this cgroup and its parents; v1's
 * limit_in_bytes), SLURM_MEM_PER_NODE, and SLURM_MEM_PER_CPU x SLURM_CPUS_ON_NODE. */
void nnd_budget_read_limit(nnd_budget *b);
const char *nnd_budget_part_name(nnd_budget_part p);
/* The part with the most bytes on the node (per-rank parts count ranks_on_node times). */
nnd_budget_part nnd_budget_largest(const nnd_budget *b);
/* NND_ERR_USAGE (exit 2) when the node's need exceeds its limit, with both figures in GB and
 * the largest part; *warn = 1 when it fits but above 90% of the limit. */
nnd_status nnd_budget_check(const nnd_budget *b, int *warn);
/* "needs 3.21 GB of the node's 22.90 GB (MemAvailable; 14%)" into buf. */
void nnd_budget_summary(const nnd_budget *b, char *buf, size_t size);

/* Collective over c, before the session allocates: the budget of a training run of cfg, each
 * rank holding `rows` samples of the training data and `val_rows` of --val (k_targets: mse's
 * columns), checked on every rank against its node. A run that cannot fit is refused on every
 * rank (exit 2); above 90% rank 0 prints a warning. */
nnd_status nnd_budget_check_run(const nnd_train_config *cfg, const nnd_comm *c, size_t rows,
                                size_t val_rows, size_t k_targets);

#endif
