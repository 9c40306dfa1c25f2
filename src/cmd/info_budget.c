/* `nndist info --layers ... --batch ... --optimizer ...`: the memory a training run would need,
 * part by part, against what this node allows, without running it (budget.h). */
#include "cmd/info_budget.h"

#include <stdio.h>
#include <string.h>

#include "nndist/budget.h"
#include "nndist/data.h"
#include "nndist/optim.h"
#include "nndist/order.h"

#include "cmd/train_flags.h"

static const char *const g_usage =
    "nndist info FILE\n       nndist info --layers N0,...,NL [--batch N] [--optimizer NAME] "
    "[--data FILE] [--ranks N] [--nodes K]";
static const char *const g_description =
    "With FILE: shows what a dataset, model or checkpoint file holds (its datasets with types\n"
    "and shapes, and its attributes). With --layers: prints the memory a training run of these\n"
    "options needs per rank and per node (weights, gradients, optimizer state, activations, the\n"
    "data shard, the node-shared windows of the sharded update) and what this node allows;\n"
    "train checks the same budget at start and refuses a run that cannot fit. With --data it\n"
    "also shows how the batch order spreads the data and each step over the ranks.";

/* How the batch order spreads a run over the ranks (order.h). */
static void print_order(const nnd_train_config *cfg, size_t n, uint64_t batch, uint64_t ranks)
{
    if (batch > n) batch = n;
    size_t s = nnd_order_stripes(n, NND_ORDER_CURRENT), len = n / s;
    printf("  batch order %d: %zu stripe%s of ", NND_ORDER_CURRENT, s, s == 1 ? "" : "s");
    if (n % s)
        printf("%zu or %zu samples", len, len + 1);
    else
        printf("%zu sample%s", len, len == 1 ? "" : "s");
    if (s < ranks)
        printf("; %llu of the ranks hold no data (16 samples per rank give every rank some)",
               (unsigned long long)(ranks - s));
    printf("\n");
    nnd_order_balance b;
    if (nnd_order_measure_balance(n, batch, cfg->shuffle, cfg->seed, NND_ORDER_CURRENT, (int)ranks,
                                  4096, &b) != NND_OK) {
        printf("    (the balance cannot be measured: %s)\n", nnd_err_msg());
        nnd_err_clear();
    } else if (b.steps_judged == 0) {
        printf("    each step uses all %zu samples\n", n);
    } else {
        char range[64];
        if (b.fewest == b.most)
            snprintf(range, sizeof range, "%zu", b.fewest);
        else
            snprintf(range, sizeof range, "%zu to %zu", b.fewest, b.most);
        printf("    a full step of %llu samples gives each rank %s of them (max - min over the "
               "ranks: %zu; judged on %llu step%s)\n",
               (unsigned long long)batch, range, b.imbalance, (unsigned long long)b.steps_judged,
               b.steps_judged == 1 ? "" : "s");
    }
}

static void print_bytes(const char *what, double bytes)
{
    if (bytes >= 1e9)
        printf("    %-32s %10.2f GB\n", what, bytes / 1e9);
    else
        printf("    %-32s %10.2f MB\n", what, bytes / 1e6);
}

nnd_status nnd_info_budget(int argc, char **argv, const nnd_comm *c)
{
    nnd_train_config cfg;
    nnd_train_flags f;
    nnd_train_flags_init(&f, &cfg);
    f.data_optional = 1;
    uint64_t ranks = (uint64_t)c->size, nodes = 1;
    int help = 0;
    const nnd_opt own[] = {
        {"val", NND_OPT_STRING, &cfg.val, "FILE", "a validation set (each rank holds its part)",
         NULL},
        {"ranks", NND_OPT_COUNT, &ranks, "N", "ranks of the run (default: this job's)", NULL},
        {"nodes", NND_OPT_COUNT, &nodes, "K", "nodes the ranks spread over (default 1)", NULL},
    };
    nnd_status st = nnd_train_flags_parse(&f, own, sizeof own / sizeof own[0], argc, argv, g_usage,
                                          g_description, c, &help);
    if (st || help) return st;
    if (nodes > ranks)
        return nnd_err_set(NND_ERR_USAGE, "--nodes %llu: more nodes than the %llu ranks",
                           (unsigned long long)nodes, (unsigned long long)ranks);
    if (ranks > (1u << 24))
        return nnd_err_set(NND_ERR_USAGE, "--ranks %llu: too many; expected at most %u",
                           (unsigned long long)ranks, 1u << 24);
    nnd_data_shape shape = {0}, vshape = {0};
    if (cfg.data && (st = nnd_data_probe(cfg.data, cfg.x_name, cfg.y_name, &shape))) return st;
    if (cfg.val && (st = nnd_data_probe(cfg.val, cfg.x_name, cfg.y_name, &vshape))) return st;
    uint64_t batch = cfg.batch ? cfg.batch : cfg.batch_per_rank * ranks;
    int per_node = (int)((ranks + nodes - 1) / nodes);
    int state_sharded = ranks >= 2 && !cfg.overlap;
    int sharded = nodes == 1 && state_sharded;
    nnd_budget_input in = {.sizes = cfg.sizes,
                           .n_layers = cfg.n_layers,
                           .n_state = nnd_optim_state_count(&cfg.optim),
                           .batch = batch,
                           .k_targets = shape.k_targets,
                           .rows = (shape.n + ranks - 1) / ranks,
                           .val_rows = (vshape.n + ranks - 1) / ranks,
                           .ranks_on_node = per_node,
                           .sharded = sharded,
                           .state_shards = state_sharded ? (int)ranks : 1,
                           .writes_files = 1, /* counted: most runs checkpoint or --save */
                           .exact = cfg.units > 0,
                           .keeps_z = nnd_activation_keeps_z(cfg.act),
                           .dropout_bytes = nnd_budget_dropout_bytes(
                               cfg.sizes, cfg.n_layers, cfg.act, cfg.dropout, cfg.input_dropout),
                           .norm = cfg.norm != NND_NORM_NONE};
    nnd_budget b;
    nnd_budget_need(&b, &in);
    nnd_budget_read_limit(&b);
    if (c->rank != 0) return NND_OK;
    printf("memory budget: --layers");
    for (int l = 0; l <= cfg.n_layers; l++) printf("%s%zu", l ? "," : " ", cfg.sizes[l]);
    printf(", %s (%d state tensor%s), global batch %llu, %llu rank%s on %llu node%s%s\n",
           cfg.optim.name, in.n_state, in.n_state == 1 ? "" : "s", (unsigned long long)batch,
           (unsigned long long)ranks, ranks == 1 ? "" : "s", (unsigned long long)nodes,
           nodes == 1 ? "" : "s",
           sharded         ? ", update sharded on the node"
           : state_sharded ? ", update sharded by reduce-scatter"
                           : "");
    if (!cfg.data) printf("  (no --data: the data shard and the batch order are not shown)\n");
    if (cfg.data) print_order(&cfg, shape.n, batch, ranks);
    printf("  per rank:\n");
    for (int p = 0; p < NND_BUDGET_SHARED; p++)
        print_bytes(nnd_budget_part_name((nnd_budget_part)p), b.part[p]);
    print_bytes("total per rank", b.rank_need);
    printf("  per node (%d rank%s):\n", per_node, per_node == 1 ? "" : "s");
    if (sharded) print_bytes(nnd_budget_part_name(NND_BUDGET_SHARED), b.part[NND_BUDGET_SHARED]);
    if (b.whole_state > 0) print_bytes("rank 0's whole optimizer state", b.whole_state);
    if (b.ckpt_image > 0) print_bytes("checkpoint file (rank 0)", b.ckpt_image);
    print_bytes("total per node", b.node_need);
    char text[256];
    nnd_budget_summary(&b, text, sizeof text);
    int warn = 0;
    nnd_status verdict = nnd_budget_check(&b, &warn);
    printf("  the run %s: %s\n", text,
           verdict ? "it does not fit"
           : warn  ? "it fits, above 90%"
                   : "it fits");
    nnd_err_clear();
    return NND_OK;
}
