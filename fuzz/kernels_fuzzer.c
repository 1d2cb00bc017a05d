/*
 * libFuzzer target for the scoring kernels and the parsing the extension
 * relies on (Sources/ColPaliKernels): shape limits, code validation, the
 * TOAST stream's reassembly of a document from byte pieces of any length
 * (float and half-precision documents),
 * and agreement of every instruction set with a double-precision reference.
 * Built and run by scripts/fuzz.sh; the seed corpus is fuzz/corpus/kernels.
 *
 * Input layout (any bytes are valid input):
 *   [0]      which property to check
 *   [1..4]   shape: nq, nd, dim (small, so a run explores many cases)
 *   [5..]    values (floats, or code bytes) followed by split points
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "colpali_kernels.h"

#define CHECK(cond)                                                                \
    do {                                                                           \
        if (!(cond))                                                               \
            __builtin_trap();                                                      \
    } while (0)

static const char *const isas[] = {"scalar", "avx2", "avx512"};
static unsigned long pauses;

static void count_pause(void) { pauses++; }

typedef struct {
    const uint8_t *data;
    size_t size;
    size_t at;
} input;

static uint8_t next_byte(input *in) { return in->at < in->size ? in->data[in->at++] : 0; }

/* Floats from the input: mostly small finite values built from one byte
 * (sums stay exact enough to compare), sometimes a raw 4-byte pattern
 * (NaN, Inf, huge, denormal). */
static void next_floats(input *in, float *out, size_t count, int raw)
{
    for (size_t i = 0; i < count; i++) {
        if (raw && (next_byte(in) & 7) == 0) {
            uint32_t bits = 0;
            for (int b = 0; b < 4; b++)
                bits = bits << 8 | next_byte(in);
            memcpy(&out[i], &bits, 4);
        } else {
            out[i] = ((float)(int8_t)next_byte(in)) / 32.0f;
        }
    }
}

static double reference_maxsim(const float *q, int nq, const float *d, int nd, int dim)
{
    double total = 0;
    for (int i = 0; i < nq; i++) {
        double best = -INFINITY;
        for (int j = 0; j < nd; j++) {
            double s = 0;
            for (int k = 0; k < dim; k++)
                s += (double)q[(size_t)i * dim + k] * d[(size_t)j * dim + k];
            if (s > best)
                best = s;
        }
        total += best;
    }
    return total;
}

static int all_finite(const float *x, size_t n) { return colpali_find_nonfinite(x, n) < 0; }

/* Shape limits from arbitrary 64-bit sizes. */
static void check_shapes(input *in)
{
    uint64_t rows_bits = 0, dim_bits = 0;
    for (int b = 0; b < 8; b++) rows_bits = rows_bits << 8 | next_byte(in);
    for (int b = 0; b < 8; b++) dim_bits = dim_bits << 8 | next_byte(in);
    const int64_t rows = (int64_t)rows_bits, dim = (int64_t)dim_bits;
    int status = colpali_check_shape(rows, dim);
    int ok = rows >= 1 && dim >= 1 && rows <= COLPALI_MAX_ROWS && dim <= COLPALI_MAX_DIM;
    CHECK((status == COLPALI_SHAPE_OK) == ok);
    if (rows < 1 || dim < 1) CHECK(status == COLPALI_SHAPE_EMPTY);
}

/* A document fed in pieces scores exactly like the whole document. */
static void check_stream(input *in, int nq, int nd, int dim)
{
    float *q = malloc(sizeof(float) * nq * dim), *d = malloc(sizeof(float) * nd * dim);
    next_floats(in, q, (size_t)nq * dim, 0);
    next_floats(in, d, (size_t)nd * dim, 1);
    const int staging_rows = 1 + next_byte(in) % 8;
    float *staging = malloc(sizeof(float) * staging_rows * dim);
    float *row_max = malloc(sizeof(float) * nq);
    /* Extra or missing bytes at the end: a value whose length disagrees. */
    const int skew = (int)(next_byte(in) % 16) - 8;
    const size_t total = (size_t)nd * dim * sizeof(float);
    const size_t length = skew < 0 && (size_t)-skew > total ? 0 : total + (skew > 2 ? 0 : skew);
    uint8_t *bytes = calloc(length + 1, 1);
    memcpy(bytes, d, length < total ? length : total);

    colpali_stream s;
    colpali_stream_begin(&s, q, nq, dim, row_max, staging, staging_rows);
    size_t at = 0;
    int status = COLPALI_OK;
    while (at < length && status == COLPALI_OK) {
        size_t piece = 1 + next_byte(in) * 7u;
        if (piece > length - at) piece = length - at;
        status = colpali_stream_feed(&s, bytes + at, piece);
        at += piece;
    }
    float streamed = 0, whole = 0;
    int finished = colpali_stream_finish(&s, nd, &streamed);
    int direct = colpali_maxsim(q, nq, d, nd, dim, &whole);
    if (length != total) {
        CHECK(finished != COLPALI_OK);
    } else if (direct == COLPALI_OK) {
        CHECK(finished == COLPALI_OK);
        /* nq <= 64: both sum the same row maxima in the same order. */
        CHECK(streamed == whole);
    } else {
        CHECK(finished != COLPALI_OK);
    }
    free(q); free(d); free(staging); free(row_max); free(bytes);
}

/*
 * Every instruction set agrees with double precision on finite input, within
 * the rounding bound of float dot products: per query row, (dim + 2) float
 * epsilons of the largest sum of |q_k d_k|, plus the final rounding.
 */
static void check_isas(input *in, int nq, int nd, int dim)
{
    float *q = malloc(sizeof(float) * nq * dim), *d = malloc(sizeof(float) * nd * dim);
    next_floats(in, q, (size_t)nq * dim, 1);
    next_floats(in, d, (size_t)nd * dim, 1);
    const int finite = all_finite(q, (size_t)nq * dim) && all_finite(d, (size_t)nd * dim);
    double expected = 0, bound = 0, largest = 0;
    for (int i = 0; finite && i < nq; i++) {
        double best = -INFINITY, magnitude = 0;
        for (int j = 0; j < nd; j++) {
            double s = 0, m = 0;
            for (int k = 0; k < dim; k++) {
                double p = (double)q[(size_t)i * dim + k] * d[(size_t)j * dim + k];
                s += p;
                m += fabs(p);
            }
            if (s > best) best = s;
            if (m > magnitude) magnitude = m;
        }
        expected += best;
        bound += (dim + 2) * ldexp(magnitude, -23);
        if (magnitude > largest) largest = magnitude;
    }
    bound += ldexp(fabs(expected), -22) + 1e-30;
    float *sim = malloc(sizeof(float) * nq * nd);
    for (int t = 0; t < 3; t++) {
        if (colpali_kernel_force_isa(isas[t]) != 0)
            continue;
        float score = 0;
        const int status = colpali_maxsim(q, nq, d, nd, dim, &score);
        if (!finite) {
            CHECK(status == COLPALI_NONFINITE);
            continue;
        }
        if (largest > 1e37 || fabs(expected) > 1e37) {
            /* Near or past float overflow: reported, never an Infinity. */
            CHECK(status == COLPALI_NONFINITE || isfinite(score));
            continue;
        }
        CHECK(status == COLPALI_OK);
        CHECK(fabs((double)score - expected) <= bound);
        colpali_similarity(q, nq, d, nd, dim, sim);
    }
    free(q); free(d); free(sim);
}

/* Codes: padding detection, and Hamming scores equal on every ISA and to
 * MaxSim over the sign vectors they encode. */
static void check_codes(input *in, int nq, int nd, int dim)
{
    const size_t nbytes = colpali_code_bytes(dim);
    uint8_t *qc = malloc(nbytes * nq), *dc = malloc(nbytes * nd);
    for (size_t k = 0; k < nbytes * nq; k++) qc[k] = next_byte(in);
    for (size_t k = 0; k < nbytes * nd; k++) dc[k] = next_byte(in);
    ptrdiff_t bad = colpali_codes_bad_padding(dc, nd, dim);
    ptrdiff_t naive = -1;
    for (int r = 0; r < nd && naive < 0; r++)
        for (int k = dim; k < (int)(nbytes * 8); k++)
            if (dc[r * nbytes + k / 8] & (0x80u >> (k % 8))) { naive = r; break; }
    CHECK(bad == naive);
    /* Scores are defined only for well-formed codes: clear the padding. */
    const unsigned used = (unsigned)dim & 7u;
    if (used) {
        for (int r = 0; r < nq; r++) qc[r * nbytes + nbytes - 1] &= (uint8_t)~(0xFFu >> used);
        for (int r = 0; r < nd; r++) dc[r * nbytes + nbytes - 1] &= (uint8_t)~(0xFFu >> used);
    }
    float *qs = malloc(sizeof(float) * nq * dim), *ds = malloc(sizeof(float) * nd * dim);
    for (int r = 0; r < nq; r++)
        for (int k = 0; k < dim; k++)
            qs[r * dim + k] = (qc[r * nbytes + k / 8] & (0x80u >> (k % 8))) ? 1.0f : -1.0f;
    for (int r = 0; r < nd; r++)
        for (int k = 0; k < dim; k++)
            ds[r * dim + k] = (dc[r * nbytes + k / 8] & (0x80u >> (k % 8))) ? 1.0f : -1.0f;
    double expected = reference_maxsim(qs, nq, ds, nd, dim);
    float *table = malloc(sizeof(float) * colpali_binary_table_floats(dim));
    for (int t = 0; t < 3; t++) {
        if (colpali_kernel_force_isa(isas[t]) != 0)
            continue;
        CHECK((double)colpali_maxsim_hamming(qc, nq, dc, nd, dim) == expected);
        /* The float query against the document bits: the same here. */
        float with_table = colpali_maxsim_binary(qs, nq, dc, nd, dim, table);
        float without = colpali_maxsim_binary(qs, nq, dc, nd, dim, NULL);
        CHECK(fabs((double)with_table - expected) <= 1e-3 * (1 + fabs(expected)));
        CHECK(fabs((double)without - expected) <= 1e-3 * (1 + fabs(expected)));
    }
    /* Quantizing the sign vectors gives the codes back. */
    uint8_t *again = malloc(nbytes * nd);
    colpali_binary_quantize(ds, nd, dim, again);
    CHECK(memcmp(again, dc, nbytes * nd) == 0);
    free(qc); free(dc); free(qs); free(ds); free(table); free(again);
}

/*
 * A 16-bit document (any bit patterns: NaN, Inf, subnormals) fed in pieces
 * scores exactly like colpali_maxsim over its widened floats, on every ISA;
 * narrowing a widened finite half gives the same half back.
 */
static void check_half_stream(input *in, int nq, int nd, int dim)
{
    const size_t count = (size_t)nd * dim;
    float *q = malloc(sizeof(float) * nq * dim), *widened = malloc(sizeof(float) * count);
    uint16_t *halves = malloc(sizeof(uint16_t) * count), *again = malloc(sizeof(uint16_t) * count);
    next_floats(in, q, (size_t)nq * dim, 0);
    for (size_t k = 0; k < count; k++) {
        /* Mostly small values, sometimes a raw pattern. */
        uint8_t b = next_byte(in);
        halves[k] = (b & 7) == 0 ? (uint16_t)(next_byte(in) << 8 | next_byte(in)) : (uint16_t)(0x3000 | b);
    }
    const int staging_rows = 1 + next_byte(in) % 8;
    float *staging = malloc(sizeof(float) * staging_rows * dim), *row_max = malloc(sizeof(float) * nq);
    const size_t total = count * sizeof(uint16_t);
    const int short_by = next_byte(in) % 4 == 0 ? 1 : 0;
    const uint8_t *bytes = (const uint8_t *)halves;
    const size_t first_piece = 1 + next_byte(in) * 5u, piece_step = 1 + next_byte(in) * 3u;
    for (int t = 0; t < 3; t++) {
        if (colpali_kernel_force_isa(isas[t]) != 0)
            continue;
        colpali_half_to_float(halves, count, widened);
        const ptrdiff_t nonfinite = colpali_find_nonfinite_half(halves, count);
        CHECK((nonfinite >= 0) == (colpali_find_nonfinite(widened, count) >= 0));
        colpali_stream s;
        colpali_stream_begin_half(&s, q, nq, dim, row_max, staging, staging_rows);
        size_t at = 0, piece = first_piece;
        while (at < total - short_by) {
            if (piece > total - short_by - at) piece = total - short_by - at;
            colpali_stream_feed(&s, bytes + at, piece);
            at += piece;
            piece = piece_step;
        }
        float streamed = 0, whole = 0;
        const int finished = colpali_stream_finish(&s, nd, &streamed);
        const int direct = colpali_maxsim(q, nq, widened, nd, dim, &whole);
        if (short_by) {
            CHECK(finished != COLPALI_OK);
        } else {
            CHECK(finished == direct);
            if (direct == COLPALI_OK)
                CHECK(streamed == whole);
        }
        if (nonfinite < 0) {
            CHECK(colpali_float_to_half(widened, count, again) == -1);
            for (size_t k = 0; k < count; k++)
                /* -0 and +0 keep their signs; everything else its bits. */
                CHECK(again[k] == halves[k]);
        }
    }
    colpali_kernel_force_isa("auto");
    free(q); free(widened); free(halves); free(again); free(staging); free(row_max);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    input in = {data, size, 0};
    /* Pause every piece of work, as in the extension: every split path runs. */
    colpali_set_pause(count_pause);
    const uint8_t mode = next_byte(&in);
    const int nq = 1 + next_byte(&in) % 64;
    const int nd = 1 + (next_byte(&in) | next_byte(&in) << 8) % 300;
    const int dim = 1 + next_byte(&in) % 260;
    switch (mode % 5) {
    case 0: check_shapes(&in); break;
    case 1: check_stream(&in, nq, nd, dim); break;
    case 2: check_isas(&in, nq, nd, dim); break;
    case 3: check_codes(&in, nq, nd, dim); break;
    default: check_half_stream(&in, nq, nd, dim); break;
    }
    return 0;
}
