/* What keeps a run from hanging silently: signal flags, a watchdog, and fault injection for the
 * tests that prove the rest.
 *
 * Signals. SIGUSR1, SIGTERM and SIGINT only set a flag (async-signal-safe); the trainer carries
 * it in the step's allreduce, so every rank sees it at the same step boundary, writes one
 * checkpoint and exits with 75. SIGXFSZ (a file-size limit) is ignored so that an oversized
 * write fails with EFBIG and is reported as an I/O error instead of killing the rank.
 *
 * Watchdog. A thread checks how long the current phase (named by nnd_guard_phase) has been
 * running; past the limit it prints which rank is stuck in which phase and aborts the job with
 * MPI_Abort (before MPI_Init has returned, it ends its own process, which ends the job too). The
 * limit is --watchdog, or by default max(60 s, 20 x the median step time) for step phases and at
 * least the phase's own floor for slow phases (loading, checkpoints); until the first step has
 * been timed, every phase gets the slow phases' floor. main watches start-up (MPI_Init and the
 * first collectives); train, lr-find and sweep watch their whole run, phase by phase. At an
 * agreement (nnd_comm_agree) the waiting is watched by the agreement itself, which knows which
 * ranks have not arrived (nnd_guard_wait_begin). */
#ifndef NNDIST_GUARD_H
#define NNDIST_GUARD_H

#include <stdint.h>

#include "nndist/error.h"

void nnd_guard_install_signals(void);
/* A crash (SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT) prints one line naming the signal and the
 * rank (rank: the launcher's, or -1 when unknown) with write(2), then dies of the signal, so
 * that mpirun ends the job within seconds. Installed before MPI_Init, which then keeps them:
 * Open MPI's own handlers print a backtrace with calls that take malloc's lock, and a crash
 * inside malloc (heap corruption, a double free) then hangs the rank and the job forever. */
void nnd_guard_install_crash_handlers(int rank);
/* The last signal received (SIGUSR1, SIGTERM, SIGINT), or 0. */
int nnd_guard_signal_pending(void);
const char *nnd_guard_signal_name(int sig);

/* Starts the watchdog thread, or re-arms a running one with a new limit and no phase. limit_s > 0
 * is a fixed limit for every phase; 0 = automatic. rank -1: not known yet (before MPI_Init). */
nnd_status nnd_guard_watchdog_start(int rank, double limit_s);
void nnd_guard_watchdog_stop(void);
/* MPI_Init has returned: from now on the watchdog ends the job with MPI_Abort. */
void nnd_guard_mpi_ready(void);
/* The rank the launcher gives this process (Open MPI, PMIx, PMI, SLURM), readable before
 * MPI_Init; -1 when none says. */
int nnd_guard_launcher_rank(void);
/* --watchdog's value read straight from argv (for start-up, before the options are parsed);
 * 0 when absent or not a positive number (the parser reports that later). */
double nnd_guard_watchdog_arg(int argc, char **argv);
/* The automatic limit's floor, in seconds, for the phases that are not steps: loading data,
 * writing a checkpoint, evaluating --val. They run before the first step or once in many, so
 * the step-time limit says nothing about them, and their time grows with the data and the
 * filesystem's load rather than with the step. 600 s is time to move 3 GB at 5 MB/s (a busy
 * shared filesystem), and still ends a hung job ten minutes in rather than at the end of its
 * allocation. */
#define NND_GUARD_SLOW_FLOOR_S 600.0

/* Enters a phase (a static string such as "allreduce"). floor_s is the automatic limit's lower
 * bound for this phase (NND_GUARD_SLOW_FLOOR_S for the slow ones, 0 for a step's); ignored with
 * a fixed limit. */
void nnd_guard_phase(const char *phase, double floor_s);
/* A phase that waits up to wait_s by design (a lock still held by a job being torn down): its
 * limit is the usual one plus wait_s, fixed or automatic. */
void nnd_guard_phase_wait(const char *phase, double wait_s);
/* Leaves the watched phases (waiting for nothing that can hang). */
void nnd_guard_idle(void);

/* An agreement's wait for the other ranks: the watchdog thread stops watching the current phase
 * (the agreement watches itself and can name who is missing) and the returned limit says how
 * long to wait: --watchdog (plus the phase's allowance) when fixed, else at least the slow
 * phases' floor (the other ranks may still be in the slow part of the same phase). 0: no
 * watchdog runs; wait as long as it takes. *saved keeps the phase for nnd_guard_wait_end, which
 * enters it again. */
typedef struct {
    const char *phase, *last;
    double floor, allowance;
} nnd_guard_saved;
double nnd_guard_wait_begin(nnd_guard_saved *saved);
void nnd_guard_wait_end(const nnd_guard_saved *saved);
/* The phase an agreement ends: the current one, or the last one entered. */
const char *nnd_guard_saved_phase(const nnd_guard_saved *saved);
/* Ends the job from the calling thread with "nndist: error: watchdog: " and the message. */
void nnd_guard_abort(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
/* Feeds one step's duration into the automatic limit. */
void nnd_guard_step_time(double seconds);
/* The limit in force now (for messages and tests). */
double nnd_guard_limit(void);

/* Fault injection for the reliability tests, from the environment variable NNDIST_FAULT, a
 * comma-separated list of KIND@RANK:STEP items (RANK * for every rank):
 *   nan@1:5      rank 1 produces a NaN gradient at step 5 (1-based)
 *   hang@0:3     rank 0 stops responding (sleeps) at step 3, before the allreduce
 *   pause@*:50   every rank sleeps 3 s at step 50 (or until a signal): a window for tests
 *   slowckpt@0:0 rank 0 sleeps 5 s after writing a checkpoint's .tmp, before the rename
 *   slowinit@*:0 every process sleeps 3 s (or until a signal) before MPI_Init
 *   hanginit@1:0 rank 1 (the launcher's rank) stops before MPI_Init, before its watchdog starts
 *   hangresume@0:0, hangsave@0:0  rank 0 stops while loading the checkpoint to resume from,
 *                while writing --save
 *   hangwrite@0:0 rank 0's background checkpoint writes never end (ckpt_writer.h)
 *   stopagree@1:0 rank 1 stops itself (SIGSTOP) on its way into an agreement (nnd_comm_agree)
 *   order1@*:0   a fresh run uses batch order 1 (order.h), as runs did before orders had
 *                versions, so that resuming such a run can be tested
 *   doublefree@1:3  rank 1 frees a block twice at step 3: glibc aborts inside free() with the
 *                arena locked (the crash handlers' test)
 *   floatsum@*:0 --deterministic adds each rank's units in float before the exact sum, as a
 *                plain data-parallel sum would: the mutation the mode's test must catch
 * Returns 1 when the fault applies to (rank, step). Unset in normal use. */
int nnd_guard_fault(const char *kind, int rank, uint64_t step);

#endif
