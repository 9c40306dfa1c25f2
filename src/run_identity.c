#include "nndist/run_identity.h"

#include "nndist/dropout.h"

#include "nndist/ckpt_dir.h"
#include "nndist/h5util.h"

#include <inttypes.h>
#include <stdlib.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

void nnd_run_new_id(char *buf, size_t size)
{
    uint64_t v = 0;
    if (getrandom(&v, sizeof v, 0) != (ssize_t)sizeof v) {
        /* No random source: the clock and the pid still tell two runs apart. */
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        v = (uint64_t)ts.tv_sec * 1000000007u ^ (uint64_t)ts.tv_nsec << 20 ^ (uint64_t)getpid();
    }
    snprintf(buf, size, "%016" PRIx64, v);
}

/* Appends " key=value" to buf (at most size bytes; a definition that does not fit is cut, and
 * two cut definitions compare on what they hold). */
static void add(char *buf, size_t size, const char *key, const char *fmt, ...)
{
    size_t len = strlen(buf);
    if (len + 1 >= size) return;
    int n = snprintf(buf + len, size - len, "%s%s=", len ? " " : "", key);
    if (n < 0 || (size_t)n >= size - len) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf + len + (size_t)n, size - len - (size_t)n, fmt, ap);
    va_end(ap);
}

/* The shortest text of v that reads back as v: the same run gives the same words, and a
 * message shows 0.0005 rather than 0.00050000000000000001. */
static const char *shortest(char *buf, size_t size, double v)
{
    for (int digits = 6; digits < 17; digits++) {
        snprintf(buf, size, "%.*g", digits, v);
        if (strtod(buf, NULL) == v) return buf;
    }
    snprintf(buf, size, "%.17g", v);
    return buf;
}

/* "class-weights=balanced", or the weights as their shortest texts ("0.5,2,1"); a list longer
 * than a tenth of the definition's room as the FNV-1a of the doubles' bytes, so that the other
 * words keep their place. */
static void class_weights_word(char *buf, size_t size, const nnd_train_config *cfg)
{
    size_t k = cfg->sizes[cfg->n_layers];
    double *w = strcmp(cfg->class_weights, "balanced") ? malloc(k * sizeof *w) : NULL;
    if (!w || nnd_class_weights_parse(cfg->class_weights, k, w) != NND_OK) {
        nnd_err_clear(); /* not a list: as given ('balanced') */
        add(buf, size, "class-weights", "%s", cfg->class_weights);
        free(w);
        return;
    }
    char list[NND_CKPT_DEFINITION_SIZE / 10] = "", num[32];
    size_t used = 0;
    for (size_t j = 0; j < k && used < sizeof list; j++)
        used += (size_t)snprintf(list + used, sizeof list - used, "%s%s", j ? "," : "",
                                 shortest(num, sizeof num, w[j]));
    if (used < sizeof list)
        add(buf, size, "class-weights", "%s", list);
    else
        add(buf, size, "class-weights", "fnv1a-%016" PRIx64, nnd_fnv1a64(w, k * sizeof *w));
    free(w);
}

void nnd_run_definition(char *buf, size_t size, const nnd_train_config *cfg,
                        const nnd_data_shape *shape, uint64_t global_batch, int batch_order)
{
    buf[0] = '\0';
    const char *slash = strrchr(cfg->data, '/');
    add(buf, size, "data", "%s", slash ? slash + 1 : cfg->data);
    add(buf, size, "samples", "%zu", shape->n);
    add(buf, size, "features", "%zu", shape->d);
    add(buf, size, "x-name", "%s", cfg->x_name);
    add(buf, size, "y-name", "%s", cfg->y_name);
    add(buf, size, "loss", "%s", nnd_loss_name(cfg->loss));
    if (cfg->class_weights) class_weights_word(buf, size, cfg);
    char num[32];
    if (cfg->label_smoothing != 0.0)
        add(buf, size, "label-smoothing", "%s", shortest(num, sizeof num, cfg->label_smoothing));
    add(buf, size, "seed", "%" PRIu64, cfg->seed);
    add(buf, size, "batch", "%" PRIu64, global_batch);
    add(buf, size, "shuffle", "%d", cfg->shuffle);
    if (cfg->units) add(buf, size, "deterministic-units", "%zu", cfg->units);
    if (cfg->standardize) add(buf, size, "standardize", "1");
    if (cfg->init_scheme != NND_INIT_TORCH)
        add(buf, size, "init", "%s", nnd_init_scheme_name(cfg->init_scheme));
    if (batch_order != 1) add(buf, size, "batch-order", "%d", batch_order);
    char layers[256] = "";
    for (int l = 0; l <= cfg->n_layers; l++)
        snprintf(layers + strlen(layers), sizeof layers - strlen(layers), "%s%zu", l ? "," : "",
                 cfg->sizes[l]);
    add(buf, size, "layers", "%s", layers);
    add(buf, size, "activation", "%s", nnd_activation_name(cfg->act));
    if (nnd_activation_param_flag(cfg->act)) /* the words of runs without one stay as they were */
        add(buf, size, nnd_activation_param_flag(cfg->act), "%s",
            shortest(num, sizeof num, cfg->act_param));
    if (cfg->norm != NND_NORM_NONE) add(buf, size, "norm", "%s", nnd_norm_name(cfg->norm));
    if (cfg->input_dropout > 0.0)
        add(buf, size, "input-dropout", "%s", shortest(num, sizeof num, cfg->input_dropout));
    if (nnd_dropout_any(cfg->dropout, cfg->n_layers - 1)) {
        char drop[NND_MAX_LAYERS * 24];
        nnd_dropout_format(drop, sizeof drop, cfg->dropout, cfg->n_layers - 1);
        add(buf, size, "dropout", "%s", drop);
    }
    add(buf, size, "optimizer", "%s", cfg->optim.name);
    size_t np;
    const nnd_optim_param *params = nnd_optim_params(&np);
    for (size_t i = 0; i < np; i++)
        if (nnd_optim_param_applies(&params[i], cfg->optim.kind))
            add(buf, size, params[i].flag, "%s",
                shortest(num, sizeof num, nnd_optim_param_get(&cfg->optim, &params[i])));
    const nnd_schedule_config *s = &cfg->sched;
    add(buf, size, "schedule", "%s", nnd_schedule_name(s->kind));
    add(buf, size, "lr-step-size", "%" PRIu64, s->step_size);
    add(buf, size, "lr-gamma", "%s", shortest(num, sizeof num, s->gamma));
    add(buf, size, "lr-min", "%s", shortest(num, sizeof num, s->lr_min));
    add(buf, size, "warmup-steps", "%" PRIu64, s->warmup_steps);
    add(buf, size, "lr-scale", "%s", s->scale_linear ? "linear" : "none");
    add(buf, size, "lr-base-batch", "%" PRIu64, s->base_batch);
}

/* The next "key=value" word of *p into key and value; 0 at the end. */
static int next_word(const char **p, char *key, size_t ksize, char *value, size_t vsize)
{
    while (**p == ' ') (*p)++;
    if (!**p) return 0;
    size_t n = strcspn(*p, " ");
    const char *eq = memchr(*p, '=', n);
    size_t kn = eq ? (size_t)(eq - *p) : n;
    snprintf(key, ksize, "%.*s", (int)kn, *p);
    snprintf(value, vsize, "%.*s", eq ? (int)(n - kn - 1) : 0, eq ? eq + 1 : "");
    *p += n;
    return 1;
}

/* The value of key in a definition ("" when absent). */
static void find(const char *def, const char *key, char *value, size_t size)
{
    char k[64];
    value[0] = '\0';
    while (next_word(&def, k, sizeof k, value, size))
        if (strcmp(k, key) == 0) return;
    value[0] = '\0';
}

int nnd_run_definition_differ(const char *stored, const char *ours, char *key, size_t ksize,
                              char *theirs, size_t tsize, char *mine, size_t msize)
{
    const char *p = ours;
    while (next_word(&p, key, ksize, mine, msize)) {
        find(stored, key, theirs, tsize);
        if (strcmp(mine, theirs) != 0) return 1;
    }
    key[0] = theirs[0] = mine[0] = '\0';
    return strcmp(stored, ours) != 0;
}

nnd_status nnd_run_definition_check(const char *path, const char *stored, const char *ours)
{
    if (!stored[0] || strcmp(stored, ours) == 0) return NND_OK;
    char key[64], mine[256], theirs[256];
    if (nnd_run_definition_differ(stored, ours, key, sizeof key, theirs, sizeof theirs, mine,
                                  sizeof mine) &&
        key[0])
        return nnd_err_set(NND_ERR_MISMATCH,
                           "%s belongs to another run: it has %s=%s where this run has "
                           "%s=%s. Continue it with the same settings, start from its "
                           "weights with --init %s, or use another --checkpoint-dir",
                           path, key, *theirs ? theirs : "(none)", key, mine, path);
    return nnd_err_set(NND_ERR_MISMATCH,
                       "%s belongs to another run (its settings: %s); use another "
                       "--checkpoint-dir, or --init %s to start from its weights",
                       path, stored, path);
}

nnd_status nnd_run_check_directory(const char *dir, const char *run_id, int accept_legacy)
{
    enum { MAX_SCAN = 256 };
    uint64_t *steps = malloc(MAX_SCAN * sizeof *steps);
    if (!steps) return nnd_err_set(NND_ERR_NOMEM, "out of memory listing %s", dir);
    int n = nnd_ckpt_list(dir, steps, MAX_SCAN);
    nnd_status st = NND_OK;
    for (int i = 0; i < n && !st; i++) {
        char path[NND_PATH_MAX], id[NND_CKPT_RUN_ID_SIZE];
        nnd_ckpt_path(path, sizeof path, dir, steps[i]);
        int rc = nnd_ckpt_read_run_id(path, id, sizeof id);
        if (rc < 0 || (rc == 0 && strcmp(id, run_id) == 0) || (rc == 1 && accept_legacy))
            continue; /* ours, or unreadable: damage, which resuming skips with a note */
        st = nnd_err_set(NND_ERR_USAGE,
                         "--checkpoint-dir %s holds checkpoints of another run (the newest: %s%s%s"
                         "); continue that run with --resume auto and its settings, take it over "
                         "with --resume FILE, or give this run another --checkpoint-dir",
                         dir, path, id[0] ? ", run " : "", id);
    }
    free(steps);
    return st;
}
