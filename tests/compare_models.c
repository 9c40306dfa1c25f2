/* Compares the /model tensors of two files.
 *
 *   nnd_compare_models A B RTOL
 *
 * The relative difference is max|a - b| / max|a| over all parameters (the infinity norm of the
 * difference relative to the weights' scale, so a weight that happens to be near zero does not
 * turn round-off into a large ratio). RTOL 0 demands bitwise equality. Prints the difference;
 * exit 0 when within tolerance, 1 otherwise, 2 when the files cannot be read or their shapes
 * differ. Batch norm's running statistics are compared the same way, on their own scale, and
 * must pass too. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nndist/ckpt.h"

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: %s A B RTOL\n", argv[0]);
        return 2;
    }
    double rtol = atof(argv[3]);
    size_t sa[NND_MAX_LAYERS + 2], sb[NND_MAX_LAYERS + 2];
    int na = 0, nb = 0, fa = 0, fb = 0;
    nnd_activation aa, ab;
    double pa = 0.0, pb = 0.0;
    if (nnd_ckpt_probe(argv[1], sa, &na, &aa, &fa, &pa) ||
        nnd_ckpt_probe(argv[2], sb, &nb, &ab, &fb, &pb)) {
        fprintf(stderr, "compare: %s\n", nnd_err_msg());
        return 2;
    }
    if (na != nb || memcmp(sa, sb, (size_t)(na + 1) * sizeof sa[0]) != 0) {
        fprintf(stderr, "compare: the models have different shapes\n");
        return 2;
    }
    nnd_norm_kind norm_a = NND_NORM_NONE, norm_b = NND_NORM_NONE;
    if (nnd_ckpt_probe_norm(argv[1], &norm_a) || nnd_ckpt_probe_norm(argv[2], &norm_b) ||
        norm_a != norm_b) {
        fprintf(stderr, "compare: the models differ in their normalization\n");
        return 2;
    }
    nnd_model a, b;
    nnd_status st = nnd_model_init_norm(&a, sa, na, fa ? aa : NND_ACT_RELU, norm_a);
    if (!st) st = nnd_model_init_norm(&b, sb, nb, fb ? ab : NND_ACT_RELU, norm_b);
    if (fa) a.act_param = pa; /* each file's own activation, so that each loads */
    if (fb) b.act_param = pb;
    if (!st) st = nnd_ckpt_load(argv[1], &a, NULL, NULL);
    if (!st) st = nnd_ckpt_load(argv[2], &b, NULL, NULL);
    if (st) {
        fprintf(stderr, "compare: %s\n", nnd_err_msg());
        return 2;
    }
    double diff = 0.0, scale = 0.0;
    size_t worst_at = 0, bitwise_diff = 0;
    for (size_t i = 0; i < a.n_params; i++) {
        double x = a.params[i], y = b.params[i];
        if (memcmp(&a.params[i], &b.params[i], sizeof(float)) != 0) bitwise_diff++;
        scale = fmax(scale, fabs(x));
        if (fabs(x - y) > diff) {
            diff = fabs(x - y);
            worst_at = i;
        }
    }
    double worst = scale > 0 ? diff / scale : diff;
    printf("compare: %zu parameters, %zu differ bitwise, max |a-b| %.3g = %.3g relative to "
           "max |a| (at %zu)\n",
           a.n_params, bitwise_diff, diff, worst, worst_at);
    int ok = rtol == 0.0 ? bitwise_diff == 0 : worst <= rtol;
    if (a.running) {
        double rdiff = 0.0, rscale = 0.0;
        size_t rbits = 0;
        for (size_t i = 0; i < a.n_running; i++) {
            rbits += memcmp(&a.running[i], &b.running[i], sizeof(float)) != 0;
            rscale = fmax(rscale, fabs((double)a.running[i]));
            rdiff = fmax(rdiff, fabs((double)a.running[i] - (double)b.running[i]));
        }
        const double rworst = rscale > 0 ? rdiff / rscale : rdiff;
        printf("compare: %zu running statistics, %zu differ bitwise, max |a-b| %.3g = %.3g "
               "relative\n",
               a.n_running, rbits, rdiff, rworst);
        ok &= rtol == 0.0 ? rbits == 0 : rworst <= rtol;
    }
    nnd_model_free(&a);
    nnd_model_free(&b);
    return ok ? 0 : 1;
}
