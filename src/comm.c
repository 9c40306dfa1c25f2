#define _GNU_SOURCE
#include "nndist/comm.h"

#include <limits.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void nnd_comm_init(nnd_comm *c)
{
    c->world = MPI_COMM_WORLD;
    c->owned = 0;
    MPI_Comm_rank(c->world, &c->rank);
    MPI_Comm_size(c->world, &c->size);
    MPI_Comm node;
    MPI_Comm_split_type(c->world, MPI_COMM_TYPE_SHARED, c->rank, MPI_INFO_NULL, &node);
    MPI_Comm_rank(node, &c->local_rank);
    MPI_Comm_size(node, &c->local_size);
    MPI_Comm_free(&node);
}

void nnd_comm_split(const nnd_comm *parent, int color, int key, nnd_comm *group)
{
    *group = *parent;
    MPI_Comm_split(parent->world, color, key, &group->world);
    MPI_Comm_rank(group->world, &group->rank);
    MPI_Comm_size(group->world, &group->size);
    group->owned = 1;
}

void nnd_comm_free(nnd_comm *c)
{
    if (c->owned) MPI_Comm_free(&c->world);
    memset(c, 0, sizeof *c);
}

nnd_status nnd_comm_agree(const nnd_comm *c, nnd_status st)
{
    int mine = st == NND_OK ? c->size : c->rank, first;
    MPI_Allreduce(&mine, &first, 1, MPI_INT, MPI_MIN, c->world);
    if (first == c->size) return NND_OK;
    /* The lowest failing rank tells everyone its status and message. */
    char msg[NND_ERR_MSG_MAX];
    int code = (int)st;
    if (c->rank == first) snprintf(msg, sizeof msg, "%s", nnd_err_msg());
    MPI_Bcast(&code, 1, MPI_INT, first, c->world);
    MPI_Bcast(msg, (int)sizeof msg, MPI_CHAR, first, c->world);
    nnd_err_replace(msg);
    return (nnd_status)code;
}

void nnd_comm_allreduce_sum(const nnd_comm *c, float *buf, size_t n)
{
    for (size_t off = 0; off < n; off += INT_MAX / 2) {
        size_t len = n - off < INT_MAX / 2 ? n - off : INT_MAX / 2;
        MPI_Allreduce(MPI_IN_PLACE, buf + off, (int)len, MPI_FLOAT, MPI_SUM, c->world);
    }
}

void nnd_comm_allreduce_sum_d(const nnd_comm *c, double *buf, size_t n)
{
    MPI_Allreduce(MPI_IN_PLACE, buf, (int)n, MPI_DOUBLE, MPI_SUM, c->world);
}

void nnd_comm_bcast_floats(const nnd_comm *c, float *buf, size_t n)
{
    for (size_t off = 0; off < n; off += INT_MAX / 2) {
        size_t len = n - off < INT_MAX / 2 ? n - off : INT_MAX / 2;
        MPI_Bcast(buf + off, (int)len, MPI_FLOAT, 0, c->world);
    }
}

int nnd_cpus_allowed(void)
{
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) != 0) return 1;
    int n = CPU_COUNT(&set);
    return n > 0 ? n : 1;
}

int nnd_comm_default_threads(const nnd_comm *c)
{
    int allowed = nnd_cpus_allowed();
    const char *slurm = getenv("SLURM_CPUS_PER_TASK");
    if (slurm && atoi(slurm) > 0) {
        int t = atoi(slurm);
        return t < allowed ? t : allowed;
    }
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    int share = (int)(cores > 0 ? cores : 1) / (c->local_size > 0 ? c->local_size : 1);
    if (share < 1) share = 1;
    return share < allowed ? share : allowed;
}
