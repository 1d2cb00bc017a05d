/*
 * Full-size synthetic ColPali pages for the million-page first-stage
 * benchmark, generated from their number instead of stored: a million
 * pages of 1,030 x 128 values (264 GB in half precision) do not fit on the
 * benchmark machine's disk, and the first stage reads only its index. The
 * same construction as bench/swift/SyntheticCorpus.swift (512 unit topics;
 * a page keeps 16 of them and each row mixes one with noise, 0.75 : 0.25;
 * a query is 20 rows of its target page plus 0.6 noise), except that a
 * noise row is uniform per coordinate (four 16-bit pieces of each 64-bit
 * output) rather than normal, scaled to unit length all the same: in 128
 * dimensions its direction is close to uniform either way, and a page
 * takes a fraction of a millisecond to make, not 2 ms. Every page is made
 * once for the index's sample, once to file it, and once for the exact
 * top 10.
 *
 * Shared by the server-side functions (pg_synthetic.c) and the brute-force
 * ground truth (truth.c): both see the same page i. No PostgreSQL headers.
 */
#ifndef COLPALI_BENCH_SYNTHETIC_PAGE_H
#define COLPALI_BENCH_SYNTHETIC_PAGE_H

#include <math.h>
#include <stdint.h>

#define SYNTH_DIM 128
#define SYNTH_ROWS 1030
#define SYNTH_QUERY_ROWS 20
#define SYNTH_TOPICS 512
#define SYNTH_TOPICS_PER_PAGE 16
#define SYNTH_TOPIC_WEIGHT 0.75f
#define SYNTH_QUERY_NOISE 0.6f

/* SplitMix64 in counter mode: output i of stream `key` needs no state, so
 * the noise loops vectorise. */
static inline uint64_t synth_mix(uint64_t key, uint64_t i)
{
    uint64_t z = key + (i + 1) * 0x9E3779B97F4A7C15ULL;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

static inline void synth_normalise(float *rows, int count)
{
    for (int r = 0; r < count; r++) {
        float *v = rows + (long)r * SYNTH_DIM, norm = 0;
        for (int k = 0; k < SYNTH_DIM; k++)
            norm += v[k] * v[k];
        float scale = 1.0f / sqrtf(norm);
        for (int k = 0; k < SYNTH_DIM; k++)
            v[k] *= scale;
    }
}

/* `count` unit rows of noise from stream `key`, starting at its output
 * `at`: each output gives four coordinates, uniform in [-1, 1]. */
static inline void synth_noise(uint64_t key, uint64_t at, float *rows, int count)
{
    long n = (long)count * SYNTH_DIM / 4;
    for (long i = 0; i < n; i++) {
        uint64_t bits = synth_mix(key, at + (uint64_t)i);
        for (int q = 0; q < 4; q++)
            rows[4 * i + q] = ((float)((bits >> (16 * q)) & 0xFFFF) - 32767.5f) * (1.0f / 32767.5f);
    }
    synth_normalise(rows, count);
}

/* The corpus's topics: SYNTH_TOPICS x SYNTH_DIM floats. */
static inline void synth_topics(uint64_t seed, float *topics)
{
    synth_noise(seed ^ 0x746F70696373ULL, 0, topics, SYNTH_TOPICS);
}

static inline uint64_t synth_page_key(uint64_t seed, int64_t page)
{
    return seed + 0x9E3779B9ULL * (uint64_t)(page + 1);
}

/* Page `page`: SYNTH_ROWS x SYNTH_DIM unit rows into `rows`. */
static inline void synth_page(const float *topics, uint64_t seed, int64_t page, float *rows)
{
    uint64_t key = synth_page_key(seed, page);
    int chosen[SYNTH_TOPICS_PER_PAGE];
    for (int t = 0; t < SYNTH_TOPICS_PER_PAGE; t++)
        chosen[t] = (int)(synth_mix(key, (uint64_t)t) % SYNTH_TOPICS);
    /* Outputs: 16 topic choices, then one per row, then the noise. */
    synth_noise(key, SYNTH_TOPICS_PER_PAGE + SYNTH_ROWS, rows, SYNTH_ROWS);
    for (int r = 0; r < SYNTH_ROWS; r++) {
        const float *topic = topics +
            (long)chosen[synth_mix(key, SYNTH_TOPICS_PER_PAGE + (uint64_t)r) % SYNTH_TOPICS_PER_PAGE] * SYNTH_DIM;
        float *v = rows + (long)r * SYNTH_DIM;
        for (int k = 0; k < SYNTH_DIM; k++)
            v[k] = SYNTH_TOPIC_WEIGHT * topic[k] + (1 - SYNTH_TOPIC_WEIGHT) * v[k];
    }
    synth_normalise(rows, SYNTH_ROWS);
}

/* Query `number`, aimed at page `target` (whose rows are in `page`):
 * SYNTH_QUERY_ROWS rows of it, perturbed, into `rows`. */
static inline void synth_query(const float *page, uint64_t seed, int number, float *rows)
{
    uint64_t key = seed + 0xC2B2AE35ULL * (uint64_t)(number + 1);
    synth_noise(key, SYNTH_QUERY_ROWS, rows, SYNTH_QUERY_ROWS);
    for (int r = 0; r < SYNTH_QUERY_ROWS; r++) {
        const float *source = page + (long)(synth_mix(key, (uint64_t)r) % SYNTH_ROWS) * SYNTH_DIM;
        for (int k = 0; k < SYNTH_DIM; k++)
            rows[r * SYNTH_DIM + k] = source[k] + SYNTH_QUERY_NOISE * rows[r * SYNTH_DIM + k];
    }
    synth_normalise(rows, SYNTH_QUERY_ROWS);
}

/* Query `number`'s target among `pages` pages. */
static inline int64_t synth_query_target(uint64_t seed, int number, int64_t pages)
{
    return (int64_t)(synth_mix(seed ^ 0x71756572696573ULL, (uint64_t)number) % (uint64_t)pages);
}

#endif
