#include "nndist/idx.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <hdf5.h>
#include <zlib.h>

#include "nndist/atomic_file.h"
#include "nndist/guard.h"
#include "nndist/h5util.h"

/* IDX magic: two zero bytes, the element type, the number of dimensions. */
#define IDX_UBYTE       0x08u
#define IDX_MAGIC(ndim) ((IDX_UBYTE << 8) | (ndim))
#define IDX_IMAGE_DIMS  3u
#define IDX_LABEL_DIMS  1u
/* zlib's gzread takes an unsigned count; stay well below its limit. */
#define GZ_READ_MAX ((size_t)1 << 30)

/* One open input: path for messages, decompressed bytes consumed so far. */
typedef struct {
    gzFile gz;
    const char *path;
    uint64_t pos;
} idx_in;

/* What the two headers promise: n samples of rows x cols pixels, d = rows * cols. */
typedef struct {
    uint32_t n, rows, cols;
    uint64_t d;
} idx_shape;

/* zlib's message without the "path: " prefix gz_error puts in front of it. */
static const char *gz_msg(const idx_in *in, int *errnum)
{
    const char *m = gzerror(in->gz, errnum);
    size_t lp = strlen(in->path);
    if (m && strncmp(m, in->path, lp) == 0 && strncmp(m + lp, ": ", 2) == 0) m += lp + 2;
    return m ? m : "";
}

static nnd_status in_error(const idx_in *in)
{
    int errnum = Z_OK;
    const char *m = gz_msg(in, &errnum);
    if (errnum == Z_MEM_ERROR)
        return nnd_err_set(NND_ERR_NOMEM, "%s: out of memory while decompressing", in->path);
    if (errnum == Z_DATA_ERROR)
        return nnd_err_set(NND_ERR_INPUT, "%s: corrupt gzip data after %" PRIu64 " bytes: %s",
                           in->path, in->pos, m);
    return nnd_err_set(NND_ERR_INPUT, "%s: read failed after %" PRIu64 " bytes: %s", in->path,
                       in->pos, m);
}

/* Did the last read stop because a gzip stream was cut short (rather than a plain file ending)? */
static int in_cut(const idx_in *in)
{
    int errnum = Z_OK;
    gzerror(in->gz, &errnum);
    return errnum == Z_BUF_ERROR;
}

static nnd_status in_open(idx_in *in, const char *path)
{
    in->path = path;
    in->pos = 0;
    errno = 0;
    in->gz = gzopen(path, "rb");
    if (!in->gz) {
        if (errno == 0) return nnd_err_set(NND_ERR_NOMEM, "%s: out of memory opening", path);
        return nnd_err_set(NND_ERR_INPUT, "%s: cannot open: %s", path, strerror(errno));
    }
    gzbuffer(in->gz, 1u << 17);
    return NND_OK;
}

/* Reads up to n bytes into buf; *got < n means the input ended there. Read and gzip errors fail. */
static nnd_status in_read(idx_in *in, void *buf, size_t n, size_t *got)
{
    unsigned char *p = buf;
    size_t done = 0;
    while (done < n) {
        size_t want = n - done < GZ_READ_MAX ? n - done : GZ_READ_MAX;
        int r = gzread(in->gz, p + done, (unsigned)want);
        if (r < 0) return in_error(in);
        if (r == 0) break;
        done += (size_t)r;
        in->pos += (uint64_t)r;
    }
    *got = done;
    if (done < n) {
        int errnum = Z_OK;
        gzerror(in->gz, &errnum);
        if (errnum != Z_OK && errnum != Z_BUF_ERROR) return in_error(in);
    }
    return NND_OK;
}

/* Reads a gzip input to its end so that zlib verifies the CRC of what we used; bytes past the
 * promised data are ignored. Plain files carry no checksum and are not read further. */
static nnd_status in_drain(idx_in *in, void *scratch, size_t size)
{
    if (gzdirect(in->gz)) return NND_OK;
    uint64_t end = in->pos;
    size_t got;
    do {
        nnd_status st = in_read(in, scratch, size, &got);
        if (st != NND_OK) return st;
    } while (got == size);
    if (in_cut(in))
        return nnd_err_set(NND_ERR_INPUT,
                           "%s: gzip stream cut short after %" PRIu64
                           " bytes (its data ends at byte %" PRIu64 " but the CRC trailer is "
                           "missing)",
                           in->path, in->pos, end);
    return NND_OK;
}

static const char *idx_type_name(unsigned t)
{
    static const char *const names[] = {
        [0x08] = "unsigned byte", [0x09] = "signed byte", [0x0B] = "int16",
        [0x0C] = "int32",         [0x0D] = "float32",     [0x0E] = "float64"};
    return t < sizeof names / sizeof names[0] && names[t] ? names[t] : "not an IDX type";
}

/* Reads and checks an IDX header of ndim dimensions of unsigned bytes; dims[] gets its sizes. */
static nnd_status read_header(idx_in *in, unsigned ndim, uint32_t *dims)
{
    const char *kind = ndim == IDX_IMAGE_DIMS ? "images" : "labels";
    const char *other = ndim == IDX_IMAGE_DIMS ? "labels" : "images";
    const unsigned other_ndim = ndim == IDX_IMAGE_DIMS ? IDX_LABEL_DIMS : IDX_IMAGE_DIMS;
    const unsigned hdr = 4 + 4 * ndim;
    unsigned char b[4 + 4 * IDX_IMAGE_DIMS];
    size_t got;
    nnd_status st = in_read(in, b, 4, &got);
    if (st != NND_OK) return st;
    if (got == 0)
        return nnd_err_set(NND_ERR_INPUT, "%s: file is empty, expected IDX %s", in->path, kind);
    if (got < 4)
        return nnd_err_set(NND_ERR_INPUT,
                           "%s: %zu bytes, too short for an IDX %s header (%u bytes)", in->path,
                           got, kind, hdr);
    uint32_t magic = (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
    if (b[0] != 0 || b[1] != 0)
        return nnd_err_set(NND_ERR_INPUT,
                           "%s: not an IDX file: magic 0x%08" PRIx32 ", expected 0x%08x (IDX %s)",
                           in->path, magic, IDX_MAGIC(ndim), kind);
    if (b[2] != IDX_UBYTE)
        return nnd_err_set(NND_ERR_INPUT,
                           "%s: magic 0x%08" PRIx32 ": element type 0x%02x (%s), expected 0x%02x "
                           "(unsigned byte; magic 0x%08x)",
                           in->path, magic, b[2], idx_type_name(b[2]), IDX_UBYTE, IDX_MAGIC(ndim));
    if (b[3] == other_ndim)
        return nnd_err_set(NND_ERR_INPUT,
                           "%s: magic 0x%08" PRIx32 " is an IDX %s file, expected %s (0x%08x); "
                           "are the images and labels files swapped?",
                           in->path, magic, other, kind, IDX_MAGIC(ndim));
    if (b[3] != ndim)
        return nnd_err_set(NND_ERR_INPUT,
                           "%s: magic 0x%08" PRIx32
                           ": %u dimensions, expected %u (magic 0x%08x, %s)",
                           in->path, magic, b[3], ndim, IDX_MAGIC(ndim),
                           ndim == IDX_IMAGE_DIMS ? "count x rows x cols" : "count");
    st = in_read(in, b + 4, 4 * ndim, &got);
    if (st != NND_OK) return st;
    if (got < 4 * ndim)
        return nnd_err_set(NND_ERR_INPUT,
                           "%s: truncated header: the file ends after %" PRIu64
                           " bytes, the IDX %s header has %u",
                           in->path, in->pos, kind, hdr);
    for (unsigned i = 0; i < ndim; i++) {
        const unsigned char *q = b + 4 + 4 * i;
        dims[i] = (uint32_t)q[0] << 24 | (uint32_t)q[1] << 16 | (uint32_t)q[2] << 8 | q[3];
    }
    return NND_OK;
}

/* Both headers agree and every size the conversion computes fits its type. */
static nnd_status check_shape(const char *images_path, const char *labels_path,
                              const uint32_t img[3], uint32_t n_labels, idx_shape *s)
{
    s->n = img[0];
    s->rows = img[1];
    s->cols = img[2];
    s->d = (uint64_t)img[1] * img[2]; /* < 2^64: two 32-bit factors */
    if (img[0] != n_labels)
        return nnd_err_set(NND_ERR_INPUT,
                           "%s holds %" PRIu32 " labels but %s holds %" PRIu32
                           " images; expected equal counts",
                           labels_path, n_labels, images_path, img[0]);
    if (s->n == 0)
        return nnd_err_set(NND_ERR_INPUT, "%s: header promises 0 images, expected at least 1",
                           images_path);
    if (s->rows == 0 || s->cols == 0 || s->rows > INT32_MAX || s->cols > INT32_MAX)
        return nnd_err_set(NND_ERR_INPUT,
                           "%s: image size %" PRIu32 "x%" PRIu32 ", expected rows and cols in "
                           "1..%d",
                           images_path, s->rows, s->cols, INT32_MAX);
    uint64_t bytes, floats;
    if (__builtin_mul_overflow((uint64_t)s->n, s->d, &bytes) ||
        __builtin_mul_overflow(bytes, (uint64_t)sizeof(float), &floats))
        return nnd_err_set(NND_ERR_INPUT,
                           "%s: header promises %" PRIu32 " images of %" PRIu32 "x%" PRIu32
                           ": the size overflows 64 bits",
                           images_path, s->n, s->rows, s->cols);
    return NND_OK;
}

/* Extracts the innermost HDF5 error's text (its strerror part when the file driver gave one). */
static herr_t h5_walk_innermost(unsigned n, const H5E_error2_t *e, void *data)
{
    char *out = data;
    if (n != 0 || !e->desc) return 0;
    const char *key = "error message = '";
    const char *m = strstr(e->desc, key);
    if (m) {
        m += strlen(key);
        const char *q = strchr(m, '\'');
        int len = q ? (int)(q - m) : (int)strlen(m);
        snprintf(out, 256, "%.*s", len, m);
    } else {
        snprintf(out, 256, "%s", e->desc);
    }
    return 0;
}

/* Formats the one message for a failed HDF5 call, adding HDF5's innermost reason. */
static nnd_status h5_fail(nnd_status st, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static nnd_status h5_fail(nnd_status st, const char *fmt, ...)
{
    char what[NND_ERR_MSG_MAX], why[256] = "";
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, h5_walk_innermost, why);
    return nnd_err_set(st, "%s: %s", what, why[0] ? why : "HDF5 error");
}

/* Writes one rectangle (rows i0.., cols j0..) of a 2-D dataset, or a run of a 1-D one (nj = 0). */
static herr_t write_block(hid_t dset, hid_t mem_type, const void *buf, uint64_t i0, size_t ni,
                          uint64_t j0, size_t nj)
{
    herr_t rc = -1;
    int rank = nj ? 2 : 1;
    hsize_t start[2] = {i0, j0}, count[2] = {ni, nj};
    hid_t fspace = H5Dget_space(dset), mspace = H5I_INVALID_HID;
    if (fspace < 0) return -1;
    if (H5Sselect_hyperslab(fspace, H5S_SELECT_SET, start, NULL, count, NULL) < 0) goto done;
    if ((mspace = H5Screate_simple(rank, count, NULL)) < 0) goto done;
    rc = H5Dwrite(dset, mem_type, mspace, fspace, H5P_DEFAULT, buf);
done:
    if (mspace >= 0) H5Sclose(mspace);
    H5Sclose(fspace);
    return rc;
}

/* Streams both inputs into a new HDF5 file at tmp. */
static nnd_status write_h5(const char *tmp, idx_in *img, idx_in *lab, const idx_shape *s,
                           size_t block_pixels)
{
    nnd_status st = NND_OK;
    hid_t file = H5I_INVALID_HID, xspace = H5I_INVALID_HID, yspace = H5I_INVALID_HID;
    hid_t xset = H5I_INVALID_HID, yset = H5I_INVALID_HID;
    unsigned char *pix = NULL, *lbl = NULL;
    float *xf = NULL;
    int32_t *yi = NULL;
    float lut[256];
    for (int v = 0; v < 256; v++) lut[v] = (float)v / 255.0f; /* correctly rounded v/255 */

    /* A block is `per` whole images, or a `piece` of one image when an image exceeds a block. */
    size_t per, piece;
    if (s->d <= block_pixels) {
        per = block_pixels / s->d < s->n ? block_pixels / s->d : s->n;
        piece = (size_t)s->d;
    } else {
        per = 1;
        piece = block_pixels;
    }
    pix = malloc(per * piece);
    xf = malloc(per * piece * sizeof *xf);
    lbl = malloc(per);
    yi = malloc(per * sizeof *yi);
    if (!pix || !xf || !lbl || !yi) {
        st = nnd_err_set(NND_ERR_NOMEM, "%s: out of memory for a block of %zu pixels", tmp,
                         per * piece);
        goto done;
    }

    if ((file = H5Fcreate(tmp, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT)) < 0) {
        st = h5_fail(NND_ERR_IO, "%s: cannot create HDF5 file", tmp);
        goto done;
    }
    if (nnd_h5_attr_write_str(file, "format", "nndist-dataset") < 0 ||
        nnd_h5_attr_write_str(file, "source_images", img->path) < 0 ||
        nnd_h5_attr_write_str(file, "source_labels", lab->path) < 0 ||
        nnd_h5_attr_write_i64(file, "image_rows", s->rows) < 0 ||
        nnd_h5_attr_write_i64(file, "image_cols", s->cols) < 0) {
        st = h5_fail(NND_ERR_IO, "%s: cannot write root attributes", tmp);
        goto done;
    }
    hsize_t xdims[2] = {s->n, s->d}, ydims[1] = {s->n};
    if ((xspace = H5Screate_simple(2, xdims, NULL)) < 0 ||
        (yspace = H5Screate_simple(1, ydims, NULL)) < 0) {
        st = h5_fail(NND_ERR_INTERNAL, "%s: cannot make dataspaces", tmp);
        goto done;
    }
    /* Default creation properties: contiguous layout, no fill writes before our data. */
    xset = H5Dcreate2(file, "X", H5T_IEEE_F32LE, xspace, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    if (xset < 0) {
        st = h5_fail(NND_ERR_IO, "%s: cannot create /X (%" PRIu32 " x %" PRIu64 " float32)", tmp,
                     s->n, s->d);
        goto done;
    }
    yset = H5Dcreate2(file, "y", H5T_STD_I32LE, yspace, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    if (yset < 0) {
        st = h5_fail(NND_ERR_IO, "%s: cannot create /y (%" PRIu32 " int32)", tmp, s->n);
        goto done;
    }

    const uint64_t img_total = 16 + (uint64_t)s->n * s->d, lab_total = 8 + (uint64_t)s->n;
    for (uint64_t i0 = 0; i0 < s->n; i0 += per) {
        size_t ni = s->n - i0 < per ? (size_t)(s->n - i0) : per, got;
        if ((st = in_read(lab, lbl, ni, &got)) != NND_OK) goto done;
        if (got < ni) {
            st = nnd_err_set(NND_ERR_INPUT,
                             "%s: truncated: header promises %" PRIu32 " labels (%" PRIu64
                             " bytes with the header) but the file ends after %" PRIu64 " bytes%s",
                             lab->path, s->n, lab_total, lab->pos,
                             in_cut(lab) ? " (decompressed; the gzip stream is cut short)" : "");
            goto done;
        }
        for (size_t k = 0; k < ni; k++) yi[k] = lbl[k];
        if (write_block(yset, H5T_NATIVE_INT32, yi, i0, ni, 0, 0) < 0) {
            st = h5_fail(NND_ERR_IO, "%s: cannot write /y[%" PRIu64 ":%" PRIu64 "]", tmp, i0,
                         i0 + ni);
            goto done;
        }
        for (uint64_t j0 = 0; j0 < s->d; j0 += piece) {
            size_t nj = s->d - j0 < piece ? (size_t)(s->d - j0) : piece, nb = ni * nj;
            int sig = nnd_guard_signal_pending(); /* a block is at most tens of milliseconds */
            if (sig) {
                st = nnd_err_set(NND_ERR_INTERRUPTED,
                                 "stopped by %s after %" PRIu64 " of %" PRIu32
                                 " images; nothing was saved",
                                 nnd_guard_signal_name(sig), i0, s->n);
                goto done;
            }
            if ((st = in_read(img, pix, nb, &got)) != NND_OK) goto done;
            if (got < nb) {
                st =
                    nnd_err_set(NND_ERR_INPUT,
                                "%s: truncated: header promises %" PRIu32 " images of %" PRIu32
                                "x%" PRIu32 " (%" PRIu64 " bytes with the header) but the file "
                                "ends after %" PRIu64 " bytes%s",
                                img->path, s->n, s->rows, s->cols, img_total, img->pos,
                                in_cut(img) ? " (decompressed; the gzip stream is cut short)" : "");
                goto done;
            }
            for (size_t k = 0; k < nb; k++) xf[k] = lut[pix[k]];
            if (write_block(xset, H5T_NATIVE_FLOAT, xf, i0, ni, j0, nj) < 0) {
                st = h5_fail(NND_ERR_IO, "%s: cannot write /X[%" PRIu64 ":%" PRIu64 "]", tmp, i0,
                             i0 + ni);
                goto done;
            }
        }
    }
    if ((st = in_drain(img, pix, per * piece)) != NND_OK) goto done;
    if ((st = in_drain(lab, pix, per * piece)) != NND_OK) goto done;

done:
    /* Closing flushes metadata, so a failed close is a failed write. */
    if (yset >= 0 && H5Dclose(yset) < 0 && st == NND_OK)
        st = h5_fail(NND_ERR_IO, "%s: cannot close /y", tmp);
    if (xset >= 0 && H5Dclose(xset) < 0 && st == NND_OK)
        st = h5_fail(NND_ERR_IO, "%s: cannot close /X", tmp);
    if (yspace >= 0) H5Sclose(yspace);
    if (xspace >= 0) H5Sclose(xspace);
    if (file >= 0 && H5Fclose(file) < 0 && st == NND_OK)
        st = h5_fail(NND_ERR_IO, "%s: cannot close HDF5 file", tmp);
    free(yi);
    free(lbl);
    free(xf);
    free(pix);
    return st;
}

static int same_file(const char *a, const char *b)
{
    struct stat sa, sb;
    return stat(a, &sa) == 0 && stat(b, &sb) == 0 && sa.st_dev == sb.st_dev &&
           sa.st_ino == sb.st_ino;
}

nnd_status nnd_idx_convert_blocked(const char *images_path, const char *labels_path,
                                   const char *out_path, size_t block_pixels, size_t *n_out)
{
    if (n_out) *n_out = 0;
    if (!images_path || !labels_path || !out_path || block_pixels == 0)
        return nnd_err_set(NND_ERR_INTERNAL, "nnd_idx_convert: null path or zero block size");
    idx_in img = {0}, lab = {0};
    nnd_atomic out;
    nnd_status st = nnd_atomic_begin(&out, out_path);
    if (st != NND_OK) return st;

    /* Returns without nnd_atomic_abort: when the temporary is an input, removing it would
     * delete the input. */
    const char *ins[2] = {images_path, labels_path}, *outs[2] = {out_path, out.tmp};
    for (int i = 0; i < 2; i++)
        for (int o = 0; o < 2; o++)
            if (same_file(ins[i], outs[o]))
                return nnd_err_set(NND_ERR_INPUT, "%s: output path %s is this input file", ins[i],
                                   outs[o]);

    uint32_t idims[3] = {0}, ldims[1] = {0};
    idx_shape shape;
    if ((st = in_open(&img, images_path)) != NND_OK) goto done;
    if ((st = read_header(&img, IDX_IMAGE_DIMS, idims)) != NND_OK) goto done;
    if ((st = in_open(&lab, labels_path)) != NND_OK) goto done;
    if ((st = read_header(&lab, IDX_LABEL_DIMS, ldims)) != NND_OK) goto done;
    if ((st = check_shape(images_path, labels_path, idims, ldims[0], &shape)) != NND_OK) goto done;

    /* Our one message replaces HDF5's printed error stack; the caller's handler comes back. */
    nnd_h5_quiet quiet;
    nnd_h5_silence(&quiet);
    st = write_h5(out.tmp, &img, &lab, &shape, block_pixels);
    nnd_h5_restore(&quiet);
    if (st != NND_OK) goto done;
    if ((st = nnd_atomic_commit(&out)) != NND_OK) goto done;
    if (n_out) *n_out = shape.n;

done:
    nnd_atomic_abort(&out);
    if (lab.gz) gzclose(lab.gz);
    if (img.gz) gzclose(img.gz);
    return st;
}

nnd_status nnd_idx_convert(const char *images_path, const char *labels_path, const char *out_path,
                           size_t *n_out)
{
    return nnd_idx_convert_blocked(images_path, labels_path, out_path, NND_IDX_BLOCK_PIXELS, n_out);
}
