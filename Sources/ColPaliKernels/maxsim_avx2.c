/*
 * AVX2 + FMA MaxSim, for x86 CPUs without AVX-512. Tiles of 2 query rows x 4
 * document rows (8 accumulators: AVX2 has only 16 vector registers), ragged
 * edges reuse the last valid row, the dimension tail is a masked load.
 */
#include "kernels_internal.h"

#if COLPALI_X86
#include <math.h>

#include "avx2_tile.h"

AVX2 int colpali_rowmax_avx2(const float *q, int nq, const float *d, int nd,
                             int dim, float *row_max)
{
    const int chunk = colpali_doc_chunk_rows(dim);
    colpali_budget budget = {0};
    const __m256 zero = _mm256_setzero_ps();
    __m256 poison = zero;

    for (int j0 = 0; j0 < nd; j0 += chunk) {
        const int j1 = j0 + chunk < nd ? j0 + chunk : nd;
        colpali_prefetcher next = colpali_prefetch_plan(
            d, j1, nd, chunk, dim, ((nq + 1) / 2) * ((j1 - j0 + 3) / 4));
        for (int i0 = 0; i0 < nq; i0 += 2) {
            colpali_spend(&budget, (size_t)2 * (size_t)(j1 - j0) * (size_t)dim);
            const float *qr[2];
            for (int r = 0; r < 2; r++) {
                int i = i0 + r < nq ? i0 + r : nq - 1;
                qr[r] = q + (size_t)i * dim;
            }
            __m256 best = _mm256_set1_ps(-INFINITY);
            for (int j = j0; j < j1; j += 4) {
                const float *dr[4];
                for (int c = 0; c < 4; c++) {
                    int jj = j + c < j1 ? j + c : j1 - 1;
                    dr[c] = d + (size_t)jj * dim;
                }
                colpali_prefetch_step(&next);
                __m256 dots = tile_dots(qr, dr, dim);
                poison = _mm256_fmadd_ps(dots, zero, poison);
                best = _mm256_max_ps(best, dots);
            }
            /* Fold the four document lanes within each 128-bit half (one row each). */
            best = _mm256_max_ps(best, _mm256_permute_ps(best, 0x4E));
            best = _mm256_max_ps(best, _mm256_permute_ps(best, 0xB1));
            float lanes[8];
            _mm256_storeu_ps(lanes, best);
            for (int r = 0; r < 2 && i0 + r < nq; r++)
                if (lanes[r * 4] > row_max[i0 + r])
                    row_max[i0 + r] = lanes[r * 4];
        }
    }
    __m256 unordered = _mm256_cmp_ps(poison, poison, _CMP_UNORD_Q);
    return _mm256_movemask_ps(unordered) ? COLPALI_NONFINITE : COLPALI_OK;
}

/* Every dot product, in the same tiles: the index scores a question's
 * tokens against all its centroids with this (20 x 1,024 x 128 per query,
 * where the scalar loop cost more than the postings it then reads). */
AVX2 void colpali_similarity_avx2(const float *q, int nq, const float *d, int nd,
                                  int dim, float *out)
{
    colpali_budget budget = {0};
    for (int i0 = 0; i0 < nq; i0 += 2) {
        colpali_spend(&budget, (size_t)2 * (size_t)nd * (size_t)dim);
        const float *qr[2];
        for (int r = 0; r < 2; r++)
            qr[r] = q + (size_t)(i0 + r < nq ? i0 + r : nq - 1) * dim;
        for (int j0 = 0; j0 < nd; j0 += 4) {
            const float *dr[4];
            for (int c = 0; c < 4; c++)
                dr[c] = d + (size_t)(j0 + c < nd ? j0 + c : nd - 1) * dim;
            float dots[8];
            _mm256_storeu_ps(dots, tile_dots(qr, dr, dim));
            for (int r = 0; r < 2 && i0 + r < nq; r++)
                for (int c = 0; c < 4 && j0 + c < nd; c++)
                    out[(size_t)(i0 + r) * nd + j0 + c] = dots[r * 4 + c];
        }
    }
}

#endif
