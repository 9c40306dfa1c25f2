/* libFuzzer target: dataset and checkpoint validation. The input is written to a file and opened
 * the way `nndist train --data` and `--init` / `eval --model` open files: probe, then load the
 * rows or the weights. Every input must end in NND_OK or a status with a message. Crashes inside
 * libhdf5's own decoders are possible too; they are the reason the README says to treat HDF5
 * files from untrusted sources like code. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "nndist/ckpt.h"
#include "nndist/data.h"

static char g_path[64];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!g_path[0]) snprintf(g_path, sizeof g_path, "/tmp/nndist-fuzz-%d.h5", (int)getpid());
    FILE *f = fopen(g_path, "wb");
    if (!f) return 0;
    fwrite(data, 1, size, f);
    fclose(f);

    nnd_data_shape shape;
    nnd_status st = nnd_data_probe(g_path, "/X", "/y", &shape);
    if (st != NND_OK && nnd_err_msg()[0] == '\0') abort();
    /* Load at most a few thousand values so that a huge but valid header costs no time. */
    if (st == NND_OK && shape.n * shape.d <= 1 << 16 &&
        shape.n * (shape.k_targets + 1) <= 1 << 16) {
        nnd_dataset ds;
        st = nnd_data_load(&ds, g_path, "/X", "/y", &shape, 0, shape.n, 10);
        if (st != NND_OK && nnd_err_msg()[0] == '\0') abort();
        nnd_data_free(&ds);
    }

    size_t sizes[NND_MAX_LAYERS + 2];
    int n_layers = 0, act_found = 0;
    nnd_activation act = NND_ACT_RELU;
    double act_param = 0.0;
    st = nnd_ckpt_probe(g_path, sizes, &n_layers, &act, &act_found, &act_param);
    if (st != NND_OK && nnd_err_msg()[0] == '\0') abort();
    if (st == NND_OK) {
        size_t params = 0;
        for (int l = 0; l < n_layers; l++) params += sizes[l] * sizes[l + 1] + sizes[l + 1];
        nnd_model m;
        memset(&m, 0, sizeof m);
        if (params <= 1 << 16 && nnd_model_init(&m, sizes, n_layers, act) == NND_OK) {
            if (act_found) m.act_param = act_param;
            st = nnd_ckpt_load(g_path, &m, NULL, NULL);
            if (st != NND_OK && nnd_err_msg()[0] == '\0') abort();
        }
        nnd_model_free(&m);
    }
    nnd_err_clear();
    return 0;
}
