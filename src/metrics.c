#include "nndist/metrics.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* The columns, in order; "metric" stands for acc or r2. */
static const char *const g_epoch_cols[] = {
    "step",        "epoch",      "lr",      "train_loss",    "train_metric",
    "val_loss",    "val_metric", "samples", "samples_per_s", "compute_s",
    "allreduce_s", "update_s",   "io_s",    "forward_s",     "backward_s"};
static const char *const g_step_cols[] = {"step",       "epoch",        "lr",
                                          "train_loss", "train_metric", "samples_per_s"};
#define N_EPOCH_COLS (sizeof g_epoch_cols / sizeof g_epoch_cols[0])
#define N_STEP_COLS  (sizeof g_step_cols / sizeof g_step_cols[0])

int nnd_metrics_is_json(const char *path)
{
    size_t n = strlen(path);
    return n >= 6 && strcmp(path + n - 6, ".jsonl") == 0;
}

void nnd_metrics_steps_path(const char *path, char *buf, size_t size)
{
    const char *slash = strrchr(path, '/'), *dot = strrchr(path, '.');
    if (!dot || (slash && dot < slash) || dot == (slash ? slash + 1 : path))
        snprintf(buf, size, "%s.steps", path);
    else
        snprintf(buf, size, "%.*s.steps%s", (int)(dot - path), path, dot);
}

/* A column's name: "metric" becomes acc or r2. */
static void col_name(const nnd_metrics *m, const char *col, char *buf, size_t size)
{
    const char *metric = strstr(col, "metric");
    if (metric)
        snprintf(buf, size, "%.*s%s", (int)(metric - col), col, m->regression ? "r2" : "acc");
    else
        snprintf(buf, size, "%s", col);
}

static void write_header(const nnd_metrics *m, FILE *f, const char *const *cols, size_t n)
{
    if (m->json) return; /* every JSON row names its fields */
    for (size_t i = 0; i < n; i++) {
        char name[32];
        col_name(m, cols[i], name, sizeof name);
        fprintf(f, "%s%s", i ? "," : "", name);
    }
    fputc('\n', f);
}

/* The step of a row: the leading number of a CSV row, the "step" of a JSON row (written first);
 * 0 with *is_row unset for anything else (the header). */
static uint64_t row_step(const char *line, int json, int *is_row)
{
    static const char key[] = "{\"step\": ";
    if (json) {
        if (strncmp(line, key, sizeof key - 1) != 0) {
            *is_row = 0;
            return 0;
        }
        line += sizeof key - 1;
    }
    char *end;
    uint64_t step = strtoull(line, &end, 10);
    *is_row = end != line && *end == ',';
    return step;
}

/* The rows of an existing file that a run resumed at resume_step keeps (the header included),
 * read into memory; every_step: a step file (any step), else epoch rows (epoch ends only). */
static char *kept_rows(const char *path, int json, uint64_t resume_step, uint64_t spe,
                       int every_step, size_t *len)
{
    FILE *f = fopen(path, "r");
    *len = 0;
    if (!f) return NULL;
    size_t cap = 1 << 16;
    char *out = malloc(cap), line[4096];
    while (out && fgets(line, sizeof line, f)) {
        int is_row;
        uint64_t step = row_step(line, json, &is_row);
        if (is_row && (step > resume_step || (!every_step && spe && step % spe != 0))) continue;
        if (!is_row && (json || *len > 0)) continue; /* only the first line may be the header */
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

static nnd_status open_one(nnd_metrics *m, FILE **f, const char *path, uint64_t resume_step,
                           uint64_t spe, int every_step)
{
    size_t len = 0;
    char *kept =
        resume_step > 0 ? kept_rows(path, m->json, resume_step, spe, every_step, &len) : NULL;
    *f = fopen(path, "w");
    if (!*f) {
        free(kept);
        return nnd_err_set(NND_ERR_IO, "--metrics %s: cannot open for writing: %s", path,
                           strerror(errno));
    }
    if (len > 0)
        fwrite(kept, 1, len, *f);
    else if (every_step)
        write_header(m, *f, g_step_cols, N_STEP_COLS);
    else
        write_header(m, *f, g_epoch_cols, N_EPOCH_COLS);
    free(kept);
    if (fflush(*f) != 0) m->err = errno;
    return NND_OK;
}

nnd_status nnd_metrics_open(nnd_metrics *m, const char *path, int log_steps, int regression,
                            uint64_t resume_step, uint64_t steps_per_epoch)
{
    memset(m, 0, sizeof *m);
    m->path = path;
    m->json = nnd_metrics_is_json(path);
    m->regression = regression;
    nnd_metrics_steps_path(path, m->steps_path, sizeof m->steps_path);
    nnd_status st = open_one(m, &m->f, path, resume_step, steps_per_epoch, 0);
    if (!st && log_steps)
        st = open_one(m, &m->steps, m->steps_path, resume_step, steps_per_epoch, 1);
    return st;
}

/* Writes the values of one row: CSV fields, or a JSON object's members (an empty field, a
 * NaN or an infinity is JSON's null). fmt[i] is the printf format of value i. */
static void write_row(nnd_metrics *m, FILE *f, const char *const *cols, const double *v,
                      const char *const *fmt, const int *present, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char name[32];
        col_name(m, cols[i], name, sizeof name);
        if (m->json) fprintf(f, "%s\"%s\": ", i ? ", " : "{", name);
        if (!m->json && i) fputc(',', f);
        if (present[i] && isfinite(v[i]))
            fprintf(f, fmt[i], v[i]);
        else if (m->json)
            fputs("null", f);
    }
    fputs(m->json ? "}\n" : "\n", f);
    if (fflush(f) != 0 && !m->err) m->err = errno;
}

void nnd_metrics_write(nnd_metrics *m, const nnd_metrics_row *r)
{
    if (!m->f) return;
    const double v[N_EPOCH_COLS] = {(double)r->step, (double)r->epoch, r->lr,
                                    r->train_loss,   r->train_metric,  r->val_loss,
                                    r->val_metric,   r->samples,       r->samples_per_s,
                                    r->compute_s,    r->allreduce_s,   r->update_s,
                                    r->io_s,         r->forward_s,     r->compute_s - r->forward_s};
    static const char *const fmt[N_EPOCH_COLS] = {"%.0f", "%.0f", "%g",   "%.6f", "%.6f",
                                                  "%.6f", "%.6f", "%.0f", "%.1f", "%.4f",
                                                  "%.4f", "%.4f", "%.4f", "%.4f", "%.4f"};
    int present[N_EPOCH_COLS];
    for (size_t i = 0; i < N_EPOCH_COLS; i++) present[i] = 1;
    present[5] = present[6] = r->has_val;
    write_row(m, m->f, g_epoch_cols, v, fmt, present, N_EPOCH_COLS);
}

void nnd_metrics_write_step(nnd_metrics *m, const nnd_metrics_step_row *r)
{
    if (!m->steps) return;
    const double v[N_STEP_COLS] = {(double)r->step, r->epoch,        r->lr,
                                   r->train_loss,   r->train_metric, r->samples_per_s};
    static const char *const fmt[N_STEP_COLS] = {"%.0f", "%.4f", "%g", "%.6f", "%.6f", "%.1f"};
    const int present[N_STEP_COLS] = {1, 1, 1, 1, 1, 1};
    write_row(m, m->steps, g_step_cols, v, fmt, present, N_STEP_COLS);
}

static void close_one(nnd_metrics *m, FILE **f)
{
    if (!*f) return;
    if (ferror(*f) && !m->err) m->err = EIO;
    if (fclose(*f) != 0 && !m->err) m->err = errno;
    *f = NULL;
}

nnd_status nnd_metrics_close(nnd_metrics *m)
{
    if (!m->f && !m->steps) return NND_OK;
    close_one(m, &m->f);
    close_one(m, &m->steps);
    if (m->err)
        return nnd_err_set(NND_ERR_IO, "--metrics %s: write failed: %s; the file is incomplete",
                           m->path, strerror(m->err));
    return NND_OK;
}
