/* Shared by metrics_read.c (the CSV reader, the table) and metrics_read_json.c (the JSON-lines
 * reader): building a table a row at a time, with the same checks and messages for both. */
#ifndef NNDIST_METRICS_READ_INTERNAL_H
#define NNDIST_METRICS_READ_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "nndist/metrics_read.h"

/* What a file of t's kind (t->json) was expected to be, for the end of a refusal. */
const char *nnd_metrics_expected(const nnd_metrics_table *t);

/* t->n_cols = n, with its names (NULL until set) and its bad-field records allocated. */
nnd_status nnd_metrics_read_columns(nnd_metrics_table *t, size_t n);

/* req[] = the columns of epoch and train_loss; NND_ERR_INPUT naming line (the header's, the first
 * object's) when the names lack one. */
nnd_status nnd_metrics_read_required(const nnd_metrics_table *t, uint64_t line, long req[2]);

/* Room for row t->n_rows (cap: the rows allocated), to be filled by nnd_metrics_read_field for
 * every column, then counted by t->n_rows++. */
nnd_status nnd_metrics_read_row(nnd_metrics_table *t, size_t *cap, uint64_t line);

/* Column j of the row in progress, read at line: kind 1 a finite number v, 0 nothing (an empty
 * field, null: NaN), -1 anything else (NaN), text[0, len) showing it. Refused in a column of req;
 * elsewhere the first such field of a column is remembered for nnd_metrics_column. */
nnd_status nnd_metrics_read_field(nnd_metrics_table *t, const long req[2], size_t j, uint64_t line,
                                  int kind, double v, const char *text, size_t len);

/* Reads the JSON lines of f (t->path, opened) into t (metrics_read_json.c). */
nnd_status nnd_metrics_read_jsonl(nnd_metrics_table *t, FILE *f);

#endif
