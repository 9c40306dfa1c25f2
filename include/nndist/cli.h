/* Table-driven command-line options: `--name VALUE`, `--name=VALUE`, `--flag`.
 *
 * Every value is checked where it is parsed, and a bad one gets one message naming the flag,
 * the value and what was expected. Parsing is a pure function of argv, so every rank reaches
 * the same verdict without talking to the others. */
#ifndef NNDIST_CLI_H
#define NNDIST_CLI_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "nndist/error.h"

typedef enum {
    NND_OPT_STRING,   /* const char * */
    NND_OPT_FLAG,     /* int, set to 1 */
    NND_OPT_COUNT,    /* uint64_t >= 1 */
    NND_OPT_UINT,     /* uint64_t >= 0 */
    NND_OPT_POSITIVE, /* double > 0, finite */
    NND_OPT_NONNEG,   /* double >= 0, finite */
    NND_OPT_SIZES,    /* nnd_cli_sizes: comma-separated positive integers */
} nnd_opt_kind;

#define NND_CLI_MAX_SIZES 33

typedef struct {
    size_t v[NND_CLI_MAX_SIZES];
    int n;
} nnd_cli_sizes;

typedef struct {
    const char *name; /* without the leading dashes */
    nnd_opt_kind kind;
    void *dest;
    const char *arg;  /* the value's name in help ("N", "FILE"); NULL for flags */
    const char *help; /* one line */
    int *given;       /* optional: set to 1 when the option appears */
} nnd_opt;

/* Parses argv[first..argc) against opts (terminated by an entry with name == NULL). A lone
 * `--help` or `-h` sets *help and stops. Positional arguments are refused. */
nnd_status nnd_cli_parse(const nnd_opt *opts, int argc, char **argv, int first, int *help);

/* Prints "usage", the description and a table of the options (none when opts is empty). */
void nnd_cli_print_help(FILE *out, const char *usage, const char *description, const nnd_opt *opts);

/* Whether arg asks for help: `--help` or `-h`. */
int nnd_cli_is_help(const char *arg);

/* A command's whole parse: nnd_cli_parse, and on `--help` rank 0 prints the help to stdout
 * (*help set, NND_OK). The same status on every rank, as it depends on argv alone. */
nnd_status nnd_cli_parse_command(const nnd_opt *opts, int argc, char **argv, int first,
                                 const char *usage, const char *description, int rank, int *help);

/* Parses one value of a kind (exposed for tests and for list-valued options). */
nnd_status nnd_cli_parse_value(const char *flag, nnd_opt_kind kind, const char *text, void *dest);

#endif
