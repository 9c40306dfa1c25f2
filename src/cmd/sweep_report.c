/* nndist sweep, the results: the statistics over the folds, the ranking, and rank 0's report
 * (the table, DIR/sweep.csv, DIR/folds.csv, the heatmap, the best configuration's commands). */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nndist/plot.h"
#include "cmd/sweep.h"
#include "nndist/dropout.h"

/* ---- statistics and ranking ---- */

static size_t folds_done(const sweep_result *r, size_t k)
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

sweep_summary sweep_summarize(const sweep *s, const sweep_result *r)
{
    sweep_summary m = {NAN, NAN, NAN, NAN, NAN, 0};
    size_t k = folds_done(r, s->folds);
    if (!r->have || k == 0) return m;
    mean_std(r->score, k, &m.score, &m.score_sd);
    mean_std(r->loss, k, &m.loss, &m.loss_sd);
    double sd;
    mean_std(r->train_loss, k, &m.train_loss, &sd);
    m.ok = 1;
    return m;
}

const char *sweep_metric_name(const sweep *s)
{
    return s->base.loss == NND_LOSS_MSE ? "r2" : "acc";
}

int sweep_by_loss(const sweep *s)
{
    return s->base.loss == NND_LOSS_MSE;
}

/* < 0 when configuration a ranks before b, comparing their results at rungs ra and rb: the
 * higher rung first, then converged, higher mean accuracy, lower mean loss, list order; for
 * mse lower mean loss before higher mean R^2 (an accuracy of regression outputs means
 * nothing, and R^2 is the same loss on another scale). */
int sweep_rank_cmp(const sweep *s, size_t a, int ra, size_t b, int rb)
{
    if (ra != rb) return ra > rb ? -1 : 1;
    sweep_summary x = sweep_summarize(s, sweep_result_at(s, a, ra)),
                  y = sweep_summarize(s, sweep_result_at(s, b, rb));
    if (x.ok != y.ok) return x.ok ? -1 : 1;
    if (x.ok && sweep_by_loss(s) && x.loss != y.loss) return x.loss < y.loss ? -1 : 1;
    if (x.ok && x.score != y.score) return x.score > y.score ? -1 : 1;
    if (x.ok && x.loss != y.loss) return x.loss < y.loss ? -1 : 1;
    return a < b ? -1 : a > b ? 1 : 0;
}

/* Sorts configuration indices by rank_cmp at rung `rung`, or at each one's last rung when
 * rung < 0 (insertion sort: a few hundred items, and stable). */
void sweep_rank_sort(const sweep *s, size_t *idx, size_t n, int rung)
{
    for (size_t i = 1; i < n; i++) {
        size_t v = idx[i], j = i;
        int rv = rung < 0 ? s->last[v] : rung;
        while (j > 0 &&
               sweep_rank_cmp(s, v, rv, idx[j - 1], rung < 0 ? s->last[idx[j - 1]] : rung) < 0) {
            idx[j] = idx[j - 1];
            j--;
        }
        idx[j] = v;
    }
}

/* ---- the report (rank 0) ---- */

static void print_table(const sweep *s, const size_t *order)
{
    const int axes = s->n_layers > 1 || s->n_drop > 1 || s->n_wd > 1;
    printf("\n%4s  %-10s %-8s %6s %6s%s  %-17s  %-17s %8s%s\n", "rank", "optimizer", "lr", "batch",
           "epochs", s->n_rungs > 1 ? "  rung" : "", sweep_by_loss(s) ? "val r2" : "val acc",
           "val loss", "seconds", axes ? "  model" : "");
    for (size_t i = 0; i < s->n_cfg; i++) {
        size_t c = order[i];
        const sweep_config *cf = &s->cfg[c];
        const sweep_result *r = sweep_result_at(s, c, s->last[c]);
        sweep_summary m = sweep_summarize(s, r);
        char rung[16] = "", acc[40], loss[40];
        if (s->n_rungs > 1) snprintf(rung, sizeof rung, "  %4d", s->last[c] + 1);
        if (m.ok) {
            snprintf(acc, sizeof acc, "%.4f ± %.4f", m.score, m.score_sd);
            snprintf(loss, sizeof loss, "%.4f ± %.4f", m.loss, m.loss_sd);
        } else {
            snprintf(acc, sizeof acc, "diverged (fold %d)", r->diverged);
            snprintf(loss, sizeof loss, "-");
        }
        /* "±" is two bytes and one column: pad by hand. */
        char model[256];
        sweep_config_axes(s, c, model, sizeof model);
        printf("%4zu  %-10s %-8s %6" PRIu64 " %6" PRIu64 "%s  %-*s  %-*s %8.1f%s%s\n", i + 1,
               s->opt_text[cf->opt], s->lr_text[cf->lr], cf->batch_size, r->epochs, rung,
               m.ok ? 18 : 17, acc, m.ok ? 18 : 17, loss, r->seconds, axes ? " " : "", model);
    }
}

/* The sweep lists a model axis: the CSVs then have three columns more before the status. */
static int lists_model_axes(const sweep *s)
{
    return s->n_layers > 1 || s->dropout_list || s->wd_list;
}

static const char *model_header(const sweep *s)
{
    return lists_model_axes(s) ? "layers,dropout,weight_decay," : "";
}

/* Those columns for configuration c, each followed by a comma: its layers (quoted: they hold
 * commas), its dropout in --dropout's form, its weight decay ("" without a listed axis). */
static void model_columns(const sweep *s, size_t c, char *buf, size_t size)
{
    buf[0] = '\0';
    if (!lists_model_axes(s)) return;
    nnd_train_config cfg;
    sweep_config_train(s, c, &cfg);
    char drop[NND_MAX_LAYERS * 24], wd[64];
    nnd_dropout_format(drop, sizeof drop, cfg.dropout, cfg.n_layers - 1);
    sweep_format_exact(wd, sizeof wd, cfg.optim.weight_decay);
    snprintf(buf, size, "\"%s\",%s,%s,", s->layers_text[s->cfg[c].layers], drop, wd);
}

static nnd_status write_csvs(const sweep *s, const size_t *order, const char *dir)
{
    char path[NND_PATH_MAX];
    snprintf(path, sizeof path, "%s/sweep.csv", dir);
    FILE *f = fopen(path, "w");
    if (!f)
        return nnd_err_set(NND_ERR_IO, "--out %s: cannot write %s: %s", dir, path, strerror(errno));
    const char *metric = sweep_metric_name(s);
    fprintf(f,
            "rank,optimizer,lr,batch,epochs,rung,folds,val_%s_mean,val_%s_std,val_loss_mean,"
            "val_loss_std,train_loss_mean,seconds,%sstatus\n",
            metric, metric, model_header(s));
    for (size_t i = 0; i < s->n_cfg; i++) {
        size_t c = order[i];
        const sweep_config *cf = &s->cfg[c];
        const sweep_result *r = sweep_result_at(s, c, s->last[c]);
        sweep_summary m = sweep_summarize(s, r);
        char lr[64];
        sweep_format_exact(lr, sizeof lr, cf->optim.lr);
        fprintf(f, "%zu,%s,%s,%" PRIu64 ",%" PRIu64 ",%d,%" PRIu64 ",", i + 1, s->opt_text[cf->opt],
                lr, cf->batch_size, r->epochs, s->last[c] + 1, s->folds);
        char model[1024];
        model_columns(s, c, model, sizeof model);
        if (m.ok)
            fprintf(f, "%.9g,%.9g,%.9g,%.9g,%.9g,%.3f,%sok\n", m.score, m.score_sd, m.loss,
                    m.loss_sd, m.train_loss, r->seconds, model);
        else
            fprintf(f, ",,,,,%.3f,%sdiverged\n", r->seconds, model);
    }
    int bad = fclose(f) != 0;
    if (bad) return nnd_err_set(NND_ERR_IO, "%s: write failed", path);

    /* Every fold of every budget trained, in list order: the numbers a train run reproduces
     * (val_acc and val_loss formatted as train's --metrics). */
    snprintf(path, sizeof path, "%s/folds.csv", dir);
    if (!(f = fopen(path, "w")))
        return nnd_err_set(NND_ERR_IO, "--out %s: cannot write %s: %s", dir, path, strerror(errno));
    fprintf(f, "optimizer,lr,batch,epochs,fold,val_%s,val_loss,train_loss,train_%s,%sstatus\n",
            sweep_metric_name(s), sweep_metric_name(s), model_header(s));
    for (size_t c = 0; c < s->n_cfg; c++)
        for (int rg = 0; rg <= s->last[c]; rg++) {
            if (rg > 0 && s->rung_epochs[rg] == s->rung_epochs[rg - 1]) continue;
            const sweep_config *cf = &s->cfg[c];
            const sweep_result *r = sweep_result_at(s, c, rg);
            char lr[64], model[1024];
            sweep_format_exact(lr, sizeof lr, cf->optim.lr);
            model_columns(s, c, model, sizeof model);
            for (unsigned k = 0; k < s->folds; k++) {
                fprintf(f, "%s,%s,%" PRIu64 ",%" PRIu64 ",%u,", s->opt_text[cf->opt], lr,
                        cf->batch_size, r->epochs, k + 1);
                if (r->diverged && k + 1 >= (unsigned)r->diverged)
                    fprintf(f, ",,,,%s%s\n", model,
                            k + 1 == (unsigned)r->diverged ? "diverged" : "skipped");
                else
                    fprintf(f, "%.6f,%.6f,%.6f,%.6f,%sok\n", r->score[k], r->loss[k],
                            r->train_loss[k], r->train_score[k], model);
            }
        }
    if (fclose(f) != 0) return nnd_err_set(NND_ERR_IO, "%s: write failed", path);
    return NND_OK;
}

/* The heatmap: optimizer x lr, the mean accuracy (for mse: the mean validation loss) at each
 * configuration's last rung (the best over the batch sizes and model axes when several), drawn by
 * gnuplot into png; the better, the brighter. */
static nnd_status heatmap(const sweep *s, const char *png, nnd_plot *p)
{
    double grid[SWEEP_MAX_ITEMS][SWEEP_MAX_ITEMS], lo = INFINITY, hi = -INFINITY;
    const int by_loss = sweep_by_loss(s);
    for (size_t o = 0; o < s->n_opt; o++)
        for (size_t l = 0; l < s->n_lr; l++) {
            grid[o][l] = NAN;
            for (size_t b = 0; b < sweep_inner_count(s); b++) {
                size_t c = (o * s->n_lr + l) * sweep_inner_count(s) + b;
                sweep_summary m = sweep_summarize(s, sweep_result_at(s, c, s->last[c]));
                double v = by_loss ? m.loss : m.score;
                if (m.ok && !(by_loss ? v >= grid[o][l] : v <= grid[o][l])) grid[o][l] = v;
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
    char title[256];
    snprintf(title, sizeof title,
             "nndist sweep: mean validation %s, %" PRIu64 "-fold, %" PRIu64 " epoch%s%s%s",
             by_loss ? "loss (lower is better)" : "accuracy", s->folds, s->epochs,
             s->epochs == 1 ? "" : "s",
             sweep_inner_count(s) == 1            ? ""
             : s->n_batch == sweep_inner_count(s) ? " (best batch size)"
                                                  : " (best of the other axes)",
             s->n_rungs > 1 ? " (halving: each at its last rung)" : "");
    /* wide enough for the title, centred over the plot and not the canvas: about 8 pixels a
     * character at gnuplot's default font, and the colour box's margin */
    int w = 160 + 110 * (int)s->n_lr, h = 120 + 48 * (int)s->n_opt;
    const int title_w = 8 * (int)strlen(title) + 160;
    w = w < title_w ? title_w : w;
    nnd_status st = nnd_plot_open(p, png, w < 640 ? 640 : w, h < 360 ? 360 : h);
    if (st) return st;
    FILE *gp = p->out;
    /* One filled box per cell (robust for a single row or column, unlike "with image"). */
    int n_ok = 0, n_div = 0;
    fprintf(gp, "$cells << EOD\n");
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
            "%s"
            "set xlabel 'learning rate'\nset ylabel 'optimizer'\nset tics nomirror out\n"
            "set style textbox opaque noborder\nset style fill solid 1.0 noborder\n"
            "set title \"%s\"\nplot ",
            s->n_lr - 1, s->n_opt - 1, lo, hi, by_loss ? "set palette negative\n" : "", title);
    if (n_ok) fprintf(gp, "$cells using 1:2:(0.5):(0.5):3 with boxxyerror fc palette notitle, ");
    if (n_div) fprintf(gp, "$div using 1:2:(0.5):(0.5) with boxxyerror fc rgb '#bbbbbb' notitle, ");
    fprintf(gp, "$labels using 1:2:3 with labels boxed notitle\n");
    return nnd_plot_close(p);
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

nnd_status sweep_report(const sweep *s)
{
    size_t *order = malloc(s->n_cfg * sizeof *order);
    if (!order) return nnd_err_set(NND_ERR_NOMEM, "cannot allocate the table");
    for (size_t c = 0; c < s->n_cfg; c++) order[c] = c;
    sweep_rank_sort(s, order, s->n_cfg, -1);
    double seconds = MPI_Wtime() - s->t0;
    print_table(s, order);
    printf("%zu configuration%s x %" PRIu64 " folds of %zu samples (%s), %d rank%s in %d "
           "group%s of %" PRIu64 ", %.1f s\n",
           s->n_cfg, s->n_cfg == 1 ? "" : "s", s->folds, s->n, s->base.data, s->world->size,
           s->world->size == 1 ? "" : "s", s->n_groups, s->n_groups == 1 ? "" : "s", s->group_size,
           seconds);
    nnd_status st = write_csvs(s, order, s->out);
    if (st) goto out;
    char png[NND_PATH_MAX];
    snprintf(png, sizeof png, "%s/heatmap.png", s->out);
    /* The CSVs are the results; without the picture the report still succeeds. */
    nnd_plot p;
    if (heatmap(s, png, &p) == NND_OK)
        printf("wrote %s/sweep.csv, %s/folds.csv and %s\n", s->out, s->out, png);
    else
        printf("wrote %s/sweep.csv and %s/folds.csv; %s%s\n", s->out, s->out,
               p.missing ? "no heatmap: " : "", nnd_err_msg());
    nnd_err_clear();

    size_t best = order[0];
    const sweep_result *r = sweep_result_at(s, best, s->last[best]);
    sweep_summary m = sweep_summarize(s, r);
    if (!m.ok) {
        printf("no configuration converged: lower the learning rates\n");
        goto out;
    }
    char name[384], cmd[8192], train_path[NND_PATH_MAX], val_path[NND_PATH_MAX];
    if ((st = write_fold_files(s, train_path, val_path, sizeof train_path))) goto out;
    sweep_config_name(s, best, name, sizeof name);
    printf("\nbest: %s, %" PRIu64 " epoch%s: val %s %.4f ± %.4f, loss %.4f ± %.4f over %" PRIu64
           " folds\n",
           name, r->epochs, r->epochs == 1 ? "" : "s", sweep_metric_name(s), m.score, m.score_sd,
           m.loss, m.loss_sd, s->folds);
    sweep_train_command(s, best, r->epochs, s->world->size, s->base.data, NULL, 1, cmd, sizeof cmd);
    printf("train it on all of %s%s:\n  %s\n", s->base.data,
           s->subset ? " (the sweep used its first --subset samples)" : "", cmd);
    sweep_train_command(s, best, r->epochs, (int)s->group_size, train_path, val_path, 0, cmd,
                        sizeof cmd);
    printf("reproduce its fold 1 (val %s %.6f, loss %.6f at the last epoch; bitwise with %d "
           "rank%s, as in the sweep's groups):\n  %s\n",
           sweep_metric_name(s), r->score[0], r->loss[0], (int)s->group_size,
           s->group_size == 1 ? "" : "s", cmd);
out:
    fflush(stdout);
    free(order);
    return st;
}
