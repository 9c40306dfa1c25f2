/* A timeline of where each rank's time goes, written as a Chrome trace (the JSON "trace event"
 * format that Perfetto and chrome://tracing open): one track per rank, one complete event per
 * phase (forward+backward, allreduce, update, checkpoint, evaluation).
 *
 * Events go into a buffer allocated once (no allocation in the step); when it is full, later
 * events are counted as dropped. At the end every rank sends its events to rank 0, which writes
 * the file. Times are microseconds from a barrier at the start of the run on each rank. */
#ifndef NNDIST_TRACE_H
#define NNDIST_TRACE_H

#include <stddef.h>

#include "nndist/comm.h"
#include "nndist/error.h"

typedef enum {
    NND_TRACE_COMPUTE,   /* gather, forward, loss, backward */
    NND_TRACE_ALLREDUCE, /* the gradient's sum over the ranks: the allreduce, or with the sharded
                            update the sum of this rank's shard (includes waiting for the
                            slowest rank either way) */
    NND_TRACE_UPDATE,    /* the optimizer step */
    NND_TRACE_ALLGATHER, /* the sharded update's allgather of the weights */
    NND_TRACE_CHECKPOINT,
    NND_TRACE_EVAL,
    NND_TRACE_KIND_COUNT
} nnd_trace_kind;

typedef struct {
    double *ev;    /* (kind, start, end) triples */
    size_t n, cap; /* events recorded, room */
    size_t dropped;
    double origin; /* MPI_Wtime at the start */
} nnd_trace;

/* Collective (a barrier marks time zero). Room for cap events. */
nnd_status nnd_trace_init(nnd_trace *t, size_t cap, const nnd_comm *c);
void nnd_trace_free(nnd_trace *t);
/* Records one event; t may be NULL (tracing off). t0, t1 are MPI_Wtime() values. */
void nnd_trace_add(nnd_trace *t, nnd_trace_kind kind, double t0, double t1);
/* Collective: gathers every rank's events on rank 0, which writes path atomically. */
nnd_status nnd_trace_write(const nnd_trace *t, const nnd_comm *c, const char *path);

#endif
