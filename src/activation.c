#include "nndist/activation.h"

#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const g_act_names[NND_ACT_COUNT] = {
    [NND_ACT_RELU] = "relu",           [NND_ACT_TANH] = "tanh",
    [NND_ACT_SIGMOID] = "sigmoid",     [NND_ACT_GELU] = "gelu",
    [NND_ACT_GELU_TANH] = "gelu-tanh", [NND_ACT_LEAKY_RELU] = "leaky-relu",
    [NND_ACT_SILU] = "silu",           [NND_ACT_ELU] = "elu",
};

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

const char *nnd_activation_names(void)
{
    return "relu, tanh, sigmoid, gelu, gelu-tanh, leaky-relu, silu, elu";
}

int nnd_activation_keeps_z(nnd_activation a)
{
    return a == NND_ACT_GELU || a == NND_ACT_GELU_TANH || a == NND_ACT_SILU;
}

const char *nnd_activation_param_flag(nnd_activation a)
{
    return a == NND_ACT_LEAKY_RELU ? "leaky-slope" : a == NND_ACT_ELU ? "elu-alpha" : NULL;
}

double nnd_activation_default_param(nnd_activation a)
{
    return a == NND_ACT_LEAKY_RELU ? 0.01 : a == NND_ACT_ELU ? 1.0 : 0.0;
}

void nnd_activation_text(char *buf, size_t size, nnd_activation a, double p)
{
    const char *flag = nnd_activation_param_flag(a);
    int n = snprintf(buf, size, "%s", nnd_activation_name(a));
    if (!flag || n < 0 || (size_t)n >= size) return;
    for (int digits = 1; digits <= 17; digits++) { /* 0.2, not 0.20000000000000001 */
        snprintf(buf + n, size - (size_t)n, " --%s %.*g", flag, digits, p);
        if (strtod(strrchr(buf, ' ') + 1, NULL) == p) break;
    }
}

const char *nnd_activation_param_problem(nnd_activation a, double p)
{
    if (!nnd_activation_param_flag(a)) return NULL;
    if (!isfinite(p)) return "it must be a finite number";
    if (a == NND_ACT_LEAKY_RELU && !(p >= 0.0))
        return "a negative slope is not supported: backward tells the two sides apart by the "
               "sign of the output, which a negative slope makes positive for negative inputs";
    /* the kernels compute in float32 with (float)p: an alpha that rounds to 0 is no alpha */
    if (a == NND_ACT_ELU && !((float)p > 0.0f))
        return "alpha must be > 0: backward tells the two sides apart by the sign of the "
               "output, which alpha <= 0 makes positive or 0 for negative inputs";
    if ((float)p > 3.0e38f) return "it is too large for float32";
    return NULL;
}
