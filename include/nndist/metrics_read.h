/* Reading a metrics CSV back (the per-epoch file of `nndist train --metrics`, its per-step file
 * `<stem>.steps.csv`, or one written by hand) into columns found by their header names.
 *
 * Columns are looked up by name, never by position, so that columns added, reordered or renamed
 * by later versions (train_r2 in place of train_acc) do not break a reader. A metrics CSV is a
 * header naming at least `epoch` and `train_loss`, then rows with as many fields as the header;
 * every row's epoch and train_loss are finite numbers. Other fields may be empty (the val_*
 * columns of a run without --val): they read as NaN. A field that is not a finite number (a text,
 * nan, inf) in another column is refused only when that column is asked for, so that a column no
 * reader knows (a text, say) does not make the file unreadable.
 *
 * The file is read with the CSV reader of csv.h (quotes, CRLF, a byte-order mark, blank lines).
 * Every refusal names the file, the line and what was expected. */
#ifndef NNDIST_METRICS_READ_H
#define NNDIST_METRICS_READ_H

#include <stddef.h>
#include <stdint.h>

#include "nndist/error.h"

typedef struct {
    size_t n_cols, n_rows;
    char **names;       /* the header's n_cols names */
    double *v;          /* n_rows x n_cols, row-major; NaN where a field is empty or bad */
    uint64_t *bad_line; /* per column: the line of its first field that is not a finite
                         * number, 0 when none */
    char **bad_text;    /* per column: that field's text (NULL when none) */
    char path[NND_PATH_MAX];
} nnd_metrics_table;

/* Reads the whole file into t. NND_ERR_INPUT, with t left empty (nothing to free), for a file
 * that cannot be opened or is a directory, an empty file, a first line that is numbers rather
 * than names, a header without epoch or train_loss or with a name twice, a row with another
 * number of fields than the header, and a row whose epoch or train_loss is not a finite number.
 * A header without rows is not an error here (n_rows is 0): the caller says what that means. */
nnd_status nnd_metrics_read(const char *path, nnd_metrics_table *t);

/* *col = the index of the column named name, or -1 when the header has none. NND_ERR_INPUT
 * when one of the column's fields is not a finite number (the message names its line). */
nnd_status nnd_metrics_column(const nnd_metrics_table *t, const char *name, long *col);

/* The value at row, col: NaN for an empty field. */
static inline double nnd_metrics_value(const nnd_metrics_table *t, size_t row, size_t col)
{
    return t->v[row * t->n_cols + col];
}

/* How many rows hold a value in column col (-1: none). */
size_t nnd_metrics_count(const nnd_metrics_table *t, long col);

void nnd_metrics_table_free(nnd_metrics_table *t);

#endif
