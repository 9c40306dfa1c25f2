#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nndist/cli.h"
#include "nndist/commands.h"
#include "nndist/eval.h"
#include "nndist/eval_report.h"
#include "nndist/plot.h"

static const char *const g_usage = "nndist eval --model FILE --data FILE [options]";
static const char *const g_description =
    "Evaluates a model on a dataset. A classifier: accuracy, mean loss, top-k accuracy,\n"
    "precision, recall and F1 per class and the confusion matrix; a regression model (trained\n"
    "with --loss mse): MSE, MAE and R^2, per output too. Layer sizes, the activation and the\n"
    "loss (with the class weights and label smoothing it was trained with, so that the loss is\n"
    "training's validation loss) come from the model file; any number of ranks.";

typedef struct {
    const char *model, *data, *act_name, *x_name, *y_name, *png;
    uint64_t batch, topk;
    int json, topk_given, loss_given;
    nnd_loss_kind loss; /* --loss's, used when the model file records none */
    nnd_activation act; /* --activation's, used when the model file records none */
} eval_opts;

/* The options, checked, with the loss and activation names turned into kinds. */
static nnd_status parse_options(eval_opts *o, int argc, char **argv, const nnd_comm *c, int *help)
{
    const char *loss_name = "softmax-ce";
    *o = (eval_opts){.x_name = "/X",
                     .y_name = "/y",
                     .batch = 1024,
                     .topk = 5,
                     .loss = NND_LOSS_SOFTMAX_CE,
                     .act = NND_ACT_RELU};
    const nnd_opt opts[] = {
        {"model", NND_OPT_STRING, &o->model, "FILE", "checkpoint or model file (/model/...)", NULL},
        {"data", NND_OPT_STRING, &o->data, "FILE", "dataset to evaluate (HDF5 with /X and /y)",
         NULL},
        {"activation", NND_OPT_STRING, &o->act_name, "A",
         "hidden activation when the file does not record one (default relu)", NULL},
        {"loss", NND_OPT_STRING, &loss_name, "L",
         "softmax-ce (default) or mse, when the model file records no loss", &o->loss_given},
        {"x-name", NND_OPT_STRING, &o->x_name, "NAME", "features dataset (default /X)", NULL},
        {"y-name", NND_OPT_STRING, &o->y_name, "NAME", "labels dataset (default /y)", NULL},
        {"batch", NND_OPT_COUNT, &o->batch, "N", "samples per forward pass (default 1024)", NULL},
        {"top-k", NND_OPT_COUNT, &o->topk, "K",
         "also report the top-K accuracy (default 5, when there are more than 5 classes)",
         &o->topk_given},
        {"confusion-png", NND_OPT_STRING, &o->png, "FILE",
         "draw the confusion matrix to a PNG (gnuplot)", NULL},
        {"json", NND_OPT_FLAG, &o->json, NULL,
         "print one JSON object: accuracy, loss, samples and the rest of the report", NULL},
        {NULL, 0, NULL, NULL, NULL, NULL},
    };
    nnd_status st =
        nnd_cli_parse_command(opts, argc, argv, 1, g_usage, g_description, c->rank, help);
    if (st || *help) return st;
    if (!o->model || !o->data)
        return nnd_err_set(NND_ERR_USAGE, "eval needs --model FILE and --data FILE");
    if (nnd_loss_parse(loss_name, &o->loss) != 0)
        return nnd_err_set(NND_ERR_USAGE, "--loss: unknown '%s'; expected softmax-ce or mse",
                           loss_name);
    if (o->act_name && nnd_activation_parse(o->act_name, &o->act) != 0)
        return nnd_err_set(NND_ERR_USAGE, "--activation: unknown '%s'; expected one of: %s",
                           o->act_name, nnd_activation_names());
    return NND_OK;
}

/* The loss's options as JSON members (", \"class_weights\": [...]") or as a line. */
static void print_loss_options(const nnd_ce_opts *ce, size_t k, int json)
{
    if (!nnd_ce_opts_active(ce)) return;
    if (json) {
        if (ce->weights) {
            printf(", \"class_weights\": [");
            for (size_t j = 0; j < k; j++) printf("%s%.17g", j ? ", " : "", ce->weights[j]);
            printf("]");
        }
        if (ce->smoothing != 0.0) printf(", \"label_smoothing\": %.17g", ce->smoothing);
        return;
    }
    printf("loss with the model's own");
    if (ce->weights) {
        printf(" class weights ");
        for (size_t j = 0; j < k; j++) printf("%s%.6g", j ? "," : "", ce->weights[j]);
    }
    if (ce->smoothing != 0.0)
        printf("%s label smoothing %.6g", ce->weights ? " and" : "", ce->smoothing);
    printf(" (as trained)\n");
}

/* The report on stdout: the first line as before (accuracy, loss, samples), then the rest. */
static void print_report(const eval_opts *o, const nnd_eval_result *r, const nnd_eval_report *rep,
                         const nnd_ce_opts *ce)
{
    const size_t k = rep->k;
    double mf1 = 0.0, p, q, f, mse = 0.0, mae = 0.0, r2 = 0.0;
    uint64_t sup;
    for (size_t j = 0; j < k; j++) {
        if (rep->classify) {
            nnd_eval_report_class(rep, j, &p, &q, &f, &sup);
            mf1 += f / (double)k;
        } else {
            nnd_eval_report_output(rep, j, &p, &q, &f);
            mse += p / (double)k;
            mae += q / (double)k;
        }
    }
    if (!rep->classify) r2 = nnd_eval_report_r2(rep);
    const double topk_acc = rep->samples ? (double)rep->topk_hits / (double)rep->samples : 0.0;
    if (o->json) {
        if (rep->classify) {
            printf("{\"accuracy\": %.6f, \"loss\": %.6f, \"samples\": %llu, \"macro_f1\": %.6f",
                   r->accuracy, r->loss, (unsigned long long)r->samples, mf1);
            if (rep->topk) printf(", \"top_k\": %d, \"top_k_accuracy\": %.6f", rep->topk, topk_acc);
            print_loss_options(ce, k, 1);
        } else {
            printf("{\"mse\": %.6g, \"mae\": %.6g, \"r2\": %.6f, \"loss\": %.6f, \"samples\": %llu",
                   mse, mae, r2, r->loss, (unsigned long long)r->samples);
        }
        printf("}\n");
        return;
    }
    if (!rep->classify) {
        printf("mse %.6g  mae %.6g  r2 %.4f  loss %.4f  samples %llu\n", mse, mae, r2, r->loss,
               (unsigned long long)r->samples);
        if (k > 1) {
            printf("output        mse        mae      r2\n");
            for (size_t j = 0; j < k; j++) {
                nnd_eval_report_output(rep, j, &p, &q, &f);
                printf("%6zu %10.4g %10.4g %7.4f\n", j, p, q, f);
            }
        }
        return;
    }
    printf("accuracy %.4f  loss %.4f  samples %llu\n", r->accuracy, r->loss,
           (unsigned long long)r->samples);
    print_loss_options(ce, k, 0);
    if (rep->topk) printf("top-%d accuracy %.4f\n", rep->topk, topk_acc);
    printf("class  precision  recall      f1  support\n");
    for (size_t j = 0; j < k; j++) {
        nnd_eval_report_class(rep, j, &p, &q, &f, &sup);
        printf("%5zu  %9.4f  %6.4f  %6.4f  %7llu\n", j, p, q, f, (unsigned long long)sup);
    }
    printf("macro F1 %.4f\n", mf1);
    if (k > 20) {
        printf("(the confusion matrix of %zu classes: see --confusion-png)\n", k);
        return;
    }
    printf("confusion matrix (rows: true class, columns: predicted class)\n      ");
    for (size_t j = 0; j < k; j++) printf(" %6zu", j);
    printf("\n");
    for (size_t i = 0; i < k; i++) {
        printf("%5zu ", i);
        for (size_t j = 0; j < k; j++)
            printf(" %6llu", (unsigned long long)rep->confusion[i * k + j]);
        printf("\n");
    }
}

/* The confusion matrix as a PNG: each row (true class) coloured by its share of the class. */
static void draw_confusion(const nnd_eval_report *rep, const char *png)
{
    const size_t k = rep->k;
    nnd_plot p;
    int side = 160 + 40 * (int)(k < 30 ? k : 30);
    /* At least as wide as the title (cut off at 3 classes otherwise). */
    int width = side + 120 < 560 ? 560 : side + 120;
    nnd_status st = rep->classify ? nnd_plot_open(&p, png, width, side)
                                  : nnd_err_set(NND_ERR_USAGE, "a regression model has none");
    if (st) {
        fprintf(stderr, "nndist: note: no confusion matrix: %s\n", nnd_err_msg());
        return;
    }
    FILE *gp = p.out;
    fprintf(gp, "$m << EOD\n");
    for (size_t i = 0; i < k; i++) {
        uint64_t row = 0;
        for (size_t j = 0; j < k; j++) row += rep->confusion[i * k + j];
        for (size_t j = 0; j < k; j++)
            fprintf(gp, "%zu %zu %.6f %llu\n", j, i,
                    row ? (double)rep->confusion[i * k + j] / (double)row : 0.0,
                    (unsigned long long)rep->confusion[i * k + j]);
    }
    fprintf(gp, "EOD\n");
    fprintf(gp, "set title 'confusion matrix (%llu samples): the share of each true class'\n",
            (unsigned long long)rep->samples);
    fprintf(gp,
            "set xlabel 'predicted class'\nset ylabel 'true class'\nset yrange [%g:-0.5]\n"
            "set xrange [-0.5:%g]\nset cbrange [0:1]\nset palette defined (0 'white', 1 "
            "'#08306b')\nset size ratio -1\nset xtics 1\nset ytics 1\n",
            (double)k - 0.5, (double)k - 0.5);
    if (k <= 30)
        fprintf(gp, "plot $m using 1:2:3 with image notitle, $m using 1:2:(sprintf('%%d', $4)):"
                    "($3 > 0.5 ? 0xffffff : 0) with labels tc rgb variable notitle\n");
    else
        fprintf(gp, "plot $m using 1:2:3 with image notitle\n");
    if (nnd_plot_close(&p) == NND_OK)
        printf("wrote %s\n", png);
    else
        fprintf(stderr, "nndist: note: no confusion matrix: %s\n", nnd_err_msg());
}

nnd_status nnd_cmd_eval(int argc, char **argv, const nnd_comm *c)
{
    eval_opts o;
    int help = 0;
    nnd_status st = parse_options(&o, argc, argv, c, &help);
    if (st || help) return st;

    nnd_model m;
    nnd_dataset ds;
    memset(&ds, 0, sizeof ds);
    nnd_ckpt_meta meta;
    double *weights = NULL;
    st = nnd_load_model_file(&m, o.model, o.act, o.act_name, (size_t)o.batch, c, &meta);
    if (st) goto out;
    /* The model's own loss says whether it classifies; --loss serves files without one. */
    nnd_loss_kind loss = o.loss;
    if (meta.loss[0] && nnd_loss_parse(meta.loss, &loss) == 0 && o.loss_given && loss != o.loss &&
        c->rank == 0)
        fprintf(stderr, "nndist: note: %s was trained with --loss %s; using it\n", o.model,
                meta.loss);
    nnd_ce_opts ce = {NULL, 0.0};
    if (loss == NND_LOSS_SOFTMAX_CE &&
        (st = nnd_load_loss_options(o.model, &m, &meta, c, &weights, &ce)))
        goto out;
    if ((st = nnd_load_eval_data(&ds, o.data, o.x_name, o.y_name, &m, loss, c))) goto out;
    nnd_eval_result r;
    if ((st = nnd_evaluate(&m, &ds, loss, &ce, c, 1, &r))) goto out;
    const int classify = loss == NND_LOSS_SOFTMAX_CE;
    const size_t k = m.sizes[m.n_layers];
    int topk = classify && (o.topk_given || k > 5) && o.topk < k ? (int)o.topk : 0;
    nnd_eval_report rep;
    if ((st = nnd_eval_report_compute(&m, &ds, classify, topk, c, &rep))) goto out;
    if (c->rank == 0) {
        print_report(&o, &r, &rep, &ce);
        if (o.png) draw_confusion(&rep, o.png);
    }
    nnd_eval_report_free(&rep);
out:
    free(weights);
    nnd_data_free(&ds);
    nnd_model_free(&m);
    return st;
}
