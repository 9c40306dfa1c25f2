#include <stdio.h>
#include <string.h>

#include "nndist/ckpt.h"
#include "nndist/cli.h"
#include "nndist/commands.h"
#include "nndist/eval.h"

nnd_status nnd_cmd_eval(int argc, char **argv, const nnd_comm *c)
{
    const char *model_path = NULL, *data = NULL, *act_name = NULL, *loss_name = "softmax-ce";
    const char *x_name = "/X", *y_name = "/y";
    uint64_t batch = 1024;
    int json = 0, help = 0;
    const nnd_opt opts[] = {
        {"model", NND_OPT_STRING, &model_path, "FILE", "checkpoint or model file (/model/...)",
         NULL},
        {"data", NND_OPT_STRING, &data, "FILE", "dataset to evaluate (HDF5 with /X and /y)", NULL},
        {"activation", NND_OPT_STRING, &act_name, "A",
         "hidden activation when the file does not "
         "record one (default relu)",
         NULL},
        {"loss", NND_OPT_STRING, &loss_name, "L", "softmax-ce (default) or mse", NULL},
        {"x-name", NND_OPT_STRING, &x_name, "NAME", "features dataset (default /X)", NULL},
        {"y-name", NND_OPT_STRING, &y_name, "NAME", "labels dataset (default /y)", NULL},
        {"batch", NND_OPT_COUNT, &batch, "N", "samples per forward pass (default 1024)", NULL},
        {"json", NND_OPT_FLAG, &json, NULL, "print one JSON object: accuracy, loss, samples", NULL},
        {NULL, 0, NULL, NULL, NULL, NULL},
    };
    nnd_status st = nnd_cli_parse(opts, argc, argv, 1, &help);
    if (!st && help) {
        if (c->rank == 0)
            nnd_cli_print_help(stdout, "nndist eval --model FILE --data FILE [options]",
                               "Evaluates a model on a dataset: accuracy, mean loss and sample "
                               "count.\nLayer sizes come from the model file; any number of "
                               "ranks.",
                               opts);
        return NND_OK;
    }
    if (st) return st;
    if (!model_path || !data)
        return nnd_err_set(NND_ERR_USAGE, "eval needs --model FILE and --data FILE");
    nnd_loss_kind loss;
    if (nnd_loss_parse(loss_name, &loss) != 0)
        return nnd_err_set(NND_ERR_USAGE, "--loss: unknown '%s'; expected softmax-ce or mse",
                           loss_name);
    nnd_activation flag_act = NND_ACT_RELU;
    if (act_name && nnd_activation_parse(act_name, &flag_act) != 0)
        return nnd_err_set(NND_ERR_USAGE,
                           "--activation: unknown '%s'; expected relu, tanh or "
                           "sigmoid",
                           act_name);

    size_t sizes[NND_MAX_LAYERS + 2];
    int n_layers = 0, act_found = 0;
    nnd_activation file_act = NND_ACT_RELU;
    st = nnd_ckpt_probe(model_path, sizes, &n_layers, &file_act, &act_found);
    if ((st = nnd_comm_agree(c, st))) return st;
    nnd_activation act = act_found ? file_act : flag_act;
    if (act_found && act_name && flag_act != file_act && c->rank == 0)
        fprintf(stderr, "nndist: note: %s records --activation %s; using it, not %s\n", model_path,
                nnd_activation_name(file_act), act_name);

    nnd_model m;
    nnd_dataset ds;
    memset(&ds, 0, sizeof ds);
    st = nnd_model_init(&m, sizes, n_layers, act);
    if (!st) st = nnd_model_reserve(&m, (size_t)batch);
    if ((st = nnd_comm_agree(c, st))) goto out;
    st = c->rank == 0 ? nnd_ckpt_load(model_path, &m, NULL, NULL) : NND_OK;
    if ((st = nnd_comm_agree(c, st))) goto out;
    nnd_comm_bcast_floats(c, m.params, m.n_params);
    if ((st = nnd_load_eval_data(&ds, data, x_name, y_name, &m, loss, c))) goto out;
    nnd_eval_result r;
    if ((st = nnd_evaluate(&m, &ds, loss, c, 1, &r))) goto out;
    if (c->rank == 0) {
        if (json)
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
