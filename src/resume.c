#include "nndist/resume.h"

#include <stdio.h>
#include <string.h>

#include "nndist/ckpt_dir.h"
#include "nndist/comm.h"

nnd_status nnd_resume_newest(nnd_trainer *t, const char *dir, nnd_resume_accept_fn accept,
                             void *ctx, char *path, size_t size, nnd_ckpt_meta *meta, int *found)
{
    const nnd_comm *c = t->c;
    nnd_status st = NND_OK;
    int chosen = 0;
    path[0] = '\0';
    memset(meta, 0, sizeof *meta);
    if ((st = nnd_trainer_open_state(t))) return st;
    if (c->rank == 0) {
        uint64_t steps[64];
        int n = nnd_ckpt_list(dir, steps, 64);
        for (int i = 0; i < n && !chosen && !st; i++) {
            nnd_ckpt_path(path, size, dir, steps[i]);
            nnd_status s = nnd_ckpt_load(path, &t->model, nnd_trainer_state_io(t), meta);
            if (s == NND_OK && accept) s = accept(ctx, path, meta);
            if (s == NND_OK)
                chosen = 1;
            else if (s == NND_ERR_MISMATCH)
                st = s; /* another model, or the caller's refusal: do not fall back */
            else
                fprintf(stderr, "nndist: skipping a damaged checkpoint: %s\n", nnd_err_msg());
        }
    }
    if ((st = nnd_comm_agree(c, st))) {
        nnd_trainer_release_state(t);
        return st;
    }
    MPI_Bcast(&chosen, 1, MPI_INT, 0, c->world);
    *found = chosen;
    if (!chosen) {
        nnd_trainer_release_state(t);
        return NND_OK;
    }
    t->step = meta->step;
    nnd_trainer_share_state(t);
    MPI_Bcast(path, (int)size, MPI_CHAR, 0, c->world);
    MPI_Bcast(meta, (int)sizeof *meta, MPI_BYTE, 0, c->world);
    return NND_OK;
}
