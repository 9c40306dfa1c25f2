/* Writing a checkpoint in the background: the image (ckpt_image.h), already built on the
 * training path, goes to disk on a thread of its own while the steps go on, so that a step
 * waits for the in-memory copy only. One write at a time: starting the next, or waiting,
 * first joins the one in flight. The thread calls neither HDF5 nor MPI, and blocks every
 * signal (the training thread keeps receiving them). */
#ifndef NNDIST_CKPT_WRITER_H
#define NNDIST_CKPT_WRITER_H

#include <pthread.h>

#include "nndist/ckpt_image.h"
#include "nndist/error.h"

typedef struct {
    nnd_ckpt_image img; /* build the next checkpoint here (nnd_ckpt_build), then start */
    char path[NND_PATH_MAX];
    pthread_t thread;
    int busy;      /* a write is in flight */
    nnd_status st; /* its outcome, with its message */
    char msg[NND_ERR_MSG_MAX];
    double write_s;             /* seconds the writes took on the thread, in all */
    unsigned long long written; /* writes that landed */
} nnd_ckpt_writer;

/* Writes w->img to path on the writer's thread (joining the previous write first: call
 * nnd_ckpt_writer_wait before building into w->img). When no thread can be started, writes it
 * here and returns the outcome. */
nnd_status nnd_ckpt_writer_start(nnd_ckpt_writer *w, const char *path);
/* Joins the write in flight, if any, and returns its outcome (the message restored on this
 * thread); NND_OK when nothing was in flight. */
nnd_status nnd_ckpt_writer_wait(nnd_ckpt_writer *w);
/* 1 while a write is in flight. */
int nnd_ckpt_writer_busy(const nnd_ckpt_writer *w);
/* Waits for the write in flight (its outcome is dropped) and frees the image. */
void nnd_ckpt_writer_free(nnd_ckpt_writer *w);

#endif
