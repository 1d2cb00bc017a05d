/*
 * AVX-512 MaxSim. Tiles of 4 query rows x 4 document rows: 16 accumulators,
 * 8 loads per 16 FMAs. Ragged edges reuse the last valid row (a duplicate
 * cannot change a maximum), so one tile routine covers every shape, and the
 * dimension tail is a masked load, so any dim works.
 */
#include "avx512_reduce.h"

#if COLPALI_X86
#include <math.h>

COLPALI_AVX512_INLINE __m512 tile_dots(const float *const qr[4], const float *const dr[4], int dim)
{
    __m512 acc[16];
    for (int x = 0; x < 16; x++)
        acc[x] = _mm512_setzero_ps();
    int k = 0;
    for (; k + 16 <= dim; k += 16) {
        __m512 qv[4], dv[4];
        for (int r = 0; r < 4; r++) qv[r] = _mm512_loadu_ps(qr[r] + k);
        for (int c = 0; c < 4; c++) dv[c] = _mm512_loadu_ps(dr[c] + k);
        for (int r = 0; r < 4; r++)
            for (int c = 0; c < 4; c++)
                acc[r * 4 + c] = _mm512_fmadd_ps(qv[r], dv[c], acc[r * 4 + c]);
    }
    if (k < dim) {
        __mmask16 m = (__mmask16)((1u << (dim - k)) - 1u);
        __m512 qv[4], dv[4];
        for (int r = 0; r < 4; r++) qv[r] = _mm512_maskz_loadu_ps(m, qr[r] + k);
        for (int c = 0; c < 4; c++) dv[c] = _mm512_maskz_loadu_ps(m, dr[c] + k);
        for (int r = 0; r < 4; r++)
            for (int c = 0; c < 4; c++)
                acc[r * 4 + c] = _mm512_fmadd_ps(qv[r], dv[c], acc[r * 4 + c]);
    }
    return colpali_reduce16(acc);
}

COLPALI_AVX512 int colpali_rowmax_avx512(const float *q, int nq, const float *d, int nd,
                                 int dim, float *row_max)
{
    const int chunk = colpali_doc_chunk_rows(dim);
    colpali_budget budget = {0};
    const __m512 zero = _mm512_setzero_ps();
    __m512 poison = zero;

    for (int j0 = 0; j0 < nd; j0 += chunk) {
        const int j1 = j0 + chunk < nd ? j0 + chunk : nd;
        colpali_prefetcher next = colpali_prefetch_plan(
            d, j1, nd, chunk, dim, ((nq + 3) / 4) * ((j1 - j0 + 3) / 4));
        for (int i0 = 0; i0 < nq; i0 += 4) {
            colpali_spend(&budget, (size_t)4 * (size_t)(j1 - j0) * (size_t)dim);
            const float *qr[4];
            for (int r = 0; r < 4; r++) {
                int i = i0 + r < nq ? i0 + r : nq - 1;
                qr[r] = q + (size_t)i * dim;
            }
            __m512 best = _mm512_set1_ps(-INFINITY);
            for (int j = j0; j < j1; j += 4) {
                const float *dr[4];
                for (int c = 0; c < 4; c++) {
                    int jj = j + c < j1 ? j + c : j1 - 1;
                    dr[c] = d + (size_t)jj * dim;
                }
                colpali_prefetch_step(&next);
                __m512 dots = tile_dots(qr, dr, dim);
                poison = _mm512_fmadd_ps(dots, zero, poison);
                best = _mm512_max_ps(best, dots);
            }
            float rows[4];
            _mm_storeu_ps(rows, colpali_rows_of_tile_max(best));
            for (int r = 0; r < 4 && i0 + r < nq; r++)
                if (rows[r] > row_max[i0 + r])
                    row_max[i0 + r] = rows[r];
        }
    }
    /* NaN compares false everywhere: any poisoned lane shows as unordered. */
    __mmask16 bad = _mm512_cmp_ps_mask(poison, poison, _CMP_UNORD_Q);
    return bad ? COLPALI_NONFINITE : COLPALI_OK;
}

#endif
