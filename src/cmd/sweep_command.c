/* nndist sweep, its command lines: the `nndist train` that reproduces a configuration,
 * quoted for the shell, with every number in the shortest form that reads back exactly. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd/sweep.h"

#include "nndist/dropout.h"

/* The shortest %g form of v that reads back as v (10, not 1e+01). */
void sweep_format_exact(char *buf, size_t size, double v)
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
void sweep_train_command(const sweep *s, size_t c, uint64_t epochs, int np, const char *data,
                         const char *val, int names, char *cmd, size_t size)
{
    const sweep_config *cf = &s->cfg[c];
    nnd_train_config this_cfg;
    sweep_config_train(s, c, &this_cfg);
    const nnd_train_config *b = &this_cfg;
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
    if (nnd_activation_param_flag(b->act) && b->act_param != nnd_activation_default_param(b->act)) {
        char flag[32];
        snprintf(flag, sizeof flag, "--%s", nnd_activation_param_flag(b->act));
        sweep_format_exact(num, sizeof num, b->act_param);
        cmd_flag(cmd, size, flag, num);
    }
    if (b->loss != NND_LOSS_SOFTMAX_CE) cmd_flag(cmd, size, "--loss", nnd_loss_name(b->loss));
    if (b->class_weights) cmd_flag(cmd, size, "--class-weights", b->class_weights);
    if (b->label_smoothing != 0.0) {
        sweep_format_exact(num, sizeof num, b->label_smoothing);
        cmd_flag(cmd, size, "--label-smoothing", num);
    }
    if (b->norm != NND_NORM_NONE) cmd_flag(cmd, size, "--norm", nnd_norm_name(b->norm));
    if (b->bf16) cmd_flag(cmd, size, "--precision", "bf16");
    if (b->grad_bf16) cmd_flag(cmd, size, "--grad-precision", "bf16");
    if (b->input_dropout > 0.0) {
        sweep_format_exact(num, sizeof num, b->input_dropout);
        cmd_flag(cmd, size, "--input-dropout", num);
    }
    if (nnd_dropout_any(b->dropout, b->n_layers - 1)) {
        char drop[NND_MAX_LAYERS * 24];
        nnd_dropout_format(drop, sizeof drop, b->dropout, b->n_layers - 1);
        cmd_flag(cmd, size, "--dropout", drop);
    }
    cmd_flag(cmd, size, "--optimizer", s->opt_text[cf->opt]);
    sweep_format_exact(num, sizeof num, cf->optim.lr);
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
            sweep_format_exact(num, sizeof num, nnd_optim_param_get(&cf->optim, &params[i]));
            cmd_flag(cmd, size, flag, num);
        }
    }
    if (s->wd_list) {
        sweep_format_exact(num, sizeof num, cf->optim.weight_decay);
        cmd_flag(cmd, size, "--weight-decay", num);
    }
    snprintf(num, sizeof num, "%" PRIu64, cf->batch_size);
    cmd_flag(cmd, size, "--batch", num);
    snprintf(num, sizeof num, "%" PRIu64, epochs);
    cmd_flag(cmd, size, "--epochs", num);
    snprintf(num, sizeof num, "%" PRIu64, b->seed);
    cmd_flag(cmd, size, "--seed", num);
    if (!b->shuffle) cmd_flag(cmd, size, "--no-shuffle", NULL);
    if (b->init_scheme != NND_INIT_TORCH)
        cmd_flag(cmd, size, "--init", nnd_init_scheme_name(b->init_scheme));
    if (b->standardize) cmd_flag(cmd, size, "--standardize", NULL);
    if (b->units) {
        cmd_flag(cmd, size, "--deterministic", NULL);
        snprintf(num, sizeof num, "%zu", b->units);
        cmd_flag(cmd, size, "--units", num);
    }
    if (b->threads > 0) {
        snprintf(num, sizeof num, "%d", b->threads);
        cmd_flag(cmd, size, "--threads", num);
    }
}
