#include "nndist/metrics.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

static const char *const g_header =
    "step,epoch,lr,train_loss,train_acc,val_loss,val_acc,samples,samples_per_s,compute_s,"
    "allreduce_s,update_s,io_s,forward_s,backward_s\n";

/* The rows of an existing file up to resume_step (the header included), read into memory. */
static char *kept_rows(const char *path, uint64_t resume_step, size_t *len)
{
    FILE *f = fopen(path, "r");
    *len = 0;
    if (!f) return NULL;
    size_t cap = 1 << 16;
    char *out = malloc(cap), line[4096];
    while (out && fgets(line, sizeof line, f)) {
        char *end;
        uint64_t step = strtoull(line, &end, 10);
        int is_row = end != line && *end == ',';
        if (is_row && step > resume_step) continue;
        if (!is_row && *len > 0) continue; /* only the first line may be the header */
        size_t n = strlen(line);
        if (*len + n + 1 > cap) {
            char *grown = realloc(out, cap * 2 + n);
            if (!grown) break;
            out = grown;
            cap = cap * 2 + n;
        }
        memcpy(out + *len, line, n + 1);
        *len += n;
    }
    fclose(f);
    return out;
}

nnd_status nnd_metrics_open(nnd_metrics *m, const char *path, uint64_t resume_step)
{
    m->path = path;
    m->err = 0;
    size_t len = 0;
    char *kept = resume_step > 0 ? kept_rows(path, resume_step, &len) : NULL;
    m->f = fopen(path, "w");
    if (!m->f) {
        free(kept);
        return nnd_err_set(NND_ERR_IO, "--metrics %s: cannot open for writing: %s", path,
                           strerror(errno));
    }
    if (len > 0)
        fwrite(kept, 1, len, m->f);
    else
        fputs(g_header, m->f);
    free(kept);
    if (fflush(m->f) != 0) m->err = errno;
    return NND_OK;
}

void nnd_metrics_write(nnd_metrics *m, const nnd_metrics_row *r)
{
    if (!m->f) return;
    fprintf(m->f, "%" PRIu64 ",%" PRIu64 ",%g,%.6f,%.6f,", r->step, r->epoch, r->lr, r->train_loss,
            r->train_acc);
    if (r->has_val)
        fprintf(m->f, "%.6f,%.6f,", r->val_loss, r->val_acc);
    else
        fputs(",,", m->f);
    fprintf(m->f, "%.0f,%.1f,%.4f,%.4f,%.4f,%.4f,%.4f,%.4f\n", r->samples, r->samples_per_s,
            r->compute_s, r->allreduce_s, r->update_s, r->io_s, r->forward_s,
            r->compute_s - r->forward_s);
    if (fflush(m->f) != 0 && !m->err) m->err = errno;
}

nnd_status nnd_metrics_close(nnd_metrics *m)
{
    if (!m->f) return NND_OK;
    if (ferror(m->f) && !m->err) m->err = EIO;
    if (fclose(m->f) != 0 && !m->err) m->err = errno;
    m->f = NULL;
    if (m->err)
        return nnd_err_set(NND_ERR_IO, "--metrics %s: write failed: %s; the file is incomplete",
                           m->path, strerror(m->err));
    return NND_OK;
}
