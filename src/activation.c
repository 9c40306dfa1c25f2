#include "nndist/activation.h"

#include <string.h>

static const char *const g_act_names[NND_ACT_COUNT] = {"relu", "tanh", "sigmoid"};

const char *nnd_activation_name(nnd_activation a)
{
    return (unsigned)a < NND_ACT_COUNT ? g_act_names[a] : "?";
}

int nnd_activation_parse(const char *name, nnd_activation *out)
{
    for (int i = 0; i < NND_ACT_COUNT; i++)
        if (strcmp(name, g_act_names[i]) == 0) {
            *out = (nnd_activation)i;
            return 0;
        }
    return -1;
}
