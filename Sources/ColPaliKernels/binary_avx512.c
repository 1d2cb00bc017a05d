/*
 * AVX-512 asymmetric binary score. Each 16-bit slice of a document code is a
 * lane mask: the query values under set bits are summed with masked adds, in
 * 4 x 4 tiles like the float kernel.
 */
#include "avx512_reduce.h"

#if COLPALI_X86
#include <math.h>

/* Bit-reversed bytes: the code's MSB-first order becomes lane order. */
#define R2(n) n, n + 2 * 64, n + 1 * 64, n + 3 * 64
#define R4(n) R2(n), R2(n + 2 * 16), R2(n + 1 * 16), R2(n + 3 * 16)
#define R6(n) R4(n), R4(n + 2 * 4), R4(n + 1 * 4), R4(n + 3 * 4)
static const uint8_t reversed_byte[256] = {R6(0), R6(2), R6(1), R6(3)};

enum { CHUNK_ROWS = 64, MAX_SLICES = 64 }; /* up to dim 1024 in one pass */

static void code_masks(const uint8_t *code, size_t nbytes, int slices,
                       uint16_t *masks)
{
    for (int s = 0; s < slices; s++) {
        size_t b = (size_t)s * 2;
        unsigned lo = reversed_byte[code[b]];
        unsigned hi = b + 1 < nbytes ? reversed_byte[code[b + 1]] : 0u;
        masks[s] = (uint16_t)(lo | (hi << 8));
    }
}

COLPALI_AVX512 float colpali_maxsim_binary_avx512(const float *q, int nq,
                                                  const uint8_t *codes, int nd,
                                                  int dim, float *table)
{
    if (dim > MAX_SLICES * 16)
        return colpali_maxsim_binary_scalar(q, nq, codes, nd, dim, table);
    const size_t nbytes = colpali_code_bytes(dim);
    const int slices = (dim + 15) / 16;
    const __mmask16 tail = (dim % 16) ? (__mmask16)((1u << (dim % 16)) - 1u) : 0xFFFF;
    uint16_t masks[CHUNK_ROWS][MAX_SLICES];
    colpali_budget budget = {0};
    double total = 0.0;

    for (int i0 = 0; i0 < nq; i0 += 4) {
        const float *qr[4];
        for (int r = 0; r < 4; r++) {
            int i = i0 + r < nq ? i0 + r : nq - 1;
            qr[r] = q + (size_t)i * dim;
        }
        __m128 best_rows = _mm_set1_ps(-INFINITY);
        for (int j0 = 0; j0 < nd; j0 += CHUNK_ROWS) {
            const int j1 = j0 + CHUNK_ROWS < nd ? j0 + CHUNK_ROWS : nd;
            colpali_spend(&budget, (size_t)4 * (size_t)(j1 - j0) * (size_t)dim);
            for (int j = j0; j < j1; j++)
                code_masks(codes + (size_t)j * nbytes, nbytes, slices, masks[j - j0]);
            __m512 best = _mm512_set1_ps(-INFINITY);
            for (int j = j0; j < j1; j += 4) {
                const uint16_t *mr[4];
                for (int c = 0; c < 4; c++) {
                    int jj = j + c < j1 ? j + c : j1 - 1;
                    mr[c] = masks[jj - j0];
                }
                __m512 acc[16];
                for (int x = 0; x < 16; x++)
                    acc[x] = _mm512_setzero_ps();
                for (int s = 0; s < slices; s++) {
                    __mmask16 lanes = s == slices - 1 ? tail : 0xFFFF;
                    __m512 qv[4];
                    for (int r = 0; r < 4; r++)
                        qv[r] = _mm512_maskz_loadu_ps(lanes, qr[r] + s * 16);
                    for (int r = 0; r < 4; r++)
                        for (int c = 0; c < 4; c++)
                            acc[r * 4 + c] = _mm512_mask_add_ps(
                                acc[r * 4 + c], (__mmask16)mr[c][s], acc[r * 4 + c], qv[r]);
                }
                best = _mm512_max_ps(best, colpali_reduce16(acc));
            }
            best_rows = _mm_max_ps(best_rows, colpali_rows_of_tile_max(best));
        }
        float rows[4];
        _mm_storeu_ps(rows, best_rows);
        for (int r = 0; r < 4 && i0 + r < nq; r++) {
            double row_sum = 0.0;
            for (int k = 0; k < dim; k++)
                row_sum += qr[r][k];
            total += 2.0 * (double)rows[r] - row_sum;
        }
    }
    return (float)total;
}

#endif
