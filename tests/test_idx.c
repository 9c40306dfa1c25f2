/* The IDX to HDF5 converter: exact values and layout from plain and gzipped inputs, every block
 * size of the conversion loop, and each rejected input leaving an existing output untouched. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <hdf5.h>
#include <zlib.h>

#include "nndist/h5util.h"
#include "nndist/idx.h"

#define MAGIC_IMAGES 0x00000803u
#define MAGIC_LABELS 0x00000801u

/* The small data set most tests use: 5 images of 3x4 and their labels. */
#define N    5
#define ROWS 3
#define COLS 4
#define D    (ROWS * COLS)

typedef struct {
    char dir[64];
    unsigned char pix[N * D], lab[N];
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    if (!f) return -1;
    strcpy(f->dir, "/tmp/nnd_idx_XXXXXX");
    if (!mkdtemp(f->dir)) {
        free(f);
        return -1;
    }
    /* 0, 51, 102, 153, 204, 255, 50, ...: both ends of the range and the 51 -> 0.2 case. */
    for (int i = 0; i < N * D; i++) f->pix[i] = (unsigned char)((i * 51) % 256);
    for (int i = 0; i < N; i++) f->lab[i] = (unsigned char)((i * 7) % 10);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    DIR *d = opendir(f->dir);
    if (d) {
        struct dirent *e;
        char p[512];
        while ((e = readdir(d))) {
            if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
            snprintf(p, sizeof p, "%s/%s", f->dir, e->d_name);
            unlink(p);
        }
        closedir(d);
    }
    rmdir(f->dir);
    free(f);
    return 0;
}

/* dir/name in a static ring of buffers: a test may hold up to 32 paths at once. */
static const char *path(const fixture *f, const char *name)
{
    static char ring[32][256];
    static int next;
    char *p = ring[next++ % 32];
    snprintf(p, 256, "%s/%s", f->dir, name);
    return p;
}

static void write_bytes(const char *p, const void *data, size_t n, int gz)
{
    if (gz) {
        gzFile g = gzopen(p, "wb");
        assert_non_null(g);
        if (n) assert_int_equal(gzwrite(g, data, (unsigned)n), (int)n);
        assert_int_equal(gzclose(g), Z_OK);
    } else {
        FILE *fp = fopen(p, "wb");
        assert_non_null(fp);
        if (n) assert_int_equal(fwrite(data, 1, n, fp), n);
        assert_int_equal(fclose(fp), 0);
    }
}

/* An IDX file: big-endian magic and dims, then n data bytes (any n: short or with extra). */
static void write_idx(const char *p, int gz, uint32_t magic, const uint32_t *dims, int ndim,
                      const unsigned char *data, size_t n)
{
    assert_in_range(ndim, 1, 4);
    size_t hdr = 4 + 4 * (size_t)ndim;
    unsigned char *buf = malloc(hdr + n + 1);
    assert_non_null(buf);
    uint32_t words[5] = {magic}; /* magic + up to 4 dims */
    for (int i = 0; i < ndim; i++) words[1 + i] = dims[i];
    for (int w = 0; w <= ndim; w++)
        for (int b = 0; b < 4; b++) buf[4 * w + b] = (unsigned char)(words[w] >> (24 - 8 * b));
    if (n) memcpy(buf + hdr, data, n);
    write_bytes(p, buf, hdr + n, gz);
    free(buf);
}

static void write_images(const fixture *f, const char *p, int gz, size_t n_bytes)
{
    const uint32_t dims[3] = {N, ROWS, COLS};
    write_idx(p, gz, MAGIC_IMAGES, dims, 3, f->pix, n_bytes);
}

static void write_labels(const fixture *f, const char *p, int gz, uint32_t count, size_t n_bytes)
{
    write_idx(p, gz, MAGIC_LABELS, &count, 1, f->lab, n_bytes);
}

static unsigned char *read_all(const char *p, size_t *n)
{
    FILE *fp = fopen(p, "rb");
    assert_non_null(fp);
    assert_int_equal(fseek(fp, 0, SEEK_END), 0);
    long len = ftell(fp);
    assert_true(len >= 0);
    rewind(fp);
    unsigned char *buf = malloc((size_t)len + 1);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, (size_t)len, fp), (size_t)len);
    fclose(fp);
    *n = (size_t)len;
    return buf;
}

/* Read with plain HDF5 calls, and with the project's reader (what `nndist info` shows). */
static void check_string_attr(hid_t file, const char *name, const char *want)
{
    hid_t a = H5Aopen(file, name, H5P_DEFAULT);
    assert_true(a >= 0);
    hid_t ftype = H5Aget_type(a);
    assert_true(H5Tget_class(ftype) == H5T_STRING);
    assert_true(H5Tis_variable_str(ftype) == 0);
    size_t len = H5Tget_size(ftype);
    char buf[512];
    assert_true(len < sizeof buf);
    hid_t mtype = H5Tcopy(H5T_C_S1);
    assert_true(H5Tset_size(mtype, len + 1) >= 0);
    assert_true(H5Tset_strpad(mtype, H5T_STR_NULLTERM) >= 0);
    assert_true(H5Aread(a, mtype, buf) >= 0);
    assert_string_equal(buf, want);
    H5Tclose(mtype);
    H5Tclose(ftype);
    H5Aclose(a);
    assert_int_equal(nnd_h5_attr_read_str(file, name, buf, sizeof buf), 0);
    assert_string_equal(buf, want);
}

static int64_t read_int_attr(hid_t file, const char *name)
{
    int64_t v = -1;
    hid_t a = H5Aopen(file, name, H5P_DEFAULT);
    assert_true(a >= 0);
    hid_t t = H5Aget_type(a);
    assert_true(H5Tget_class(t) == H5T_INTEGER);
    H5Tclose(t);
    assert_true(H5Aread(a, H5T_NATIVE_INT64, &v) >= 0);
    H5Aclose(a);
    return v;
}

/* Opens dataset name, checks its file type, rank-r shape and contiguous layout. */
static hid_t open_dataset(hid_t file, const char *name, hid_t want_type, int r,
                          const hsize_t *want_dims)
{
    hid_t ds = H5Dopen2(file, name, H5P_DEFAULT);
    assert_true(ds >= 0);
    hid_t t = H5Dget_type(ds);
    assert_true(H5Tequal(t, want_type) > 0);
    H5Tclose(t);
    hid_t sp = H5Dget_space(ds);
    hsize_t dims[2] = {0, 0};
    assert_int_equal(H5Sget_simple_extent_ndims(sp), r);
    H5Sget_simple_extent_dims(sp, dims, NULL);
    for (int i = 0; i < r; i++) assert_int_equal(dims[i], want_dims[i]);
    H5Sclose(sp);
    hid_t dcpl = H5Dget_create_plist(ds);
    assert_int_equal(H5Pget_layout(dcpl), H5D_CONTIGUOUS);
    H5Pclose(dcpl);
    return ds;
}

/* The output holds exactly the fixture's data, with its attributes, and no .tmp is left. */
static void check_output(const fixture *f, const char *out, const char *img, const char *lab)
{
    hid_t file = H5Fopen(out, H5F_ACC_RDONLY, H5P_DEFAULT);
    assert_true(file >= 0);
    check_string_attr(file, "format", "nndist-dataset");
    check_string_attr(file, "source_images", img);
    check_string_attr(file, "source_labels", lab);
    assert_int_equal(read_int_attr(file, "image_rows"), ROWS);
    assert_int_equal(read_int_attr(file, "image_cols"), COLS);

    const hsize_t xdims[2] = {N, D}, ydims[1] = {N};
    float x[N * D];
    int32_t y[N];
    hid_t ds = open_dataset(file, "X", H5T_IEEE_F32LE, 2, xdims);
    assert_true(H5Dread(ds, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, x) >= 0);
    H5Dclose(ds);
    ds = open_dataset(file, "y", H5T_STD_I32LE, 1, ydims);
    assert_true(H5Dread(ds, H5T_NATIVE_INT32, H5S_ALL, H5S_ALL, H5P_DEFAULT, y) >= 0);
    H5Dclose(ds);
    H5Fclose(file);

    int seen_0 = 0, seen_51 = 0, seen_255 = 0, count = 0;
    for (int i = 0; i < N * D; i++, count++) {
        assert_true(x[i] == (float)f->pix[i] / 255.0f);
        if (f->pix[i] == 0) {
            seen_0 = 1;
            assert_true(x[i] == 0.0f);
        }
        if (f->pix[i] == 255) {
            seen_255 = 1;
            assert_true(x[i] == 1.0f);
        }
        if (f->pix[i] == 51) {
            seen_51 = 1;
            assert_true(fabsf(x[i] - 0.2f) <= 1e-7f);
        }
    }
    assert_int_equal(count, N * D);
    assert_true(seen_0 && seen_51 && seen_255);
    for (int i = 0; i < N; i++) assert_int_equal(y[i], f->lab[i]);

    char tmp[300];
    snprintf(tmp, sizeof tmp, "%s.%ld.tmp", out, (long)getpid());
    assert_int_not_equal(access(tmp, F_OK), 0);
}

static void convert_ok(const fixture *f, const char *img, const char *lab, const char *out)
{
    size_t n = 0;
    nnd_status st = nnd_idx_convert(img, lab, out, &n);
    if (st != NND_OK) fail_msg("conversion failed: %s", nnd_err_msg());
    assert_int_equal(n, N);
    check_output(f, out, img, lab);
}

/* The conversion fails with want, its message names `names` and has `phrase`; an existing output
 * (created here when absent) stays byte-identical and no .tmp is left behind. */
static void expect_fail(const fixture *f, const char *img, const char *lab, nnd_status want,
                        const char *names, const char *phrase)
{
    char out[256], tmp[300];
    snprintf(out, sizeof out, "%s/out.h5", f->dir);
    snprintf(tmp, sizeof tmp, "%s.%ld.tmp", out, (long)getpid());
    if (access(out, F_OK) != 0) write_bytes(out, "previous contents\n", 18, 0);
    size_t before_n, after_n;
    unsigned char *before = read_all(out, &before_n);

    H5E_auto2_t func0 = NULL, func1 = NULL;
    void *data0 = NULL, *data1 = NULL;
    H5Eget_auto2(H5E_DEFAULT, &func0, &data0);
    size_t n = 99;
    nnd_err_clear();
    nnd_status st = nnd_idx_convert(img, lab, out, &n);
    H5Eget_auto2(H5E_DEFAULT, &func1, &data1);
    assert_true(func0 == func1 && data0 == data1); /* HDF5's printing is back as it was */

    if (st != want)
        fail_msg("status %d (%s), expected %d; message: %s", st, nnd_status_text(st), want,
                 nnd_err_msg());
    assert_int_equal(n, 0);
    const char *msg = nnd_err_msg();
    if (!strstr(msg, names)) fail_msg("message does not name %s: %s", names, msg);
    if (phrase && !strstr(msg, phrase)) fail_msg("message lacks \"%s\": %s", phrase, msg);
    assert_null(strchr(msg, '\n'));

    unsigned char *after = read_all(out, &after_n);
    assert_int_equal(after_n, before_n);
    assert_memory_equal(after, before, before_n);
    free(before);
    free(after);
    assert_int_not_equal(access(tmp, F_OK), 0);
}

static void test_plain(void **state)
{
    fixture *f = *state;
    const char *img = path(f, "img"), *lab = path(f, "lab");
    write_images(f, img, 0, N * D);
    write_labels(f, lab, 0, N, N);
    convert_ok(f, img, lab, path(f, "out.h5"));
}

static void test_gzip_and_mixed(void **state)
{
    fixture *f = *state;
    const char *img = path(f, "img.gz"), *lab = path(f, "lab.gz");
    const char *img_plain = path(f, "img"), *lab_plain = path(f, "lab");
    write_images(f, img, 1, N * D);
    write_labels(f, lab, 1, N, N);
    write_images(f, img_plain, 0, N * D);
    write_labels(f, lab_plain, 0, N, N);
    convert_ok(f, img, lab, path(f, "out.h5"));
    convert_ok(f, img_plain, lab, path(f, "out.h5")); /* replaces the previous output */
    convert_ok(f, img, lab_plain, path(f, "out2.h5"));
}

static void test_trailing_bytes_ignored(void **state)
{
    fixture *f = *state;
    unsigned char pix_extra[N * D + 7], lab_extra[N + 3];
    memcpy(pix_extra, f->pix, N * D);
    memset(pix_extra + N * D, 0xAB, 7);
    memcpy(lab_extra, f->lab, N);
    memset(lab_extra + N, 0xCD, 3);
    const uint32_t dims[3] = {N, ROWS, COLS}, count = N;
    for (int gz = 0; gz < 2; gz++) {
        const char *img = path(f, "img"), *lab = path(f, "lab");
        write_idx(img, gz, MAGIC_IMAGES, dims, 3, pix_extra, sizeof pix_extra);
        write_idx(lab, gz, MAGIC_LABELS, &count, 1, lab_extra, sizeof lab_extra);
        convert_ok(f, img, lab, path(f, "out.h5"));
    }
    /* Bytes after a gzip stream's end (not a gzip member) are ignored too. */
    const char *img = path(f, "img.gz"), *lab = path(f, "lab");
    write_images(f, img, 1, N * D);
    FILE *fp = fopen(img, "ab");
    assert_non_null(fp);
    assert_int_equal(fwrite("garbage", 1, 7, fp), 7);
    assert_int_equal(fclose(fp), 0);
    write_labels(f, lab, 0, N, N);
    convert_ok(f, img, lab, path(f, "out.h5"));
}

/* Every block size: several whole images per block with a remainder, one image, and pieces of an
 * image (block smaller than rows*cols) with a short last piece. */
static void test_block_sizes(void **state)
{
    fixture *f = *state;
    const char *img = path(f, "img.gz"), *lab = path(f, "lab");
    write_images(f, img, 1, N * D);
    write_labels(f, lab, 0, N, N);
    const size_t blocks[] = {1, 5, 7, 11, 12, 13, 24, 25, 36, 59, 60, 61, 1000};
    for (size_t b = 0; b < sizeof blocks / sizeof blocks[0]; b++) {
        size_t n = 0;
        const char *out = path(f, "blocks.h5");
        nnd_status st = nnd_idx_convert_blocked(img, lab, out, blocks[b], &n);
        if (st != NND_OK) fail_msg("block %zu: %s", blocks[b], nnd_err_msg());
        assert_int_equal(n, N);
        check_output(f, out, img, lab);
    }
}

static void test_bad_magic(void **state)
{
    fixture *f = *state;
    const char *img = path(f, "bad-images"), *lab = path(f, "lab");
    const uint32_t dims3[3] = {N, ROWS, COLS}, dims4[4] = {N, ROWS, COLS, 1};
    write_labels(f, lab, 0, N, N);

    write_idx(img, 0, 0x08000803u, dims3, 3, f->pix, N * D);
    expect_fail(f, img, lab, NND_ERR_INPUT, img, "not an IDX file");
    write_idx(img, 1, 0x00000D03u, dims3, 3, f->pix, N * D); /* float32 elements */
    expect_fail(f, img, lab, NND_ERR_INPUT, img, "expected 0x08");
    write_idx(img, 0, 0x00000804u, dims4, 4, f->pix, N * D);
    expect_fail(f, img, lab, NND_ERR_INPUT, img, "4 dimensions, expected 3");
    write_bytes(img, "hello, world\n", 13, 0);
    expect_fail(f, img, lab, NND_ERR_INPUT, img, "0x68656c6c");
    write_bytes(img, "", 0, 0);
    expect_fail(f, img, lab, NND_ERR_INPUT, img, "empty");
    write_bytes(img, "\0\0\x08\x03\0\0", 6, 0);
    expect_fail(f, img, lab, NND_ERR_INPUT, img, "truncated header");

    /* Labels where images belong (arguments swapped). */
    expect_fail(f, lab, img, NND_ERR_INPUT, lab, "swapped");
    /* A labels file with an images header. */
    write_images(f, img, 0, N * D);
    expect_fail(f, img, img, NND_ERR_INPUT, img, "swapped");
}

static void test_count_mismatch(void **state)
{
    fixture *f = *state;
    const char *img = path(f, "img"), *lab = path(f, "short-labels");
    write_images(f, img, 0, N * D);
    write_labels(f, lab, 1, N - 1, N - 1);
    expect_fail(f, img, lab, NND_ERR_INPUT, lab, "holds 4 labels but");
    expect_fail(f, img, lab, NND_ERR_INPUT, img, "holds 5 images");
}

static void test_truncated(void **state)
{
    fixture *f = *state;
    const char *img = path(f, "cut-images"), *lab = path(f, "labels"), *out = path(f, "out.h5");
    write_labels(f, lab, 0, N, N);
    /* A real previous output, which must survive the failures byte for byte. */
    write_images(f, img, 0, N * D);
    convert_ok(f, img, lab, out);

    write_images(f, img, 0, 2 * D + 3);
    expect_fail(f, img, lab, NND_ERR_INPUT, img,
                "truncated: header promises 5 images of 3x4 (76 bytes with the header) but the "
                "file ends after 43 bytes");
    write_images(f, img, 1, N * D - 1);
    expect_fail(f, img, lab, NND_ERR_INPUT, img, "file ends after 75 bytes");
    write_images(f, img, 0, 0);
    expect_fail(f, img, lab, NND_ERR_INPUT, img, "ends after 16 bytes");

    write_images(f, img, 0, N * D);
    write_labels(f, lab, 0, N, 2);
    expect_fail(f, img, lab, NND_ERR_INPUT, lab,
                "truncated: header promises 5 labels (13 bytes with the header) but the file ends "
                "after 10 bytes");
    /* Small blocks: the loop meets the end of the labels file after writing some blocks. */
    assert_int_equal(nnd_idx_convert_blocked(img, lab, out, 13, NULL), NND_ERR_INPUT);
    check_output(f, out, path(f, "cut-images"), path(f, "labels"));
}

/* A gzip file cut in its compressed bytes, and one whose CRC does not match its data. */
static void test_damaged_gzip(void **state)
{
    fixture *f = *state;
    enum { BIG_N = 200, BIG_D = 28 * 28 };
    unsigned char *pix = malloc(BIG_N * BIG_D), lab[BIG_N];
    assert_non_null(pix);
    /* Poorly compressible bytes, so that the gzip file is long enough to cut in the middle. */
    uint32_t r = 12345;
    for (size_t i = 0; i < BIG_N * BIG_D; i++) {
        r = r * 1664525u + 1013904223u;
        pix[i] = (unsigned char)(r >> 24);
    }
    memset(lab, 3, sizeof lab);
    const uint32_t dims[3] = {BIG_N, 28, 28}, count = BIG_N;
    const char *img = path(f, "img.gz"), *lb = path(f, "lab.gz");
    write_idx(lb, 1, MAGIC_LABELS, &count, 1, lab, BIG_N);
    write_idx(img, 1, MAGIC_IMAGES, dims, 3, pix, BIG_N * BIG_D);
    assert_int_equal(nnd_idx_convert(img, lb, path(f, "ok.h5"), NULL), NND_OK);

    size_t n;
    unsigned char *gz = read_all(img, &n);
    assert_true(n > 1000);
    write_bytes(img, gz, n / 2, 0);
    expect_fail(f, img, lb, NND_ERR_INPUT, img, "gzip stream is cut short");
    write_bytes(img, gz, n - 6, 0); /* all data, part of the CRC/size trailer */
    expect_fail(f, img, lb, NND_ERR_INPUT, img, "CRC trailer is missing");
    gz[n - 8] ^= 0x5A; /* the CRC32 of the trailer */
    write_bytes(img, gz, n, 0);
    expect_fail(f, img, lb, NND_ERR_INPUT, img, "corrupt gzip data");
    free(gz);
    free(pix);
}

static void test_missing_file(void **state)
{
    fixture *f = *state;
    const char *img = path(f, "img"), *lab = path(f, "lab"), *none = path(f, "no-such-file");
    write_images(f, img, 0, N * D);
    write_labels(f, lab, 0, N, N);
    expect_fail(f, none, lab, NND_ERR_INPUT, none, "No such file");
    expect_fail(f, img, none, NND_ERR_INPUT, none, "No such file");
    expect_fail(f, f->dir, lab, NND_ERR_INPUT, f->dir, "read failed");
}

/* Headers whose sizes overflow, are zero, or promise gigabytes fail fast without allocating. */
static void test_bad_sizes(void **state)
{
    fixture *f = *state;
    const char *img = path(f, "huge"), *lab = path(f, "lab");
    const uint32_t big = 0xFFFFFFFFu;
    const uint32_t over[3] = {big, INT32_MAX, INT32_MAX}, zero_n[3] = {0, 28, 28},
                   zero_c[3] = {N, 28, 0};
    const uint32_t one_huge[3] = {1, 65535, 65535}, wide[3] = {N, 1, 0x80000000u};

    write_idx(img, 0, MAGIC_IMAGES, over, 3, NULL, 0);
    write_idx(lab, 0, MAGIC_LABELS, &big, 1, NULL, 0);
    expect_fail(f, img, lab, NND_ERR_INPUT, img, "overflows 64 bits");

    uint32_t count = 0;
    write_idx(img, 0, MAGIC_IMAGES, zero_n, 3, NULL, 0);
    write_idx(lab, 0, MAGIC_LABELS, &count, 1, NULL, 0);
    expect_fail(f, img, lab, NND_ERR_INPUT, img, "promises 0 images");

    count = N;
    write_idx(lab, 0, MAGIC_LABELS, &count, 1, f->lab, N);
    write_idx(img, 0, MAGIC_IMAGES, zero_c, 3, NULL, 0);
    expect_fail(f, img, lab, NND_ERR_INPUT, img, "image size 28x0");
    write_idx(img, 0, MAGIC_IMAGES, wide, 3, NULL, 0);
    expect_fail(f, img, lab, NND_ERR_INPUT, img, "image size 1x2147483648");

    /* One 4-gigapixel image: converted in pieces, so the failure costs a block, not 20 GB. */
    count = 1;
    write_idx(lab, 0, MAGIC_LABELS, &count, 1, f->lab, 1);
    write_idx(img, 1, MAGIC_IMAGES, one_huge, 3, f->pix, N * D);
    expect_fail(f, img, lab, NND_ERR_INPUT, img, "ends after 76 bytes");
}

static void test_output_errors(void **state)
{
    fixture *f = *state;
    const char *img = path(f, "img"), *lab = path(f, "lab");
    write_images(f, img, 0, N * D);
    write_labels(f, lab, 0, N, N);

    const char *out = path(f, "no-such-dir/out.h5");
    nnd_status st = nnd_idx_convert(img, lab, out, NULL);
    assert_int_equal(st, NND_ERR_IO);
    char want[64];
    snprintf(want, sizeof want, "no-such-dir/out.h5.%ld.tmp: cannot create HDF5 file",
             (long)getpid());
    if (!strstr(nnd_err_msg(), want)) fail_msg("unexpected message: %s", nnd_err_msg());

    /* The output may not overwrite an input. */
    size_t n0, n1;
    unsigned char *before = read_all(img, &n0);
    assert_int_equal(nnd_idx_convert(img, lab, img, NULL), NND_ERR_INPUT);
    assert_non_null(strstr(nnd_err_msg(), "is this input file"));
    unsigned char *after = read_all(img, &n1);
    assert_int_equal(n0, n1);
    assert_memory_equal(before, after, n0);
    free(before);
    free(after);
}

/* The real Fashion-MNIST test split, when the machine has it. */
static void test_fashion_mnist_t10k(void **state)
{
    fixture *f = *state;
    const char *img = "/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz";
    const char *lab = "/usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz";
    if (access(img, R_OK) != 0 || access(lab, R_OK) != 0) skip();
    const char *out = path(f, "t10k.h5");
    size_t n = 0;
    nnd_status st = nnd_idx_convert(img, lab, out, &n);
    if (st != NND_OK) fail_msg("%s", nnd_err_msg());
    assert_int_equal(n, 10000);

    hid_t file = H5Fopen(out, H5F_ACC_RDONLY, H5P_DEFAULT);
    assert_true(file >= 0);
    assert_int_equal(read_int_attr(file, "image_rows"), 28);
    assert_int_equal(read_int_attr(file, "image_cols"), 28);
    const hsize_t ydims[1] = {10000};
    hid_t ds = open_dataset(file, "y", H5T_STD_I32LE, 1, ydims);
    int32_t *y = malloc(10000 * sizeof *y);
    assert_non_null(y);
    assert_true(H5Dread(ds, H5T_NATIVE_INT32, H5S_ALL, H5S_ALL, H5P_DEFAULT, y) >= 0);
    int per_class[10] = {0};
    for (int i = 0; i < 10000; i++) {
        assert_in_range(y[i], 0, 9);
        per_class[y[i]]++;
    }
    for (int c = 0; c < 10; c++) assert_int_equal(per_class[c], 1000);
    free(y);
    H5Dclose(ds);
    H5Fclose(file);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_plain, setup, teardown),
        cmocka_unit_test_setup_teardown(test_gzip_and_mixed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_trailing_bytes_ignored, setup, teardown),
        cmocka_unit_test_setup_teardown(test_block_sizes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_magic, setup, teardown),
        cmocka_unit_test_setup_teardown(test_count_mismatch, setup, teardown),
        cmocka_unit_test_setup_teardown(test_truncated, setup, teardown),
        cmocka_unit_test_setup_teardown(test_damaged_gzip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_missing_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_sizes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_output_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fashion_mnist_t10k, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
