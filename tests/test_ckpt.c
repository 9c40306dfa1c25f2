/* Checkpoints: bitwise round trips, refusals that leave files alone, damage that is detected.
 * No MPI needed: every call here is serial. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <float.h>
#include <hdf5.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "nndist/alloc.h"
#include "nndist/ckpt.h"
#include "nndist/h5util.h"
#include "nndist/rng.h"

#include "scratch_dir.h"

/* The temporary nnd_ckpt_save writes before the rename (atomic_file.h). */
static void tmp_of(char *buf, size_t size, const char *path)
{
    snprintf(buf, size, "%s.%ld.tmp", path, (long)getpid());
}

static int file_exists(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0;
}

static unsigned char *read_all(const char *path, size_t *len)
{
    FILE *fp = fopen(path, "rb");
    assert_non_null(fp);
    fseek(fp, 0, SEEK_END);
    long n = ftell(fp);
    assert_true(n > 0);
    fseek(fp, 0, SEEK_SET);
    unsigned char *buf = malloc((size_t)n);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, (size_t)n, fp), (size_t)n);
    fclose(fp);
    *len = (size_t)n;
    return buf;
}

static void write_all(const char *path, const unsigned char *buf, size_t len)
{
    FILE *fp = fopen(path, "wb");
    assert_non_null(fp);
    assert_int_equal(fwrite(buf, 1, len, fp), len);
    fclose(fp);
}

static void touch(const char *path)
{
    FILE *fp = fopen(path, "w");
    assert_non_null(fp);
    fclose(fp);
}

static void assert_msg_has(const char *needle)
{
    if (!strstr(nnd_err_msg(), needle))
        fail_msg("message '%s' does not contain '%s'", nnd_err_msg(), needle);
}

static void make_model(nnd_model *m, const size_t *sizes, int n_layers, nnd_activation act,
                       uint64_t seed)
{
    assert_int_equal(nnd_model_init(m, sizes, n_layers, act), NND_OK);
    nnd_model_init_params(m, seed);
}

static void make_momentum(nnd_optim *o, const nnd_model *m)
{
    nnd_optim_config cfg;
    assert_int_equal(nnd_optim_defaults("momentum", &cfg), 0);
    assert_int_equal(nnd_optim_init_model(o, &cfg, m), NND_OK);
}

static const size_t g_sizes[] = {5, 7, 3};

static void test_round_trip_bitwise(void **state)
{
    (void)state;
    nnd_model m, r;
    nnd_optim o, ro;
    make_model(&m, g_sizes, 2, NND_ACT_TANH, 3);
    make_momentum(&o, &m);
    /* Two steps with made-up gradients so the momentum buffer is not trivial. */
    float *g = nnd_alloc_floats(m.n_params);
    assert_non_null(g);
    for (int s = 0; s < 2; s++) {
        for (size_t i = 0; i < m.n_params; i++)
            g[i] = nnd_rng_uniform(9, NND_RNG_SYNTHETIC, (uint64_t)s, i) - 0.5f;
        nnd_optim_step(&o, m.params, g, 0.25f, 0.01);
    }
    /* Values whose bits a careless conversion would change. */
    m.params[0] = -0.0f;
    m.params[1] = 1e-40f; /* subnormal */
    m.params[2] = FLT_MAX;
    m.params[m.n_params - 1] = -FLT_MIN;
    assert_int_equal(o.step, 2);
    nnd_ckpt_meta meta = {.step = 2, .epoch = 1, .seed = 42, .batch = 32, .world_size = 4};
    snprintf(meta.loss, sizeof meta.loss, "mse");

    char path[256], tmp[300];
    scratch_path(path, sizeof path, "round.h5");
    tmp_of(tmp, sizeof tmp, path);
    assert_int_equal(nnd_ckpt_save(path, &m, &o, &meta), NND_OK);
    assert_true(file_exists(path));
    assert_false(file_exists(tmp));

    make_model(&r, g_sizes, 2, NND_ACT_TANH, 77);
    make_momentum(&ro, &r);
    nnd_ckpt_meta got;
    memset(&got, 0xff, sizeof got);
    assert_int_equal(nnd_ckpt_load(path, &r, &ro, &got), NND_OK);
    assert_memory_equal(r.params, m.params, m.n_params * sizeof *m.params);
    assert_int_equal(ro.n_state, 1);
    assert_memory_equal(ro.state[0], o.state[0], m.n_params * sizeof *m.params);
    assert_int_equal(ro.step, 2);
    assert_int_equal(got.step, 2);
    assert_int_equal(got.epoch, 1);
    assert_int_equal(got.seed, 42);
    assert_int_equal(got.batch, 32);
    assert_int_equal(got.world_size, 4);
    assert_string_equal(got.loss, "mse");

    /* Weights only, into a third model. */
    nnd_model w;
    make_model(&w, g_sizes, 2, NND_ACT_TANH, 78);
    assert_int_equal(nnd_ckpt_load(path, &w, NULL, NULL), NND_OK);
    assert_memory_equal(w.params, m.params, m.n_params * sizeof *m.params);

    /* A bare model file (no optimizer, no meta) has no state to resume from. */
    char bare[256];
    scratch_path(bare, sizeof bare, "bare.h5");
    assert_int_equal(nnd_ckpt_save(bare, &m, NULL, NULL), NND_OK);
    assert_int_equal(nnd_ckpt_load(bare, &w, NULL, &got), NND_OK);
    assert_memory_equal(w.params, m.params, m.n_params * sizeof *m.params);
    assert_int_equal(got.step, 0);
    assert_int_equal(got.world_size, 0);
    nnd_err_clear();
    assert_int_equal(nnd_ckpt_load(bare, &r, &ro, NULL), NND_ERR_MISMATCH);
    assert_msg_has(bare);

    /* Resuming with another optimizer is refused by name. */
    nnd_optim_config sgd;
    assert_int_equal(nnd_optim_defaults("sgd", &sgd), 0);
    nnd_optim so;
    assert_int_equal(nnd_optim_init_model(&so, &sgd, &r), NND_OK);
    nnd_err_clear();
    assert_int_equal(nnd_ckpt_load(path, &r, &so, NULL), NND_ERR_MISMATCH);
    assert_msg_has("momentum");
    assert_msg_has("sgd");

    nnd_optim_free(&so);
    free(g);
    nnd_model_free(&w);
    nnd_optim_free(&ro);
    nnd_model_free(&r);
    nnd_optim_free(&o);
    nnd_model_free(&m);
}

static void test_load_other_sizes(void **state)
{
    (void)state;
    nnd_model m;
    make_model(&m, g_sizes, 2, NND_ACT_RELU, 4);
    char path[256];
    scratch_path(path, sizeof path, "sizes.h5");
    assert_int_equal(nnd_ckpt_save(path, &m, NULL, NULL), NND_OK);

    const size_t wider[] = {5, 8, 3}, deeper[] = {5, 7, 7, 3}, inputs[] = {6, 7, 3};
    const size_t outputs[] = {5, 7, 4}, shallower[] = {5, 3};
    const struct {
        const size_t *sizes;
        int n;
        const char *text;
    } cases[] = {{wider, 2, "5,8,3"},
                 {deeper, 3, "5,7,7,3"},
                 {inputs, 2, "6,7,3"},
                 {outputs, 2, "5,7,4"},
                 {shallower, 1, "5,3"}};
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        nnd_model o;
        make_model(&o, cases[c].sizes, cases[c].n, NND_ACT_RELU, 5);
        float *before = malloc(o.n_params * sizeof *before);
        assert_non_null(before);
        memcpy(before, o.params, o.n_params * sizeof *before);
        nnd_err_clear();
        assert_int_equal(nnd_ckpt_load(path, &o, NULL, NULL), NND_ERR_MISMATCH);
        assert_msg_has(path);
        assert_msg_has("5,7,3");
        assert_msg_has(cases[c].text);
        /* A refused load leaves the model as it was. */
        assert_memory_equal(o.params, before, o.n_params * sizeof *before);
        free(before);
        nnd_model_free(&o);
    }

    /* Same sizes, other activation. */
    nnd_model t;
    make_model(&t, g_sizes, 2, NND_ACT_SIGMOID, 5);
    nnd_err_clear();
    assert_int_equal(nnd_ckpt_load(path, &t, NULL, NULL), NND_ERR_MISMATCH);
    assert_msg_has("relu");
    assert_msg_has("sigmoid");
    nnd_model_free(&t);
    nnd_model_free(&m);
}

/* Offsets of runs of at least `min_run` little-endian copies of word in buf (stored in at,
 * up to max); returns how many runs. */
static int find_runs(const unsigned char *buf, size_t len, uint32_t word, size_t min_run,
                     size_t *at, int max)
{
    unsigned char w[4] = {(unsigned char)word, (unsigned char)(word >> 8),
                          (unsigned char)(word >> 16), (unsigned char)(word >> 24)};
    int runs = 0;
    size_t i = 0;
    while (i + 4 <= len) {
        size_t j = i;
        while (j + 4 <= len && memcmp(buf + j, w, 4) == 0) j += 4;
        if ((j - i) / 4 >= min_run) {
            if (runs < max) at[runs] = i;
            runs++;
            i = j;
        } else {
            i++;
        }
    }
    return runs;
}

/* Flips bit `mask` of byte `off`, loads, and expects a failure that mentions the checksum (or a
 * read error); then restores the byte and expects the load to succeed again. */
static void expect_damage_detected(const char *path, unsigned char *buf, size_t len, size_t off,
                                   unsigned char mask, int with_optim)
{
    nnd_model r;
    nnd_optim ro;
    make_model(&r, (const size_t[]){5, 8, 3}, 2, NND_ACT_RELU, 99);
    make_momentum(&ro, &r);
    buf[off] ^= mask;
    write_all(path, buf, len);
    nnd_err_clear();
    nnd_status st = nnd_ckpt_load(path, &r, with_optim ? &ro : NULL, NULL);
    if (st == NND_OK) fail_msg("byte %zu flipped (mask 0x%02x): the load succeeded", off, mask);
    if (!strstr(nnd_err_msg(), "checksum") && !strstr(nnd_err_msg(), "cannot read"))
        fail_msg("byte %zu flipped: status %d, message '%s' names neither the checksum nor a "
                 "read error",
                 off, (int)st, nnd_err_msg());
    assert_msg_has(path);
    buf[off] ^= mask;
    write_all(path, buf, len);
    assert_int_equal(nnd_ckpt_load(path, &r, with_optim ? &ro : NULL, NULL), NND_OK);
    nnd_optim_free(&ro);
    nnd_model_free(&r);
}

static void test_damaged_file_detected(void **state)
{
    (void)state;
    /* Layer 0's W (8 x 5) all 1.0f = 0x3f800000, the momentum buffer's layer 0 W all 2.0f =
     * 0x40000000; everything else random, so each is the file's only long run of its word. */
    const size_t sizes[] = {5, 8, 3};
    nnd_model m;
    nnd_optim o;
    make_model(&m, sizes, 2, NND_ACT_RELU, 6);
    make_momentum(&o, &m);
    for (size_t i = 0; i < 40; i++) m.params[m.w_off[0] + i] = 1.0f;
    for (size_t i = 0; i < m.n_params; i++)
        o.state[0][i] = nnd_rng_uniform(6, NND_RNG_SYNTHETIC, 0, i) - 0.5f;
    for (size_t i = 0; i < 40; i++) o.state[0][m.w_off[0] + i] = 2.0f;
    o.step = 5;
    char path[256];
    scratch_path(path, sizeof path, "damaged.h5");
    assert_int_equal(nnd_ckpt_save(path, &m, &o, NULL), NND_OK);

    size_t len;
    unsigned char *buf = read_all(path, &len);
    size_t at[4] = {0, 0, 0, 0};
    assert_int_equal(find_runs(buf, len, 0x3f800000u, 16, at, 4), 1);
    size_t mid = at[0] + 20 * 4; /* element 20 of the 40 */
    /* Lowest mantissa bit: 1.0000001, still finite, so only the checksum can tell. */
    expect_damage_detected(path, buf, len, mid, 0x01, 0);
    /* The sign bit: -1.0. */
    expect_damage_detected(path, buf, len, mid + 3, 0x80, 0);
    /* A bit in the middle of element 7. */
    expect_damage_detected(path, buf, len, at[0] + 7 * 4 + 2, 0x10, 0);

    /* Optimizer state is checked as well. */
    assert_int_equal(find_runs(buf, len, 0x40000000u, 16, at, 4), 1);
    expect_damage_detected(path, buf, len, at[0] + 13 * 4, 0x01, 1);
    free(buf);
    nnd_optim_free(&o);
    nnd_model_free(&m);
}

static void test_refused_saves_leave_files_alone(void **state)
{
    (void)state;
    nnd_model m;
    make_model(&m, g_sizes, 2, NND_ACT_RELU, 7);
    char path[256], tmp[300];
    scratch_path(path, sizeof path, "nan.h5");
    tmp_of(tmp, sizeof tmp, path);
    assert_int_equal(nnd_ckpt_save(path, &m, NULL, NULL), NND_OK);
    size_t len0;
    unsigned char *before = read_all(path, &len0);

    const float bad[] = {NAN, INFINITY, -INFINITY};
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        nnd_model n;
        make_model(&n, g_sizes, 2, NND_ACT_RELU, 8);
        n.params[n.b_off[1]] = bad[k];
        nnd_err_clear();
        assert_int_equal(nnd_ckpt_save(path, &n, NULL, NULL), NND_ERR_NUMERIC);
        assert_msg_has(path);
        size_t len1;
        unsigned char *after = read_all(path, &len1);
        assert_int_equal(len1, len0);
        assert_memory_equal(after, before, len0);
        assert_false(file_exists(tmp));
        free(after);
        nnd_model_free(&n);
    }
    /* And the file still loads as the first model. */
    nnd_model r;
    make_model(&r, g_sizes, 2, NND_ACT_RELU, 9);
    assert_int_equal(nnd_ckpt_load(path, &r, NULL, NULL), NND_OK);
    assert_memory_equal(r.params, m.params, m.n_params * sizeof *m.params);

    /* A save that fails after writing its temporary (here the rename: path is a directory)
     * removes the temporary and leaves the directory alone. */
    char busy[256], busy_tmp[300], inside[300];
    scratch_path(busy, sizeof busy, "busy.h5");
    tmp_of(busy_tmp, sizeof busy_tmp, busy);
    snprintf(inside, sizeof inside, "%s/keep", busy);
    assert_int_equal(mkdir(busy, 0777), 0);
    touch(inside);
    nnd_err_clear();
    assert_int_equal(nnd_ckpt_save(busy, &m, NULL, NULL), NND_ERR_IO);
    assert_msg_has(busy);
    assert_false(file_exists(busy_tmp));
    assert_true(file_exists(inside));

    /* A save into a missing directory fails as I/O and leaves nothing behind. */
    char nodir[256];
    scratch_path(nodir, sizeof nodir, "no/such/dir/x.h5");
    nnd_err_clear();
    assert_int_equal(nnd_ckpt_save(nodir, &m, NULL, NULL), NND_ERR_IO);
    assert_msg_has("no/such/dir/x.h5");

    free(before);
    nnd_model_free(&r);
    nnd_model_free(&m);
}

static void test_probe(void **state)
{
    (void)state;
    nnd_model m;
    const size_t sizes[] = {6, 4, 9, 2};
    make_model(&m, sizes, 3, NND_ACT_SIGMOID, 11);
    char path[256];
    scratch_path(path, sizeof path, "probe.h5");
    assert_int_equal(nnd_ckpt_save(path, &m, NULL, NULL), NND_OK);
    size_t got[NND_MAX_LAYERS + 2];
    int n = 0, found = -1;
    nnd_activation act = NND_ACT_RELU;
    assert_int_equal(nnd_ckpt_probe(path, got, &n, &act, &found, NULL), NND_OK);
    assert_int_equal(n, 3);
    for (int l = 0; l <= 3; l++) assert_int_equal(got[l], sizes[l]);
    assert_int_equal(found, 1);
    assert_int_equal(act, NND_ACT_SIGMOID);
    nnd_model_free(&m);

    /* A weights file from elsewhere (h5py, PyTorch): /model only, no attributes, no checksums. */
    scratch_path(path, sizeof path, "foreign.h5");
    hid_t f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    assert_true(f >= 0);
    const float W0[12] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}, b0[4] = {-1, -2, -3, -4};
    const float W1[8] = {0.5f, 0.25f, 0, 1, -1, 2, 3, 4}, b1[2] = {9, 8};
    const struct {
        const char *name;
        const float *data;
        hsize_t rows, cols;
    } t[] = {{"/model/layer_0/W", W0, 4, 3},
             {"/model/layer_0/b", b0, 4, 0},
             {"/model/layer_1/W", W1, 2, 4},
             {"/model/layer_1/b", b1, 2, 0}};
    hid_t lcpl = H5Pcreate(H5P_LINK_CREATE);
    H5Pset_create_intermediate_group(lcpl, 1);
    for (size_t i = 0; i < 4; i++) {
        hsize_t dims[2] = {t[i].rows, t[i].cols};
        hid_t sp = H5Screate_simple(t[i].cols ? 2 : 1, dims, NULL);
        hid_t d = H5Dcreate2(f, t[i].name, H5T_IEEE_F32LE, sp, lcpl, H5P_DEFAULT, H5P_DEFAULT);
        assert_true(d >= 0);
        assert_true(H5Dwrite(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, t[i].data) >= 0);
        H5Dclose(d);
        H5Sclose(sp);
    }
    H5Pclose(lcpl);
    H5Fclose(f);
    found = -1;
    assert_int_equal(nnd_ckpt_probe(path, got, &n, &act, &found, NULL), NND_OK);
    assert_int_equal(n, 2);
    assert_int_equal(got[0], 3);
    assert_int_equal(got[1], 4);
    assert_int_equal(got[2], 2);
    assert_int_equal(found, 0);
    /* It loads into a model of those sizes, W in torch's (out, in) layout. */
    nnd_model r;
    make_model(&r, (const size_t[]){3, 4, 2}, 2, NND_ACT_TANH, 12);
    assert_int_equal(nnd_ckpt_load(path, &r, NULL, NULL), NND_OK);
    assert_memory_equal(r.params + r.w_off[0], W0, sizeof W0);
    assert_memory_equal(r.params + r.b_off[0], b0, sizeof b0);
    assert_memory_equal(r.params + r.w_off[1], W1, sizeof W1);
    assert_memory_equal(r.params + r.b_off[1], b1, sizeof b1);
    nnd_model_free(&r);

    /* Not a model file. */
    scratch_path(path, sizeof path, "empty_model.h5");
    f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    H5Fclose(f);
    nnd_err_clear();
    assert_int_equal(nnd_ckpt_probe(path, got, &n, &act, &found, NULL), NND_ERR_INPUT);
    assert_msg_has(path);
}

/* Every attribute is covered by the metadata checksum: a changed step, activation or optimizer
 * setting is damage (NND_ERR_INPUT, "damaged"), never "another model"; the run id and
 * definition come back as written. */
static void test_metadata_checksum(void **state)
{
    (void)state;
    nnd_model m, r;
    nnd_optim o, ro;
    make_model(&m, g_sizes, 2, NND_ACT_RELU, 11);
    make_momentum(&o, &m);
    make_model(&r, g_sizes, 2, NND_ACT_RELU, 12);
    make_momentum(&ro, &r);
    nnd_ckpt_meta meta, back;
    memset(&meta, 0, sizeof meta);
    meta.step = 16;
    meta.seed = 3;
    snprintf(meta.run_id, sizeof meta.run_id, "0123456789abcdef");
    memset(meta.definition, 'x', sizeof meta.definition - 1); /* the longest one */
    meta.definition[sizeof meta.definition - 1] = '\0';
    const struct {
        const char *group, *attr;
        int is_str;
    } edits[] = {{"/", "step", 0},   {"/", "seed", 0},        {"/", "activation", 1},
                 {"/", "run_id", 1}, {"/optimizer", "lr", 0}, {"/optimizer", "step", 0}};
    for (size_t e = 0; e < sizeof edits / sizeof edits[0]; e++) {
        char path[256];
        scratch_path(path, sizeof path, "meta.h5");
        assert_int_equal(nnd_ckpt_save(path, &m, &o, &meta), NND_OK);
        assert_int_equal(nnd_ckpt_load(path, &r, &ro, &back), NND_OK);
        assert_int_equal(back.step, 16);
        assert_string_equal(back.run_id, meta.run_id);
        assert_string_equal(back.definition, meta.definition);

        hid_t f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
        assert_true(f >= 0);
        hid_t g = H5Gopen2(f, edits[e].group, H5P_DEFAULT);
        assert_true(g >= 0);
        if (edits[e].is_str)
            assert_int_equal(nnd_h5_attr_write_str(g, edits[e].attr, "tanh"), 0);
        else if (strcmp(edits[e].attr, "lr") == 0)
            assert_int_equal(nnd_h5_attr_write_f64(g, edits[e].attr, 1e6), 0);
        else
            assert_int_equal(nnd_h5_attr_write_u64(g, edits[e].attr, 280375465082896ULL), 0);
        H5Gclose(g);
        H5Fclose(f);
        assert_int_equal(nnd_ckpt_load(path, &r, &ro, &back), NND_ERR_INPUT);
        if (!strstr(nnd_err_msg(), "damaged"))
            fail_msg("%s %s: %s", edits[e].group, edits[e].attr, nnd_err_msg());
        nnd_err_clear();
    }
    nnd_optim_free(&o);
    nnd_optim_free(&ro);
    nnd_model_free(&m);
    nnd_model_free(&r);
}

/* Non-finite optimizer state is never written (a checkpoint must resume to finite weights). */
static void test_nonfinite_state_refused(void **state)
{
    (void)state;
    nnd_model m;
    nnd_optim o;
    make_model(&m, g_sizes, 2, NND_ACT_RELU, 13);
    make_momentum(&o, &m);
    char path[256];
    scratch_path(path, sizeof path, "state.h5");
    assert_int_equal(nnd_ckpt_save(path, &m, &o, NULL), NND_OK);
    o.state[0][3] = INFINITY;
    assert_int_equal(nnd_ckpt_save(path, &m, &o, NULL), NND_ERR_NUMERIC);
    if (!strstr(nnd_err_msg(), "momentum_buffer holds non-finite values"))
        fail_msg("message: %s", nnd_err_msg());
    nnd_err_clear();
    nnd_optim_free(&o);
    nnd_model_free(&m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip_bitwise),
        cmocka_unit_test(test_load_other_sizes),
        cmocka_unit_test(test_damaged_file_detected),
        cmocka_unit_test(test_refused_saves_leave_files_alone),
        cmocka_unit_test(test_probe),
        cmocka_unit_test(test_metadata_checksum),
        cmocka_unit_test(test_nonfinite_state_refused),
    };
    return cmocka_run_group_tests(tests, scratch_setup, scratch_teardown);
}
