#include "train_internal.h"

#include <inttypes.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "nndist/atomic_file.h"
#include "nndist/ckpt.h"
#include "nndist/ckpt_dir.h"
#include "nndist/ckpt_writer.h"
#include "nndist/eval.h"
#include "nndist/guard.h"
#include "nndist/gemm_bf16.h"
#include "nndist/isa.h"
#include "nndist/metrics.h"
#include "nndist/resume.h"
#include "nndist/run_identity.h"
#include "nndist/stepper.h"

static void run_free(train_run *r)
{
    nnd_ckpt_writer_free(&r->writer);
    nnd_trace_free(&r->trace);
    nnd_trainer_free(&r->t);
    nnd_metrics_close(&r->metrics); /* on an error path: the error reported is the first */
}

/* Is the parent's standard output a terminal? Open MPI gives every rank a pseudo-terminal of its
 * own and copies what the rank writes to mpirun's standard output, so under `mpirun ... > log` the
 * rank's isatty() is true while the bytes land in a file. The parent (mpirun, or the shell for a
 * run without it) shows where they go. Unknown (no /proc, another user's process): say yes, and
 * let isatty alone decide, as before. */
static int parent_output_is_terminal(void)
{
    char link[64], target[256];
    snprintf(link, sizeof link, "/proc/%ld/fd/1", (long)getppid());
    ssize_t n = readlink(link, target, sizeof target - 1);
    if (n < 0) return 1;
    target[n] = '\0';
    return strncmp(target, "/dev/pts/", 9) == 0 || strncmp(target, "/dev/tty", 8) == 0 ||
           strcmp(target, "/dev/console") == 0;
}

/* The progress bar redraws one line with carriage returns: only for a person watching a terminal
 * (a real terminal type, no CI), never into a log file. */
static int progress_wanted(void)
{
    const char *term = getenv("TERM"), *ci = getenv("CI");
    return isatty(STDOUT_FILENO) && term && *term && strcmp(term, "dumb") != 0 &&
           !(ci && *ci && strcmp(ci, "false") != 0) && parent_output_is_terminal();
}

/* A checkpoint in the directory must be of this run's definition, in the checkpoint's batch
 * order (nnd_resume_accept_fn). */
static nnd_status same_definition(void *ctx, const char *path, const nnd_ckpt_meta *meta)
{
    const train_run *r = ctx;
    char ours[NND_CKPT_DEFINITION_SIZE];
    nnd_run_definition(ours, sizeof ours, r->cfg, &r->t.train.shape, r->t.batch, meta->batch_order);
    return nnd_run_definition_check(path, meta->definition, ours);
}

/* A resumed run continues in its checkpoint's batch order, so that it resumes exactly. */
static nnd_status keep_batch_order(train_run *r, const char *path, int order)
{
    nnd_trainer *t = &r->t;
    if (order == t->order.version) return NND_OK;
    if (order != NND_ORDER_FIRST && order != NND_ORDER_CURRENT)
        return nnd_err_set(NND_ERR_INPUT,
                           "%s: made with batch order %d, which this nndist does not know "
                           "(it has orders 1 and 2); resume it with the nndist that wrote it",
                           path, order);
    train_say(r,
              "note: %s was made with batch order %d (at most 64 stripes); the run continues in "
              "that order so that it resumes exactly (a new run uses order %d, whose stripes grow "
              "with the data so that every rank holds samples)\n",
              path, order, NND_ORDER_CURRENT);
    nnd_status st = nnd_trainer_use_order(t, order);
    nnd_run_definition(r->definition, sizeof r->definition, r->cfg, &t->train.shape, t->batch,
                       order);
    return st;
}

static nnd_status resume(train_run *r)
{
    const nnd_train_config *cfg = r->cfg;
    nnd_trainer *t = &r->t;
    nnd_ckpt_meta meta;
    char path[NND_PATH_MAX] = "";
    nnd_status st = NND_OK;
    if (strcmp(cfg->resume, "auto") != 0) {
        snprintf(path, sizeof path, "%s", cfg->resume);
        if ((st = nnd_trainer_load(t, path, 1, &meta))) return st;
    } else {
        int chosen = 0;
        if (r->c->rank == 0)
            while (nnd_guard_fault("hangresume", 0, 0)) pause(); /* tests: a stalled file system */
        st = nnd_resume_newest(t, cfg->ckpt_dir, same_definition, r, path, sizeof path, &meta,
                               &chosen);
        if (st || !chosen) return st; /* no checkpoint: a fresh start */
    }
    /* The batch order is a function of seed and batch: a resumed run must keep both. */
    if (meta.seed != cfg->seed || meta.batch != t->batch)
        return nnd_err_set(NND_ERR_MISMATCH,
                           "%s: made with --seed %" PRIu64 " and a global batch of %" PRIu64
                           "; this run has --seed %" PRIu64 " and %" PRIu64
                           " (use the same, or start from its weights with --init)",
                           path, meta.seed, meta.batch, cfg->seed, t->batch);
    /* The deterministic mode's bits follow from its units: a resumed run keeps them. */
    if (meta.units != cfg->units) {
        char made[64] = "without --deterministic", ours[64] = "no --deterministic";
        if (meta.units)
            snprintf(made, sizeof made, "with --deterministic --units %" PRIu64, meta.units);
        if (cfg->units) snprintf(ours, sizeof ours, "--deterministic --units %zu", cfg->units);
        return nnd_err_set(NND_ERR_MISMATCH,
                           "%s: made %s; this run has %s (use the same, or start from its "
                           "weights with --init)",
                           path, made, ours);
    }
    if ((st = keep_batch_order(r, path, meta.batch_order))) return st;
    snprintf(r->run_id, sizeof r->run_id, "%s", meta.run_id); /* this run continues that one */
    r->resumed = 1;
    train_log_start(r, &meta);
    train_say(r, "resuming from %s at step %" PRIu64 " (epoch %" PRIu64 ", saved by %d rank%s)\n",
              path, meta.step, meta.step / t->spe + 1, meta.world_size,
              meta.world_size == 1 ? "" : "s");
    return NND_OK;
}

/* The files written at the end (or all along) can be written: checked before any work. */
static nnd_status check_outputs(const nnd_train_config *cfg)
{
    nnd_status st = NND_OK;
    if (cfg->save) st = nnd_atomic_check_destination("--save", cfg->save);
    if (!st && cfg->save_best) st = nnd_atomic_check_destination("--save-best", cfg->save_best);
    if (!st && cfg->trace) st = nnd_atomic_check_destination("--trace", cfg->trace);
    if (!st && cfg->metrics) st = nnd_atomic_check_destination("--metrics", cfg->metrics);
    if (!st && cfg->metrics && cfg->log_every) {
        char steps[NND_PATH_MAX];
        nnd_metrics_steps_path(cfg->metrics, steps, sizeof steps);
        st = nnd_atomic_check_destination("--log-every", steps);
    }
    return st;
}

/* Collective: a fresh run gets a new id (rank 0's, shared); a resumed one kept its checkpoint's.
 * Either way the checkpoint directory must hold no other run's checkpoints. */
static nnd_status adopt_run_id(train_run *r)
{
    /* Resumed from a checkpoint written before run ids: its directory's files have none. */
    int legacy = r->resumed && !r->run_id[0];
    if (r->c->rank == 0 && !r->run_id[0]) nnd_run_new_id(r->run_id, sizeof r->run_id);
    MPI_Bcast(r->run_id, (int)sizeof r->run_id, MPI_CHAR, 0, r->c->world);
    nnd_status st = NND_OK;
    if (r->cfg->ckpt_dir && r->c->rank == 0)
        st = nnd_run_check_directory(r->cfg->ckpt_dir, r->run_id, legacy);
    return nnd_comm_agree(r->c, st);
}

static void fill_meta(const train_run *r, nnd_ckpt_meta *meta)
{
    memset(meta, 0, sizeof *meta);
    meta->step = r->t.step;
    meta->epoch = r->t.step / r->t.spe;
    meta->seed = r->cfg->seed;
    meta->batch = r->t.batch;
    meta->world_size = r->c->size;
    meta->batch_order = r->t.order.version;
    meta->units = r->cfg->units;
    snprintf(meta->loss, sizeof meta->loss, "%s", nnd_loss_name(r->cfg->loss));
    meta->class_weights = r->t.ce.weights;
    meta->label_smoothing = r->t.ce.smoothing;
    snprintf(meta->run_id, sizeof meta->run_id, "%s", r->run_id);
    snprintf(meta->definition, sizeof meta->definition, "%s", r->definition);
    const char *job = getenv("SLURM_JOB_ID"), *restarts = getenv("SLURM_RESTART_COUNT");
    if (job) snprintf(meta->slurm_job_id, sizeof meta->slurm_job_id, "%s", job);
    meta->slurm_restart_count = restarts ? atoll(restarts) : 0;
    train_log_fill_meta(r, meta);
}

/* Rank 0 names softmax-ce's options: the class weights (balanced ones as computed) and the
 * label smoothing. */
static void say_loss_options(const train_run *r)
{
    const nnd_trainer *t = &r->t;
    const size_t k = t->model.sizes[t->model.n_layers], shown = k < 16 ? k : 16;
    train_say(r, "loss: softmax-ce");
    if (t->ce.weights) {
        train_say(r, " with class weights%s ",
                  strcmp(r->cfg->class_weights, "balanced") == 0 ? " (balanced)" : "");
        for (size_t j = 0; j < shown; j++) train_say(r, "%s%.6g", j ? "," : "", t->ce.weights[j]);
        if (shown < k) train_say(r, ",... (%zu in all)", k);
    }
    if (t->ce.smoothing != 0.0)
        train_say(r, "%s label smoothing %g", t->ce.weights ? " and" : " with", t->ce.smoothing);
    train_say(r, "; the mean divides by %s\n",
              t->ce.weights ? "the samples' weights summed" : "the sample count");
}

/* Collective: the largest peak resident set of any rank (each rank holds only its shard). */
static void report_memory(const train_run *r)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    long kb = ru.ru_maxrss, max_kb = 0;
    MPI_Reduce(&kb, &max_kb, 1, MPI_LONG, MPI_MAX, 0, r->c->world);
    train_say(r, "peak memory: %.1f MB per rank (the largest over %d rank%s)\n",
              (double)max_kb / 1024.0, r->c->size, r->c->size == 1 ? "" : "s");
}

/* Rank 0 says what the checkpoints cost the steps, and what went on beside them. */
static void report_checkpoints(const train_run *r)
{
    if (r->c->rank != 0) return;
    train_say(r, "checkpoints: %" PRIu64 " written; the steps waited %.2f s for them",
              r->checkpoints, r->ckpt_stall_s);
    if (r->writer.written > 0)
        train_say(r, " (%llu written in the background in %.2f s)", r->writer.written,
                  r->writer.write_s);
    train_say(r, "\n");
}

/* Rank 0 says which SLURM job this is (a requeued job runs again with its restart count). */
static void log_slurm(const train_run *r)
{
    const char *job = getenv("SLURM_JOB_ID");
    if (!job) return;
    /* The ranks that run, not SLURM_NTASKS: that keeps the submission's count when a requeued
     * job is shrunk to fewer nodes. */
    const char *restarts = getenv("SLURM_RESTART_COUNT");
    const char *cpus = getenv("SLURM_CPUS_PER_TASK"), *nodes = getenv("SLURM_JOB_NODELIST");
    train_say(r, "slurm: job %s, restart %s, %d tasks, %s cpus per task, nodes %s\n", job,
              restarts ? restarts : "0", r->c->size, cpus ? cpus : "(unset)", nodes ? nodes : "?");
}

/* Collective: the background write in flight (rank 0's) lands, and the older checkpoints
 * of the run are pruned; every rank learns the outcome. */
static nnd_status finish_background_write(train_run *r)
{
    nnd_status st = NND_OK;
    if (r->c->rank == 0 && nnd_ckpt_writer_busy(&r->writer)) {
        nnd_guard_phase("waiting for the previous checkpoint's write", NND_GUARD_SLOW_FLOOR_S);
        st = nnd_ckpt_writer_wait(&r->writer);
        if (!st) nnd_ckpt_retain(r->cfg->ckpt_dir, r->cfg->keep, r->run_id);
    }
    return nnd_comm_agree(r->c, st);
}

/* Collective: rank 0 writes the model and optimizer to path (a checkpoint when retain is set,
 * pruning older ones); all ranks agree on the outcome. The file is built in memory on the
 * training path; with background set, a thread writes it while the steps go on, and its
 * outcome is agreed at the next checkpoint (finish_background_write). */
nnd_status train_save(train_run *r, const char *path, int retain, int background)
{
    nnd_status st = finish_background_write(r);
    if (st) return st;
    st = nnd_trainer_sync_state(&r->t);
    if (!st && r->c->rank == 0) {
        while (!retain && nnd_guard_fault("hangsave", 0, 0)) pause(); /* tests: a stalled write */
        nnd_ckpt_meta meta;
        fill_meta(r, &meta);
        st = nnd_ckpt_build(&r->writer.img, path, &r->t.model, nnd_trainer_state_io(&r->t), &meta);
    }
    nnd_trainer_release_state(&r->t);
    if (!st && r->c->rank == 0) {
        if (background) {
            st = nnd_ckpt_writer_start(&r->writer, path);
        } else {
            st = nnd_ckpt_image_write(&r->writer.img, path);
            if (!st && retain) nnd_ckpt_retain(r->cfg->ckpt_dir, r->cfg->keep, r->run_id);
        }
    }
    return nnd_comm_agree(r->c, st);
}

/* A checkpoint into --checkpoint-dir; background: written while the steps go on (the periodic
 * ones, unless --sync-checkpoints), otherwise on disk before this returns (the last one, and
 * the one a signal asks for before the job exits). */
static nnd_status checkpoint(train_run *r, int background)
{
    double t0 = MPI_Wtime();
    char path[NND_PATH_MAX];
    nnd_ckpt_path(path, sizeof path, r->cfg->ckpt_dir, r->t.step);
    nnd_guard_phase("writing a checkpoint", NND_GUARD_SLOW_FLOOR_S);
    nnd_status st = train_save(r, path, 1, background && !r->cfg->ckpt_sync);
    nnd_guard_idle();
    double t1 = MPI_Wtime();
    nnd_trace_add(r->t.trace, NND_TRACE_CHECKPOINT, t0, t1);
    r->epoch.io += t1 - t0;
    r->ckpt_stall_s += t1 - t0;
    r->checkpoints++;
    return st;
}

static nnd_status open_metrics(train_run *r)
{
    nnd_status st = NND_OK;
    if (r->cfg->metrics && r->c->rank == 0)
        st = nnd_metrics_open(&r->metrics, r->cfg->metrics, r->cfg->log_every > 0,
                              r->cfg->loss == NND_LOSS_MSE, r->t.step, r->t.spe);
    return nnd_comm_agree(r->c, st);
}

/* The stepper's checkpoint when a signal stops the run (ctx: the run). */
static nnd_status checkpoint_on_signal(void *ctx, char *path, size_t size)
{
    train_run *r = ctx;
    nnd_ckpt_path(path, size, r->cfg->ckpt_dir, r->t.step);
    return checkpoint(r, 0);
}

/* The stepper's record of each step (ctx: the run). */
static void record_step(void *ctx, const nnd_step_stats *s, int skipped)
{
    train_log_step(ctx, s, skipped);
}

static nnd_status train_loop(train_run *r)
{
    nnd_trainer *t = &r->t;
    /* MPI_Wtime counts from MPI_Init in Open MPI: 0 would hide the bar for the first 0.2 s. */
    double last_draw = -1.0;
    nnd_stepper sp = {.max_bad = r->cfg->max_bad_steps,
                      .diverge = r->cfg->diverge,
                      .end_step = r->total_steps,
                      .warn_skips = 1,
                      .what = r->cfg->ckpt_dir ? "the run" : "the run (no --checkpoint-dir)",
                      .checkpoint = r->cfg->ckpt_dir ? checkpoint_on_signal : NULL,
                      .record = record_step,
                      .ctx = r};
    while (t->step < r->total_steps && !train_should_stop(r)) {
        double lr = nnd_schedule_lr(&r->sched, t->step);
        nnd_step_stats s;
        int skipped;
        nnd_status st = nnd_stepper_step(&sp, t, lr, &s, &skipped);
        if (st) return st;
        train_log_after_step(r, lr, &last_draw);
        /* The epoch's row (and its evaluation) before a checkpoint at the same step, which then
         * holds the early-stopping state that evaluation left. */
        if ((t->step % t->spe == 0 || t->step == r->total_steps) &&
            (st = train_end_of_epoch(r, lr)))
            return st;
        if (r->cfg->ckpt_dir && r->cfg->ckpt_every && t->step % r->cfg->ckpt_every == 0 &&
            t->step < r->total_steps && !train_should_stop(r)) {
            if ((st = checkpoint(r, 1))) return st;
        }
    }
    if (train_should_stop(r))
        train_say(r,
                  "early stop: the validation %s has not improved for %" PRIu64
                  " evaluations (--early-stop); the best was at step %" PRIu64 "\n",
                  r->cfg->loss == NND_LOSS_MSE ? "loss" : "accuracy", r->best.since, r->best.step);
    return NND_OK;
}

nnd_status nnd_train_run(const nnd_train_config *cfg, const nnd_comm *c)
{
    train_run r;
    memset(&r, 0, sizeof r);
    r.cfg = cfg;
    r.c = c;
    r.progress = c->rank == 0 && (cfg->progress < 0 ? progress_wanted() : cfg->progress);
    r.dir.fd = -1;
    nnd_trainer *t = &r.t;
    nnd_status st = nnd_comm_agree(c, nnd_guard_watchdog_start(c->rank, cfg->watchdog));
    if (st) return st;
    if (cfg->ckpt_dir) { /* first: a second job on the directory is refused before any work */
        nnd_guard_phase_wait("locking --checkpoint-dir", cfg->lock_wait);
        st = c->rank == 0 ? nnd_ckpt_dir_open(&r.dir, cfg->ckpt_dir, cfg->lock_wait) : NND_OK;
        if ((st = nnd_comm_agree(c, st))) goto out;
    }
    nnd_guard_phase("checking the output paths", NND_GUARD_SLOW_FLOOR_S);
    if ((st = nnd_comm_agree(c, c->rank == 0 ? check_outputs(cfg) : NND_OK))) goto out;
    st = nnd_trainer_init(t, cfg, c);
    if (st) goto out;
    if (!cfg->steps && cfg->epochs > UINT64_MAX / t->spe) {
        st = nnd_err_set(NND_ERR_USAGE,
                         "--epochs %" PRIu64 ": with %" PRIu64 " steps per epoch the run's step "
                         "count overflows; expected at most %" PRIu64 " epochs",
                         cfg->epochs, t->spe, UINT64_MAX / t->spe);
        goto out;
    }
    r.total_steps = cfg->steps ? cfg->steps : cfg->epochs * t->spe;
    /* Periodic checkpoints keep rank 0's copy of a sharded optimizer state between them. */
    t->keep_io = cfg->ckpt_dir && cfg->ckpt_every;
    nnd_schedule_init(&r.sched, &cfg->sched, cfg->optim.lr, t->batch, r.total_steps);
    nnd_run_definition(r.definition, sizeof r.definition, cfg, &t->train.shape, t->batch,
                       t->order.version);
    if (cfg->trace) {
        /* Room for every step's phases (four, sharded) plus checkpoints and evaluations, within
         * reason. */
        uint64_t want = 4 * r.total_steps + 2 * (r.total_steps / t->spe + 1) + 64;
        if ((st = nnd_trace_init(&r.trace, want < (1u << 22) ? want : (1u << 22), c))) goto out;
        r.tracing = 1;
        t->trace = &r.trace;
    }
    log_slurm(&r);
    train_log_start(&r, NULL);
    nnd_guard_phase("resuming from a checkpoint", NND_GUARD_SLOW_FLOOR_S);
    if (cfg->resume && (st = resume(&r))) goto out;
    nnd_guard_phase("checking --checkpoint-dir for other runs", NND_GUARD_SLOW_FLOOR_S);
    if ((st = adopt_run_id(&r))) goto out;
    nnd_guard_phase("opening --metrics", NND_GUARD_SLOW_FLOOR_S);
    if ((st = open_metrics(&r))) goto out;
    nnd_guard_idle();

    int threads = omp_get_max_threads();
    char balance[64] = "";
    if (c->rank == 0 && c->size > 1 && !t->exact)
        nnd_order_balance_text(&t->order, c->size, balance, sizeof balance);
    train_say(&r,
              "nndist: %zu samples (%zu on rank 0), %d rank%s x %d thread%s, global batch %" PRIu64
              "%s%s%s, %" PRIu64 " steps/epoch, %" PRIu64
              " steps total, optimizer %s lr %g%s, GEMM kernel %s\n",
              t->order.n, t->order.hi - t->order.lo, c->size, c->size == 1 ? "" : "s", threads,
              threads == 1 ? "" : "s", t->batch, balance[0] ? " (" : "", balance,
              balance[0] ? ")" : "", t->spe, r.total_steps, cfg->optim.name, r.sched.base_lr,
              !t->sharded ? ""
              : t->shm    ? " (update sharded across the ranks, in node-shared memory)"
                          : " (update sharded across the ranks, by reduce-scatter and allgather)",
              nnd_isa_name(nnd_isa_current()));
    if (t->exact) {
        size_t U = t->order.n_units, least = U / (size_t)c->size;
        train_say(
            &r,
            "deterministic: %zu units of about %" PRIu64 " samples per step, %zu%s per rank: "
            "the same bits on 1 to %zu ranks, any threads and nodes (with --units %zu and the "
            "GEMM kernel avx2-fma or avx512)\n",
            U, t->batch / U, least, U % (size_t)c->size ? " or more" : "", U, U);
    }
    if (cfg->bf16)
        train_say(&r,
                  "precision bf16: the products take bf16 operands with float32 accumulation "
                  "(%s); weights, optimizer state and checkpoints stay float32, so a checkpoint "
                  "resumes in either precision\n",
                  nnd_gemm_bf16_family());
    if (cfg->grad_bf16)
        train_say(&r,
                  t->grad_bf16 ? "gradient sums: each rank's part rounded to bf16 (half the "
                                 "bytes), summed in float32 in rank order (%s)\n"
                               : "gradient sums: none on 1 rank, --grad-precision bf16 changes "
                                 "nothing%s\n",
                  !t->grad_bf16 ? ""
                  : t->shm      ? "node-shared memory"
                                : "all-to-all, then the shards' allgather in float32");
    if (nnd_ce_opts_active(&t->ce)) say_loss_options(&r);
    if (t->step >= r.total_steps)
        train_say(&r, "nothing to do: the checkpoint is at step %" PRIu64 " of %" PRIu64 "\n",
                  t->step, r.total_steps);

    if ((st = train_loop(&r))) goto out;
    if (cfg->ckpt_dir) {
        if ((st = checkpoint(&r, 0))) goto out;
        report_checkpoints(&r);
    }
    if (cfg->save) {
        nnd_guard_phase("writing the model (--save)", NND_GUARD_SLOW_FLOOR_S);
        if ((st = train_save(&r, cfg->save, 0, 0))) goto out;
    }
    /* After the last files: building them in memory is part of the peak. */
    nnd_guard_phase("reporting memory", NND_GUARD_SLOW_FLOOR_S);
    report_memory(&r);
    if (cfg->save) train_say(&r, "saved the model to %s\n", cfg->save);
    if (cfg->save_best && r.best.any)
        train_say(&r, "the best model (step %" PRIu64 ", validation %s %.4f) is in %s\n",
                  r.best.step, cfg->loss == NND_LOSS_MSE ? "loss" : "accuracy", r.best.val,
                  cfg->save_best);
    nnd_guard_phase("closing --metrics", NND_GUARD_SLOW_FLOOR_S);
    st = nnd_comm_agree(c, c->rank == 0 ? nnd_metrics_close(&r.metrics) : NND_OK);
out:
    if (r.tracing) {
        /* Every rank gets here with the same status, so the gather is safe on error paths too. */
        nnd_guard_phase("writing the trace", NND_GUARD_SLOW_FLOOR_S);
        nnd_status wst = nnd_trace_write(&r.trace, c, cfg->trace);
        if (!st) st = wst;
        if (!wst) train_say(&r, "trace: %s (open it in https://ui.perfetto.dev)\n", cfg->trace);
    }
    if (nnd_ckpt_writer_busy(&r.writer)) { /* an error path: let the file land, watched */
        nnd_guard_phase("finishing a checkpoint's write", NND_GUARD_SLOW_FLOOR_S);
        nnd_ckpt_writer_wait(&r.writer);
    }
    /* The last collective is behind us: nothing left to wait for. */
    nnd_guard_watchdog_stop();
    run_free(&r);
    nnd_ckpt_dir_close(&r.dir);
    return st;
}
