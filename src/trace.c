#include "nndist/trace.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nndist/atomic_file.h"

static const char *const g_names[NND_TRACE_KIND_COUNT] = {
    "forward+backward", "allreduce", "update", "allgather", "checkpoint", "evaluation"};

nnd_status nnd_trace_init(nnd_trace *t, size_t cap, const nnd_comm *c)
{
    memset(t, 0, sizeof *t);
    t->cap = cap;
    t->ev = malloc((cap ? cap : 1) * 3 * sizeof *t->ev);
    nnd_status st =
        t->ev ? NND_OK : nnd_err_set(NND_ERR_NOMEM, "--trace: cannot allocate %zu events", cap);
    st = nnd_comm_agree(c, st);
    MPI_Barrier(c->world);
    t->origin = MPI_Wtime();
    return st;
}

void nnd_trace_free(nnd_trace *t)
{
    free(t->ev);
    memset(t, 0, sizeof *t);
}

void nnd_trace_add(nnd_trace *t, nnd_trace_kind kind, double t0, double t1)
{
    if (!t) return;
    if (t->n == t->cap) {
        t->dropped++;
        return;
    }
    double *e = t->ev + 3 * t->n++;
    e[0] = (double)kind;
    e[1] = (t0 - t->origin) * 1e6;
    e[2] = (t1 - t->origin) * 1e6;
}

static int write_json(FILE *f, const double *ev, const int *counts, int size, size_t dropped)
{
    fprintf(f,
            "{\"displayTimeUnit\": \"ms\", \"otherData\": {\"producer\": \"nndist\", "
            "\"dropped_events\": %zu},\n\"traceEvents\": [\n",
            dropped);
    int first = 1;
    for (int r = 0; r < size; r++) {
        fprintf(f,
                "%s{\"name\": \"process_name\", \"ph\": \"M\", \"pid\": %d, \"tid\": 0, "
                "\"args\": {\"name\": \"rank %d\"}}",
                first ? "" : ",\n", r, r);
        first = 0;
    }
    for (int r = 0; r < size; r++) {
        for (int i = 0; i < counts[r]; i++, ev += 3) {
            int kind = (int)ev[0];
            if (kind < 0 || kind >= NND_TRACE_KIND_COUNT) continue;
            fprintf(f,
                    ",\n{\"name\": \"%s\", \"ph\": \"X\", \"pid\": %d, \"tid\": 0, "
                    "\"ts\": %.3f, \"dur\": %.3f}",
                    g_names[kind], r, ev[1], ev[2] - ev[1]);
        }
    }
    fprintf(f, "\n]}\n");
    return ferror(f) ? -1 : 0;
}

nnd_status nnd_trace_write(const nnd_trace *t, const nnd_comm *c, const char *path)
{
    int mine = (int)t->n, *counts = NULL, *displs = NULL;
    unsigned long long dropped = t->dropped, all_dropped = 0;
    double *all = NULL;
    nnd_status st = NND_OK;
    if (c->rank == 0) {
        counts = calloc((size_t)c->size, sizeof *counts);
        displs = calloc((size_t)c->size, sizeof *displs);
    }
    MPI_Gather(&mine, 1, MPI_INT, counts, 1, MPI_INT, 0, c->world);
    MPI_Reduce(&dropped, &all_dropped, 1, MPI_UNSIGNED_LONG_LONG, MPI_SUM, 0, c->world);
    size_t total = 0;
    if (c->rank == 0) {
        for (int r = 0; r < c->size; r++) {
            displs[r] = (int)(3 * total);
            total += (size_t)counts[r];
            counts[r] *= 3;
        }
        all = malloc((total ? total : 1) * 3 * sizeof *all);
    }
    MPI_Gatherv(t->ev, 3 * mine, MPI_DOUBLE, all, counts, displs, MPI_DOUBLE, 0, c->world);
    if (c->rank == 0) {
        for (int r = 0; r < c->size; r++) counts[r] /= 3;
        nnd_atomic a;
        st = nnd_atomic_begin(&a, path);
        FILE *f = NULL;
        if (st == NND_OK && !(f = fopen(a.tmp, "w")))
            st = nnd_err_set(NND_ERR_IO, "--trace %s: cannot create: %s", a.tmp, strerror(errno));
        if (f) {
            int rc = write_json(f, all, counts, c->size, (size_t)all_dropped), err = errno;
            if (fclose(f) != 0 && rc == 0) {
                rc = -1;
                err = errno;
            }
            st = rc ? nnd_err_set(NND_ERR_IO, "--trace %s: write failed: %s", a.tmp, strerror(err))
                    : nnd_atomic_commit(&a);
        }
        nnd_atomic_abort(&a);
    }
    free(all);
    free(counts);
    free(displs);
    return nnd_comm_agree(c, st);
}
