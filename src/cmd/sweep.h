/* nndist sweep: k-fold cross-validation of every (optimizer, lr, batch, layers, dropout, weight
 * decay) configuration, in parallel across groups of ranks. This header is what its parts share:
 *   sweep.c           the command: setup (output directory, data, folds), then the run
 *   sweep_options.c   the command line, the grid of configurations, the rungs
 *   sweep_command.c   the `nndist train` command line that reproduces a configuration
 *   sweep_job.c       one job: every fold of one configuration, trained by one group
 *   sweep_schedule.c  rank 0 deals jobs to the groups; every group runs them
 *   sweep_report.c    the statistics, the ranking, the table, CSVs and heatmap
 *   sweep_state.c     the durable progress: the definition, job records, fold checkpoints
 *
 * Data. Every rank reads the samples once (the first --subset of them) and cuts the K folds
 * (folds.h: stratified, a function of --seed). Fold f's training set is every sample outside
 * fold f in file order, its validation set fold f in file order. A configuration trains K
 * sessions (nnd_trainer_init_subset), one per fold, from the same initial weights (--seed),
 * and evaluates each on its held-out fold after the last epoch.
 *
 * Groups. The world is split into groups of --group-size G consecutive ranks (MPI_Comm_split);
 * a group trains one configuration at a time, data-parallel like `train`. World rank 0 (also
 * the leader of group 0) deals the configurations: a group leader sends the result of its last
 * configuration with a request for the next (MPI_Send, tag TAG_REQUEST), rank 0 answers with a
 * job or "stop" (tag TAG_JOB) and the leader broadcasts it to its group. Rank 0 looks for
 * requests between the steps of its own group's training. A result is a pure function of
 * (configuration, epochs, folds, seed, G): the batch order, the ranks' stripes and the
 * validation split depend on the subset and the group size only. So which group runs what, and
 * how many groups there are, changes nothing; the same G gives bitwise the same numbers, and
 * another G the same to float round-off.
 *
 * Successive halving (--halving). With n configurations, rung 0 trains all of them; after each
 * rung the best ceil(n_r / 3) survive; the last rung is the first with at most 3
 * configurations (n = 40: 40, 14, 5, 2). With R rungs, rung r trains for
 * max(1, floor(E / 3^(R-1-r))) epochs (E = --epochs; the last rung trains E). Every rung
 * trains from scratch, so a result at a budget is the same as a plain sweep at that budget; a
 * rung whose budget equals the previous one reuses its results. Survivors are ranked like the
 * table: converged before diverged, then mean accuracy (higher first), mean loss, list order;
 * for --loss mse, mean loss (lower first), then mean R^2.
 *
 * Progress (OUT/state/, locked by rank 0 like a checkpoint directory). sweep.txt holds the
 * sweep's definition (key=value words: the data, model, loss, seed, grid, folds, budgets, group
 * size, hyperparameters). A group leader records each job as its folds finish
 * (job-c<C>-r<R>.txt: the finished folds' numbers in hexadecimal floats, so they read back bit
 * for bit), and the running fold checkpoints into fold-c<C>-r<R>-f<F>/ every --checkpoint-every
 * steps and when a signal stops the sweep (SIGUSR1, SIGTERM, SIGINT: exit 75). With --resume
 * auto the definition must match (a difference is named and refused), rank 0 takes the
 * completed jobs as results, and a job that was cut short continues from its recorded folds and
 * its fold's newest checkpoint, on whichever group runs it: results depend on the group size,
 * not on the group, so the final outputs are those of an uninterrupted sweep. A fresh sweep
 * refuses an --out that holds a sweep's progress.
 *
 * A configuration diverges when --max-bad-steps (5, train's default) consecutive steps of a
 * fold are not finite (single ones are skipped, as in train) or its validation loss is not
 * finite; the remaining folds are skipped and it ranks last. */
#ifndef NNDIST_CMD_SWEEP_H
#define NNDIST_CMD_SWEEP_H

#include <stddef.h>
#include <stdint.h>

#include "nndist/ckpt_dir.h"
#include "nndist/commands.h"
#include "nndist/data.h"
#include "nndist/folds.h"
#include "nndist/train_config.h"

#include "cmd/train_flags.h"

/* Items per list (--optimizers, --lrs, --batch) and rungs of successive halving. */
enum { SWEEP_MAX_ITEMS = 64, SWEEP_MAX_RUNGS = 16 };

/* One configuration of the grid. */
typedef struct {
    size_t opt, lr, batch;   /* indices into the lists */
    size_t layers, drop, wd; /* and into the model's axes (0 when not listed) */
    nnd_optim_config optim;  /* defaults, the given hyperparameters, the lr, the decay */
    uint64_t batch_size;
    double dropout[NND_MAX_LAYERS]; /* per hidden layer of its --layers */
} sweep_config;

/* One configuration trained for one budget: per-fold numbers (NAN after a divergence). The
 * score is the accuracy, or for --loss mse the R^2 (sweep_metric_name). */
typedef struct {
    int32_t have;     /* filled */
    int32_t diverged; /* 0, or the 1-based fold that diverged */
    uint64_t epochs;
    double seconds; /* the group's wall time for all folds */
    int32_t group;  /* which group ran it (for the progress line only) */
    double score[NND_FOLDS_MAX], loss[NND_FOLDS_MAX], train_loss[NND_FOLDS_MAX],
        train_score[NND_FOLDS_MAX];
} sweep_result;

/* A leader's request: the result of its last job (config < 0: none yet) and its status. */
typedef struct {
    int32_t config, rung, status;
    sweep_result r;
    char msg[NND_ERR_MSG_MAX];
} sweep_request;

/* The whole sweep, on every rank (rank 0 alone uses the schedule's buffers). */
typedef struct {
    /* options */
    nnd_train_config base;
    nnd_train_flags f;
    const char *optimizers, *lrs, *batches, *out;
    const char *layers_list, *dropout_list, *wd_list; /* the model's axes, as given (or NULL) */
    uint64_t folds, epochs, group_size, subset;
    int halving;
    uint64_t ckpt_every; /* a running fold checkpoints every N steps (0: only on a signal) */
    const char *resume;  /* "auto", or NULL */
    double lock_wait;    /* as train's --lock-wait */
    /* the grid: optimizers x lrs x batches, optimizer-major */
    char opt_text[SWEEP_MAX_ITEMS][16], lr_text[SWEEP_MAX_ITEMS][32];
    double lr[SWEEP_MAX_ITEMS];
    uint64_t batch[SWEEP_MAX_ITEMS];
    size_t n_opt, n_lr, n_batch, n_cfg;
    /* the model's axes, inside the batch sizes: --layers A/B, --dropout P,Q, --weight-decay X,Y;
     * one item each when not listed (the base's layers, no dropout, the optimizers' decay) */
    nnd_cli_sizes layers[SWEEP_MAX_ITEMS];
    char layers_text[SWEEP_MAX_ITEMS][64], drop_text[SWEEP_MAX_ITEMS][64],
        wd_text[SWEEP_MAX_ITEMS][64];
    double wd[SWEEP_MAX_ITEMS];
    size_t n_layers, n_drop, n_wd;
    sweep_config *cfg;
    /* rungs */
    int n_rungs;
    uint64_t rung_epochs[SWEEP_MAX_RUNGS];
    size_t rung_size[SWEEP_MAX_RUNGS];
    /* data and folds */
    nnd_data_shape shape; /* of --data, for the definition */
    nnd_dataset all;
    size_t n, n_classes;
    uint32_t *fold;
    uint32_t *rows[NND_FOLDS_MAX][2]; /* [f][0] training, [f][1] validation positions */
    size_t n_rows[NND_FOLDS_MAX][2];
    /* results[c * n_rungs + r]; last[c] the highest rung configuration c reached */
    sweep_result *results;
    int *last;
    /* ranks */
    const nnd_comm *world;
    nnd_ckpt_dir state_lock; /* rank 0: OUT/state, locked for the sweep's lifetime */
    nnd_comm group;
    int n_groups, group_id;
    double t0;
    /* the schedule's buffers */
    sweep_request out_msg, in_msg; /* a leader's request; rank 0's receive buffer */
    size_t *jobs;                  /* rank 0: the configurations of the current rung */
    int *waiting;                  /* rank 0: leaders waiting for the next rung */
} sweep;

/* "acc", or "r2" for --loss mse: the score's name in the table and the files. */
const char *sweep_metric_name(const sweep *s);
/* Ranked by the validation loss (mse) rather than the score. */
int sweep_by_loss(const sweep *s);

/* The mean and sample standard deviation over the folds of one result. */
typedef struct {
    double score, score_sd, loss, loss_sd, train_loss;
    int ok; /* converged on every fold */
} sweep_summary;

/* Called between the steps of a job (rank 0 answers other groups' requests there). */
typedef void (*sweep_poll_fn)(void *ctx);

/* ---- sweep_options.c ---- */

/* Parses and checks argv, builds the grid and plans the rungs; `--help` prints on rank 0 and
 * sets *help. A pure function of argv and the world size: the same verdict on every rank. */
nnd_status sweep_parse(sweep *s, int argc, char **argv, const nnd_comm *c, int *help);
/* "adam lr 1e-3 batch 64": configuration c as the table and the progress lines name it (with
 * its layers, dropout and weight decay where those are listed). */
void sweep_config_name(const sweep *s, size_t c, char *buf, size_t size);
/* " layers 784,512,10 dropout 0.2 wd 1e-4": the listed model axes of configuration c ("" when
 * none is listed). */
void sweep_config_axes(const sweep *s, size_t c, char *buf, size_t size);
/* The base settings with configuration c's: layers, dropout, optimizer, lr, decay, batch. */
void sweep_config_train(const sweep *s, size_t c, nnd_train_config *cfg);
/* Configurations that share an (optimizer, lr) pair: the batch sizes times the model axes. */
size_t sweep_inner_count(const sweep *s);

/* ---- sweep_command.c ---- */

/* The shortest %g form of v that reads back as v (10, not 1e+01). */
void sweep_format_exact(char *buf, size_t size, double v);
/* `mpirun -np NP nndist train ...` for configuration c with `epochs` on data (and val, or NULL);
 * names: also pass non-default --x-name and --y-name. */
void sweep_train_command(const sweep *s, size_t c, uint64_t epochs, int np, const char *data,
                         const char *val, int names, char *cmd, size_t size);

/* ---- sweep_job.c ---- */

/* Collective over the group: trains and evaluates every fold of configuration c at rung's
 * budget into *r (a divergence is a result); poll, when not NULL, runs between steps. */
nnd_status sweep_run_job(sweep *s, size_t c, int rung, sweep_result *r, sweep_poll_fn poll,
                         void *ctx);

/* ---- sweep_schedule.c ---- */

/* Collective over the world: every group takes jobs until told to stop. Returns the world's
 * verdict on fatal failures. */
nnd_status sweep_run(sweep *s);

/* ---- sweep_report.c ---- */

/* The statistics over the folds of r (ok = 0 when it diverged or was not run). */
sweep_summary sweep_summarize(const sweep *s, const sweep_result *r);
/* < 0 when configuration a at rung ra ranks before b at rung rb. */
int sweep_rank_cmp(const sweep *s, size_t a, int ra, size_t b, int rb);
/* Sorts configuration indices best first at `rung`, or each at its last rung when rung < 0. */
void sweep_rank_sort(const sweep *s, size_t *idx, size_t n, int rung);
/* Rank 0: prints the table and the best configuration, writes the CSVs, heatmap, fold files. */
nnd_status sweep_report(const sweep *s);

/* ---- sweep_state.c ---- */

/* OUT/state/name (OUT/state when name is NULL). */
void sweep_state_path(const sweep *s, char *buf, size_t size, const char *name);
/* Rank 0, with OUT/state open and the data probed: a fresh sweep writes its definition (and
 * refuses an OUT holding another's progress); --resume auto checks it against the stored one
 * (NND_ERR_USAGE naming the first difference) and loads the completed jobs' results. */
nnd_status sweep_state_begin(sweep *s);
/* A group leader: records configuration c at rung after folds_done folds (r->have: complete). */
nnd_status sweep_job_write(const sweep *s, size_t c, int rung, const sweep_result *r,
                           unsigned folds_done);
/* The record of configuration c at rung: 1 read into *r and *folds_done, 0 none, -1 damaged
 * (said on stderr; the job is trained again). */
int sweep_job_read(const sweep *s, size_t c, int rung, sweep_result *r, unsigned *folds_done);
/* The checkpoint directory of fold `fold` of configuration c at rung, and its removal. */
void sweep_fold_dir(const sweep *s, size_t c, int rung, unsigned fold, char *buf, size_t size);
void sweep_fold_dir_remove(const sweep *s, size_t c, int rung, unsigned fold);

/* ---- sweep.c ---- */

/* The result of configuration c at rung (borrowed). */
sweep_result *sweep_result_at(const sweep *s, size_t c, int rung);

#endif
