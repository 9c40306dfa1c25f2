/* CSV files to the dataset layout (`nndist convert csv`; docs/file-formats.md, "Converting your
 * data").
 *
 * The reader follows RFC 4180 as spreadsheets and pandas write it: fields separated by one
 * delimiter character; a field in double quotes may hold the delimiter, line breaks and "" for a
 * quote; lines end in LF or CRLF; a UTF-8 byte-order mark at the start and blank lines are
 * skipped. Values are numbers as strtod reads them, spaces around them allowed.
 *
 * The conversion reads the file twice with a few blocks of rows in memory, so memory stays
 * bounded for any file size: first to check every value and count the rows (nothing is written
 * when one is wrong), then to write them. One column is the class label (an integer >= 0; the
 * last column unless told), or a list of columns are regression targets (float), or none (data
 * to predict on); every other column is a feature. A missing value (an empty field, NA, NaN,
 * null), an infinity, a text, a wrong field count or a label that is not a non-negative integer
 * is refused with the file, line, column and what was expected. */
#ifndef NNDIST_CSV_H
#define NNDIST_CSV_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "nndist/error.h"

/* ---- the record reader ---- */

typedef struct {
    FILE *f;
    const char *path;
    char delim;
    uint64_t line;      /* the line the current record starts on (1-based) */
    uint64_t next_line; /* the line after it */
    char *buf;          /* the record's fields, each NUL-terminated */
    size_t len, cap;
    size_t *start; /* field i begins at buf + start[i] */
    size_t n_fields, fields_cap;
    int at_start; /* nothing read yet (a byte-order mark may come) */
} nnd_csv_reader;

nnd_status nnd_csv_open(nnd_csv_reader *r, const char *path, char delim);
/* The next record into r (*got = 1), or *got = 0 at the end of the file. */
nnd_status nnd_csv_next(nnd_csv_reader *r, int *got);
const char *nnd_csv_field(const nnd_csv_reader *r, size_t i);
void nnd_csv_close(nnd_csv_reader *r);

/* ---- the conversion ---- */

typedef struct {
    const char *input, *out;
    char delim;          /* ',' by default */
    int header;          /* the first record names the columns */
    const char *label;   /* the label column: a name or an index (0-based; negative counts
                          * from the end); NULL: the last column, unless targets or no_label */
    const char *targets; /* comma-separated names or indices of regression targets, or NULL */
    int no_label;        /* no label column: every column is a feature */
    size_t block_rows;   /* rows per block (0: a default of about 8 MB) */
} nnd_csv_options;

typedef struct {
    size_t rows, features, targets; /* targets: columns of /y as floats (0: labels or none) */
    int32_t classes;                /* the largest label + 1 (labels only) */
} nnd_csv_result;

nnd_status nnd_csv_convert(const nnd_csv_options *o, nnd_csv_result *res);

#endif
