/* nndist sweep, its options: the command line, the grid of configurations it lists, and the
 * rungs of successive halving. A pure function of argv and the world size. */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nndist/cli.h"
#include "cmd/sweep.h"

static const char *const g_usage =
    "nndist sweep --data FILE --layers N0,...,NL --optimizers A,B,... --lrs X,Y,... "
    "--folds K --epochs E [options]";
static const char *const g_description =
    "K-fold cross-validation of every (optimizer, lr, batch) configuration. The world splits\n"
    "into groups of --group-size ranks; each group trains one configuration at a time (all K\n"
    "folds, data-parallel like train), and configurations are dealt to groups as they free up.\n"
    "Prints a ranked table (mean +- std over the folds of the validation accuracy and loss;\n"
    "for --loss mse the R^2 and loss, ranked by the loss)\n"
    "and the best configuration as a train command; writes DIR/sweep.csv, DIR/folds.csv,\n"
    "DIR/heatmap.png (gnuplot) and DIR/fold1-{train,val}.h5 (fold 1, to reproduce a number).";

enum { SWEEP_MAX_CONFIGS = 1000 };

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
        if (*n == SWEEP_MAX_ITEMS)
            return nnd_err_set(NND_ERR_USAGE, "--%s: more than %d items", flag, SWEEP_MAX_ITEMS);
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
    char items[SWEEP_MAX_ITEMS][32];
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
    nnd_optim_config per_opt[SWEEP_MAX_ITEMS];
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
    if (s->n_cfg > SWEEP_MAX_CONFIGS)
        return nnd_err_set(NND_ERR_USAGE,
                           "--optimizers x --lrs x --batch make %zu configurations; expected at "
                           "most %d",
                           s->n_cfg, SWEEP_MAX_CONFIGS);
    s->cfg = calloc(s->n_cfg, sizeof *s->cfg);
    if (!s->cfg) return nnd_err_set(NND_ERR_NOMEM, "cannot allocate %zu configurations", s->n_cfg);
    size_t c = 0;
    for (size_t o = 0; o < s->n_opt; o++)
        for (size_t l = 0; l < s->n_lr; l++)
            for (size_t b = 0; b < s->n_batch; b++, c++) {
                sweep_config *cf = &s->cfg[c];
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

/* Rung sizes and budgets (see sweep.h). */
static void plan_rungs(sweep *s)
{
    size_t n = s->n_cfg;
    s->n_rungs = 1;
    s->rung_size[0] = n;
    while (s->halving && n > 3 && s->n_rungs < SWEEP_MAX_RUNGS) {
        n = (n + 2) / 3;
        s->rung_size[s->n_rungs++] = n;
    }
    for (int r = 0; r < s->n_rungs; r++) {
        uint64_t e = s->epochs;
        for (int j = r; j < s->n_rungs - 1 && e > 0; j++) e /= 3;
        s->rung_epochs[r] = e > 0 ? e : 1;
    }
}

void sweep_config_name(const sweep *s, size_t c, char *buf, size_t size)
{
    const sweep_config *cf = &s->cfg[c];
    snprintf(buf, size, "%s lr %s batch %" PRIu64, s->opt_text[cf->opt], s->lr_text[cf->lr],
             cf->batch_size);
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
        if (nnd_cli_is_help(argv[i])) return NND_OK;
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

nnd_status sweep_parse(sweep *s, int argc, char **argv, const nnd_comm *c, int *help)
{
    nnd_train_flags_init(&s->f, &s->base);
    s->batches = "128";
    s->out = "sweep-out";
    s->group_size = 1;
    s->lock_wait = 60.0;
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
         "output directory (default sweep-out; created if missing); OUT/state keeps the "
         "progress",
         NULL},
        {"checkpoint-every", NND_OPT_COUNT, &s->ckpt_every, "N",
         "a running fold checkpoints every N steps (default: only when a signal stops the "
         "sweep, with exit 75)",
         NULL},
        {"resume", NND_OPT_STRING, &s->resume, "auto",
         "continue the sweep recorded in --out (the same command otherwise)", NULL},
        {"lock-wait", NND_OPT_NONNEG, &s->lock_wait, "SECONDS",
         "a requeued SLURM job waits this long for its old instance to release --out "
         "(default 60)",
         NULL},
    };
    for (size_t i = 0; i < sizeof own / sizeof own[0]; i++) opts[n++] = own[i];
    opts[n] = (nnd_opt){NULL, 0, NULL, NULL, NULL, NULL};
    nnd_status st = refuse_train_only(argc, argv);
    if (!st) st = nnd_cli_parse_command(opts, argc, argv, 1, g_usage, g_description, c->rank, help);
    if (st || *help) return st;
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
    if (s->resume && strcmp(s->resume, "auto") != 0)
        return nnd_err_set(NND_ERR_USAGE, "--resume: '%s'; a sweep resumes with --resume auto",
                           s->resume);
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
