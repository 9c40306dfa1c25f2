/* nndist export: a model file's network as a file another framework runs (docs/file-formats.md,
 * "ONNX export"). Every rank loads the model (the shared loader), rank 0 builds and writes the
 * file atomically, and every rank returns the agreed outcome. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nndist/atomic_file.h"
#include "nndist/cli.h"
#include "nndist/commands.h"
#include "nndist/eval.h"
#include "nndist/onnx_export.h"

static const char *const g_usage =
    "nndist export --model FILE --format onnx --out FILE [--softmax]";
static const char *const g_description =
    "Writes a model file's network as an ONNX graph (opset 13): a Gemm per layer, the hidden\n"
    "activations, and with --softmax a Softmax, so that onnxruntime or any ONNX reader computes\n"
    "what nndist predict computes. Input 'input' (N, features), output 'output' (N, outputs).";

typedef struct {
    const char *model, *format, *out, *act_name;
    int softmax;
    nnd_activation act;
} export_opts;

static nnd_status parse_options(export_opts *o, int argc, char **argv, const nnd_comm *c, int *help)
{
    *o = (export_opts){.act = NND_ACT_RELU};
    const nnd_opt opts[] = {
        {"model", NND_OPT_STRING, &o->model, "FILE", "checkpoint or model file (/model/...)", NULL},
        {"format", NND_OPT_STRING, &o->format, "F", "the file's format: onnx", NULL},
        {"out", NND_OPT_STRING, &o->out, "FILE", "the file to write (replaced atomically)", NULL},
        {"softmax", NND_OPT_FLAG, &o->softmax, NULL,
         "end in Softmax: class probabilities, not logits (classifiers)", NULL},
        {"activation", NND_OPT_STRING, &o->act_name, "A",
         "hidden activation when the model file records none (default relu)", NULL},
        {NULL, 0, NULL, NULL, NULL, NULL},
    };
    nnd_status st =
        nnd_cli_parse_command(opts, argc, argv, 1, g_usage, g_description, c->rank, help);
    if (st || *help) return st;
    if (!o->model || !o->format || !o->out)
        return nnd_err_set(NND_ERR_USAGE, "export needs --model, --format and --out");
    if (strcmp(o->format, "onnx") != 0)
        return nnd_err_set(NND_ERR_USAGE, "--format: unknown '%s'; expected onnx", o->format);
    if (o->act_name && nnd_activation_parse(o->act_name, &o->act) != 0)
        return nnd_err_set(NND_ERR_USAGE, "--activation: unknown '%s'; expected one of: %s",
                           o->act_name, nnd_activation_names());
    return nnd_atomic_check_destination("--out", o->out);
}

static nnd_status write_file(const char *path, const uint8_t *bytes, size_t len)
{
    nnd_atomic a;
    nnd_status st = nnd_atomic_begin(&a, path);
    if (st) return st;
    FILE *f = fopen(a.tmp, "wb");
    if (!f) {
        st = nnd_err_set(NND_ERR_IO, "--out %s: cannot create %s", path, a.tmp);
    } else {
        int bad = fwrite(bytes, 1, len, f) != len;
        bad |= fclose(f) != 0;
        if (bad) st = nnd_err_set(NND_ERR_IO, "%s: write failed (disk full?)", a.tmp);
    }
    if (!st) st = nnd_atomic_commit(&a);
    nnd_atomic_abort(&a);
    return st;
}

/* The graph's doc_string: where it came from, so a file found later names its source. */
static void describe(char *buf, size_t size, const nnd_model *m, const char *model,
                     const char *loss, int softmax)
{
    int n = snprintf(buf, size, "nndist export of %s: layers ", model);
    for (int l = 0; l <= m->n_layers && n > 0 && (size_t)n < size; l++)
        n += snprintf(buf + n, size - (size_t)n, "%s%zu", l ? "," : "", m->sizes[l]);
    char act[64];
    nnd_activation_text(act, sizeof act, m->act, m->act_param);
    if (n > 0 && (size_t)n < size)
        snprintf(buf + n, size - (size_t)n, ", activation %s, loss %s, %sinput, output %s", act,
                 loss[0] ? loss : "unrecorded", m->in_mean ? "standardized " : "raw ",
                 softmax ? "softmax probabilities" : "the last layer's values");
}

nnd_status nnd_cmd_export(int argc, char **argv, const nnd_comm *c)
{
    export_opts o;
    int help = 0;
    nnd_status st = parse_options(&o, argc, argv, c, &help);
    if ((st = nnd_comm_agree(c, st)) || help) return st;
    nnd_model m;
    nnd_ckpt_meta meta;
    st = nnd_load_model_file(&m, o.model, o.act, o.act_name, 1, c, &meta);
    if (st) {
        nnd_model_free(&m);
        return st;
    }
    /* Every rank holds the same model and meta, so every rank reaches the same verdict here. */
    if (o.softmax && strcmp(meta.loss, "mse") == 0)
        st = nnd_err_set(NND_ERR_USAGE,
                         "--softmax: %s is a regression model (loss mse); its outputs are not "
                         "logits",
                         o.model);
    else if (!nnd_model_params_finite(&m))
        st = nnd_err_set(NND_ERR_NUMERIC, "%s: the model has non-finite weights", o.model);
    size_t len = 0;
    if (!st && c->rank == 0) {
        char doc[NND_PATH_MAX + 512];
        describe(doc, sizeof doc, &m, o.model, meta.loss, o.softmax);
        /* The model's standardization (train --standardize) becomes the graph's first nodes,
         * so that the file takes raw features as predict does. */
        const nnd_onnx_options opts = {
            .softmax = o.softmax, .mean = m.in_mean, .std = m.in_std, .doc = doc};
        uint8_t *bytes = NULL;
        st = nnd_onnx_build(&m, &opts, o.model, &bytes, &len);
        if (!st) st = write_file(o.out, bytes, len);
        free(bytes);
    }
    st = nnd_comm_agree(c, st);
    if (!st && c->rank == 0)
        printf("wrote %s: ONNX opset %d, %s%d Gemm layer%s, %zu -> %zu%s, %zu bytes\n", o.out,
               nnd_onnx_opset(&m, NULL), m.in_mean ? "standardization, " : "", m.n_layers,
               m.n_layers == 1 ? "" : "s", m.sizes[0], m.sizes[m.n_layers],
               o.softmax ? " with softmax" : "", len);
    nnd_model_free(&m);
    return st;
}
