#include "nndist/ckpt_image.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "nndist/atomic_file.h"
#include "nndist/guard.h"

/* ---- HDF5's core driver, in the caller's buffer ----
 * The driver asks for memory through these callbacks (H5Pset_file_image_callbacks): every
 * request gets img->buf, grown when too small, and freeing it is left to nnd_ckpt_image_free. */

static int grow(nnd_ckpt_image *img, size_t size)
{
    if (size <= img->cap) return 0;
    unsigned char *p = realloc(img->buf, size);
    if (!p) return -1;
    img->buf = p;
    img->cap = size;
    return 0;
}

static void *image_malloc(size_t size, H5FD_file_image_op_t op, void *udata)
{
    (void)op;
    nnd_ckpt_image *img = udata;
    if (grow(img, size)) return NULL;
    img->eof = size;
    return img->buf;
}

static void *image_realloc(void *ptr, size_t size, H5FD_file_image_op_t op, void *udata)
{
    (void)op;
    nnd_ckpt_image *img = udata;
    if (ptr && ptr != img->buf) return NULL; /* not ours: never handed out */
    if (grow(img, size)) return NULL;
    img->eof = size;
    return img->buf;
}

static void *image_memcpy(void *dest, const void *src, size_t size, H5FD_file_image_op_t op,
                          void *udata)
{
    (void)op;
    (void)udata;
    return memcpy(dest, src, size);
}

static herr_t image_free(void *ptr, H5FD_file_image_op_t op, void *udata)
{
    (void)op;
    nnd_ckpt_image *img = udata;
    if (ptr && ptr != img->buf) free(ptr);
    return 0;
}

/* The property list holds udata by reference: copies share it. */
static void *udata_copy(void *udata)
{
    return udata;
}

static herr_t udata_free(void *udata)
{
    (void)udata;
    return 0;
}

hid_t nnd_ckpt_image_create(nnd_ckpt_image *img, size_t expected)
{
    img->size = img->eof = 0;
    if (grow(img, expected)) return H5I_INVALID_HID;
    H5FD_file_image_callbacks_t cb = {
        image_malloc, image_memcpy, image_realloc, image_free, udata_copy, udata_free, img};
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    hid_t f = H5I_INVALID_HID;
    /* The driver grows the file by the increment: with the expected size it asks once. */
    if (fapl >= 0 && H5Pset_fapl_core(fapl, expected > 0 ? expected : 1 << 20, 0) >= 0 &&
        H5Pset_file_image_callbacks(fapl, &cb) >= 0)
        f = H5Fcreate("nndist-checkpoint-image", H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
    if (fapl >= 0) H5Pclose(fapl);
    return f;
}

int nnd_ckpt_image_finish(nnd_ckpt_image *img, hid_t f)
{
    ssize_t len = -1;
    if (H5Fflush(f, H5F_SCOPE_GLOBAL) >= 0) len = H5Fget_file_image(f, NULL, 0);
    if (H5Fclose(f) < 0 || len <= 0 || (size_t)len > img->eof) return -1;
    img->size = (size_t)len;
    return 0;
}

void nnd_ckpt_image_free(nnd_ckpt_image *img)
{
    free(img->buf);
    memset(img, 0, sizeof *img);
}

/* ---- to a file ---- */

/* Writes the bytes to a new file, reporting errno (ENOSPC, EDQUOT, EACCES); the commit fsyncs. */
static nnd_status write_file(const char *tmp, const void *data, size_t size)
{
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0666);
    if (fd < 0) return nnd_err_set(NND_ERR_IO, "%s: cannot create: %s", tmp, strerror(errno));
    const char *p = data;
    for (size_t done = 0; done < size;) {
        ssize_t n = write(fd, p + done, size - done);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            int err = n < 0 ? errno : ENOSPC;
            close(fd);
            return nnd_err_set(NND_ERR_IO,
                               "%s: write failed after %zu of %zu bytes: %s; the previous "
                               "checkpoint is intact",
                               tmp, done, size, strerror(err));
        }
        done += (size_t)n;
    }
    if (close(fd) != 0)
        return nnd_err_set(NND_ERR_IO, "%s: close failed: %s", tmp, strerror(errno));
    return NND_OK;
}

nnd_status nnd_ckpt_image_write(const nnd_ckpt_image *img, const char *path)
{
    nnd_atomic a;
    nnd_status st = nnd_atomic_begin(&a, path);
    if (st) return st;
    st = write_file(a.tmp, img->buf, img->size);
    if (st == NND_OK) {
        if (nnd_guard_fault("slowckpt", 0, 0)) sleep(5); /* a window for the kill tests */
        st = nnd_atomic_commit(&a);
    }
    nnd_atomic_abort(&a);
    return st;
}
