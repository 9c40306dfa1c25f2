/* nndist sweep: k-fold cross-validation of every (optimizer, lr, batch) configuration, in
 * parallel across groups of ranks.
 *
 * Data. Every rank reads the samples once (the first --subset of them) and cuts the K folds
 * (folds.h: stratified, a function of --seed). Fold f's training set is every sample outside
 * fold f in file order, its validation set fold f in file order. A configuration trains K
 * sessions (nnd_trainer_init_subset), one per fold, from the same initial weights (--seed),
 * and evaluates each on its held-out fold after the last epoch.
 *
 * Groups. The world is split into groups of --group-size G consecutive ranks (MPI_Comm_split);
 * a group trains one configuration at a time, data-parallel like `train`. World rank 0 (also
 * the leader of group 0) deals the configurations: a group leader sends the result of its last
 * configuration with a request for the next (MPI_Send, tag TAG_REQUEST), rank 0 answers with a
 * job or "stop" (tag TAG_JOB) and the leader broadcasts it to its group. Rank 0 looks for
 * requests between the steps of its own group's training. A result is a pure function of
 * (configuration, epochs, folds, seed, G): the batch order, the ranks' stripes and the
 * validation split depend on the subset and the group size only. So which group runs what, and
 * how many groups there are, changes nothing; the same G gives bitwise the same numbers, and
 * another G the same to float round-off.
 *
 * Successive halving (--halving). With n configurations, rung 0 trains all of them; after each
 * rung the best ceil(n_r / 3) survive; the last rung is the first with at most 3
 * configurations (n = 40: 40, 14, 5, 2). With R rungs, rung r trains for
 * max(1, floor(E / 3^(R-1-r))) epochs (E = --epochs; the last rung trains E). Every rung
 * trains from scratch, so a result at a budget is the same as a plain sweep at that budget; a
 * rung whose budget equals the previous one reuses its results. Survivors are ranked like the
 * table: converged before diverged, then mean accuracy (higher first), mean loss, list order.
 *
 * A configuration diverges when --max-bad-steps (5, train's default) consecutive steps of a
 * fold are not finite (single ones are skipped, as in train) or its validation loss is not
 * finite; the remaining folds are skipped and it ranks last. */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "nndist/cli.h"
#include "nndist/commands.h"
#include "nndist/eval.h"
#include "nndist/folds.h"
#include "nndist/guard.h"
#include "nndist/trainer.h"

#include "cmd/train_flags.h"

static const char *const g_usage =
    "nndist sweep --data FILE --layers N0,...,NL --optimizers A,B,... --lrs X,Y,... "
    "--folds K --epochs E [options]";
static const char *const g_description =
    "K-fold cross-validation of every (optimizer, lr, batch) configuration. The world splits\n"
    "into groups of --group-size ranks; each group trains one configuration at a time (all K\n"
    "folds, data-parallel like train), and configurations are dealt to groups as they free up.\n"
    "Prints a ranked table (mean +- std over the folds of the validation accuracy and loss)\n"
    "and the best configuration as a train command; writes DIR/sweep.csv, DIR/folds.csv,\n"
    "DIR/heatmap.png (gnuplot) and DIR/fold1-{train,val}.h5 (fold 1, to reproduce a number).";

enum { TAG_REQUEST = 7101, TAG_JOB = 7102, MAX_ITEMS = 64, MAX_RUNGS = 16, MAX_CONFIGS = 1000 };

typedef struct {
    size_t opt, lr, batch;  /* indices into the lists */
    nnd_optim_config optim; /* defaults, the given hyperparameters, and the lr */
    uint64_t batch_size;
} config;

/* One configuration trained for one budget: per-fold numbers (NAN after a divergence). */
typedef struct {
    int32_t have;     /* filled */
    int32_t diverged; /* 0, or the 1-based fold that diverged */
    uint64_t epochs;
    double seconds; /* the group's wall time for all folds */
    int32_t group;  /* which group ran it (for the progress line only) */
    double acc[NND_FOLDS_MAX], loss[NND_FOLDS_MAX], train_loss[NND_FOLDS_MAX],
        train_acc[NND_FOLDS_MAX];
} result;

/* A leader's request: the result of its last job (config < 0: none yet) and its status. */
typedef struct {
    int32_t config, rung, status;
    result r;
    char msg[NND_ERR_MSG_MAX];
} request;

typedef struct {
    /* options */
    nnd_train_config base;
    nnd_train_flags f;
    const char *optimizers, *lrs, *batches, *out;
    uint64_t folds, epochs, group_size, subset;
    int halving;
    /* the grid: optimizers x lrs x batches, optimizer-major */
    char opt_text[MAX_ITEMS][16], lr_text[MAX_ITEMS][32];
    double lr[MAX_ITEMS];
    uint64_t batch[MAX_ITEMS];
    size_t n_opt, n_lr, n_batch, n_cfg;
    config *cfg;
    /* rungs */
    int n_rungs;
    uint64_t rung_epochs[MAX_RUNGS];
    size_t rung_size[MAX_RUNGS];
    /* data and folds */
    nnd_dataset all;
    size_t n, n_classes;
    uint32_t *fold;
    uint32_t *rows[NND_FOLDS_MAX][2]; /* [f][0] training, [f][1] validation positions */
    size_t n_rows[NND_FOLDS_MAX][2];
    /* results[c * n_rungs + r]; last[c] the highest rung configuration c reached */
    result *results;
    int *last;
    /* ranks */
    const nnd_comm *world;
    nnd_comm group;
    int n_groups, group_id;
    double t0;
    /* the schedule's buffers */
    request out_msg, in_msg; /* a leader's request; rank 0's receive buffer */
    size_t *jobs;            /* rank 0: the configurations of the current rung */
    int *waiting;            /* rank 0: leaders waiting for the next rung */
} sweep;

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
}

static result *res(const sweep *s, size_t c, int rung)
{
    return &s->results[c * (size_t)s->n_rungs + (size_t)rung];
}

/* ---- statistics and ranking ---- */

static size_t folds_done(const result *r, size_t k)
{
    return r->diverged ? 0 : k;
}

static void mean_std(const double *v, size_t k, double *mean, double *sd)
{
    double m = 0.0, q = 0.0;
    for (size_t i = 0; i < k; i++) m += v[i];
    m /= (double)k;
    for (size_t i = 0; i < k; i++) q += (v[i] - m) * (v[i] - m);
    *mean = m;
    *sd = k > 1 ? sqrt(q / (double)(k - 1)) : 0.0;
}

typedef struct {
    double acc, acc_sd, loss, loss_sd, train_loss;
    int ok; /* converged on every fold */
} summary;

static summary summarize(const sweep *s, const result *r)
{
    summary m = {NAN, NAN, NAN, NAN, NAN, 0};
    size_t k = folds_done(r, s->folds);
    if (!r->have || k == 0) return m;
    mean_std(r->acc, k, &m.acc, &m.acc_sd);
    mean_std(r->loss, k, &m.loss, &m.loss_sd);
    double sd;
    mean_std(r->train_loss, k, &m.train_loss, &sd);
    m.ok = 1;
    return m;
}

/* < 0 when configuration a ranks before b, comparing their results at rungs ra and rb: the
 * higher rung first, then converged, higher mean accuracy, lower mean loss, list order. */
static int rank_cmp(const sweep *s, size_t a, int ra, size_t b, int rb)
{
    if (ra != rb) return ra > rb ? -1 : 1;
    summary x = summarize(s, res(s, a, ra)), y = summarize(s, res(s, b, rb));
    if (x.ok != y.ok) return x.ok ? -1 : 1;
    if (x.ok && x.acc != y.acc) return x.acc > y.acc ? -1 : 1;
    if (x.ok && x.loss != y.loss) return x.loss < y.loss ? -1 : 1;
    return a < b ? -1 : a > b ? 1 : 0;
}

/* Sorts configuration indices by rank_cmp at rung `rung`, or at each one's last rung when
 * rung < 0 (insertion sort: a few hundred items, and stable). */
static void rank_sort(const sweep *s, size_t *idx, size_t n, int rung)
{
    for (size_t i = 1; i < n; i++) {
        size_t v = idx[i], j = i;
        int rv = rung < 0 ? s->last[v] : rung;
        while (j > 0 && rank_cmp(s, v, rv, idx[j - 1], rung < 0 ? s->last[idx[j - 1]] : rung) < 0) {
            idx[j] = idx[j - 1];
            j--;
        }
        idx[j] = v;
    }
}

/* ---- options ---- */

/* Splits a comma-separated list into items, refusing empty, overlong and repeated ones. */
static nnd_status split_list(const char *flag, const char *text, const char *expected,
                             char items[][32], size_t *n)
{
    *n = 0;
    const char *p = text;
    for (size_t i = 1;; i++) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        if (len == 0)
            return nnd_err_set(NND_ERR_USAGE, "--%s: item %zu of '%s' is empty; expected %s", flag,
                               i, text, expected);
        if (len >= 32)
            return nnd_err_set(NND_ERR_USAGE, "--%s: item %zu of '%s' is too long; expected %s",
                               flag, i, text, expected);
        if (*n == MAX_ITEMS)
            return nnd_err_set(NND_ERR_USAGE, "--%s: more than %d items", flag, MAX_ITEMS);
        memcpy(items[*n], p, len);
        items[*n][len] = '\0';
        for (size_t j = 0; j < *n; j++)
            if (strcmp(items[j], items[*n]) == 0)
                return nnd_err_set(NND_ERR_USAGE, "--%s: '%s' is listed twice in '%s'", flag,
                                   items[*n], text);
        (*n)++;
        if (!comma) return NND_OK;
        p = comma + 1;
    }
}

static nnd_status parse_lists(sweep *s)
{
    char items[MAX_ITEMS][32];
    size_t n;
    const char *opt_expect = "comma-separated optimizer names such as sgd,adam";
    nnd_status st = split_list("optimizers", s->optimizers, opt_expect, items, &n);
    if (st) return st;
    for (size_t i = 0; i < n; i++) {
        nnd_optim_config oc;
        if (nnd_optim_defaults(items[i], &oc) != 0)
            return nnd_err_set(NND_ERR_USAGE,
                               "--optimizers: unknown '%s' (item %zu of '%s'); expected names "
                               "from: %s",
                               items[i], i + 1, s->optimizers, nnd_optim_names());
        snprintf(s->opt_text[i], sizeof s->opt_text[i], "%.15s", items[i]);
    }
    s->n_opt = n;
    const char *lr_expect = "comma-separated positive numbers such as 1e-3,3e-3,1e-2";
    if ((st = split_list("lrs", s->lrs, lr_expect, items, &n))) return st;
    for (size_t i = 0; i < n; i++) {
        char *end;
        errno = 0;
        double v = strtod(items[i], &end);
        if (end == items[i] || *end != '\0')
            return nnd_err_set(NND_ERR_USAGE,
                               "--lrs: item '%s' of '%s' is not a number; expected %s", items[i],
                               s->lrs, lr_expect);
        if (!(v > 0.0) || !isfinite(v) || errno == ERANGE)
            return nnd_err_set(NND_ERR_USAGE,
                               "--lrs: item '%s' of '%s' is not allowed; expected %s", items[i],
                               s->lrs, lr_expect);
        s->lr[i] = v;
        memcpy(s->lr_text[i], items[i], sizeof s->lr_text[i]);
    }
    s->n_lr = n;
    const char *b_expect = "comma-separated positive integers such as 64,128";
    if ((st = split_list("batch", s->batches, b_expect, items, &n))) return st;
    for (size_t i = 0; i < n; i++) {
        uint64_t v;
        if (nnd_cli_parse_value("batch", NND_OPT_COUNT, items[i], &v))
            return nnd_err_set(NND_ERR_USAGE,
                               "--batch: item '%s' of '%s' is not a positive integer; expected %s",
                               items[i], s->batches, b_expect);
        s->batch[i] = v;
    }
    s->n_batch = n;
    return NND_OK;
}

/* The configurations: every listed optimizer with torch's defaults and the hyperparameters
 * given that apply to it; each given one must apply to at least one listed optimizer. */
static nnd_status build_configs(sweep *s)
{
    size_t np;
    const nnd_optim_param *params = nnd_optim_params(&np);
    nnd_optim_config per_opt[MAX_ITEMS];
    for (size_t o = 0; o < s->n_opt; o++) {
        nnd_optim_defaults(s->opt_text[o], &per_opt[o]);
        for (size_t i = 0; i < np && i < NND_TRAIN_FLAGS_MAX_HYPER; i++)
            if (s->f.hyper_given[i] && nnd_optim_param_applies(&params[i], per_opt[o].kind))
                nnd_optim_param_set(&per_opt[o], &params[i],
                                    params[i].is_switch ? 1.0 : s->f.hyper[i]);
    }
    for (size_t i = 0; i < np && i < NND_TRAIN_FLAGS_MAX_HYPER; i++) {
        if (!s->f.hyper_given[i]) continue;
        int applies = 0;
        for (size_t o = 0; o < s->n_opt; o++)
            applies |= nnd_optim_param_applies(&params[i], per_opt[o].kind);
        if (!applies)
            return nnd_err_set(NND_ERR_USAGE, "--%s applies to none of --optimizers %s",
                               params[i].flag, s->optimizers);
    }
    s->n_cfg = s->n_opt * s->n_lr * s->n_batch;
    if (s->n_cfg > MAX_CONFIGS)
        return nnd_err_set(NND_ERR_USAGE,
                           "--optimizers x --lrs x --batch make %zu configurations; expected at "
                           "most %d",
                           s->n_cfg, MAX_CONFIGS);
    s->cfg = calloc(s->n_cfg, sizeof *s->cfg);
    if (!s->cfg) return nnd_err_set(NND_ERR_NOMEM, "cannot allocate %zu configurations", s->n_cfg);
    size_t c = 0;
    for (size_t o = 0; o < s->n_opt; o++)
        for (size_t l = 0; l < s->n_lr; l++)
            for (size_t b = 0; b < s->n_batch; b++, c++) {
                config *cf = &s->cfg[c];
                cf->opt = o;
                cf->lr = l;
                cf->batch = b;
                cf->optim = per_opt[o];
                cf->optim.lr = s->lr[l];
                cf->batch_size = s->batch[b];
                nnd_status st = nnd_optim_validate(&cf->optim);
                if (st) {
                    char why[NND_ERR_MSG_MAX];
                    snprintf(why, sizeof why, "%s", nnd_err_msg());
                    return nnd_err_set(st, "with --optimizers %s: %s", s->opt_text[o], why);
                }
            }
    return NND_OK;
}

/* Rung sizes and budgets (see the top of the file). */
static void plan_rungs(sweep *s)
{
    size_t n = s->n_cfg;
    s->n_rungs = 1;
    s->rung_size[0] = n;
    while (s->halving && n > 3 && s->n_rungs < MAX_RUNGS) {
        n = (n + 2) / 3;
        s->rung_size[s->n_rungs++] = n;
    }
    for (int r = 0; r < s->n_rungs; r++) {
        uint64_t e = s->epochs;
        for (int j = r; j < s->n_rungs - 1 && e > 0; j++) e /= 3;
        s->rung_epochs[r] = e > 0 ? e : 1;
    }
}

/* ---- output helpers ---- */

/* The shortest %g form of v that reads back as v (10, not 1e+01). */
static void fmt_exact(char *buf, size_t size, double v)
{
    for (int p = 1; p <= 17; p++) {
        snprintf(buf, size, "%.*g", p, v);
        if (strtod(buf, NULL) == v && (!strstr(buf, "e+") || p == 17)) return;
    }
}

/* Appends text to a command line, single-quoted when the shell would split or expand it. */
static void cmd_add(char *cmd, size_t size, const char *text)
{
    size_t used = strlen(cmd);
    int plain = *text != '\0';
    for (const char *p = text; *p; p++)
        if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./,=+:@%", *p))
            plain = 0;
    if (plain) {
        snprintf(cmd + used, size - used, " %s", text);
        return;
    }
    used += (size_t)snprintf(cmd + used, size - used, " '");
    for (const char *p = text; *p && used + 5 < size; p++) {
        if (*p == '\'')
            used += (size_t)snprintf(cmd + used, size - used, "'\\''");
        else
            cmd[used++] = *p;
        cmd[used] = '\0';
    }
    snprintf(cmd + used, size - used, "'");
}

static void cmd_flag(char *cmd, size_t size, const char *flag, const char *value)
{
    cmd_add(cmd, size, flag);
    if (value) cmd_add(cmd, size, value);
}

/* `nndist train` for configuration c with `epochs`, on data (and val, or NULL). */
static void train_command(const sweep *s, size_t c, uint64_t epochs, int np, const char *data,
                          const char *val, int names, char *cmd, size_t size)
{
    const config *cf = &s->cfg[c];
    const nnd_train_config *b = &s->base;
    char num[64], layers[512] = "";
    snprintf(cmd, size, "mpirun -np %d nndist train", np);
    cmd_flag(cmd, size, "--data", data);
    if (val) cmd_flag(cmd, size, "--val", val);
    if (names && strcmp(b->x_name, "/X") != 0) cmd_flag(cmd, size, "--x-name", b->x_name);
    if (names && strcmp(b->y_name, "/y") != 0) cmd_flag(cmd, size, "--y-name", b->y_name);
    for (int i = 0; i <= b->n_layers; i++)
        snprintf(layers + strlen(layers), sizeof layers - strlen(layers), "%s%zu", i ? "," : "",
                 b->sizes[i]);
    cmd_flag(cmd, size, "--layers", layers);
    if (b->act != NND_ACT_RELU) cmd_flag(cmd, size, "--activation", nnd_activation_name(b->act));
    if (b->loss != NND_LOSS_SOFTMAX_CE) cmd_flag(cmd, size, "--loss", nnd_loss_name(b->loss));
    cmd_flag(cmd, size, "--optimizer", s->opt_text[cf->opt]);
    fmt_exact(num, sizeof num, cf->optim.lr);
    cmd_flag(cmd, size, "--lr", num);
    size_t np_;
    const nnd_optim_param *params = nnd_optim_params(&np_);
    for (size_t i = 0; i < np_ && i < NND_TRAIN_FLAGS_MAX_HYPER; i++) {
        if (!s->f.hyper_given[i] || !nnd_optim_param_applies(&params[i], cf->optim.kind) ||
            strcmp(params[i].flag, "lr") == 0)
            continue;
        char flag[64];
        snprintf(flag, sizeof flag, "--%s", params[i].flag);
        if (params[i].is_switch) {
            cmd_flag(cmd, size, flag, NULL);
        } else {
            fmt_exact(num, sizeof num, nnd_optim_param_get(&cf->optim, &params[i]));
            cmd_flag(cmd, size, flag, num);
        }
    }
    snprintf(num, sizeof num, "%" PRIu64, cf->batch_size);
    cmd_flag(cmd, size, "--batch", num);
    snprintf(num, sizeof num, "%" PRIu64, epochs);
    cmd_flag(cmd, size, "--epochs", num);
    snprintf(num, sizeof num, "%" PRIu64, b->seed);
    cmd_flag(cmd, size, "--seed", num);
    if (!b->shuffle) cmd_flag(cmd, size, "--no-shuffle", NULL);
    if (b->threads > 0) {
        snprintf(num, sizeof num, "%d", b->threads);
        cmd_flag(cmd, size, "--threads", num);
    }
}

static void config_name(const sweep *s, size_t c, char *buf, size_t size)
{
    const config *cf = &s->cfg[c];
    snprintf(buf, size, "%s lr %s batch %" PRIu64, s->opt_text[cf->opt], s->lr_text[cf->lr],
             cf->batch_size);
}

/* ---- one job: all folds of one configuration ---- */

typedef void (*poll_fn)(void *ctx);

/* Collective over the group: trains fold f of configuration c for `epochs` and evaluates it.
 * A divergence sets r->diverged; other failures are returned (agreed in the group). */
static nnd_status run_fold(sweep *s, size_t c, uint64_t epochs, unsigned f, result *r, poll_fn poll,
                           void *ctx)
{
    nnd_train_config cfg = s->base;
    const config *cf = &s->cfg[c];
    cfg.optim = cf->optim;
    cfg.batch = cf->batch_size;
    cfg.epochs = epochs;
    nnd_data_subset train = {&s->all, s->rows[f][0], s->n_rows[f][0]};
    nnd_data_subset val = {&s->all, s->rows[f][1], s->n_rows[f][1]};
    nnd_trainer t;
    nnd_status st = nnd_trainer_init_subset(&t, &cfg, &s->group, &train, &val);
    if (st) {
        nnd_trainer_free(&t);
        return st;
    }
    uint64_t total = epochs * t.spe, bad = 0;
    nnd_schedule sched;
    nnd_schedule_init(&sched, &cfg.sched, cfg.optim.lr, t.batch, total);
    double loss_sum = 0.0, correct = 0.0, samples = 0.0;
    while (t.step < total) {
        nnd_step_stats ss;
        st = nnd_trainer_step(&t, nnd_schedule_lr(&sched, t.step), &ss);
        if (st == NND_ERR_NUMERIC) { /* every rank of the group saw it */
            nnd_err_clear();
            st = NND_OK;
            if (++bad >= cfg.max_bad_steps) break;
        } else if (st) {
            break;
        } else {
            bad = 0;
            if ((t.step - 1) / t.spe == epochs - 1) { /* the last epoch, as train reports it */
                loss_sum += ss.loss_sum;
                correct += ss.correct;
                samples += ss.samples;
            }
        }
        if (ss.signal) {
            int sig = nnd_guard_signal_pending();
            st = nnd_err_set(NND_ERR_IO, "stopped by %s during the sweep; nothing was written",
                             sig ? nnd_guard_signal_name(sig) : "a signal to another rank");
            break;
        }
        if (poll) poll(ctx);
    }
    if (!st && bad < cfg.max_bad_steps) {
        nnd_eval_result ev;
        nnd_evaluate(&t.model, &t.val, cfg.loss, &s->group, 0, &ev);
        r->acc[f] = ev.accuracy;
        r->loss[f] = ev.loss;
        r->train_loss[f] = samples > 0 ? loss_sum / samples : NAN;
        r->train_acc[f] = samples > 0 ? correct / samples : NAN;
        if (!isfinite(ev.loss)) r->diverged = (int32_t)f + 1;
    } else if (!st) {
        r->diverged = (int32_t)f + 1;
    }
    nnd_trainer_free(&t);
    return st;
}

static nnd_status run_job(sweep *s, size_t c, int rung, result *r, poll_fn poll, void *ctx)
{
    memset(r, 0, sizeof *r);
    double t0 = MPI_Wtime();
    r->epochs = s->rung_epochs[rung];
    r->group = s->group_id;
    for (unsigned f = 0; f < s->folds; f++) r->acc[f] = r->loss[f] = NAN;
    for (unsigned f = 0; f < s->folds && !r->diverged; f++) {
        nnd_status st = run_fold(s, c, r->epochs, f, r, poll, ctx);
        if (st) return st;
    }
    r->seconds = MPI_Wtime() - t0;
    r->have = 1;
    return NND_OK;
}

/* ---- the coordinator (world rank 0) ---- */

typedef struct {
    sweep *s;
    int rung;
    size_t *jobs; /* configurations of the current rung, dealt in this order */
    size_t n_jobs, next, n_results;
    int *waiting; /* leaders (world ranks) waiting for the next rung */
    int n_waiting, stops_sent, finished, aborted;
    nnd_status fatal;
    char fatal_msg[NND_ERR_MSG_MAX];
    size_t reported;
} coord;

static void best_so_far(const coord *co, char *buf, size_t size)
{
    const sweep *s = co->s;
    long best = -1;
    for (size_t c = 0; c < s->n_cfg; c++)
        if (s->last[c] >= 0 &&
            (best < 0 || rank_cmp(s, c, s->last[c], (size_t)best, s->last[best]) < 0))
            best = (long)c;
    summary m = best >= 0 ? summarize(s, res(s, (size_t)best, s->last[best])) : (summary){0};
    if (best < 0 || !m.ok) {
        snprintf(buf, size, "none converged yet");
        return;
    }
    char name[128];
    config_name(s, (size_t)best, name, sizeof name);
    snprintf(buf, size, "%s (%.4f)", name, m.acc);
}

static void progress(coord *co, size_t c, const result *r)
{
    sweep *s = co->s;
    char name[128], best[200], rung[64] = "";
    config_name(s, c, name, sizeof name);
    best_so_far(co, best, sizeof best);
    co->reported++;
    if (s->n_rungs > 1) snprintf(rung, sizeof rung, "rung %d/%d ", co->rung + 1, s->n_rungs);
    summary m = summarize(s, r);
    char what[96];
    if (m.ok)
        snprintf(what, sizeof what, "acc %.4f ± %.4f  loss %.4f ± %.4f", m.acc, m.acc_sd, m.loss,
                 m.loss_sd);
    else
        snprintf(what, sizeof what, "diverged (fold %d)", r->diverged);
    /* "±" is two bytes and one column: widen the field by one per sign. */
    printf("%s[%3zu/%zu] %-32s %-*s %6.1f s  group %d  best: %s\n", rung, co->n_results, co->n_jobs,
           name, m.ok ? 38 : 36, what, r->seconds, r->group, best);
    fflush(stdout);
}

static int job_available(const coord *co)
{
    return !co->aborted && !co->finished && co->next < co->n_jobs;
}

/* Starts rung r over the given configurations; a rung with the previous budget reuses the
 * previous results. */
static void start_rung(coord *co, int r, size_t n_alive)
{
    sweep *s = co->s;
    co->rung = r;
    co->n_jobs = n_alive;
    co->next = co->n_results = 0;
    int reuse = r > 0 && s->rung_epochs[r] == s->rung_epochs[r - 1];
    if (s->n_rungs > 1) {
        printf("rung %d/%d: %zu configuration%s at %" PRIu64 " epoch%s%s\n", r + 1, s->n_rungs,
               n_alive, n_alive == 1 ? "" : "s", s->rung_epochs[r],
               s->rung_epochs[r] == 1 ? "" : "s",
               reuse ? " (the previous rung's budget: its results carry over)" : "");
        fflush(stdout);
    }
    if (!reuse) return;
    for (size_t i = 0; i < n_alive; i++) {
        size_t c = co->jobs[i];
        *res(s, c, r) = *res(s, c, r - 1);
        s->last[c] = r;
    }
    co->next = co->n_results = n_alive;
}

/* Moves on while the current rung is complete: the best third go on, or the sweep ends. */
static void advance(coord *co)
{
    sweep *s = co->s;
    while (!co->aborted && !co->finished && co->n_results == co->n_jobs) {
        if (co->rung + 1 >= s->n_rungs) {
            co->finished = 1;
            break;
        }
        rank_sort(s, co->jobs, co->n_jobs, co->rung);
        start_rung(co, co->rung + 1, s->rung_size[co->rung + 1]);
    }
}

static void record(coord *co, const request *q)
{
    sweep *s = co->s;
    if (q->status != NND_OK) {
        if (!co->aborted) {
            co->fatal = (nnd_status)q->status;
            snprintf(co->fatal_msg, sizeof co->fatal_msg, "%s", q->msg);
        }
        co->aborted = 1;
        return;
    }
    size_t c = (size_t)q->config;
    *res(s, c, q->rung) = q->r;
    if (q->rung > s->last[c]) s->last[c] = q->rung;
    co->n_results++;
    progress(co, c, &q->r);
    advance(co);
}

static void reply(coord *co, int leader)
{
    int32_t job[2] = {-1, -1};
    if (job_available(co)) {
        job[0] = (int32_t)co->jobs[co->next++];
        job[1] = co->rung;
    } else if (!co->aborted && !co->finished) {
        co->waiting[co->n_waiting++] = leader;
        return;
    } else {
        co->stops_sent++;
    }
    MPI_Send(job, 2, MPI_INT32_T, leader, TAG_JOB, co->s->world->world);
}

static void serve_waiting(coord *co)
{
    while (co->n_waiting > 0 && (job_available(co) || co->aborted || co->finished)) {
        int leader = co->waiting[0];
        memmove(co->waiting, co->waiting + 1, (size_t)--co->n_waiting * sizeof *co->waiting);
        reply(co, leader);
    }
}

static void handle(coord *co, const request *q, int leader)
{
    if (q->config >= 0 || q->status != NND_OK) record(co, q);
    reply(co, leader);
    serve_waiting(co);
}

static void receive(coord *co, int blocking)
{
    for (;;) {
        int flag = 1;
        MPI_Status status;
        if (!blocking) MPI_Iprobe(MPI_ANY_SOURCE, TAG_REQUEST, co->s->world->world, &flag, &status);
        if (!flag) return;
        request *q = &co->s->in_msg;
        MPI_Recv(q, (int)sizeof *q, MPI_BYTE, MPI_ANY_SOURCE, TAG_REQUEST, co->s->world->world,
                 &status);
        handle(co, q, status.MPI_SOURCE);
        if (blocking) return;
    }
}

static void coord_poll(void *ctx)
{
    receive(ctx, 0);
}

/* Rank 0's own group asks for a job: wait for other groups' results while the rung is busy. */
static void coord_take(coord *co, int32_t job[2])
{
    for (;;) {
        if (job_available(co)) {
            job[0] = (int32_t)co->jobs[co->next++];
            job[1] = co->rung;
            return;
        }
        if (co->aborted || co->finished) {
            job[0] = job[1] = -1;
            return;
        }
        receive(co, 1);
    }
}

/* ---- the schedule loop, every rank ---- */

/* Collective over the world: every group takes jobs until told to stop. Returns the world's
 * verdict on fatal failures (a divergence is a result, not a failure). */
static nnd_status run_sweep(sweep *s)
{
    const nnd_comm *w = s->world;
    int leader = s->group.rank == 0, root = w->rank == 0;
    coord co;
    memset(&co, 0, sizeof co);
    co.s = s;
    nnd_status mine = NND_OK;
    co.jobs = s->jobs;
    co.waiting = s->waiting;
    if (root) {
        for (size_t c = 0; c < s->n_cfg; c++) co.jobs[c] = c;
        start_rung(&co, 0, s->n_cfg);
    }
    request *q = &s->out_msg;
    q->config = -1;
    for (;;) {
        int32_t job[2];
        if (root) {
            coord_take(&co, job);
        } else if (leader) {
            MPI_Send(q, (int)sizeof *q, MPI_BYTE, 0, TAG_REQUEST, w->world);
            MPI_Recv(job, 2, MPI_INT32_T, 0, TAG_JOB, w->world, MPI_STATUS_IGNORE);
        }
        MPI_Bcast(job, 2, MPI_INT32_T, 0, s->group.world);
        if (job[0] < 0) break;
        nnd_status st = run_job(s, (size_t)job[0], job[1], &q->r, root ? coord_poll : NULL, &co);
        q->config = job[0];
        q->rung = job[1];
        q->status = (int32_t)st;
        if (st) {
            snprintf(q->msg, sizeof q->msg, "%s", nnd_err_msg());
            mine = st;
        }
        if (root) {
            record(&co, q);
            serve_waiting(&co);
        }
    }
    if (root) {
        while (co.stops_sent < s->n_groups - 1) receive(&co, 1);
        if (co.aborted) mine = nnd_err_set(co.fatal, "%s", co.fatal_msg);
    }
    return nnd_comm_agree(w, mine);
}

/* ---- the report (rank 0) ---- */

static void print_table(const sweep *s, const size_t *order)
{
    printf("\n%4s  %-10s %-8s %6s %6s%s  %-17s  %-17s %8s\n", "rank", "optimizer", "lr", "batch",
           "epochs", s->n_rungs > 1 ? "  rung" : "", "val acc", "val loss", "seconds");
    for (size_t i = 0; i < s->n_cfg; i++) {
        size_t c = order[i];
        const config *cf = &s->cfg[c];
        const result *r = res(s, c, s->last[c]);
        summary m = summarize(s, r);
        char rung[16] = "", acc[40], loss[40];
        if (s->n_rungs > 1) snprintf(rung, sizeof rung, "  %4d", s->last[c] + 1);
        if (m.ok) {
            snprintf(acc, sizeof acc, "%.4f ± %.4f", m.acc, m.acc_sd);
            snprintf(loss, sizeof loss, "%.4f ± %.4f", m.loss, m.loss_sd);
        } else {
            snprintf(acc, sizeof acc, "diverged (fold %d)", r->diverged);
            snprintf(loss, sizeof loss, "-");
        }
        /* "±" is two bytes and one column: pad by hand. */
        printf("%4zu  %-10s %-8s %6" PRIu64 " %6" PRIu64 "%s  %-*s  %-*s %8.1f\n", i + 1,
               s->opt_text[cf->opt], s->lr_text[cf->lr], cf->batch_size, r->epochs, rung,
               m.ok ? 18 : 17, acc, m.ok ? 18 : 17, loss, r->seconds);
    }
}

static nnd_status write_csvs(const sweep *s, const size_t *order, const char *dir)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/sweep.csv", dir);
    FILE *f = fopen(path, "w");
    if (!f)
        return nnd_err_set(NND_ERR_IO, "--out %s: cannot write %s: %s", dir, path, strerror(errno));
    fprintf(f, "rank,optimizer,lr,batch,epochs,rung,folds,val_acc_mean,val_acc_std,val_loss_mean,"
               "val_loss_std,train_loss_mean,seconds,status\n");
    for (size_t i = 0; i < s->n_cfg; i++) {
        size_t c = order[i];
        const config *cf = &s->cfg[c];
        const result *r = res(s, c, s->last[c]);
        summary m = summarize(s, r);
        char lr[64];
        fmt_exact(lr, sizeof lr, cf->optim.lr);
        fprintf(f, "%zu,%s,%s,%" PRIu64 ",%" PRIu64 ",%d,%" PRIu64 ",", i + 1, s->opt_text[cf->opt],
                lr, cf->batch_size, r->epochs, s->last[c] + 1, s->folds);
        if (m.ok)
            fprintf(f, "%.9g,%.9g,%.9g,%.9g,%.9g,%.3f,ok\n", m.acc, m.acc_sd, m.loss, m.loss_sd,
                    m.train_loss, r->seconds);
        else
            fprintf(f, ",,,,,%.3f,diverged\n", r->seconds);
    }
    int bad = fclose(f) != 0;
    if (bad) return nnd_err_set(NND_ERR_IO, "%s: write failed", path);

    /* Every fold of every budget trained, in list order: the numbers a train run reproduces
     * (val_acc and val_loss formatted as train's --metrics). */
    snprintf(path, sizeof path, "%s/folds.csv", dir);
    if (!(f = fopen(path, "w")))
        return nnd_err_set(NND_ERR_IO, "--out %s: cannot write %s: %s", dir, path, strerror(errno));
    fprintf(f, "optimizer,lr,batch,epochs,fold,val_acc,val_loss,train_loss,train_acc,status\n");
    for (size_t c = 0; c < s->n_cfg; c++)
        for (int rg = 0; rg <= s->last[c]; rg++) {
            if (rg > 0 && s->rung_epochs[rg] == s->rung_epochs[rg - 1]) continue;
            const config *cf = &s->cfg[c];
            const result *r = res(s, c, rg);
            char lr[64];
            fmt_exact(lr, sizeof lr, cf->optim.lr);
            for (unsigned k = 0; k < s->folds; k++) {
                fprintf(f, "%s,%s,%" PRIu64 ",%" PRIu64 ",%u,", s->opt_text[cf->opt], lr,
                        cf->batch_size, r->epochs, k + 1);
                if (r->diverged && k + 1 >= (unsigned)r->diverged)
                    fprintf(f, ",,,,%s\n", k + 1 == (unsigned)r->diverged ? "diverged" : "skipped");
                else
                    fprintf(f, "%.6f,%.6f,%.6f,%.6f,ok\n", r->acc[k], r->loss[k], r->train_loss[k],
                            r->train_acc[k]);
            }
        }
    if (fclose(f) != 0) return nnd_err_set(NND_ERR_IO, "%s: write failed", path);
    return NND_OK;
}

/* Writes s as a gnuplot single-quoted string ('' stands for a quote). */
static void gp_string(FILE *gp, const char *text)
{
    fputc('\'', gp);
    for (; *text; text++) {
        if (*text == '\'') fputc('\'', gp);
        fputc(*text, gp);
    }
    fputc('\'', gp);
}

/* The heatmap: optimizer x lr, the mean accuracy at each configuration's last rung (the best
 * over the batch sizes when several). Returns 0 when written, 1 without gnuplot, -1 when it
 * failed. */
static int heatmap(const sweep *s, const char *png)
{
    const char *prog = getenv("NNDIST_GNUPLOT");
    char check[600], cmd[600];
    if (!prog || !*prog) prog = "gnuplot";
    snprintf(check, sizeof check, "command -v '%s' > /dev/null 2>&1", prog);
    if (strchr(prog, '\'') || system(check) != 0) return 1;
    snprintf(cmd, sizeof cmd, "'%s' > /dev/null 2>&1", prog);
    FILE *gp = popen(cmd, "w");
    if (!gp) return -1;
    double grid[MAX_ITEMS][MAX_ITEMS], lo = INFINITY, hi = -INFINITY;
    for (size_t o = 0; o < s->n_opt; o++)
        for (size_t l = 0; l < s->n_lr; l++) {
            grid[o][l] = NAN;
            for (size_t b = 0; b < s->n_batch; b++) {
                size_t c = (o * s->n_lr + l) * s->n_batch + b;
                summary m = summarize(s, res(s, c, s->last[c]));
                if (m.ok && !(m.acc <= grid[o][l])) grid[o][l] = m.acc;
            }
            if (isfinite(grid[o][l])) {
                lo = fmin(lo, grid[o][l]);
                hi = fmax(hi, grid[o][l]);
            }
        }
    if (!(hi > lo)) {
        lo = isfinite(lo) ? lo - 0.01 : 0.0;
        hi = lo + 0.02;
    }
    int w = 160 + 110 * (int)s->n_lr, h = 120 + 48 * (int)s->n_opt;
    fprintf(gp, "set terminal png size %d,%d\nset output ", w < 640 ? 640 : w, h < 360 ? 360 : h);
    gp_string(gp, png);
    /* One filled box per cell (robust for a single row or column, unlike "with image"). */
    int n_ok = 0, n_div = 0;
    fprintf(gp, "\n$cells << EOD\n");
    for (size_t o = 0; o < s->n_opt; o++)
        for (size_t l = 0; l < s->n_lr; l++)
            if (isfinite(grid[o][l])) fprintf(gp, "%zu %zu %.6f\n", l, o, grid[o][l]), n_ok++;
    fprintf(gp, "EOD\n$div << EOD\n");
    for (size_t o = 0; o < s->n_opt; o++)
        for (size_t l = 0; l < s->n_lr; l++)
            if (!isfinite(grid[o][l])) fprintf(gp, "%zu %zu\n", l, o), n_div++;
    fprintf(gp, "EOD\n$labels << EOD\n");
    for (size_t o = 0; o < s->n_opt; o++)
        for (size_t l = 0; l < s->n_lr; l++) {
            if (isfinite(grid[o][l]))
                fprintf(gp, "%zu %zu \"%.4f\"\n", l, o, grid[o][l]);
            else
                fprintf(gp, "%zu %zu \"diverged\"\n", l, o);
        }
    fprintf(gp, "EOD\nset xtics (");
    for (size_t l = 0; l < s->n_lr; l++)
        fprintf(gp, "%s\"%s\" %zu", l ? ", " : "", s->lr_text[l], l);
    fprintf(gp, ")\nset ytics (");
    for (size_t o = 0; o < s->n_opt; o++)
        fprintf(gp, "%s\"%s\" %zu", o ? ", " : "", s->opt_text[o], o);
    fprintf(gp,
            ")\nset xrange [-0.5:%zu.5]\nset yrange [%zu.5:-0.5]\nset cbrange [%.6f:%.6f]\n"
            "set palette defined (0 '#440154', 0.35 '#31688e', 0.65 '#35b779', 1 '#fde725')\n"
            "set xlabel 'learning rate'\nset ylabel 'optimizer'\nset tics nomirror out\n"
            "set style textbox opaque noborder\nset style fill solid 1.0 noborder\n"
            "set title \"nndist sweep: mean validation accuracy, %" PRIu64 "-fold, %" PRIu64
            " epoch%s%s%s\"\nplot ",
            s->n_lr - 1, s->n_opt - 1, lo, hi, s->folds, s->epochs, s->epochs == 1 ? "" : "s",
            s->n_batch > 1 ? " (best batch size)" : "",
            s->n_rungs > 1 ? " (halving: each at its last rung)" : "");
    if (n_ok) fprintf(gp, "$cells using 1:2:(0.5):(0.5):3 with boxxyerror fc palette notitle, ");
    if (n_div) fprintf(gp, "$div using 1:2:(0.5):(0.5) with boxxyerror fc rgb '#bbbbbb' notitle, ");
    fprintf(gp, "$labels using 1:2:3 with labels boxed notitle\n");
    return pclose(gp) == 0 ? 0 : -1;
}

/* Fold 1's training and validation rows as dataset files, for the reproduction command. */
static nnd_status write_fold_files(const sweep *s, char *train_path, char *val_path, size_t size)
{
    snprintf(train_path, size, "%s/fold1-train.h5", s->out);
    snprintf(val_path, size, "%s/fold1-val.h5", s->out);
    nnd_dataset ds;
    nnd_status st =
        nnd_data_gather(&ds, &s->all, s->rows[0][0], s->n_rows[0][0], 0, s->n_rows[0][0]);
    if (!st) st = nnd_data_save(&ds, train_path, "/X", "/y");
    nnd_data_free(&ds);
    if (!st) st = nnd_data_gather(&ds, &s->all, s->rows[0][1], s->n_rows[0][1], 0, s->n_rows[0][1]);
    if (!st) st = nnd_data_save(&ds, val_path, "/X", "/y");
    nnd_data_free(&ds);
    return st;
}

static nnd_status report(const sweep *s)
{
    size_t *order = malloc(s->n_cfg * sizeof *order);
    if (!order) return nnd_err_set(NND_ERR_NOMEM, "cannot allocate the table");
    for (size_t c = 0; c < s->n_cfg; c++) order[c] = c;
    rank_sort(s, order, s->n_cfg, -1);
    double seconds = MPI_Wtime() - s->t0;
    print_table(s, order);
    printf("%zu configuration%s x %" PRIu64 " folds of %zu samples (%s), %d rank%s in %d "
           "group%s of %" PRIu64 ", %.1f s\n",
           s->n_cfg, s->n_cfg == 1 ? "" : "s", s->folds, s->n, s->base.data, s->world->size,
           s->world->size == 1 ? "" : "s", s->n_groups, s->n_groups == 1 ? "" : "s", s->group_size,
           seconds);
    nnd_status st = write_csvs(s, order, s->out);
    if (st) goto out;
    char png[4096];
    snprintf(png, sizeof png, "%s/heatmap.png", s->out);
    int rc = heatmap(s, png);
    if (rc == 0)
        printf("wrote %s/sweep.csv, %s/folds.csv and %s\n", s->out, s->out, png);
    else if (rc == 1)
        printf("wrote %s/sweep.csv and %s/folds.csv; no heatmap: gnuplot is not installed "
               "(Debian: apt-get install gnuplot-nox)\n",
               s->out, s->out);
    else
        printf("wrote %s/sweep.csv and %s/folds.csv; gnuplot failed to write %s\n", s->out, s->out,
               png);

    size_t best = order[0];
    const result *r = res(s, best, s->last[best]);
    summary m = summarize(s, r);
    if (!m.ok) {
        printf("no configuration converged: lower the learning rates\n");
        goto out;
    }
    char name[128], cmd[8192], train_path[4096], val_path[4096];
    if ((st = write_fold_files(s, train_path, val_path, sizeof train_path))) goto out;
    config_name(s, best, name, sizeof name);
    printf("\nbest: %s, %" PRIu64 " epoch%s: val acc %.4f ± %.4f, loss %.4f ± %.4f over %" PRIu64
           " folds\n",
           name, r->epochs, r->epochs == 1 ? "" : "s", m.acc, m.acc_sd, m.loss, m.loss_sd,
           s->folds);
    train_command(s, best, r->epochs, s->world->size, s->base.data, NULL, 1, cmd, sizeof cmd);
    printf("train it on all of %s%s:\n  %s\n", s->base.data,
           s->subset ? " (the sweep used its first --subset samples)" : "", cmd);
    train_command(s, best, r->epochs, (int)s->group_size, train_path, val_path, 0, cmd, sizeof cmd);
    printf("reproduce its fold 1 (val acc %.6f, loss %.6f at the last epoch; bitwise with %d "
           "rank%s, as in the sweep's groups):\n  %s\n",
           r->acc[0], r->loss[0], (int)s->group_size, s->group_size == 1 ? "" : "s", cmd);
out:
    fflush(stdout);
    free(order);
    return st;
}

/* ---- setup ---- */

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
    s->n = s->subset ? (size_t)s->subset : shape.n;
    s->n_classes = b->loss == NND_LOSS_SOFTMAX_CE ? b->sizes[b->n_layers] : 0;
    nnd_guard_phase("loading data", 600.0);
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

/* Rank 0 creates --out (one level) and checks it is a writable directory. */
static nnd_status prepare_out(const sweep *s)
{
    struct stat sb;
    if (mkdir(s->out, 0777) != 0 && errno != EEXIST)
        return nnd_err_set(NND_ERR_IO, "--out %s: cannot create the directory: %s", s->out,
                           strerror(errno));
    if (stat(s->out, &sb) != 0 || !S_ISDIR(sb.st_mode))
        return nnd_err_set(NND_ERR_IO, "--out %s: not a directory", s->out);
    if (access(s->out, W_OK) != 0)
        return nnd_err_set(NND_ERR_IO, "--out %s: not writable: %s", s->out, strerror(errno));
    return NND_OK;
}

/* The shared train options minus those that sweep lists or does not take. */
static int drop_opt(const char *name)
{
    static const char *const dropped[] = {"optimizer", "lr", "batch", "batch-per-rank", "init"};
    for (size_t i = 0; i < sizeof dropped / sizeof dropped[0]; i++)
        if (strcmp(name, dropped[i]) == 0) return 1;
    return 0;
}

/* train's options that a sweep lists instead, or does not take: a message saying so. */
static nnd_status refuse_train_only(int argc, char **argv)
{
    static const char *const refused[][2] = {
        {"lr", "list the learning rates with --lrs"},
        {"optimizer", "list the optimizers with --optimizers"},
        {"batch-per-rank", "list global batch sizes with --batch"},
        {"init", "every configuration starts from the --seed initialisation"},
    };
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) return NND_OK;
        for (size_t j = 0; j < sizeof refused / sizeof refused[0]; j++) {
            size_t len = strlen(refused[j][0]);
            if (strncmp(argv[i], "--", 2) == 0 && strncmp(argv[i] + 2, refused[j][0], len) == 0 &&
                (argv[i][2 + len] == '\0' || argv[i][2 + len] == '='))
                return nnd_err_set(NND_ERR_USAGE, "--%s does not apply to sweep: %s", refused[j][0],
                                   refused[j][1]);
        }
    }
    return NND_OK;
}

static nnd_status parse(sweep *s, int argc, char **argv, const nnd_comm *c, int *help)
{
    nnd_train_flags_init(&s->f, &s->base);
    s->batches = "128";
    s->out = "sweep-out";
    s->group_size = 1;
    int folds_given = 0, epochs_given = 0;
    nnd_opt shared[NND_TRAIN_FLAGS_MAX_OPTS], opts[NND_TRAIN_FLAGS_MAX_OPTS + 16];
    int n_shared = nnd_train_flags_add(&s->f, shared, 0), n = 0;
    for (int i = 0; i < n_shared; i++)
        if (!drop_opt(shared[i].name)) opts[n++] = shared[i];
    const nnd_opt own[] = {
        {"optimizers", NND_OPT_STRING, &s->optimizers, "A,B,...",
         "optimizers to compare (names as train's --optimizer); required", NULL},
        {"lrs", NND_OPT_STRING, &s->lrs, "X,Y,...", "learning rates to compare; required", NULL},
        {"batch", NND_OPT_STRING, &s->batches, "N,M,...",
         "global batch sizes to compare (default 128)", NULL},
        {"folds", NND_OPT_COUNT, &s->folds, "K", "cross-validation folds, 2..100; required",
         &folds_given},
        {"epochs", NND_OPT_COUNT, &s->epochs, "E",
         "epochs per fold (with --halving: of the last rung); required", &epochs_given},
        {"group-size", NND_OPT_COUNT, &s->group_size, "G",
         "ranks per configuration; must divide the world size (default 1)", NULL},
        {"halving", NND_OPT_FLAG, &s->halving, NULL,
         "successive halving: keep the best third after each rung of epochs", NULL},
        {"subset", NND_OPT_COUNT, &s->subset, "N", "use the first N samples of --data", NULL},
        {"out", NND_OPT_STRING, &s->out, "DIR",
         "output directory (default sweep-out; created if missing)", NULL},
    };
    for (size_t i = 0; i < sizeof own / sizeof own[0]; i++) opts[n++] = own[i];
    opts[n] = (nnd_opt){NULL, 0, NULL, NULL, NULL, NULL};
    nnd_status st = refuse_train_only(argc, argv);
    if (!st) st = nnd_cli_parse(opts, argc, argv, 1, help);
    if (st || *help) {
        if (!st && c->rank == 0) nnd_cli_print_help(stdout, g_usage, g_description, opts);
        return st;
    }
    /* train's checks of the shared flags, without the optimizer's (done per listed one). */
    int given[NND_TRAIN_FLAGS_MAX_HYPER];
    memcpy(given, s->f.hyper_given, sizeof given);
    memset(s->f.hyper_given, 0, sizeof s->f.hyper_given);
    st = nnd_train_flags_finish(&s->f);
    memcpy(s->f.hyper_given, given, sizeof given);
    if (st) return st;
    if (!s->optimizers)
        return nnd_err_set(NND_ERR_USAGE, "--optimizers is required, e.g. --optimizers sgd,adam");
    if (!s->lrs) return nnd_err_set(NND_ERR_USAGE, "--lrs is required, e.g. --lrs 1e-3,1e-2,1e-1");
    if (!folds_given) return nnd_err_set(NND_ERR_USAGE, "--folds K is required, e.g. --folds 5");
    if (!epochs_given) return nnd_err_set(NND_ERR_USAGE, "--epochs E is required, e.g. --epochs 2");
    if (s->folds < 2 || s->folds > NND_FOLDS_MAX)
        return nnd_err_set(NND_ERR_USAGE, "--folds: %" PRIu64 " is out of range; expected 2..%d",
                           s->folds, NND_FOLDS_MAX);
    if (s->epochs > 1000000)
        return nnd_err_set(NND_ERR_USAGE, "--epochs: %" PRIu64 " is too many", s->epochs);
    if ((st = parse_lists(s))) return st;
    if ((st = build_configs(s))) return st;
    if (s->group_size > (uint64_t)c->size || c->size % (int)s->group_size != 0) {
        char divisors[256] = "";
        for (int d = 1; d <= c->size; d++)
            if (c->size % d == 0)
                snprintf(divisors + strlen(divisors), sizeof divisors - strlen(divisors), "%s%d",
                         *divisors ? ", " : "", d);
        return nnd_err_set(NND_ERR_USAGE,
                           "--group-size %" PRIu64 " does not divide the %d rank%s; expected "
                           "one of %s",
                           s->group_size, c->size, c->size == 1 ? "" : "s", divisors);
    }
    s->base.progress = 0;
    plan_rungs(s);
    return NND_OK;
}

nnd_status nnd_cmd_sweep(int argc, char **argv, const nnd_comm *c)
{
    sweep *s = calloc(1, sizeof *s);
    if (!s) return nnd_err_set(NND_ERR_NOMEM, "cannot allocate the sweep");
    s->world = c;
    s->t0 = MPI_Wtime();
    int help = 0;
    /* Parsing is a pure function of argv (and the world size): the same verdict everywhere. */
    nnd_status st = parse(s, argc, argv, c, &help);
    if (st || help) goto out;
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
    if ((st = run_sweep(s))) goto out;
    st = nnd_comm_agree(c, c->rank == 0 ? report(s) : NND_OK);
out:
    sweep_free(s);
    free(s);
    return st;
}
