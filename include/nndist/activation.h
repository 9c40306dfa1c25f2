/* The hidden layers' activation functions, by name. */
#ifndef NNDIST_ACTIVATION_H
#define NNDIST_ACTIVATION_H

typedef enum { NND_ACT_RELU, NND_ACT_TANH, NND_ACT_SIGMOID, NND_ACT_COUNT } nnd_activation;

const char *nnd_activation_name(nnd_activation a);
/* Returns 0 and sets *out when name is "relu", "tanh" or "sigmoid"; -1 otherwise. */
int nnd_activation_parse(const char *name, nnd_activation *out);

#endif
