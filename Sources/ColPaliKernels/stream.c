/*
 * MaxSim over a document delivered in byte pieces of any length: the
 * extension feeds it a stored page's TOAST chunks as they are read, so the
 * page is never assembled in memory. Pieces land in a staging buffer of whole
 * rows that stays in cache; each time it fills, its rows raise the running
 * per-query-row maxima. A float may straddle two pieces: bytes are copied as
 * bytes, and only whole staged rows are ever scored.
 *
 * A 16-bit page (colpali_stream_begin_half) is staged as raw halves, and
 * each block of whole rows is widened into the float staging buffer just
 * before it is scored: a few KiB at a time, never the whole page.
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
    s->raw = NULL;
    s->staged_bytes = 0;
    s->rows_scored = 0;
    s->status = COLPALI_OK;
    for (int i = 0; i < nq; i++)
        row_max[i] = -INFINITY;
}

void colpali_stream_begin_half(colpali_stream *s, const float *query, int nq, int dim,
                               float *row_max, float *staging, int staging_rows, uint16_t *raw)
{
    colpali_stream_begin(s, query, nq, dim, row_max, staging, staging_rows);
    s->raw = raw;
}

/* Where fed bytes are staged, and the bytes of one staged row. */
static char *staging_bytes(const colpali_stream *s)
{
    return s->raw != NULL ? (char *)s->raw : (char *)s->staging;
}

static size_t row_bytes_of(const colpali_stream *s)
{
    return (size_t)s->dim * (s->raw != NULL ? sizeof(uint16_t) : sizeof(float));
}

/* Scores the whole rows staged and keeps a partial row's bytes. */
static void score_staged(colpali_stream *s)
{
    const size_t row_bytes = row_bytes_of(s);
    const size_t rows = s->staged_bytes / row_bytes;
    if (rows == 0)
        return;
    if (s->raw != NULL)
        colpali_half_to_float(s->raw, rows * (size_t)s->dim, s->staging);
    if (s->status == COLPALI_OK &&
        colpali_maxsim_rowmax_update(s->query, s->nq, s->staging, (int)rows, s->dim,
                                     s->row_max) != COLPALI_OK)
        s->status = COLPALI_NONFINITE;
    s->rows_scored += (int64_t)rows;
    const size_t rest = s->staged_bytes - rows * row_bytes;
    memmove(staging_bytes(s), staging_bytes(s) + rows * row_bytes, rest);
    s->staged_bytes = rest;
}

int colpali_stream_feed(colpali_stream *s, const void *bytes, size_t length)
{
    const size_t capacity = (size_t)s->staging_rows * row_bytes_of(s);
    const char *in = bytes;
    while (length > 0 && s->status == COLPALI_OK) {
        size_t take = capacity - s->staged_bytes;
        if (take > length)
            take = length;
        memcpy(staging_bytes(s) + s->staged_bytes, in, take);
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
    if (s->staged_bytes != 0 || s->rows_scored != expected_rows)
        return -1;
    return colpali_maxsim_total(s->row_max, s->nq, score);
}
