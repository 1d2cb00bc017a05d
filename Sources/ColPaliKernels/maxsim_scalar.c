/*
 * Portable MaxSim: the reference the SIMD kernels are tested against, and the
 * kernel on CPUs without AVX2 (or other architectures). Same blocking as the
 * SIMD versions: a chunk of document rows is scored against every query row
 * before the next chunk is read.
 */
#include <math.h>

#include "kernels_internal.h"

static inline float dot_scalar(const float *a, const float *b, int dim)
{
    /* Four partial sums: independent dependency chains, and a summation order
     * closer to the SIMD kernels'. */
    float s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    int k = 0;
    for (; k + 4 <= dim; k += 4) {
        s0 += a[k] * b[k];
        s1 += a[k + 1] * b[k + 1];
        s2 += a[k + 2] * b[k + 2];
        s3 += a[k + 3] * b[k + 3];
    }
    for (; k < dim; k++)
        s0 += a[k] * b[k];
    return (s0 + s1) + (s2 + s3);
}

int colpali_rowmax_scalar(const float *q, int nq, const float *d, int nd, int dim,
                          float *row_max)
{
    const int chunk = colpali_doc_chunk_rows(dim);
    colpali_budget budget = {0};
    /* Adding x * 0 turns into NaN as soon as any x is NaN or infinite. */
    float poison = 0.0f;
    for (int j0 = 0; j0 < nd; j0 += chunk) {
        int j1 = j0 + chunk < nd ? j0 + chunk : nd;
        for (int i = 0; i < nq; i++) {
            colpali_spend(&budget, (size_t)(j1 - j0) * (size_t)dim);
            const float *qi = q + (size_t)i * dim;
            float best = row_max[i];
            for (int j = j0; j < j1; j++) {
                float s = dot_scalar(qi, d + (size_t)j * dim, dim);
                poison += s * 0.0f;
                if (s > best)
                    best = s;
            }
            row_max[i] = best;
        }
    }
    return isnan(poison) ? COLPALI_NONFINITE : COLPALI_OK;
}

void colpali_similarity_scalar(const float *query, int nq, const float *doc, int nd,
                               int dim, float *out)
{
    colpali_budget budget = {0};
    for (int i = 0; i < nq; i++)
        for (int j = 0; j < nd; j++) {
            colpali_spend(&budget, (size_t)dim);
            out[(size_t)i * nd + j] =
                dot_scalar(query + (size_t)i * dim, doc + (size_t)j * dim, dim);
        }
}
