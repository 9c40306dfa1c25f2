/* nndist sweep, the command: parse, prepare the output directory, load the data and cut the
 * folds, run the schedule, report (the design is described in sweep.h). */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "nndist/budget.h"
#include "nndist/eval.h"
#include "nndist/guard.h"
#include "cmd/sweep.h"

static void sweep_free(sweep *s)
{
    free(s->cfg);
    free(s->fold);
    for (int f = 0; f < NND_FOLDS_MAX; f++) {
        free(s->rows[f][0]);
        free(s->rows[f][1]);
    }
    free(s->results);
    free(s->last);
    free(s->jobs);
    free(s->waiting);
    nnd_data_free(&s->all);
    if (s->group.owned) nnd_comm_free(&s->group);
    nnd_ckpt_dir_close(&s->state_lock);
}

sweep_result *sweep_result_at(const sweep *s, size_t c, int rung)
{
    return &s->results[c * (size_t)s->n_rungs + (size_t)rung];
}

/* Collective: every rank reads the samples and cuts the folds. */
static nnd_status load_and_fold(sweep *s)
{
    const nnd_comm *w = s->world;
    const nnd_train_config *b = &s->base;
    nnd_data_shape shape;
    nnd_model probe;
    memset(&probe, 0, sizeof probe);
    probe.n_layers = b->n_layers;
    memcpy(probe.sizes, b->sizes, sizeof probe.sizes);
    nnd_status st = nnd_data_probe(b->data, b->x_name, b->y_name, &shape);
    if (!st) st = nnd_check_data_fits(b->data, &shape, &probe, b->loss, b->y_name);
    if (!st && s->subset > shape.n)
        st = nnd_err_set(NND_ERR_USAGE, "--subset %" PRIu64 ": %s has only %zu samples", s->subset,
                         b->data, shape.n);
    if ((st = nnd_comm_agree(w, st))) return st;
    s->shape = shape;
    s->n = s->subset ? (size_t)s->subset : shape.n;
    s->n_classes = b->loss == NND_LOSS_SOFTMAX_CE ? b->sizes[b->n_layers] : 0;
    /* Every rank holds all the samples, and its part of a fold's training subset beside them. */
    nnd_guard_phase("checking memory", NND_GUARD_SLOW_FLOOR_S);
    size_t fold_rows = (s->n + (size_t)s->group_size - 1) / (size_t)s->group_size;
    if ((st = nnd_budget_check_run(b, w, s->n + fold_rows, 0, shape.k_targets))) return st;
    nnd_guard_phase("loading data", NND_GUARD_SLOW_FLOOR_S);
    st = nnd_data_load(&s->all, b->data, b->x_name, b->y_name, &shape, 0, s->n, s->n_classes);
    nnd_guard_idle();
    if ((st = nnd_comm_agree(w, st))) return st;
    s->fold = malloc(s->n * sizeof *s->fold);
    if (!s->fold) st = nnd_err_set(NND_ERR_NOMEM, "cannot allocate the folds");
    const int32_t *labels = s->n_classes ? s->all.labels : NULL;
    if (!st) {
        st = nnd_folds_assign(labels, s->n, s->n_classes, (unsigned)s->folds, b->seed, s->fold);
        if (st == NND_ERR_USAGE) {
            char why[NND_ERR_MSG_MAX];
            snprintf(why, sizeof why, "%s", nnd_err_msg());
            int cls;
            size_t most = nnd_folds_smallest_class(labels, s->n, s->n_classes, &cls);
            char where[96] = "";
            if (s->subset) snprintf(where, sizeof where, " of the first %zu (--subset)", s->n);
            if (most < 2)
                st = nnd_err_set(st,
                                 "--folds %" PRIu64 ": %s%s; cross-validation needs every class "
                                 "at least twice",
                                 s->folds, why, where);
            else
                st = nnd_err_set(st, "--folds %" PRIu64 ": %s%s; expected --folds <= %zu", s->folds,
                                 why, where, most);
        }
    }
    size_t in_fold[NND_FOLDS_MAX] = {0};
    for (size_t i = 0; !st && i < s->n; i++) in_fold[s->fold[i]]++;
    for (unsigned f = 0; !st && f < s->folds; f++)
        for (int v = 0; v < 2 && !st; v++) {
            size_t count = v ? in_fold[f] : s->n - in_fold[f];
            s->rows[f][v] = malloc((count + 1) * sizeof *s->rows[f][v]);
            if (!s->rows[f][v])
                st = nnd_err_set(NND_ERR_NOMEM, "cannot allocate the folds");
            else
                s->n_rows[f][v] = nnd_folds_select(s->fold, s->n, f, v, s->rows[f][v]);
        }
    size_t smallest = s->n;
    for (unsigned f = 0; !st && f < s->folds; f++)
        if (s->n_rows[f][0] < smallest) smallest = s->n_rows[f][0];
    for (size_t i = 0; !st && i < s->n_batch; i++)
        if (s->batch[i] > smallest)
            st = nnd_err_set(NND_ERR_USAGE,
                             "--batch %" PRIu64 " is larger than a training fold (%zu samples); "
                             "expected <= %zu",
                             s->batch[i], smallest, smallest);
    return nnd_comm_agree(w, st);
}

/* Rank 0 creates --out (one level), checks it is a writable directory, and takes OUT/state
 * (created when missing) for this sweep: one sweep per output directory at a time. */
static nnd_status prepare_out(sweep *s)
{
    struct stat sb;
    if (mkdir(s->out, 0777) != 0 && errno != EEXIST)
        return nnd_err_set(NND_ERR_IO, "--out %s: cannot create the directory: %s", s->out,
                           strerror(errno));
    if (stat(s->out, &sb) != 0 || !S_ISDIR(sb.st_mode))
        return nnd_err_set(NND_ERR_IO, "--out %s: not a directory", s->out);
    if (access(s->out, W_OK) != 0)
        return nnd_err_set(NND_ERR_IO, "--out %s: not writable: %s", s->out, strerror(errno));
    char state[NND_PATH_MAX];
    sweep_state_path(s, state, sizeof state, NULL);
    return nnd_ckpt_dir_open(&s->state_lock, state, s->lock_wait);
}

nnd_status nnd_cmd_sweep(int argc, char **argv, const nnd_comm *c)
{
    sweep *s = calloc(1, sizeof *s);
    if (!s) return nnd_err_set(NND_ERR_NOMEM, "cannot allocate the sweep");
    s->world = c;
    s->state_lock.fd = -1;
    s->t0 = MPI_Wtime();
    int help = 0;
    /* Parsing is a pure function of argv (and the world size): the same verdict everywhere. */
    nnd_status st = sweep_parse(s, argc, argv, c, &help);
    if (st || help) goto out;
    if ((st = nnd_comm_agree(c, nnd_guard_watchdog_start(c->rank, s->base.watchdog)))) goto out;
    nnd_guard_phase_wait("creating and locking --out", s->lock_wait);
    st = nnd_comm_agree(c, c->rank == 0 ? prepare_out(s) : NND_OK);
    if (!st) st = load_and_fold(s);
    if (st) goto out;
    s->n_groups = c->size / (int)s->group_size;
    s->group_id = c->rank / (int)s->group_size;
    s->results = calloc(s->n_cfg * (size_t)s->n_rungs, sizeof *s->results);
    s->last = malloc(s->n_cfg * sizeof *s->last);
    s->jobs = malloc(s->n_cfg * sizeof *s->jobs);
    s->waiting = malloc((size_t)s->n_groups * sizeof *s->waiting);
    st = s->results && s->last && s->jobs && s->waiting
             ? NND_OK
             : nnd_err_set(NND_ERR_NOMEM, "cannot allocate the results of %zu configurations",
                           s->n_cfg);
    if ((st = nnd_comm_agree(c, st))) goto out;
    for (size_t i = 0; i < s->n_cfg; i++) s->last[i] = -1;
    nnd_guard_phase("reading and writing --out's state", NND_GUARD_SLOW_FLOOR_S);
    if ((st = nnd_comm_agree(c, c->rank == 0 ? sweep_state_begin(s) : NND_OK))) goto out;
    nnd_guard_idle();
    nnd_comm_split(c, s->group_id, c->rank, &s->group);
    if (c->rank == 0) {
        printf(
            "sweep: %zu configuration%s (%zu optimizer%s x %zu lr%s x %zu batch size%s) x %" PRIu64
            " folds of %zu samples, %d group%s of %" PRIu64 " rank%s%s\n",
            s->n_cfg, s->n_cfg == 1 ? "" : "s", s->n_opt, s->n_opt == 1 ? "" : "s", s->n_lr,
            s->n_lr == 1 ? "" : "s", s->n_batch, s->n_batch == 1 ? "" : "s", s->folds, s->n,
            s->n_groups, s->n_groups == 1 ? "" : "s", s->group_size, s->group_size == 1 ? "" : "s",
            s->halving ? ", successive halving" : "");
        fflush(stdout);
    }
    if ((st = sweep_run(s))) goto out;
    nnd_guard_phase("writing the report", NND_GUARD_SLOW_FLOOR_S);
    st = nnd_comm_agree(c, c->rank == 0 ? sweep_report(s) : NND_OK);
out:
    nnd_guard_watchdog_stop();
    sweep_free(s);
    free(s);
    return st;
}
