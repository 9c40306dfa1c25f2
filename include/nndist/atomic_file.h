/* Replacing a file so that a reader, or a crash, finds the old file or the new one, never a part.
 *
 * The writer writes to a temporary file beside the final one (the same directory, so that the
 * rename is atomic), named <path>.<pid>.tmp: one per process, so two processes writing the same
 * path never write into one temporary. nnd_atomic_commit then makes it durable and visible:
 * fsync the temporary (reopened by name, so it works whatever wrote it: write(), stdio, or HDF5,
 * whose H5Fclose does not fsync), rename it over path, fsync the directory (without that, the
 * rename itself can be lost in a power failure). Until the rename the file at path is untouched;
 * a failure before it removes the temporary.
 *
 *   nnd_atomic a;
 *   nnd_status st = nnd_atomic_begin(&a, path);
 *   if (st) return st;
 *   ... create a.tmp, write it, close it (st = the first failure) ...
 *   if (st == NND_OK) st = nnd_atomic_commit(&a);
 *   nnd_atomic_abort(&a); // removes the temporary unless committed
 *
 * A process killed between begin and commit leaves <path>.<pid>.tmp behind (nnd_ckpt_dir_prepare
 * removes those of a checkpoint directory). */
#ifndef NNDIST_ATOMIC_FILE_H
#define NNDIST_ATOMIC_FILE_H

#include "nndist/error.h"

typedef struct {
    char path[NND_PATH_MAX]; /* the final name */
    char tmp[NND_PATH_MAX];  /* the name the writer creates: <path>.<pid>.tmp */
    int pending;             /* 1 from begin to commit or abort: tmp may exist and is ours */
} nnd_atomic;

/* Names the temporary for path (creates no file); NND_ERR_USAGE when the name does not fit. */
nnd_status nnd_atomic_begin(nnd_atomic *a, const char *path);
/* fsync a->tmp, rename it over a->path, fsync the directory; the message names the failing
 * step and file. A failure before the rename removes a->tmp and leaves a->path as it was. */
nnd_status nnd_atomic_commit(nnd_atomic *a);
/* Removes the temporary unless committed; safe after a commit, a failed begin, or twice. */
void nnd_atomic_abort(nnd_atomic *a);

/* Checks now, before hours of work, that path can be written later: the name fits, its
 * directory exists and is writable, and path is not a directory. The message starts with
 * `flag path:` (flag names the option, e.g. "--save"). Nothing is created. */
nnd_status nnd_atomic_check_destination(const char *flag, const char *path);

#endif
