#include "nndist/ckpt_writer.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "nndist/guard.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* One write, on whichever thread; its outcome and message go into w. */
static void write_now(nnd_ckpt_writer *w)
{
    double t0 = now();
    w->st = nnd_ckpt_image_write(&w->img, w->path);
    w->write_s += now() - t0;
    if (w->st)
        snprintf(w->msg, sizeof w->msg, "%s", nnd_err_msg());
    else
        w->written++;
}

static void *writer_main(void *arg)
{
    /* tests: a write that never ends (the next checkpoint's wait is watched) */
    while (nnd_guard_fault("hangwrite", 0, 0)) sleep(1000);
    write_now(arg);
    return NULL;
}

nnd_status nnd_ckpt_writer_start(nnd_ckpt_writer *w, const char *path)
{
    nnd_status st = nnd_ckpt_writer_wait(w);
    if (st) return st;
    snprintf(w->path, sizeof w->path, "%s", path);
    w->st = NND_OK;
    w->msg[0] = '\0';
    /* The thread starts with every signal blocked: SIGUSR1 and SIGTERM must reach the training
     * thread, whose handler sets the flag the step reads. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    int rc = pthread_create(&w->thread, NULL, writer_main, w);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc == 0) {
        w->busy = 1;
        return NND_OK;
    }
    write_now(w); /* no thread: write it here */
    return nnd_ckpt_writer_wait(w);
}

nnd_status nnd_ckpt_writer_wait(nnd_ckpt_writer *w)
{
    if (w->busy) {
        pthread_join(w->thread, NULL);
        w->busy = 0;
    }
    nnd_status st = w->st;
    if (st) nnd_err_replace(w->msg);
    w->st = NND_OK; /* reported once */
    return st;
}

int nnd_ckpt_writer_busy(const nnd_ckpt_writer *w)
{
    return w->busy;
}

void nnd_ckpt_writer_free(nnd_ckpt_writer *w)
{
    if (w->busy) {
        pthread_join(w->thread, NULL);
        w->busy = 0;
    }
    nnd_ckpt_image_free(&w->img);
}
