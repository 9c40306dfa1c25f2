#include "nndist/atomic_file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

nnd_status nnd_atomic_begin(nnd_atomic *a, const char *path)
{
    a->path[0] = a->tmp[0] = '\0';
    a->pending = 0;
    if (!path || !*path) return nnd_err_set(NND_ERR_USAGE, "empty output file name");
    size_t len = strlen(path);
    int n = snprintf(a->tmp, sizeof a->tmp, "%s.%ld.tmp", path, (long)getpid());
    if (n < 0 || (size_t)n >= sizeof a->tmp) {
        a->tmp[0] = '\0';
        return nnd_err_set(NND_ERR_USAGE,
                           "%.200s...: path too long (%zu bytes; with the temporary file's "
                           "suffix it must stay under %d)",
                           path, len, NND_PATH_MAX);
    }
    memcpy(a->path, path, len + 1);
    a->pending = 1;
    return NND_OK;
}

/* The directory holding path: "." for a bare name, "/" for a file in the root. */
static void dir_of(char *dir, size_t size, const char *path)
{
    const char *slash = strrchr(path, '/');
    if (!slash)
        snprintf(dir, size, ".");
    else
        snprintf(dir, size, "%.*s", slash == path ? 1 : (int)(slash - path), path);
}

nnd_status nnd_atomic_commit(nnd_atomic *a)
{
    if (!a->pending)
        return nnd_err_set(NND_ERR_INTERNAL, "%s: commit without a pending write", a->path);
    nnd_status st = NND_OK;
    int fd = open(a->tmp, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        st = nnd_err_set(NND_ERR_IO, "%s: cannot open to fsync: %s", a->tmp, strerror(errno));
    } else {
        if (fsync(fd) != 0)
            st = nnd_err_set(NND_ERR_IO, "%s: fsync failed: %s", a->tmp, strerror(errno));
        close(fd);
    }
    if (st == NND_OK && rename(a->tmp, a->path) != 0)
        st = nnd_err_set(NND_ERR_IO, "%s: cannot rename to %s: %s", a->tmp, a->path,
                         strerror(errno));
    if (st != NND_OK) {
        nnd_atomic_abort(a);
        return st;
    }
    a->pending = 0;

    char dir[NND_PATH_MAX];
    dir_of(dir, sizeof dir, a->path);
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0)
        return nnd_err_set(NND_ERR_IO,
                           "%s: written, but its directory %s cannot be opened to fsync: %s",
                           a->path, dir, strerror(errno));
    /* EINVAL: this filesystem cannot sync a directory; there is nothing more to do. */
    if (fsync(dfd) != 0 && errno != EINVAL)
        st = nnd_err_set(NND_ERR_IO, "%s: written, but fsync of its directory %s failed: %s",
                         a->path, dir, strerror(errno));
    close(dfd);
    return st;
}

void nnd_atomic_abort(nnd_atomic *a)
{
    if (a->pending) unlink(a->tmp);
    a->pending = 0;
}

nnd_status nnd_atomic_check_destination(const char *flag, const char *path)
{
    nnd_atomic a;
    nnd_status st = nnd_atomic_begin(&a, path); /* the temporary's name must fit too */
    if (st) return st;
    char dir[NND_PATH_MAX];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (!slash)
        snprintf(dir, sizeof dir, ".");
    else if (slash == dir)
        dir[1] = '\0';
    else
        *slash = '\0';
    struct stat sb;
    if (stat(dir, &sb) != 0 || !S_ISDIR(sb.st_mode))
        return nnd_err_set(NND_ERR_USAGE, "%s %s: the directory %s does not exist", flag, path,
                           dir);
    if (access(dir, W_OK) != 0)
        return nnd_err_set(NND_ERR_USAGE, "%s %s: the directory %s is not writable: %s", flag,
                           path, dir, strerror(errno));
    if (stat(path, &sb) == 0 && S_ISDIR(sb.st_mode))
        return nnd_err_set(NND_ERR_USAGE, "%s %s: is a directory; expected a file name", flag,
                           path);
    return NND_OK;
}
