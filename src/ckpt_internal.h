/* Shared by ckpt.c (the file's layout, tensors and checksums) and ckpt_meta.c (its root
 * attributes). */
#ifndef NNDIST_CKPT_INTERNAL_H
#define NNDIST_CKPT_INTERNAL_H

#include <hdf5.h>

#include "nndist/ckpt.h"

/* The root attributes of a file being built: the format, the model's layers and activation, and
 * meta's (NULL: a bare model file). 0, or -1 when one cannot be written. */
int nnd_ckpt_write_root_attrs(hid_t f, const nnd_model *m, const nnd_ckpt_meta *meta);
/* meta from the root attributes of an open file, zeroed first; absent ones stay 0 (and
 * batch_order 1, as files written before orders had versions). */
void nnd_ckpt_read_root_attrs(hid_t f, nnd_ckpt_meta *meta);

#endif
