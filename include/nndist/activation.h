/* The hidden layers' activation functions, by name, with torch.nn's definitions:
 *   relu        max(x, 0)                                        torch.nn.ReLU
 *   tanh        tanh(x)                                          torch.nn.Tanh
 *   sigmoid     1 / (1 + exp(-x))                                torch.nn.Sigmoid
 *   gelu        0.5 x (1 + erf(x / sqrt 2))                      torch.nn.GELU()
 *   gelu-tanh   0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))  GELU(approximate='tanh')
 *   leaky-relu  x > 0 ? x : slope x   (slope >= 0, default 0.01) LeakyReLU(negative_slope)
 *   silu        x / (1 + exp(-x)) = x sigmoid(x)                 torch.nn.SiLU
 *   elu         x > 0 ? x : alpha (exp(x) - 1)  (alpha > 0, 1)   torch.nn.ELU(alpha)
 * Backward takes the derivative from the output A where A determines it (tanh, sigmoid,
 * leaky-relu, elu; relu's rides in the GEMM's epilogue), and from the pre-activation Z where it
 * does not (gelu, gelu-tanh, silu are not one-to-one), which the model then keeps. */
#ifndef NNDIST_ACTIVATION_H
#define NNDIST_ACTIVATION_H

#include <stddef.h>

typedef enum {
    NND_ACT_RELU,
    NND_ACT_TANH,
    NND_ACT_SIGMOID,
    NND_ACT_GELU,
    NND_ACT_GELU_TANH,
    NND_ACT_LEAKY_RELU,
    NND_ACT_SILU,
    NND_ACT_ELU,
    NND_ACT_COUNT
} nnd_activation;

const char *nnd_activation_name(nnd_activation a);
/* Returns 0 and sets *out when name is one of the names above; -1 otherwise. */
int nnd_activation_parse(const char *name, nnd_activation *out);
/* "relu, tanh, sigmoid, gelu, gelu-tanh, leaky-relu, silu, elu": for messages and help. */
const char *nnd_activation_names(void);

/* 1 when backward needs the pre-activation Z (gelu, gelu-tanh, silu). */
int nnd_activation_keeps_z(nnd_activation a);

/* The activation's parameter: leaky-relu's negative slope, elu's alpha; none for the others.
 * nnd_activation_param_flag names its option ("leaky-slope", "elu-alpha") or is NULL. */
const char *nnd_activation_param_flag(nnd_activation a);
/* The default (0.01, 1.0; 0 for an activation without a parameter). */
double nnd_activation_default_param(nnd_activation a);
/* "leaky-relu --leaky-slope 0.2", "gelu": the activation as its options, the parameter in the
 * shortest text that reads back as it (for messages). */
void nnd_activation_text(char *buf, size_t size, nnd_activation a, double p);
/* NULL when p is a usable parameter of a, else why not (a phrase for a message). A negative
 * slope is refused: the output's sign then no longer tells the two sides apart, and backward
 * takes the derivative from it. */
const char *nnd_activation_param_problem(nnd_activation a, double p);

#endif
