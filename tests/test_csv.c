/* CSV files (csv.h): the record reader on awkward files (quotes holding delimiters, line breaks
 * and quotes, CRLF, a byte-order mark, blank lines, tabs), and the conversion: the values read
 * back from the dataset, labels or targets, block boundaries, and every refusal with its line
 * and column, leaving no file behind. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "nndist/csv.h"
#include "nndist/data.h"
#include "scratch_dir.h"

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

/* The records of text, fields joined by '|' and records by '\n'. */
static void records(const char *text, char delim, char *out, size_t size)
{
    char path[128];
    scratch_path(path, sizeof path, "r.csv");
    write_file(path, text);
    nnd_csv_reader r;
    assert_int_equal(nnd_csv_open(&r, path, delim), NND_OK);
    int got;
    out[0] = '\0';
    while (nnd_csv_next(&r, &got) == NND_OK && got)
        for (size_t i = 0; i < r.n_fields; i++)
            snprintf(out + strlen(out), size - strlen(out), "%s%s", nnd_csv_field(&r, i),
                     i + 1 < r.n_fields ? "|" : "\n");
    nnd_csv_close(&r);
}

static void test_reader(void **state)
{
    (void)state;
    char got[512];
    records("a,b\n1,2\n", ',', got, sizeof got);
    assert_string_equal(got, "a|b\n1|2\n");
    /* CRLF, a BOM, blank lines, no final line break */
    records("\xef\xbb\xbf"
            "a,b\r\n\r\n1,2\r\n\n3,4",
            ',', got, sizeof got);
    assert_string_equal(got, "a|b\n1|2\n3|4\n");
    /* quotes: a delimiter, a line break, "" inside; an empty quoted field; empty fields */
    records("\"x,y\",\"two\nlines\",\"say \"\"hi\"\"\",\"\",\n", ',', got, sizeof got);
    assert_string_equal(got, "x,y|two\nlines|say \"hi\"||\n");
    /* a quoted field before CRLF, tabs */
    records("\"1\"\t\"2\"\r\n3\t4\r\n", '\t', got, sizeof got);
    assert_string_equal(got, "1|2\n3|4\n");
}

static void test_reader_refusals(void **state)
{
    (void)state;
    char path[128];
    scratch_path(path, sizeof path, "bad.csv");
    const char *bad[] = {"a,b\n1,\"2\n", "a,b\n\"1\"x,2\n"};
    const char *want[] = {"line 2: a quoted field is not closed", "line 2: text after the closing"};
    for (int i = 0; i < 2; i++) {
        write_file(path, bad[i]);
        nnd_csv_reader r;
        assert_int_equal(nnd_csv_open(&r, path, ','), NND_OK);
        int got;
        nnd_status st = nnd_csv_next(&r, &got);
        while (!st && got) st = nnd_csv_next(&r, &got);
        assert_int_equal(st, NND_ERR_INPUT);
        if (!strstr(nnd_err_msg(), want[i])) fail_msg("'%s' lacks '%s'", nnd_err_msg(), want[i]);
        nnd_csv_close(&r);
    }
}

/* Converts text with o's settings (input and out filled here); returns the status. */
static nnd_status convert(const char *text, nnd_csv_options o, nnd_csv_result *res, char *out,
                          size_t size)
{
    char in[128];
    scratch_path(in, sizeof in, "in.csv");
    scratch_path(out, size, "out.h5");
    unlink(out);
    write_file(in, text);
    o.input = in;
    o.out = out;
    if (!o.delim) o.delim = ',';
    return nnd_csv_convert(&o, res);
}

static void test_convert_labels(void **state)
{
    (void)state;
    char out[128];
    nnd_csv_result res;
    /* the label in the middle, by name; 7 rows in blocks of 3 (a partial last block) */
    const char *text = "f1,label,f2\n"
                       "1,0,10\n2,1,20\n3,2,30\n4,0,40\n5,1,50\n6,2,60\n7,0,70.5\n";
    nnd_csv_options o = {.header = 1, .label = "label", .block_rows = 3};
    assert_int_equal(convert(text, o, &res, out, sizeof out), NND_OK);
    assert_int_equal(res.rows, 7);
    assert_int_equal(res.features, 2);
    assert_int_equal(res.classes, 3);
    nnd_data_shape shape;
    assert_int_equal(nnd_data_probe(out, "/X", "/y", &shape), NND_OK);
    assert_int_equal(shape.n, 7);
    assert_int_equal(shape.d, 2);
    assert_int_equal(shape.k_targets, 0);
    nnd_dataset ds;
    assert_int_equal(nnd_data_load(&ds, out, "/X", "/y", &shape, 0, 7, 3), NND_OK);
    for (int i = 0; i < 7; i++) {
        assert_true(ds.x[2 * i] == (float)(i + 1));
        assert_true(ds.x[2 * i + 1] == (i < 6 ? 10.0f * (float)(i + 1) : 70.5f));
        assert_int_equal(ds.labels[i], i % 3);
    }
    nnd_data_free(&ds);
}

static void test_convert_targets_and_no_header(void **state)
{
    (void)state;
    char out[128];
    nnd_csv_result res;
    /* no header; targets by index (0 and -1); semicolons */
    nnd_csv_options o = {.header = 0, .targets = "0,-1", .delim = ';'};
    assert_int_equal(convert("0.5;1;2;-1.5\n1.5;3;4;2e3\n", o, &res, out, sizeof out), NND_OK);
    assert_int_equal(res.rows, 2);
    assert_int_equal(res.features, 2);
    assert_int_equal(res.targets, 2);
    nnd_data_shape shape;
    assert_int_equal(nnd_data_probe(out, "/X", "/y", &shape), NND_OK);
    assert_int_equal(shape.k_targets, 2);
    nnd_dataset ds;
    assert_int_equal(nnd_data_load(&ds, out, "/X", "/y", &shape, 0, 2, 0), NND_OK);
    const float x[4] = {1, 2, 3, 4}, t[4] = {0.5f, -1.5f, 1.5f, 2000.0f};
    assert_memory_equal(ds.x, x, sizeof x);
    assert_memory_equal(ds.targets, t, sizeof t);
    nnd_data_free(&ds);
}

/* Every refusal names the line and the column, and writes nothing. */
static void test_convert_refusals(void **state)
{
    (void)state;
    const struct {
        const char *text, *label, *want;
    } cases[] = {
        {"a,y\n1,0\n,1\n", NULL, "line 3, column 'a' (index 0): a missing value"},
        {"a,y\n1,0\nNA,1\n", NULL, "line 3, column 'a' (index 0): a missing value ('NA')"},
        {"a,y\n1,0\nabc,1\n", NULL, "line 3, column 'a' (index 0): 'abc' is not a finite number"},
        {"a,y\n1,0\ninf,1\n", NULL, "'inf' is not a finite number"},
        {"a,y\n1,0\n2,1.5\n", NULL, "line 3, column 'y' (index 1): label '1.5' is not a class"},
        {"a,y\n1,-1\n", NULL, "label '-1' is not a class number"},
        {"a,y\n1,0\n2,1,3\n", NULL, "line 3 has 3 fields; expected 2 (as the header)"},
        {"a,y\n", NULL, "holds a header but no rows"},
        {"", NULL, "holds no rows"},
        {"a,y\n1,0\n", "z", "--label-column z: no such column"},
        {"a,y\n1,0\n", "2", "--label-column 2: no such column"},
        {"y\n1\n", NULL, "no feature column is left"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char out[128];
        nnd_csv_result res;
        nnd_csv_options o = {.header = 1, .label = cases[i].label};
        nnd_status st = convert(cases[i].text, o, &res, out, sizeof out);
        if (st == NND_OK) fail_msg("case %zu accepted", i);
        if (!strstr(nnd_err_msg(), cases[i].want))
            fail_msg("case %zu: '%s' lacks '%s'", i, nnd_err_msg(), cases[i].want);
        assert_int_not_equal(access(out, F_OK), 0);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reader),
        cmocka_unit_test(test_reader_refusals),
        cmocka_unit_test(test_convert_labels),
        cmocka_unit_test(test_convert_targets_and_no_header),
        cmocka_unit_test(test_convert_refusals),
    };
    return cmocka_run_group_tests(tests, scratch_setup, scratch_teardown);
}
