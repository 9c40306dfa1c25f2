/* Reading a metrics file back (metrics_read.h): columns found by name whatever their order, the
 * regression names (train_r2), unknown columns, empty val fields, the quirks of hand-written files
 * (spaces, CRLF, quotes), and every refusal with the file, the line and what was expected; the
 * same for JSON lines (.jsonl): train's objects, null, CRLF, escaped keys, values that are not
 * numbers, and the refusals of keys missing or reordered and of malformed lines. */
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

static const char *write_bytes(const char *name, const char *bytes, size_t len)
{
    static char path[128];
    scratch_path(path, sizeof path, name);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(bytes, 1, len, f), len);
    fclose(f);
    return path;
}

static const char *write_file(const char *name, const char *text)
{
    return write_bytes(name, text, strlen(text));
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
static void expect_refusal_bytes(const char *name, const char *bytes, size_t len, const char *want)
{
    const char *path = write_bytes(name, bytes, len);
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

static void expect_refusal(const char *name, const char *text, const char *want)
{
    expect_refusal_bytes(name, text, strlen(text), want);
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

/* The JSON lines train writes for a classifier without --val (val_* null), the keys in train's
 * order; CRLF line ends, a blank line, a byte-order mark, and the last line without a break. */
static void test_jsonl_train_file(void **state)
{
    (void)state;
    static const char row1[] =
        "{\"step\": 10, \"epoch\": 1, \"lr\": 0.05, \"train_loss\": 1.302437, \"train_acc\": "
        "0.486667, \"val_loss\": null, \"val_acc\": null, \"samples\": 600, \"samples_per_s\": "
        "270633.4, \"compute_s\": 0.0007, \"allreduce_s\": 0.0014, \"update_s\": 0.0001, \"io_s\": "
        "0.0000, \"forward_s\": 0.0006, \"backward_s\": 0.0000}";
    static const char row2[] =
        "{\"step\": 20, \"epoch\": 2, \"lr\": 0.05, \"train_loss\": 1.069191, \"train_acc\": "
        "0.763333, \"val_loss\": null, \"val_acc\": null, \"samples\": 600, \"samples_per_s\": "
        "894661.1, \"compute_s\": 0.0002, \"allreduce_s\": 0.0004, \"update_s\": 0.0001, \"io_s\": "
        "0.0000, \"forward_s\": 0.0001, \"backward_s\": 0.0000}";
    char text[2048];
    snprintf(text, sizeof text, "\xef\xbb\xbf%s\r\n\r\n  \t\r\n%s", row1, row2);
    const char *path = write_file("m.jsonl", text);
    nnd_metrics_table t;
    assert_int_equal(nnd_metrics_read(path, &t), NND_OK);
    assert_true(t.json);
    assert_int_equal(t.n_rows, 2);
    assert_int_equal(t.n_cols, 15);
    assert_string_equal(t.names[0], "step");
    assert_string_equal(t.names[14], "backward_s");
    long ep = column(&t, "epoch"), tl = column(&t, "train_loss"), vl = column(&t, "val_loss");
    assert_int_equal(ep, 1);
    assert_int_equal(tl, 3);
    assert_true(nnd_metrics_value(&t, 1, (size_t)ep) == 2.0);
    assert_true(nnd_metrics_value(&t, 0, (size_t)tl) == 1.302437);
    assert_true(nnd_metrics_value(&t, 1, (size_t)column(&t, "train_acc")) == 0.763333);
    assert_true(nnd_metrics_value(&t, 1, 8) == 894661.1);
    assert_true(isnan(nnd_metrics_value(&t, 0, (size_t)vl)));
    assert_int_equal(nnd_metrics_count(&t, tl), 2);
    assert_int_equal(nnd_metrics_count(&t, vl), 0);
    assert_int_equal(column(&t, "train_r2"), -1);
    nnd_metrics_table_free(&t);
}

/* A regression step file (train's order: fractional epochs, r2), written by hand: no spaces or
 * many, escaped keys (\u005f is '_', a surrogate pair), and values that are not numbers in
 * columns nobody reads (refused once asked for, naming their line). */
static void test_jsonl_by_name(void **state)
{
    (void)state;
    const char *path = write_file(
        "r.steps.jsonl",
        "{\"step\":2,\"epoch\":0.2000,\"lr\":0.01,\"train_loss\":20.25,\"train\\u005fr2\":-3.5,"
        "\"samples_per_s\":null,\"note\":\"warm \\\"up\\\"\",\"\\ud83d\\ude00\":[1,{\"a\":\"]\"}],"
        "\"flag\":true}\n"
        "  {  \"step\" : 4 , \"epoch\" : 4e-1, \"lr\":1E-2,\"train_loss\":1e-320,"
        "\"train_r2\":0.5,\"samples_per_s\":5e4,\"note\":null,\"\\uD83D\\uDE00\":{},"
        "\"flag\":-Infinity }  \r\n");
    nnd_metrics_table t;
    assert_int_equal(nnd_metrics_read(path, &t), NND_OK);
    assert_int_equal(t.n_rows, 2);
    assert_int_equal(t.n_cols, 9);
    long ep = column(&t, "epoch"), r2 = column(&t, "train_r2"), sp = column(&t, "samples_per_s");
    assert_int_equal(r2, 4);
    assert_true(nnd_metrics_value(&t, 0, (size_t)ep) == 0.2);
    assert_true(nnd_metrics_value(&t, 1, (size_t)ep) == 0.4);
    assert_true(nnd_metrics_value(&t, 1, 2) == 0.01);
    assert_true(nnd_metrics_value(&t, 0, (size_t)r2) == -3.5);
    assert_true(nnd_metrics_value(&t, 1, 3) >= 0.0); /* underflows, still finite */
    assert_int_equal(nnd_metrics_count(&t, sp), 1);
    long col;
    assert_int_equal(nnd_metrics_column(&t, "note", &col), NND_ERR_INPUT);
    assert_non_null(strstr(nnd_err_msg(), "r.steps.jsonl: line 1: note is '\"warm \\\"up\\\"\"'; "
                                          "expected a finite number or null"));
    assert_int_equal(nnd_metrics_column(&t, "\xf0\x9f\x98\x80", &col), NND_ERR_INPUT);
    assert_non_null(strstr(nnd_err_msg(), "line 1: \xf0\x9f\x98\x80 is '[1,{\"a\":\"]\"}]'"));
    assert_int_equal(nnd_metrics_column(&t, "flag", &col), NND_ERR_INPUT);
    assert_non_null(strstr(nnd_err_msg(), "line 1: flag is 'true'"));
    assert_true(isnan(nnd_metrics_value(&t, 1, 8)));
    nnd_metrics_table_free(&t);

    /* A line as long as the reader takes (4096 bytes, the CR included) is read. */
    char *line = malloc(NND_METRICS_JSON_LINE_MAX + 8);
    assert_non_null(line);
    int n = sprintf(line, "{\"epoch\": 1, \"train_loss\": 2, \"pad\": \"");
    memset(line + n, 'x', NND_METRICS_JSON_LINE_MAX - (size_t)n - 3);
    strcpy(line + NND_METRICS_JSON_LINE_MAX - 3, "\"}\r\n");
    path = write_file("longest.jsonl", line);
    assert_int_equal(nnd_metrics_read(path, &t), NND_OK);
    assert_int_equal(t.n_rows, 1);
    nnd_metrics_table_free(&t);
    /* One byte more is refused. */
    strcpy(line + NND_METRICS_JSON_LINE_MAX - 3, "x\"}\r\n");
    expect_refusal("long.jsonl", line, "long.jsonl: line 1: longer than 4096 bytes");
    free(line);
}

static void test_jsonl_refusals(void **state)
{
    (void)state;
    static const char head[] = "{\"step\": 10, \"epoch\": 1, \"train_loss\": 1.3, \"val_loss\": "
                               "null}\n";
    char text[512];
#define WITH_HEAD(second) (snprintf(text, sizeof text, "%s%s", head, second), text)
    expect_refusal("empty.jsonl", "", "the file is empty; expected JSON lines");
    expect_refusal("blank.jsonl", "\n\r\n  \n", "the file is empty; expected JSON lines");
    /* The keys of every line: the first's, in its order. */
    expect_refusal("missing.jsonl", WITH_HEAD("{\"step\": 20, \"epoch\": 2, \"val_loss\": null}\n"),
                   "line 2: the key 'val_loss' where 'train_loss' was expected (every line has "
                   "the keys of line 1, in its order)");
    expect_refusal("short.jsonl", WITH_HEAD("\n{\"step\": 20, \"epoch\": 2, \"train_loss\": 1}\n"),
                   "line 3: the object ends where the key 'val_loss' was expected");
    expect_refusal("order.jsonl",
                   WITH_HEAD("{\"step\": 20, \"train_loss\": 1, \"epoch\": 2, \"val_loss\": 1}\n"),
                   "line 2: the key 'train_loss' where 'epoch' was expected");
    expect_refusal("extra.jsonl",
                   WITH_HEAD("{\"step\": 20, \"epoch\": 2, \"train_loss\": 1, \"val_loss\": 1, "
                             "\"x\": 1}\n"),
                   "line 2: the key 'x' after the last key, 'val_loss'; expected the 4 keys of "
                   "line 1");
    expect_refusal("empty_obj.jsonl", WITH_HEAD("{}\n"),
                   "line 2: the object ends where the key 'step' was expected");
    expect_refusal("noep.jsonl", "{\"step\": 1, \"train_loss\": 2}\n",
                   "line 1: the first object has no 'epoch' key; expected JSON lines");
    expect_refusal("neither.jsonl", "\n{}\n",
                   "line 2: the first object has no 'epoch' and no "
                   "'train_loss' key");
    expect_refusal("twice.jsonl", "{\"epoch\": 1, \"train_loss\": 2, \"epoch\": 1}\n",
                   "line 1: the key 'epoch' appears twice in the object");
    /* epoch and train_loss: a finite number on every line. */
    expect_refusal("strep.jsonl",
                   WITH_HEAD("{\"step\": 20, \"epoch\": \"2\", \"train_loss\": 1, "
                             "\"val_loss\": 1}\n"),
                   "line 2: epoch is '\"2\"'; expected a finite number");
    expect_refusal("nullloss.jsonl", "{\"epoch\": 1, \"train_loss\": null}\n",
                   "line 1: train_loss is null; expected a number");
    expect_refusal("trueep.jsonl", "{\"epoch\": true, \"train_loss\": 1}\n",
                   "line 1: epoch is 'true'; expected a finite number");
    expect_refusal("nanloss.jsonl", "{\"epoch\": 1, \"train_loss\": NaN}\n",
                   "line 1: train_loss is 'NaN'");
    expect_refusal("huge.jsonl", "{\"epoch\": 1, \"train_loss\": 1e999}\n",
                   "line 1: train_loss is '1e999'");
    expect_refusal("nested.jsonl", "{\"epoch\": [1], \"train_loss\": 1}\n", "epoch is '[1]'");
    /* Malformed lines: the file, the line and the byte (as a first line; a later line is parsed
     * as far as its keys match the first's). */
    static const struct {
        const char *line, *want;
    } bad[] = {
        {"[1, 2]", "byte 1: expected '{', found '['"},
        {"epoch,train_loss", "byte 1: expected '{', found 'e'"},
        {"{\"epoch\" 1}", "byte 10: expected ':' after the key 'epoch', found '1'"},
        {"{\"epoch\": 1 \"train_loss\": 2}", "expected ',' or '}' after the value of 'epoch'"},
        {"{\"epoch\": 1, }", "byte 14: expected a key in double quotes, found '}'"},
        {"{epoch: 1}", "expected a key in double quotes, found 'e'"},
        {"{\"epoch\": 1", "expected ',' or '}' after the value of 'epoch', found the end of the "
                          "line"},
        {"{\"epoch\": 1, \"train_loss\": 2} x", "'x' after the object's closing '}'"},
        {"{\"epoch\": 1, \"train_loss\": 2}{}", "'{' after the object's closing '}'"},
        {"{\"epoch\": 1.2.3}", "'1.2.3' is not a number"},
        {"{\"epoch\": 0x10}", "'0x10' is not a number"},
        {"{\"epoch\": nan}", "'nan' is not a value"},
        {"{\"epoch\": }", "expected a value (a number or null), found '}'"},
        {"{\"epo", "a string not closed before the end of the line"},
        {"{\"ep\\och\": 1}", "an unknown escape in a string"},
        {"{\"ep\\u00g1\": 1}", "'\\u' without four hex digits"},
        {"{\"ep\\ud800\": 1}", "a high surrogate without its low half"},
        {"{\"ep\\u0000\": 1}", "(a NUL) in a string"},
        {"{\"ep\toch\": 1}", "a control character (byte 0x09) in a string"},
        {"{\"epoch\": [1, {\"a\": 2]}", "a ']' closing a '{'"},
        {"{\"epoch\": [1, 2}", "a '}' closing a '['"},
        {"{\"epoch\": {\"a\": [1}", "a '}' closing a '['"},
        {"{\"epoch\": [[1]", "a '[' not closed before the end of the line"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char name[32], want[256];
        snprintf(name, sizeof name, "bad%zu.jsonl", i);
        snprintf(want, sizeof want, "line 2: malformed JSON at %s", bad[i].want);
        /* "byte N: ..." or a message alone: both follow "malformed JSON at". */
        if (strncmp(bad[i].want, "byte ", 5) != 0)
            snprintf(want, sizeof want, "line 2: malformed JSON at byte");
        snprintf(text, sizeof text, "\n%s\n", bad[i].line); /* the first object, on line 2 */
        expect_refusal(name, text, want);
        if (!strstr(nnd_err_msg(), bad[i].want))
            fail_msg("%s: '%s' lacks '%s'", name, nnd_err_msg(), bad[i].want);
    }
    static const char nul[] = "{\"epoch\": 1, \"train_loss\": 2}\n{\"epoch\": 1\0}\n";
    expect_refusal_bytes("nul.jsonl", nul, sizeof nul - 1, "line 2: a NUL byte at byte 12");
#undef WITH_HEAD
    /* The kind goes by the name: JSON lines in a .csv are refused, saying so. */
    expect_refusal("json.csv", head,
                   "json.csv: line 1: a JSON object, not a CSV header; JSON lines are read from a "
                   "name ending in .jsonl");
    nnd_metrics_table t;
    char path[128];
    scratch_path(path, sizeof path, "absent.jsonl");
    assert_int_equal(nnd_metrics_read(path, &t), NND_ERR_INPUT);
    assert_non_null(strstr(nnd_err_msg(), "absent.jsonl: cannot open: No such file"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_train_file),       cmocka_unit_test(test_by_name),
        cmocka_unit_test(test_refusals),         cmocka_unit_test(test_lazy_columns),
        cmocka_unit_test(test_jsonl_train_file), cmocka_unit_test(test_jsonl_by_name),
        cmocka_unit_test(test_jsonl_refusals),
    };
    return cmocka_run_group_tests(tests, scratch_setup, scratch_teardown);
}
