#include <stdio.h>
#include <string.h>

#include "nndist/ckpt.h"
#include "nndist/cli.h"
#include "nndist/commands.h"
#include "nndist/eval.h"

static const char *const g_usage = "nndist eval --model FILE --data FILE [options]";
static const char *const g_description =
    "Evaluates a model on a dataset: accuracy, mean loss and sample count.\n"
    "Layer sizes come from the model file; any number of ranks.";

typedef struct {
    const char *model, *data, *act_name, *x_name, *y_name;
    uint64_t batch;
    int json;
    nnd_loss_kind loss;
    nnd_activation act; /* --activation's, used when the model file records none */
} eval_opts;

/* The options, checked, with the loss and activation names turned into kinds. */
static nnd_status parse_options(eval_opts *o, int argc, char **argv, const nnd_comm *c, int *help)
{
    const char *loss_name = "softmax-ce";
    *o = (eval_opts){NULL, NULL, NULL, "/X", "/y", 1024, 0, NND_LOSS_SOFTMAX_CE, NND_ACT_RELU};
    const nnd_opt opts[] = {
        {"model", NND_OPT_STRING, &o->model, "FILE", "checkpoint or model file (/model/...)", NULL},
        {"data", NND_OPT_STRING, &o->data, "FILE", "dataset to evaluate (HDF5 with /X and /y)",
         NULL},
        {"activation", NND_OPT_STRING, &o->act_name, "A",
         "hidden activation when the file does not record one (default relu)", NULL},
        {"loss", NND_OPT_STRING, &loss_name, "L", "softmax-ce (default) or mse", NULL},
        {"x-name", NND_OPT_STRING, &o->x_name, "NAME", "features dataset (default /X)", NULL},
        {"y-name", NND_OPT_STRING, &o->y_name, "NAME", "labels dataset (default /y)", NULL},
        {"batch", NND_OPT_COUNT, &o->batch, "N", "samples per forward pass (default 1024)", NULL},
        {"json", NND_OPT_FLAG, &o->json, NULL, "print one JSON object: accuracy, loss, samples",
         NULL},
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
        return nnd_err_set(NND_ERR_USAGE,
                           "--activation: unknown '%s'; expected relu, tanh or sigmoid",
                           o->act_name);
    return NND_OK;
}

nnd_status nnd_cmd_eval(int argc, char **argv, const nnd_comm *c)
{
    eval_opts o;
    int help = 0;
    nnd_status st = parse_options(&o, argc, argv, c, &help);
    if (st || help) return st;

    size_t sizes[NND_MAX_LAYERS + 2];
    int n_layers = 0, act_found = 0;
    nnd_activation file_act = NND_ACT_RELU;
    st = nnd_ckpt_probe(o.model, sizes, &n_layers, &file_act, &act_found);
    if ((st = nnd_comm_agree(c, st))) return st;
    nnd_activation act = act_found ? file_act : o.act;
    if (act_found && o.act_name && o.act != file_act && c->rank == 0)
        fprintf(stderr, "nndist: note: %s records --activation %s; using it, not %s\n", o.model,
                nnd_activation_name(file_act), o.act_name);

    nnd_model m;
    nnd_dataset ds;
    memset(&ds, 0, sizeof ds);
    st = nnd_model_init(&m, sizes, n_layers, act);
    if (!st) st = nnd_model_reserve(&m, (size_t)o.batch);
    if ((st = nnd_comm_agree(c, st))) goto out;
    st = c->rank == 0 ? nnd_ckpt_load(o.model, &m, NULL, NULL) : NND_OK;
    if ((st = nnd_comm_agree(c, st))) goto out;
    nnd_comm_bcast_floats(c, m.params, m.n_params);
    if ((st = nnd_load_eval_data(&ds, o.data, o.x_name, o.y_name, &m, o.loss, c))) goto out;
    nnd_eval_result r;
    if ((st = nnd_evaluate(&m, &ds, o.loss, c, 1, &r))) goto out;
    if (c->rank == 0) {
        if (o.json)
            printf("{\"accuracy\": %.6f, \"loss\": %.6f, \"samples\": %llu}\n", r.accuracy, r.loss,
                   (unsigned long long)r.samples);
        else
            printf("accuracy %.4f  loss %.4f  samples %llu\n", r.accuracy, r.loss,
                   (unsigned long long)r.samples);
    }
out:
    nnd_data_free(&ds);
    nnd_model_free(&m);
    return st;
}
