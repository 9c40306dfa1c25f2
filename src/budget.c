#include "nndist/budget.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nndist/model.h"
#include "nndist/optim.h"

#define GB 1e9

void nnd_budget_need(nnd_budget *b, const nnd_budget_input *in)
{
    memset(b, 0, sizeof *b);
    /* In double: a mistyped --layers can overflow size_t products, and must still be refused. */
    double params = 0.0, acts = 0.0, widest = 0.0;
    for (int l = 0; l < in->n_layers; l++)
        params += (double)in->sizes[l] * (double)in->sizes[l + 1] + (double)in->sizes[l + 1] +
                  (in->norm && l + 1 < in->n_layers ? 2.0 * (double)in->sizes[l + 1] : 0.0);
    for (int l = 1; l <= in->n_layers; l++) {
        acts += (double)in->sizes[l];
        if ((double)in->sizes[l] > widest) widest = (double)in->sizes[l];
    }
    double d = (double)in->sizes[0], k = in->k_targets ? (double)in->k_targets : 1.0;
    const double f = sizeof(float);
    b->part[NND_BUDGET_WEIGHTS] = params * f;
    b->part[NND_BUDGET_GRADIENTS] = (params + NND_GRAD_TAIL) * f;
    /* Sharded, each rank holds its part of the state, and rank 0 the whole of it while a
     * checkpoint is written or read (counted once on the node, below). */
    const double state = (double)in->n_state * params * f;
    const double shards = in->state_shards > 1 ? (double)in->state_shards : 1.0;
    b->part[NND_BUDGET_OPTIMIZER] = state / shards;
    b->part[NND_BUDGET_ACTIVATIONS] = (double)in->batch * (acts + 2.0 * widest + d + k + 2.0) * f;
    if (in->keeps_z) /* the hidden layers' Z, kept for backward (gelu, gelu-tanh, silu) */
        b->part[NND_BUDGET_ACTIVATIONS] +=
            (double)in->batch * (acts - (double)in->sizes[in->n_layers]) * f;
    b->part[NND_BUDGET_ACTIVATIONS] += (double)in->batch * in->dropout_bytes;
    if (in->norm)
        b->part[NND_BUDGET_ACTIVATIONS] +=
            (double)in->batch *
            (acts - (double)in->sizes[in->n_layers] + (double)(in->n_layers - 1)) * f;
    b->part[NND_BUDGET_DATA] = ((double)in->rows + (double)in->val_rows) * (d + k) * f;
    b->ranks_on_node = in->ranks_on_node > 0 ? in->ranks_on_node : 1;
    /* The shared window holds every rank's gradient (its int64 sum when --deterministic). */
    const double grad_copies = in->exact ? 2.0 : 1.0;
    if (in->sharded)
        b->part[NND_BUDGET_SHARED] = (grad_copies * (double)b->ranks_on_node + 1.0) * params * f;
    if (in->exact) { /* the int64 sum (unless shared), its shard, the hidden layers' dZ */
        b->part[NND_BUDGET_GRADIENTS] += (in->sharded ? 0.0 : 2.0 * (params + NND_GRAD_TAIL) * f) +
                                         (shards > 1.0 ? 2.0 * params / shards * f : 0.0);
        b->part[NND_BUDGET_ACTIVATIONS] +=
            (double)in->batch * (acts - (double)in->sizes[in->n_layers]) * f;
    }
    for (int p = 0; p < NND_BUDGET_SHARED; p++) b->rank_need += b->part[p];
    b->node_need = (double)b->ranks_on_node * b->rank_need + b->part[NND_BUDGET_SHARED];
    b->whole_state = shards > 1.0 ? state : 0.0;
    b->node_need += b->whole_state;
    /* Rank 0 builds each checkpoint (and --save) in memory, and keeps the buffer for the next. */
    b->ckpt_image = in->writes_files ? params * f + state : 0.0;
    b->node_need += b->ckpt_image;
}

double nnd_budget_dropout_bytes(const size_t *sizes, int n_layers, nnd_activation act,
                                const double *dropout, double input_dropout)
{
    if (!nnd_dropout_any(dropout, n_layers - 1) && !(input_dropout > 0.0)) return 0.0;
    double bytes = 2.0 * sizeof(uint64_t);
    if (input_dropout > 0.0) bytes += (double)sizes[0] * sizeof(float);
    for (int l = 0; l + 1 < n_layers && act != NND_ACT_RELU; l++)
        if (dropout[l] > 0.0) bytes += (double)sizes[l + 1] * (sizeof(float) + 1.0);
    return bytes;
}

/* ---- what the node allows ---- */

static void consider(nnd_budget *b, double bytes, const char *from)
{
    if (bytes <= 0.0 || (b->node_limit > 0.0 && bytes >= b->node_limit)) return;
    b->node_limit = bytes;
    snprintf(b->limit_from, sizeof b->limit_from, "%s", from);
}

/* The number in a one-line file ("max" and unreadable: -1). */
static double read_number(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f) return -1.0;
    char line[64] = "";
    double v = -1.0;
    if (fgets(line, sizeof line, f) && strncmp(line, "max", 3) != 0) {
        char *end;
        v = strtod(line, &end);
        if (end == line) v = -1.0;
    }
    fclose(f);
    return v;
}

static double mem_available(void)
{
    FILE *f = fopen("/proc/meminfo", "r");
    if (!f) return -1.0;
    char line[256];
    double kb = -1.0;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "MemAvailable: %lf kB", &kb) == 1) break;
    fclose(f);
    return kb > 0 ? kb * 1024.0 : -1.0;
}

/* cgroup v2: every ancestor of this process's cgroup may carry a limit; what is left under each
 * is its memory.max less its memory.current. v1: the memory controller's limit less usage. */
static void cgroup_limits(nnd_budget *b)
{
    FILE *f = fopen("/proc/self/cgroup", "r");
    if (!f) return;
    char line[1024];
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = '\0';
        char *path = strchr(line, ':');
        path = path ? strchr(path + 1, ':') : NULL;
        if (!path) continue;
        *path++ = '\0';
        int v2 = strncmp(line, "0:", 2) == 0 && line[2] == '\0';
        int v1 = strstr(line, "memory") != NULL;
        if (!v2 && !v1) continue;
        char dir[1200], file[1300];
        snprintf(dir, sizeof dir, "%s%s", v2 ? "/sys/fs/cgroup" : "/sys/fs/cgroup/memory", path);
        for (;;) {
            snprintf(file, sizeof file, "%s/%s", dir, v2 ? "memory.max" : "memory.limit_in_bytes");
            double max = read_number(file);
            snprintf(file, sizeof file, "%s/%s", dir,
                     v2 ? "memory.current" : "memory.usage_in_bytes");
            double used = read_number(file);
            /* v1 writes "no limit" as a number near 2^63. */
            if (max > 0 && max < 1e18)
                consider(b, max - (used > 0 ? used : 0.0), "cgroup memory limit");
            char *slash = strrchr(dir, '/');
            if (!slash || strcmp(dir, v2 ? "/sys/fs/cgroup" : "/sys/fs/cgroup/memory") == 0) break;
            *slash = '\0';
        }
    }
    fclose(f);
}

static double env_mb(const char *name)
{
    const char *v = getenv(name);
    if (!v || !*v) return -1.0;
    char *end;
    double x = strtod(v, &end);
    /* SLURM gives megabytes, sometimes with a unit letter. */
    if (*end == 'G' || *end == 'g') x *= 1024.0;
    return x > 0 ? x * 1024.0 * 1024.0 : -1.0;
}

void nnd_budget_read_limit(nnd_budget *b)
{
    b->node_limit = 0.0;
    b->limit_from[0] = '\0';
    consider(b, mem_available(), "MemAvailable");
    cgroup_limits(b);
    consider(b, env_mb("SLURM_MEM_PER_NODE"), "SLURM_MEM_PER_NODE");
    const char *cpus = getenv("SLURM_CPUS_ON_NODE");
    double per_cpu = env_mb("SLURM_MEM_PER_CPU");
    if (per_cpu > 0 && cpus && atoi(cpus) > 0)
        consider(b, per_cpu * atoi(cpus), "SLURM_MEM_PER_CPU x SLURM_CPUS_ON_NODE");
}

/* ---- verdict ---- */

const char *nnd_budget_part_name(nnd_budget_part p)
{
    static const char *const names[NND_BUDGET_PARTS] = {
        "weights",    "gradients",          "optimizer state", "activations and batch buffers",
        "data shard", "node-shared windows"};
    return p >= 0 && p < NND_BUDGET_PARTS ? names[p] : "?";
}

static double on_node(const nnd_budget *b, int p)
{
    return p == NND_BUDGET_SHARED ? b->part[p] : b->part[p] * (double)b->ranks_on_node;
}

nnd_budget_part nnd_budget_largest(const nnd_budget *b)
{
    int best = 0;
    for (int p = 1; p < NND_BUDGET_PARTS; p++)
        if (on_node(b, p) > on_node(b, best)) best = p;
    return (nnd_budget_part)best;
}

/* What to change when part p is the largest. */
static const char *remedy(nnd_budget_part p)
{
    switch (p) {
    case NND_BUDGET_ACTIVATIONS:
        return "a smaller --batch";
    case NND_BUDGET_DATA:
        return "more nodes (each rank holds only its part of the data)";
    case NND_BUDGET_OPTIMIZER:
        return "smaller --layers, or an optimizer with less state (sgd, adagrad)";
    default:
        return "smaller --layers";
    }
}

void nnd_budget_summary(const nnd_budget *b, char *buf, size_t size)
{
    if (b->node_limit > 0)
        snprintf(buf, size, "needs %.2f GB of the %.2f GB this node allows (%s; %.0f%%)",
                 b->node_need / GB, b->node_limit / GB, b->limit_from,
                 100.0 * b->node_need / b->node_limit);
    else
        snprintf(buf, size, "needs %.2f GB on this node (what it allows is unknown)",
                 b->node_need / GB);
}

nnd_status nnd_budget_check(const nnd_budget *b, int *warn)
{
    *warn = 0;
    if (b->node_limit <= 0) return NND_OK;
    if (b->node_need > b->node_limit) {
        nnd_budget_part p = nnd_budget_largest(b);
        return nnd_err_set(
            NND_ERR_USAGE,
            "not enough memory: the run needs %.2f GB on this node (%d rank%s) and "
            "the node allows %.2f GB (%s); the largest part is the %s, %.2f GB%s. "
            "Try %s (nndist info --layers ... prints the whole budget)",
            b->node_need / GB, b->ranks_on_node, b->ranks_on_node == 1 ? "" : "s",
            b->node_limit / GB, b->limit_from, nnd_budget_part_name(p), on_node(b, p) / GB,
            p == NND_BUDGET_SHARED || b->ranks_on_node == 1 ? "" : " over its ranks", remedy(p));
    }
    *warn = b->node_need > 0.9 * b->node_limit;
    return NND_OK;
}

/* ---- a training run ---- */

/* How the trainer will shard the update (gradsum.c, nnd_trainer_plan_update): across the ranks
 * when there are several, no --overlap and NNDIST_UPDATE is not "replicated"; through node-shared
 * memory when they are all on one node and NNDIST_UPDATE is not "reduce-scatter". Collective. */
static void predict_sharding(const nnd_train_config *cfg, const nnd_comm *c, int *shm,
                             int *state_shards)
{
    const char *mode = getenv("NNDIST_UPDATE");
    int replicated = mode && strcmp(mode, "replicated") == 0;
    int reduce_scatter = mode && strcmp(mode, "reduce-scatter") == 0;
    int one_node = nnd_comm_on_one_node(c); /* collective: called on every rank alike */
    int sharded = c->size >= 2 && !cfg->overlap && !replicated;
    *shm = sharded && one_node && !reduce_scatter;
    *state_shards = sharded ? c->size : 1;
}

nnd_status nnd_budget_check_run(const nnd_train_config *cfg, const nnd_comm *c, size_t rows,
                                size_t val_rows, size_t k_targets)
{
    uint64_t batch = cfg->batch ? cfg->batch : cfg->batch_per_rank * (uint64_t)c->size;
    int shm, state_shards;
    predict_sharding(cfg, c, &shm, &state_shards);
    nnd_budget_input in = {.sizes = cfg->sizes,
                           .n_layers = cfg->n_layers,
                           .n_state = nnd_optim_state_count(&cfg->optim),
                           .batch = batch,
                           .k_targets = k_targets,
                           .rows = rows,
                           .val_rows = val_rows,
                           .ranks_on_node = c->local_size,
                           .sharded = shm,
                           .state_shards = state_shards,
                           .writes_files = cfg->ckpt_dir || cfg->save,
                           .exact = cfg->units > 0,
                           .keeps_z = nnd_activation_keeps_z(cfg->act),
                           .dropout_bytes =
                               nnd_budget_dropout_bytes(cfg->sizes, cfg->n_layers, cfg->act,
                                                        cfg->dropout, cfg->input_dropout),
                           .norm = cfg->norm != NND_NORM_NONE};
    nnd_budget b;
    nnd_budget_need(&b, &in);
    nnd_budget_read_limit(&b);
    int warn = 0;
    nnd_status st = nnd_budget_check(&b, &warn);
    if (!st && warn && c->rank == 0) { /* the nodes are alike in a job: rank 0 speaks for them */
        char text[256];
        nnd_budget_summary(&b, text, sizeof text);
        fprintf(stderr,
                "nndist: warning: memory: the run %s: more than 90%%, so other processes on the "
                "node may push it out of memory\n",
                text);
    }
    return nnd_comm_agree(c, st);
}
