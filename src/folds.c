#include "nndist/folds.h"

#include <stdlib.h>

#include "nndist/rng.h"

/* The generator's purpose word for fold shuffles ("FOLD"), apart from rng.h's purposes. */
#define FOLDS_RNG_PURPOSE 0x464f4c44u

size_t nnd_folds_smallest_class(const int32_t *labels, size_t n, size_t n_classes, int *cls)
{
    *cls = -1;
    if (!labels) return n;
    size_t *count = calloc(n_classes ? n_classes : 1, sizeof *count), best = 0;
    if (!count) return 0;
    for (size_t i = 0; i < n; i++) count[labels[i]]++;
    for (size_t c = 0; c < n_classes; c++)
        if (count[c] > 0 && (*cls < 0 || count[c] < best)) {
            best = count[c];
            *cls = (int)c;
        }
    free(count);
    return best;
}

nnd_status nnd_folds_assign(const int32_t *labels, size_t n, size_t n_classes, unsigned k,
                            uint64_t seed, uint32_t *fold)
{
    if (k < 2 || k > NND_FOLDS_MAX)
        return nnd_err_set(NND_ERR_USAGE, "%u folds: expected 2..%d", k, NND_FOLDS_MAX);
    size_t classes = labels ? n_classes : 1;
    int cls;
    size_t smallest = nnd_folds_smallest_class(labels, n, n_classes, &cls);
    if (smallest < k) {
        if (labels)
            return nnd_err_set(NND_ERR_USAGE,
                               "class %d has %zu sample%s, fewer than the %u folds (each fold "
                               "holds every class)",
                               cls, smallest, smallest == 1 ? "" : "s", k);
        return nnd_err_set(NND_ERR_USAGE, "%zu samples are fewer than the %u folds", n, k);
    }
    uint32_t *members = malloc((n ? n : 1) * sizeof *members);
    if (!members) return nnd_err_set(NND_ERR_NOMEM, "cannot allocate folds of %zu samples", n);
    size_t dealt = 0; /* samples of the classes done so far */
    for (size_t c = 0; c < classes; c++) {
        size_t len = 0;
        for (size_t i = 0; i < n; i++)
            if (!labels || (size_t)labels[i] == c) members[len++] = (uint32_t)i;
        for (size_t i = len; i > 1; i--) {
            size_t r = nnd_rng_below(seed, FOLDS_RNG_PURPOSE, c, i, i);
            uint32_t tmp = members[i - 1];
            members[i - 1] = members[r];
            members[r] = tmp;
        }
        for (size_t j = 0; j < len; j++) fold[members[j]] = (uint32_t)((dealt + j) % k);
        dealt += len;
    }
    free(members);
    return NND_OK;
}

size_t nnd_folds_select(const uint32_t *fold, size_t n, uint32_t f, int in_fold, uint32_t *out)
{
    size_t count = 0;
    for (size_t i = 0; i < n; i++)
        if ((fold[i] == f) == (in_fold != 0)) out[count++] = (uint32_t)i;
    return count;
}
