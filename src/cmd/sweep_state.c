/* nndist sweep, its durable progress in OUT/state/ (see sweep.h): the sweep's definition, a
 * record per job of its finished folds, and the checkpoints of the folds that were running. */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "nndist/atomic_file.h"
#include "nndist/optim.h"
#include "nndist/order.h"
#include "nndist/run_identity.h"
#include "cmd/sweep.h"

#define DEFINITION_FILE "sweep.txt"
#define JOB_FORMAT      "nndist-sweep-job"

void sweep_state_path(const sweep *s, char *buf, size_t size, const char *name)
{
    snprintf(buf, size, "%s/state%s%s", s->out, name ? "/" : "", name ? name : "");
}

/* ---- the definition ---- */

/* "a,b,c": the items of a list as the grid has them. */
static void join(char *buf, size_t size, size_t n, const char *items, size_t stride)
{
    size_t used = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < n && used < size; i++)
        used += (size_t)snprintf(buf + used, size - used, "%s%s", i ? "," : "", items + i * stride);
}

/* Everything that decides the sweep's numbers, as key=value words: train's run definition of the
 * shared settings, then the grid, the folds, the budgets, the group size and the hyperparameters
 * given (not the rank count, --out or the checkpoint cadence). */
static void definition(const sweep *s, char *buf, size_t size)
{
    char base[NND_CKPT_DEFINITION_SIZE], opts[1200], lrs[2200], batches[1400], hyper[1024];
    nnd_run_definition(base, sizeof base, &s->base, &s->shape, 0, NND_ORDER_CURRENT);
    join(opts, sizeof opts, s->n_opt, &s->opt_text[0][0], sizeof s->opt_text[0]);
    join(lrs, sizeof lrs, s->n_lr, &s->lr_text[0][0], sizeof s->lr_text[0]);
    size_t used = 0;
    batches[0] = hyper[0] = '\0';
    for (size_t i = 0; i < s->n_batch; i++)
        used += (size_t)snprintf(batches + used, sizeof batches - used, "%s%" PRIu64, i ? "," : "",
                                 s->batch[i]);
    size_t np;
    const nnd_optim_param *params = nnd_optim_params(&np);
    used = 0;
    for (size_t i = 0; i < np && i < NND_TRAIN_FLAGS_MAX_HYPER && used < sizeof hyper; i++)
        if (s->f.hyper_given[i])
            used += (size_t)snprintf(
                hyper + used, sizeof hyper - used, "%s%s:%a", used ? "," : "", params[i].flag,
                params[i].is_switch ? (double)s->f.hyper_on[i] : s->f.hyper[i]);
    char layers[SWEEP_MAX_ITEMS * 64], drops[SWEEP_MAX_ITEMS * 64], wds[SWEEP_MAX_ITEMS * 64];
    used = 0;
    layers[0] = '\0';
    for (size_t i = 0; i < s->n_layers && used < sizeof layers; i++)
        used += (size_t)snprintf(layers + used, sizeof layers - used, "%s%s", i ? "/" : "",
                                 s->layers_text[i]);
    join(drops, sizeof drops, s->dropout_list ? s->n_drop : 0, &s->drop_text[0][0],
         sizeof s->drop_text[0]);
    join(wds, sizeof wds, s->wd_list ? s->n_wd : 0, &s->wd_text[0][0], sizeof s->wd_text[0]);
    snprintf(buf, size,
             "%s optimizers=%s lrs=%s batches=%s layers-list=%s dropouts=%s weight-decays=%s "
             "folds=%" PRIu64 " epochs=%" PRIu64 " halving=%d subset=%" PRIu64
             " group-size=%" PRIu64 " hyperparameters=%s%s%s",
             base, opts, lrs, batches, layers, drops[0] ? drops : "none", wds[0] ? wds : "none",
             s->folds, s->epochs, s->halving, s->subset, s->group_size, hyper[0] ? hyper : "none",
             /* train's run definition leaves the precisions out (a checkpoint resumes in
              * either); a sweep's numbers depend on them */
             s->base.bf16 ? " precision=bf16" : "",
             s->base.grad_bf16 ? " grad-precision=bf16" : "");
}

static nnd_status write_text(const char *path, const char *text)
{
    nnd_atomic a;
    nnd_status st = nnd_atomic_begin(&a, path);
    if (st) return st;
    FILE *f = fopen(a.tmp, "w");
    if (!f) return nnd_err_set(NND_ERR_IO, "%s: cannot create: %s", a.tmp, strerror(errno));
    int bad = fputs(text, f) < 0;
    bad |= fclose(f) != 0;
    st = bad ? nnd_err_set(NND_ERR_IO, "%s: cannot write: %s", a.tmp, strerror(errno))
             : nnd_atomic_commit(&a);
    nnd_atomic_abort(&a);
    return st;
}

/* The definition stored in OUT/state ("" when none); -1 when unreadable. */
static int read_definition(const char *path, char *buf, size_t size)
{
    buf[0] = '\0';
    FILE *f = fopen(path, "r");
    if (!f) return errno == ENOENT ? 0 : -1;
    int ok = fgets(buf, (int)size, f) != NULL;
    fclose(f);
    buf[strcspn(buf, "\n")] = '\0';
    return ok ? 0 : -1;
}

/* ---- a job's record ---- */

static void job_path(const sweep *s, size_t c, int rung, char *buf, size_t size)
{
    char name[64];
    snprintf(name, sizeof name, "job-c%zu-r%d.txt", c, rung);
    sweep_state_path(s, buf, size, name);
}

void sweep_fold_dir(const sweep *s, size_t c, int rung, unsigned fold, char *buf, size_t size)
{
    char name[64];
    snprintf(name, sizeof name, "fold-c%zu-r%d-f%u", c, rung, fold);
    sweep_state_path(s, buf, size, name);
}

void sweep_fold_dir_remove(const sweep *s, size_t c, int rung, unsigned fold)
{
    char dir[NND_PATH_MAX], path[NND_PATH_MAX + 300];
    sweep_fold_dir(s, c, rung, fold, dir, sizeof dir);
    DIR *d = opendir(dir);
    if (!d) return;
    struct dirent *e;
    while ((e = readdir(d)))
        if (e->d_name[0] != '.') {
            snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
            unlink(path);
        }
    closedir(d);
    rmdir(dir);
}

nnd_status sweep_job_write(const sweep *s, size_t c, int rung, const sweep_result *r,
                           unsigned folds_done)
{
    char path[NND_PATH_MAX], text[8192];
    job_path(s, c, rung, path, sizeof path);
    /* Hexadecimal floats: the numbers read back bit for bit, so a resumed sweep reports exactly
     * what an uninterrupted one does. */
    int used = snprintf(text, sizeof text,
                        "%s 1\nconfig %zu rung %d epochs %" PRIu64 "\nfolds_done %u diverged %d "
                        "complete %d\nseconds %a\n",
                        JOB_FORMAT, c, rung, r->epochs, folds_done, (int)r->diverged, (int)r->have,
                        r->seconds);
    for (unsigned f = 0; f < folds_done && used < (int)sizeof text; f++)
        used += snprintf(text + used, sizeof text - (size_t)used, "fold %u %a %a %a %a\n", f,
                         r->score[f], r->loss[f], r->train_loss[f], r->train_score[f]);
    return write_text(path, text);
}

int sweep_job_read(const sweep *s, size_t c, int rung, sweep_result *r, unsigned *folds_done)
{
    char path[NND_PATH_MAX], format[32];
    job_path(s, c, rung, path, sizeof path);
    *folds_done = 0;
    FILE *f = fopen(path, "r");
    if (!f) return 0;
    int version, have, diverged, rung_in;
    size_t c_in;
    unsigned done;
    uint64_t epochs;
    double seconds;
    int ok = fscanf(f,
                    "%31s %d config %zu rung %d epochs %" SCNu64
                    " folds_done %u diverged %d complete %d seconds %la",
                    format, &version, &c_in, &rung_in, &epochs, &done, &diverged, &have,
                    &seconds) == 9 &&
             strcmp(format, JOB_FORMAT) == 0 && version == 1 && c_in == c && rung_in == rung &&
             epochs == s->rung_epochs[rung] && done <= s->folds && diverged >= 0 &&
             (unsigned)diverged <= done && (have == 0 || have == 1) && isfinite(seconds);
    sweep_result got;
    memset(&got, 0, sizeof got);
    for (unsigned k = 0; k < s->folds; k++) got.score[k] = got.loss[k] = NAN;
    for (unsigned k = 0; ok && k < done; k++) {
        unsigned fold;
        ok = fscanf(f, " fold %u %la %la %la %la", &fold, &got.score[k], &got.loss[k],
                    &got.train_loss[k], &got.train_score[k]) == 5 &&
             fold == k;
    }
    fclose(f);
    if (!ok) {
        fprintf(stderr, "nndist: note: %s is damaged; its configuration is trained again\n", path);
        return -1;
    }
    got.have = have;
    got.diverged = diverged;
    got.epochs = epochs;
    got.seconds = seconds;
    got.group = -1;
    *r = got;
    *folds_done = done;
    return 1;
}

/* ---- opening the state ---- */

/* Rank 0: the results an earlier instance of this sweep completed, into s->results. */
static void load_results(sweep *s)
{
    size_t loaded = 0;
    for (size_t c = 0; c < s->n_cfg; c++)
        for (int r = 0; r < s->n_rungs; r++) {
            sweep_result got;
            unsigned done;
            if (sweep_job_read(s, c, r, &got, &done) == 1 && got.have) {
                *sweep_result_at(s, c, r) = got;
                if (r > s->last[c]) s->last[c] = r;
                loaded++;
            }
        }
    printf("sweep: resuming: %zu of the jobs were completed by an earlier run\n", loaded);
    fflush(stdout);
}

nnd_status sweep_state_begin(sweep *s)
{
    char path[NND_PATH_MAX], ours[8192], stored[8192];
    sweep_state_path(s, path, sizeof path, DEFINITION_FILE);
    definition(s, ours, sizeof ours - 2); /* room for the newline */
    int rc = read_definition(path, stored, sizeof stored);
    if (rc < 0) return nnd_err_set(NND_ERR_IO, "%s: cannot read: %s", path, strerror(errno));
    if (stored[0] && !s->resume)
        return nnd_err_set(NND_ERR_USAGE,
                           "--out %s holds the progress of a sweep (%s); continue it with "
                           "--resume auto, or give this sweep another --out (or delete %s/state "
                           "to start over)",
                           s->out, path, s->out);
    if (stored[0]) {
        char key[64], theirs[512], mine[512];
        if (nnd_run_definition_differ(stored, ours, key, sizeof key, theirs, sizeof theirs, mine,
                                      sizeof mine))
            return nnd_err_set(NND_ERR_USAGE,
                               "--resume auto: the sweep in %s has %s=%s where this command has "
                               "%s=%s; a resumed sweep must keep the grid, the folds and the "
                               "training settings (run the same command, or give this sweep "
                               "another --out)",
                               s->out, key[0] ? key : "settings", key[0] ? theirs : stored,
                               key[0] ? key : "settings", key[0] ? mine : ours);
        load_results(s);
        return NND_OK;
    }
    if (s->resume) {
        printf("sweep: nothing to resume in %s: starting the sweep\n", s->out);
        fflush(stdout);
    }
    size_t n = strlen(ours);
    ours[n] = '\n';
    ours[n + 1] = '\0';
    return write_text(path, ours);
}
