/* How a step's gradients are summed over the ranks, and who applies which part of the update:
 * one allreduce (every rank updates all the weights), per-layer non-blocking sums (--overlap), or
 * the sharded update, in node-shared memory or by reduce-scatter and allgather. */
#include "trainer_internal.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "nndist/alloc.h"
#include "nndist/guard.h"

#include "kernels/elementwise.h"

/* Where Open MPI keeps the backing files of shared-memory windows (its osc/sm default). */
static const char *shm_dir(void)
{
    const char *dir = getenv("OMPI_MCA_osc_sm_backing_directory");
    return dir && *dir ? dir : "/dev/shm";
}

/* 1 when the backing directory exists, is writable and has room for `bytes` of windows (with a
 * margin). Open MPI aborts the job (exit 16) when it cannot create its files there. */
static int shm_space_fits(size_t bytes)
{
    struct statvfs v;
    if (access(shm_dir(), W_OK) != 0 || statvfs(shm_dir(), &v) != 0) return 0;
    return (double)v.f_bavail * (double)v.f_frsize >= 1.25 * (double)bytes + (double)(16 << 20);
}

/* The shards of the update (in the deterministic mode starting at the norms' blocks) and the
 * rank's room for its shard of the summed gradient. */
static nnd_status make_shards(nnd_trainer *t)
{
    nnd_status st = NND_OK;
    if (t->cfg->units) {
        size_t n_cuts = nnd_optim_model_cuts(&t->model, NULL);
        size_t *cuts = malloc(n_cuts * sizeof *cuts);
        if (!cuts) st = nnd_err_set(NND_ERR_NOMEM, "cannot allocate the shards");
        if (!st) nnd_optim_model_cuts(&t->model, cuts);
        if (!st) st = nnd_shards_init_at(&t->shards, t->c, t->model.n_params, cuts, n_cuts);
        free(cuts);
    } else {
        st = nnd_shards_init(&t->shards, t->c, t->model.n_params);
    }
    if (!st) {
        t->gshard = nnd_alloc_floats(t->shards.hi - t->shards.lo);
        if (!t->gshard) st = nnd_err_set(NND_ERR_NOMEM, "cannot allocate the gradient's shard");
    }
    return nnd_comm_agree(t->c, st);
}

enum update_mode { UPDATE_AUTO, UPDATE_REPLICATED, UPDATE_REDUCE_SCATTER };

/* NNDIST_UPDATE as rank 0 reads it, on every rank (so that every rank takes the same
 * collectives); a bad value is refused whatever the rank count. */
static nnd_status read_update_mode(const nnd_comm *c, int *mode)
{
    nnd_status st = NND_OK;
    *mode = UPDATE_AUTO;
    if (c->rank == 0) {
        const char *v = getenv("NNDIST_UPDATE");
        if (v && strcmp(v, "replicated") == 0)
            *mode = UPDATE_REPLICATED;
        else if (v && strcmp(v, "reduce-scatter") == 0)
            *mode = UPDATE_REDUCE_SCATTER;
        else if (v && strcmp(v, "auto") != 0)
            st = nnd_err_set(NND_ERR_USAGE,
                             "NNDIST_UPDATE=%s: expected 'auto', 'replicated' or 'reduce-scatter'",
                             v);
    }
    if ((st = nnd_comm_agree(c, st))) return st;
    MPI_Bcast(mode, 1, MPI_INT, 0, c->world);
    return NND_OK;
}

/* --grad-precision bf16 by MPI: the rank's bf16 gradient to send, and room for its shard's part
 * from every rank (P parts of its shard's length, in rank order). */
static nnd_status bf16_exchange_buffers(nnd_trainer *t)
{
    const int P = t->c->size;
    const size_t mine = t->shards.hi - t->shards.lo;
    t->g16 = malloc(t->model.n_params * sizeof *t->g16 + 1);
    t->g16_recv = malloc((size_t)P * mine * sizeof *t->g16_recv + 1);
    t->g16_parts = malloc((size_t)P * sizeof *t->g16_parts);
    t->g16_count = malloc((size_t)P * sizeof *t->g16_count);
    t->g16_displ = malloc((size_t)P * sizeof *t->g16_displ);
    nnd_status st = NND_OK;
    if (!t->g16 || !t->g16_recv || !t->g16_parts || !t->g16_count || !t->g16_displ)
        st = nnd_err_set(NND_ERR_NOMEM, "cannot allocate the bf16 gradient's buffers");
    for (int r = 0; !st && r < P; r++) {
        t->g16_count[r] = (int)mine;
        t->g16_displ[r] = (int)((size_t)r * mine);
        t->g16_parts[r] = t->g16_recv + (size_t)r * mine;
    }
    return nnd_comm_agree(t->c, st);
}

/* Sharded over MPI: a reduce-scatter of the gradient gives each rank its shard of the sum, each
 * rank updates that shard, an allgather gives every rank the new weights (the same bytes on the
 * wire as one allreduce). Works across nodes. */
static nnd_status shard_by_reduce_scatter(nnd_trainer *t)
{
    nnd_status st = make_shards(t);
    if (!st && t->grad_bf16) st = bf16_exchange_buffers(t);
    if (!st) t->sharded = 1;
    return st;
}

/* Shards the update when there are several ranks (norms then come from the shards' partial sums
 * through one small allreduce each: nnd_optim_set_norm_sum). On one node the
 * gradients and one copy of the weights live in node-shared memory; across nodes (or with
 * NNDIST_UPDATE=reduce-scatter) the shards travel by reduce-scatter and allgather.
 * NNDIST_UPDATE=replicated keeps the allreduce and every rank updating all the weights;
 * --overlap replaces the allreduce by per-layer non-blocking sums (every rank updating all). */
static nnd_status choose_path(nnd_trainer *t);

nnd_status nnd_trainer_plan_update(nnd_trainer *t)
{
    nnd_status st = choose_path(t);
    return !st && t->cfg->units ? nnd_trainer_exact_buffers(t) : st;
}

/* The path of nnd_trainer_plan_update. The deterministic mode takes the same paths but
 * --overlap (refused with it), with a sum of int64 (twice the floats) in place of the
 * gradient's. */
static nnd_status choose_path(nnd_trainer *t)
{
    nnd_model *m = &t->model;
    int mode;
    nnd_status st = read_update_mode(t->c, &mode);
    if (st) return st;
    t->grad_bf16 = t->cfg->grad_bf16 && t->c->size > 1; /* one rank sums nothing */
    if (t->grad_bf16 && (mode == UPDATE_REPLICATED || m->n_params > INT_MAX / 2))
        return nnd_err_set(NND_ERR_USAGE,
                           "--grad-precision bf16 needs the sharded update, which sums the bf16 "
                           "parts; %s",
                           mode == UPDATE_REPLICATED
                               ? "NNDIST_UPDATE=replicated sums float32 with MPI_Allreduce"
                               : "this model has too many parameters for it");
    if (t->c->size < 2 || m->n_params > INT_MAX / 2) return NND_OK;
    if (t->cfg->overlap) { /* the user's choice: per-layer sums, every rank updating all */
        t->overlap = 1;
        return NND_OK;
    }
    if (mode == UPDATE_REPLICATED) return NND_OK;
    if (mode == UPDATE_REDUCE_SCATTER || !nnd_comm_on_one_node(t->c))
        return shard_by_reduce_scatter(t);
    /* Open MPI aborts the job when its backing files do not fit (a container's small /dev/shm,
     * a large model): look first, and go by reduce-scatter when they would not. */
    const size_t grad_floats = (t->cfg->units ? 2 : 1) * (m->n_params + NND_GRAD_TAIL);
    size_t bytes = ((size_t)t->c->size * grad_floats + m->n_params) * sizeof(float);
    int fits = t->c->rank == 0 ? shm_space_fits(bytes) : 1;
    MPI_Bcast(&fits, 1, MPI_INT, 0, t->c->world);
    if (!fits) {
        if (t->c->rank == 0)
            fprintf(stderr,
                    "nndist: note: %s is missing, not writable or has less than the %zu MB the "
                    "update in node-shared memory needs; the shards go by reduce-scatter and "
                    "allgather instead (a larger, writable /dev/shm, or "
                    "OMPI_MCA_osc_sm_backing_directory, allows it)\n",
                    shm_dir(), bytes >> 20);
        return shard_by_reduce_scatter(t);
    }
    st = nnd_shm_init(&t->gshm, t->c, grad_floats);
    if (!st) st = nnd_shm_init(&t->pshm, t->c, t->c->rank == 0 ? m->n_params : 0);
    if (st) { /* every rank saw it (nnd_shm_init agrees): reduce-scatter still works */
        if (t->c->rank == 0)
            fprintf(stderr,
                    "nndist: note: %s; the shards go by reduce-scatter and allgather instead\n",
                    nnd_err_msg());
        nnd_shm_free(&t->gshm);
        nnd_shm_free(&t->pshm);
        return shard_by_reduce_scatter(t);
    }
    if ((st = make_shards(t))) return st;
    /* (the weights are not initialised yet: that comes next, into the shared copies) */
    free(m->params);
    m->params = t->pshm.seg[0];
    if (t->cfg->units) { /* the int64 sum is shared; the float gradient stays the rank's own */
        t->isum = (int64_t *)t->gshm.seg[t->c->rank];
        t->own_grads = m->grads;
    } else if (t->grad_bf16) { /* its bf16 copy is shared (the tail stays float, after it) */
        t->g16 = (uint16_t *)t->gshm.seg[t->c->rank];
        t->own_grads = m->grads;
        t->g16_parts = malloc((size_t)t->c->size * sizeof *t->g16_parts);
        if (!t->g16_parts) st = nnd_err_set(NND_ERR_NOMEM, "cannot allocate the parts' list");
        if ((st = nnd_comm_agree(t->c, st))) return st;
        for (int r = 0; r < t->c->size; r++) t->g16_parts[r] = (const uint16_t *)t->gshm.seg[r];
    } else {
        free(m->grads);
        m->grads = t->gshm.seg[t->c->rank];
    }
    m->shared = 1;
    t->sharded = 1;
    t->shm = 1;
    return NND_OK;
}

/* The rank's shard of the summed gradient and the summed tail, from every rank's gradient in
 * shared memory, added in rank order (so the same on every rank and in every run). Returns 1
 * when the shard holds a NaN or an infinity. */
static int sum_shared(nnd_trainer *t, float *tail)
{
    const nnd_shm *b = &t->gshm;
    const size_t lo = t->shards.lo, np = t->model.n_params;
    float *const *seg = b->seg;
    const int P = b->size;
    for (int k = 0; k < NND_GRAD_TAIL; k++) {
        float v = seg[0][np + k];
        for (int r = 1; r < P; r++) v += seg[r][np + k];
        tail[k] = v;
    }
    if (t->grad_bf16) /* g16_parts[r]: seg[r] */
        return nnd_ew()->sum_ranks_bf16(t->gshard, t->g16_parts, P, lo, t->shards.hi - lo);
    return nnd_ew()->sum_ranks(t->gshard, (const float *const *)seg, P, lo, t->shards.hi - lo);
}

/* --overlap: the non-blocking sums of the layers' gradients, started during backward. */
typedef struct {
    nnd_trainer *t;
    MPI_Request req[NND_MAX_LAYERS];
    int n;
} layer_sums;

static void start_layer_sum(void *ctx, int l)
{
    layer_sums *sums = ctx;
    const nnd_model *m = &sums->t->model;
    /* Layer l's W and b (and a normalization's γ and β) are back to back; the last layer's are
     * followed by the tail. */
    size_t lo = m->w_off[l];
    size_t hi = l + 1 < m->n_layers ? m->w_off[l + 1] : m->n_params + NND_GRAD_TAIL;
    MPI_Iallreduce(MPI_IN_PLACE, m->grads + lo, (int)(hi - lo), MPI_FLOAT, MPI_SUM,
                   sums->t->c->world, &sums->req[sums->n++]);
    int done; /* let the earlier sums advance: MPI progresses them inside its calls */
    MPI_Testall(sums->n, sums->req, &done, MPI_STATUSES_IGNORE);
}

/* Fault injection (tests): a hung rank, or one that pauses (a signal can arrive meanwhile). */
static void inject_stalls(const nnd_trainer *t)
{
    while (nnd_guard_fault("hang", t->c->rank, t->step + 1)) sleep(1000);
    if (nnd_guard_fault("pause", t->c->rank, t->step + 1)) sleep(3); /* ends early on a signal */
    if (nnd_guard_fault("doublefree", t->c->rank, t->step + 1)) {
        /* A block too large for glibc's per-thread cache: its second free is caught inside
         * _int_free, with the arena's lock held, where abort() is raised. */
        char *volatile block = malloc(64 * 1024);
        free(block);
        free(block);
    }
}

/* --overlap: each layer's sum started from backward; sharded: this rank's shard summed from
 * shared memory or by reduce-scatter; otherwise one allreduce. */
const float *nnd_trainer_backward_and_sum(nnd_trainer *t, float *dout, size_t n, float *summed_tail,
                                          double *t1)
{
    nnd_model *m = &t->model;
    const size_t np = m->n_params;
    float *tail = m->grads + np;
    if (t->overlap) {
        /* The tail goes with the last layer, so the signal flag is read before backward; the
         * summed gradient is then checked, the same sum on every rank. */
        tail[TAIL_SIGNAL] = nnd_guard_signal_pending() ? 1.0f : 0.0f;
        layer_sums sums = {.t = t, .n = 0};
        nnd_model_backward_hooked(m, t->xb, dout, n, start_layer_sum, &sums);
        inject_stalls(t);
        *t1 = MPI_Wtime();
        nnd_guard_phase("allreduce", 0.0);
        MPI_Waitall(sums.n, sums.req, MPI_STATUSES_IGNORE);
        tail[TAIL_NONFINITE] = (float)nnd_ew()->any_nonfinite(m->grads, np);
        return tail;
    }
    nnd_model_backward(m, t->xb, dout, n);
    inject_stalls(t);
    tail[TAIL_SIGNAL] = nnd_guard_signal_pending() ? 1.0f : 0.0f;
    *t1 = MPI_Wtime();
    nnd_guard_phase("allreduce", 0.0);
    if (!t->sharded) {
        /* The sum is checked, not each rank's part: finite parts can add up to an infinity. The
         * allreduce gives every rank the same sum, so every rank reaches the same verdict. */
        nnd_comm_allreduce_sum(t->c, m->grads, np + NND_GRAD_TAIL);
        tail[TAIL_NONFINITE] = (float)nnd_ew()->any_nonfinite(m->grads, np);
        return tail;
    }
    const size_t mine = t->shards.hi - t->shards.lo;
    if (t->grad_bf16) nnd_ew()->round_bf16(t->g16, m->grads, np);
    if (!t->shm) {
        /* The rank's shard of the sum, checked; the tail (and the verdict on every shard) in one
         * small allreduce, so that every rank skips or updates alike. In bf16 the shard's parts
         * come by an all-to-all and are added here, in rank order (as on the shm path). */
        if (t->grad_bf16) {
            MPI_Alltoallv(t->g16, t->shards.count, t->shards.displ, MPI_UINT16_T, t->g16_recv,
                          t->g16_count, t->g16_displ, MPI_UINT16_T, t->c->world);
            nnd_ew()->sum_ranks_bf16(t->gshard, t->g16_parts, t->c->size, 0, mine);
        } else {
            MPI_Reduce_scatter(m->grads, t->gshard, t->shards.count, MPI_FLOAT, MPI_SUM,
                               t->c->world);
        }
        memcpy(summed_tail, tail, NND_GRAD_TAIL * sizeof *summed_tail);
        summed_tail[TAIL_NONFINITE] = (float)nnd_ew()->any_nonfinite(t->gshard, mine);
        MPI_Allreduce(MPI_IN_PLACE, summed_tail, NND_GRAD_TAIL, MPI_FLOAT, MPI_SUM, t->c->world);
        return summed_tail;
    }
    /* The tail in this rank's shared gradient is read by the others: the sums go apart. */
    if (t->grad_bf16) memcpy(t->gshm.seg[t->c->rank] + np, tail, NND_GRAD_TAIL * sizeof *tail);
    nnd_shm_barrier(&t->gshm); /* every gradient written */
    int bad = sum_shared(t, summed_tail), any_bad;
    /* One flag for all: a non-finite value anywhere reaches some rank's shard of the sum. This
     * allreduce also keeps every rank from writing its next gradient before all have read this
     * one. */
    MPI_Allreduce(&bad, &any_bad, 1, MPI_INT, MPI_MAX, t->c->world);
    summed_tail[TAIL_NONFINITE] = (float)any_bad;
    return summed_tail;
}
