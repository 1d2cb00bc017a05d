/*
 * MaxSim over a document delivered in byte pieces of any length: the
 * extension feeds it a stored page's TOAST chunks as they are read, so the
 * page is never assembled in memory. Pieces land in a staging buffer of whole
 * rows that stays in cache; each time it fills, its rows raise the running
 * per-query-row maxima. A float may straddle two pieces: bytes are copied as
 * bytes, and only whole staged rows are ever scored.
 *
 * A 16-bit page (colpali_stream_begin_half) is widened as it arrives,
 * straight from each piece into the float staging buffer: the widening is
 * the only pass over the bytes, and never more than the staging at a time.
 * A page in sign planes (colpali_stream_begin_planes) keeps its codes, which
 * come first, then widens its magnitudes with their codes (sign_planes.c)
 * straight from each piece, a whole row at a time.
 */
#include <math.h>
#include <string.h>

#include "kernels_internal.h"

int colpali_stream_staging_rows(int dim)
{
    size_t rows = 8192 / (size_t)(dim > 0 ? dim : 1);
    return rows < 1 ? 1 : (int)rows;
}

void colpali_stream_begin(colpali_stream *s, const float *query, int nq, int dim,
                          float *row_max, float *staging, int staging_rows)
{
    s->query = query;
    s->nq = nq;
    s->dim = dim;
    s->row_max = row_max;
    s->staging = staging;
    s->staging_rows = staging_rows;
    s->half = 0;
    s->has_carry = 0;
    s->carry = 0;
    s->staged_bytes = 0;
    s->rows_scored = 0;
    s->status = COLPALI_OK;
    s->planes = 0;
    s->codes = NULL;
    s->codes_bytes = 0;
    s->codes_have = 0;
    s->magnitudes = NULL;
    s->magnitudes_have = 0;
    s->code_row_bytes = 0;
    s->magnitude_row_bytes = 0;
    s->code_rows = 0;
    s->staged_rows = 0;
    for (int i = 0; i < nq; i++)
        row_max[i] = -INFINITY;
}

void colpali_stream_begin_half(colpali_stream *s, const float *query, int nq, int dim,
                               float *row_max, float *staging, int staging_rows)
{
    colpali_stream_begin(s, query, nq, dim, row_max, staging, staging_rows);
    s->half = 1;
}

void colpali_stream_begin_planes(colpali_stream *s, const float *query, int nq, int dim,
                                 int64_t rows, float *row_max, float *staging, int staging_rows,
                                 uint8_t *codes, uint8_t *magnitudes)
{
    colpali_stream_begin(s, query, nq, dim, row_max, staging, staging_rows);
    s->planes = 1;
    s->codes = codes;
    s->code_row_bytes = colpali_code_bytes(dim);
    s->magnitude_row_bytes = colpali_planes_magnitude_bytes(dim);
    s->code_rows = rows;
    s->codes_bytes = (size_t)rows * s->code_row_bytes;
    s->magnitudes = magnitudes;
}

/* Scores the whole rows staged and keeps a partial row's values. */
static void score_staged(colpali_stream *s)
{
    const size_t row_bytes = (size_t)s->dim * sizeof(float);
    const size_t rows = s->staged_bytes / row_bytes;
    if (rows == 0)
        return;
    if (s->status == COLPALI_OK &&
        colpali_maxsim_rowmax_update(s->query, s->nq, s->staging, (int)rows, s->dim,
                                     s->row_max) != COLPALI_OK)
        s->status = COLPALI_NONFINITE;
    s->rows_scored += (int64_t)rows;
    s->staged_rows = 0;
    const size_t rest = s->staged_bytes - rows * row_bytes;
    memmove(s->staging, (const char *)s->staging + rows * row_bytes, rest);
    s->staged_bytes = rest;
}

/* Halves are widened straight from the caller's bytes into the staging
 * buffer: one pass over the page, no copy before it. A half split between
 * two pieces waits in `carry`. */
static void feed_half(colpali_stream *s, const unsigned char *in, size_t length, size_t capacity)
{
    while (length > 0 && s->status == COLPALI_OK) {
        float *at = (float *)((char *)s->staging + s->staged_bytes);
        if (s->has_carry) {
            const unsigned char pair[2] = {s->carry, in[0]};
            colpali_half_bytes_to_float(pair, 1, at);
            s->has_carry = 0;
            in++;
            length--;
            s->staged_bytes += sizeof(float);
        } else if (length == 1) {
            s->carry = in[0];
            s->has_carry = 1;
            return;
        } else {
            size_t count = length / 2;
            const size_t room = (capacity - s->staged_bytes) / sizeof(float);
            if (count > room)
                count = room;
            colpali_half_bytes_to_float(in, count, at);
            in += count * 2;
            length -= count * 2;
            s->staged_bytes += count * sizeof(float);
        }
        if (s->staged_bytes == capacity)
            score_staged(s);
    }
}

/* Widens n whole rows of magnitudes at `in`, with their codes, into the
 * staging buffer after the rows it holds; scores it once full. */
static void widen_planes(colpali_stream *s, const unsigned char *in, size_t n)
{
    const int64_t next = s->rows_scored + s->staged_rows;
    if (next + (int64_t)n > s->code_rows) {
        s->status = -1;        /* more magnitudes than codes: a malformed value */
        return;
    }
    colpali_planes_rows_to_float(s->codes + (size_t)next * s->code_row_bytes, in, (int)n, s->dim,
                                 s->staging + (size_t)s->staged_rows * (size_t)s->dim);
    s->staged_rows += (int)n;
    s->staged_bytes += n * (size_t)s->dim * sizeof(float);
    if (s->staged_rows == s->staging_rows)
        score_staged(s);
}

/* The codes are copied whole; magnitudes are widened straight from the
 * caller's bytes, whole rows at a time, and only a row split between two
 * pieces is gathered in `magnitudes` first. */
static void feed_planes(colpali_stream *s, const unsigned char *in, size_t length)
{
    const size_t row_bytes = s->magnitude_row_bytes;
    while (length > 0 && s->status == COLPALI_OK) {
        size_t take;
        if (s->codes_have < s->codes_bytes) {
            take = s->codes_bytes - s->codes_have;
            if (take > length)
                take = length;
            memcpy(s->codes + s->codes_have, in, take);
            s->codes_have += take;
        } else if (s->magnitudes_have > 0 || length < row_bytes) {
            take = row_bytes - s->magnitudes_have;
            if (take > length)
                take = length;
            memcpy(s->magnitudes + s->magnitudes_have, in, take);
            s->magnitudes_have += take;
            if (s->magnitudes_have == row_bytes) {
                s->magnitudes_have = 0;
                widen_planes(s, s->magnitudes, 1);
            }
        } else {
            size_t rows = length / row_bytes;
            if (rows > (size_t)(s->staging_rows - s->staged_rows))
                rows = (size_t)(s->staging_rows - s->staged_rows);
            widen_planes(s, in, rows);
            take = rows * row_bytes;
        }
        in += take;
        length -= take;
    }
}

int colpali_stream_feed(colpali_stream *s, const void *bytes, size_t length)
{
    if (s->planes) {
        feed_planes(s, bytes, length);
        return s->status;
    }
    const size_t capacity = (size_t)s->staging_rows * (size_t)s->dim * sizeof(float);
    const char *in = bytes;
    if (s->half) {
        feed_half(s, bytes, length, capacity);
        return s->status;
    }
    while (length > 0 && s->status == COLPALI_OK) {
        size_t take = capacity - s->staged_bytes;
        if (take > length)
            take = length;
        memcpy((char *)s->staging + s->staged_bytes, in, take);
        s->staged_bytes += take;
        in += take;
        length -= take;
        if (s->staged_bytes == capacity)
            score_staged(s);
    }
    return s->status;
}

int colpali_stream_finish(colpali_stream *s, int64_t expected_rows, float *score)
{
    score_staged(s);
    if (s->status != COLPALI_OK)
        return s->status;
    if (s->staged_bytes != 0 || s->has_carry || s->rows_scored != expected_rows ||
        s->codes_have != s->codes_bytes || s->magnitudes_have != 0)
        return -1;
    return colpali_maxsim_total(s->row_max, s->nq, score);
}
