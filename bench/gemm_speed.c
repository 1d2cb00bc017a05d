/*
 * gemm_speed.c: the bf16 GEMM kernel this CPU runs (Sources/ColPaliMath)
 * against OpenBLAS sgemm on the same shapes, side by side in one run, with
 * the model's memory (huge pages) and thread count. Built and run by
 * bench/gemm_speed.sh. Prints one line per repetition:
 *   m n k: ours X GFLOP/s (kernel), openblas Y GFLOP/s, ours/openblas time ratio
 * Ours splits its panels into 4 chunks per thread handed out as threads
 * become free, as BF16Product does; OpenBLAS uses its own threads.
 */
#include <cblas.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include "colpali_math.h"

static void *huge_zeroed(size_t bytes)
{
    bytes = (bytes + (2u << 20) - 1) / (2u << 20) * (2u << 20);
    void *p = aligned_alloc(2u << 20, bytes);
    if (p == NULL) {
        fprintf(stderr, "out of memory\n");
        exit(1);
    }
    madvise(p, bytes, MADV_HUGEPAGE);
    memset(p, 0, bytes);
    return p;
}

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

typedef struct {
    const float *a;
    const uint16_t *a16;
    const uint16_t *packed;
    float *c;
    int m, n, k, chunks;
    int next;
    pthread_mutex_t lock;
} work;

static void *worker(void *arg)
{
    work *w = arg;
    const int panels = colpali_bf16_panel_count(w->n);
    for (;;) {
        pthread_mutex_lock(&w->lock);
        const int i = w->next++;
        pthread_mutex_unlock(&w->lock);
        if (i >= w->chunks)
            return NULL;
        const int begin = panels * i / w->chunks, end = panels * (i + 1) / w->chunks;
        if (colpali_bf16_reads_float())
            colpali_bf16_gemm_float(w->a, w->k, w->m, w->k, w->packed, w->n, w->c, w->n, NULL, begin, end);
        else
            colpali_bf16_gemm(w->a16, w->m, w->k, w->packed, w->n, w->c, w->n, NULL, begin, end);
    }
}

int main(int argc, char **argv)
{
    if (argc < 5) {
        fprintf(stderr, "usage: gemm_speed THREADS M N K [REPETITIONS]\n");
        return 2;
    }
    const int threads = atoi(argv[1]), m = atoi(argv[2]), n = atoi(argv[3]), k = atoi(argv[4]);
    const int repetitions = argc > 5 ? atoi(argv[5]) : 3;
    if (threads < 1 || threads > 64 || m < 1 || n < 1 || k < 1 || repetitions < 1) {
        fprintf(stderr, "gemm_speed: threads 1-64, positive sizes and repetitions\n");
        return 2;
    }
    float *a = huge_zeroed((size_t)m * k * 4), *w = huge_zeroed((size_t)n * k * 4), *c = huge_zeroed((size_t)m * n * 4);
    uint16_t *a16 = huge_zeroed(colpali_bf16_a_elements(m, k) * 2);
    uint16_t *packed = huge_zeroed(colpali_bf16_packed_bytes(n, k));
    for (size_t i = 0; i < (size_t)m * k; i++)
        a[i] = (float)(i % 7) * 0.1f;
    for (size_t i = 0; i < (size_t)n * k; i++)
        w[i] = (float)(i % 5) * 0.1f;
    colpali_bf16_pack_strided(w, k, 1, n, k, packed, 0, colpali_bf16_panel_count(n));
    colpali_bf16_from_float(a, k, k, 0, m, a16);
    openblas_set_num_threads(threads);
    const double flop = 2.0 * m * n * k;
    for (int r = 0; r < repetitions; r++) {
        work job = {a, a16, packed, c, m, n, k, 4 * threads, 0, PTHREAD_MUTEX_INITIALIZER};
        pthread_t ids[64];
        double started = now();
        for (int t = 0; t < threads; t++)
            pthread_create(&ids[t], NULL, worker, &job);
        for (int t = 0; t < threads; t++)
            pthread_join(ids[t], NULL);
        const double ours = now() - started;
        started = now();
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, m, n, k, 1, a, k, w, k, 0, c, n);
        const double blas = now() - started;
        printf("%d %d %d: ours %.1f GFLOP/s (%s), openblas %.1f GFLOP/s, ours/openblas time %.2f\n", m, n, k,
               flop / ours / 1e9, colpali_bf16_kernel_name(colpali_bf16_kernel()), flop / blas / 1e9, ours / blas);
    }
    return 0;
}
