/* Dropout (train --dropout): inverted dropout on the outputs of the hidden layers while
 * training, off in eval, predict and the exported model (docs/design.md, "Dropout").
 *
 * The masks are a pure function of (seed, step, sample, layer, unit), never of the rank or
 * thread that draws them, so 1 and 64 ranks drop the same units of the same samples, and a
 * resumed run continues the same masks. At training step t (0-based: the steps taken before
 * it), for hidden layer l, the training sample s (its row in the training set) and unit j:
 *
 *   K = nnd_rng_u64(seed, NND_RNG_DROPOUT, t, l)      the layer's key of the step
 *   r = nnd_mix64(K ^ s)                               the sample's key
 *   u = nnd_mix64(r + j * NND_GOLDEN64) >> 32          32 random bits (splitmix64 from r)
 *   kept  iff  u < T,  T = round((1 - p) 2^32)
 *   D = kept ? A * S : 0,  S = (float)(1 / (1 - p))
 *
 * so a unit is kept with probability T / 2^32, within 2^-33 of 1 - p, and the expected D is A,
 * as torch.nn.Dropout's (which scales by 1 / (1 - p) the same way; its masks come from its own
 * generator). The gradient passes the kept units times S and stops at the dropped ones.
 * --input-dropout drops input features the same way, with l = NND_DROPOUT_INPUT_LAYER. */
#ifndef NNDIST_DROPOUT_H
#define NNDIST_DROPOUT_H

#include <stddef.h>
#include <stdint.h>

#include "nndist/error.h"

/* The layer index of the input's masks (the hidden layers are 0 .. NND_MAX_LAYERS - 2). */
#define NND_DROPOUT_INPUT_LAYER 1000

/* What the training step's forward pass draws its masks from: the run's seed, the step, and the
 * training-set row of each of the batch's samples (borrowed). */
typedef struct {
    uint64_t seed, step;
    const uint64_t *sample;
} nnd_dropout_draw;

/* T and S above for 0 < p < 1. */
uint64_t nnd_dropout_threshold(double p);
float nnd_dropout_scale(double p);
/* K and r above. */
uint64_t nnd_dropout_layer_key(uint64_t seed, uint64_t step, int layer);
uint64_t nnd_dropout_sample_key(uint64_t layer_key, uint64_t sample);
/* 1 when unit j of the sample with key r is kept: the definition, one unit at a time (the
 * kernels compute the same bits a row at a time). */
int nnd_dropout_kept(uint64_t sample_key, size_t j, uint64_t threshold);

/* Parses --dropout's value for a model of n_hidden hidden layers into p (n_hidden values):
 * one probability for every hidden layer, or one per hidden layer separated by ':'
 * ("0.2:0.5"), each in [0, 1). */
nnd_status nnd_dropout_parse(const char *text, int n_hidden, double *p);
/* 1 when a layer drops anything. */
int nnd_dropout_any(const double *p, int n_hidden);
/* The probabilities in --dropout's form, each the shortest text that reads back to the same
 * double, one value when they are all equal ("0.5", "0.2:0.5"); "0" for none. */
void nnd_dropout_format(char *buf, size_t size, const double *p, int n_hidden);

#endif
