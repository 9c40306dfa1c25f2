/* Reading a metrics file back (the per-epoch file of `nndist train --metrics`, its per-step file
 * `<stem>.steps.<ext>`, or one written by hand) into columns found by their names: a CSV, or
 * JSON lines. The kind is decided by the name, as train decides it (nnd_metrics_is_json): a
 * name ending in .jsonl is JSON lines, any other a CSV, whatever the first byte.
 *
 * Columns are looked up by name, never by position, so that columns added, reordered or renamed
 * by later versions (train_r2 in place of train_acc) do not break a reader. A metrics CSV is a
 * header naming at least `epoch` and `train_loss`, then rows with as many fields as the header.
 * A JSON-lines file is one flat object per line (train writes `{"step": 10, "epoch": 1, ...}`):
 * the first object's keys, in order, name the columns, and every later object has the same keys
 * in the same order; the first object is the first row. On every row epoch and train_loss are
 * finite numbers. Other fields may be empty, or null in JSON (the val_* columns of a run without
 * --val): they read as NaN. A field that is not a finite number (a text, nan, inf; in JSON a
 * string, true, false, an object or an array) in another column is refused only when that column
 * is asked for, so that a column no reader knows (a text, say) does not make the file unreadable.
 *
 * A CSV is read with the CSV reader of csv.h (quotes, CRLF, a byte-order mark, blank lines).
 * JSON lines are read by a small parser of that flat subset (metrics_read_json.c): keys are
 * strings with JSON's escapes, values numbers (strtod), null, or a value kept only as text; lines
 * may end in CRLF, blank lines and a byte-order mark are skipped, and a line longer than
 * NND_METRICS_JSON_LINE_MAX bytes is refused. Every refusal names the file, the line and what
 * was expected. */
#ifndef NNDIST_METRICS_READ_H
#define NNDIST_METRICS_READ_H

#include <stddef.h>
#include <stdint.h>

#include "nndist/error.h"

/* The longest line of a JSON-lines file read (train writes about 350 bytes). */
#define NND_METRICS_JSON_LINE_MAX 4096

typedef struct {
    size_t n_cols, n_rows;
    char **names;       /* the header's n_cols names, or the first JSON object's keys */
    double *v;          /* n_rows x n_cols, row-major; NaN where a field is empty or bad */
    uint64_t *bad_line; /* per column: the line of its first field that is not a finite
                         * number, 0 when none */
    char **bad_text;    /* per column: that field's text (NULL when none) */
    int json;           /* read from JSON lines */
    char path[NND_PATH_MAX];
} nnd_metrics_table;

/* Reads the whole file into t. NND_ERR_INPUT, with t left empty (nothing to free), for a file
 * that cannot be opened or is a directory, an empty file, and a row whose epoch or train_loss is
 * not a finite number; in a CSV, a first line that is numbers rather than names, a header
 * without epoch or train_loss or with a name twice, a row with another number of fields than
 * the header; in JSON lines, a line that is not one object of the subset above (malformed, or
 * too long), a first object without epoch or train_loss or with a key twice, and an object whose
 * keys are not the first's in its order (the message names the key expected). A CSV header
 * without rows is not an error here (n_rows is 0): the caller says what that means. */
nnd_status nnd_metrics_read(const char *path, nnd_metrics_table *t);

/* *col = the index of the column named name, or -1 when the header has none. NND_ERR_INPUT
 * when one of the column's fields is not a finite number (the message names its line). */
nnd_status nnd_metrics_column(const nnd_metrics_table *t, const char *name, long *col);

/* The value at row, col: NaN for an empty field or null. */
static inline double nnd_metrics_value(const nnd_metrics_table *t, size_t row, size_t col)
{
    return t->v[row * t->n_cols + col];
}

/* How many rows hold a value in column col (-1: none). */
size_t nnd_metrics_count(const nnd_metrics_table *t, long col);

void nnd_metrics_table_free(nnd_metrics_table *t);

#endif
