/* A checkpoint file built in memory, then written with plain write() (ckpt.h says why): the
 * buffer is the caller's and is kept from one checkpoint to the next, so that a run touches its
 * pages once, not at every checkpoint (fresh pages cost about as much as the write itself here:
 * docs/benchmarks.md, "Checkpoint stalls"). */
#ifndef NNDIST_CKPT_IMAGE_H
#define NNDIST_CKPT_IMAGE_H

#include <hdf5.h>
#include <stddef.h>

#include "nndist/error.h"

typedef struct {
    unsigned char *buf; /* owned; grows, never shrinks */
    size_t cap;         /* bytes allocated */
    size_t size;        /* bytes of the finished image */
    size_t eof;         /* internal: the end HDF5's core driver last asked for */
} nnd_ckpt_image;

/* Creates an HDF5 file in img's buffer (HDF5's core driver, no backing store), reserving
 * `expected` bytes up front; close it with nnd_ckpt_image_finish. Returns a negative id on
 * failure. */
hid_t nnd_ckpt_image_create(nnd_ckpt_image *img, size_t expected);
/* Flushes and closes f; img->size receives the image's length. Returns 0, or -1 on failure. */
int nnd_ckpt_image_finish(nnd_ckpt_image *img, hid_t f);
/* Writes the image to path atomically (atomic_file.h): <path>.<pid>.tmp, fsync, rename over
 * path, fsync the directory. A failure leaves the previous file at path untouched; the message
 * names the failing step (a full disk surfaces as ENOSPC). Calls no HDF5 function, so it may run
 * on another thread while the caller goes on (ckpt_writer.h). */
nnd_status nnd_ckpt_image_write(const nnd_ckpt_image *img, const char *path);
void nnd_ckpt_image_free(nnd_ckpt_image *img);

#endif
