/* libFuzzer target: the option parser. The input is split at NUL bytes into an argv, parsed
 * against a table holding every kind of option, the way `nndist train` uses it. Any input must
 * end in NND_OK or a status with a message, never a crash or an out-of-bounds read. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "nndist/cli.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 4096) return 0;
    char *buf = malloc(size + 1);
    memcpy(buf, data, size);
    buf[size] = '\0';
    char *argv[64];
    int argc = 0;
    argv[argc++] = "train";
    for (size_t i = 0; i <= size && argc < 63;) {
        argv[argc++] = buf + i;
        i += strlen(buf + i) + 1;
    }
    argv[argc] = NULL;
    const char *s = NULL;
    uint64_t count = 0, uint = 0;
    double pos = 0, nonneg = 0;
    int flag = 0, help = 0, given = 0;
    nnd_cli_sizes sizes = {{0}, 0};
    const nnd_opt opts[] = {
        {"data", NND_OPT_STRING, &s, "FILE", "", NULL},
        {"layers", NND_OPT_SIZES, &sizes, "N,...", "", &given},
        {"batch", NND_OPT_COUNT, &count, "N", "", NULL},
        {"seed", NND_OPT_UINT, &uint, "S", "", NULL},
        {"lr", NND_OPT_POSITIVE, &pos, "X", "", NULL},
        {"momentum", NND_OPT_NONNEG, &nonneg, "X", "", NULL},
        {"nesterov", NND_OPT_FLAG, &flag, NULL, "", NULL},
        {NULL, 0, NULL, NULL, NULL, NULL},
    };
    nnd_status st = nnd_cli_parse(opts, argc, argv, 1, &help);
    if (st != NND_OK && nnd_err_msg()[0] == '\0') abort(); /* a failure must explain itself */
    if (st == NND_OK && given && (sizes.n < 1 || sizes.n > NND_CLI_MAX_SIZES)) abort();
    for (int i = 0; st == NND_OK && i < sizes.n; i++)
        if (sizes.v[i] == 0) abort();
    if (st == NND_OK && pos != 0 && !(pos > 0)) abort();
    free(buf);
    return 0;
}
