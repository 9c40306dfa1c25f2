/* nndist sweep, its options: the command line, the grid of configurations it lists, and the
 * rungs of successive halving. A pure function of argv and the world size. */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nndist/cli.h"
#include "nndist/dropout.h"
#include "cmd/sweep.h"

static const char *const g_usage =
    "nndist sweep --data FILE --layers N0,...,NL --optimizers A,B,... --lrs X,Y,... "
    "--folds K --epochs E [options]";
static const char *const g_description =
    "K-fold cross-validation of every (optimizer, lr, batch, layers, dropout, weight decay)\n"
    "configuration. The world splits\n"
    "into groups of --group-size ranks; each group trains one configuration at a time (all K\n"
    "folds, data-parallel like train), and configurations are dealt to groups as they free up.\n"
    "Prints a ranked table (mean +- std over the folds of the validation accuracy and loss;\n"
    "for --loss mse the R^2 and loss, ranked by the loss)\n"
    "and the best configuration as a train command; writes DIR/sweep.csv, DIR/folds.csv,\n"
    "DIR/heatmap.png (gnuplot) and DIR/fold1-{train,val}.h5 (fold 1, to reproduce a number).";

enum { SWEEP_MAX_CONFIGS = 1000 };

enum { ITEM_MAX = 64 };

/* Splits a list separated by sep into items, refusing empty, overlong and repeated ones. */
static nnd_status split_by(const char *flag, const char *text, char sep, const char *expected,
                           char items[][ITEM_MAX], size_t *n)
{
    *n = 0;
    const char *p = text;
    for (size_t i = 1;; i++) {
        const char *comma = strchr(p, sep);
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        if (len == 0)
            return nnd_err_set(NND_ERR_USAGE, "--%s: item %zu of '%s' is empty; expected %s", flag,
                               i, text, expected);
        if (len >= ITEM_MAX)
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

static nnd_status split_list(const char *flag, const char *text, const char *expected,
                             char items[][ITEM_MAX], size_t *n)
{
    return split_by(flag, text, ',', expected, items, n);
}

/* The model's axes: --layers A/B/... (every item a --layers of the same inputs and outputs),
 * --dropout P,Q,... (each train's --dropout, checked against each --layers in build_configs)
 * and --weight-decay X,Y,...; one item each when not listed. */
static nnd_status parse_axes(sweep *s)
{
    char items[SWEEP_MAX_ITEMS][ITEM_MAX];
    nnd_status st;
    s->n_layers = s->n_drop = s->n_wd = 1;
    s->drop_text[0][0] = '\0';
    s->wd[0] = NAN;
    if (!s->layers_list)
        return nnd_err_set(NND_ERR_USAGE, "--layers is required: at least two sizes, inputs and "
                                          "outputs, e.g. --layers 784,512,256,10 (alternatives "
                                          "separated by /)");
    const char *lay_expect = "layer lists separated by '/', such as 784,256,10/784,512,256,10";
    if ((st = split_by("layers", s->layers_list, '/', lay_expect, items, &s->n_layers))) return st;
    for (size_t i = 0; i < s->n_layers; i++) {
        nnd_cli_sizes *L = &s->layers[i];
        if ((st = nnd_cli_parse_value("layers", NND_OPT_SIZES, items[i], L))) return st;
        if (L->n < 2 || L->n > NND_MAX_LAYERS + 1)
            return nnd_err_set(NND_ERR_USAGE, "--layers: '%s' has %d sizes; expected 2 to %d",
                               items[i], L->n, NND_MAX_LAYERS + 1);
        if (L->v[0] != s->layers[0].v[0] || L->v[L->n - 1] != s->layers[0].v[s->layers[0].n - 1])
            return nnd_err_set(NND_ERR_USAGE,
                               "--layers: '%s' and '%s' differ in their inputs or outputs; the "
                               "alternatives share the data, so only the hidden layers may "
                               "differ",
                               items[0], items[i]);
        memcpy(s->layers_text[i], items[i], ITEM_MAX);
    }
    if (s->dropout_list) {
        const char *drop_expect = "train's --dropout values separated by commas, such as 0,0.2,0.5";
        if ((st = split_list("dropout", s->dropout_list, drop_expect, items, &s->n_drop)))
            return st;
        for (size_t i = 0; i < s->n_drop; i++) memcpy(s->drop_text[i], items[i], ITEM_MAX);
    }
    if (s->wd_list) {
        const char *wd_expect = "comma-separated numbers >= 0 such as 0,1e-4,1e-3";
        if ((st = split_list("weight-decay", s->wd_list, wd_expect, items, &s->n_wd))) return st;
        for (size_t i = 0; i < s->n_wd; i++) {
            if ((st = nnd_cli_parse_value("weight-decay", NND_OPT_NONNEG, items[i], &s->wd[i])))
                return st;
            memcpy(s->wd_text[i], items[i], ITEM_MAX);
        }
    }
    return NND_OK;
}

static nnd_status parse_lists(sweep *s)
{
    char items[SWEEP_MAX_ITEMS][ITEM_MAX];
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
    const size_t inner = s->n_batch * s->n_layers * s->n_drop * s->n_wd;
    s->n_cfg = s->n_opt * s->n_lr * inner;
    if (s->n_cfg > SWEEP_MAX_CONFIGS)
        return nnd_err_set(NND_ERR_USAGE,
                           "the grid (--optimizers x --lrs x --batch x --layers x --dropout x "
                           "--weight-decay) makes %zu configurations; expected at most %d",
                           s->n_cfg, SWEEP_MAX_CONFIGS);
    s->cfg = calloc(s->n_cfg, sizeof *s->cfg);
    if (!s->cfg) return nnd_err_set(NND_ERR_NOMEM, "cannot allocate %zu configurations", s->n_cfg);
    for (size_t c = 0; c < s->n_cfg; c++) {
        sweep_config *cf = &s->cfg[c];
        size_t k = c; /* optimizer-major, the weight decay innermost */
        cf->wd = k % s->n_wd, k /= s->n_wd;
        cf->drop = k % s->n_drop, k /= s->n_drop;
        cf->layers = k % s->n_layers, k /= s->n_layers;
        cf->batch = k % s->n_batch, k /= s->n_batch;
        cf->lr = k % s->n_lr, k /= s->n_lr;
        cf->opt = k;
        cf->optim = per_opt[cf->opt];
        cf->optim.lr = s->lr[cf->lr];
        if (s->wd_list) cf->optim.weight_decay = s->wd[cf->wd];
        cf->batch_size = s->batch[cf->batch];
        nnd_status st = nnd_optim_validate(&cf->optim);
        if (!st && s->dropout_list)
            st =
                nnd_dropout_parse(s->drop_text[cf->drop], s->layers[cf->layers].n - 2, cf->dropout);
        if (st) {
            char why[NND_ERR_MSG_MAX];
            snprintf(why, sizeof why, "%s", nnd_err_msg());
            return nnd_err_set(st, "with --optimizers %s and --layers %s: %s", s->opt_text[cf->opt],
                               s->layers_text[cf->layers], why);
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

void sweep_config_axes(const sweep *s, size_t c, char *buf, size_t size)
{
    const sweep_config *cf = &s->cfg[c];
    size_t used = 0;
    buf[0] = '\0';
    if (s->n_layers > 1)
        used += (size_t)snprintf(buf + used, size - used, " layers %s", s->layers_text[cf->layers]);
    if (s->n_drop > 1 && used < size)
        used += (size_t)snprintf(buf + used, size - used, " dropout %s", s->drop_text[cf->drop]);
    if (s->n_wd > 1 && used < size) snprintf(buf + used, size - used, " wd %s", s->wd_text[cf->wd]);
}

void sweep_config_name(const sweep *s, size_t c, char *buf, size_t size)
{
    const sweep_config *cf = &s->cfg[c];
    char axes[256];
    sweep_config_axes(s, c, axes, sizeof axes);
    snprintf(buf, size, "%s lr %s batch %" PRIu64 "%s", s->opt_text[cf->opt], s->lr_text[cf->lr],
             cf->batch_size, axes);
}

void sweep_config_train(const sweep *s, size_t c, nnd_train_config *cfg)
{
    const sweep_config *cf = &s->cfg[c];
    const nnd_cli_sizes *L = &s->layers[cf->layers];
    *cfg = s->base;
    cfg->n_layers = L->n - 1;
    for (int i = 0; i < L->n; i++) cfg->sizes[i] = L->v[i];
    memcpy(cfg->dropout, cf->dropout, sizeof cfg->dropout);
    cfg->optim = cf->optim;
    cfg->batch = cf->batch_size;
}

size_t sweep_inner_count(const sweep *s)
{
    return s->n_batch * s->n_layers * s->n_drop * s->n_wd;
}

/* The shared train options minus those that sweep lists or does not take. */
static int drop_opt(const char *name)
{
    static const char *const dropped[] = {"optimizer", "lr",     "batch",        "batch-per-rank",
                                          "init",      "layers", "weight-decay", "dropout"};
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
    nnd_opt shared[NND_TRAIN_FLAGS_MAX_OPTS], opts[NND_TRAIN_FLAGS_MAX_OPTS + 20];
    int n_shared = nnd_train_flags_add(&s->f, shared, 0), n = 0;
    for (int i = 0; i < n_shared; i++)
        if (!drop_opt(shared[i].name)) opts[n++] = shared[i];
    const nnd_opt own[] = {
        {"optimizers", NND_OPT_STRING, &s->optimizers, "A,B,...",
         "optimizers to compare (names as train's --optimizer); required", NULL},
        {"lrs", NND_OPT_STRING, &s->lrs, "X,Y,...", "learning rates to compare; required", NULL},
        {"batch", NND_OPT_STRING, &s->batches, "N,M,...",
         "global batch sizes to compare (default 128)", NULL},
        {"layers", NND_OPT_STRING, &s->layers_list, "N0,...,NL[/...]",
         "layer sizes, inputs first (train's --layers); alternatives separated by / are "
         "compared, e.g. 784,256,10/784,512,256,10; required",
         NULL},
        {"dropout", NND_OPT_STRING, &s->dropout_list, "P,Q,...",
         "dropout probabilities to compare, each train's --dropout (P, or P1:P2 per hidden "
         "layer), e.g. 0,0.2,0.5 (default: none)",
         NULL},
        {"weight-decay", NND_OPT_STRING, &s->wd_list, "X,Y,...",
         "weight decays to compare, train's --weight-decay for every optimizer (default: each "
         "optimizer's own)",
         NULL},
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
    if ((st = parse_axes(s))) return st;
    s->f.layers = s->layers[0]; /* train's checks see the first --layers */
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
