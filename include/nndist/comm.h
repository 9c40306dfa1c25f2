/* The MPI side: who we are, agreement on failures, the gradient allreduce, threads per rank. */
#ifndef NNDIST_COMM_H
#define NNDIST_COMM_H

#include <mpi.h>
#include <stddef.h>

#include "nndist/error.h"

typedef struct {
    MPI_Comm world; /* the ranks this comm spans: MPI_COMM_WORLD, or a group (nnd_comm_split) */
    int rank, size;
    int local_rank, local_size; /* among the ranks of MPI_COMM_WORLD on this node */
    int owned;                  /* world was created here and is freed by nnd_comm_free */
} nnd_comm;

/* Call before MPI_Init: environment defaults for Open MPI that only shorten start-up. */
void nnd_mpi_preinit(void);
/* Collective. Fills c from MPI_COMM_WORLD (which must be initialised). */
void nnd_comm_init(nnd_comm *c);
/* Collective over parent: splits it into groups by color (MPI_Comm_split; ranks ordered by
 * key). The group keeps the parent's node-local counts, which size the threads per rank (all
 * groups on a node run at once). Free with nnd_comm_free. */
void nnd_comm_split(const nnd_comm *parent, int color, int key, nnd_comm *group);
void nnd_comm_free(nnd_comm *c);

/* Collective agreement (docs/design.md, invariant 3): every rank passes its own status, every rank
 * gets the same result. When any rank failed, the status and message of the lowest failing rank are
 * returned everywhere (so rank 0 can print the one message). */
nnd_status nnd_comm_agree(const nnd_comm *c, nnd_status st);

/* Collective: sums n floats in place across ranks. */
void nnd_comm_allreduce_sum(const nnd_comm *c, float *buf, size_t n);
/* Collective: sums n doubles in place across ranks. */
void nnd_comm_allreduce_sum_d(const nnd_comm *c, double *buf, size_t n);
/* Collective: broadcasts n floats from rank 0 (chunked, so n may exceed INT_MAX). */
void nnd_comm_bcast_floats(const nnd_comm *c, float *buf, size_t n);

/* n elements cut into one contiguous shard per rank, in rank order (the sharded update's part of
 * each rank, and the counts of an allgather): shards start at multiples of 16 elements (64 bytes),
 * so the last ones may be short or empty. This rank's shard is [lo, hi). */
typedef struct {
    int *count, *displ; /* per rank, as MPI takes them */
    size_t lo, hi;
} nnd_shards;

/* n must fit an int (callers fall back to whole-buffer collectives otherwise). */
nnd_status nnd_shards_init(nnd_shards *s, const nnd_comm *c, size_t n);
/* The same with every shard starting at one of cuts (n_cuts ascending values, cuts[0] = 0): rank
 * r's at the cut nearest to r n / P. For sums whose blocks must each lie on one rank. */
nnd_status nnd_shards_init_at(nnd_shards *s, const nnd_comm *c, size_t n, const size_t *cuts,
                              size_t n_cuts);
void nnd_shards_free(nnd_shards *s);
/* Buffers in node-shared memory, one per rank of a comm whose ranks are all on one node: each
 * rank writes its own and, between two nnd_shm_barrier calls, may read everyone's. */
typedef struct {
    MPI_Win win;
    MPI_Comm node;
    int size;
    int locked;
    float **seg; /* seg[r]: rank r's buffer, readable by all */
} nnd_shm;

/* Collective: 1 when all the ranks of c are on one node (on every rank alike). */
int nnd_comm_on_one_node(const nnd_comm *c);
/* Collective over a comm on one node (nnd_comm_on_one_node): n floats for this rank (n may
 * differ between ranks, 0 included), zeroed. nnd_shm_free is safe after a failure. */
nnd_status nnd_shm_init(nnd_shm *b, const nnd_comm *c, size_t n);
/* Collective over the node: every rank's writes before it are visible to every rank after. */
void nnd_shm_barrier(const nnd_shm *b);
void nnd_shm_free(nnd_shm *b);
/* Collective: every rank's shard of buf (already in place on its owner) to every rank. */
void nnd_comm_allgather_shards(const nnd_comm *c, const nnd_shards *s, float *buf);

/* CPUs this process may run on (its affinity mask). */
int nnd_cpus_allowed(void);
/* Threads per rank when the user gave none: SLURM_CPUS_PER_TASK when set, else the node's
 * cores divided by the ranks on the node, never more than the CPUs in this rank's mask. */
int nnd_comm_default_threads(const nnd_comm *c);

#endif
