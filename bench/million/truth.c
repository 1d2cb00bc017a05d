/*
 * The exact top 10 of the million-page benchmark's queries, by brute force:
 * every synthetic page is made (synthetic_page.h), rounded to half precision
 * as the server stores it, and scored against every query (the best page
 * row of each query row, summed), on all the threads asked for.
 * Ties go to the smaller page number, as ORDER BY maxsim DESC, id does.
 *
 *   truth PAGES QUERIES THREADS > truth.json
 *
 * Prints {"pages", "queries", "targets", "truth": [[page, ...] per query],
 * "seconds"}; progress on stderr.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "colpali_kernels.h"
#include "synthetic_page.h"

#define SEED 42
#define TOP 10

typedef struct Hit { float score; int64_t page; } Hit;

typedef struct Worker {
    int64_t first, last;    /* pages [first, last) */
    int queries;
    const float *topics, *query_rows;
    Hit *top;               /* queries x TOP, best first */
    int64_t *done;          /* shared progress counter */
} Worker;

static int better(Hit a, Hit b) { return a.score > b.score || (a.score == b.score && a.page < b.page); }

static void offer(Hit *top, Hit hit)
{
    if (!better(hit, top[TOP - 1]))
        return;
    int i = TOP - 1;
    while (i > 0 && better(hit, top[i - 1])) {
        top[i] = top[i - 1];
        i--;
    }
    top[i] = hit;
}

static void *work(void *arg)
{
    Worker *w = arg;
    size_t count = (size_t)SYNTH_ROWS * SYNTH_DIM;
    float *page = malloc(sizeof(float) * count);
    uint16_t *halves = malloc(sizeof(uint16_t) * count);
    int rows = w->queries * SYNTH_QUERY_ROWS;
    float *layout = malloc(sizeof(float) * colpali_nearest_layout_floats(SYNTH_ROWS, SYNTH_DIM));
    int32_t *nearest = malloc(sizeof(int32_t) * rows);
    for (int64_t p = w->first; p < w->last; p++) {
        synth_page(w->topics, SEED, p, page);
        /* As stored: unit rows are always in half's range. */
        colpali_float_to_half(page, count, halves);
        colpali_half_to_float(halves, count, page);
        /* Each query row's best page row is a nearest-centroid search with
         * the page's rows as the centroids: the kernel that files tokens
         * when the index is built, with all 600 query rows at once (20,000
         * pages took 21 s against 30 s with the MaxSim kernel a query at a
         * time, on the AMX Xeon). The best row's dot product is then summed
         * again in dimension order, exactly. */
        colpali_nearest_layout(page, SYNTH_ROWS, SYNTH_DIM, layout);
        colpali_nearest(w->query_rows, rows, layout, SYNTH_ROWS, SYNTH_DIM, nearest);
        for (int q = 0; q < w->queries; q++) {
            double score = 0;
            for (int r = q * SYNTH_QUERY_ROWS; r < (q + 1) * SYNTH_QUERY_ROWS; r++) {
                const float *a = w->query_rows + (size_t)r * SYNTH_DIM, *b = page + (size_t)nearest[r] * SYNTH_DIM;
                float dot = 0;
                for (int d = 0; d < SYNTH_DIM; d++)
                    dot = fmaf(a[d], b[d], dot);
                score += dot;
            }
            offer(w->top + q * TOP, (Hit){(float)score, p});
        }
        if ((p - w->first) % 1000 == 999)
            __atomic_add_fetch(w->done, 1000, __ATOMIC_RELAXED);
    }
    free(page);
    free(halves);
    free(layout);
    free(nearest);
    return NULL;
}

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: truth PAGES QUERIES THREADS\n");
        return 2;
    }
    int64_t pages = atoll(argv[1]);
    int queries = atoi(argv[2]), threads = atoi(argv[3]);
    /* Bounds: the queries' rows are all in memory and scored per page. */
    if (pages < TOP || pages > ((int64_t)1 << 40) || queries < 1 || queries > 10000 || threads < 1 || threads > 256) {
        fprintf(stderr, "truth: need %d to 2^40 pages, 1-10,000 queries and 1-256 threads\n", TOP);
        return 2;
    }
    float *topics = malloc(sizeof(float) * SYNTH_TOPICS * SYNTH_DIM);
    float *page = malloc(sizeof(float) * SYNTH_ROWS * SYNTH_DIM);
    float *query_rows = malloc(sizeof(float) * queries * SYNTH_QUERY_ROWS * SYNTH_DIM);
    int64_t *targets = malloc(sizeof(int64_t) * queries);
    synth_topics(SEED, topics);
    for (int q = 0; q < queries; q++) {
        targets[q] = synth_query_target(SEED, q, pages);
        synth_page(topics, SEED, targets[q], page);
        synth_query(page, SEED, q, query_rows + (size_t)q * SYNTH_QUERY_ROWS * SYNTH_DIM);
    }

    double started = now();
    int64_t done = 0;
    Worker *workers = calloc(threads, sizeof(Worker));
    pthread_t *ids = calloc(threads, sizeof(pthread_t));
    for (int t = 0; t < threads; t++) {
        workers[t] = (Worker){pages * t / threads, pages * (t + 1) / threads, queries, topics, query_rows,
                              malloc(sizeof(Hit) * queries * TOP), &done};
        for (int i = 0; i < queries * TOP; i++)
            workers[t].top[i] = (Hit){-INFINITY, INT64_MAX};
        pthread_create(&ids[t], NULL, work, &workers[t]);
    }
    for (int64_t last = 0;;) {
        struct timespec pause = {5, 0};
        int64_t seen = __atomic_load_n(&done, __ATOMIC_RELAXED);
        if (seen >= pages - 1000 * threads)
            break;
        if (seen - last >= pages / 20) {
            fprintf(stderr, "truth: %lld of %lld pages, %.0f s\n", (long long)seen, (long long)pages, now() - started);
            last = seen;
        }
        nanosleep(&pause, NULL);
    }
    for (int t = 0; t < threads; t++)
        pthread_join(ids[t], NULL);
    double seconds = now() - started;

    printf("{\"pages\": %lld, \"queries\": %d, \"seconds\": %.1f, \"targets\": [", (long long)pages, queries, seconds);
    for (int q = 0; q < queries; q++)
        printf("%s%lld", q ? ", " : "", (long long)targets[q]);
    printf("], \"truth\": [");
    for (int q = 0; q < queries; q++) {
        Hit merged[TOP];
        for (int i = 0; i < TOP; i++)
            merged[i] = (Hit){-INFINITY, INT64_MAX};
        for (int t = 0; t < threads; t++)
            for (int i = 0; i < TOP; i++)
                offer(merged, workers[t].top[q * TOP + i]);
        printf("%s[", q ? ", " : "");
        for (int i = 0; i < TOP; i++)
            printf("%s%lld", i ? ", " : "", (long long)merged[i].page);
        printf("]");
    }
    printf("]}\n");
    return 0;
}
