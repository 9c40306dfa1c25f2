/* Reading a metrics CSV back (metrics_read.h): columns found by name whatever their order, the
 * regression names (train_r2), unknown columns, empty val fields, the quirks of hand-written files
 * (spaces, CRLF, quotes), and every refusal with the file, the line and what was expected. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nndist/metrics_read.h"
#include "scratch_dir.h"

static const char *write_file(const char *name, const char *text)
{
    static char path[128];
    scratch_path(path, sizeof path, name);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    return path;
}

static long column(const nnd_metrics_table *t, const char *name)
{
    long col = -2;
    assert_int_equal(nnd_metrics_column(t, name, &col), NND_OK);
    return col;
}

/* The file train --metrics writes today: every column by its name; a run without --val. */
static void test_train_file(void **state)
{
    (void)state;
    const char *path = write_file(
        "m.csv", "step,epoch,lr,train_loss,train_acc,val_loss,val_acc,samples,samples_per_s,"
                 "compute_s,allreduce_s,update_s,io_s,forward_s,backward_s\n"
                 "10,1,0.05,1.302437,0.486667,,,600,270633.4,0.0007,0.0014,0.0001,0,0.0006,0\n"
                 "20,2,0.05,1.069191,0.763333,,,600,894661.1,0.0002,0.0004,0.0001,0,0.0001,0\n");
    nnd_metrics_table t;
    assert_int_equal(nnd_metrics_read(path, &t), NND_OK);
    assert_int_equal(t.n_rows, 2);
    assert_int_equal(t.n_cols, 15);
    long ep = column(&t, "epoch"), tl = column(&t, "train_loss"), vl = column(&t, "val_loss");
    assert_int_equal(ep, 1);
    assert_int_equal(tl, 3);
    assert_true(nnd_metrics_value(&t, 1, (size_t)ep) == 2.0);
    assert_true(nnd_metrics_value(&t, 0, (size_t)tl) == 1.302437);
    assert_true(isnan(nnd_metrics_value(&t, 0, (size_t)vl)));
    assert_int_equal(nnd_metrics_count(&t, tl), 2);
    assert_int_equal(nnd_metrics_count(&t, vl), 0);
    assert_int_equal(column(&t, "train_r2"), -1);
    assert_int_equal(nnd_metrics_count(&t, -1), 0);
    nnd_metrics_table_free(&t);
}

/* Another order, the regression names, an unknown text column (ignored until asked for), a
 * fractional epoch (the step file), spaces, CRLF, a quoted field, a byte-order mark. */
static void test_by_name(void **state)
{
    (void)state;
    const char *path = write_file("r.csv", "\xef\xbb\xbf"
                                           "note, train_r2 ,val_r2,\"train_loss\",epoch\r\n"
                                           "first,-3.5,-4,20.25, 0.25 \r\n"
                                           "\r\n"
                                           "\"a, b\",0.5,,1e-320,1.5\r\n");
    nnd_metrics_table t;
    assert_int_equal(nnd_metrics_read(path, &t), NND_OK);
    assert_int_equal(t.n_rows, 2);
    long ep = column(&t, "epoch"), r2 = column(&t, "train_r2"), v = column(&t, "val_r2");
    assert_int_equal(ep, 4);
    assert_int_equal(r2, 1);
    assert_true(nnd_metrics_value(&t, 0, (size_t)ep) == 0.25);
    assert_true(nnd_metrics_value(&t, 1, (size_t)ep) == 1.5);
    assert_true(nnd_metrics_value(&t, 0, (size_t)r2) == -3.5);
    assert_int_equal(nnd_metrics_count(&t, v), 1);
    /* A number that underflows is still a finite number. */
    assert_true(nnd_metrics_value(&t, 1, 3) >= 0.0);
    /* The text column: refused once asked for, naming its first text. */
    long col;
    assert_int_equal(nnd_metrics_column(&t, "note", &col), NND_ERR_INPUT);
    assert_non_null(strstr(nnd_err_msg(),
                           "r.csv: line 2: note is 'first'; expected a finite number or nothing"));
    nnd_metrics_table_free(&t);
}

/* nnd_err_msg() contains want (the file's directory is a fresh scratch name). */
static void expect_refusal(const char *name, const char *text, const char *want)
{
    const char *path = write_file(name, text);
    nnd_metrics_table t;
    nnd_err_clear();
    nnd_status st = nnd_metrics_read(path, &t);
    if (st != NND_ERR_INPUT) fail_msg("%s: status %d, expected a refusal", name, (int)st);
    if (!strstr(nnd_err_msg(), want)) fail_msg("%s: '%s' lacks '%s'", name, nnd_err_msg(), want);
    if (strncmp(nnd_err_msg(), path, strlen(path)) != 0)
        fail_msg("%s: '%s' does not start with the file's path", name, nnd_err_msg());
    /* Nothing to free after a refusal, and freeing is harmless. */
    assert_int_equal(t.n_rows, 0);
    assert_null(t.v);
    nnd_metrics_table_free(&t);
}

static void test_refusals(void **state)
{
    (void)state;
    expect_refusal("empty.csv", "", "the file is empty; expected a metrics CSV");
    expect_refusal("blank.csv", "\n\r\n\n", "the file is empty");
    expect_refusal("nohdr.csv", "1,2.5\n2,2.0\n", "line 1: no header");
    expect_refusal("nohdr2.csv", "10,1,,0.5\n", "line 1: no header");
    expect_refusal("noep.csv", "step,train_loss\n1,2\n",
                   "line 1: the header has no 'epoch' column");
    expect_refusal("noloss.csv", "epoch,loss\n1,2\n", "line 1: the header has no 'train_loss'");
    expect_refusal("neither.csv", "a,b\n1,2\n", "no 'epoch' and no 'train_loss' column");
    expect_refusal("twice.csv", "epoch,train_loss,epoch\n1,2,3\n",
                   "line 1: the column 'epoch' appears twice");
    expect_refusal("short.csv", "epoch,train_loss,val_loss\n1,2,3\n\n2,1\n",
                   "line 4: 2 fields; expected 3");
    expect_refusal("long.csv", "epoch,train_loss\n1,2,\n", "line 2: 3 fields; expected 2");
    expect_refusal("text.csv", "epoch,train_loss\n1,2\n2,abc\n",
                   "line 3: train_loss is 'abc'; expected a finite number");
    expect_refusal("nan.csv", "epoch,train_loss\n1,nan\n", "line 2: train_loss is 'nan'");
    expect_refusal("inf.csv", "epoch,train_loss\n1,-inf\n", "line 2: train_loss is '-inf'");
    expect_refusal("huge.csv", "epoch,train_loss\n1,1e999\n", "line 2: train_loss is '1e999'");
    expect_refusal("noepoch.csv", "epoch,train_loss\n,2\n", "line 2: epoch is empty");
    expect_refusal("unit.csv", "epoch,train_loss\n1,2.5x\n", "train_loss is '2.5x'");
    expect_refusal("quote.csv", "epoch,train_loss\n1,\"2\n", "a quoted field is not closed");
    /* A missing file and a directory. */
    nnd_metrics_table t;
    char path[128];
    scratch_path(path, sizeof path, "absent.csv");
    assert_int_equal(nnd_metrics_read(path, &t), NND_ERR_INPUT);
    assert_non_null(strstr(nnd_err_msg(), "absent.csv: cannot open: No such file"));
    assert_int_equal(nnd_metrics_read(scratch_dir, &t), NND_ERR_INPUT);
    assert_non_null(strstr(nnd_err_msg(), ": is a directory; expected a metrics CSV"));
}

/* A field that is not a number in a column read on demand: refused when asked for, with its line;
 * columns without one stay readable. The header alone is not a refusal (no rows). */
static void test_lazy_columns(void **state)
{
    (void)state;
    const char *path =
        write_file("lazy.csv", "epoch,train_loss,val_loss,val_acc\n1,2,1.5,0.5\n2,1,inf,0.6\n");
    nnd_metrics_table t;
    assert_int_equal(nnd_metrics_read(path, &t), NND_OK);
    long col;
    assert_int_equal(nnd_metrics_column(&t, "val_loss", &col), NND_ERR_INPUT);
    assert_non_null(
        strstr(nnd_err_msg(), "lazy.csv: line 3: val_loss is 'inf'; expected a finite"));
    assert_int_equal(column(&t, "val_acc"), 3);
    nnd_metrics_table_free(&t);

    path = write_file("hdr.csv", "step,epoch,train_loss\n");
    assert_int_equal(nnd_metrics_read(path, &t), NND_OK);
    assert_int_equal(t.n_rows, 0);
    assert_int_equal(column(&t, "step"), 0);
    nnd_metrics_table_free(&t);

    /* Many rows: the table grows past its first allocation. */
    char *big = malloc(1 << 20);
    assert_non_null(big);
    size_t len = (size_t)sprintf(big, "epoch,train_loss\n");
    for (int i = 1; i <= 5000; i++) len += (size_t)sprintf(big + len, "%d,%g\n", i, 1.0 / i);
    path = write_file("big.csv", big);
    free(big);
    assert_int_equal(nnd_metrics_read(path, &t), NND_OK);
    assert_int_equal(t.n_rows, 5000);
    assert_true(nnd_metrics_value(&t, 4999, 0) == 5000.0);
    assert_true(nnd_metrics_value(&t, 3, 1) == 0.25);
    nnd_metrics_table_free(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_train_file),
        cmocka_unit_test(test_by_name),
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_lazy_columns),
    };
    return cmocka_run_group_tests(tests, scratch_setup, scratch_teardown);
}
