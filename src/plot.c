#include "nndist/plot.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>

/* While a plot is open, SIGPIPE is ignored: a gnuplot that exits early (a crash, a bad
 * program) turns our writes into EPIPE errors, reported as a failed plot by nnd_plot_close,
 * instead of killing the process that computed the numbers. One plot is open at a time. */
static struct sigaction g_old_pipe;
static int g_pipe_ignored;

static void ignore_sigpipe(int on)
{
    if (on && !g_pipe_ignored) {
        struct sigaction ign;
        memset(&ign, 0, sizeof ign);
        ign.sa_handler = SIG_IGN;
        sigemptyset(&ign.sa_mask);
        g_pipe_ignored = sigaction(SIGPIPE, &ign, &g_old_pipe) == 0;
    } else if (!on && g_pipe_ignored) {
        sigaction(SIGPIPE, &g_old_pipe, NULL);
        g_pipe_ignored = 0;
    }
}

nnd_status nnd_plot_open(nnd_plot *p, const char *png, int width, int height)
{
    p->out = NULL;
    p->png = png;
    p->missing = 0;
    const char *prog = getenv("NNDIST_GNUPLOT");
    if (!prog || !*prog) prog = "gnuplot";
    /* The name goes to the shell single-quoted, so a quote in it cannot be passed safely. */
    char check[600], cmd[600];
    snprintf(check, sizeof check, "command -v '%s' > /dev/null 2>&1", prog);
    if (strchr(prog, '\'') || system(check) != 0) {
        p->missing = 1;
        return nnd_err_set(NND_ERR_IO,
                           "gnuplot is not installed (Debian: apt-get install gnuplot-nox)");
    }
    snprintf(cmd, sizeof cmd, "'%s' > /dev/null 2>&1", prog);
    p->out = popen(cmd, "w");
    if (!p->out) return nnd_err_set(NND_ERR_IO, "gnuplot failed to write %s", png);
    ignore_sigpipe(1);
    fprintf(p->out, "set terminal png size %d,%d\nset output ", width, height);
    nnd_plot_quote(p->out, png);
    fputc('\n', p->out);
    return NND_OK;
}

void nnd_plot_quote(FILE *out, const char *text)
{
    fputc('\'', out);
    for (; *text; text++) {
        if (*text == '\'') fputc('\'', out);
        fputc(*text, out);
    }
    fputc('\'', out);
}

nnd_status nnd_plot_close(nnd_plot *p)
{
    if (!p->out) return NND_OK;
    int rc = pclose(p->out);
    p->out = NULL;
    ignore_sigpipe(0);
    return rc == 0 ? NND_OK : nnd_err_set(NND_ERR_IO, "gnuplot failed to write %s", p->png);
}
