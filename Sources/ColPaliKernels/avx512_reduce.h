/* Shared AVX-512 helper: horizontal sums of a 4 x 4 tile of accumulators. */
#ifndef COLPALI_AVX512_REDUCE_H
#define COLPALI_AVX512_REDUCE_H

#include "kernels_internal.h"

#if COLPALI_X86
#include <immintrin.h>

#define COLPALI_AVX512 __attribute__((target("avx512f,avx512bw,fma")))
/* For the helpers of a tile loop. GCC (which builds the Postgres extension)
 * does not inline a 4 x 4 tile by itself: its call, the spill of the 16
 * accumulators and the reduction through memory made the extension's MaxSim
 * 1.5x slower than the same source built by clang for Swift. */
#define COLPALI_AVX512_INLINE COLPALI_AVX512 static inline __attribute__((always_inline))

/*
 * Sum each of 16 accumulators and pack the sums into one vector. With
 * acc[r * 4 + c] the partial sums of query row r and document row c, the
 * result holds the total of (r, c) in lane c * 4 + r.
 */
COLPALI_AVX512_INLINE __m512 colpali_reduce16(const __m512 acc[16])
{
    __m512 s[8], u[4];
    for (int k = 0; k < 8; k++) {
        __m512 a = acc[2 * k], b = acc[2 * k + 1];
        s[k] = _mm512_add_ps(_mm512_shuffle_f32x4(a, b, 0x44),
                             _mm512_shuffle_f32x4(a, b, 0xEE));
    }
    for (int m = 0; m < 4; m++) {
        __m512 a = s[2 * m], b = s[2 * m + 1];
        u[m] = _mm512_add_ps(_mm512_shuffle_f32x4(a, b, 0x88),
                             _mm512_shuffle_f32x4(a, b, 0xDD));
    }
    __m512 w1 = _mm512_add_ps(_mm512_unpacklo_ps(u[0], u[1]),
                              _mm512_unpackhi_ps(u[0], u[1]));
    __m512 w2 = _mm512_add_ps(_mm512_unpacklo_ps(u[2], u[3]),
                              _mm512_unpackhi_ps(u[2], u[3]));
    return _mm512_add_ps(_mm512_shuffle_ps(w1, w2, 0x44),
                         _mm512_shuffle_ps(w1, w2, 0xEE));
}

/* Fold a vector laid out as lane c * 4 + r into the maximum over c of each
 * row r, returned in lanes 0..3. */
COLPALI_AVX512_INLINE __m128 colpali_rows_of_tile_max(__m512 best)
{
    best = _mm512_max_ps(best, _mm512_shuffle_f32x4(best, best, 0x4E));
    best = _mm512_max_ps(best, _mm512_shuffle_f32x4(best, best, 0xB1));
    return _mm512_castps512_ps128(best);
}

#endif
#endif
