/* Plots drawn by gnuplot: a pipe to a gnuplot process that writes one PNG.
 *
 * The program is $NNDIST_GNUPLOT when set, else `gnuplot` on PATH. gnuplot is optional: when it
 * is not installed (or the name holds a quote), nnd_plot_open says so, sets `missing`, and the
 * caller carries on without the picture; its own output (a CSV, a table) is what matters.
 * gnuplot's own output and complaints go to /dev/null; a failed plot shows as a failed close. */
#ifndef NNDIST_PLOT_H
#define NNDIST_PLOT_H

#include <stdio.h>

#include "nndist/error.h"

typedef struct {
    FILE *out;       /* gnuplot's input: write the plot's commands here; NULL when not open */
    const char *png; /* borrowed: the path being written */
    int missing;     /* set by a failed open: no gnuplot installed */
} nnd_plot;

/* Starts gnuplot with a width x height PNG terminal whose output is png (borrowed until close);
 * on failure the message is "gnuplot is not installed (...)" (missing set) or "gnuplot failed
 * to write PNG", and nothing needs closing. */
nnd_status nnd_plot_open(nnd_plot *p, const char *png, int width, int height);

/* Writes text to out as a gnuplot single-quoted string, where '' stands for one quote. */
void nnd_plot_quote(FILE *out, const char *text);

/* Ends the script and waits for gnuplot: NND_ERR_IO "gnuplot failed to write PNG" unless it
 * exited cleanly. NND_OK on a plot that is not open. */
nnd_status nnd_plot_close(nnd_plot *p);

#endif
