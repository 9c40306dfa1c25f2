#define _GNU_SOURCE
#include "nndist/guard.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <mpi.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* ---- signals ---- */

static volatile sig_atomic_t g_signal;

static void on_signal(int sig)
{
    g_signal = sig;
}

void nnd_guard_install_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    sigaction(SIGUSR1, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGXFSZ, SIG_IGN);
}

/* The crash line, built before any crash: the handler only writes it (async-signal-safe). */
static char g_crash_line[128];
static size_t g_crash_len;

static void on_crash(int sig)
{
    char line[160];
    size_t n = g_crash_len;
    memcpy(line, g_crash_line, n);
    const char *name = sig == SIGSEGV  ? "SIGSEGV"
                       : sig == SIGBUS ? "SIGBUS"
                       : sig == SIGFPE ? "SIGFPE"
                       : sig == SIGILL ? "SIGILL"
                                       : "SIGABRT";
    size_t k = strlen(name);
    memcpy(line + n, name, k);
    n += k;
    static const char tail[] = " (a crash); the job ends\n";
    memcpy(line + n, tail, sizeof tail - 1);
    n += sizeof tail - 1;
    ssize_t ignored = write(STDERR_FILENO, line, n);
    (void)ignored;
    signal(sig, SIG_DFL);
    raise(sig);
}

void nnd_guard_install_crash_handlers(int rank)
{
#if defined(__SANITIZE_ADDRESS__)
    (void)rank; /* AddressSanitizer's own handlers report a crash with its stack: keep them */
    return;
#endif
    int len =
        snprintf(g_crash_line, sizeof g_crash_line, "nndist: error: rank %d: fatal signal ", rank);
    g_crash_len = len > 0 && (size_t)len < sizeof g_crash_line ? (size_t)len : 0;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_crash;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESETHAND; /* a second crash inside the handler dies at once */
    static const int sigs[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT};
    for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++) sigaction(sigs[i], &sa, NULL);
}

int nnd_guard_signal_pending(void)
{
    return (int)g_signal;
}

const char *nnd_guard_signal_name(int sig)
{
    switch (sig) {
    case SIGUSR1:
        return "SIGUSR1";
    case SIGTERM:
        return "SIGTERM";
    case SIGINT:
        return "SIGINT";
    default:
        return "a signal";
    }
}

/* ---- watchdog ---- */

#define RING 101

static struct {
    pthread_mutex_t lock;
    pthread_cond_t wake; /* signalled by nnd_guard_watchdog_stop */
    pthread_t thread;
    int running, stop, rank;
    volatile int mpi_ready; /* MPI_Abort can end the job */
    double fixed;           /* > 0: the user's --watchdog */
    double auto_limit;      /* max(60, 20 x median step) */
    const char *phase;      /* NULL: idle */
    const char *last;       /* the last phase entered, for an agreement's message */
    double phase_start, phase_floor, allowance;
    double steps[RING];
    int n_steps, next;
} g_wd = {.lock = PTHREAD_MUTEX_INITIALIZER, .wake = PTHREAD_COND_INITIALIZER, .auto_limit = 60.0};

static double wall(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static double limit_locked(void)
{
    if (g_wd.fixed > 0) return g_wd.fixed + g_wd.allowance;
    /* Until a step has been timed nothing says how long one takes: the first step of a large
     * model (its packing buffers, page faults, a batch of 60,000) may take minutes, so it gets
     * the slow phases' floor. */
    double floor = g_wd.phase_floor;
    if (g_wd.n_steps == 0 && floor < NND_GUARD_SLOW_FLOOR_S) floor = NND_GUARD_SLOW_FLOOR_S;
    return (g_wd.auto_limit > floor ? g_wd.auto_limit : floor) + g_wd.allowance;
}

/* "rank 3", or before MPI_Init without a launcher's rank "pid 1234 on node7". */
static void describe_self(char *buf, size_t size)
{
    if (g_wd.rank >= 0) {
        snprintf(buf, size, "rank %d", g_wd.rank);
        return;
    }
    char host[256] = "?";
    gethostname(host, sizeof host - 1);
    snprintf(buf, size, "pid %ld on %s", (long)getpid(), host);
}

static void end_job(void) __attribute__((noreturn));
static void end_job(void)
{
    fflush(stderr);
    /* Before MPI_Init has returned there is no MPI_Abort; a process that exits with a failure
     * makes mpirun (and srun with --kill-on-bad-exit) end the others. */
    if (g_wd.mpi_ready) MPI_Abort(MPI_COMM_WORLD, 1);
    _exit(1); /* not reached after MPI_Abort */
}

/* Checks the phase 5 times a second; a stop wakes it at once (a sleep here would add up to
 * its length to the end of every run). */
static void *watch(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&g_wd.lock);
    for (;;) {
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_nsec += 200 * 1000 * 1000;
        if (until.tv_nsec >= 1000000000L) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000L;
        }
        while (!g_wd.stop && pthread_cond_timedwait(&g_wd.wake, &g_wd.lock, &until) != ETIMEDOUT)
            continue;
        if (g_wd.stop) break;
        const char *phase = g_wd.phase;
        double elapsed = wall() - g_wd.phase_start, limit = limit_locked();
        if (phase && elapsed > limit) {
            pthread_mutex_unlock(&g_wd.lock);
            char self[300];
            describe_self(self, sizeof self);
            fprintf(stderr,
                    "nndist: error: watchdog: %s has been in '%s' for %.0f s (limit %.0f s, "
                    "see --watchdog): stuck there, or waiting for a rank that died or hung. "
                    "Aborting the job.\n",
                    self, phase, elapsed, limit);
            end_job();
        }
    }
    pthread_mutex_unlock(&g_wd.lock);
    return NULL;
}

nnd_status nnd_guard_watchdog_start(int rank, double limit_s)
{
    pthread_mutex_lock(&g_wd.lock);
    g_wd.rank = rank;
    g_wd.fixed = limit_s;
    g_wd.stop = 0;
    g_wd.phase = g_wd.last = NULL;
    g_wd.allowance = 0.0;
    g_wd.n_steps = g_wd.next = 0;
    g_wd.auto_limit = 60.0;
    pthread_mutex_unlock(&g_wd.lock);
    if (g_wd.running) return NND_OK;
    if (pthread_create(&g_wd.thread, NULL, watch, NULL) != 0)
        return nnd_err_set(NND_ERR_INTERNAL, "cannot start the watchdog thread");
    g_wd.running = 1;
    return NND_OK;
}

void nnd_guard_watchdog_stop(void)
{
    if (!g_wd.running) return;
    pthread_mutex_lock(&g_wd.lock);
    g_wd.stop = 1;
    pthread_cond_signal(&g_wd.wake);
    pthread_mutex_unlock(&g_wd.lock);
    pthread_join(g_wd.thread, NULL);
    g_wd.running = 0;
}

void nnd_guard_mpi_ready(void)
{
    g_wd.mpi_ready = 1;
}

int nnd_guard_launcher_rank(void)
{
    static const char *const vars[] = {"OMPI_COMM_WORLD_RANK", "PMIX_RANK", "PMI_RANK",
                                       "SLURM_PROCID"};
    for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++) {
        const char *v = getenv(vars[i]);
        char *end;
        long r = v ? strtol(v, &end, 10) : -1;
        if (v && *v && *end == '\0' && r >= 0 && r <= 1L << 30) return (int)r;
    }
    return -1;
}

double nnd_guard_watchdog_arg(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        const char *v = NULL;
        if (strcmp(argv[i], "--watchdog") == 0 && i + 1 < argc)
            v = argv[i + 1];
        else if (strncmp(argv[i], "--watchdog=", 11) == 0)
            v = argv[i] + 11;
        if (!v) continue;
        char *end;
        double x = strtod(v, &end);
        return *v && *end == '\0' && x > 0 && isfinite(x) ? x : 0.0;
    }
    return 0.0;
}

static void enter(const char *phase, double floor_s, double allowance)
{
    pthread_mutex_lock(&g_wd.lock);
    g_wd.phase = phase;
    if (phase) g_wd.last = phase;
    g_wd.phase_floor = floor_s;
    g_wd.allowance = allowance;
    g_wd.phase_start = wall();
    pthread_mutex_unlock(&g_wd.lock);
}

void nnd_guard_phase(const char *phase, double floor_s)
{
    enter(phase, floor_s, 0.0);
}

void nnd_guard_phase_wait(const char *phase, double wait_s)
{
    enter(phase, NND_GUARD_SLOW_FLOOR_S, wait_s);
}

void nnd_guard_idle(void)
{
    pthread_mutex_lock(&g_wd.lock);
    g_wd.phase = NULL;
    g_wd.allowance = 0.0;
    pthread_mutex_unlock(&g_wd.lock);
}

double nnd_guard_wait_begin(nnd_guard_saved *saved)
{
    pthread_mutex_lock(&g_wd.lock);
    saved->phase = g_wd.phase;
    saved->last = g_wd.last;
    saved->floor = g_wd.phase_floor;
    saved->allowance = g_wd.allowance;
    double limit = 0.0;
    if (g_wd.running) {
        limit = limit_locked();
        if (g_wd.fixed <= 0 && limit < NND_GUARD_SLOW_FLOOR_S + g_wd.allowance)
            limit = NND_GUARD_SLOW_FLOOR_S + g_wd.allowance;
    }
    g_wd.phase = NULL;
    pthread_mutex_unlock(&g_wd.lock);
    return limit;
}

void nnd_guard_wait_end(const nnd_guard_saved *saved)
{
    if (saved->phase) enter(saved->phase, saved->floor, saved->allowance);
}

const char *nnd_guard_saved_phase(const nnd_guard_saved *saved)
{
    return saved->phase ? saved->phase : saved->last ? saved->last : "start-up";
}

void nnd_guard_abort(const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    fprintf(stderr, "nndist: error: watchdog: %s\n", msg);
    end_job();
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

void nnd_guard_step_time(double seconds)
{
    pthread_mutex_lock(&g_wd.lock);
    g_wd.steps[g_wd.next] = seconds;
    g_wd.next = (g_wd.next + 1) % RING;
    if (g_wd.n_steps < RING) g_wd.n_steps++;
    /* Re-estimate the median now and then: a sort of 101 numbers every 50 steps. */
    if (g_wd.next % 50 == 0 || g_wd.n_steps < 10) {
        double sorted[RING];
        memcpy(sorted, g_wd.steps, (size_t)g_wd.n_steps * sizeof *sorted);
        qsort(sorted, (size_t)g_wd.n_steps, sizeof *sorted, cmp_double);
        double median = sorted[g_wd.n_steps / 2];
        g_wd.auto_limit = fmax(60.0, 20.0 * median);
    }
    pthread_mutex_unlock(&g_wd.lock);
}

double nnd_guard_limit(void)
{
    pthread_mutex_lock(&g_wd.lock);
    double l = limit_locked();
    pthread_mutex_unlock(&g_wd.lock);
    return l;
}

/* ---- fault injection ---- */

int nnd_guard_fault(const char *kind, int rank, uint64_t step)
{
    const char *spec = getenv("NNDIST_FAULT");
    if (!spec || !*spec) return 0;
    size_t klen = strlen(kind);
    for (const char *p = spec; p && *p; p = strchr(p, ',') ? strchr(p, ',') + 1 : NULL) {
        if (strncmp(p, kind, klen) != 0 || p[klen] != '@') continue;
        const char *q = p + klen + 1;
        int any_rank = *q == '*';
        char *end = NULL;
        long r = any_rank ? -1 : strtol(q, &end, 10);
        if (any_rank) end = (char *)q + 1;
        if (!end || *end != ':') continue;
        unsigned long long s = strtoull(end + 1, NULL, 10);
        if ((any_rank || r == rank) && (s == 0 || s == step)) return 1;
    }
    return 0;
}
