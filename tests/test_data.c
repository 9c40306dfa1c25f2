/* The HDF5 dataset reader (data.h): shapes and types it accepts, rows it reads (copied or
 * mapped), and the bad files and values it refuses with a message naming them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <hdf5.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "nndist/data.h"

#include "scratch_dir.h"

static hid_t create_file(const char *path)
{
    hid_t f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    assert_true(f >= 0);
    return f;
}

/* A dataset of rank 1 or 2 (cols == 0: 1-D) stored as file_type, written from mem_type. */
static void put(hid_t f, const char *name, hid_t file_type, hid_t mem_type, hsize_t rows,
                hsize_t cols, const void *data)
{
    hsize_t dims[2] = {rows, cols};
    hid_t sp = H5Screate_simple(cols ? 2 : 1, dims, NULL);
    assert_true(sp >= 0);
    hid_t d = H5Dcreate2(f, name, file_type, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    assert_true(d >= 0);
    assert_true(H5Dwrite(d, mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) >= 0);
    H5Dclose(d);
    H5Sclose(sp);
}

static void assert_msg_has(const char *needle)
{
    if (!strstr(nnd_err_msg(), needle))
        fail_msg("message '%s' does not contain '%s'", nnd_err_msg(), needle);
}

/* A good file: /X uint8 (5, 3) = 0..14, /y int64 labels. */
static void write_good(const char *path)
{
    uint8_t X[15];
    for (int i = 0; i < 15; i++) X[i] = (uint8_t)(i * 17);
    const int64_t y[5] = {0, 1, 2, 1, 0};
    hid_t f = create_file(path);
    put(f, "X", H5T_STD_U8LE, H5T_NATIVE_UINT8, 5, 3, X);
    put(f, "y", H5T_STD_I64LE, H5T_NATIVE_INT64, 5, 0, y);
    H5Fclose(f);
}

static void test_load_round_trip(void **state)
{
    (void)state;
    char path[256];
    scratch_path(path, sizeof path, "good.h5");
    write_good(path);
    nnd_data_shape sh;
    assert_int_equal(nnd_data_probe(path, "/X", "/y", &sh), NND_OK);
    assert_int_equal(sh.n, 5);
    assert_int_equal(sh.d, 3);
    assert_int_equal(sh.k_targets, 0);

    nnd_dataset ds;
    assert_int_equal(nnd_data_load(&ds, path, "/X", "/y", &sh, 0, 5, 3), NND_OK);
    assert_int_equal(ds.lo, 0);
    assert_int_equal(ds.hi, 5);
    assert_non_null(ds.labels);
    assert_null(ds.targets);
    /* uint8 is converted to float exactly (0, 17, ..., 238). */
    for (int i = 0; i < 15; i++) assert_true(ds.x[i] == (float)(i * 17));
    const int32_t want_y[5] = {0, 1, 2, 1, 0};
    assert_memory_equal(ds.labels, want_y, sizeof want_y);
    nnd_data_free(&ds);

    /* A rank's slice: rows [1, 4). */
    assert_int_equal(nnd_data_load(&ds, path, "/X", "/y", &sh, 1, 4, 3), NND_OK);
    for (int i = 0; i < 9; i++) assert_true(ds.x[i] == (float)((i + 3) * 17));
    assert_memory_equal(ds.labels, want_y + 1, 3 * sizeof *want_y);
    nnd_data_free(&ds);

    /* Other dataset names (the --x-name / --y-name flags): float64 X, (N, K) float targets. */
    scratch_path(path, sizeof path, "targets.h5");
    const double X[8] = {0.5, -1.25, 2.0, 3.0, 1e-3, -7.0, 8.5, 0.0};
    const float T[8] = {1.0f, 0.0f, 0.0f, 1.0f, 0.25f, 0.75f, -1.0f, 2.0f};
    hid_t f = create_file(path);
    hid_t g = H5Gcreate2(f, "data", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    H5Gclose(g);
    put(f, "data/inputs", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 4, 2, X);
    put(f, "data/targets", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 4, 2, T);
    H5Fclose(f);
    assert_int_equal(nnd_data_probe(path, "/data/inputs", "/data/targets", &sh), NND_OK);
    assert_int_equal(sh.n, 4);
    assert_int_equal(sh.d, 2);
    assert_int_equal(sh.k_targets, 2);
    assert_int_equal(nnd_data_load(&ds, path, "/data/inputs", "/data/targets", &sh, 0, 4, 0),
                     NND_OK);
    assert_null(ds.labels);
    for (int i = 0; i < 8; i++) {
        assert_true(ds.x[i] == (float)X[i]);
        assert_true(ds.targets[i] == T[i]);
    }
    nnd_data_free(&ds);
}

/* A float32 /X of 1000 rows x 37 features (rows straddle pages) written in the given layout. */
static void write_floats(const char *path, hid_t file_type, int chunked, hsize_t userblock)
{
    enum { ROWS = 1000, COLS = 37 };
    static float X[ROWS * COLS];
    int32_t y[ROWS];
    for (int i = 0; i < ROWS * COLS; i++) X[i] = (float)i * 0.5f - 7.25f;
    for (int i = 0; i < ROWS; i++) y[i] = i % 3;
    hid_t fcpl = H5Pcreate(H5P_FILE_CREATE);
    if (userblock) H5Pset_userblock(fcpl, userblock);
    hid_t f = H5Fcreate(path, H5F_ACC_TRUNC, fcpl, H5P_DEFAULT);
    assert_true(f >= 0);
    H5Pclose(fcpl);
    hsize_t dims[2] = {ROWS, COLS}, chunk[2] = {64, COLS};
    hid_t sp = H5Screate_simple(2, dims, NULL), dcpl = H5Pcreate(H5P_DATASET_CREATE);
    if (chunked) {
        H5Pset_chunk(dcpl, 2, chunk);
        H5Pset_deflate(dcpl, 1);
    }
    hid_t d = H5Dcreate2(f, "X", file_type, sp, H5P_DEFAULT, dcpl, H5P_DEFAULT);
    assert_true(d >= 0);
    assert_true(H5Dwrite(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, X) >= 0);
    H5Dclose(d);
    H5Pclose(dcpl);
    H5Sclose(sp);
    put(f, "y", H5T_STD_I32LE, H5T_NATIVE_INT32, ROWS, 0, y);
    H5Fclose(f);
}

/* Contiguous little-endian float32 features are mapped from the file rather than read; every
 * other layout (chunked and compressed, big-endian, a user block before the HDF5 data) and
 * NNDIST_MMAP=0 read them. Either way a rank's rows hold the same values. */
static void test_load_mapped(void **state)
{
    (void)state;
    struct {
        const char *name;
        hid_t type;
        int chunked;
        hsize_t userblock;
        int env_off, want_map;
    } cases[] = {
        {"contig.h5", H5T_IEEE_F32LE, 0, 0, 0, 1},       {"contig.h5", H5T_IEEE_F32LE, 0, 0, 1, 0},
        {"chunked.h5", H5T_IEEE_F32LE, 1, 0, 0, 0},      {"be.h5", H5T_IEEE_F32BE, 0, 0, 0, 0},
        {"userblock.h5", H5T_IEEE_F32LE, 0, 512, 0, -1},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        char path[256];
        scratch_path(path, sizeof path, cases[c].name);
        write_floats(path, cases[c].type, cases[c].chunked, cases[c].userblock);
        if (cases[c].env_off) setenv("NNDIST_MMAP", "0", 1);
        nnd_data_shape sh;
        nnd_dataset ds;
        assert_int_equal(nnd_data_probe(path, "/X", "/y", &sh), NND_OK);
        assert_int_equal(nnd_data_load(&ds, path, "/X", "/y", &sh, 123, 877, 3), NND_OK);
        unsetenv("NNDIST_MMAP");
        if (cases[c].want_map >= 0 && (ds.map != NULL) != cases[c].want_map)
            fail_msg("%s (NNDIST_MMAP=%s): %s", cases[c].name, cases[c].env_off ? "0" : "unset",
                     ds.map ? "mapped" : "read");
        for (size_t i = 0; i < (877 - 123) * 37; i++)
            if (ds.x[i] != (float)(123 * 37 + i) * 0.5f - 7.25f)
                fail_msg("%s: feature %zu is %g", cases[c].name, i, ds.x[i]);
        for (size_t i = 0; i < 877 - 123; i++) assert_int_equal(ds.labels[i], (123 + i) % 3);
        nnd_data_free(&ds);
    }
}

/* Expects nnd_data_probe to fail with NND_ERR_INPUT and a message naming the file and `what`. */
static void expect_probe_error(const char *path, const char *what)
{
    nnd_data_shape sh;
    nnd_err_clear();
    nnd_status st = nnd_data_probe(path, "/X", "/y", &sh);
    if (st != NND_ERR_INPUT)
        fail_msg("%s: status %d (%s), expected NND_ERR_INPUT; message '%s'", path, (int)st,
                 nnd_status_text(st), nnd_err_msg());
    assert_msg_has(path);
    if (what) assert_msg_has(what);
}

static void test_probe_bad_files(void **state)
{
    (void)state;
    char path[256];

    scratch_path(path, sizeof path, "missing.h5");
    expect_probe_error(path, NULL);

    scratch_path(path, sizeof path, "empty.h5");
    FILE *fp = fopen(path, "w");
    assert_non_null(fp);
    fclose(fp);
    expect_probe_error(path, "empty");

    scratch_path(path, sizeof path, "text.h5");
    fp = fopen(path, "w");
    assert_non_null(fp);
    fputs("x,y\n1,2\n3,4\nThis is a CSV file, not HDF5; long enough to look like a file.\n", fp);
    fclose(fp);
    expect_probe_error(path, "HDF5");

    const float X[6] = {1, 2, 3, 4, 5, 6};
    const int32_t y[3] = {0, 1, 0};
    scratch_path(path, sizeof path, "no_y.h5");
    hid_t f = create_file(path);
    put(f, "X", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 3, 2, X);
    H5Fclose(f);
    expect_probe_error(path, "/y");

    scratch_path(path, sizeof path, "x_1d.h5");
    f = create_file(path);
    put(f, "X", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 3, 0, X);
    put(f, "y", H5T_STD_I32LE, H5T_NATIVE_INT32, 3, 0, y);
    H5Fclose(f);
    expect_probe_error(path, "/X");

    scratch_path(path, sizeof path, "x_string.h5");
    f = create_file(path);
    hid_t st = H5Tcopy(H5T_C_S1);
    H5Tset_size(st, 4);
    const char S[6][4] = {"a", "bb", "ccc", "d", "e", "f"};
    put(f, "X", st, st, 3, 2, S);
    H5Tclose(st);
    put(f, "y", H5T_STD_I32LE, H5T_NATIVE_INT32, 3, 0, y);
    H5Fclose(f);
    expect_probe_error(path, "string");

    scratch_path(path, sizeof path, "rows.h5");
    const int32_t y4[4] = {0, 1, 0, 1};
    f = create_file(path);
    put(f, "X", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 3, 2, X);
    put(f, "y", H5T_STD_I32LE, H5T_NATIVE_INT32, 4, 0, y4);
    H5Fclose(f);
    expect_probe_error(path, "rows");

    /* 1-D float labels are neither class labels nor (N, K) targets. */
    scratch_path(path, sizeof path, "y_float_1d.h5");
    const float yf[3] = {0.0f, 1.0f, 0.0f};
    f = create_file(path);
    put(f, "X", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 3, 2, X);
    put(f, "y", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 3, 0, yf);
    H5Fclose(f);
    expect_probe_error(path, "/y");
}

static void test_load_bad_values(void **state)
{
    (void)state;
    char path[256];
    nnd_data_shape sh;
    nnd_dataset ds;

    /* Label 3 in row 2 with 3 classes. */
    scratch_path(path, sizeof path, "label_range.h5");
    const float X[10] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
    const int32_t y[5] = {0, 2, 3, 1, 0};
    hid_t f = create_file(path);
    put(f, "X", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 5, 2, X);
    put(f, "y", H5T_STD_I32LE, H5T_NATIVE_INT32, 5, 0, y);
    H5Fclose(f);
    assert_int_equal(nnd_data_probe(path, "/X", "/y", &sh), NND_OK);
    nnd_err_clear();
    assert_int_equal(nnd_data_load(&ds, path, "/X", "/y", &sh, 0, 5, 3), NND_ERR_INPUT);
    assert_msg_has(path);
    assert_msg_has("row 2");
    nnd_data_free(&ds);
    /* With 4 classes the same file is fine; a slice without row 2 is fine with 3. */
    assert_int_equal(nnd_data_load(&ds, path, "/X", "/y", &sh, 0, 5, 4), NND_OK);
    nnd_data_free(&ds);
    assert_int_equal(nnd_data_load(&ds, path, "/X", "/y", &sh, 3, 5, 3), NND_OK);
    nnd_data_free(&ds);

    /* A negative label. */
    scratch_path(path, sizeof path, "label_negative.h5");
    const int32_t yn[5] = {0, 1, 1, 0, -1};
    f = create_file(path);
    put(f, "X", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 5, 2, X);
    put(f, "y", H5T_STD_I32LE, H5T_NATIVE_INT32, 5, 0, yn);
    H5Fclose(f);
    assert_int_equal(nnd_data_probe(path, "/X", "/y", &sh), NND_OK);
    assert_int_equal(nnd_data_load(&ds, path, "/X", "/y", &sh, 0, 5, 2), NND_ERR_INPUT);
    assert_msg_has(path);
    assert_msg_has("row 4");
    nnd_data_free(&ds);

    /* NaN in row 3, column 1. */
    scratch_path(path, sizeof path, "nan.h5");
    float Xn[10];
    memcpy(Xn, X, sizeof Xn);
    Xn[3 * 2 + 1] = NAN;
    const int32_t yok[5] = {0, 1, 1, 0, 1};
    f = create_file(path);
    put(f, "X", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 5, 2, Xn);
    put(f, "y", H5T_STD_I32LE, H5T_NATIVE_INT32, 5, 0, yok);
    H5Fclose(f);
    assert_int_equal(nnd_data_probe(path, "/X", "/y", &sh), NND_OK);
    nnd_err_clear();
    assert_int_equal(nnd_data_load(&ds, path, "/X", "/y", &sh, 0, 5, 2), NND_ERR_INPUT);
    assert_msg_has(path);
    assert_msg_has("row 3");
    nnd_data_free(&ds);
    /* Row numbers are the file's, not the slice's. */
    assert_int_equal(nnd_data_load(&ds, path, "/X", "/y", &sh, 2, 5, 2), NND_ERR_INPUT);
    assert_msg_has("row 3");
    nnd_data_free(&ds);
    /* A rank whose slice holds no NaN loads fine. */
    assert_int_equal(nnd_data_load(&ds, path, "/X", "/y", &sh, 0, 3, 2), NND_OK);
    nnd_data_free(&ds);

    /* Infinity in float targets, row 1. */
    scratch_path(path, sizeof path, "target_inf.h5");
    float T[10] = {0};
    T[1 * 2 + 0] = INFINITY;
    f = create_file(path);
    put(f, "X", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 5, 2, X);
    put(f, "y", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 5, 2, T);
    H5Fclose(f);
    assert_int_equal(nnd_data_probe(path, "/X", "/y", &sh), NND_OK);
    assert_int_equal(sh.k_targets, 2);
    assert_int_equal(nnd_data_load(&ds, path, "/X", "/y", &sh, 0, 5, 0), NND_ERR_INPUT);
    assert_msg_has(path);
    assert_msg_has("row 1");
    nnd_data_free(&ds);
}

/* Values beyond what the reader converts to: reported as they are in the file, not as HDF5's
 * saturated or overflowed conversion (2147483647, inf). */
static void test_load_out_of_range_values(void **state)
{
    (void)state;
    char path[256];
    nnd_data_shape sh;
    nnd_dataset ds;
    const float X[10] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
    const int64_t y64[5] = {0, 1, (int64_t)4294967299LL, 1, 0}; /* 2^32 + 3 */
    scratch_path(path, sizeof path, "label_int64.h5");
    hid_t f = create_file(path);
    put(f, "X", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 5, 2, X);
    put(f, "y", H5T_STD_I64LE, H5T_NATIVE_INT64, 5, 0, y64);
    H5Fclose(f);
    assert_int_equal(nnd_data_probe(path, "/X", "/y", &sh), NND_OK);
    assert_int_equal(nnd_data_load(&ds, path, "/X", "/y", &sh, 0, 5, 3), NND_ERR_INPUT);
    assert_msg_has("row 2 holds label 4294967299");
    nnd_data_free(&ds);

    const double X64[10] = {1, 2, 3, 4, 5, 1e300, 7, 8, 9, 10};
    const int32_t y[5] = {0, 1, 1, 0, 1};
    scratch_path(path, sizeof path, "x_float64.h5");
    f = create_file(path);
    put(f, "X", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 5, 2, X64);
    put(f, "y", H5T_STD_I32LE, H5T_NATIVE_INT32, 5, 0, y);
    H5Fclose(f);
    assert_int_equal(nnd_data_probe(path, "/X", "/y", &sh), NND_OK);
    assert_int_equal(nnd_data_load(&ds, path, "/X", "/y", &sh, 0, 5, 2), NND_ERR_INPUT);
    assert_msg_has("row 2 column 1 is 1e+300, beyond float32's range");
    nnd_data_free(&ds);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_load_round_trip),          cmocka_unit_test(test_load_mapped),
        cmocka_unit_test(test_probe_bad_files),          cmocka_unit_test(test_load_bad_values),
        cmocka_unit_test(test_load_out_of_range_values),
    };
    return cmocka_run_group_tests(tests, scratch_setup, scratch_teardown);
}
