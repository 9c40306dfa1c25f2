/* Times the ways of writing a checkpoint of sharded optimizer state: every rank holds the shard
 * [lo, hi) of each of T float32 tensors of n elements (cut as nnd_shards_init cuts them), and one
 * HDF5 file with one 1-D dataset per tensor must end up on disk, written to a temporary name,
 * fsync'ed, renamed, and its directory fsync'ed (as nnd_atomic_commit does).
 *
 *   mpirun -np P ckpt_bench [--params N] [--tensors T] [--iters K] [--warmup W] [--dir DIR]
 *                           [--modes gather,image,coll,indep]
 *     --params   floats per tensor (default 535818; 5.8e6 and 50e6 are accepted)
 *     --tensors  state tensors (default 3: the weights and Adam's two moments)
 *     --iters    timed saves per mode (default 5); --warmup untimed saves first (default 1)
 *     --dir      where the files go (default a new directory under $TMPDIR or /tmp, removed at
 *                the end)
 *     --modes    which of these to run (default all), interleaved run by run:
 *       gather  (a)  MPI_Gatherv of each tensor to rank 0 into buffers kept between saves;
 *                    rank 0 writes the file with serial HDF5 (sec2, one H5Dwrite per tensor)
 *       image   (a') nndist's save as of 2026-12-05: rank 0 allocates and zeroes the whole
 *                    state for the save, gathers into it, builds the file in memory (core
 *                    driver, 1 MiB increments) with an FNV-1a checksum per tensor, copies the
 *                    image out (H5Fget_file_image) and write()s it
 *       coll    (b)  parallel HDF5 (mpio driver): every rank writes its hyperslab of each
 *                    dataset, H5FD_MPIO_COLLECTIVE transfers
 *       indep   (c)  the same with H5FD_MPIO_INDEPENDENT transfers
 *
 * Prints, per mode, the median, min and max over the timed runs of the whole save's wall time as
 * the slowest rank sees it (a barrier before; the maximum over the ranks after), the payload's
 * MB/s (1 MB = 1e6 bytes) at the median, the ratio of the median to (a)'s, and for the gather
 * modes the median time rank 0 spends until its gathers are done (for (a), what an asynchronous
 * save would still pay on the training path; for (a') the allocation is in it). After every save
 * rank 0 reads the file back and compares each tensor's FNV-1a checksum (nndist's per-tensor
 * checksum) with that of the expected values; a mismatch aborts the job. The values differ from
 * run to run, so a stale file cannot pass. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <hdf5.h>
#include <mpi.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

enum { GATHER, IMAGE, COLL, INDEP, NMODES, MAX_ITERS = 1000, MAX_TENSORS = 64 };
static const char *const mode_key[NMODES] = {"gather", "image", "coll", "indep"};
static const char *const mode_label[NMODES] = {
    "(a)  gather + serial HDF5", "(a') gather + image (12-05)", "(b)  parallel, collective",
    "(c)  parallel, independent"};

typedef struct {
    int rank, size;
    size_t n, lo, hi; /* floats per tensor; this rank's shard */
    int tensors;
    int *count, *displ; /* every rank's shard, as MPI_Gatherv takes them */
    float **shard;      /* [tensors][hi - lo] */
    float **full;       /* rank 0: [tensors][n], the gather's destination */
    char dir[4000], path[4100], tmp[4200];
} bench;

/* Failures are fatal: the figures are only worth something for correct writes. */
#define DIE(...)                                                                                   \
    do {                                                                                           \
        int r_;                                                                                    \
        MPI_Comm_rank(MPI_COMM_WORLD, &r_);                                                        \
        fprintf(stderr, "ckpt_bench: rank %d: ", r_);                                              \
        fprintf(stderr, __VA_ARGS__);                                                              \
        fputc('\n', stderr);                                                                       \
        MPI_Abort(MPI_COMM_WORLD, 1);                                                              \
    } while (0)
#define HCALL(call)                                                                                \
    do {                                                                                           \
        if ((call) < 0) DIE("%s:%d: %s failed", __FILE__, __LINE__, #call);                        \
    } while (0)

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* Element i of tensor k in run `seed`: a hash of the three, so that every run writes other bytes
 * and rank 0 can recompute what every rank wrote. 24 bits, exact in a float. */
static float value(uint32_t seed, int k, size_t i)
{
    uint64_t x = ((uint64_t)seed << 40) ^ ((uint64_t)k << 32) ^ (uint64_t)i;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL; /* splitmix64's finalizer */
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    x ^= x >> 31;
    return (float)(x >> 40) * 0x1p-24f - 0.5f;
}

/* FNV-1a 64 over bytes, continued from h: the checksum src/ckpt.c stores per tensor. */
static uint64_t fnv1a64_more(uint64_t h, const void *data, size_t bytes)
{
    const unsigned char *p = data;
    for (size_t i = 0; i < bytes; i++) h = (h ^ p[i]) * 0x100000001b3ULL;
    return h;
}
#define FNV_INIT 0xcbf29ce484222325ULL

static void *xmalloc(size_t bytes)
{
    void *p = malloc(bytes ? bytes : 1);
    if (!p) DIE("cannot allocate %zu bytes", bytes);
    return p;
}

static void fill_shards(bench *b, uint32_t seed)
{
    for (int k = 0; k < b->tensors; k++)
        for (size_t i = b->lo; i < b->hi; i++) b->shard[k][i - b->lo] = value(seed, k, i);
}

/* The commit of nnd_atomic_commit: fsync the temporary, rename it, fsync the directory. */
static void commit(const bench *b)
{
    int fd = open(b->tmp, O_RDONLY | O_CLOEXEC);
    if (fd < 0 || fsync(fd) != 0) DIE("%s: open/fsync: %s", b->tmp, strerror(errno));
    close(fd);
    if (rename(b->tmp, b->path) != 0) DIE("rename %s: %s", b->tmp, strerror(errno));
    int dfd = open(b->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0) DIE("%s: %s", b->dir, strerror(errno));
    if (fsync(dfd) != 0 && errno != EINVAL) DIE("fsync %s: %s", b->dir, strerror(errno));
    close(dfd);
}

/* Creates dataset state_k: 1-D float32 of n, contiguous, never written with fill values (the
 * parallel driver allocates early; no mode should pay for a fill the others skip). */
static hid_t create_tensor(hid_t f, const bench *b, int k, hid_t *space)
{
    char name[32];
    snprintf(name, sizeof name, "state_%d", k);
    hsize_t dims = b->n;
    *space = H5Screate_simple(1, &dims, NULL);
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    HCALL(H5Pset_fill_time(dcpl, H5D_FILL_TIME_NEVER));
    hid_t d = H5Dcreate2(f, name, H5T_IEEE_F32LE, *space, H5P_DEFAULT, dcpl, H5P_DEFAULT);
    H5Pclose(dcpl);
    if (*space < 0 || d < 0) DIE("cannot create %s in %s", name, b->tmp);
    return d;
}

/* Rank 0 writes the gathered tensors src[] into file f (any driver); with `sums`, each with the
 * FNV-1a checksum attribute src/ckpt.c gives it. */
static void write_whole(hid_t f, const bench *b, float *const *src, int sums)
{
    for (int k = 0; k < b->tensors; k++) {
        hid_t sp, d = create_tensor(f, b, k, &sp);
        HCALL(H5Dwrite(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, src[k]));
        if (sums) {
            uint64_t sum = fnv1a64_more(FNV_INIT, src[k], b->n * sizeof(float));
            hid_t asp = H5Screate(H5S_SCALAR);
            hid_t a = H5Acreate2(d, "checksum", H5T_STD_U64LE, asp, H5P_DEFAULT, H5P_DEFAULT);
            HCALL(H5Awrite(a, H5T_NATIVE_UINT64, &sum));
            H5Aclose(a);
            H5Sclose(asp);
        }
        H5Dclose(d);
        H5Sclose(sp);
    }
}

static void write_serial(const bench *b)
{
    hid_t f = H5Fcreate(b->tmp, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    if (f < 0) DIE("cannot create %s", b->tmp);
    write_whole(f, b, b->full, 0);
    HCALL(H5Fclose(f));
}

/* As nnd_ckpt_save did (2026-12-05): the file built by the core driver (1 MiB increments, no
 * backing store) with the checksums, its image copied out, written with plain write() calls. */
static void write_image(const bench *b, float *const *src)
{
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    HCALL(H5Pset_fapl_core(fapl, 1 << 20, 0));
    hid_t f = H5Fcreate("ckpt-bench-image", H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
    if (f < 0) DIE("cannot create an in-memory file");
    write_whole(f, b, src, 1);
    HCALL(H5Fflush(f, H5F_SCOPE_GLOBAL));
    ssize_t len = H5Fget_file_image(f, NULL, 0);
    if (len <= 0) DIE("H5Fget_file_image failed");
    char *image = xmalloc((size_t)len);
    if (H5Fget_file_image(f, image, (size_t)len) != len) DIE("H5Fget_file_image failed");
    H5Fclose(f);
    H5Pclose(fapl);
    int fd = open(b->tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
    if (fd < 0) DIE("%s: %s", b->tmp, strerror(errno));
    for (size_t done = 0; done < (size_t)len;) {
        ssize_t w = write(fd, image + done, (size_t)len - done);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) DIE("%s: write: %s", b->tmp, w < 0 ? strerror(errno) : "no progress");
        done += (size_t)w;
    }
    if (close(fd) != 0) DIE("%s: close: %s", b->tmp, strerror(errno));
    free(image);
}

/* (a), (a'): returns this rank's time for the whole save; *gather_s its time until the gathers
 * are done. (a) gathers into buffers kept from save to save (an asynchronous save's snapshot);
 * (a') into a whole state allocated and zeroed for this save and freed after it, as
 * nnd_trainer_open_state and nnd_trainer_release_state did (2026-12-05). */
static double save_gathered(const bench *b, int mode, double *gather_s)
{
    float *fresh[MAX_TENSORS] = {0}, *const *dst = b->full;
    MPI_Barrier(MPI_COMM_WORLD);
    double t0 = now();
    if (mode == IMAGE && b->rank == 0) {
        for (int k = 0; k < b->tensors; k++) {
            fresh[k] = xmalloc(b->n * sizeof(float));
            memset(fresh[k], 0, b->n * sizeof(float));
        }
        dst = fresh;
    }
    /* One Gatherv per tensor, as nnd_trainer_sync_state does (counts fit an int there too). */
    for (int k = 0; k < b->tensors; k++)
        MPI_Gatherv(b->shard[k], (int)(b->hi - b->lo), MPI_FLOAT, b->rank ? NULL : dst[k], b->count,
                    b->displ, MPI_FLOAT, 0, MPI_COMM_WORLD);
    *gather_s = now() - t0;
    if (b->rank == 0) {
        if (mode == GATHER)
            write_serial(b);
        else
            write_image(b, dst);
        commit(b);
    }
    for (int k = 0; k < b->tensors; k++) free(fresh[k]);
    return now() - t0;
}

/* (b), (c): every rank writes its hyperslab of every dataset into one file. */
static double save_parallel(const bench *b, int collective)
{
    MPI_Barrier(MPI_COMM_WORLD);
    double t0 = now();
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    HCALL(H5Pset_fapl_mpio(fapl, MPI_COMM_WORLD, MPI_INFO_NULL));
    hid_t f = H5Fcreate(b->tmp, H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
    if (f < 0) DIE("cannot create %s with the mpio driver", b->tmp);
    hid_t dxpl = H5Pcreate(H5P_DATASET_XFER);
    HCALL(H5Pset_dxpl_mpio(dxpl, collective ? H5FD_MPIO_COLLECTIVE : H5FD_MPIO_INDEPENDENT));
    hsize_t start = b->lo, count = b->hi - b->lo, one = 1;
    for (int k = 0; k < b->tensors; k++) {
        hid_t fsp, d = create_tensor(f, b, k, &fsp); /* collective: every rank, same order */
        hid_t msp = H5Screate_simple(1, count ? &count : &one, NULL);
        if (count) {
            HCALL(H5Sselect_hyperslab(fsp, H5S_SELECT_SET, &start, NULL, &count, NULL));
        } else { /* an empty shard still takes part in a collective write */
            HCALL(H5Sselect_none(fsp));
            HCALL(H5Sselect_none(msp));
        }
        if (collective || count) HCALL(H5Dwrite(d, H5T_NATIVE_FLOAT, msp, fsp, dxpl, b->shard[k]));
        H5Sclose(msp);
        H5Sclose(fsp);
        HCALL(H5Dclose(d));
    }
    H5Pclose(dxpl);
    HCALL(H5Fclose(f));
    H5Pclose(fapl);
    /* Every rank's bytes have reached the file (system) before rank 0 syncs and renames it. */
    MPI_Barrier(MPI_COMM_WORLD);
    if (b->rank == 0) commit(b);
    return now() - t0;
}

/* Rank 0: reads every tensor back (serial HDF5) and compares its checksum with that of the
 * values run `seed` should have written; aborts on any difference. Returns the seconds the
 * checksums of the data read took (one pass over the whole state, as ckpt.c makes on a save). */
static double verify(const bench *b, uint32_t seed, const char *what)
{
    float *buf = xmalloc(b->n * sizeof *buf);
    float chunk[4096];
    double hash_s = 0;
    hid_t f = H5Fopen(b->path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (f < 0) DIE("%s: cannot open %s to verify it", what, b->path);
    for (int k = 0; k < b->tensors; k++) {
        char name[32];
        snprintf(name, sizeof name, "state_%d", k);
        hid_t d = H5Dopen2(f, name, H5P_DEFAULT);
        if (d < 0) DIE("%s: %s has no %s", what, b->path, name);
        hid_t sp = H5Dget_space(d);
        hsize_t dims = 0;
        if (H5Sget_simple_extent_ndims(sp) != 1 || H5Sget_simple_extent_dims(sp, &dims, NULL) < 0 ||
            dims != b->n)
            DIE("%s: %s has the wrong shape", what, name);
        HCALL(H5Dread(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf));
        H5Sclose(sp);
        H5Dclose(d);
        double t0 = now();
        uint64_t got = fnv1a64_more(FNV_INIT, buf, b->n * sizeof *buf);
        hash_s += now() - t0;
        uint64_t want = FNV_INIT;
        for (size_t i = 0; i < b->n; i += 4096) {
            size_t m = b->n - i < 4096 ? b->n - i : 4096;
            for (size_t j = 0; j < m; j++) chunk[j] = value(seed, k, i + j);
            want = fnv1a64_more(want, chunk, m * sizeof *chunk);
        }
        if (got != want) {
            size_t i = 0;
            while (i < b->n && memcmp(&buf[i], &(float){value(seed, k, i)}, sizeof(float)) == 0)
                i++;
            DIE("%s: WRONG DATA in %s: checksum %016llx, expected %016llx; first difference at "
                "element %zu",
                what, name, (unsigned long long)got, (unsigned long long)want, i);
        }
    }
    HCALL(H5Fclose(f));
    free(buf);
    if (unlink(b->path) != 0) DIE("unlink %s: %s", b->path, strerror(errno));
    return hash_s;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Sorts v in place; returns its median. */
static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/* The number of distinct processor names among the ranks (emulated nodes count as hosts). */
static int count_hosts(const bench *b)
{
    char name[MPI_MAX_PROCESSOR_NAME] = "";
    int len;
    MPI_Get_processor_name(name, &len);
    char *all = b->rank ? NULL : xmalloc((size_t)b->size * MPI_MAX_PROCESSOR_NAME);
    MPI_Gather(name, MPI_MAX_PROCESSOR_NAME, MPI_CHAR, all, MPI_MAX_PROCESSOR_NAME, MPI_CHAR, 0,
               MPI_COMM_WORLD);
    int hosts = 0;
    for (int r = 0; b->rank == 0 && r < b->size; r++) {
        int seen = 0;
        for (int q = 0; q < r && !seen; q++)
            seen = !strcmp(all + (size_t)r * MPI_MAX_PROCESSOR_NAME,
                           all + (size_t)q * MPI_MAX_PROCESSOR_NAME);
        hosts += !seen;
    }
    free(all);
    return hosts;
}

static void usage(void)
{
    fprintf(stderr, "usage: mpirun -np P ckpt_bench [--params N] [--tensors T] [--iters K] "
                    "[--warmup W] [--dir DIR] [--modes gather,image,coll,indep]\n");
}

/* Parses the options (every rank the same); returns 0, or 2 after a message from rank 0. */
static int parse(int argc, char **argv, bench *b, int *iters, int *warmup, int modes[NMODES])
{
    static const struct option opts[] = {
        {"params", required_argument, 0, 'n'}, {"tensors", required_argument, 0, 't'},
        {"iters", required_argument, 0, 'i'},  {"warmup", required_argument, 0, 'w'},
        {"dir", required_argument, 0, 'd'},    {"modes", required_argument, 0, 'm'},
        {"help", no_argument, 0, 'h'},         {0, 0, 0, 0}};
    char *end;
    double x;
    int c;
    for (int m = 0; m < NMODES; m++) modes[m] = 1;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'n': /* strtod: 5.8e6 and 50e6 are counts too; an MPI count is an int */
            x = strtod(optarg, &end);
            if (*end || x < 1 || x > 2147483647.0 || x != (double)(size_t)x) goto bad;
            b->n = (size_t)x;
            break;
        case 't':
            b->tensors = (int)strtol(optarg, &end, 10);
            if (*end || b->tensors < 1 || b->tensors > MAX_TENSORS) goto bad;
            break;
        case 'i':
        case 'w':
            *(c == 'i' ? iters : warmup) = (int)strtol(optarg, &end, 10);
            if (*end || *iters < 1 || *warmup < 0 || *iters + *warmup > MAX_ITERS) goto bad;
            break;
        case 'd':
            if (snprintf(b->dir, sizeof b->dir, "%s", optarg) >= (int)sizeof b->dir) goto bad;
            break;
        case 'm':
            for (int m = 0; m < NMODES; m++) modes[m] = 0;
            for (char *tok = strtok(optarg, ","); tok; tok = strtok(NULL, ",")) {
                int m = 0;
                while (m < NMODES && strcmp(tok, mode_key[m])) m++;
                if (m == NMODES) goto bad;
                modes[m] = 1;
            }
            break;
        default:
            goto bad;
        }
    }
    if (optind == argc) return 0;
bad:
    if (b->rank == 0) usage();
    return 2;
}

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    bench b = {.n = 535818, .tensors = 3};
    MPI_Comm_rank(MPI_COMM_WORLD, &b.rank);
    MPI_Comm_size(MPI_COMM_WORLD, &b.size);
    int iters = 5, warmup = 1, modes[NMODES];
    if (parse(argc, argv, &b, &iters, &warmup, modes)) {
        MPI_Finalize();
        return 2;
    }
    int own_dir = b.dir[0] == '\0';
    if (own_dir && b.rank == 0) {
        const char *t = getenv("TMPDIR");
        snprintf(b.dir, sizeof b.dir, "%s/ckpt_bench.XXXXXX", t && *t ? t : "/tmp");
        if (!mkdtemp(b.dir)) DIE("mkdtemp %s: %s", b.dir, strerror(errno));
    }
    MPI_Bcast(b.dir, sizeof b.dir, MPI_CHAR, 0, MPI_COMM_WORLD);
    /* One temporary name for all ranks (the parallel modes open it together): rank 0's pid. */
    long pid = (long)getpid();
    MPI_Bcast(&pid, 1, MPI_LONG, 0, MPI_COMM_WORLD);
    snprintf(b.path, sizeof b.path, "%s/ckpt.h5", b.dir);
    snprintf(b.tmp, sizeof b.tmp, "%s.%ld.tmp", b.path, pid);

    /* The shards of nnd_shards_init: ceil(n / P) rounded up to 16 floats per rank. */
    size_t per = (b.n + (size_t)b.size - 1) / (size_t)b.size;
    per = (per + 15) / 16 * 16;
    b.count = xmalloc((size_t)b.size * sizeof *b.count);
    b.displ = xmalloc((size_t)b.size * sizeof *b.displ);
    for (int r = 0; r < b.size; r++) {
        size_t lo = per * (size_t)r < b.n ? per * (size_t)r : b.n;
        size_t hi = lo + per < b.n ? lo + per : b.n;
        b.count[r] = (int)(hi - lo);
        b.displ[r] = (int)lo;
        if (r == b.rank) b.lo = lo, b.hi = hi;
    }
    b.shard = xmalloc((size_t)b.tensors * sizeof *b.shard);
    b.full = xmalloc((size_t)b.tensors * sizeof *b.full);
    for (int k = 0; k < b.tensors; k++) {
        b.shard[k] = xmalloc((b.hi - b.lo) * sizeof(float));
        b.full[k] = b.rank ? NULL : xmalloc(b.n * sizeof(float));
    }
    int hosts = count_hosts(&b);

    static double wall[NMODES][MAX_ITERS], gath[NMODES][MAX_ITERS], hash[MAX_ITERS * NMODES];
    int nhash = 0;
    uint32_t seed = 1;
    /* Runs interleave the modes, so that drift on a shared machine spreads over all of them. */
    for (int it = -warmup; it < iters; it++) {
        for (int m = 0; m < NMODES; m++) {
            if (!modes[m]) continue;
            fill_shards(&b, ++seed);
            double g = 0, t = m == GATHER || m == IMAGE ? save_gathered(&b, m, &g)
                                                        : save_parallel(&b, m == COLL);
            double tmax, g0 = g;
            MPI_Reduce(&t, &tmax, 1, MPI_DOUBLE, MPI_MAX, 0, MPI_COMM_WORLD);
            if (b.rank == 0) {
                double h = verify(&b, seed, mode_label[m]);
                if (it >= 0) {
                    wall[m][it] = tmax;
                    gath[m][it] = g0;
                    hash[nhash++] = h;
                }
            }
            MPI_Barrier(MPI_COMM_WORLD);
        }
    }

    if (b.rank == 0) {
        double bytes = (double)b.tensors * (double)b.n * sizeof(float);
        printf("ckpt_bench: %d ranks on %d host(s); %d tensors x %zu floats = %.1f MB per "
               "checkpoint; median of %d runs (+%d warm-up); %s\n",
               b.size, hosts, b.tensors, b.n, bytes / 1e6, iters, warmup, b.dir);
        printf("%-28s %9s %9s %9s %9s %7s %15s\n", "mode", "median s", "min s", "max s", "MB/s",
               "/ (a)", "rank-0 gather s");
        double base = 0;
        for (int m = 0; m < NMODES; m++) {
            if (!modes[m]) continue;
            double med = median(wall[m], iters);
            if (m == GATHER) base = med;
            char ratio[16] = "-", gs[24] = "-";
            if (base > 0) snprintf(ratio, sizeof ratio, "%.2f", med / base);
            if (m == GATHER || m == IMAGE) snprintf(gs, sizeof gs, "%.4f", median(gath[m], iters));
            printf("%-28s %9.4f %9.4f %9.4f %9.0f %7s %15s\n", mode_label[m], med, wall[m][0],
                   wall[m][iters - 1], bytes / med / 1e6, ratio, gs);
        }
        printf("FNV-1a checksum of the whole state on rank 0 (one pass, as a save makes): "
               "%.4f s median; every file verified\n",
               median(hash, nhash));
    }
    if (own_dir && b.rank == 0 && rmdir(b.dir) != 0)
        fprintf(stderr, "ckpt_bench: cannot remove %s: %s\n", b.dir, strerror(errno));
    for (int k = 0; k < b.tensors; k++) {
        free(b.shard[k]);
        free(b.full[k]);
    }
    free(b.shard);
    free(b.full);
    free(b.count);
    free(b.displ);
    H5close(); /* before MPI_Finalize: the mpio driver holds MPI objects */
    MPI_Finalize();
    return 0;
}
