/* The option parser: both value spellings, flags, and a message naming the flag for every kind
 * of bad value. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "nndist/cli.h"

typedef struct {
    const char *data;
    int verbose;
    uint64_t epochs, seed;
    double lr, wd;
    nnd_cli_sizes layers;
    int data_given, epochs_given, verbose_given;
} fixture;

/* The option table of a small command, pointing into f. */
static void make_opts(nnd_opt *opts, fixture *f)
{
    memset(f, 0, sizeof *f);
    f->epochs = 10;
    f->lr = 0.01;
    const nnd_opt table[] = {
        {"data", NND_OPT_STRING, &f->data, "FILE", "training data", &f->data_given},
        {"verbose", NND_OPT_FLAG, &f->verbose, NULL, "say more", &f->verbose_given},
        {"epochs", NND_OPT_COUNT, &f->epochs, "N", "epochs", &f->epochs_given},
        {"seed", NND_OPT_UINT, &f->seed, "N", "seed", NULL},
        {"lr", NND_OPT_POSITIVE, &f->lr, "X", "learning rate", NULL},
        {"weight-decay", NND_OPT_NONNEG, &f->wd, "X", "weight decay", NULL},
        {"layers", NND_OPT_SIZES, &f->layers, "LIST", "layer sizes", NULL},
        {NULL, NND_OPT_FLAG, NULL, NULL, NULL, NULL},
    };
    memcpy(opts, table, sizeof table);
}

#define N_OPTS 8

/* Parses argv (NULL-terminated list after the program and command words). */
static nnd_status parse(fixture *f, int *help, const char *const *args)
{
    nnd_opt opts[N_OPTS];
    make_opts(opts, f);
    char *argv[32];
    int argc = 0;
    argv[argc++] = (char *)"nndist";
    argv[argc++] = (char *)"train";
    for (int i = 0; args[i]; i++) argv[argc++] = (char *)args[i];
    argv[argc] = NULL;
    nnd_err_clear();
    return nnd_cli_parse(opts, argc, argv, 2, help);
}

static void assert_msg_has(const char *needle)
{
    if (!strstr(nnd_err_msg(), needle))
        fail_msg("message '%s' does not contain '%s'", nnd_err_msg(), needle);
}

/* Expects parsing to fail with NND_ERR_USAGE and a message containing each of the needles. */
static void expect_usage_error(const char *const *args, const char *needle1, const char *needle2)
{
    fixture f;
    int help = -1;
    nnd_status st = parse(&f, &help, args);
    if (st != NND_ERR_USAGE)
        fail_msg("'%s %s': status %d, expected NND_ERR_USAGE", args[0], args[1] ? args[1] : "",
                 (int)st);
    assert_int_equal(help, 0);
    assert_msg_has(needle1);
    if (needle2) assert_msg_has(needle2);
}

static void test_both_spellings(void **state)
{
    (void)state;
    fixture f;
    int help = -1;
    const char *a[] = {"--data", "train.h5", "--epochs=3",          "--seed",         "0",
                       "--lr",   "0.5",      "--weight-decay=1e-4", "--layers=5,7,3", "--verbose",
                       NULL};
    assert_int_equal(parse(&f, &help, a), NND_OK);
    assert_int_equal(help, 0);
    assert_string_equal(f.data, "train.h5");
    assert_int_equal(f.data_given, 1);
    assert_int_equal(f.epochs, 3);
    assert_int_equal(f.epochs_given, 1);
    assert_int_equal(f.seed, 0);
    assert_true(f.lr == 0.5);
    assert_true(f.wd == 1e-4);
    assert_int_equal(f.layers.n, 3);
    assert_int_equal(f.layers.v[0], 5);
    assert_int_equal(f.layers.v[1], 7);
    assert_int_equal(f.layers.v[2], 3);
    assert_int_equal(f.verbose, 1);
    assert_int_equal(f.verbose_given, 1);

    /* The other spelling of each; an option left out keeps its default and is not "given". */
    const char *b[] = {"--data=x=y.h5", "--seed=18", "--lr=2", "--layers", "784", NULL};
    assert_int_equal(parse(&f, &help, b), NND_OK);
    assert_string_equal(f.data, "x=y.h5"); /* only the first '=' splits */
    assert_int_equal(f.seed, 18);
    assert_true(f.lr == 2.0);
    assert_int_equal(f.layers.n, 1);
    assert_int_equal(f.layers.v[0], 784);
    assert_int_equal(f.epochs, 10);
    assert_int_equal(f.epochs_given, 0);
    assert_int_equal(f.verbose, 0);
    assert_int_equal(f.verbose_given, 0);

    /* No options at all. */
    const char *none[] = {NULL};
    assert_int_equal(parse(&f, &help, none), NND_OK);
    assert_int_equal(help, 0);
    assert_true(f.lr == 0.01);
}

static void test_flags_and_help(void **state)
{
    (void)state;
    /* A flag takes no value. */
    const char *a[] = {"--verbose=1", NULL};
    expect_usage_error(a, "--verbose", NULL);

    fixture f;
    int help = -1;
    const char *h1[] = {"--help", NULL};
    assert_int_equal(parse(&f, &help, h1), NND_OK);
    assert_int_equal(help, 1);
    help = -1;
    const char *h2[] = {"--epochs", "4", "-h", NULL};
    assert_int_equal(parse(&f, &help, h2), NND_OK);
    assert_int_equal(help, 1);
    /* --help stops parsing: what follows is not looked at. */
    help = -1;
    const char *h3[] = {"--help", "--no-such-option", "junk", NULL};
    assert_int_equal(parse(&f, &help, h3), NND_OK);
    assert_int_equal(help, 1);
}

static void test_unknown_missing_positional(void **state)
{
    (void)state;
    const char *u1[] = {"--bogus", "3", NULL};
    expect_usage_error(u1, "--bogus", NULL);
    const char *u2[] = {"--epochs", "2", "--bogus=3", NULL};
    expect_usage_error(u2, "--bogus", NULL);
    /* A prefix of a real option is not that option. */
    const char *u3[] = {"--epoch", "2", NULL};
    expect_usage_error(u3, "--epoch", NULL);

    const char *m1[] = {"--epochs", NULL};
    expect_usage_error(m1, "--epochs", NULL);
    const char *m2[] = {"--lr", "0.1", "--data", NULL};
    expect_usage_error(m2, "--data", NULL);
    const char *m3[] = {"--lr=", NULL};
    expect_usage_error(m3, "--lr", NULL);
    const char *m4[] = {"--data=", NULL};
    expect_usage_error(m4, "--data", NULL);

    const char *p1[] = {"train.h5", NULL};
    expect_usage_error(p1, "train.h5", NULL);
    const char *p2[] = {"-lr", "0.1", NULL};
    expect_usage_error(p2, "-lr", NULL);
    const char *p3[] = {"--", NULL};
    expect_usage_error(p3, "'--'", NULL);
}

static void test_sizes(void **state)
{
    (void)state;
    const char *bad[] = {"784,,10",   "784,x,10", ",784",   "784,",   "",       "784,0,10",
                         "784,-1,10", "7.5,10",   "784 10", "784;10", "1e3,10", NULL};
    for (int i = 0; bad[i]; i++) {
        const char *a[] = {"--layers", bad[i], NULL};
        expect_usage_error(a, "--layers", NULL);
        /* The same through the value parser, which names the flag it is given. */
        nnd_cli_sizes s;
        nnd_err_clear();
        assert_int_equal(nnd_cli_parse_value("hidden", NND_OPT_SIZES, bad[i], &s), NND_ERR_USAGE);
        assert_msg_has("--hidden");
    }
    /* The message names the bad item too. */
    const char *x[] = {"--layers", "784,x,10", NULL};
    expect_usage_error(x, "--layers", "'x'");

    nnd_cli_sizes s;
    assert_int_equal(nnd_cli_parse_value("layers", NND_OPT_SIZES, "5,7,6,3", &s), NND_OK);
    assert_int_equal(s.n, 4);
    const size_t want[4] = {5, 7, 6, 3};
    for (int i = 0; i < 4; i++) assert_int_equal(s.v[i], want[i]);

    /* NND_CLI_MAX_SIZES items fit; one more does not. */
    char list[256] = "";
    for (int i = 0; i < NND_CLI_MAX_SIZES; i++) strcat(list, i ? ",2" : "2");
    assert_int_equal(nnd_cli_parse_value("layers", NND_OPT_SIZES, list, &s), NND_OK);
    assert_int_equal(s.n, NND_CLI_MAX_SIZES);
    strcat(list, ",2");
    nnd_err_clear();
    assert_int_equal(nnd_cli_parse_value("layers", NND_OPT_SIZES, list, &s), NND_ERR_USAGE);
    assert_msg_has("--layers");
}

static void test_positive_and_nonneg(void **state)
{
    (void)state;
    const char *bad[] = {"-3",   "0", "abc",  "1e400", "nan", "inf",
                         "-inf", "",  "1.5x", "-0",    "0.0", NULL};
    for (int i = 0; bad[i]; i++) {
        const char *a[] = {"--lr", bad[i], NULL};
        expect_usage_error(a, "--lr", NULL);
        double v = 0.0;
        nnd_err_clear();
        assert_int_equal(nnd_cli_parse_value("lr", NND_OPT_POSITIVE, bad[i], &v), NND_ERR_USAGE);
        assert_msg_has("--lr");
    }
    /* The message quotes the value (not for the empty one). */
    const char *q[] = {"--lr=abc", NULL};
    expect_usage_error(q, "--lr", "abc");

    double v = 0.0;
    assert_int_equal(nnd_cli_parse_value("lr", NND_OPT_POSITIVE, "1e-3", &v), NND_OK);
    assert_true(v == 1e-3);
    assert_int_equal(nnd_cli_parse_value("lr", NND_OPT_POSITIVE, "2.5", &v), NND_OK);
    assert_true(v == 2.5);

    /* >= 0: zero is fine, negatives and non-finite values are not. */
    assert_int_equal(nnd_cli_parse_value("weight-decay", NND_OPT_NONNEG, "0", &v), NND_OK);
    assert_true(v == 0.0);
    const char *bad0[] = {"-1", "-1e-9", "nan", "1e400", "x", NULL};
    for (int i = 0; bad0[i]; i++) {
        const char *a[] = {"--weight-decay", bad0[i], NULL};
        expect_usage_error(a, "--weight-decay", NULL);
    }
}

static void test_counts_and_uints(void **state)
{
    (void)state;
    const char *bad[] = {"0", "-1", "1.5", "abc", "", "3x", "+", "1e3", "99999999999999999999",
                         NULL};
    for (int i = 0; bad[i]; i++) {
        const char *a[] = {"--epochs", bad[i], NULL};
        expect_usage_error(a, "--epochs", NULL);
        uint64_t v = 0;
        nnd_err_clear();
        assert_int_equal(nnd_cli_parse_value("epochs", NND_OPT_COUNT, bad[i], &v), NND_ERR_USAGE);
        assert_msg_has("--epochs");
    }
    uint64_t v = 0;
    assert_int_equal(nnd_cli_parse_value("epochs", NND_OPT_COUNT, "1", &v), NND_OK);
    assert_int_equal(v, 1);
    assert_int_equal(nnd_cli_parse_value("epochs", NND_OPT_COUNT, "60000", &v), NND_OK);
    assert_int_equal(v, 60000);
    /* Zero is a valid UINT (a seed), negatives are not. */
    v = 7;
    assert_int_equal(nnd_cli_parse_value("seed", NND_OPT_UINT, "0", &v), NND_OK);
    assert_int_equal(v, 0);
    const char *a[] = {"--seed", "-5", NULL};
    expect_usage_error(a, "--seed", NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_both_spellings),
        cmocka_unit_test(test_flags_and_help),
        cmocka_unit_test(test_unknown_missing_positional),
        cmocka_unit_test(test_sizes),
        cmocka_unit_test(test_positive_and_nonneg),
        cmocka_unit_test(test_counts_and_uints),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
