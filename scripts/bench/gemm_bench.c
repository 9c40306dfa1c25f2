/* Times nnd_sgemm on the GEMM shapes of one training step of the 784-512-256-10 MLP at batch
 * 128, at each requested OpenMP thread count, nnd_sgemm_bf16 (bf16 operands, float32
 * accumulation, its family printed) and its ratio to nnd_sgemm, and (when built with OpenBLAS)
 * cblas_sgemm on the same shapes at the same thread counts.
 *
 *   gemm_bench [-t 1,2] [-r REPS] [-m MS] [-k KERNEL]
 *     -t  thread counts (default 1,2)     -r  repetitions per shape (default 9)
 *     -m  minimum milliseconds per repetition (default 20)
 *     -k  kernel family: portable, avx2-fma or avx512 (default: the best this CPU runs)
 *     -b  bf16 family: portable, avx512-bf16 or amx-bf16 (default: the best this CPU runs)
 *
 * Each repetition runs the call in a loop for at least MS milliseconds; the figures are the
 * best and the median repetition in GFLOP/s (2*M*N*K per call). */
#include <getopt.h>
#include <omp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#ifdef NNDIST_HAVE_OPENBLAS
#include <cblas.h>
#endif

#include "nndist/gemm.h"
#include "nndist/gemm_bf16.h"
#include "nndist/isa.h"
#include "nndist/rng.h"

struct shape {
    const char *what;
    int ta, tb;
    size_t M, N, K;
};

/* forward Z = X W^T, weights dW = dZ^T X, input dX = dZ W (the first layer's dX is skipped). */
static const struct shape shapes[] = {
    {"fwd L1 X*W1^T", 0, 1, 128, 512, 784}, {"fwd L2 H1*W2^T", 0, 1, 128, 256, 512},
    {"fwd L3 H2*W3^T", 0, 1, 128, 10, 256}, {"dW1 dZ1^T*X", 1, 0, 512, 784, 128},
    {"dW2 dZ2^T*H1", 1, 0, 256, 512, 128},  {"dW3 dZ3^T*H2", 1, 0, 10, 256, 128},
    {"dX L2 dZ2*W2", 0, 0, 128, 512, 256},  {"dX L3 dZ3*W3", 0, 0, 128, 256, 10},
};
enum { NSHAPES = sizeof shapes / sizeof shapes[0], MAX_THREADS = 16 };

typedef void (*gemm_fn)(const struct shape *s, const float *A, const float *B, float *C);

static void run_ours(const struct shape *s, const float *A, const float *B, float *C)
{
    size_t lda = s->ta ? s->M : s->K, ldb = s->tb ? s->K : s->N;
    nnd_sgemm(s->ta, s->tb, s->M, s->N, s->K, 1.0f, A, lda, B, ldb, 0.0f, C, s->N);
}

static void run_bf16(const struct shape *s, const float *A, const float *B, float *C)
{
    size_t lda = s->ta ? s->M : s->K, ldb = s->tb ? s->K : s->N;
    nnd_sgemm_bf16(s->ta, s->tb, s->M, s->N, s->K, 1.0f, A, lda, B, ldb, 0.0f, C, s->N);
}

#ifdef NNDIST_HAVE_OPENBLAS
static void run_openblas(const struct shape *s, const float *A, const float *B, float *C)
{
    int lda = (int)(s->ta ? s->M : s->K), ldb = (int)(s->tb ? s->K : s->N);
    cblas_sgemm(CblasRowMajor, s->ta ? CblasTrans : CblasNoTrans, s->tb ? CblasTrans : CblasNoTrans,
                (int)s->M, (int)s->N, (int)s->K, 1.0f, A, lda, B, ldb, 0.0f, C, (int)s->N);
}
#endif

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Best and median GFLOP/s over reps repetitions of at least min_s seconds each. */
static void time_shape(gemm_fn fn, const struct shape *s, const float *A, const float *B, float *C,
                       int reps, double min_s, double *best, double *median)
{
    double flop = 2.0 * (double)s->M * (double)s->N * (double)s->K;
    double rate[64];
    if (reps > 64) reps = 64;
    fn(s, A, B, C); /* warm caches, buffers and thread pool */
    long iters = 1;
    for (;;) { /* calibrate: enough calls to fill min_s */
        double t0 = now();
        for (long i = 0; i < iters; i++) fn(s, A, B, C);
        double dt = now() - t0;
        if (dt >= min_s) break;
        iters = dt <= 0.0 ? iters * 16 : (long)(iters * (min_s / dt) * 1.1) + 1;
    }
    for (int r = 0; r < reps; r++) {
        double t0 = now();
        for (long i = 0; i < iters; i++) fn(s, A, B, C);
        rate[r] = flop * (double)iters / (now() - t0) * 1e-9;
    }
    qsort(rate, (size_t)reps, sizeof rate[0], cmp_double);
    *best = rate[reps - 1];
    *median = rate[reps / 2];
}

static void fill(float *x, size_t n, uint64_t salt)
{
    for (size_t i = 0; i < n; i++) x[i] = nnd_rng_uniform(1, 99, salt, i) * 2.0f - 1.0f;
}

static void usage(const char *prog)
{
    fprintf(stderr,
            "usage: %s [-t 1,2] [-r REPS] [-m MS] [-k portable|avx2-fma|avx512] "
            "[-b portable|avx512-bf16|amx-bf16]\n",
            prog);
    exit(2);
}

int main(int argc, char **argv)
{
    int threads[MAX_THREADS], nthreads = 0, reps = 9, opt;
    double min_ms = 20.0;
    const char *tlist = "1,2";
    while ((opt = getopt(argc, argv, "t:r:m:k:b:")) != -1) {
        switch (opt) {
        case 't':
            tlist = optarg;
            break;
        case 'r':
            reps = atoi(optarg);
            break;
        case 'm':
            min_ms = atof(optarg);
            break;
        case 'k':
            if (nnd_isa_use(optarg) != 0) {
                fprintf(stderr, "gemm_bench: kernel '%s' unknown or not supported by this CPU\n",
                        optarg);
                return 2;
            }
            break;
        case 'b':
            if (nnd_gemm_bf16_use(optarg) != 0) {
                fprintf(stderr,
                        "gemm_bench: bf16 family '%s' unknown or not supported by this CPU\n",
                        optarg);
                return 2;
            }
            break;
        default:
            usage(argv[0]);
        }
    }
    for (const char *p = tlist; *p && nthreads < MAX_THREADS;) {
        char *end;
        long t = strtol(p, &end, 10);
        if (end == p || t < 1 || t > 1024) usage(argv[0]);
        threads[nthreads++] = (int)t;
        p = *end == ',' ? end + 1 : end;
        if (*end && *end != ',') usage(argv[0]);
    }
    if (reps < 1 || reps > 64 || min_ms <= 0.0) usage(argv[0]);

    size_t maxa = 0, maxb = 0, maxc = 0;
    for (int s = 0; s < NSHAPES; s++) {
        size_t a = shapes[s].M * shapes[s].K, b = shapes[s].K * shapes[s].N;
        size_t c = shapes[s].M * shapes[s].N;
        maxa = a > maxa ? a : maxa;
        maxb = b > maxb ? b : maxb;
        maxc = c > maxc ? c : maxc;
    }
    float *A = malloc(maxa * sizeof *A), *B = malloc(maxb * sizeof *B);
    float *C = malloc(maxc * sizeof *C), *R = malloc(maxc * sizeof *R);
    if (!A || !B || !C || !R) {
        fprintf(stderr, "gemm_bench: out of memory\n");
        return 1;
    }
    fill(A, maxa, 1);
    fill(B, maxb, 2);

    printf("nndist kernel: %s, bf16 family %s; %d repetitions of >= %.0f ms; GFLOP/s best "
           "(median)\n",
           nnd_isa_name(nnd_isa_current()), nnd_gemm_bf16_family(), reps, min_ms);
#ifdef NNDIST_HAVE_OPENBLAS
    printf("OpenBLAS: %s (core %s)\n", openblas_get_config(), openblas_get_corename());
#endif
    for (int t = 0; t < nthreads; t++) {
        int nt = threads[t];
        double ours[NSHAPES][2], bf16[NSHAPES][2];
        omp_set_num_threads(nt);
        for (int s = 0; s < NSHAPES; s++) {
            time_shape(run_ours, &shapes[s], A, B, C, reps, min_ms * 1e-3, &ours[s][0],
                       &ours[s][1]);
            time_shape(run_bf16, &shapes[s], A, B, C, reps, min_ms * 1e-3, &bf16[s][0],
                       &bf16[s][1]);
        }
#ifdef NNDIST_HAVE_OPENBLAS
        double blas[NSHAPES][2], maxdiff[NSHAPES];
        openblas_set_num_threads(nt);
        for (int s = 0; s < NSHAPES; s++) {
            const struct shape *sh = &shapes[s];
            time_shape(run_openblas, sh, A, B, R, reps, min_ms * 1e-3, &blas[s][0], &blas[s][1]);
            run_ours(sh, A, B, C);
            maxdiff[s] = 0.0;
            for (size_t i = 0; i < sh->M * sh->N; i++) {
                double d = (double)C[i] - (double)R[i];
                d = d < 0 ? -d : d;
                maxdiff[s] = d > maxdiff[s] ? d : maxdiff[s];
            }
        }
#endif
        printf("\n%d thread%s\n", nt, nt == 1 ? "" : "s");
        printf("%-16s %2s %2s %5s %5s %5s  %-15s %-15s %5s", "shape", "tA", "tB", "M", "N", "K",
               "nndist", "bf16", "ratio");
#ifdef NNDIST_HAVE_OPENBLAS
        printf(" %-15s %6s %9s", "OpenBLAS", "ratio", "max|diff|");
#endif
        printf("\n");
        /* The whole step: total FLOP over the summed time per call of each shape. */
        double flop = 0.0, t_ours[2] = {0.0, 0.0}, t_blas[2] = {0.0, 0.0}, t_bf16[2] = {0, 0};
        for (int s = 0; s < NSHAPES; s++) {
            const struct shape *sh = &shapes[s];
            double f = 2.0 * (double)sh->M * (double)sh->N * (double)sh->K;
            flop += f;
            printf("%-16s %2d %2d %5zu %5zu %5zu  %6.1f (%6.1f) %6.1f (%6.1f) %5.2f", sh->what,
                   sh->ta, sh->tb, sh->M, sh->N, sh->K, ours[s][0], ours[s][1], bf16[s][0],
                   bf16[s][1], bf16[s][0] / ours[s][0]);
            for (int q = 0; q < 2; q++) {
                t_ours[q] += f / ours[s][q];
                t_bf16[q] += f / bf16[s][q];
            }
#ifdef NNDIST_HAVE_OPENBLAS
            printf(" %6.1f (%6.1f) %6.2f %9.2g", blas[s][0], blas[s][1], ours[s][0] / blas[s][0],
                   maxdiff[s]);
            for (int q = 0; q < 2; q++) t_blas[q] += f / blas[s][q];
#endif
            printf("\n");
        }
        printf("%-16s %23s  %6.1f (%6.1f) %6.1f (%6.1f) %5.2f", "all (one step)", "",
               flop / t_ours[0], flop / t_ours[1], flop / t_bf16[0], flop / t_bf16[1],
               t_ours[0] / t_bf16[0]);
#ifdef NNDIST_HAVE_OPENBLAS
        printf(" %6.1f (%6.1f) %6.2f", flop / t_blas[0], flop / t_blas[1], t_blas[0] / t_ours[0]);
#else
        (void)t_blas;
#endif
        printf("\n");
    }
    free(A);
    free(B);
    free(C);
    free(R);
    return 0;
}
