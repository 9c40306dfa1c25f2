/* The gnuplot module: its quoting, and what open and close report for a program that is not
 * installed, one that fails and one that succeeds (stand-ins for gnuplot via $NNDIST_GNUPLOT). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nndist/plot.h"

/* What nnd_plot_quote writes for text (caller frees). */
static char *quoted(const char *text)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    assert_non_null(f);
    nnd_plot_quote(f, text);
    assert_int_equal(fclose(f), 0);
    return buf;
}

static void expect_quoted(const char *text, const char *want)
{
    char *got = quoted(text);
    assert_string_equal(got, want);
    free(got);
}

static void test_quote(void **state)
{
    (void)state;
    expect_quoted("out/heatmap.png", "'out/heatmap.png'");
    expect_quoted("", "''");
    expect_quoted("it's.png", "'it''s.png'");
    expect_quoted("''", "''''''");
    /* Inside single quotes gnuplot takes backslashes and double quotes as they are. */
    expect_quoted("a\\b \"c\".csv", "'a\\b \"c\".csv'");
}

static void test_not_installed(void **state)
{
    (void)state;
    const char *names[] = {"/nonexistent/gnuplot", "gnu'plot"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        setenv("NNDIST_GNUPLOT", names[i], 1);
        nnd_plot p;
        nnd_err_clear();
        assert_int_equal(nnd_plot_open(&p, "x.png", 640, 360), NND_ERR_IO);
        assert_int_equal(p.missing, 1);
        assert_null(p.out);
        assert_string_equal(nnd_err_msg(),
                            "gnuplot is not installed (Debian: apt-get install gnuplot-nox)");
        /* Nothing to close. */
        assert_int_equal(nnd_plot_close(&p), NND_OK);
    }
}

static void test_failure_and_success(void **state)
{
    (void)state;
    nnd_plot p;
    setenv("NNDIST_GNUPLOT", "false", 1);
    assert_int_equal(nnd_plot_open(&p, "out/x.png", 640, 360), NND_OK);
    assert_int_equal(p.missing, 0);
    assert_non_null(p.out);
    nnd_err_clear();
    assert_int_equal(nnd_plot_close(&p), NND_ERR_IO);
    assert_string_equal(nnd_err_msg(), "gnuplot failed to write out/x.png");
    assert_null(p.out);

    /* A gnuplot that exits without reading: 1 MB of input cannot fit in the pipe, so the writes
     * meet a closed pipe. The plot fails; the process lives (SIGPIPE is ignored meanwhile). */
    assert_int_equal(nnd_plot_open(&p, "out/y.png", 640, 360), NND_OK);
    for (int i = 0; i < 1 << 17; i++) fputs("plot x\n", p.out);
    assert_int_equal(nnd_plot_close(&p), NND_ERR_IO);
    nnd_err_clear();

    setenv("NNDIST_GNUPLOT", "cat", 1);
    assert_int_equal(nnd_plot_open(&p, "out/x.png", 900, 600), NND_OK);
    fprintf(p.out, "plot x\n");
    assert_int_equal(nnd_plot_close(&p), NND_OK);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_quote),
        cmocka_unit_test(test_not_installed),
        cmocka_unit_test(test_failure_and_success),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
