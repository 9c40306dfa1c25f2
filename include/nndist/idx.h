/* IDX (MNIST / Fashion-MNIST) to the HDF5 dataset layout of docs/design.md ("Files a user sees").
 *
 * Input: an images file (magic 0x00000803: unsigned bytes, dims N x rows x cols) and a labels
 * file (magic 0x00000801: N unsigned bytes), each plain or gzip-compressed, big-endian header.
 * Bytes after the promised data are ignored; a gzip file is still read to its end so that its
 * CRC is checked.
 *
 * Output (written to OUT.<pid>.tmp, fsync'ed, renamed over OUT, directory fsync'ed: see
 * atomic_file.h; a failure before the rename leaves OUT as it was and removes the temporary):
 *   /X  float32 (N, rows*cols), contiguous, pixel / 255 in [0, 1]
 *   /y  int32   (N), contiguous, the labels
 *   root attributes: format = "nndist-dataset", source_images, source_labels (the input paths
 *   as given), written with nnd_h5_attr_write_str (fixed-length ASCII strings); image_rows,
 *   image_cols (int64, nnd_h5_attr_write_i64).
 *
 * The pixels are converted in blocks, so memory stays a few MB for any file size.
 * Errors: NND_ERR_INPUT for a missing, unreadable or malformed input (bad magic, count mismatch,
 * truncated, sizes that overflow, output path naming an input), NND_ERR_IO when the output cannot
 * be written, NND_ERR_NOMEM; the one message (nnd_err_msg) names the file and what was expected.
 * HDF5's own error printing is silenced during the call and restored afterwards. */
#ifndef NNDIST_IDX_H
#define NNDIST_IDX_H

#include <stddef.h>

#include "nndist/error.h"

/* Pixels per conversion block by default (16 MB of float32 + 4 MB of bytes). */
#define NND_IDX_BLOCK_PIXELS ((size_t)1 << 22)

/* Converts images_path + labels_path into out_path; *n_out (may be NULL) = number of samples. */
nnd_status nnd_idx_convert(const char *images_path, const char *labels_path, const char *out_path,
                           size_t *n_out);

/* The same with a chosen block size in pixels (>= 1); tests use tiny blocks to cover the loop,
 * including the case of an image larger than a block, which is then written in row pieces. */
nnd_status nnd_idx_convert_blocked(const char *images_path, const char *labels_path,
                                   const char *out_path, size_t block_pixels, size_t *n_out);

#endif
