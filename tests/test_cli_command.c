/* A command's parse-and-help: the help text with and without options, what counts as a help
 * request, and the status every rank returns. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nndist/cli.h"

/* A command with one option, --count. */
static uint64_t g_count;
static const nnd_opt g_one[] = {
    {"count", NND_OPT_COUNT, &g_count, "N", "how many", NULL},
    {NULL, 0, NULL, NULL, NULL, NULL},
};

/* What nnd_cli_print_help writes (caller frees). */
static char *help_text(const char *usage, const char *description, const nnd_opt *opts)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    assert_non_null(f);
    nnd_cli_print_help(f, usage, description, opts);
    assert_int_equal(fclose(f), 0);
    return buf;
}

static void test_help_text(void **state)
{
    (void)state;
    char *text = help_text("nndist x [--count N]", "Does x.", g_one);
    assert_string_equal(text, "usage: nndist x [--count N]\n\nDoes x.\n\noptions:\n"
                              "  --count N                  how many\n"
                              "  --help                     show this help\n");
    free(text);
    /* A command of positional arguments only: no options table. */
    const nnd_opt none[] = {{NULL, 0, NULL, NULL, NULL, NULL}};
    text = help_text("nndist info FILE", "Shows FILE.", none);
    assert_string_equal(text, "usage: nndist info FILE\n\nShows FILE.\n");
    free(text);
}

static void test_is_help(void **state)
{
    (void)state;
    assert_true(nnd_cli_is_help("--help"));
    assert_true(nnd_cli_is_help("-h"));
    assert_false(nnd_cli_is_help("--help=1"));
    assert_false(nnd_cli_is_help("-help"));
    assert_false(nnd_cli_is_help("help"));
}

static void test_parse_command(void **state)
{
    (void)state;
    char *ok[] = {"nndist", "x", "--count", "3", NULL};
    int help = 1;
    assert_int_equal(nnd_cli_parse_command(g_one, 4, ok, 2, "u", "d", 1, &help), NND_OK);
    assert_int_equal(help, 0);
    assert_int_equal(g_count, 3);
    /* Not rank 0: --help is recognised and nothing is printed. */
    char *asks[] = {"nndist", "x", "--help", "--bogus", NULL};
    assert_int_equal(nnd_cli_parse_command(g_one, 4, asks, 2, "u", "d", 1, &help), NND_OK);
    assert_int_equal(help, 1);
    char *bad[] = {"nndist", "x", "--count", "0", NULL};
    nnd_err_clear();
    assert_int_equal(nnd_cli_parse_command(g_one, 4, bad, 2, "u", "d", 0, &help), NND_ERR_USAGE);
    assert_int_equal(help, 0);
    assert_string_equal(nnd_err_msg(), "--count: 0 is too small; expected an integer >= 1");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_help_text),
        cmocka_unit_test(test_is_help),
        cmocka_unit_test(test_parse_command),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
