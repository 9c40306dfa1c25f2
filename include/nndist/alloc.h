/* Float buffers aligned for the vector kernels: 64 bytes, a cache line and an AVX-512 register. */
#ifndef NNDIST_ALLOC_H
#define NNDIST_ALLOC_H

#include <stddef.h>

/* A heap buffer of n floats, 64-byte aligned, zeroed; NULL on failure. Free with free(). */
float *nnd_alloc_floats(size_t n);
/* The same, not zeroed: for buffers that are filled at once (a dataset read). */
float *nnd_alloc_floats_uninit(size_t n);

#endif
