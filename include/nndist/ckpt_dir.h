/* A run's checkpoint directory: the files' names, listing and retention, the temporaries an
 * interrupted write left, and the lock that keeps one job per directory.
 *
 * The lock is flock(2) on DIR/nndist.lock, taken by rank 0 when the run starts and held until
 * it ends. The kernel releases it when the process dies, so a killed job never leaves a stale
 * lock; the file itself stays (removing it would let two jobs lock two different files). While
 * held it says who holds it: "host NAME pid N slurm_job ID". A second job on the directory is
 * refused, naming the holder, except a requeued SLURM job (the same SLURM_JOB_ID) whose old
 * instance is still being torn down: it waits for the lock up to a bounded time. On a file
 * system without flock (some network file systems) the run says so in one line and goes on
 * unprotected. */
#ifndef NNDIST_CKPT_DIR_H
#define NNDIST_CKPT_DIR_H

#include <stddef.h>
#include <stdint.h>

#include "nndist/error.h"

#define NND_CKPT_LOCK_NAME "nndist.lock"

typedef struct {
    int fd; /* the locked file, -1 when not held */
} nnd_ckpt_dir;

/* Creates dir when missing, takes its lock (waiting up to lock_wait_s seconds when the holder is
 * an earlier instance of this SLURM job), then removes the temporaries of interrupted checkpoint
 * writes (ckpt-<step>.h5[.<pid>].tmp; nothing else) and checks that dir is writable. On failure
 * nothing is held. */
nnd_status nnd_ckpt_dir_open(nnd_ckpt_dir *d, const char *dir, double lock_wait_s);
/* Releases the lock (safe on a directory never opened, or already closed). */
void nnd_ckpt_dir_close(nnd_ckpt_dir *d);

/* Checkpoint files are ckpt-<step, 12 digits>.h5. */
void nnd_ckpt_path(char *buf, size_t size, const char *dir, uint64_t step);
/* Lists the checkpoint steps in dir, newest first; returns the count (at most max). */
int nnd_ckpt_list(const char *dir, uint64_t *steps, int max);
/* Deletes all but the newest `keep` (>= 1) checkpoints of the run run_id: files whose run_id
 * attribute (ckpt.h) is another run's, or cannot be read, are left alone. */
void nnd_ckpt_retain(const char *dir, uint64_t keep, const char *run_id);

#endif
