/*
 * Symmetric binary MaxSim for 128-dimensional codes (ColPali's 16 bytes a
 * row) with AVX-512 VPOPCNTDQ: four document codes per register, four query
 * rows per pass so each loaded block serves all of them.
 */
#include "kernels_internal.h"

#if COLPALI_X86
#include <immintrin.h>
#include <string.h>

#define VPOPCNT __attribute__((target("avx512f,avx512bw,avx512vpopcntdq,popcnt")))

VPOPCNT static inline int hamming16(const uint8_t *a, const uint8_t *b)
{
    uint64_t a0, a1, b0, b1;
    memcpy(&a0, a, 8); memcpy(&a1, a + 8, 8);
    memcpy(&b0, b, 8); memcpy(&b1, b + 8, 8);
    return __builtin_popcountll(a0 ^ b0) + __builtin_popcountll(a1 ^ b1);
}

VPOPCNT float colpali_maxsim_hamming16_avx512(const uint8_t *qc, int nq,
                                              const uint8_t *dc, int nd)
{
    const int blocks = nd / 4;
    colpali_budget budget = {0};
    double total = 0.0;
    for (int i0 = 0; i0 < nq; i0 += 4) {
        __m512i qv[4], best[4];
        for (int r = 0; r < 4; r++) {
            int i = i0 + r < nq ? i0 + r : nq - 1;
            qv[r] = _mm512_broadcast_i32x4(_mm_loadu_si128((const __m128i *)(qc + (size_t)i * 16)));
            best[r] = _mm512_set1_epi64(129);
        }
        for (int b = 0; b < blocks; b++) {
            if ((b & 63) == 0)
                colpali_spend(&budget, (size_t)4 * 64 * 4 * 16);
            __m512i docs = _mm512_loadu_si512(dc + (size_t)b * 64);
            for (int r = 0; r < 4; r++) {
                __m512i counts = _mm512_popcnt_epi64(_mm512_xor_si512(docs, qv[r]));
                /* Each document is two qwords: add the neighbour into qword 0. */
                counts = _mm512_add_epi64(counts, _mm512_shuffle_epi32(counts, 0x4E));
                best[r] = _mm512_min_epu64(best[r], counts);
            }
        }
        for (int r = 0; r < 4 && i0 + r < nq; r++) {
            int h = (int)_mm512_reduce_min_epu64(best[r]);
            const uint8_t *qi = qc + (size_t)(i0 + r) * 16;
            for (int j = blocks * 4; j < nd; j++) {
                int t = hamming16(qi, dc + (size_t)j * 16);
                if (t < h) h = t;
            }
            total += 128.0 - 2.0 * (double)h;
        }
    }
    return (float)total;
}

#endif
