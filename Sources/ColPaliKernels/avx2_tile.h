/*
 * The AVX2 + FMA tile shared by MaxSim and nearest-centroid assignment: the
 * dot products of 2 rows of one matrix with 4 rows of another in one pass
 * over the dimension (8 accumulators: AVX2 has only 16 vector registers).
 * Include only inside `#if COLPALI_X86`.
 */
#ifndef COLPALI_AVX2_TILE_H
#define COLPALI_AVX2_TILE_H

#include <immintrin.h>

#define AVX2 __attribute__((target("avx2,fma")))

/* Lane x of the result is the sum of acc[x]. */
AVX2 static inline __m256 reduce8(const __m256 acc[8])
{
    __m256 h1 = _mm256_hadd_ps(acc[0], acc[1]);
    __m256 h2 = _mm256_hadd_ps(acc[2], acc[3]);
    __m256 h3 = _mm256_hadd_ps(acc[4], acc[5]);
    __m256 h4 = _mm256_hadd_ps(acc[6], acc[7]);
    __m256 h5 = _mm256_hadd_ps(h1, h2);
    __m256 h6 = _mm256_hadd_ps(h3, h4);
    return _mm256_add_ps(_mm256_permute2f128_ps(h5, h6, 0x20),
                         _mm256_permute2f128_ps(h5, h6, 0x31));
}

AVX2 static inline __m256i tail_mask(int n)
{
    /* Lane l is loaded when l < n. */
    const __m256i lanes = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(n), lanes);
}

/* <q_r, d_c> in lane r * 4 + c. */
AVX2 static inline __m256 tile_dots(const float *const qr[2],
                                    const float *const dr[4], int dim)
{
    __m256 acc[8];
    for (int x = 0; x < 8; x++)
        acc[x] = _mm256_setzero_ps();
    int k = 0;
    for (; k + 8 <= dim; k += 8) {
        __m256 q0 = _mm256_loadu_ps(qr[0] + k), q1 = _mm256_loadu_ps(qr[1] + k);
        for (int c = 0; c < 4; c++) {
            __m256 dv = _mm256_loadu_ps(dr[c] + k);
            acc[c] = _mm256_fmadd_ps(q0, dv, acc[c]);
            acc[4 + c] = _mm256_fmadd_ps(q1, dv, acc[4 + c]);
        }
    }
    if (k < dim) {
        __m256i m = tail_mask(dim - k);
        __m256 q0 = _mm256_maskload_ps(qr[0] + k, m);
        __m256 q1 = _mm256_maskload_ps(qr[1] + k, m);
        for (int c = 0; c < 4; c++) {
            __m256 dv = _mm256_maskload_ps(dr[c] + k, m);
            acc[c] = _mm256_fmadd_ps(q0, dv, acc[c]);
            acc[4 + c] = _mm256_fmadd_ps(q1, dv, acc[4 + c]);
        }
    }
    return reduce8(acc);
}

#endif
