#define _GNU_SOURCE
#include "nndist/comm.h"

#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "nndist/guard.h"

/* A launcher that starts every rank of the job on this one node: mpirun on a single host (it
 * says so in OMPI_COMM_WORLD_SIZE / _LOCAL_SIZE), or no launcher at all (a singleton). srun and
 * other PMI launchers set neither variable: we cannot tell, so they count as multi-node. */
static int job_on_one_node(void)
{
    const char *size = getenv("OMPI_COMM_WORLD_SIZE"),
               *local = getenv("OMPI_COMM_WORLD_LOCAL_SIZE");
    if (size && local) return strcmp(size, local) == 0;
    return !size && !local && !getenv("PMIX_RANK") && !getenv("PMI_RANK") &&
           !getenv("SLURM_STEP_ID");
}

void nnd_mpi_preinit(void)
{
    /* Shared memory carries all the traffic of a single-node job, yet Debian's Open MPI spends
     * ~0.2 s of MPI_Init opening its "cm" PML and the Omni-Path/PSM libraries behind it. ob1
     * (with the shared-memory transport) is what it picks in the end anyway; naming it skips the
     * probe. A user's own choice wins. */
    if (job_on_one_node() && !getenv("OMPI_MCA_pml")) setenv("OMPI_MCA_pml", "ob1", 0);
}

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

/* ---- agreement ---- */

/* Point-to-point tags of the watched agreement (no other point-to-point traffic uses them). */
enum { TAG_ARRIVED = 7201, TAG_PRESENT = 7202, TAG_RESULT = 7203 };

/* Tests the requests until all are done or limit_s (> 0) has passed since t0; sleeps between
 * tests, growing to 1 ms (an agreement ends a phase: its latency does not matter, and a rank
 * that waits long leaves its core to the others). Returns 1 when all are done. Completed
 * requests become MPI_REQUEST_NULL; the others stay, and say who has not arrived. */
static int wait_requests(int n, MPI_Request *reqs, double t0, double limit_s)
{
    long nap_ns = 1000;
    for (;;) {
        int done = 0;
        for (int i = 0; i < n; i++) {
            int flag = 1;
            if (reqs[i] != MPI_REQUEST_NULL) MPI_Test(&reqs[i], &flag, MPI_STATUS_IGNORE);
            done += flag;
        }
        if (done == n) return 1;
        if (limit_s > 0 && MPI_Wtime() - t0 > limit_s) return 0;
        struct timespec ts = {0, nap_ns};
        nanosleep(&ts, NULL);
        if (nap_ns < 1000000) nap_ns *= 2;
    }
}

/* The ranks of MPI_COMM_WORLD behind the unfinished receives of rank 0 (reqs[i] from rank i+1):
 * "1, 5, 9", at most 16 named. Returns how many there are. */
static int name_missing(const nnd_comm *c, const MPI_Request *reqs, char *buf, size_t size)
{
    MPI_Group group, world;
    MPI_Comm_group(c->world, &group);
    MPI_Comm_group(MPI_COMM_WORLD, &world);
    size_t len = 0;
    int named = 0, missing = 0;
    buf[0] = '\0';
    for (int i = 0; i < c->size - 1; i++) {
        if (reqs[i] == MPI_REQUEST_NULL) continue;
        missing++;
        if (named == 16) continue;
        int r = i + 1, wr;
        MPI_Group_translate_ranks(group, 1, &r, world, &wr);
        len += (size_t)snprintf(buf + len, size - len, "%s%d", named ? ", " : "", wr);
        if (len >= size) len = size - 1;
        named++;
    }
    if (missing > named) snprintf(buf + len, size - len, " and %d more", missing - named);
    MPI_Group_free(&group);
    MPI_Group_free(&world);
    return missing;
}

/* The minimum of every rank's value, as MPI_Allreduce would give it, but watched: rank 0
 * collects the values, so when some do not come within the limit it can name the ranks that did
 * not arrive; the other ranks hear from rank 0 that it has arrived, so when it has not they can
 * name it. With limit 0, or alone, a plain allreduce. */
static int watched_min(const nnd_comm *c, int mine, double limit, const char *phase)
{
    int result = mine;
    if (limit <= 0 || c->size == 1) {
        MPI_Allreduce(&mine, &result, 1, MPI_INT, MPI_MIN, c->world);
        return result;
    }
    double t0 = MPI_Wtime();
    int n = c->size - 1;
    if (c->rank == 0) {
        MPI_Request *reqs = malloc(2 * (size_t)n * sizeof *reqs);
        int *vals = malloc((size_t)n * sizeof *vals);
        if (!reqs || !vals) nnd_guard_abort("out of memory in an agreement of %d ranks", c->size);
        int here = 1;
        for (int i = 0; i < n; i++) {
            MPI_Irecv(&vals[i], 1, MPI_INT, i + 1, TAG_ARRIVED, c->world, &reqs[i]);
            MPI_Isend(&here, 1, MPI_INT, i + 1, TAG_PRESENT, c->world, &reqs[n + i]);
        }
        if (!wait_requests(n, reqs, t0, limit)) {
            char who[256];
            int many = name_missing(c, reqs, who, sizeof who) > 1;
            nnd_guard_abort("rank%s %s did not reach the end of '%s' within %.0f s (limit, see "
                            "--watchdog); %s may have died or hung. Aborting the job.",
                            many ? "s" : "", who, phase, limit, many ? "they" : "it");
        }
        for (int i = 0; i < n; i++)
            if (vals[i] < result) result = vals[i];
        MPI_Waitall(n, reqs + n, MPI_STATUSES_IGNORE);
        for (int i = 0; i < n; i++)
            MPI_Isend(&result, 1, MPI_INT, i + 1, TAG_RESULT, c->world, &reqs[i]);
        MPI_Waitall(n, reqs, MPI_STATUSES_IGNORE);
        free(reqs);
        free(vals);
        return result;
    }
    int present = 0;
    MPI_Request reqs[3];
    MPI_Isend(&mine, 1, MPI_INT, 0, TAG_ARRIVED, c->world, &reqs[0]);
    MPI_Irecv(&present, 1, MPI_INT, 0, TAG_PRESENT, c->world, &reqs[1]);
    MPI_Irecv(&result, 1, MPI_INT, 0, TAG_RESULT, c->world, &reqs[2]);
    if (!wait_requests(2, reqs, t0, limit)) {
        int zero = 0, wr;
        MPI_Group group, world;
        MPI_Comm_group(c->world, &group);
        MPI_Comm_group(MPI_COMM_WORLD, &world);
        MPI_Group_translate_ranks(group, 1, &zero, world, &wr);
        nnd_guard_abort("rank %d did not reach the end of '%s' within %.0f s (limit, see "
                        "--watchdog); it may have died or hung. Aborting the job.",
                        wr, phase, limit);
    }
    /* Rank 0 is here: it either hears from every rank or names the missing ones. */
    wait_requests(1, &reqs[2], t0, 0.0);
    return result;
}

nnd_status nnd_comm_agree(const nnd_comm *c, nnd_status st)
{
    nnd_guard_saved saved;
    double limit = nnd_guard_wait_begin(&saved);
    /* Tests: this rank stops (SIGSTOP: its watchdog with it) on its way into the agreement. */
    if (nnd_guard_fault("stopagree", c->rank, 0)) raise(SIGSTOP);
    int mine = st == NND_OK ? c->size : c->rank;
    int first = watched_min(c, mine, limit, nnd_guard_saved_phase(&saved));
    nnd_guard_wait_end(&saved);
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

/* The shard table from each rank's first element: start(r, ctx) for r = 0..size-1 (start(0) = 0,
 * non-decreasing, at most n). */
static nnd_status shards_from_starts(nnd_shards *s, const nnd_comm *c, size_t n,
                                     size_t (*start)(int r, const void *ctx), const void *ctx)
{
    memset(s, 0, sizeof *s);
    if (n > INT_MAX) return nnd_err_set(NND_ERR_INTERNAL, "%zu elements are too many to shard", n);
    s->count = malloc((size_t)c->size * sizeof *s->count);
    s->displ = malloc((size_t)c->size * sizeof *s->displ);
    if (!s->count || !s->displ) {
        nnd_shards_free(s);
        return nnd_err_set(NND_ERR_NOMEM, "cannot allocate the shard table of %d ranks", c->size);
    }
    for (int r = 0; r < c->size; r++) {
        size_t lo = start(r, ctx), hi = r + 1 < c->size ? start(r + 1, ctx) : n;
        s->count[r] = (int)(hi - lo);
        s->displ[r] = (int)lo;
        if (r == c->rank) {
            s->lo = lo;
            s->hi = hi;
        }
    }
    return NND_OK;
}

typedef struct {
    size_t n, per;
} even_cut;

static size_t even_start(int r, const void *ctx)
{
    const even_cut *e = ctx;
    return e->per * (size_t)r < e->n ? e->per * (size_t)r : e->n;
}

nnd_status nnd_shards_init(nnd_shards *s, const nnd_comm *c, size_t n)
{
    even_cut e = {.n = n, .per = (n + (size_t)c->size - 1) / (size_t)c->size};
    e.per = (e.per + 15) / 16 * 16;
    return shards_from_starts(s, c, n, even_start, &e);
}

typedef struct {
    size_t n, size;
    const size_t *cuts;
    size_t n_cuts;
} listed_cut;

/* The cut nearest to r n / P (the lower one of a tie). */
static size_t listed_start(int r, const void *ctx)
{
    const listed_cut *l = ctx;
    size_t ideal = l->n * (size_t)r / l->size, lo = 0, hi = l->n_cuts; /* cuts[lo] <= ideal */
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;
        if (l->cuts[mid] <= ideal)
            lo = mid;
        else
            hi = mid;
    }
    if (lo + 1 < l->n_cuts && l->cuts[lo + 1] - ideal < ideal - l->cuts[lo]) lo++;
    return l->cuts[lo];
}

nnd_status nnd_shards_init_at(nnd_shards *s, const nnd_comm *c, size_t n, const size_t *cuts,
                              size_t n_cuts)
{
    listed_cut l = {.n = n, .size = (size_t)c->size, .cuts = cuts, .n_cuts = n_cuts};
    return shards_from_starts(s, c, n, listed_start, &l);
}

void nnd_shards_free(nnd_shards *s)
{
    free(s->count);
    free(s->displ);
    memset(s, 0, sizeof *s);
}

int nnd_comm_on_one_node(const nnd_comm *c)
{
    MPI_Comm node;
    int size, whole, all_whole;
    MPI_Comm_split_type(c->world, MPI_COMM_TYPE_SHARED, c->rank, MPI_INFO_NULL, &node);
    MPI_Comm_size(node, &size);
    MPI_Comm_free(&node);
    whole = size == c->size;
    MPI_Allreduce(&whole, &all_whole, 1, MPI_INT, MPI_MIN, c->world);
    return all_whole;
}

nnd_status nnd_shm_init(nnd_shm *b, const nnd_comm *c, size_t n)
{
    memset(b, 0, sizeof *b);
    b->win = MPI_WIN_NULL;
    MPI_Comm_dup(c->world, &b->node);
    /* The default error handler stays: when Open MPI cannot create the backing file (too little
     * space where it keeps them), one rank fails while the others wait in the allocation; only
     * aborting the job avoids a hang. (NNDIST_UPDATE=replicated does without the window.) */
    b->size = c->size;
    /* Each rank's buffer on its own pages (first touched by its owner). */
    MPI_Info info;
    MPI_Info_create(&info);
    MPI_Info_set(info, "alloc_shared_noncontig", "true");
    float *mine = NULL;
    int rc = MPI_Win_allocate_shared((MPI_Aint)(n * sizeof(float)), (int)sizeof(float), info,
                                     b->node, &mine, &b->win);
    MPI_Info_free(&info);
    b->seg = calloc((size_t)b->size, sizeof *b->seg);
    int ok = rc == MPI_SUCCESS && b->seg, all_ok;
    MPI_Allreduce(&ok, &all_ok, 1, MPI_INT, MPI_MIN, c->world);
    if (!all_ok) {
        /* A window that exists on some ranks only cannot be freed collectively: leave it. */
        free(b->seg);
        memset(b, 0, sizeof *b);
        b->win = MPI_WIN_NULL;
        return nnd_err_set(NND_ERR_NOMEM,
                           "cannot allocate %zu MB of node-shared memory (MPI_Win_allocate_shared)",
                           (n * sizeof(float)) >> 20);
    }
    for (int r = 0; r < b->size; r++) {
        MPI_Aint bytes;
        int unit;
        MPI_Win_shared_query(b->win, r, &bytes, &unit, &b->seg[r]);
    }
    if (n > 0) memset(mine, 0, n * sizeof(float)); /* (mine may be NULL when n == 0) */
    MPI_Win_lock_all(MPI_MODE_NOCHECK, b->win);    /* one passive epoch; barriers order the rest */
    b->locked = 1;
    nnd_shm_barrier(b);
    return NND_OK;
}

void nnd_shm_barrier(const nnd_shm *b)
{
    MPI_Win_sync(b->win);
    MPI_Barrier(b->node);
    MPI_Win_sync(b->win);
}

void nnd_shm_free(nnd_shm *b)
{
    if (b->locked) MPI_Win_unlock_all(b->win);
    if (b->size > 0 && b->win != MPI_WIN_NULL) MPI_Win_free(&b->win);
    if (b->size > 0) MPI_Comm_free(&b->node);
    free(b->seg);
    memset(b, 0, sizeof *b);
    b->win = MPI_WIN_NULL;
}

void nnd_comm_allgather_shards(const nnd_comm *c, const nnd_shards *s, float *buf)
{
    MPI_Allgatherv(MPI_IN_PLACE, 0, MPI_DATATYPE_NULL, buf, s->count, s->displ, MPI_FLOAT,
                   c->world);
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
