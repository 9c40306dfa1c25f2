/* Writing a dataset file in the layout of docs/file-formats.md ("Datasets") a block of rows at a
 * time, so that converters stream inputs of any size in bounded memory:
 *   /X  float32 (N, D)
 *   /y  int32 (N) class labels, float32 (N, K) regression targets, or absent (unlabelled data)
 *   root attributes: format = "nndist-dataset", source (the input as given)
 * The file is written to OUT.<pid>.tmp and renamed over OUT only by nnd_dataset_writer_commit
 * (atomic_file.h): a failure or an abort leaves OUT as it was. */
#ifndef NNDIST_DATASET_WRITER_H
#define NNDIST_DATASET_WRITER_H

#include <hdf5.h>
#include <stddef.h>
#include <stdint.h>

#include "nndist/atomic_file.h"
#include "nndist/error.h"
#include "nndist/h5util.h"

/* What /y holds. */
typedef enum { NND_Y_NONE, NND_Y_LABELS, NND_Y_TARGETS } nnd_y_kind;

typedef struct {
    nnd_atomic out;
    nnd_h5_quiet quiet;
    hid_t file, x, y;
    size_t n, d, k; /* rows, features, target columns (NND_Y_TARGETS) */
    nnd_y_kind y_kind;
    int open;
} nnd_dataset_writer;

/* Creates the temporary for n rows of d features and /y of kind y_kind (k columns of targets);
 * source is recorded as an attribute. */
nnd_status nnd_dataset_writer_open(nnd_dataset_writer *w, const char *path, const char *source,
                                   size_t n, size_t d, nnd_y_kind y_kind, size_t k);
/* Rows [i0, i0 + rows): x (rows, d); labels (rows) or targets (rows, k) as the kind says. */
nnd_status nnd_dataset_writer_rows(nnd_dataset_writer *w, size_t i0, size_t rows, const float *x,
                                   const int32_t *labels, const float *targets);
/* Closes the file and renames it over the path. */
nnd_status nnd_dataset_writer_commit(nnd_dataset_writer *w);
/* Closes and removes the temporary unless committed; safe twice and after a failed open. */
void nnd_dataset_writer_abort(nnd_dataset_writer *w);

#endif
