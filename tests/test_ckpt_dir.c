/* The checkpoint directory: names, listing, the temporaries removed at start (those and nothing
 * else), retention of the run's own checkpoints only, and the lock that keeps one job per
 * directory. No MPI needed: every call here is serial. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "nndist/ckpt.h"
#include "nndist/ckpt_dir.h"

#include "scratch_dir.h"

static int file_exists(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0;
}

static void touch(const char *path)
{
    FILE *fp = fopen(path, "w");
    assert_non_null(fp);
    fclose(fp);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* A checkpoint of the run `id` at step s in dir. */
static void save_ckpt(const char *dir, uint64_t s, const char *id)
{
    static const size_t sizes[3] = {4, 3, 2};
    nnd_model m;
    assert_int_equal(nnd_model_init(&m, sizes, 2, NND_ACT_RELU), NND_OK);
    nnd_model_init_params(&m, 1);
    nnd_ckpt_meta meta;
    memset(&meta, 0, sizeof meta);
    meta.step = s;
    snprintf(meta.run_id, sizeof meta.run_id, "%s", id);
    char p[512];
    nnd_ckpt_path(p, sizeof p, dir, s);
    assert_int_equal(nnd_ckpt_save(p, &m, NULL, &meta), NND_OK);
    nnd_model_free(&m);
}

static void test_names_and_temporaries(void **state)
{
    (void)state;
    char dir[256], p[512], want[512];
    scratch_path(dir, sizeof dir, "runs/a/ckpts");
    nnd_ckpt_dir d;
    assert_int_equal(nnd_ckpt_dir_open(&d, dir, 0), NND_OK);
    struct stat sb;
    assert_int_equal(stat(dir, &sb), 0);
    assert_true(S_ISDIR(sb.st_mode));
    nnd_ckpt_dir_close(&d);

    nnd_ckpt_path(p, sizeof p, dir, 42);
    snprintf(want, sizeof want, "%s/ckpt-000000000042.h5", dir);
    assert_string_equal(p, want);

    const struct {
        const char *name;
        int stale;
    } files[] = {
        {"ckpt-000000000005.h5", 0},
        {"ckpt-000000000100.h5", 0},
        {"ckpt-000000000020.h5", 0},
        {"ckpt-000000000001.h5", 0},
        {"ckpt-000000000007.h5.tmp", 1},
        {"ckpt-000000000100.h5.4242.tmp", 1},
        {"ckpt-notes.tmp", 0},
        {"ckpt-000000000100.h5.x.tmp", 0},
        {"notes.txt", 0},
        {"ckpt-5.h5", 0},
        {"other.tmp", 0},
        {"ckpt-000000000003.h5.bak", 0},
    };
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        snprintf(p, sizeof p, "%s/%s", dir, files[i].name);
        touch(p);
    }
    /* An interrupted write's leftovers go; everything else stays, a user's files included. */
    assert_int_equal(nnd_ckpt_dir_open(&d, dir, 0), NND_OK);
    nnd_ckpt_dir_close(&d);
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        snprintf(p, sizeof p, "%s/%s", dir, files[i].name);
        if (file_exists(p) == files[i].stale)
            fail_msg("%s: %s at start", files[i].name, files[i].stale ? "kept" : "removed");
    }

    uint64_t steps[8];
    assert_int_equal(nnd_ckpt_list(dir, steps, 8), 4);
    const uint64_t all[4] = {100, 20, 5, 1};
    assert_memory_equal(steps, all, sizeof all);
    assert_int_equal(nnd_ckpt_list(dir, steps, 2), 2);
    assert_memory_equal(steps, all, 2 * sizeof *all);

    scratch_path(p, sizeof p, "no-such-dir");
    assert_int_equal(nnd_ckpt_list(p, steps, 8), 0);
}

/* Retention deletes the run's own older checkpoints only: another run's files, and files that
 * are not readable checkpoints, stay. */
static void test_retention_is_per_run(void **state)
{
    (void)state;
    char dir[256], p[512];
    scratch_path(dir, sizeof dir, "retain");
    nnd_ckpt_dir d;
    assert_int_equal(nnd_ckpt_dir_open(&d, dir, 0), NND_OK);
    for (uint64_t s = 100; s <= 500; s += 100) save_ckpt(dir, s, "aaaaaaaaaaaaaaaa");
    save_ckpt(dir, 50, "bbbbbbbbbbbbbbbb");
    save_ckpt(dir, 900, "bbbbbbbbbbbbbbbb");
    nnd_ckpt_path(p, sizeof p, dir, 60);
    touch(p); /* empty: not a readable checkpoint */

    char id[NND_CKPT_RUN_ID_SIZE];
    nnd_ckpt_path(p, sizeof p, dir, 900);
    assert_int_equal(nnd_ckpt_read_run_id(p, id, sizeof id), 0);
    assert_string_equal(id, "bbbbbbbbbbbbbbbb");
    nnd_ckpt_path(p, sizeof p, dir, 60);
    assert_int_equal(nnd_ckpt_read_run_id(p, id, sizeof id), -1);

    uint64_t steps[16];
    nnd_ckpt_retain(dir, 4294967296ULL, "aaaaaaaaaaaaaaaa"); /* more than an int holds: all */
    assert_int_equal(nnd_ckpt_list(dir, steps, 16), 8);
    nnd_ckpt_retain(dir, 2, "aaaaaaaaaaaaaaaa");
    const uint64_t left[5] = {900, 500, 400, 60, 50};
    assert_int_equal(nnd_ckpt_list(dir, steps, 16), 5);
    assert_memory_equal(steps, left, sizeof left);
    nnd_ckpt_retain(dir, 0, "aaaaaaaaaaaaaaaa"); /* keeps at least one */
    assert_int_equal(nnd_ckpt_list(dir, steps, 16), 4);
    assert_int_equal(steps[1], 500);
    nnd_ckpt_dir_close(&d);
}

/* One job per directory: a second open is refused at once, naming the holder; closing (or the
 * holder's death) releases the lock. */
static void test_lock(void **state)
{
    (void)state;
    char dir[256];
    scratch_path(dir, sizeof dir, "locked");
    unsetenv("SLURM_JOB_ID");
    nnd_ckpt_dir a, b;
    assert_int_equal(nnd_ckpt_dir_open(&a, dir, 0), NND_OK);
    double t0 = now_s();
    assert_int_equal(nnd_ckpt_dir_open(&b, dir, 30), NND_ERR_USAGE);
    assert_true(now_s() - t0 < 5); /* another job's lock: no wait */
    char pid[64];
    snprintf(pid, sizeof pid, "pid %ld slurm_job -", (long)getpid());
    if (!strstr(nnd_err_msg(), "in use by another job") || !strstr(nnd_err_msg(), pid))
        fail_msg("message: %s", nnd_err_msg());
    nnd_err_clear();
    nnd_ckpt_dir_close(&a);
    assert_int_equal(nnd_ckpt_dir_open(&b, dir, 0), NND_OK);
    nnd_ckpt_dir_close(&b);
    nnd_ckpt_dir_close(&b); /* twice is harmless */

    /* A holder killed with SIGKILL leaves no stale lock. */
    pid_t child = fork();
    assert_true(child >= 0);
    if (child == 0) {
        nnd_ckpt_dir c;
        if (nnd_ckpt_dir_open(&c, dir, 0) != NND_OK) _exit(1);
        pause();
        _exit(0);
    }
    for (int i = 0; i < 200; i++) { /* wait until the child holds it */
        if (nnd_ckpt_dir_open(&b, dir, 0) != NND_OK) break;
        nnd_ckpt_dir_close(&b);
        usleep(10 * 1000);
    }
    nnd_err_clear();
    kill(child, SIGKILL);
    waitpid(child, NULL, 0);
    assert_int_equal(nnd_ckpt_dir_open(&b, dir, 0), NND_OK);
    nnd_ckpt_dir_close(&b);
}

/* A requeued SLURM job (the same SLURM_JOB_ID) waits for its old instance, up to the limit. */
static void test_lock_wait_same_job(void **state)
{
    (void)state;
    char dir[256];
    scratch_path(dir, sizeof dir, "requeued");
    setenv("SLURM_JOB_ID", "4242", 1);
    nnd_ckpt_dir a, b;
    assert_int_equal(nnd_ckpt_dir_open(&a, dir, 0), NND_OK);
    double t0 = now_s();
    assert_int_equal(nnd_ckpt_dir_open(&b, dir, 0.5), NND_ERR_USAGE);
    double waited = now_s() - t0;
    assert_true(waited >= 0.5 && waited < 5);
    if (!strstr(nnd_err_msg(), "slurm_job 4242") || !strstr(nnd_err_msg(), "earlier instance"))
        fail_msg("message: %s", nnd_err_msg());
    nnd_err_clear();

    /* Another job id is refused at once. */
    setenv("SLURM_JOB_ID", "5555", 1);
    t0 = now_s();
    assert_int_equal(nnd_ckpt_dir_open(&b, dir, 30), NND_ERR_USAGE);
    assert_true(now_s() - t0 < 5);
    nnd_err_clear();
    nnd_ckpt_dir_close(&a);

    /* The old instance ends while the new one waits: the new one goes on. */
    setenv("SLURM_JOB_ID", "4242", 1);
    int ready[2];
    assert_int_equal(pipe(ready), 0);
    pid_t child = fork();
    assert_true(child >= 0);
    if (child == 0) {
        nnd_ckpt_dir c;
        if (nnd_ckpt_dir_open(&c, dir, 0) != NND_OK) _exit(1);
        if (write(ready[1], "x", 1) != 1) _exit(1);
        usleep(300 * 1000);
        _exit(0);
    }
    char x;
    assert_int_equal(read(ready[0], &x, 1), 1);
    assert_int_equal(nnd_ckpt_dir_open(&b, dir, 30), NND_OK);
    nnd_ckpt_dir_close(&b);
    int status;
    waitpid(child, &status, 0);
    assert_int_equal(WEXITSTATUS(status), 0);
    unsetenv("SLURM_JOB_ID");
    close(ready[0]);
    close(ready[1]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_names_and_temporaries),
        cmocka_unit_test(test_retention_is_per_run),
        cmocka_unit_test(test_lock),
        cmocka_unit_test(test_lock_wait_same_job),
    };
    return cmocka_run_group_tests(tests, scratch_setup, scratch_teardown);
}
