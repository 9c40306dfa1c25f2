/* nndist plot: the learning curves of a training run, from its metrics file, CSV or JSON lines
 * (and the per-step file beside it), drawn by gnuplot to one PNG (docs/file-formats.md, "Plotting
 * the metrics").
 *
 * Rank 0 does the work; under mpirun the other ranks only agree on the outcome. The PNG is drawn
 * into a temporary beside --out and renamed over it only once gnuplot has succeeded and the file
 * is a PNG, so a failed plot never replaces a good picture with a broken one. */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "nndist/atomic_file.h"
#include "nndist/cli.h"
#include "nndist/commands.h"
#include "nndist/metrics.h"
#include "nndist/metrics_read.h"
#include "nndist/plot.h"

static const char *const g_usage =
    "nndist plot METRICS.csv|METRICS.jsonl --out curves.png [--steps STEPS] [--title TEXT]";
static const char *const g_description =
    "Draws the learning curves of a training run (the file of train --metrics: a CSV, or JSON\n"
    "lines when its name ends in .jsonl) to one PNG with gnuplot: the loss per epoch, train and\n"
    "validation, with the training loss of every logged step as a thin line when a step file is\n"
    "given or METRICS' <stem>.steps.<ext> exists (m.steps.csv, m.steps.jsonl); and the accuracy\n"
    "(train and validation), or R^2 for a regression run. Rank 0 draws.";

typedef struct {
    const char *metrics, *out, *steps, *title;
} plot_opts;

/* argv without its one positional argument (METRICS): every argument that is neither an option
 * nor an option's value. rest (argc entries) gets the others for the option parser, which
 * refuses positional arguments. */
static nnd_status split_positional(const nnd_opt *opts, int argc, char **argv, char **rest,
                                   int *n_rest, const char **metrics)
{
    *metrics = NULL;
    *n_rest = 0;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (i == 0 || a[0] == '-') {
            rest[(*n_rest)++] = argv[i];
            if (strncmp(a, "--", 2) != 0 || strchr(a, '=')) continue;
            /* `--name VALUE`: the value stays with its option, whatever it looks like. */
            for (const nnd_opt *o = opts; o->name; o++)
                if (strcmp(a + 2, o->name) == 0 && o->kind != NND_OPT_FLAG && i + 1 < argc) {
                    rest[(*n_rest)++] = argv[++i];
                    break;
                }
        } else if (*metrics) {
            return nnd_err_set(NND_ERR_USAGE,
                               "plot takes one METRICS file; got '%s' and '%s' (see --help)",
                               *metrics, a);
        } else {
            *metrics = a;
        }
    }
    return NND_OK;
}

static nnd_status parse_options(plot_opts *o, int argc, char **argv, const nnd_comm *c, int *help)
{
    *o = (plot_opts){0};
    const nnd_opt opts[] = {
        {"out", NND_OPT_STRING, &o->out, "FILE", "the PNG to write", NULL},
        {"steps", NND_OPT_STRING, &o->steps, "FILE",
         "the per-step file (default: METRICS' <stem>.steps.<ext>, if it exists)", NULL},
        {"title", NND_OPT_STRING, &o->title, "TEXT", "the plot's title (default: METRICS' name)",
         NULL},
        {NULL, 0, NULL, NULL, NULL, NULL},
    };
    char **rest = malloc((size_t)argc * sizeof *rest);
    if (!rest) return nnd_err_set(NND_ERR_NOMEM, "out of memory for the arguments");
    int n_rest;
    nnd_status st = split_positional(opts, argc, argv, rest, &n_rest, &o->metrics);
    if (!st)
        st = nnd_cli_parse_command(opts, n_rest, rest, 1, g_usage, g_description, c->rank, help);
    free(rest);
    if (st || *help) return st;
    if (!o->metrics || !o->out)
        return nnd_err_set(NND_ERR_USAGE, "plot needs a METRICS file and --out (%s)", g_usage);
    return NND_OK;
}

/* ---- the curves ---- */

/* One line of the plot: a column of a table against the table's epoch column. */
typedef struct {
    const nnd_metrics_table *t;
    long x, y;
    size_t n; /* rows with a value (empty fields are left out) */
} series;

static nnd_status find_series(const nnd_metrics_table *t, const char *name, series *s)
{
    *s = (series){.t = t, .x = -1, .y = -1};
    nnd_status st = nnd_metrics_column(t, "epoch", &s->x);
    if (!st) st = nnd_metrics_column(t, name, &s->y);
    if (!st) s->n = nnd_metrics_count(t, s->y);
    return st;
}

/* The curves of one run. The metric is accuracy, or R^2 for a regression run: whichever pair of
 * columns holds values (the names, never the positions, tell them apart). */
typedef struct {
    series steps, train_loss, val_loss, train_metric, val_metric;
    const char *metric; /* "accuracy", "R²", or NULL when the file has neither */
    double x_lo, x_hi, loss_lo, loss_hi, metric_lo, metric_hi;
    int metric_clipped; /* R^2 values below -1 left off the chart */
} curves;

static nnd_status find_curves(const nnd_metrics_table *m, const nnd_metrics_table *steps, curves *k)
{
    memset(k, 0, sizeof *k);
    nnd_status st = find_series(m, "train_loss", &k->train_loss);
    if (!st) st = find_series(m, "val_loss", &k->val_loss);
    if (!st && steps) st = find_series(steps, "train_loss", &k->steps);
    static const char *const kinds[2][3] = {{"train_acc", "val_acc", "accuracy"},
                                            {"train_r2", "val_r2", "R²"}};
    for (int i = 0; i < 2 && !st && !k->metric; i++) {
        st = find_series(m, kinds[i][0], &k->train_metric);
        if (!st) st = find_series(m, kinds[i][1], &k->val_metric);
        if (!st && k->train_metric.n + k->val_metric.n > 0) k->metric = kinds[i][2];
    }
    return st;
}

/* [lo, hi]: the smallest and largest values of the series (pad_range then adds a margin, so
 * that no point sits on the frame). */
static void value_range(const series *const *s, int n_series, double *lo, double *hi)
{
    *lo = INFINITY;
    *hi = -INFINITY;
    for (int i = 0; i < n_series; i++)
        for (size_t r = 0; s[i]->n && r < s[i]->t->n_rows; r++) {
            double v = nnd_metrics_value(s[i]->t, r, (size_t)s[i]->y);
            if (isnan(v)) continue;
            *lo = fmin(*lo, v);
            *hi = fmax(*hi, v);
        }
}

static void pad_range(double *lo, double *hi, double frac, double least)
{
    double pad = fmax((*hi - *lo) * frac, least);
    *lo -= pad;
    *hi += pad;
}

static void ranges(curves *k)
{
    /* x: the epochs of every curve; the per-step file starts within the first epoch. */
    k->x_lo = INFINITY;
    k->x_hi = -INFINITY;
    const series *xs[2] = {&k->train_loss, &k->steps};
    for (int i = 0; i < 2; i++)
        for (size_t r = 0; xs[i]->t && r < xs[i]->t->n_rows; r++) {
            double x = nnd_metrics_value(xs[i]->t, r, (size_t)xs[i]->x);
            k->x_lo = fmin(k->x_lo, x);
            k->x_hi = fmax(k->x_hi, x);
        }
    double lo0 = k->x_lo;
    pad_range(&k->x_lo, &k->x_hi, 0.03, 0.25);
    if (lo0 >= 0 && k->x_lo < 0) k->x_lo = 0; /* no negative epochs on the axis */
    /* The loss: every curve in view (the per-step one is the widest), never below 0 when no
     * value is (a loss axis running to -2 misleads). */
    const series *ls[3] = {&k->steps, &k->train_loss, &k->val_loss};
    value_range(ls, 3, &k->loss_lo, &k->loss_hi);
    lo0 = k->loss_lo;
    pad_range(&k->loss_lo, &k->loss_hi, 0.05, fmax(fabs(k->loss_hi) * 0.01, 1e-9));
    if (lo0 >= 0 && k->loss_lo < 0) k->loss_lo = 0;
    if (!k->metric) return;
    const series *ms[2] = {&k->train_metric, &k->val_metric};
    value_range(ms, 2, &k->metric_lo, &k->metric_hi);
    /* R^2 is unbounded below: an early -50 would flatten the curves that matter into a line.
     * Once the model beats the mean (R^2 > 0) the axis stops at -1; a run that never does is
     * shown whole, as there is nothing better to look at. */
    if (k->metric[0] == 'R' && k->metric_lo < -1 && k->metric_hi > 0) {
        k->metric_lo = -1;
        k->metric_clipped = 1;
    }
    pad_range(&k->metric_lo, &k->metric_hi, 0.06, 0.005);
}

/* A series as a gnuplot data block named $name: "epoch value" lines, empty fields left out. */
static void write_block(FILE *gp, const char *name, const series *s)
{
    fprintf(gp, "$%s << EOD\n", name);
    for (size_t r = 0; s->n && r < s->t->n_rows; r++) {
        double y = nnd_metrics_value(s->t, r, (size_t)s->y);
        if (!isnan(y)) fprintf(gp, "%.9g %.9g\n", nnd_metrics_value(s->t, r, (size_t)s->x), y);
    }
    fprintf(gp, "EOD\n");
}

/* The plot command's part for one series: nothing when it has no points (a run without --val). */
static void plot_series(FILE *gp, int *first, const char *block, const series *s, const char *style)
{
    if (!s->n) return;
    fprintf(gp, "%s$%s using 1:2 %s notitle", *first ? "plot " : ", ", block, style);
    *first = 0;
}

/* The styles of the train and validation curves: [0] with a marker at each epoch, [1] lines only,
 * for runs of so many epochs that the markers would merge into a thick bar hiding the other
 * curve. */
#define MARKED_EPOCHS_MAX 30
static const char *const g_train_style[2] = {"with linespoints lw 2 pt 7 ps 1.2 lc rgb '#1f77b4'",
                                             "with lines lw 2 lc rgb '#1f77b4'"};
static const char *const g_val_style[2] = {"with linespoints lw 2 pt 5 ps 1.2 lc rgb '#e6550d'",
                                           "with lines lw 2 lc rgb '#e6550d'"};
static const char *const g_step_style = "with lines lw 1 lc rgb '#9ecae1'";

/* Draws the curves into png (a temporary path): the loss panel, and the metric's beside it. */
static nnd_status draw(const curves *k, const char *png, const char *title, int *missing)
{
    const int panels = k->metric ? 2 : 1, lines = k->train_loss.t->n_rows > MARKED_EPOCHS_MAX;
    nnd_plot p;
    nnd_status st = nnd_plot_open(&p, png, panels == 2 ? 1280 : 720, 560);
    *missing = p.missing;
    if (st) return st;
    FILE *gp = p.out;
    write_block(gp, "steps", &k->steps);
    write_block(gp, "train_loss", &k->train_loss);
    write_block(gp, "val_loss", &k->val_loss);
    write_block(gp, "train_metric", &k->train_metric);
    write_block(gp, "val_metric", &k->val_metric);
    /* File names and titles are shown as they are: enhanced text would turn m_1.csv's _1 into a
     * subscript. The panels are placed by hand, the same size each with the same margins
     * whatever their tic labels, leaving a strip at the bottom for the key. */
    fprintf(gp, "set termoption noenhanced\nset encoding utf8\nset multiplot title ");
    nnd_plot_quote(gp, title);
    fprintf(gp,
            " font ',14'\nunset key\nset grid lc rgb '#dddddd'\nset border 3\n"
            "set tics nomirror\nset lmargin 10\nset rmargin 4\nset xlabel 'epoch'\n"
            "set size %g, 0.84\n",
            1.0 / panels);
    fprintf(gp, "set xrange [%.9g:%.9g]\n", k->x_lo, k->x_hi);
    /* Whole epochs on the axis while they are few enough to label each one. */
    if (k->x_hi - k->x_lo <= 20 && k->x_hi >= 1) fprintf(gp, "set xtics 1\n");

    fprintf(gp,
            "set origin 0, 0.08\nset title 'loss'\nset ylabel 'loss'\n"
            "set yrange [%.9g:%.9g]\n",
            k->loss_lo, k->loss_hi);
    int first = 1;
    plot_series(gp, &first, "steps", &k->steps, g_step_style);
    plot_series(gp, &first, "train_loss", &k->train_loss, g_train_style[lines]);
    plot_series(gp, &first, "val_loss", &k->val_loss, g_val_style[lines]);
    fputc('\n', gp);

    if (k->metric) {
        fprintf(gp, "set origin 0.5, 0.08\nset title ");
        nnd_plot_quote(gp, k->metric);
        fprintf(gp, "\nset ylabel ");
        char label[64];
        snprintf(label, sizeof label, "%s%s", k->metric,
                 k->metric_clipped ? " (values below -1 not shown)" : "");
        nnd_plot_quote(gp, label);
        fprintf(gp, "\nset yrange [%.9g:%.9g]\n", k->metric_lo, k->metric_hi);
        first = 1;
        plot_series(gp, &first, "train_metric", &k->train_metric, g_train_style[lines]);
        plot_series(gp, &first, "val_metric", &k->val_metric, g_val_style[lines]);
        fputc('\n', gp);
    }

    /* One key for both panels (a colour is the same curve in each), in one row under them where
     * no curve can run beneath it: an empty plot over the whole picture that draws only its key
     * (a panel's own key would wrap into rows at a panel's width). */
    fprintf(gp, "set origin 0, 0\nset size 1, 1\nset margins 0, 0, 0, 0\nunset title\n"
                "unset xlabel\nunset ylabel\nunset border\nunset tics\nunset grid\n"
                "set xrange [0:1]\nset yrange [0:1]\n"
                "set key at screen 0.5, screen 0.015 center bottom horizontal Left reverse "
                "samplen 4 width 3\n");
    first = 1;
    const int has_val = k->val_loss.n + k->val_metric.n > 0;
    if (k->steps.n) fprintf(gp, "plot NaN %s title 'train, per step'", g_step_style), first = 0;
    fprintf(gp, "%s NaN %s title %s", first ? "plot" : ",", g_train_style[lines],
            k->steps.n ? "'train, per epoch'" : "'train'");
    if (has_val) fprintf(gp, ", NaN %s title 'validation'", g_val_style[lines]);
    fprintf(gp, "\nunset multiplot\n");
    return nnd_plot_close(&p);
}

/* ---- the command ---- */

/* Whether a and b name one existing file (the PNG must not be written over an input). */
static int same_file(const char *a, const char *b)
{
    struct stat sa, sb;
    return stat(a, &sa) == 0 && stat(b, &sb) == 0 && sa.st_dev == sb.st_dev &&
           sa.st_ino == sb.st_ino;
}

/* The first bytes of every PNG file. */
static int is_png(const char *path)
{
    static const unsigned char magic[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    unsigned char head[8];
    FILE *f = fopen(path, "rb");
    int ok = f && fread(head, 1, sizeof head, f) == sizeof head && !memcmp(head, magic, 8);
    if (f) fclose(f);
    return ok;
}

static nnd_status read_inputs(const plot_opts *o, nnd_metrics_table *m, nnd_metrics_table *s,
                              int *have_steps, char *steps_path, size_t size)
{
    nnd_status st = nnd_metrics_read(o->metrics, m);
    if (st) return st;
    if (m->n_rows == 0)
        return nnd_err_set(NND_ERR_INPUT,
                           "%s: no rows to plot (only the header: has the run finished an epoch?)",
                           o->metrics);
    if (o->steps)
        snprintf(steps_path, size, "%s", o->steps);
    else
        nnd_metrics_steps_path(o->metrics, steps_path, size);
    *have_steps = o->steps || access(steps_path, F_OK) == 0;
    if (!*have_steps) return NND_OK;
    if ((st = nnd_metrics_read(steps_path, s))) {
        if (o->steps) return st;
        /* A file nobody named on the command line: say why it was read. */
        char msg[NND_ERR_MSG_MAX];
        snprintf(msg, sizeof msg, "%s", nnd_err_msg());
        return nnd_err_set(st, "%s (the step file beside %s; --steps names another)", msg,
                           o->metrics);
    }
    if (s->n_rows == 0 && o->steps)
        return nnd_err_set(NND_ERR_INPUT,
                           "--steps %s: no rows to plot (only the header: has the run logged a "
                           "step?)",
                           steps_path);
    /* Found beside METRICS, a step file without rows is a run that has logged none yet. */
    if (s->n_rows == 0) *have_steps = 0;
    return NND_OK;
}

static nnd_status plot_run(const plot_opts *o)
{
    nnd_status st = nnd_atomic_check_destination("--out", o->out);
    if (st) return st;
    nnd_metrics_table m, s;
    memset(&s, 0, sizeof s);
    int have_steps = 0;
    char steps_path[NND_PATH_MAX];
    st = read_inputs(o, &m, &s, &have_steps, steps_path, sizeof steps_path);
    if (!st && (same_file(o->out, o->metrics) || (have_steps && same_file(o->out, steps_path))))
        st = nnd_err_set(NND_ERR_USAGE, "--out %s: is an input of the plot; expected a new name",
                         o->out);
    curves k;
    if (!st) st = find_curves(&m, have_steps ? &s : NULL, &k);
    nnd_atomic a;
    if (!st) st = nnd_atomic_begin(&a, o->out);
    if (st) goto out;
    ranges(&k);
    /* A line break would end gnuplot's command mid-string: control characters become spaces. */
    const char *slash = strrchr(o->metrics, '/');
    char title[256];
    snprintf(title, sizeof title, "%s", o->title ? o->title : slash ? slash + 1 : o->metrics);
    for (char *c = title; *c; c++)
        if (iscntrl((unsigned char)*c)) *c = ' ';
    int missing = 0;
    st = draw(&k, a.tmp, title, &missing);
    /* The plot module names the file it was given: here the temporary, which the user never
     * sees; name --out instead. */
    if (st && !missing) st = nnd_err_set(NND_ERR_IO, "gnuplot failed to write %s", o->out);
    if (!st && !is_png(a.tmp))
        st = nnd_err_set(NND_ERR_IO, "gnuplot failed to write %s: no PNG came out", o->out);
    if (!st) st = nnd_atomic_commit(&a);
    nnd_atomic_abort(&a);
    if (!st) {
        printf("wrote %s: %zu epoch row%s, loss%s%s%s", o->out, m.n_rows, m.n_rows == 1 ? "" : "s",
               k.metric ? " and " : "", k.metric ? k.metric : "",
               k.val_loss.n ? " (train and validation)" : " (train)");
        if (have_steps) printf(", %zu steps from %s", s.n_rows, steps_path);
        printf("\n");
    }
out:
    nnd_metrics_table_free(&m);
    nnd_metrics_table_free(&s);
    return st;
}

nnd_status nnd_cmd_plot(int argc, char **argv, const nnd_comm *c)
{
    plot_opts o;
    int help = 0;
    nnd_status st = parse_options(&o, argc, argv, c, &help);
    if ((st = nnd_comm_agree(c, st)) || help) return st;
    if (c->rank == 0) st = plot_run(&o);
    return nnd_comm_agree(c, st);
}
