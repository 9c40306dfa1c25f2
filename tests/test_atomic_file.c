/* Atomic file replacement: a commit shows the whole new file under the final name and leaves no
 * temporary; an abort or a failed commit leaves the previous file byte for byte and removes the
 * temporary. The tests run as root, so failures come from the file system's shape (a missing
 * directory, a path through a regular file, a directory in the way), not from permission bits. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "nndist/atomic_file.h"

#include "scratch_dir.h"

static int file_exists(const char *path)
{
    struct stat sb;
    return lstat(path, &sb) == 0;
}

static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    assert_int_equal(fputs(text, f) >= 0, 1);
    assert_int_equal(fclose(f), 0);
}

/* Asserts that path holds exactly text. */
static void assert_holds(const char *path, const char *text)
{
    char buf[256] = "";
    FILE *f = fopen(path, "r");
    if (!f) fail_msg("%s: cannot open", path);
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    assert_string_equal(buf, text);
}

/* Asserts that no file in dir has a name ending in ".tmp". */
static void assert_no_tmp(const char *dir)
{
    DIR *d = opendir(dir);
    assert_non_null(d);
    struct dirent *e;
    while ((e = readdir(d))) {
        size_t len = strlen(e->d_name);
        if (len >= 4 && strcmp(e->d_name + len - 4, ".tmp") == 0)
            fail_msg("%s/%s left behind", dir, e->d_name);
    }
    closedir(d);
}

static void assert_msg_has(const char *part)
{
    if (!strstr(nnd_err_msg(), part)) fail_msg("message '%s' lacks '%s'", nnd_err_msg(), part);
}

static void test_commit_replaces_the_file(void **state)
{
    (void)state;
    char path[256];
    scratch_path(path, sizeof path, "out.txt");
    nnd_atomic a;

    /* A new file: the temporary is beside it, carries the pid, and is gone after the commit. */
    assert_int_equal(nnd_atomic_begin(&a, path), NND_OK);
    char want[300];
    snprintf(want, sizeof want, "%s.%ld.tmp", path, (long)getpid());
    assert_string_equal(a.tmp, want);
    assert_false(file_exists(a.tmp)); /* begin creates nothing */
    write_text(a.tmp, "first\n");
    assert_false(file_exists(path)); /* not visible before the commit */
    assert_int_equal(nnd_atomic_commit(&a), NND_OK);
    nnd_atomic_abort(&a); /* after a commit: removes nothing */
    assert_holds(path, "first\n");
    assert_no_tmp(scratch_dir);

    /* Over an existing file. */
    assert_int_equal(nnd_atomic_begin(&a, path), NND_OK);
    write_text(a.tmp, "second\n");
    assert_holds(path, "first\n");
    assert_int_equal(nnd_atomic_commit(&a), NND_OK);
    assert_holds(path, "second\n");
    assert_no_tmp(scratch_dir);

    /* A second commit of the same write is refused. */
    nnd_err_clear();
    assert_int_equal(nnd_atomic_commit(&a), NND_ERR_INTERNAL);
    assert_msg_has(path);
    assert_holds(path, "second\n");
}

/* A bare file name lives in the current directory, which is the one fsync'ed. */
static void test_commit_bare_name(void **state)
{
    (void)state;
    char cwd[512];
    assert_non_null(getcwd(cwd, sizeof cwd));
    assert_int_equal(chdir(scratch_dir), 0);
    nnd_atomic a;
    assert_int_equal(nnd_atomic_begin(&a, "bare.txt"), NND_OK);
    write_text(a.tmp, "bare\n");
    nnd_status st = nnd_atomic_commit(&a);
    assert_int_equal(chdir(cwd), 0);
    if (st != NND_OK) fail_msg("commit failed: %s", nnd_err_msg());
    char path[256];
    scratch_path(path, sizeof path, "bare.txt");
    assert_holds(path, "bare\n");
    assert_no_tmp(scratch_dir);
}

static void test_abort_keeps_the_old_file(void **state)
{
    (void)state;
    char path[256];
    scratch_path(path, sizeof path, "keep.txt");
    write_text(path, "good\n");
    nnd_atomic a;
    assert_int_equal(nnd_atomic_begin(&a, path), NND_OK);
    write_text(a.tmp, "half a fi");
    assert_true(file_exists(a.tmp));
    nnd_atomic_abort(&a);
    assert_false(file_exists(a.tmp));
    assert_holds(path, "good\n");
    nnd_atomic_abort(&a); /* twice is harmless */
    assert_holds(path, "good\n");
    assert_no_tmp(scratch_dir);

    /* A commit after an abort is refused and changes nothing. */
    nnd_err_clear();
    assert_int_equal(nnd_atomic_commit(&a), NND_ERR_INTERNAL);
    assert_holds(path, "good\n");
}

static void test_failed_commit_keeps_the_old_file(void **state)
{
    (void)state;
    char path[256];
    nnd_atomic a;

    /* The temporary vanished before the commit (here removed by hand): the fsync step fails,
     * naming the temporary, and the good file stays. */
    scratch_path(path, sizeof path, "good.txt");
    write_text(path, "good\n");
    assert_int_equal(nnd_atomic_begin(&a, path), NND_OK);
    write_text(a.tmp, "new\n");
    assert_int_equal(unlink(a.tmp), 0);
    nnd_err_clear();
    assert_int_equal(nnd_atomic_commit(&a), NND_ERR_IO);
    assert_msg_has(a.tmp);
    assert_msg_has("fsync");
    nnd_atomic_abort(&a);
    assert_holds(path, "good\n");

    /* A non-empty directory holds the final name: the rename fails, the directory and what it
     * holds stay, the temporary is removed. */
    char busy[256], inside[300];
    scratch_path(busy, sizeof busy, "busy");
    snprintf(inside, sizeof inside, "%s/keep", busy);
    assert_int_equal(mkdir(busy, 0777), 0);
    write_text(inside, "inside\n");
    assert_int_equal(nnd_atomic_begin(&a, busy), NND_OK);
    write_text(a.tmp, "new\n");
    nnd_err_clear();
    assert_int_equal(nnd_atomic_commit(&a), NND_ERR_IO);
    assert_msg_has("cannot rename to");
    assert_msg_has(busy);
    assert_false(file_exists(a.tmp));
    assert_holds(inside, "inside\n");
    assert_no_tmp(scratch_dir);

    /* A path through a regular file: the temporary cannot be created, and the commit a careless
     * writer tries anyway fails without touching the file in the way. */
    char through[300];
    snprintf(through, sizeof through, "%s/out.txt", path);
    assert_int_equal(nnd_atomic_begin(&a, through), NND_OK);
    assert_null(fopen(a.tmp, "w"));
    nnd_err_clear();
    assert_int_equal(nnd_atomic_commit(&a), NND_ERR_IO);
    assert_msg_has(a.tmp);
    nnd_atomic_abort(&a);
    assert_holds(path, "good\n");

    /* A directory that does not exist: the same. */
    char nodir[256];
    scratch_path(nodir, sizeof nodir, "no/such/dir/out.txt");
    assert_int_equal(nnd_atomic_begin(&a, nodir), NND_OK);
    assert_null(fopen(a.tmp, "w"));
    nnd_err_clear();
    assert_int_equal(nnd_atomic_commit(&a), NND_ERR_IO);
    assert_msg_has("no/such/dir/out.txt");
    nnd_atomic_abort(&a);
    assert_no_tmp(scratch_dir);
}

static void test_begin_refuses_long_and_empty_paths(void **state)
{
    (void)state;
    nnd_atomic a;
    /* A path the system would take, but not with the temporary's suffix. */
    size_t len = NND_PATH_MAX - 4;
    char *longp = malloc(len + 1);
    assert_non_null(longp);
    longp[0] = '/';
    memset(longp + 1, 'x', len - 1);
    longp[len] = '\0';
    nnd_err_clear();
    assert_int_equal(nnd_atomic_begin(&a, longp), NND_ERR_USAGE);
    assert_msg_has("path too long");
    assert_msg_has("/xxxxxxxx");
    nnd_atomic_abort(&a); /* after a failed begin: harmless */
    assert_int_equal(nnd_atomic_commit(&a), NND_ERR_INTERNAL);
    free(longp);

    nnd_err_clear();
    assert_int_equal(nnd_atomic_begin(&a, ""), NND_ERR_USAGE);
    assert_msg_has("empty");
    nnd_atomic_abort(&a);
}

/* Two processes writing the same path get two temporaries. */
static void test_temporary_is_per_process(void **state)
{
    (void)state;
    char path[256];
    scratch_path(path, sizeof path, "shared.txt");
    nnd_atomic mine;
    assert_int_equal(nnd_atomic_begin(&mine, path), NND_OK);
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    pid_t child = fork();
    assert_true(child >= 0);
    if (child == 0) {
        nnd_atomic theirs;
        int ok = nnd_atomic_begin(&theirs, path) == NND_OK;
        ssize_t n = write(fds[1], ok ? theirs.tmp : "", ok ? strlen(theirs.tmp) + 1 : 1);
        _exit(n > 0 ? 0 : 1);
    }
    close(fds[1]);
    char theirs[NND_PATH_MAX] = "";
    ssize_t n = read(fds[0], theirs, sizeof theirs - 1);
    close(fds[0]);
    int status = 0;
    assert_int_equal(waitpid(child, &status, 0), child);
    assert_true(n > 1);
    assert_true(strncmp(theirs, path, strlen(path)) == 0);
    assert_string_not_equal(theirs, mine.tmp);
    nnd_atomic_abort(&mine);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_commit_replaces_the_file),
        cmocka_unit_test(test_commit_bare_name),
        cmocka_unit_test(test_abort_keeps_the_old_file),
        cmocka_unit_test(test_failed_commit_keeps_the_old_file),
        cmocka_unit_test(test_begin_refuses_long_and_empty_paths),
        cmocka_unit_test(test_temporary_is_per_process),
    };
    return cmocka_run_group_tests(tests, scratch_setup, scratch_teardown);
}
