/* nndist lr-find: the learning-rate range test (Smith 2017, "Cyclical Learning Rates for
 * Training Neural Networks", section 3.3), data-parallel through nnd_trainer.
 *
 * Step i of n takes lr_i = lr_min * (lr_max / lr_min)^(i / (n - 1)). The loss of each step
 * (the global mean over its batch) is smoothed by an exponential moving average with bias
 * correction, a_i = beta*a_{i-1} + (1-beta)*loss_i, smoothed_i = a_i / (1 - beta^(i+1)).
 * The test stops when smoothed_i > diverge * min_{j<=i} smoothed_j, or the loss is not finite.
 * Suggestions: the lr where the smoothed loss falls fastest against log(lr) (central
 * differences, from the first 5% of the steps up to the minimum), and the lr of the minimum / 10.
 * Every rank sees the same global sums, so every rank takes the same branches; rank 0 alone
 * writes the CSV, runs gnuplot and prints. */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nndist/cli.h"
#include "nndist/commands.h"
#include "nndist/guard.h"
#include "nndist/plot.h"
#include "nndist/stepper.h"
#include "nndist/trainer.h"

#include "cmd/train_flags.h"

static const char *const g_usage =
    "nndist lr-find --data FILE --layers N0,...,NL [--optimizer NAME ...] [options]";
static const char *const g_description =
    "The learning-rate range test (Smith 2017): trains with a learning rate that grows\n"
    "exponentially from --lr-min to --lr-max, one step each, records the smoothed loss, stops\n"
    "when it explodes, and suggests a learning rate: where the loss falls fastest, and the\n"
    "minimum / 10. Writes --out-csv (step,lr,loss,smoothed), a PNG plot (gnuplot), and draws\n"
    "the curve in the terminal. The data, model and optimizer options are train's.";

typedef struct {
    double lr_min, lr_max, beta, diverge;
    uint64_t steps;
    const char *csv, *png;
} lrfind_opts;

typedef struct {
    size_t n; /* points recorded */
    double *lr, *loss, *smooth;
    int stop;       /* 0 ran all steps, 1 exploded, 2 not finite */
    double stop_lr; /* the lr of the step that ended the test */
    size_t i_min;   /* index of the smallest smoothed loss */
    long i_steep;   /* index of the steepest descent, -1 when none */
} curve;

static void curve_free(curve *k)
{
    free(k->lr);
    free(k->loss);
    free(k->smooth);
}

/* Index of the most negative d smoothed / d log(lr) in [lo, hi], or -1 (fewer than 3 points). */
static long steepest(const curve *k, size_t lo, size_t hi)
{
    if (k->n < 3 || hi >= k->n) hi = k->n - 1;
    if (lo < 1) lo = 1;
    if (hi > k->n - 2) hi = k->n - 2;
    long best = -1;
    double best_slope = 0.0;
    for (size_t i = lo; i <= hi && hi >= lo; i++) {
        double dx = log(k->lr[i + 1]) - log(k->lr[i - 1]);
        double slope = (k->smooth[i + 1] - k->smooth[i - 1]) / dx;
        if (slope < best_slope) {
            best_slope = slope;
            best = (long)i;
        }
    }
    return best;
}

/* The loss range worth showing: from the lowest smoothed loss (or raw loss, with raw) to a
 * little above where the curve started (the exploded tail would squash everything else). */
static void y_range(const curve *k, double diverge, int raw, double *lo, double *hi)
{
    double mn = k->smooth[k->i_min], mx = -INFINITY;
    for (size_t i = 0; i < k->n; i++) {
        mx = fmax(mx, k->smooth[i]);
        if (raw) mn = fmin(mn, k->loss[i]);
    }
    double cap = fmax(k->smooth[0], diverge * k->smooth[k->i_min]);
    *hi = fmin(mx, cap);
    *lo = mn - 0.05 * (*hi - mn);
    *hi += 0.05 * (*hi - mn);
    if (!(*hi > *lo)) *hi = *lo + 1.0;
}

static int column_of(double lr, double x0, double x1, int width)
{
    int c = (int)((log10(lr) - x0) / (x1 - x0) * (width - 1) + 0.5);
    return c < 0 ? 0 : c >= width ? width - 1 : c;
}

/* Draws the smoothed loss against log10(lr): '*' the curve, 'S' the steepest descent,
 * 'M' the minimum. */
static void ascii_plot(const curve *k, double diverge)
{
    enum { W = 64, H = 16 };
    char grid[H][W + 1];
    for (int r = 0; r < H; r++) {
        memset(grid[r], ' ', W);
        grid[r][W] = '\0';
    }
    double ylo, yhi;
    y_range(k, diverge, 0, &ylo, &yhi);
    double x0 = log10(k->lr[0]), x1 = log10(k->lr[k->n - 1]);
    if (!(x1 > x0)) x1 = x0 + 1.0;
    for (size_t i = 0; i < k->n; i++) {
        double y = k->smooth[i];
        if (y > yhi) continue;
        int c = column_of(k->lr[i], x0, x1, W);
        int r = (int)((yhi - y) / (yhi - ylo) * (H - 1) + 0.5);
        if (r < 0) r = 0;
        if (r >= H) r = H - 1;
        char mark = '*';
        if (i == k->i_min) mark = 'M';
        if ((long)i == k->i_steep) mark = 'S';
        if (grid[r][c] == ' ' || mark != '*') grid[r][c] = mark;
    }
    printf("  smoothed loss vs learning rate (S steepest descent, M minimum)\n");
    for (int r = 0; r < H; r++) {
        double y = yhi - (yhi - ylo) * r / (H - 1);
        if (r == 0 || r == H - 1 || r == H / 2)
            printf("%9.4g |%s\n", y, grid[r]);
        else
            printf("%9s |%s\n", "", grid[r]);
    }
    printf("%9s +", "");
    for (int c = 0; c < W; c++) putchar('-');
    printf("\n%11s%-10.0e%*s%10.0e\n", "", k->lr[0], W - 20, "", k->lr[k->n - 1]);
}

static nnd_status write_csv(const curve *k, const char *path)
{
    FILE *f = fopen(path, "w");
    if (!f) return nnd_err_set(NND_ERR_IO, "--out-csv %s: cannot open for writing", path);
    fprintf(f, "step,lr,loss,smoothed\n");
    for (size_t i = 0; i < k->n; i++)
        fprintf(f, "%zu,%.9g,%.9g,%.9g\n", i + 1, k->lr[i], k->loss[i], k->smooth[i]);
    if (fclose(f) != 0) return nnd_err_set(NND_ERR_IO, "--out-csv %s: write failed", path);
    return NND_OK;
}

/* Draws the CSV's curve to o->png with gnuplot (see plot.h for when gnuplot is missing). */
static nnd_status gnuplot_png(const curve *k, const lrfind_opts *o, nnd_plot *p)
{
    nnd_status st = nnd_plot_open(p, o->png, 900, 600);
    if (st) return st;
    FILE *gp = p->out;
    double ylo, yhi;
    y_range(k, o->diverge, 1, &ylo, &yhi);
    fprintf(gp,
            "set datafile separator ','\nset logscale x\nset format x '%%.0e'\n"
            "set xlabel 'learning rate'\nset ylabel 'training loss'\nset grid\n"
            "set yrange [%.9g:%.9g]\nset key top left\n"
            "set title 'nndist lr-find: %zu steps'\n",
            ylo, yhi, k->n);
    if (k->i_steep >= 0)
        fprintf(gp,
                "set arrow 1 from %.9g, graph 0 to %.9g, graph 1 nohead dt 2 lc rgb 'red'\n"
                "set label 1 'steepest %.2g' at %.9g, graph 0.95 left offset 0.5,0 tc rgb 'red'\n",
                k->lr[k->i_steep], k->lr[k->i_steep], k->lr[k->i_steep], k->lr[k->i_steep]);
    double m10 = k->lr[k->i_min] / 10.0;
    fprintf(gp,
            "set arrow 2 from %.9g, graph 0 to %.9g, graph 1 nohead dt 3 lc rgb 'blue'\n"
            "set label 2 'min/10 %.2g' at %.9g, graph 0.88 left offset 0.5,0 tc rgb 'blue'\n",
            m10, m10, m10, m10);
    fprintf(gp, "plot ");
    nnd_plot_quote(gp, o->csv);
    fprintf(gp, " using 2:3 skip 1 with lines lc rgb '#aaaaaa' title 'loss', '' using 2:4 skip 1 "
                "with lines lw 2 lc rgb 'black' title 'smoothed'\n");
    return nnd_plot_close(p);
}

static void report(const curve *k, const lrfind_opts *o, const nnd_trainer *t, const char *name,
                   int ranks)
{
    printf("lr-find: %zu of %" PRIu64 " steps from %.3g to %.3g (%s, global batch %" PRIu64
           ", %d rank%s)\n",
           k->n, o->steps, o->lr_min, o->lr_max, name, t->batch, ranks, ranks == 1 ? "" : "s");
    if (k->stop == 1)
        printf("stopped at lr %.3g: the smoothed loss %.4g exceeded %g x the best %.4g\n",
               k->stop_lr, k->smooth[k->n - 1], o->diverge, k->smooth[k->i_min]);
    else if (k->stop == 2)
        printf("stopped at lr %.3g: the loss is no longer finite\n", k->stop_lr);
    else
        printf("the loss did not explode by --lr-max %.3g (raise it to see the whole curve)\n",
               o->lr_max);
    ascii_plot(k, o->diverge);
    if (k->i_steep >= 0)
        printf("suggested lr: %.3g  (steepest descent of the smoothed loss, at loss %.4g)\n",
               k->lr[k->i_steep], k->smooth[k->i_steep]);
    else
        printf("suggested lr: none from the slope (the loss never fell; lower --lr-min)\n");
    printf("          or: %.3g  (the minimum %.4g at lr %.3g, / 10)\n", k->lr[k->i_min] / 10.0,
           k->smooth[k->i_min], k->lr[k->i_min]);
}

/* Collective: the range test itself. Every rank records the same curve. */
static nnd_status sweep(nnd_trainer *t, const lrfind_opts *o, curve *k)
{
    double avg = 0.0, best = INFINITY;
    /* The first non-finite step ends the test; a signal ends lr-find (nothing to checkpoint). */
    nnd_stepper sp = {.max_bad = 1, .what = "lr-find"};
    for (uint64_t i = 0; i < o->steps; i++) {
        double lr = o->lr_min * pow(o->lr_max / o->lr_min, (double)i / (double)(o->steps - 1));
        nnd_step_stats s;
        int skipped;
        nnd_status st = nnd_stepper_step(&sp, t, lr, &s, &skipped);
        if (st == NND_ERR_NUMERIC) { /* agreed by every rank: the end of the test */
            nnd_err_clear();
            k->stop = 2;
            k->stop_lr = lr;
            break;
        }
        if (st) return st;
        double loss = s.samples > 0 ? s.loss_sum / s.samples : 0.0;
        avg = o->beta * avg + (1.0 - o->beta) * loss;
        double smooth = avg / (1.0 - pow(o->beta, (double)(i + 1)));
        k->lr[k->n] = lr;
        k->loss[k->n] = loss;
        k->smooth[k->n] = smooth;
        k->n++;
        if (!isfinite(smooth)) {
            k->n--;
            k->stop = 2;
            k->stop_lr = lr;
            break;
        }
        if (smooth < best) {
            best = smooth;
            k->i_min = k->n - 1;
        }
        if (smooth > o->diverge * best) {
            k->stop = 1;
            k->stop_lr = lr;
            break;
        }
    }
    if (k->n < 3)
        return nnd_err_set(NND_ERR_NUMERIC,
                           "lr-find: the loss diverged within %zu step(s) of --lr-min %g; "
                           "lower --lr-min",
                           k->n, o->lr_min);
    size_t skip = (size_t)(o->steps / 20);
    k->i_steep = steepest(k, skip, k->i_min);
    return NND_OK;
}

static void default_png(lrfind_opts *o, char *buf, size_t size)
{
    if (o->png) return;
    size_t len = strlen(o->csv);
    if (len > 4 && strcmp(o->csv + len - 4, ".csv") == 0)
        snprintf(buf, size, "%.*s.png", (int)(len - 4), o->csv);
    else
        snprintf(buf, size, "%s.png", o->csv);
    o->png = buf;
}

static nnd_status check_opts(const lrfind_opts *o, const nnd_train_flags *f)
{
    size_t np;
    const nnd_optim_param *params = nnd_optim_params(&np);
    for (size_t i = 0; i < np && i < NND_TRAIN_FLAGS_MAX_HYPER; i++)
        if (f->hyper_given[i] && strcmp(params[i].flag, "lr") == 0)
            return nnd_err_set(NND_ERR_USAGE, "--lr does not apply to lr-find: the learning rate "
                                              "sweeps from --lr-min to --lr-max");
    if (!(o->lr_max > o->lr_min))
        return nnd_err_set(NND_ERR_USAGE, "--lr-max %g must be larger than --lr-min %g", o->lr_max,
                           o->lr_min);
    if (o->steps < 5)
        return nnd_err_set(NND_ERR_USAGE, "--steps: %" PRIu64 " is too few; expected >= 5",
                           o->steps);
    if (o->steps > 1000000)
        return nnd_err_set(NND_ERR_USAGE, "--steps: %" PRIu64 " is too many; expected <= 1000000",
                           o->steps);
    if (!(o->beta < 1.0))
        return nnd_err_set(NND_ERR_USAGE, "--smoothing: %g is out of range; expected 0 <= b < 1",
                           o->beta);
    if (!(o->diverge > 1.0))
        return nnd_err_set(NND_ERR_USAGE, "--diverge: %g is out of range; expected > 1",
                           o->diverge);
    return NND_OK;
}

nnd_status nnd_cmd_lrfind(int argc, char **argv, const nnd_comm *c)
{
    nnd_train_config cfg;
    nnd_train_flags f;
    nnd_train_flags_init(&f, &cfg);
    lrfind_opts o = {1e-7, 10.0, 0.98, 4.0, 200, "lr-find.csv", NULL};
    int help = 0;
    const nnd_opt own[] = {
        {"lr-min", NND_OPT_POSITIVE, &o.lr_min, "X", "first learning rate (default 1e-7)", NULL},
        {"lr-max", NND_OPT_POSITIVE, &o.lr_max, "X", "last learning rate (default 10)", NULL},
        {"steps", NND_OPT_COUNT, &o.steps, "N", "steps from --lr-min to --lr-max (default 200)",
         NULL},
        {"smoothing", NND_OPT_NONNEG, &o.beta, "B",
         "factor of the loss's moving average (default 0.98)", NULL},
        {"diverge", NND_OPT_POSITIVE, &o.diverge, "X",
         "stop when the smoothed loss exceeds X times its minimum (default 4)", NULL},
        {"out-csv", NND_OPT_STRING, &o.csv, "FILE",
         "the curve: step,lr,loss,smoothed (default lr-find.csv)", NULL},
        {"out-png", NND_OPT_STRING, &o.png, "FILE",
         "the plot, drawn by gnuplot (default: --out-csv with .png)", NULL},
    };
    nnd_status st = nnd_train_flags_parse(&f, own, sizeof own / sizeof own[0], argc, argv, g_usage,
                                          g_description, c, &help);
    if (!st && help) return NND_OK;
    if (!st) st = check_opts(&o, &f);
    if (st) return st; /* a pure function of argv: the same verdict on every rank */
    if ((st = nnd_comm_agree(c, nnd_guard_watchdog_start(c->rank, cfg.watchdog)))) return st;
    char png[NND_PATH_MAX];
    default_png(&o, png, sizeof png);
    cfg.progress = 0;

    nnd_trainer t;
    curve k;
    memset(&k, 0, sizeof k);
    st = nnd_trainer_init(&t, &cfg, c);
    if (!st) {
        k.lr = malloc(o.steps * sizeof *k.lr);
        k.loss = malloc(o.steps * sizeof *k.loss);
        k.smooth = malloc(o.steps * sizeof *k.smooth);
        if (!k.lr || !k.loss || !k.smooth)
            st = nnd_err_set(NND_ERR_NOMEM, "cannot allocate %" PRIu64 " steps", o.steps);
        st = nnd_comm_agree(c, st);
    }
    if (!st) st = sweep(&t, &o, &k);
    nnd_guard_phase("writing the curve and the plot", NND_GUARD_SLOW_FLOOR_S);
    if (!st && c->rank == 0) {
        report(&k, &o, &t, cfg.optim.name, c->size);
        st = write_csv(&k, o.csv);
        if (!st) {
            /* The CSV is the result; without the picture the run still succeeds. */
            nnd_plot p;
            if (gnuplot_png(&k, &o, &p) == NND_OK)
                printf("wrote %s and %s\n", o.csv, o.png);
            else
                printf("wrote %s; %s%s\n", o.csv, p.missing ? "no PNG: " : "", nnd_err_msg());
            nnd_err_clear();
            fflush(stdout);
        }
    }
    st = nnd_comm_agree(c, st); /* rank 0's CSV may have failed */
    nnd_guard_watchdog_stop();
    curve_free(&k);
    nnd_trainer_free(&t);
    return st;
}
