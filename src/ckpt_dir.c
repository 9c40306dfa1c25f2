#include "nndist/ckpt_dir.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "nndist/ckpt.h"

/* ---- names ---- */

void nnd_ckpt_path(char *buf, size_t size, const char *dir, uint64_t step)
{
    snprintf(buf, size, "%s/ckpt-%012" PRIu64 ".h5", dir, step);
}

/* Length of "ckpt-<12 digits>.h5" when name starts with it, else 0. */
static size_t ckpt_prefix(const char *name)
{
    if (strncmp(name, "ckpt-", 5) != 0) return 0;
    for (int i = 5; i < 17; i++)
        if (name[i] < '0' || name[i] > '9') return 0;
    return strncmp(name + 17, ".h5", 3) == 0 ? 20 : 0;
}

static int parse_ckpt_name(const char *name, uint64_t *step)
{
    if (ckpt_prefix(name) != 20 || name[20] != '\0') return 0;
    *step = strtoull(name + 5, NULL, 10);
    return 1;
}

/* An interrupted write's temporary: ckpt-<12 digits>.h5.tmp or ckpt-<12 digits>.h5.<pid>.tmp. */
static int is_stale_temporary(const char *name)
{
    if (!ckpt_prefix(name)) return 0;
    const char *p = name + 20;
    if (strcmp(p, ".tmp") == 0) return 1;
    if (*p++ != '.' || *p < '0' || *p > '9') return 0;
    while (*p >= '0' && *p <= '9') p++;
    return strcmp(p, ".tmp") == 0;
}

/* ---- the lock ---- */

/* What the lock file says of its holder, without the trailing newline ("" when unreadable). A
 * holder that has just taken the lock may not have written its line yet (the file is empty or
 * the line has no newline): read again for up to 2 s before giving up on it. */
static void read_holder(int fd, char *buf, size_t size)
{
    for (int tries = 0;; tries++) {
        ssize_t n = pread(fd, buf, size - 1, 0);
        buf[n > 0 ? n : 0] = '\0';
        if (strchr(buf, '\n') || tries == 40) break;
        usleep(50 * 1000);
    }
    buf[strcspn(buf, "\n")] = '\0';
}

/* The holder's SLURM job id ("" when none) from "host H pid P slurm_job J". */
static void holder_job(const char *holder, char *job, size_t size)
{
    const char *p = strstr(holder, "slurm_job ");
    snprintf(job, size, "%s", p && strcmp(p + 10, "-") != 0 ? p + 10 : "");
}

static void write_holder(int fd)
{
    char host[256] = "?", text[512];
    gethostname(host, sizeof host);
    host[sizeof host - 1] = '\0';
    const char *job = getenv("SLURM_JOB_ID");
    int n = snprintf(text, sizeof text, "host %s pid %ld slurm_job %s\n", host, (long)getpid(),
                     job && *job ? job : "-");
    /* Best effort: the text only serves the message a refused job prints. */
    if (ftruncate(fd, 0) == 0 && pwrite(fd, text, (size_t)n, 0) == n) fsync(fd);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static nnd_status take_lock(nnd_ckpt_dir *d, const char *dir, double wait_s)
{
    char path[NND_PATH_MAX];
    if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, NND_CKPT_LOCK_NAME) >= sizeof path)
        return nnd_err_set(NND_ERR_USAGE, "--checkpoint-dir %.200s...: path too long", dir);
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0666);
    if (fd < 0)
        return nnd_err_set(NND_ERR_IO, "--checkpoint-dir %s: cannot open the lock file %s: %s", dir,
                           path, strerror(errno));
    const char *job = getenv("SLURM_JOB_ID");
    double deadline = now_s() + wait_s;
    int waited = 0;
    for (;;) {
        if (flock(fd, LOCK_EX | LOCK_NB) == 0) break;
        if (errno != EWOULDBLOCK && errno != EINTR) {
            fprintf(stderr,
                    "nndist: note: --checkpoint-dir %s: the file system does not support locks "
                    "(flock: %s); nothing stops a second job from writing to this directory\n",
                    dir, strerror(errno));
            close(fd);
            return NND_OK;
        }
        char holder[512], holder_id[64];
        read_holder(fd, holder, sizeof holder);
        holder_job(holder, holder_id, sizeof holder_id);
        int same_job = job && *job && strcmp(job, holder_id) == 0;
        if (!same_job || now_s() >= deadline) {
            close(fd);
            return nnd_err_set(
                NND_ERR_USAGE,
                "--checkpoint-dir %s is in use by another job (%s)%s; one job per directory: "
                "wait for it to end, or give this run another --checkpoint-dir",
                dir, *holder ? holder : "holder unknown",
                same_job ? ", an earlier instance of this SLURM job that did not end in time" : "");
        }
        if (!waited++)
            fprintf(stderr,
                    "nndist: --checkpoint-dir %s is still locked by an earlier instance of this "
                    "job (%s); waiting up to %g s for it to end\n",
                    dir, holder, wait_s);
        usleep(200 * 1000);
    }
    write_holder(fd);
    d->fd = fd;
    return NND_OK;
}

/* ---- the directory ---- */

/* The longest name written in a checkpoint directory: "/ckpt-<12 digits>.h5.<pid>.tmp". */
#define CKPT_NAME_MAX (sizeof "/ckpt-000000000000.h5..tmp" - 1 + 10)

static nnd_status make_path(const char *dir)
{
    char buf[NND_PATH_MAX];
    if (strlen(dir) + CKPT_NAME_MAX >= sizeof buf)
        return nnd_err_set(NND_ERR_USAGE,
                           "--checkpoint-dir %.200s...: path too long (%zu bytes; with the "
                           "checkpoints' names it must stay under %d)",
                           dir, strlen(dir), (int)(NND_PATH_MAX - CKPT_NAME_MAX));
    snprintf(buf, sizeof buf, "%s", dir);
    for (char *p = buf + 1;; p++) {
        if (*p != '/' && *p != '\0') continue;
        char save = *p;
        *p = '\0';
        if (mkdir(buf, 0777) != 0 && errno != EEXIST)
            return nnd_err_set(NND_ERR_IO, "--checkpoint-dir %s: cannot create %s: %s", dir, buf,
                               strerror(errno));
        *p = save;
        if (save == '\0') break;
    }
    return NND_OK;
}

nnd_status nnd_ckpt_dir_open(nnd_ckpt_dir *d, const char *dir, double lock_wait_s)
{
    d->fd = -1;
    nnd_status st = make_path(dir);
    if (st) return st;
    if (access(dir, W_OK) != 0)
        return nnd_err_set(NND_ERR_IO, "--checkpoint-dir %s: not writable: %s", dir,
                           strerror(errno));
    if ((st = take_lock(d, dir, lock_wait_s))) return st;
    /* Only now: a temporary in a directory another job holds may be that job's write. */
    DIR *dp = opendir(dir);
    if (!dp) {
        st = nnd_err_set(NND_ERR_IO, "--checkpoint-dir %s: %s", dir, strerror(errno));
        nnd_ckpt_dir_close(d);
        return st;
    }
    struct dirent *e;
    while ((e = readdir(dp))) {
        if (!is_stale_temporary(e->d_name)) continue;
        char path[NND_PATH_MAX];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        unlink(path);
    }
    closedir(dp);
    return NND_OK;
}

void nnd_ckpt_dir_close(nnd_ckpt_dir *d)
{
    if (d->fd >= 0) close(d->fd); /* closing the last descriptor releases the flock */
    d->fd = -1;
}

static int cmp_desc(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? 1 : x > y ? -1 : 0;
}

int nnd_ckpt_list(const char *dir, uint64_t *steps, int max)
{
    DIR *d = opendir(dir);
    if (!d) return 0;
    int n = 0, cap = 64;
    uint64_t *all = malloc((size_t)cap * sizeof *all);
    struct dirent *e;
    while (all && (e = readdir(d))) {
        uint64_t s;
        if (!parse_ckpt_name(e->d_name, &s)) continue;
        if (n == cap) {
            uint64_t *grown = realloc(all, (size_t)cap * 2 * sizeof *all);
            if (!grown) break;
            all = grown;
            cap *= 2;
        }
        all[n++] = s;
    }
    closedir(d);
    if (!all) return 0;
    qsort(all, (size_t)n, sizeof *all, cmp_desc);
    int out = n < max ? n : max;
    memcpy(steps, all, (size_t)out * sizeof *all);
    free(all);
    return out;
}

/* How many of the newest checkpoints nnd_ckpt_retain looks at (32 KB of steps on the stack);
 * older ones beyond that are left alone. */
#define RETAIN_SCAN_MAX 4096

void nnd_ckpt_retain(const char *dir, uint64_t keep, const char *run_id)
{
    uint64_t steps[RETAIN_SCAN_MAX];
    int n = nnd_ckpt_list(dir, steps, RETAIN_SCAN_MAX);
    uint64_t mine = 0;
    if (keep < 1) keep = 1;
    for (int i = 0; i < n; i++) {
        char path[NND_PATH_MAX], id[NND_CKPT_RUN_ID_SIZE];
        nnd_ckpt_path(path, sizeof path, dir, steps[i]);
        if (nnd_ckpt_read_run_id(path, id, sizeof id) != 0 || strcmp(id, run_id) != 0) continue;
        if (++mine > keep) unlink(path);
    }
}
